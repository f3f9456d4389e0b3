"""portrait_export's own exception, beside portrait_mobile.errors.ExportError (the export failed)."""
from __future__ import annotations

from portrait_mobile.errors import ExportError


class ExportUsageError(ExportError):
    """Bad arguments or inputs (flags, weights, folders): the CLI exits 2."""

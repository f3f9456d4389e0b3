"""Reading the benchmark's JSON data files (profiles, budgets, op tables) with one set of errors."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from portrait_mobile.file_input import parse_json


def load_json_file(path: str | Path, schema: str, kind: str, error: type[Exception]) -> dict[str, Any]:
    """The parsed file; `error` names the file and the problem when it is missing, not JSON, or of
    another schema."""
    p = Path(path)
    try:
        text = p.read_bytes()
    except FileNotFoundError:
        raise error(f"{kind} file not found: {p}") from None
    data = parse_json(text, error, f"{kind} file {p}")
    if not isinstance(data, dict) or data.get("schema") != schema:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise error(f"{p}: schema {got!r}, expected {schema!r}")
    return data

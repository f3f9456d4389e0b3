"""Reading the benchmark's JSON data files (profiles, budgets, op tables) with one set of errors."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_json_file(path: str | Path, schema: str, kind: str, error: type[Exception]) -> dict[str, Any]:
    """The parsed file; `error` names the file and the problem when it is missing, not JSON, or of
    another schema."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise error(f"{kind} file not found: {p}") from None
    except json.JSONDecodeError as e:
        raise error(f"{kind} file {p} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("schema") != schema:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise error(f"{p}: schema {got!r}, expected {schema!r}")
    return data

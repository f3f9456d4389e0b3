"""portrait_bench.datafile: the benchmark's JSON data files fail with one error naming the file."""
from __future__ import annotations

from pathlib import Path

import pytest

from portrait_bench.datafile import load_json_file


class DataError(ValueError):
    pass


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # issue 24: a RecursionError traceback
    ("{oops", "not valid JSON"),
    (b"\xff\xfe{", "not valid JSON"),
    ('{"schema": "x/2"}', "schema 'x/2', expected 'x/1'"),
])
def test_bad_files_are_one_error_naming_the_file(tmp_path: Path, text: str | bytes, message: str) -> None:
    p = tmp_path / "d.json"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DataError, match=message) as e:
        load_json_file(p, "x/1", "profiles", DataError)
    assert str(p) in str(e.value)

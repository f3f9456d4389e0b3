"""A small reader of Xcode's project.pbxproj (an OpenStep-style property list), for the iOS demo checks."""
from __future__ import annotations

import json
import re
from typing import Any

_PBX_TOKEN = re.compile(r'\s+|/\*.*?\*/|//[^\n]*|"(?:[^"\\]|\\.)*"|[{}();=,]|[^\s{}();=,"]+', re.S)


def parse_pbxproj(text: str) -> dict[str, Any]:
    """A small parser for Xcode's OpenStep-style property list."""
    tokens = [t for t in _PBX_TOKEN.findall(text) if not (t.isspace() or t.startswith(("/*", "//")))]
    pos = 0

    def value() -> Any:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            d: dict[str, Any] = {}
            while tokens[pos] != "}":
                key = value()
                assert tokens[pos] == "=", f"expected '=' after {key!r}, got {tokens[pos]!r}"
                pos += 1
                d[key] = value()
                assert tokens[pos] == ";", f"expected ';' after {key!r}, got {tokens[pos]!r}"
                pos += 1
            pos += 1
            return d
        if tok == "(":
            items = []
            while tokens[pos] != ")":
                items.append(value())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return items
        if tok.startswith('"'):
            return json.loads(tok) if "\\" not in tok else tok[1:-1].replace('\\"', '"')
        assert tok not in "{}();=,", f"unexpected {tok!r}"
        return tok

    result = value()
    assert pos == len(tokens), "trailing tokens after the root dictionary"
    return result

"""Kotlin and Swift source as the demo checks read it: code only, comments gone."""
from __future__ import annotations

from pathlib import Path


def strip_comments(text: str) -> str:
    """Kotlin/Swift source with its comments removed (// and nested /* */), strings and line breaks kept,
    so a check on the code cannot be satisfied by a commented-out line."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith('"""', i):
            j = text.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append(text[i:j])
        elif text[i] in "\"'":
            j = i + 1
            while j < n and text[j] not in (text[i], "\n"):
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j])
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, j = 0, i
            while j < n:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                    if depth == 0:
                        break
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
        else:
            j = i + 1
            out.append(text[i])
        i = j
    return "".join(out)


def code(path: Path) -> str:
    return strip_comments(path.read_text())

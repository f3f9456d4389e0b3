"""Silencing what the converters print (their native logging), kept to quote in an error."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from typing import Iterator


class CapturedOutput:
    text: str = ""

    def tail(self, n: int = 3) -> str:
        lines = [ln for ln in self.text.splitlines() if ln.strip()]
        return " | ".join(lines[-n:])


@contextlib.contextmanager
def quiet(enabled: bool = True) -> Iterator[CapturedOutput]:
    """Capture what converters print (Python warnings, logging, and C++ writes to fd 1/2).

    The converters (torch.onnx, litert-torch, the LiteRT C++ passes, coremltools) print pages of
    progress and INFO lines; the export summary is what people read. The captured text is kept on
    the yielded object so an error can quote its last lines.
    """
    cap = CapturedOutput()
    if not enabled:
        yield cap
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = []
    with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = logging.getLogger()
        old_level = root.level
        root.setLevel(logging.ERROR)
        try:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(sink.fileno(), fd)
                except OSError:  # no such fd (embedded interpreters): nothing to silence
                    pass
            try:
                yield cap
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
        finally:
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            root.setLevel(old_level)
            sink.seek(0)
            cap.text = sink.read().decode("utf-8", "replace")


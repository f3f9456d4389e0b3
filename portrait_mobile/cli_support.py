"""What every portrait-* command shares: one-line errors, exit codes, argument types."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, NoReturn

from .errors import PortraitError

EXIT_FAILED = 1  # the work ran and failed (a parity gate, a broken budget)
EXIT_USAGE = 2  # bad flags or bad input (missing file, unreadable image)


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other failure; the usage block is one --help away.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def run_cli(prog: str, body: Callable[[], int | None],
            failure_types: tuple[type[BaseException], ...] = ()) -> int:
    """Run a CLI body; expected errors become `prog: error: ...` on stderr and an exit code."""
    try:
        return body() or 0
    except failure_types as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except (PortraitError, OSError, ValueError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


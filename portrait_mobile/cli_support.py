"""What every portrait-* command shares: one-line errors, exit codes, argument types, signals."""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Callable, NoReturn

from .errors import PortraitError
# SIGINT/SIGTERM handling lives in `interrupts`; re-exported for the commands.
from .interrupts import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, signals_raise  # noqa: F401

EXIT_FAILED = 1  # the work ran and failed (a parity gate, a broken budget)
EXIT_USAGE = 2  # bad flags or bad input (missing file, unreadable image)
# Which extra of portrait-mobile installs what a command needs (ModuleNotFoundError -> pip hint).
EXTRA_FOR_PROG = {"portrait-export": "export", "portrait-train": "train", "portrait-eval": "train",
                  "portrait-bench": "bench", "portrait-segment": "runtime"}


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other failure; the usage block is one --help away.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _number(parse: Callable[[str], float], ok: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """An argparse type: `parse` the text, then refuse it unless `ok`, naming `what` was expected."""

    def convert(text: str):
        try:
            v = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v

    convert.__name__ = what
    return convert


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a finite positive number")
non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
# NaN and inf would make every comparison against the value meaningless.
non_negative_float = _number(float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
fraction = _number(float, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")  # False for NaN too
share = _number(float, lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")
# numpy's and torch's generators take seeds in this range; outside it they fail without naming the flag.
random_seed = _number(int, lambda v: 0 <= v < 2**32, "a seed in 0..4294967295")
# More threads than any phone or CI host has: a larger count is a typo, and the engines crash on
# it (LiteRT and OpenMP fail to spawn 100,000 threads with a segfault, not an error).
MAX_THREADS = 256
thread_count = _number(int, lambda v: 1 <= v <= MAX_THREADS, f"a thread count in 1..{MAX_THREADS}")
thread_count_or_auto = _number(int, lambda v: 0 <= v <= MAX_THREADS, f"a thread count in 0..{MAX_THREADS}")


def require_working_directory() -> None:
    """PortraitError when the current directory was deleted: torch's MKL loader (imported later) would
    abort the process with its own message instead, and relative paths cannot resolve."""
    try:
        os.getcwd()
    except OSError as e:
        raise PortraitError(f"the current working directory is gone ({e.strerror or e}): cd to an existing folder "
                            "and run it again") from None


def missing_module_message(prog: str, e: ModuleNotFoundError) -> str:
    """`portrait-x needs torch, which is not installed: pip install 'portrait-mobile[export]'`."""
    name = (e.name or str(e)).split(".")[0]
    extra = EXTRA_FOR_PROG.get(prog, "all")
    return f"{prog} needs {name}, which is not installed here: pip install 'portrait-mobile[{extra}]'"


def run_cli(prog: str, body: Callable[[], int | None],
            failure_types: tuple[type[BaseException], ...] = (),
            usage_types: tuple[type[BaseException], ...] = ()) -> int:
    """Run a CLI body; expected errors become `prog: error: ...` on stderr and an exit code.

    `failure_types`: the work ran and failed (exit 1); PortraitError, OSError, ValueError and
    `usage_types`: bad flags, input or set-up (exit 2).

    SIGINT and SIGTERM stop the body every time (`interrupts.signals_raise`), temp files removed on the
    way out (exit 130 and 143); a missing optional dependency names the extra to install, and a deleted
    working directory is said as such (exit 2).
    """
    try:
        require_working_directory()
        with signals_raise(prog):
            return body() or 0
    except failure_types as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except ModuleNotFoundError as e:
        if (e.name or "").startswith(("portrait_mobile", "portrait_export", "portrait_bench")):
            raise  # our own module missing is a broken install or a bug, not a missing extra
        print(f"{prog}: error: {missing_module_message(prog, e)}", file=sys.stderr)
        return EXIT_USAGE
    except (PortraitError, OSError, ValueError, *usage_types) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; partial outputs removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"{prog}: terminated (SIGTERM); partial outputs removed", file=sys.stderr)
        return EXIT_TERMINATED

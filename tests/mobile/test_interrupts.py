"""portrait_mobile.interrupts: SIGINT and SIGTERM stop a command every time (issue 24: a signal raised
inside a garbage-collection callback, which JAX registers during a TFLite export, was dropped there and
the export ran on, wrote its artifacts and exited 0).

Each case runs a command body under `run_cli` in a fresh interpreter, and makes the signal arrive
inside a gc callback, where Python reports the exception as "ignored" and drops it.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

CASE = """
import gc, os, signal, sys, tempfile, time
from pathlib import Path
from portrait_mobile import cli_support, interrupts
from portrait_mobile.atomic import atomic_path, write_text

out = Path(sys.argv[1])
interrupts.GIVE_UP_S = 3.0


def signal_inside_gc(phase, info):  # the signal arrives while Python runs a gc callback
    gc.callbacks.remove(signal_inside_gc)
    signal.raise_signal(signal.{sig})


def body():
    gc.callbacks.append(signal_inside_gc)
    gc.collect()  # the exception is raised in the callback, and dropped there
{rest}

sys.exit(cli_support.run_cli("prog", body))
"""

AFTER = {
    # the next file written is not put in place
    "write": "write_text(out, 'written after the signal')",
    # long work in Python: raised again within a second or so
    "work": "t0 = time.time()\nwhile time.time() - t0 < 20:\n    sum(range(1000))\nout.write_text('ran on')",
    # nothing else: the command still ends as interrupted, not 0
    "nothing": "pass",
    # a library that swallows every interrupt: the process is ended, its temp files removed
    "swallowed": ("with atomic_path(out) as tmp:\n    tmp.write_text('partial')\n    while True:\n        try:\n"
                  "            time.sleep(0.05)\n        except BaseException:\n            pass"),
    # the same while a converter's output is captured (fd 2 on a temp file, as export.native_output does):
    # the forced exit's line still reaches the real stderr
    "swallowed-captured": ("captured = False\nwhile True:\n    try:\n        if not captured:\n"
                           "            sink = tempfile.TemporaryFile()\n            os.dup2(sink.fileno(), 2)\n"
                           "            captured = True\n"
                           "        time.sleep(0.05)\n    except BaseException:\n        pass"),
}


def run_case(tmp_path: Path, sig: str, after: str) -> tuple[subprocess.CompletedProcess[str], float]:
    code = CASE.format(sig=sig, rest=textwrap.indent(AFTER[after], "    "))
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out.txt")], capture_output=True, text=True,
                       timeout=60)
    return r, time.monotonic() - t0


@pytest.mark.parametrize("after", list(AFTER))
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_dropped_in_a_gc_callback_still_stops_the_command(tmp_path: Path, sig: str, after: str) -> None:
    r, seconds = run_case(tmp_path, sig, after)
    assert r.returncode == 128 + getattr(signal, sig), r.stderr
    assert list(tmp_path.iterdir()) == [], "nothing written, no temp file left"
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("prog: " + ("terminated" if sig == "SIGTERM" else "interrupted")), \
        r.stderr  # no "Exception ignored" traceback either
    assert seconds < 12


def test_signals_are_restored_after_the_command() -> None:
    from portrait_mobile.cli_support import run_cli

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert run_cli("prog", lambda: 0) == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


IMPORT_CASE = """
import sys, time
from pathlib import Path
from portrait_mobile import cli_support

sys.path.insert(0, sys.argv[1])


def body():
    import initializing  # the signal arrives while this module initializes itself
    print("imported", initializing.DONE, flush=True)
    time.sleep(10)
    Path(sys.argv[1], "ran-on").write_text("x")


sys.exit(cli_support.run_cli("prog", body))
"""


def test_a_signal_during_an_import_waits_for_the_import(tmp_path: Path) -> None:
    """A native module initializing itself runs Python code (jaxlib's enums): an exception raised there
    aborted the export (std::terminate), as seen with SIGTERM 2-4 s into it. The import completes;
    the command stops right after."""
    (tmp_path / "initializing.py").write_text(
        "import signal\nsignal.raise_signal(signal.SIGTERM)\nfor _ in range(2000):\n    sum(range(100))\nDONE = True\n")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", IMPORT_CASE, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 143 and r.stdout.strip() == "imported True", (r.stdout, r.stderr)
    assert r.stderr.strip().startswith("prog: terminated") and not (tmp_path / "ran-on").exists()
    assert time.monotonic() - t0 < 8


COUNTED_IMPORT_CASE = """
import atexit, sys
from portrait_mobile import cli_support, interrupts

sys.path.insert(0, sys.argv[1])
calls = []
handler = interrupts._handler
interrupts._handler = lambda signum, frame: (calls.append(interrupts._importing(frame)), handler(signum, frame))
atexit.register(lambda: print("handled during the import", sum(calls), file=sys.stderr, flush=True))


def body():
    import slow_to_import
    print(f"imported {slow_to_import.DONE}", flush=True)  # one write: a signal cannot split it


sys.exit(cli_support.run_cli("prog", body))
"""


def test_no_signal_is_sent_again_while_an_import_runs(tmp_path: Path) -> None:
    """A signal re-sent during an import only interrupts the system calls of a native library
    initializing itself (some do not retry them: the early SIGABRT of docs/export.md). One signal
    arrives 2 s (4 retry intervals) before the import ends: it is handled once during the import
    (before the fix, 4 times) and stops the command after it."""
    (tmp_path / "slow_to_import.py").write_text(
        "import signal, time\nsignal.raise_signal(signal.SIGTERM)\nend = time.monotonic() + 2.0\n"
        "while time.monotonic() < end:\n    sum(range(100))\nDONE = True\n")
    r = subprocess.run([sys.executable, "-c", COUNTED_IMPORT_CASE, str(tmp_path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 143 and r.stdout.strip() == "imported True", (r.stdout, r.stderr)
    assert r.stderr.splitlines()[-1] == "handled during the import 1", r.stderr


ABORT_CASE = """
import faulthandler, os, sys, tempfile
from portrait_mobile import cli_support


def converting_natively():
    sink = tempfile.TemporaryFile()
    os.dup2(sink.fileno(), 2)  # a converter's output captured, as export.native_output does
    os.abort()  # a native library giving up (std::terminate)


def body():
    if sys.argv[1] == "after":
        return 0
    converting_natively()


code = cli_support.run_cli("prog", body)
print("faulthandler on after the command:", faulthandler.is_enabled(), flush=True)
sys.exit(code)
"""


def test_a_native_abort_names_where_it_happened_even_with_output_captured() -> None:
    """CI saw a SIGTERM'd export end by SIGABRT with an empty stderr: a converter's captured output hid
    whatever the native library said. The Python stack now reaches the real stderr."""
    r = subprocess.run([sys.executable, "-c", ABORT_CASE, "abort"], capture_output=True, text=True, timeout=60)
    assert r.returncode == -signal.SIGABRT, (r.returncode, r.stderr)
    assert "Fatal Python error: Aborted" in r.stderr and "in converting_natively" in r.stderr, r.stderr


def test_the_crash_stacks_end_with_the_command() -> None:
    r = subprocess.run([sys.executable, "-c", ABORT_CASE, "after"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "faulthandler on after the command: False", r


def test_a_crash_handler_already_installed_is_left_as_it_was() -> None:
    import faulthandler

    from portrait_mobile.cli_support import run_cli

    was = faulthandler.is_enabled()  # pytest's own, on its copy of stderr, unless turned off
    faulthandler.enable(file=sys.__stderr__)
    try:
        assert run_cli("prog", lambda: 0) == 0
        assert faulthandler.is_enabled()
    finally:
        if not was:
            faulthandler.disable()

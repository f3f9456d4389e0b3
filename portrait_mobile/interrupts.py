"""SIGINT and SIGTERM stop a command, every time: the one mechanism every portrait-* command uses.

Python runs a signal handler in the main thread between two bytecodes, wherever they are. When that
is inside a garbage-collection callback (JAX, which the int8 quantizer loads, registers one), a
`__del__` or a weakref callback, the exception the handler raises is reported as "ignored" and
dropped, and the command runs on to the end as if never signalled. So within `signals_raise()` the
handler also records the signal, and it is raised again until it reaches the command's top level:

- at `check()`, which `atomic` calls before it renames a finished file into place (so nothing is
  written after a signal, even one that was dropped) and `portrait-export` after each artifact;
- by a watchdog thread, every RETRY_S while the command is still running (and not at all while an
  import runs: an exception inside a native module's initialization aborts the process, and a signal
  sent then would only interrupt the system calls of a library initializing itself, which some do
  not retry: the early SIGABRT of docs/export.md);
- and, should the command still run GIVE_UP_S after the signal (a library that catches every
  interrupt, a native call that does not return), the watchdog removes the temp files being written
  (`atomic` registers them) and ends the process with the signal's exit status. (A native call that
  holds the GIL all along delays even that until it returns: no Python code runs meanwhile.)

A native library that aborts or crashes (the rare early SIGABRT of docs/export.md) is not silent
either: within the block `faulthandler` writes the Python stack of every thread to the stderr saved
at its start, which a converter's captured output cannot hide.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, Iterator

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, as a shell reports a SIGTERM'd process
RETRY_S = 0.5
GIVE_UP_S = 10.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that `finally` blocks and atomic writes clean up.

    A BaseException (like KeyboardInterrupt, which SIGINT raises): no `except Exception` swallows it.
    """


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: int | None = None  # the signal received and not yet seen at the top level
        self.raised_at = 0.0
        self.active = False  # within signals_raise()
        self.temp_paths: set[Path] = set()  # being written by atomic: removed on a forced exit
        self.prog = "portrait-mobile"
        # A copy of stderr as it was at the start: a forced exit may come while a converter's output
        # is captured (export.native_output points fd 2 at a temp file), and its line must be seen.
        self.stderr_fd: int | None = None


_state = _State()


def exception_for(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def exit_status(signum: int) -> int:
    return EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED


def check() -> None:
    """Raise the signal received (KeyboardInterrupt or Terminated), if any, now."""
    signum = _state.pending
    if signum is not None:
        _state.raised_at = time.monotonic()
        raise exception_for(signum)


def track_temp(path: Path, on: bool) -> None:
    """Register (on) or forget a temp file/folder that a forced exit must not leave behind."""
    with _state.lock:
        (_state.temp_paths.add if on else _state.temp_paths.discard)(Path(path))


def _handler(signum: int, frame: FrameType | None) -> None:
    first = _state.pending is None
    _state.pending = signum
    if first:
        threading.Thread(target=_watchdog, args=(signum,), name="portrait-interrupt", daemon=True).start()
    if _importing(frame):
        # A native extension initializing itself calls Python code (jaxlib's enums): an exception there
        # aborts the process (std::terminate) or crashes it. Raised again once the import is done.
        _state.raised_at = time.monotonic()
        return
    check()


def _importing(frame: FrameType | None) -> bool:
    """Whether the main thread is inside an import (a module's code, or a native module's init)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _watchdog(signum: int) -> None:
    start = time.monotonic()
    while _state.active and _state.pending is not None:
        time.sleep(0.1)
        now = time.monotonic()
        if now - start > GIVE_UP_S:
            _force_exit(signum)
        if now - _state.raised_at > RETRY_S:  # the last one was dropped: raise it again
            if _importing(sys._current_frames().get(threading.main_thread().ident)):
                continue  # deferred on purpose (see _handler); raised once the import is done
            _state.raised_at = now
            # A real signal (interrupt_main only sets a flag): it also ends a sleep or a blocking read.
            signal.pthread_kill(threading.main_thread().ident, signum)


def _force_exit(signum: int) -> None:
    with _state.lock:
        for p in _state.temp_paths:
            with contextlib.suppress(OSError):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    what = "interrupted" if signum == signal.SIGINT else "terminated"
    with contextlib.suppress(OSError):
        os.write(2 if _state.stderr_fd is None else _state.stderr_fd, f"{_state.prog}: {what}, and still running {GIVE_UP_S:.0f} s later: ended now, its temp "
                    "files removed\n".encode())
    os._exit(exit_status(signum))


@contextlib.contextmanager
def signals_raise(prog: str = "portrait-mobile") -> Iterator[None]:
    """Within the block, SIGINT raises KeyboardInterrupt and SIGTERM `Terminated`, and neither is lost
    (see the module docstring); `prog` names the command in the message of a forced exit.

    Once a signal has arrived the block ends with its exception, even where another one surfaced
    first (a library that turned the interrupt into its own error). Main thread only; elsewhere, or
    nested, a no-op.
    """
    if threading.current_thread() is not threading.main_thread() or _state.active:
        yield
        return
    old = {s: signal.signal(s, _handler) for s in SIGNALS}
    old_hook = sys.unraisablehook

    def quiet_when_dropped(u: Any) -> None:  # it is raised again: no "Exception ignored" traceback
        if not (isinstance(u.exc_value, (KeyboardInterrupt, Terminated)) and _state.pending is not None):
            old_hook(u)

    sys.unraisablehook = quiet_when_dropped
    _state.active, _state.pending, _state.prog = True, None, prog
    with contextlib.suppress(OSError):
        _state.stderr_fd = os.dup(2)
    # Only where nobody else watches for crashes (pytest does, with its own copy of stderr).
    crash_stacks = _state.stderr_fd is not None and not faulthandler.is_enabled()
    if crash_stacks:
        faulthandler.enable(file=_state.stderr_fd, all_threads=True)
    try:
        yield
        check()  # a signal that was dropped and never raised again still stops the command
    except BaseException as e:
        signum = _state.pending
        if signum is not None and not isinstance(e, (KeyboardInterrupt, Terminated)):
            raise exception_for(signum) from e
        raise
    finally:
        _state.active, _state.pending = False, None
        if crash_stacks:
            faulthandler.disable()  # before its file descriptor closes
        if _state.stderr_fd is not None:
            with contextlib.suppress(OSError):
                os.close(_state.stderr_fd)
            _state.stderr_fd = None
        sys.unraisablehook = old_hook
        for s, h in old.items():
            signal.signal(s, h)

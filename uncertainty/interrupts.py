"""Ctrl-C and SIGTERM for the command line: acted on at any moment, never in the middle of a write.

Python runs a signal handler only between bytecodes of the main thread, so a signal that arrives while
XLA compiles (minutes in C++), or inside a garbage-collection callback ("Exception ignored in
_xla_gc_callback"), is late or lost; and a process that exits while XLA's threads still run may crash
in the interpreter's teardown. :func:`install` therefore blocks SIGINT and SIGTERM in every thread (it
runs first, before JAX starts a thread, and threads inherit the mask) and waits for them on a thread of
its own. When one comes:

- outside a write: the temporary files registered with :func:`temporary` are removed, the cleanups of
  :func:`on_signal` run, and the process
  ends at once with ``os._exit`` (status 130 for SIGINT, after the line ``interrupted``; 143 for
  SIGTERM): no interpreter teardown, so no crash;
- inside :func:`deferred` (a file being written): the signal is recorded; the block sees it in the list
  it yields (and abandons the write), and when the block ends the signal is raised in the main thread
  (``KeyboardInterrupt`` or ``SystemExit(143)``), so ``finally`` blocks run as usual.

Without :func:`install` (the library, or ``main()`` called in-process), :func:`deferred` holds the
signals with ordinary Python handlers for the duration of the block.

Child processes inherit the blocked mask (``os.posix_spawn`` and ``subprocess`` keep it): the command
starts none on a CPU.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator

__all__ = [
    "HANDLED",
    "install",
    "installed",
    "deferred",
    "terminating",
    "temporary",
    "forget",
    "on_signal",
    "settled",
    "exit_status",
]

HANDLED = (signal.SIGINT, signal.SIGTERM)

_lock = threading.Lock()
_installed = False
_depth = 0  # nested deferred() blocks running now
_received: list[int] = []  # signals that came during them
_temporaries: set[str] = set()
_cleanups: list[Callable[[], None]] = []
_settled = False  # the command's result is on disk: a late signal changes nothing


def exit_status(signum: int) -> int:
    """The shell's exit status for a command ended by ``signum`` (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum)


def installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return _installed


def install() -> None:
    """Block SIGINT/SIGTERM in this and every later thread and act on them from a watcher thread.

    Call it first in the process (the command line's entry point does), from the main thread, before
    any library starts threads of its own; threads started earlier would still take the default action.
    """
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    threading.Thread(target=_watch, name="uncertainty-signals", daemon=True).start()
    _installed = True


def _watch() -> None:
    while True:
        signum = signal.sigwait(HANDLED)
        with _lock:
            if _settled:
                continue
            if _depth:
                _received.append(signum)
                continue
        _end(signum)


def _end(signum: int) -> None:
    """Remove the registered temporary files, run the cleanups and end the process now, with the
    signal's exit status."""
    for path in list(_temporaries):
        with contextlib.suppress(OSError):
            os.unlink(path)
    for cleanup in list(_cleanups):
        with contextlib.suppress(Exception):
            cleanup()
    with contextlib.suppress(OSError):
        if signum == signal.SIGINT:
            os.write(2, b"\ninterrupted\n" if _on_terminal() else b"interrupted\n")
    os._exit(exit_status(signum))


def _on_terminal() -> bool:
    try:
        return os.isatty(2)
    except OSError:
        return False


def on_signal(cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` (quick, and safe at any moment) when a signal ends the process."""
    with _lock:
        _cleanups.append(cleanup)


def settled() -> None:
    """Say that the command's result is complete on disk: from now on a signal is ignored (the process is
    about to exit 0, and its exit status must not claim the run was lost)."""
    global _settled
    if _installed:
        with _lock:
            _settled = True


def temporary(path: str | os.PathLike) -> None:
    """Register ``path`` as a temporary file that a signal removes before the process ends."""
    with _lock:
        _temporaries.add(os.fspath(path))


def forget(path: str | os.PathLike) -> None:
    """Unregister a temporary file (renamed into place, or removed)."""
    with _lock:
        _temporaries.discard(os.fspath(path))


@contextlib.contextmanager
def deferred() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM while a file is written, and act on them when the block ends.

    Inside the block a signal is only recorded in the list yielded (the writer checks it before the
    final rename and abandons the write if it is not empty); at the block's end the first one is
    raised in the main thread: ``KeyboardInterrupt`` for SIGINT, ``SystemExit(143)`` for SIGTERM.
    Outside the main thread without :func:`install` (where handlers cannot be set) the block runs as is.
    """
    global _depth
    if _installed:
        with _lock:
            _depth += 1
            received = _received
        try:
            yield received
        finally:
            with _lock:
                _depth -= 1
                first = _received[0] if (_received and not _depth) else None
                if first is not None:
                    _received.clear()
        if first is not None:
            _raise(first)
        return
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in HANDLED}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        _raise(caught[0])


@contextlib.contextmanager
def terminating() -> Iterator[None]:
    """While a command runs in-process (without :func:`install`), SIGTERM ends it as ``SystemExit(143)``, so
    ``finally`` blocks run and temporary files go; Python's default would kill the process where it stands.
    With :func:`install` (signals blocked, acted on by the watcher) and outside the main thread it does
    nothing."""
    if _installed or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(exit_status(signum))

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(exit_status(signum))

"""Files the user names: one rule for what may be read.

A file the user gives (a prior TOML, a growth CSV, a saved run) must be an existing regular
file no larger than the caller's limit; a FIFO, a character device such as ``/dev/zero``, a
directory or a socket is refused before anything is read, so nothing blocks or fills memory.
Every refusal is one line, raised as the caller's :class:`~uncertainty.errors.InputError`
subclass naming the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import InputError

__all__ = ["MiB", "check_regular_file", "read_user_text"]

MiB = 1 << 20  # bytes


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / MiB:g} MiB" if n >= MiB else f"{n} bytes"


def _check_stat(path: Path, st: os.stat_result, error: type[InputError], what: str, limit: int | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise error(path, None, f"is {_kind(st.st_mode)}, not {what}")
    if limit is not None and st.st_size > limit:
        raise error(path, None, f"is {st.st_size} bytes, over the limit of {_size(limit)} for {what}")


def check_regular_file(
    path: str | Path, error: type[InputError], what: str = "a file", limit: int | None = None
) -> os.stat_result:
    """``path``'s stat after checking it exists, is a regular file (symbolic links followed) and holds at
    most ``limit`` bytes (``None``: no limit); else raise ``error(path, None, problem)``. Reads nothing."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(path, None, "no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise error(path, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    _check_stat(path, st, error, what, limit)
    return st


def read_user_text(path: str | Path, error: type[InputError], what: str, limit: int) -> str:
    """The UTF-8 text of the user's file ``path`` (a leading byte-order mark dropped), read only when it is
    a regular file of at most ``limit`` bytes (:func:`check_regular_file`); opened non-blocking, so a
    file swapped for a FIFO after the check cannot block. Raises ``error`` (one line) on any problem."""
    path = Path(path)
    check_regular_file(path, error, what, limit)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise error(path, None, "no such file") from None
    except OSError as exc:
        raise error(path, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        _check_stat(path, os.fstat(fd), error, what, limit)  # the file opened is the file checked
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise error(path, None, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error(path, None, f"grew over the limit of {_size(limit)} for {what} while being read")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = f"byte {data[exc.start]:#04x} at offset {exc.start}"
        raise error(path, None, f"cannot read: not UTF-8 text ({bad})") from None

"""Errors the user can fix: bad prior files, bad paths, bad run files.

Every error carries the file, the key and the problem, and renders as one
line; the CLI prints it and exits with status 2, without a traceback.
"""

from __future__ import annotations

__all__ = ["InputError", "PriorError", "OutputError", "RunFileError", "DataError", "one_line"]


class InputError(ValueError):
    """A problem with user input, reported as ``FILE: KEY: problem``."""

    def __init__(self, file: object, key: str | None, problem: str):
        self.file = str(file)
        self.key = key
        self.problem = problem
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(one_line(f"{where}: {problem}"))


def one_line(text: str) -> str:
    """Escape newlines and other control characters (names come from user files)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class PriorError(InputError):
    """A prior file that cannot be read or does not validate."""


class OutputError(InputError):
    """An output path that cannot be written (missing folder, exists, read-only)."""


class RunFileError(InputError):
    """A saved run that cannot be read."""


class DataError(InputError):
    """A benchmark series that cannot be read or used (bad name, bad CSV, too few points)."""

"""The errors polytag reports to users: one line, naming the file and line where it can."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input; the message is one line naming the file and line."""


def where(source: str, line_no: int | None = None) -> str:
    """'file:line' (or just 'file') for the start of an error message."""
    return f"{source}:{line_no}" if line_no else source


def check_positive(name: str, value, allow_none: bool = False):
    """value, if it is a whole number of at least 1 (or None where allowed); else an InputError."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a whole number of at least 1, not {value!r}")
    return value

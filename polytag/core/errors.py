"""The errors polytag reports to users: one line, naming the file and line where it can."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input; the message is one line naming the file and line."""


def where(source: str, line_no: int | None = None) -> str:
    """'file:line' (or just 'file') for the start of an error message."""
    return f"{source}:{line_no}" if line_no else source

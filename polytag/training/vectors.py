"""Reading pretrained word vectors in fastText `.vec` text format (plain, .gz or .xz).

The format: an optional header line "N D", then one line per word: the word and D numbers,
separated by single spaces. Only the rows a caller asks for are kept, so a 2M-word file
never has to fit in memory.
"""

from __future__ import annotations

import lzma
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.conllu_io import open_text
from ..core.errors import InputError


def _header(parts: list[str]) -> tuple[int, int] | None:
    """(N, D) if the line is a "N D" header, else None."""
    if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[0]), int(parts[1])
    return None


def read_vectors(path: str | Path, keep: Callable[[str, int], bool] | None = None,
                 max_rows: int | None = None) -> tuple[list[str], np.ndarray]:
    """-> (words, float32 matrix of shape (len(words), D)).

    keep(word, row): whether to keep the row'th vector of the file (default: all); reading
    stops after `max_rows` file rows. A word seen twice keeps its first vector.
    Malformed lines raise InputError naming the file and line.
    """
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    dim: int | None = None
    declared: tuple[int, int] | None = None
    try:
        with open_text(path) as f:
            row = -1
            for line_no, line in enumerate(f, 1):
                line = line.rstrip("\r\n").rstrip(" ")
                if not line:
                    continue
                if line_no == 1:
                    if line.strip().replace(" ", "").isdigit():  # digits only: it claims to be a header
                        declared = _header(line.split())
                        if declared is None or declared[1] == 0:
                            raise InputError(f"{path}:1: header must be 'N D' (two numbers, D > 0), got {line!r}")
                        dim = declared[1]
                        continue
                if dim is None:  # no header: the first row sets the dimension
                    dim = len(line.split(" ")) - 1
                    if dim < 1:
                        raise InputError(f"{path}:{line_no}: a word with no vector values")
                # words never contain a plain space (fastText splits on whitespace), so a
                # row with too many fields is an error, not a word with spaces
                parts = line.split(" ")
                if len(parts) != dim + 1 or not parts[0]:
                    found = len(parts) - 1
                    where = f"the header says D={dim}" if declared else f"the first row has {dim}"
                    raise InputError(f"{path}:{line_no}: expected {dim} values after the word, "
                                     f"found {found} ({where})")
                row += 1
                if max_rows is not None and row >= max_rows:
                    break
                word = parts[0]
                if word in seen or (keep is not None and not keep(word, row)):
                    continue
                try:
                    vector = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    raise InputError(f"{path}:{line_no}: non-numeric vector value for {word!r}") from None
                seen.add(word)
                words.append(word)
                rows.append(vector)
    except (EOFError, OSError, UnicodeDecodeError, lzma.LZMAError) as err:  # truncated or corrupt archive, bad bytes
        raise InputError(f"{path}: cannot read word vectors ({err})") from None
    if dim is None:
        raise InputError(f"{path}: no word vectors found (empty file)")
    matrix = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return words, matrix

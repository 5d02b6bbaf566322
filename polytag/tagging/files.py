"""Tagging a file (or stdin) into a file (or stdout), streamed."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from polytag.core.read_ahead import read_ahead

from .tagger import Tagger


@dataclass
class TagCounts:
    sentences: int = 0
    problems: int = 0  # sentences read with an error (on_error skip or keep)
    first_problem: str | None = None


def tag_file(tagger: Tagger, source: str, reader: Callable, writer: Callable, output: str | None,
             x_second_best: bool = False) -> TagCounts:
    """Read sentences with `reader`, write them tagged with `writer`. If the input goes bad
    part-way, every whole sentence before the bad one is written and flushed first."""
    counts = TagCounts()
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    try:
        for sentence, upos, feats in tagger.tag_stream(read_ahead(reader(source)), x_second_best):
            out.write(writer(sentence, upos, feats))
            counts.sentences += 1
            if sentence.error is not None:
                counts.problems += 1
                counts.first_problem = counts.first_problem or sentence.error
        out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()
    return counts

"""Tagging a file (or stdin) into a file (or stdout), streamed."""

from __future__ import annotations

import sys
from typing import Callable

from .tagger import Tagger


def tag_file(tagger: Tagger, source: str, reader: Callable, writer: Callable, output: str | None,
             x_second_best: bool = False) -> None:
    """Read sentences with `reader`, write them tagged with `writer`. If the input goes bad
    part-way, every whole sentence before the bad one is written and flushed first."""
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    try:
        for sentence, upos, feats in tagger.tag_stream(reader(source), x_second_best):
            out.write(writer(sentence, upos, feats))
        out.flush()
    finally:
        if out is not sys.stdout:
            out.close()

"""Tagging a file (or stdin) into a file (or stdout), streamed."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, TextIO

from polytag.core.read_ahead import read_ahead

from .tagger import Tagger


@dataclass
class TagCounts:
    sentences: int = 0
    problems: int = 0  # sentences read with an error (on_error skip or keep)
    first_problem: str | None = None


class Progress:
    """A line on `stream` while a long input is tagged: sentences, words and words/s so far, shown
    at most every `every` seconds (rewritten in place on a terminal), then a last line with the
    totals (`finish`). `close` ends a line left in place (an error after it starts on its own)."""

    def __init__(self, stream: TextIO | None = None, every: float | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        """every: seconds between lines (default: 1 on a terminal, 30 in a log file)."""
        self.stream = stream if stream is not None else sys.stderr
        self.in_place = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every if every is not None else 1.0 if self.in_place else 30.0
        self.clock = clock
        self.started = self.shown = clock()
        self.sentences = self.words = 0
        self.open_width = 0  # characters of a line shown in place and not ended yet

    def update(self, words: int) -> None:
        self.sentences += 1
        self.words += words
        now = self.clock()
        if now - self.shown >= self.every:
            self.shown = now
            self._write(f"polytag: {self.sentences:,} sentences, {self.words:,} words, "
                        f"{self._rate(now):,.0f} words/s", in_place=self.in_place)

    def finish(self) -> None:
        now = self.clock()
        self._write(f"polytag: tagged {self.sentences:,} sentences, {self.words:,} words in "
                    f"{now - self.started:.1f} s ({self._rate(now):,.0f} words/s)", in_place=False)

    def close(self) -> None:
        if self.open_width:
            self.stream.write("\n")
            self.stream.flush()
            self.open_width = 0

    def _rate(self, now: float) -> float:
        return self.words / max(now - self.started, 1e-9)

    def _write(self, line: str, in_place: bool) -> None:
        padding = " " * max(0, self.open_width - len(line))  # over a longer line shown before
        if in_place:
            self.stream.write("\r" + line + padding)
            self.open_width = max(self.open_width, len(line))  # what the terminal's line now holds
        else:
            self.stream.write(("\r" if self.open_width else "") + line + padding + "\n")
            self.open_width = 0
        self.stream.flush()


def tag_file(tagger: Tagger, source: str, reader: Callable, writer: Callable, output: str | None,
             x_second_best: bool = False, progress: Progress | None = None) -> TagCounts:
    """Read sentences with `reader`, write them tagged with `writer`. If the input goes bad
    part-way, every whole sentence before the bad one is written and flushed first. progress:
    told of each sentence, and finished once the input is all tagged."""
    counts = TagCounts()
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    try:
        for sentence, upos, feats in tagger.tag_stream(read_ahead(reader(source)), x_second_best):
            out.write(writer(sentence, upos, feats))
            counts.sentences += 1
            if sentence.error is not None:
                counts.problems += 1
                counts.first_problem = counts.first_problem or sentence.error
            if progress is not None:
                progress.update(len(sentence.words))
        out.flush()
        if progress is not None:
            progress.finish()
    finally:
        if progress is not None:
            progress.close()
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()
    return counts

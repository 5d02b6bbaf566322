"""Tagging a file (or stdin) into a file (or stdout), streamed."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, TextIO

from polytag.core.read_ahead import read_ahead_beside

from .tagger import Tagger


@dataclass
class TagCounts:
    sentences: int = 0
    problems: int = 0  # sentences read with an error (on_error skip or keep)
    first_problem: str | None = None


class StatusLine:
    """One line of `stream` rewritten in place (a terminal's), each time padded over all that the
    line holds, so that no end of a longer text before it is left showing."""

    def __init__(self, stream: TextIO):
        self.stream, self.width = stream, 0  # width: characters the line now holds

    def show(self, text: str) -> None:
        self._write("\r" + text + " " * max(0, self.width - len(text)))
        self.width = max(self.width, len(text))

    def end(self, text: str | None = None) -> None:
        """The line ended (with `text` in it where given): what comes next begins a new one."""
        if text is not None:
            self._write(("\r" if self.width else "") + text + " " * max(0, self.width - len(text)) + "\n")
        elif self.width:
            self._write("\n")
        self.width = 0

    def rub_out(self) -> None:
        if self.width:
            self._write("\r" + " " * self.width + "\r")
            self.width = 0

    def _write(self, chars: str) -> None:
        self.stream.write(chars)
        self.stream.flush()


class Progress:
    """A line on `stream` while a long input is tagged: sentences, words and words/s so far, shown
    at most every `every` seconds (rewritten in place on a terminal), then a last line with the
    totals (`finish`). `close` ends a line left in place (an error after it starts on its own)."""

    def __init__(self, stream: TextIO | None = None, every: float | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        """every: seconds between lines (default: 1 on a terminal, 30 in a log file)."""
        stream = stream if stream is not None else sys.stderr
        self.line = StatusLine(stream)
        self.in_place = bool(getattr(stream, "isatty", lambda: False)())
        self.every = every if every is not None else 1.0 if self.in_place else 30.0
        self.clock = clock
        self.started = self.shown = clock()
        self.sentences = self.words = 0

    def update(self, words: int) -> None:
        self.sentences += 1
        self.words += words
        now = self.clock()
        if now - self.shown >= self.every:
            self.shown = now
            text = f"polytag: {self.sentences:,} sentences, {self.words:,} words, {self._rate(now):,.0f} words/s"
            if self.in_place:
                self.line.show(text)
            else:
                self.line.end(text)

    def finish(self) -> None:
        now = self.clock()
        self.line.end(f"polytag: tagged {self.sentences:,} sentences, {self.words:,} words in "
                      f"{now - self.started:.1f} s ({self._rate(now):,.0f} words/s)")

    def close(self) -> None:
        self.line.end()

    def _rate(self, now: float) -> float:
        return self.words / max(now - self.started, 1e-9)


def tag_file(tagger: Tagger, source: str, reader: Callable, writer: Callable, output: str | None,
             x_second_best: bool = False, progress: Progress | None = None) -> TagCounts:
    """Read sentences with `reader`, write them tagged with `writer`. If the input goes bad
    part-way, every whole sentence before the bad one is written and flushed first. progress:
    told of each sentence, and finished once the input is all tagged."""
    counts = TagCounts()
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    try:
        with read_ahead_beside(tagger, reader(source)) as sentences:
            for sentence, upos, feats in tagger.tag_stream(sentences, x_second_best):
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

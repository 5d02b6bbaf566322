"""polytag.tagging.files: a file tagged into a file, streamed, with a progress line."""

from __future__ import annotations

import io

import pytest
from conftest import EN, write_conllu

from polytag.core.conllu_io import format_conllu, read_conllu
from polytag.core.errors import InputError
from polytag.tagging.files import Progress, tag_file


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_in_a_log_writes_a_line_every_so_often_then_the_totals():
    clock, stream = Clock(), io.StringIO()
    progress = Progress(stream, every=10.0, clock=clock)
    for _ in range(3):  # 3 sentences of 4 words, 5 s apart
        clock.now += 5.0
        progress.update(4)
    progress.finish()
    progress.close()  # nothing left open
    assert stream.getvalue().splitlines() == [
        "polytag: 2 sentences, 8 words, 1 words/s",
        "polytag: tagged 3 sentences, 12 words in 15.0 s (1 words/s)",
    ]


def test_progress_on_a_terminal_rewrites_one_line_and_ends_it():
    clock, stream = Clock(), Terminal()
    progress = Progress(stream, clock=clock)
    assert progress.every == 1.0
    clock.now = 1.0
    progress.update(2000)  # 2,000 words/s
    clock.now = 2.0
    progress.update(1)
    progress.close()  # an error now starts on a line of its own
    assert stream.getvalue() == ("\rpolytag: 1 sentences, 2,000 words, 2,000 words/s"
                                 "\rpolytag: 2 sentences, 2,001 words, 1,000 words/s\n")
    stream.seek(0)
    stream.truncate()
    clock.now = 3.0
    progress.update(1)
    progress.finish()  # the totals replace the line in place, padded over its longer text
    lines = stream.getvalue().split("\r")
    assert lines[-1].startswith("polytag: tagged 3 sentences, 2,002 words in 3.0 s") and lines[-1].endswith("\n")


def test_progress_in_place_pads_over_the_longest_line_shown():
    clock, stream = Clock(), Terminal()
    progress = Progress(stream, clock=clock)
    for words in (10**6, 1, 1):  # the rate falls, so each line is shorter than the one before
        clock.now += 1.0
        progress.update(words)
    shown = stream.getvalue().split("\r")[1:]
    assert len({len(line) for line in shown}) == 1  # each covers all the first one wrote


def test_tag_file_reports_each_sentence_and_closes_the_line_on_a_bad_input(tmp_path, tiny_tagger):
    path = write_conllu(tmp_path / "in.conllu", EN)
    sentences = list(read_conllu(path))

    def writer(sentence, upos, feats):
        return format_conllu(sentence, upos, feats)

    stream = Terminal()
    progress = Progress(stream, every=0.0)
    counts = tag_file(tiny_tagger, str(path), read_conllu, writer, str(tmp_path / "out.conllu"), progress=progress)
    assert counts.sentences == progress.sentences == len(sentences)
    assert progress.words == sum(len(s.words) for s in sentences)
    assert stream.getvalue().endswith("words/s)\n")

    def bad_reader(source):
        yield from read_conllu(source)
        raise InputError(f"{source}:99: bad line")

    stream = Terminal()
    with pytest.raises(InputError, match="bad line"):
        tag_file(tiny_tagger, str(path), bad_reader, writer, str(tmp_path / "out2.conllu"),
                 progress=Progress(stream, every=0.0))
    assert stream.getvalue().endswith("\n") and "tagged" not in stream.getvalue()
    assert len(list(read_conllu(tmp_path / "out2.conllu"))) == len(sentences)  # all before the bad line


def test_tag_file_tells_the_backend_of_the_reader_thread_and_forgets_it_after(tmp_path, tiny_tagger):
    path = write_conllu(tmp_path / "in.conllu", EN)
    told = []

    class Recording:
        """The tagger's backend, and what tag_file tells it of the reader's thread."""

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def share_cores(self, working):
            told.append(working)

        def __call__(self, batch, heads):
            assert callable(told[-1])  # told before any batch
            return self.inner(batch, heads)

    backend = tiny_tagger.backend
    tiny_tagger.backend = Recording(backend)
    try:
        counts = tag_file(tiny_tagger, str(path), read_conllu, format_conllu, str(tmp_path / "out.conllu"))
    finally:
        tiny_tagger.backend = backend
    assert counts.sentences == len(list(read_conllu(path)))
    assert len(told) == 2 and told[1] is None
    assert not told[0]()  # the reader has ended

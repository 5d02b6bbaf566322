"""Property tests of the readers and writers on arbitrary input: a reader yields sentences or
raises InputError naming the file (never another exception); valid CoNLL-U round-trips exactly;
tagging changes no column but UPOS and FEATS."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from polytag.core.conllu_io import ON_ERROR, READERS, format_conllu, format_jsonl
from polytag.core.errors import InputError

# any code point, surrogates included (they reach the file as invalid UTF-8, as a broken encoder writes them)
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)
LINE_PIECES = st.sampled_from(["\t", "\n", "\r\n", "#", " ", "_", "1", "2-3", "4.1", "=", "|", "{", "}", '"'])
STRUCTURED = st.lists(st.one_of(ANY_TEXT, LINE_PIECES), max_size=40).map("".join)


def write(text: str) -> Path:
    folder = Path(tempfile.mkdtemp())
    path = folder / "in.txt"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    return path


@given(text=STRUCTURED, reader=st.sampled_from(sorted(READERS)), on_error=st.sampled_from(ON_ERROR))
def test_a_reader_yields_sentences_or_names_the_file_and_line(text, reader, on_error):
    path = write(text)
    try:
        sentences = list(READERS[reader](path, on_error=on_error))
    except InputError as err:
        assert str(err).startswith(f"{path}:") and "\n" not in str(err)
        if on_error != "stop":  # skip and keep stop only on an empty input
            assert "empty input" in str(err)
        return
    for s in sentences:
        assert s.taggable or s.error
        if s.taggable:
            assert s.words and all(isinstance(w, str) and w for w in s.words)
        # whatever was read can be written, tagged or not
        tags = (["X"] * len(s.words), ["_"] * len(s.words)) if s.taggable else (None, None)
        format_conllu(s, *tags)
        json.loads(format_jsonl(s, *tags))


FORM = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x10FFFF, exclude_categories=("Cs", "Cc", "Zs",
                                                                                               "Zl", "Zp")),
               min_size=1, max_size=12).filter(lambda w: "\t" not in w and "\n" not in w and "\r" not in w
                                               and "\x85" not in w)
FEATS = st.one_of(st.just("_"), st.lists(st.tuples(st.sampled_from(["Case", "Number", "Gender", "Tense"]),
                                                   st.sampled_from(["Nom", "Sing", "Fem", "Past"])),
                                         min_size=1, max_size=3, unique_by=lambda kv: kv[0]).map(
    lambda kvs: "|".join(f"{k}={v}" for k, v in sorted(kvs, key=lambda kv: kv[0].lower()))))
WORD = st.tuples(FORM, st.sampled_from(["NOUN", "VERB", "_", "X"]), FEATS, FORM)


@st.composite
def conllu_sentence(draw) -> str:
    words = draw(st.lists(WORD, min_size=1, max_size=8))
    lines = [f"# sent_id = {draw(st.integers(0, 999))}"] if draw(st.booleans()) else []
    mwt_at = draw(st.integers(0, len(words)))  # a multiword-token range before word mwt_at + 1, if two words follow
    for i, (form, upos, feats, misc) in enumerate(words, 1):
        if i == mwt_at and i < len(words):
            lines.append(f"{i}-{i + 1}\t{form}{form}\t_\t_\t_\t_\t_\t_\t_\t_")
        lines.append(f"{i}\t{form}\t_\t{upos}\t_\t{feats}\t0\tdep\t_\t{misc}")
    return "\n".join(lines) + "\n\n"


@given(st.lists(conllu_sentence(), min_size=1, max_size=5))
def test_valid_conllu_round_trips_exactly_and_tagging_changes_only_upos_and_feats(sentences):
    text = "".join(sentences)
    read = list(READERS["conllu"](write(text)))
    assert "".join(format_conllu(s, s.upos, s.feats) for s in read) == text
    tagged = "".join(format_conllu(s, ["PROPN"] * len(s.words), ["Foo=Bar"] * len(s.words)) for s in read)
    for before, after in zip(text.split("\n"), tagged.split("\n"), strict=True):
        a, b = before.split("\t"), after.split("\t")
        if len(a) == 10 and a[0].isdigit():
            assert a[:3] + a[4:5] + a[6:] == b[:3] + b[4:5] + b[6:] and (b[3], b[5]) == ("PROPN", "Foo=Bar")
        else:
            assert a == b

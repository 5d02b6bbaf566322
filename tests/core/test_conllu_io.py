"""CoNLL-U / text / JSON-lines readers and writers: round trips, pass-through lines, errors."""

from __future__ import annotations

import json

import pytest
from conftest import ALL_CONLLU, DE, EN, HE, RU, tsv, write_conllu

from polytag.core.conllu_io import (
    MAX_WORD_CHARS,
    Sentence,
    format_conllu,
    format_jsonl,
    normalize_feats,
    read_conllu,
    read_jsonl,
    read_text,
)
from polytag.core.errors import InputError


def raw_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def test_round_trip_keeps_every_line(tmp_path):
    path = write_conllu(tmp_path / "all.conllu", ALL_CONLLU)
    out = "".join(format_conllu(s, s.upos, s.feats) for s in read_conllu(path))
    assert out == ALL_CONLLU


@pytest.mark.parametrize("suffix", [".conllu", ".conllu.gz", ".conllu.xz"])
def test_compressed_input_reads_the_same(tmp_path, suffix):
    path = write_conllu(tmp_path / f"x{suffix}", ALL_CONLLU)
    assert [s.words for s in read_conllu(path)] == [s.words for s in read_conllu(write_conllu(
        tmp_path / "plain.conllu", ALL_CONLLU))]


def test_syntactic_words_exclude_ranges_and_empty_nodes(tmp_path):
    en, de, he = read_conllu(write_conllu(tmp_path / "x.conllu", EN + DE + HE))
    assert en.words == ["Sue", "likes", "coffee", "and", "Bill", "tea", "."]  # not 5.1 "likes"
    assert de.words == ["Ich", "gehe", "zu", "dem", "Markt", "."]  # not the token "zum"
    assert he.words == ["הילד", "הלך", "ל", "ה", "בית", "."]
    assert de.feats[3] == "Case=Dat|Definite=Def|Gender=Masc|Number=Sing|PronType=Art"
    assert en.lines[en.word_lines[5]].startswith("6\ttea\t")


def test_tagging_fills_only_upos_and_feats(tmp_path):
    sentences = list(read_conllu(write_conllu(tmp_path / "x.conllu", EN + DE)))
    for sentence in sentences:
        n = len(sentence.words)
        out = format_conllu(sentence, ["X"] * n, [f"Foo=B{i}" for i in range(n)])
        before, after = sentence.lines, out.rstrip("\n").split("\n")
        assert out.endswith("\n\n") and len(before) == len(after)
        words_seen = 0
        for old, new in zip(before, after):
            if old.startswith("#") or not old.split("\t")[0].isdigit():
                assert new == old  # comments, ranges (3-4) and empty nodes (5.1) pass through
                continue
            o, w = old.split("\t"), new.split("\t")
            assert w[3] == "X" and w[5] == f"Foo=B{words_seen}"
            assert [c for i, c in enumerate(w) if i not in (3, 5)] == [c for i, c in enumerate(o) if i not in (3, 5)]
            words_seen += 1
        assert words_seen == n


def test_text_and_jsonl_output():
    sentence = Sentence(["Das", "ist", "gut", "."], meta={"id": 7})
    conllu = format_conllu(sentence, ["PRON", "AUX", "ADJ", "PUNCT"], ["_", "_", "Degree=Pos", "_"])
    assert conllu.splitlines()[2] == "3\tgut\t_\tADJ\t_\tDegree=Pos\t_\t_\t_\t_"
    obj = json.loads(format_jsonl(sentence, ["PRON", "AUX", "ADJ", "PUNCT"], ["_"] * 4))
    assert obj == {"id": 7, "words": ["Das", "ist", "gut", "."], "upos": ["PRON", "AUX", "ADJ", "PUNCT"],
                   "feats": ["_"] * 4}


def test_read_text_and_jsonl(tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("Das ist gut .\n\n  Мама   мыла\tраму .  \r\n", encoding="utf-8")
    assert [(s.words, s.line_no) for s in read_text(text)] == [
        (["Das", "ist", "gut", "."], 1), (["Мама", "мыла", "раму", "."], 3)]
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"words": ["a", "b"], "id": "s1"}\n\n{"words": ["c"]}\n', encoding="utf-8")
    got = list(read_jsonl(jsonl))
    assert [s.words for s in got] == [["a", "b"], ["c"]]
    assert got[0].meta == {"id": "s1"} and got[1].meta == {}


def test_normalize_feats():
    assert normalize_feats("Number=Sing|Case=Nom") == "Case=Nom|Number=Sing"
    assert normalize_feats("NumType=Card|Number=Sing") == "Number=Sing|NumType=Card"  # case-insensitive
    assert normalize_feats("") == "_" and normalize_feats("_") == "_"


def test_reader_is_streaming(tmp_path):
    """The first sentence comes out before the reader reaches a bad later one."""
    path = write_conllu(tmp_path / "x.conllu", RU + "garbage line\n\n")
    reader = read_conllu(path)
    assert next(reader).words[0] == "Мама"
    with pytest.raises(InputError, match=r"x\.conllu:8: expected 10"):
        next(reader)


# -- errors: one line naming the file and line --

BAD_CONLLU = {
    "wrong column count": (RU.replace("\tмыла\tмыть", "\tмыла"), 4, "expected 10 tab-separated columns, got 9"),
    "bad ID": (RU.replace("\n2\t", "\nB\t"), 4, "bad ID 'B'"),
    "out of sequence ID": (RU.replace("\n3\t", "\n4\t"), 5, "word ID 4 out of sequence (expected 3)"),
    "bad range": (DE.replace("3-4\t", "3-3\t"), 5, "bad multiword token range 3-3"),
    "bad FEATS": (RU.replace("Animacy=Anim|", "Animacy|"), 3, "bad FEATS"),
    "control character": (RU.replace("\tраму\t", "\tра\x07му\t"), 5, "control character U+0007"),
    "long word": (RU.replace("\tраму\t", "\t" + "а" * 10_000 + "\t"), 5,
                  f"word of 10000 characters (limit {MAX_WORD_CHARS})"),
    "empty form": (RU.replace("\tраму\t", "\t\t"), 5, "empty word"),
    "range only": ("# c\n1-2\tab\t_\t_\t_\t_\t_\t_\t_\t_\n\n", 1, "sentence has no words"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONLLU))
def test_malformed_conllu_names_file_and_line(tmp_path, case):
    text, line, message = BAD_CONLLU[case]
    path = write_conllu(tmp_path / "bad.conllu", EN + text)
    reader = read_conllu(path)
    assert next(reader).words[0] == "Sue"  # the good sentence before it still comes out
    with pytest.raises(InputError) as err:
        list(reader)
    first_line = EN.count("\n")
    assert str(err.value).startswith(f"{path}:{first_line + line}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("reader", [read_conllu, read_text, read_jsonl])
@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_input(tmp_path, reader, content):
    path = tmp_path / "empty.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.txt: empty input"):
        list(reader(path))


def test_missing_file_folder_and_bad_encoding(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(read_conllu(tmp_path / "nope.conllu"))
    with pytest.raises(InputError, match="is a folder"):
        list(read_text(tmp_path))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Guten Tag .\n".encode() * 3 + "Grüße aus Köln .\n".encode("latin-1"))
    reader = read_text(latin1)
    assert [next(reader).words for _ in range(3)] == [["Guten", "Tag", "."]] * 3  # every line before it
    with pytest.raises(InputError, match=r"latin1\.txt:4: not UTF-8 text \(invalid start byte at byte 3 "):
        next(reader)
    broken = tmp_path / "broken.conllu.xz"
    broken.write_bytes(b"not xz at all")
    with pytest.raises(InputError, match="cannot read compressed file"):
        list(read_conllu(broken))


def test_text_and_jsonl_errors(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("fine line .\nbad\x1bword here\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.txt:2: control character U\+001B"):
        list(read_text(text))
    text.write_text("ok .\n" + "x" * 10_000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.txt:2: word of 10000 characters"):
        list(read_text(text))
    jsonl = tmp_path / "j.jsonl"
    for content, message in [
        ('{"words": ["a"]}\n{"words": [\n', r"j\.jsonl:2: invalid JSON"),
        ('["a", "b"]\n', r"j\.jsonl:1: expected an object"),
        ('{"words": []}\n', r'j\.jsonl:1: "words" is empty'),
        ('{"words": ["a", 3]}\n', r"j\.jsonl:1: word 3 is not a string"),
        ('{"words": ["a\\u0000b"]}\n', r"j\.jsonl:1: control character U\+0000"),
    ]:
        jsonl.write_text(content, encoding="utf-8")
        with pytest.raises(InputError, match=message):
            list(read_jsonl(jsonl))


def test_utf8_bom_and_crlf_are_accepted(tmp_path):
    """Files saved by Windows editors start with a BOM and end lines with CRLF."""
    path = tmp_path / "bom.conllu"
    path.write_bytes(b"\xef\xbb\xbf" + RU.replace("\n", "\r\n").encode("utf-8"))
    (sentence,) = read_conllu(path)
    assert sentence.words == ["Мама", "мыла", "раму", "."]
    text = tmp_path / "bom.txt"
    text.write_bytes(b"\xef\xbb\xbfDas ist gut .\r\n")
    assert next(read_text(text)).words == ["Das", "ist", "gut", "."]


def test_c1_controls_and_zero_width_characters_are_words(tmp_path):
    """Real treebanks contain U+0097 and U+200D inside words: they must not be rejected."""
    path = write_conllu(tmp_path / "x.conllu", tsv("""
1  a\u0097b  _  X  _  _  0  root  _  _
2  \u200d    _  X  _  _  1  dep   _  _
"""))
    assert next(read_conllu(path)).words == ["a\u0097b", "\u200d"]


# -- lenient where it is safe; skip and keep --

@pytest.mark.parametrize("ending", ["\n", ""])
def test_a_last_sentence_without_its_blank_line_is_read(tmp_path, ending):
    path = tmp_path / "x.conllu"
    path.write_text(EN + RU.rstrip("\n") + ending, encoding="utf-8")
    assert [s.words[0] for s in read_conllu(path)] == ["Sue", "Мама"]


def test_invalid_utf8_deep_in_a_big_file_names_its_line_after_every_sentence_before(tmp_path):
    path = tmp_path / "big.conllu"
    good = (EN * 3000).encode()
    bad = RU.encode().replace("раму".encode(), b"ra\xffmu")
    path.write_bytes(good + bad)
    sentences = []
    with pytest.raises(InputError) as err:
        for s in read_conllu(path):
            sentences.append(s)
    assert len(sentences) == 3000
    line = good.count(b"\n") + bad[: bad.index(b"\xff")].count(b"\n") + 1
    assert str(err.value).startswith(f"{path}:{line}: not UTF-8 text")


def test_skip_and_keep_go_on_after_a_bad_sentence(tmp_path):
    bad_ids = RU.replace("\n3\t", "\n4\t")
    long_word = RU.replace("\tраму\t", "\t" + "а" * 2000 + "\t")
    path = write_conllu(tmp_path / "mixed.conllu", EN + bad_ids + long_word + DE)
    with pytest.raises(InputError):
        list(read_conllu(path))
    skipped = list(read_conllu(path, on_error="skip"))
    assert [(s.error is not None, s.taggable) for s in skipped] == [(False, True), (True, False), (True, False),
                                                                    (False, True)]
    assert "word ID 4 out of sequence" in skipped[1].error and skipped[1].lines == raw_lines(bad_ids)
    kept = list(read_conllu(path, on_error="keep"))
    assert [s.taggable for s in kept] == [True, False, True, True]  # a long word can still be tagged
    assert "word of 2000 characters" in kept[2].error
    # written through: the error comment, then the lines as they came
    out = format_conllu(skipped[1], None, None)
    assert out.startswith("# polytag_error = ") and out.endswith(bad_ids.split("\n", 1)[1] if False else out[-2:])
    assert raw_lines(out)[1:] == raw_lines(bad_ids)
    tagged = format_conllu(kept[2], ["X"] * len(kept[2].words), ["_"] * len(kept[2].words))
    assert raw_lines(tagged)[0].startswith("# polytag_warning = ")


def test_skip_in_text_and_jsonl(tmp_path):
    text = tmp_path / "t.txt"
    text.write_bytes(b"ok line .\nbad \x1b[31m word\n\xff\xfe\nlast one .\n")
    got = list(read_text(text, on_error="skip"))
    assert [s.error is None for s in got] == [True, False, False, True]
    assert "control character" in got[1].error and "not UTF-8" in got[2].error
    lines = tmp_path / "l.jsonl"
    lines.write_text('{"words": ["a"]}\n{"words": ["a",\n{"words": ["b"], "id": 7}\n', encoding="utf-8")
    got = list(read_jsonl(lines, on_error="skip"))
    assert [s.taggable for s in got] == [True, False, True]
    assert json.loads(format_jsonl(got[1], None, None)) == {"line": '{"words": ["a",',
                                                            "polytag_error": f"{lines}:2: invalid JSON (Expecting value)"}
    with pytest.raises(ValueError, match="on_error must be one of"):
        list(read_text(text, on_error="ignore"))


def test_first_line_errors_say_which_format_it_looks_like(tmp_path):
    jsonl, text = tmp_path / "a.conllu", tmp_path / "b.conllu"
    jsonl.write_text('{"words": ["a"]}\n', encoding="utf-8")
    text.write_text("Das ist gut .\n", encoding="utf-8")
    with pytest.raises(InputError, match="looks like JSON lines: use --format jsonl"):
        list(read_conllu(jsonl))
    with pytest.raises(InputError, match=r"looks like plain text: use --format raw \(or --format words"):
        list(read_conllu(text))
    conllu = write_conllu(tmp_path / "c.jsonl", EN)
    with pytest.raises(InputError, match="looks like CoNLL-U: use --format conllu"):
        list(read_jsonl(conllu))


def test_jsonl_output_keeps_sent_id_and_text(tmp_path):
    sentence = next(read_conllu(write_conllu(tmp_path / "x.conllu", EN)))
    obj = json.loads(format_jsonl(sentence, sentence.upos, sentence.feats))
    assert obj["sent_id"] == "en-1" and obj["text"] == "Sue likes coffee and Bill tea."

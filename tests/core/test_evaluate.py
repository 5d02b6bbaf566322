"""The CoNLL 2018 UPOS / UFeats metric with gold tokenization, on hand-built gold/system pairs."""

from __future__ import annotations

import json

import pytest
from conftest import DE, EN, RU, write_conllu

from polytag.core.conllu_io import Sentence, read_conllu
from polytag.core.errors import InputError
from polytag.core.evaluate import (
    evaluate_files,
    feature_set,
    file_key,
    format_table,
    macro,
    score,
    write_json,
)


def gold(words_upos_feats: list[tuple[str, str, str]]) -> Sentence:
    words, upos, feats = zip(*words_upos_feats)
    return Sentence(list(words), list(upos), list(feats))


def test_score_counts_words_and_exact_feature_sets():
    g = [
        gold([("Мама", "NOUN", "Case=Nom|Gender=Fem|Number=Sing"), ("мыла", "VERB", "Tense=Past"),
              (".", "PUNCT", "_")]),
        gold([("Ja", "PRON", "Case=Nom|Number=Sing|Person=1")]),
    ]
    upos = [["NOUN", "NOUN", "PUNCT"], ["PRON"]]
    feats = [
        ["Number=Sing|Case=Nom|Gender=Fem", "Tense=Past|Aspect=Imp", ""],  # order-free; extra feature wrong; "" = "_"
        ["Case=Nom|Number=Sing"],  # a missing feature is wrong
    ]
    assert score(g, upos, feats) == {"words": 4, "upos": 75.0, "ufeats": 50.0, "allfeats": 50.0}


def test_ufeats_compares_universal_features_only_as_the_conll_2018_scorer():
    """Hungarian possessor features (Number[psor]) and other language-specific ones are not
    UFeats' business (the official scorer drops them); AllFeats still counts them."""
    g = [gold([("házam", "NOUN", "Case=Nom|Number=Sing|Number[psor]=Sing|Person[psor]=1"),
               ("ház", "NOUN", "Case=Nom|Number=Sing"), ("x", "X", "Foo=Bar")])]
    feats = [["Case=Nom|Number=Sing|Number[psor]=Plur|Person[psor]=1", "Case=Nom|Number=Plur", "_"]]
    assert score(g, [["NOUN", "NOUN", "X"]], feats) == {"words": 3, "upos": 100.0, "ufeats": 66.67, "allfeats": 0.0}


def test_score_rounds_to_two_decimals():
    g = [gold([("a", "X", "_"), ("b", "X", "_"), ("c", "X", "_")])]
    assert score(g, [["X", "X", "NOUN"]], [["_", "_", "_"]]) == {"words": 3, "upos": 66.67, "ufeats": 100.0,
                                                                  "allfeats": 100.0}


def test_score_rejects_misaligned_output():
    g = [gold([("a", "X", "_"), ("b", "X", "_")])]
    with pytest.raises(ValueError):
        score(g, [["X"]], [["_"]])


def test_feature_set():
    assert feature_set("_") == feature_set("") == frozenset()
    assert feature_set("B=1|A=2") == feature_set("A=2|B=1")
    assert feature_set("PronType=Int,Rel") != feature_set("PronType=Rel,Int")  # a value is compared whole


@pytest.mark.parametrize("name, key", [
    ("en_ewt-ud-dev.conllu", "en_ewt-ud-dev"),
    ("en_ewt-ud-dev.conllu.xz", "en_ewt-ud-dev"),
    ("/a/b/de_gsd-ud-test.conllu.gz", "de_gsd-ud-test"),
    ("notes.txt", "notes.txt"),
])
def test_file_key_drops_extensions(name, key):
    assert file_key(name) == key


def test_macro_is_the_mean_over_files_not_over_words():
    files = {"big": {"words": 1000, "upos": 90.0, "ufeats": 80.0},
             "small": {"words": 10, "upos": 50.0, "ufeats": 41.12}}
    assert macro(files) == {"upos": 70.0, "ufeats": 60.56}
    assert macro({}) == {"upos": 0.0, "ufeats": 0.0}


class GoldEcho:
    """A 'tagger' that returns the gold labels of a file, with planned mistakes."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[list[str], list[str]]]):
        self.answers = answers
        self.calls = []

    def predict(self, sentences, x_second_best=False, morph=None, treebank=None):
        self.calls.append(x_second_best)
        upos, feats = zip(*(self.answers[tuple(s)] for s in sentences))
        return list(upos), list(feats)


def test_evaluate_files_exact_json_shape(tmp_path):
    a = write_conllu(tmp_path / "xx_a-ud-dev.conllu", EN + DE)
    b = write_conllu(tmp_path / "xx_b-ud-test.conllu.xz", RU)
    answers = {}
    for s in list(read_conllu(a)) + list(read_conllu(b)):
        answers[tuple(s.words)] = (list(s.upos), list(s.feats))
    ru = tuple(next(read_conllu(b)).words)
    answers[ru] = (["NOUN", "VERB", "NOUN", "X"], ["_", "_", "_", "_"])  # 3/4 UPOS, 1/4 UFeats
    tagger = GoldEcho(answers)
    told = []
    result = evaluate_files(tagger, [a, b], x_second_best=True, on_file=lambda *file: told.append(file))
    assert tagger.calls == [True, True]
    assert told == [("xx_a-ud-dev", 1, 2), ("xx_b-ud-test", 2, 2)]  # as each file begins
    assert result == {
        "files": {
            "xx_a-ud-dev": {"words": 13, "upos": 100.0, "ufeats": 100.0, "allfeats": 100.0},
            "xx_b-ud-test": {"words": 4, "upos": 75.0, "ufeats": 25.0, "allfeats": 25.0},
        },
        "macro": {"upos": 87.5, "ufeats": 62.5, "allfeats": 62.5},
    }
    write_json(result, tmp_path / "scores.json")
    assert json.loads((tmp_path / "scores.json").read_text(encoding="utf-8")) == result
    table = format_table(result)
    assert "xx_b-ud-test" in table and "macro (2 files)" in table and "62.50" in table


def test_evaluate_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        evaluate_files(GoldEcho({}), [tmp_path / "nope.conllu"])


def test_treebank_of_a_ud_file_name_and_the_auto_hint():
    from polytag.core.evaluate import AUTO_TREEBANK, file_treebank, treebank_of

    assert treebank_of("../ud/fr_gsd/fr_gsd-ud-dev.conllu.xz") == "fr_gsd"
    assert treebank_of("UD_X/kk_ktb-ud-test.conllu") == "kk_ktb"
    assert treebank_of("my_file.conllu") is None

    class Hinted:
        treebank_hints = ["fr_gsd"]

    tagger = Hinted()
    assert file_treebank(tagger, "x/fr_gsd-ud-dev.conllu", AUTO_TREEBANK) == "fr_gsd"
    assert file_treebank(tagger, "x/de_gsd-ud-dev.conllu", AUTO_TREEBANK) is None  # unknown to the model: no hint
    assert file_treebank(tagger, "mine.conllu", "fr_gsd") == "fr_gsd"
    assert file_treebank(tagger, "mine.conllu", None) is None

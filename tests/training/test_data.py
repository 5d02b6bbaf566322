"""Treebank discovery (UD release and MANIFEST layouts), selection and multilingual mixing."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from conftest import EN, RU, write_conllu

from polytag.core.conllu_io import Sentence
from polytag.core.errors import InputError
from polytag.training.data import (
    feats_counts,
    find_treebanks,
    load_sentences,
    mix_treebanks,
    select_treebanks,
)

SHARED_UD = Path(__file__).resolve().parents[3] / "shared" / "ud"


def test_release_layout(tiny_treebank_dir):
    found = find_treebanks(tiny_treebank_dir)
    assert sorted(found) == ["xx_second", "xx_test", "yy_other"]
    test, second, other = found["xx_test"], found["xx_second"], found["yy_other"]
    assert test.language == "xx" and other.language == "yy"
    assert test.train.name == "xx_test-ud-train.conllu" and test.dev.name == "xx_test-ud-dev.conllu"
    assert second.train.name == "xx_second-ud-train.conllu.xz" and second.dev is None
    assert other.train.name.endswith(".gz") and other.dev.name.endswith(".xz")
    assert test.test is None


def test_one_treebank_folder(tiny_treebank_dir):
    assert list(find_treebanks(tiny_treebank_dir / "UD_Yy-Other")) == ["yy_other"]


def test_manifest_layout(tmp_path):
    write_conllu(tmp_path / "ab_one" / "ab_one-ud-train.conllu.xz", EN)
    write_conllu(tmp_path / "ab_one" / "ab_one-ud-dev.conllu.xz", EN)
    write_conllu(tmp_path / "cd_two" / "cd_two-ud-train.conllu.xz", RU)
    (tmp_path / "MANIFEST.tsv").write_text(
        "treebank\tlanguage_code\tlanguage\tud_repo\tsource_ref\tcommit\tlicense\n"
        "ab_one\ten\tEnglish\tUD_English-One\tr2.2\tabc123\tCC BY-SA 4.0\n"
        "zz_absent\tzz\tNone\tUD_None\tr2.2\t000\tnone\n",
        encoding="utf-8",
    )
    found = find_treebanks(tmp_path)
    assert sorted(found) == ["ab_one", "cd_two"]
    assert found["ab_one"].language == "en"  # the manifest's language code wins over the id prefix
    assert found["ab_one"].source == "UD_English-One@r2.2:abc123"
    assert found["ab_one"].license == "CC BY-SA 4.0"
    assert found["cd_two"].language == "cd" and found["cd_two"].source == ""
    assert [tb.id for tb in select_treebanks(found, "en")] == ["ab_one"]


@pytest.mark.skipif(not (SHARED_UD / "MANIFEST.tsv").exists(), reason="no ../shared/ud here")
def test_shared_ud_layout():
    found = find_treebanks(SHARED_UD)
    assert len(found) >= 20
    assert all(tb.train or tb.dev or tb.test for tb in found.values())
    assert all(tb.source.startswith("UD_") for tb in found.values())


def test_select(tiny_treebank_dir):
    found = find_treebanks(tiny_treebank_dir)
    ids = lambda spec, split="train": sorted(tb.id for tb in select_treebanks(found, spec, split))  # noqa: E731
    assert ids(None) == ["xx_second", "xx_test", "yy_other"]
    assert ids("xx_test") == ["xx_test"]
    assert ids("xx") == ["xx_second", "xx_test"]  # a language code selects all its treebanks
    assert ids(" yy , xx_test,") == ["xx_test", "yy_other"]
    assert ids("xx,xx_test") == ["xx_second", "xx_test"]  # no duplicates
    assert ids("xx", split="dev") == ["xx_test"]  # only those with that split


def test_unknown_language_is_a_clear_error(tiny_treebank_dir):
    with pytest.raises(InputError, match=r"unknown treebank or language 'qq' \(languages here: xx, yy\)"):
        select_treebanks(find_treebanks(tiny_treebank_dir), "xx,qq")


def test_folder_errors(tmp_path):
    with pytest.raises(InputError, match="treebank folder not found"):
        find_treebanks(tmp_path / "missing")
    (tmp_path / "notes.conllu").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="no \\*-ud-train/dev/test.conllu files found"):
        find_treebanks(tmp_path)


def test_load_sentences_tags_treebank_and_drops_raw_lines(tiny_treebank_dir):
    tb = find_treebanks(tiny_treebank_dir)["xx_second"]
    sentences = load_sentences(tb.train, tb.id)
    assert len(sentences) == 6
    assert all(s.meta["treebank"] == "xx_second" and s.lines is None for s in sentences)
    assert sentences[1].words == ["Ich", "gehe", "zu", "dem", "Markt", "."]


def _sentences(name: str, n: int) -> list[Sentence]:
    return [Sentence([f"{name}{i}"]) for i in range(n)]


def test_mix_concatenates_and_shuffles():
    data = {"big": _sentences("b", 300), "small": _sentences("s", 10)}
    epoch = mix_treebanks(data, random.Random(0), None)
    assert sorted(s.words[0] for s in epoch) == sorted(s.words[0] for v in data.values() for s in v)
    assert [s.words[0] for s in epoch[:20]] != [f"b{i}" for i in range(20)]


def test_mix_with_temperature_flattens_the_distribution():
    data = {"big": _sentences("b", 900), "small": _sentences("s", 100)}

    def small_share(temperature):
        epoch = mix_treebanks(data, random.Random(1), temperature)
        assert len(epoch) == 1000  # as many sentences as the data has
        return Counter(s.words[0][0] for s in epoch)["s"] / len(epoch)

    proportional, flat = small_share(1.0), small_share(100.0)
    assert 0.07 < proportional < 0.13  # 100 / 1000
    assert 0.45 < flat < 0.55  # nearly uniform over treebanks


def test_feats_counts_are_the_train_splits_words(tiny_treebank_dir):
    counts = feats_counts(tiny_treebank_dir)
    expected = Counter()
    for tb in find_treebanks(tiny_treebank_dir).values():
        for sentence in load_sentences(tb.train, tb.id):
            expected.update(sentence.feats)
    assert counts == expected and sum(counts.values()) > 0

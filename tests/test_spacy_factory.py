"""The spaCy component, with real spaCy: registered by entry point, spaCy's tokens kept, batches,
sentences, several scripts, saved and loaded with the pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

spacy = pytest.importorskip("spacy")

import polytag  # noqa: E402
from polytag.core.errors import InputError  # noqa: E402
from polytag.core.labels import UPOS  # noqa: E402

TEXTS = {"de": "Der Hund schläft. Das ist  gut.", "ru": "Мама мыла раму. Папа читал газету.",
         "el": "Ο σκύλος τρέχει στο πάρκο.", "fr": "Il parle du livre qu'il a lu hier soir."}


def test_the_factory_is_found_through_the_entry_point_without_importing_polytag():
    code = ("import json, spacy; nlp = spacy.blank('ru'); nlp.add_pipe('polytag'); "
            "doc = nlp('Мама мыла раму.'); print(json.dumps([t.pos_ for t in doc]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    tags = json.loads(done.stdout)
    assert len(tags) == 4 and set(tags) <= set(UPOS) and tags[-1] == "PUNCT"


@pytest.fixture(scope="module")
def tagger():
    return polytag.load(threads=1)


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_spacy_tokens_get_polytags_tags(lang, tagger):
    nlp = spacy.blank(lang)
    nlp.add_pipe("polytag", config={"threads": 1})
    doc = nlp(TEXTS[lang])
    words = [t for t in doc if not t.is_space]
    expected = tagger.tag([[t.text for t in words]])[0]
    assert [(t.pos_, str(t.morph) or "_") for t in words] == [(w["upos"], w["feats"]) for w in expected]
    assert all(t.pos_ == "SPACE" and not str(t.morph) for t in doc if t.is_space)


def test_pipe_batches_give_what_single_docs_give(tiny_model_dir):
    # the PyTorch model: int8 ONNX scales activations per batch, so its labels may differ on
    # borderline words with what else is in the batch
    nlp = spacy.blank("de")
    nlp.add_pipe("polytag", config={"model": str(tiny_model_dir), "threads": 1, "batch_size": 2})
    texts = [TEXTS["de"], "Ich gehe nach Hause.", "Sie liest ein Buch.", TEXTS["de"]] * 2
    one_by_one = [[(t.pos_, str(t.morph)) for t in nlp(text)] for text in texts]
    batched = [[(t.pos_, str(t.morph)) for t in doc] for doc in nlp.pipe(texts, batch_size=3)]
    assert batched == one_by_one


def test_sentences_are_tagged_one_by_one_when_the_doc_has_them(tagger):
    nlp = spacy.blank("de")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("polytag", config={"threads": 1})
    doc = nlp(TEXTS["de"])
    sentences = [[t.text for t in s if not t.is_space] for s in doc.sents]
    assert len(sentences) == 2
    expected = [w["upos"] for s in tagger.tag(sentences) for w in s]
    assert [t.pos_ for t in doc if not t.is_space] == expected


def test_the_pipeline_saves_the_model_path_and_loads_again(tmp_path, tiny_model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("polytag", config={"model": str(tiny_model_dir), "threads": 1, "x_second_best": True})
    before = [(t.pos_, str(t.morph)) for t in nlp("Sue likes coffee.")]
    nlp.to_disk(tmp_path / "pipeline")
    saved = json.loads((tmp_path / "pipeline" / "polytag" / "polytag.json").read_text())
    assert saved["model"] == str(tiny_model_dir.resolve()) and saved["x_second_best"] is True
    again = spacy.load(tmp_path / "pipeline")
    assert [(t.pos_, str(t.morph)) for t in again("Sue likes coffee.")] == before


def test_a_treebank_hint_in_the_config_is_used_and_saved(tmp_path, tiny_model_dir):
    from helpers import hinted_copy  # noqa: PLC0415

    folder = hinted_copy(tiny_model_dir, tmp_path / "hints")
    nlp = spacy.blank("en")
    nlp.add_pipe("polytag", config={"model": str(folder), "threads": 1, "treebank": "yy_other"})
    want = polytag.load(folder, backend="torch").predict([["Sue", "likes", "coffee", "."]], treebank="yy_other")[0][0]
    assert [t.pos_ for t in nlp("Sue likes coffee.")] == want
    nlp.to_disk(tmp_path / "pipeline")
    again = spacy.load(tmp_path / "pipeline")
    assert [t.pos_ for t in again("Sue likes coffee.")] == want
    with pytest.raises(InputError, match="unknown"):
        spacy.blank("en").add_pipe("polytag", config={"model": str(folder), "treebank": "zz_none"})

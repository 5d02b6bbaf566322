"""Inference: save -> load identity, windows on very long sentences, --x-second-best,
streaming with a bad line, and thread safety."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from helpers import SENTENCES, all_logits, random_tagger

import polytag
from polytag.core.conllu_io import Sentence
from polytag.core.encoding import make_chunks
from polytag.core.errors import InputError
from polytag.core.folder import ModelConfig
from polytag.core.labels import UPOS, Labels
from polytag.nn.model_io import load_model, save_model
from polytag.tagging import load as load_tagger
from polytag.tagging.tagger import Tagger
from polytag.tagging.torch_backend import TorchBackend


def test_save_then_load_gives_identical_predictions(tiny_tokenizer, tmp_path):
    tagger = random_tagger(tiny_tokenizer)
    save_model(tmp_path / "m", tagger.backend.model, tiny_tokenizer, tagger.labels, metadata={"note": "test"})
    loaded = load_tagger(tmp_path / "m", backend="torch", batch_size=3)
    for a, b in zip(all_logits(tagger, SENTENCES), all_logits(loaded, SENTENCES)):
        for head in a:
            assert np.array_equal(a[head], b[head])
    assert loaded.tag(SENTENCES) == tagger.tag(SENTENCES)
    assert loaded.tag(SENTENCES, x_second_best=True) == tagger.tag(SENTENCES, x_second_best=True)


def test_half_precision_weights_stay_close(tiny_tokenizer, tmp_path):
    tagger = random_tagger(tiny_tokenizer)
    save_model(tmp_path / "h", tagger.backend.model, tiny_tokenizer, tagger.labels, half=True)
    loaded = load_tagger(tmp_path / "h", backend="torch")
    for a, b in zip(all_logits(tagger, SENTENCES), all_logits(loaded, SENTENCES)):
        assert np.allclose(a["upos"], b["upos"], atol=0.05)


def test_tag_returns_form_upos_feats(tiny_tagger):
    tagged = tiny_tagger.tag(SENTENCES)
    assert [[w["form"] for w in s] for s in tagged] == SENTENCES
    for sentence in tagged:
        for word in sentence:
            assert word["upos"] in UPOS
            assert word["feats"] == "_" or "=" in word["feats"]
    assert tiny_tagger.tag([]) == []
    with pytest.raises(TypeError, match="list of sentences"):
        tiny_tagger.tag(["Das", "ist", "gut"])


def test_batching_does_not_change_results(tiny_tagger):
    together = tiny_tagger.logits(SENTENCES, ("upos",))
    for sentence, logits in zip(SENTENCES, together):
        (alone,) = tiny_tagger.logits([sentence], ("upos",))
        assert np.allclose(alone["upos"], logits["upos"], atol=1e-5)


def test_five_thousand_word_sentence_is_fully_tagged(tiny_tagger):
    vocabulary = ["Мама", "мыла", "раму", ",", "Ich", "gehe", "zu", "dem", "Markt", "猫", "が", "魚"]
    words = [vocabulary[i % len(vocabulary)] for i in range(5000)]
    chunks = make_chunks(tiny_tagger.wordpieces, [words], tiny_tagger.config.max_len, overlap=True)
    assert len(chunks) > 40 and all(len(c.input_ids) <= tiny_tagger.config.max_len for c in chunks)
    assert chunks[1].offset < chunks[0].offset + len(chunks[0].first)  # windows overlap
    (tagged,) = tiny_tagger.tag([words])
    assert len(tagged) == 5000
    assert [w["form"] for w in tagged] == words
    assert all(w["upos"] in UPOS for w in tagged)
    (upos_logits,) = tiny_tagger.logits([words], ("upos",))
    assert upos_logits["upos"].shape == (5000, 17)


def test_decide_upos_x_second_best(tiny_tagger):
    x, noun, verb = UPOS.index("X"), UPOS.index("NOUN"), UPOS.index("VERB")
    logits = np.full((3, 17), -5.0, dtype=np.float32)
    logits[0, [x, noun, verb]] = [9.0, 3.0, 1.0]  # X best, NOUN second
    logits[1, [x, noun, verb]] = [2.0, 1.0, 8.0]  # VERB best: untouched
    logits[2, [x, noun, verb]] = [9.0, 1.0, 4.0]  # X best, VERB second
    assert tiny_tagger.decide_upos(logits, x_second_best=False).tolist() == [x, verb, x]
    assert tiny_tagger.decide_upos(logits, x_second_best=True).tolist() == [noun, verb, verb]


class FixedBackend:
    """Returns logits in which X wins for every word and NOUN comes second."""

    def __init__(self, labels: Labels):
        self.labels = labels

    def __call__(self, batch, heads):
        n = len(batch["word_index"])
        upos = np.zeros((n, 17), dtype=np.float32)
        upos[:, UPOS.index("X")], upos[:, UPOS.index("NOUN")] = 5.0, 4.0
        out = {"upos": upos}
        if "bundle" in heads:
            out["bundle"] = np.zeros((n, len(self.labels.bundles)), dtype=np.float32)
        return out


def test_x_second_best_through_predict(tiny_tagger):
    config = ModelConfig(morph_heads=["bundle"], morph_decode="bundle", max_len=32)
    tagger = Tagger(FixedBackend(tiny_tagger.labels), tiny_tagger.tokenizer, tiny_tagger.labels, config)
    upos, feats = tagger.predict(SENTENCES[:2])
    assert upos == [["X"] * 4, ["X"] * 4] and feats == [["_"] * 4] * 2
    upos, _ = tagger.predict(SENTENCES[:2], x_second_best=True)
    assert upos == [["NOUN"] * 4, ["NOUN"] * 4]


def test_morph_head_choice(tiny_model_dir, tiny_tagger):
    factored = load_tagger(tiny_model_dir, backend="torch", morph="factored")
    assert factored.morph == "factored"
    assert [len(s) for s in factored.tag(SENTENCES)] == [len(s) for s in SENTENCES]
    model, tokenizer, labels, config = load_model(tiny_model_dir)
    config.morph_heads = ["bundle"]
    with pytest.raises(ValueError, match="no 'factored' morphology head"):
        Tagger(TorchBackend(model), tokenizer, labels, config, morph="factored")


def test_tag_stream_flushes_before_a_bad_sentence(tiny_tagger):
    def sentences():
        yield Sentence(["Das", "ist", "gut", "."])
        yield Sentence(["Мама", "мыла", "раму", "."])
        raise InputError("in.conllu:9: bad ID 'x'")

    seen = []
    with pytest.raises(InputError, match="in.conllu:9"):
        for sentence, upos, feats in tiny_tagger.tag_stream(sentences(), chunk_sentences=10):
            seen.append((sentence.words, len(upos), len(feats)))
    assert seen == [(["Das", "ist", "gut", "."], 4, 4), (["Мама", "мыла", "раму", "."], 4, 4)]


def test_tag_stream_in_chunks(tiny_tagger):
    stream = (Sentence(s) for s in SENTENCES * 3)
    progress = []
    out = list(tiny_tagger.tag_stream(stream, chunk_sentences=4, on_progress=progress.append))
    assert [s.words for s, _, _ in out] == SENTENCES * 3
    assert progress == [4, 4, 4, 4, 2]
    upos, feats = tiny_tagger.predict(SENTENCES * 3)
    assert [u for _, u, _ in out] == upos and [f for _, _, f in out] == feats


def test_concurrent_tag_calls_match_sequential(tiny_model_dir):
    tagger = polytag.load(tiny_model_dir, backend="torch", batch_size=2)
    work = [SENTENCES[i:] + SENTENCES[:i] for i in range(len(SENTENCES))]
    # new words each call, so threads fill the shared wordpiece cache at the same time
    work = [[s + [f"neu{t}wort{j}" for j in range(t + 1)] for s in sents] for t, sents in enumerate(work)]
    expected = [tagger.tag(sents) for sents in work]
    tagger.wordpieces.cache.clear()
    results: dict[int, list] = {}
    errors = []
    barrier = threading.Barrier(len(work) * 2)

    def run(index: int, repeat: int):
        try:
            barrier.wait()
            for _ in range(3):
                results[(index, repeat)] = tagger.tag(work[index])
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i, r)) for i in range(len(work)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (index, _), got in results.items():
        assert got == expected[index]
    assert len(results) == len(work) * 2


def test_load_without_a_path_uses_the_default_model(monkeypatch, tiny_model_dir, tmp_path):
    monkeypatch.setattr(polytag, "DEFAULT_MODEL", tmp_path / "missing")
    with pytest.raises(InputError, match="missing: model folder not found"):
        polytag.load()
    monkeypatch.setattr(polytag, "DEFAULT_MODEL", tiny_model_dir)
    assert polytag.load(backend="torch").tag([["Das", "ist", "gut", "."]])[0][3]["form"] == "."


def test_the_folder_word_lexicon_corrects_labels_training_never_gave_and_can_be_turned_off(
        capsys, tiny_model_dir, tmp_path):
    import shutil  # noqa: PLC0415

    from test_cli import run_cli  # noqa: PLC0415

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    data = tmp_path / "ud" / "zz_odd"
    data.mkdir(parents=True)
    row = "1\tgut\t_\tSYM\t_\tFoo=Bar\t0\t_\t_\t_\n2\t.\t_\tPUNCT\t_\t_\t1\t_\t_\t_\n\n"
    (data / "zz_odd-ud-train.conllu").write_text(row * 3, encoding="utf-8")
    rc, out, _ = run_cli(capsys, "lexicon", tmp_path / "ud", "--model", model)
    assert rc == 0 and "2 forms in 1 treebanks" in out
    plain = polytag.load(model, backend="torch", lexicon=False)
    words = [["Das", "ist", "gut", "."]]
    assert plain.predict(words)[0][0][2] != "SYM"  # a tiny model never saw SYM there
    with pytest.raises(InputError, match="'zz_odd'"):  # only the lexicon knows that treebank
        plain.predict(words, treebank="zz_odd")
    tagger = polytag.load(model, backend="torch")
    upos, feats = tagger.predict(words, treebank="zz_odd")
    assert upos[0][2:] == ["SYM", "PUNCT"] and feats[0][2] == "Foo=Bar"
    assert upos[0][:2] == plain.predict(words)[0][0][:2]  # forms it does not list keep the network's labels
    # the hint set on the tagger (or none, and no cue word of any language): the same choice
    assert tagger.set_treebank("zz_odd").predict(words)[0][0][2] == "SYM"
    rc, out, _ = run_cli(capsys, "tag", "--format", "words", "--model", model, "--backend", "torch",
                         "--treebank", "zz_odd", tmp_path / "missing.txt")
    assert rc == 2


def test_without_a_hint_each_sentence_takes_the_hint_of_the_treebank_the_lexicon_takes_it_for(
        tiny_model_dir, monkeypatch):
    import dataclasses  # noqa: PLC0415

    from polytag.core.folder import NO_HINT  # noqa: PLC0415
    from polytag.tagging.tagger import HINT_AFTER_WORDS  # noqa: PLC0415

    tagger = polytag.load(tiny_model_dir, backend="torch")
    tagger.config = dataclasses.replace(tagger.config, treebank_hints=["xx_a", "xx_b"])

    class Lexicon:  # xx_b for every sentence but 'el' (xx_a) and 'mixed' (two languages)
        treebanks = ["xx_a", "xx_b"]
        restricted_with: list = []

        def sentence_treebanks(self, sentences, treebank, documents, identify, text=None, glued=None):
            if text is not None:  # as WordLexicon: the state counts the text's words
                text.words += sum(map(len, sentences))
            if treebank is not None:
                return [(treebank, None)] * len(sentences)
            return [("xx_a", None) if s == ["el"] else ("xx_b", ["xx_b"]) if s == ["mixed"] else ("xx_b", None)
                    for s in sentences]  # fmt: skip

        def restrict(self, sentences, upos, feats, keys):
            self.restricted_with.append(keys)

    tagger.lexicon = Lexicon()
    calls = []

    def network(sentences, x_second_best, morph, hint):
        calls.append((len(sentences), hint))
        return [["X"] * len(s) for s in sentences], [["_"] * len(s) for s in sentences]

    monkeypatch.setattr(tagger, "_network", network)
    # one-word sentences: the first HINT_AFTER_WORDS have too few words before them for a hint
    sentences = [["a"]] * (HINT_AFTER_WORDS + 5)
    upos, _ = tagger.predict(sentences)
    assert calls == [(HINT_AFTER_WORDS, NO_HINT), (5, 2)] and len(upos) == len(sentences)  # xx_b: row 2
    assert len(tagger.lexicon.restricted_with[-1]) == len(sentences)  # the lexicon checks with the same keys
    # texts batched together: each counts its own words
    calls.clear()
    tagger.predict(sentences, documents=[3, HINT_AFTER_WORDS + 2])
    assert calls == [(3 + HINT_AFTER_WORDS, NO_HINT), (2, 2)]
    # a text tagged in parts: its words before this part count
    from polytag.core.word_lexicon import TextState  # noqa: PLC0415

    calls.clear()
    tagger.predict(sentences[:5], text=TextState(words=HINT_AFTER_WORDS))
    assert calls == [(5, 2)]
    with pytest.raises(ValueError, match="without documents"):
        tagger.predict(sentences, documents=[len(sentences)], text=TextState())
    # a stream in chunks is one text: as predicted at once
    calls.clear()
    stream = list(tagger.tag_stream((Sentence(s) for s in sentences), chunk_sentences=7))
    assert sorted(calls) == sorted([(7, NO_HINT)] * 7 + [(1, NO_HINT), (5, 2)]) and len(stream) == len(sentences)
    # a hint given: the network takes it for everything
    calls.clear()
    tagger.predict(sentences, treebank="xx_a")
    assert calls == [(len(sentences), 1)]
    # a sentence of another treebank takes its hint; one in two languages none
    calls.clear()
    tagger.predict(sentences[:-2] + [["el"], ["mixed"]])
    assert sorted(calls) == sorted([(HINT_AFTER_WORDS + 1, NO_HINT), (3, 2), (1, 1)])

"""The teacher on frozen features: what is cached, that a tagger learns from the cache, resume,
and that a saved teacher tags like a Tagger (the ensemble labeller's interface)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ALL_CONLLU, wordpiece_tokenizer
from transformers import BertConfig, BertModel

from polytag.core.conllu_io import read_conllu
from polytag.core.errors import InputError
from polytag.training import feature_teacher as ft


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A 2-layer BERT with its own tokenizer, saved the Hugging Face way (as `import-encoder` writes)."""
    forms = [line.split("\t")[1] for line in ALL_CONLLU.splitlines() if line and line[0].isdigit()]
    chars = sorted({c for f in forms for c in f if not c.isspace()})
    folder = tmp_path_factory.mktemp("encoder")
    tok = wordpiece_tokenizer(chars + [f"##{c}" for c in chars] + sorted(set(forms))[::2])
    tok.save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tok.get_vocab()), hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)
    BertModel(config).save_pretrained(str(folder))
    return folder


def reference_features(encoder, words: list[str], spec: ft.FeatureSpec) -> np.ndarray:
    """The same features computed the plain way: one sentence, is_split_into_words."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(encoder))
    model = AutoModel.from_pretrained(str(encoder)).eval()
    enc = tok(words, is_split_into_words=True, add_special_tokens=False)
    ids = torch.tensor([[tok.cls_token_id, *enc["input_ids"], tok.sep_token_id]])
    with torch.no_grad():
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    word_ids = [None, *enc.word_ids(), None]
    first = [word_ids.index(i) for i in range(len(words))]
    last = [len(word_ids) - 1 - word_ids[::-1].index(i) for i in range(len(words))]
    vectors = [hidden[layer][0, first] for layer in spec.layers] + [hidden[spec.layers[-1]][0, last]]
    return torch.stack(vectors, 1).numpy()


def test_features_are_the_encoders_states_at_first_and_last_pieces(tiny_encoder):
    spec = ft.FeatureSpec(layers=(1, 2))
    extractor = ft.FeatureExtractor(tiny_encoder, spec, batch_tokens=64)
    sentences = [s.words for s in read_conllu_text()]
    features = extractor(sentences)
    assert features.shape == (sum(map(len, sentences)), 3, 16) and features.dtype == np.float16
    at = 0
    for words in sentences:  # batched with others (padding, sorting) = alone
        np.testing.assert_allclose(features[at : at + len(words)], reference_features(tiny_encoder, words, spec),
                                   atol=2e-2, rtol=1e-2)
        at += len(words)
    multi = [i for i, w in enumerate(sentences[0]) if len(extractor.wordpieces.pieces([w])[0]) > 1]
    assert multi, "the fixture should have words of several pieces"
    w = multi[0]
    assert not np.allclose(features[w, 1], features[w, 2])  # first piece and last piece differ


def test_a_long_sentence_is_read_in_windows_like_the_taggers(tiny_encoder, monkeypatch):
    from polytag.core.encoding import make_chunks

    monkeypatch.setattr(ft, "MAX_PIECES", 12)
    extractor = ft.FeatureExtractor(tiny_encoder, ft.FeatureSpec(layers=(2,)), batch_tokens=64)
    short = read_conllu_text()[0].words
    words = short * 4
    assert len(make_chunks(extractor.wordpieces, [words], 14)) > 1
    features = extractor([words, short])
    assert features.shape[0] == len(words) + len(short)
    assert np.abs(features.astype(np.float32)).sum(axis=(1, 2)).min() > 0  # every word got its states
    # the short sentence fits one window: the same as alone
    np.testing.assert_array_equal(features[len(words):], extractor([short]))


def read_conllu_text():
    import io

    return list(read_conllu(io.BytesIO(ALL_CONLLU.encode("utf-8"))))


def test_cache_train_and_tag(tiny_treebank_dir, tiny_encoder, tiny_tagger, tmp_path):
    cache = tmp_path / "cache"
    spec = ft.FeatureSpec(layers=(1, 2))
    meta = ft.build_cache(tiny_treebank_dir, tiny_encoder, cache, spec, log=lambda m: None)
    assert set(meta["files"]) == {"xx_test.train", "xx_test.dev", "xx_second.train", "yy_other.train",
                                  "yy_other.dev"}
    n = meta["files"]["xx_test.dev"]["words"]
    assert np.load(ft.cache_path(cache, "xx_test", "dev")).shape == (n, 3, 16)
    # a rerun skips what is written; other features in the same folder are refused
    written = ft.cache_path(cache, "xx_test", "dev").stat().st_mtime_ns
    ft.build_cache(tiny_treebank_dir, tiny_encoder, cache, spec, log=lambda m: None)
    assert ft.cache_path(cache, "xx_test", "dev").stat().st_mtime_ns == written
    with pytest.raises(InputError, match="other features"):
        ft.build_cache(tiny_treebank_dir, tiny_encoder, cache, ft.FeatureSpec(layers=(2,)))

    config = ft.TeacherTrainConfig(minutes=5, lr=1e-2, batch_size=8, epoch_steps=60, threads=1, max_steps=120)
    out = tmp_path / "teacher"
    path = ft.train_teacher(cache, out, config, log=lambda m: None)
    metrics = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    dev = [m for m in metrics if "dev_upos" in m]
    assert [m["step"] for m in dev] == [60, 120]
    teacher = ft.FeatureTeacher(path, tiny_encoder)
    best = max(dev, key=lambda m: m["dev_upos"] + m["dev_ufeats"])  # the kept weights are the best check's
    assert (teacher.dev["macro"]["upos"], teacher.dev["macro"]["ufeats"]) == (best["dev_upos"], best["dev_ufeats"])
    gold = read_conllu_text()
    out_run = teacher.run([s.words for s in gold])
    total = sum(len(s.words) for s in gold)
    assert out_run["upos"].shape == (total, 17) and out_run["bundle"].shape == (total, len(teacher.labels.bundles))
    upos, feats = teacher.tag([s.words for s in gold])
    right = sum(a == b for s, p in zip(gold, upos) for a, b in zip(s.upos, p))
    # it learned from the cache: far above the most frequent tag's share on the training text
    majority = max(np.unique([u for s in gold for u in s.upos], return_counts=True)[1])
    assert right > majority + 0.25 * total
    assert all(f in teacher.labels.bundles for p in feats for f in p)
    # the saved weights are fp16 and small
    saved = torch.load(path, weights_only=False)
    assert all(v.dtype == torch.float16 for v in saved["state"].values() if v.is_floating_point())
    # a new run can start from the saved weights: its first dev check is where the old one ended
    again = ft.TeacherTrainConfig(minutes=5, lr=1e-9, batch_size=8, epoch_steps=1, threads=1, max_steps=1,
                                  init=str(path))
    ft.train_teacher(cache, tmp_path / "again", again, log=lambda m: None)
    first = json.loads((tmp_path / "again" / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert abs(first["dev_upos"] - best["dev_upos"]) < 1.0
    # the ensemble labeller takes it as a teacher: with all the share, its decisions are the teacher's
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from ensemble_label import Ensemble, load_teacher

    loaded = load_teacher(str(path), str(tiny_encoder), threads=1)
    ensemble = Ensemble(tiny_tagger, loaded)
    sentences = [s.words for s in gold]
    ens_upos, ens_feats = ensemble.decide(ensemble.probabilities(sentences), sentences, 1.0)
    assert ens_upos == upos
    assert [[f for f, t in zip(p, q) if t in tiny_tagger.labels.bundle_id] for p, q in zip(ens_feats, feats)] == [
        [t for t in q if t in tiny_tagger.labels.bundle_id] for q in feats]
    # UPOS and FEATS shares apart: the teacher's UPOS with the student's FEATS
    mixed_upos, mixed_feats = ensemble.decide(ensemble.probabilities(sentences), sentences, 1.0, feats_weight=0.0)
    assert mixed_upos == upos
    assert mixed_feats == [[w["feats"] for w in s] for s in tiny_tagger.tag(sentences)]


def test_a_cache_that_no_longer_matches_its_treebank_is_refused(tiny_treebank_dir, tiny_encoder, tmp_path):
    cache = tmp_path / "cache"
    ft.build_cache(tiny_treebank_dir, tiny_encoder, cache, ft.FeatureSpec(layers=(2,)), splits=("dev",),
                   treebanks=["xx_test"], log=lambda m: None)
    path = ft.cache_path(cache, "xx_test", "dev")
    np.save(path, np.load(path)[:-1])
    with pytest.raises(InputError, match="rebuild the cache"):
        ft.load_cached(cache, "dev")


def test_command_line_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        ft.main(["cache", str(tmp_path / "missing"), str(tmp_path), str(tmp_path / "c")])
    assert "error:" in str(exit_info.value) and "\n" not in str(exit_info.value)


def test_a_factored_head_adds_each_features_log_odds_to_the_bundle_scores():
    from polytag.core.labels import Labels, split_feats

    labels = Labels.build(["_", "Case=Nom|Number=Sing", "Case=Acc|Number=Sing", "Number=Plur", "Case=Nom"])
    config = ft.HeadConfig(hidden=8, n_vectors=2, proj=8, lstm=4, bundle_rank=4, factored=True)
    torch.manual_seed(0)
    model = ft.FeatureTagger(config, 17, len(labels.bundles), labels).eval()
    features, lengths = torch.randn(2, 3, 2, 8), torch.tensor([3, 2])
    own_logits = []
    model.bundle_head.register_forward_hook(lambda module, args, result: own_logits.append(result))
    out = model(features, lengths)
    log_p = torch.log_softmax(out["factored"], -1)
    # the same scores computed the slow way, one bundle at a time
    plain = model(features, lengths, which=("upos",))  # no factored head: only the bundle head's own part
    assert "bundle" not in plain
    h_bundle = out["bundle"] - torch.stack([sum((log_p[..., labels.feature_col[n], labels.value_id[labels.feature_col[n]][v]]
                                                 - log_p[..., labels.feature_col[n], 0])
                                                for n, v in split_feats(b).items()) + torch.zeros(2, 3)
                                            for b in labels.bundles], -1)
    # what is left is the bundle head's own logits
    assert torch.allclose(h_bundle, own_logits[0], atol=1e-4)
    # a slot that is not a value of its feature can never be predicted
    assert (log_p[..., labels.feature_col["Number"], len(labels.features["Number"]):] < -1e3).all()
    with pytest.raises(ValueError, match="labels"):
        ft.FeatureTagger(config, 17, len(labels.bundles))


def test_a_factored_teacher_trains_from_a_plain_ones_weights(tiny_treebank_dir, tiny_encoder, tmp_path):
    cache = tmp_path / "cache"
    ft.build_cache(tiny_treebank_dir, tiny_encoder, cache, ft.FeatureSpec(layers=(1, 2)), log=lambda m: None)
    plain = ft.train_teacher(cache, tmp_path / "plain", ft.TeacherTrainConfig(
        minutes=5, lr=1e-2, batch_size=8, epoch_steps=40, threads=1, max_steps=80), log=lambda m: None)
    messages = []
    factored = ft.train_teacher(cache, tmp_path / "factored", ft.TeacherTrainConfig(
        minutes=5, lr=1e-2, batch_size=8, epoch_steps=50, threads=1, max_steps=100, init=str(plain),
        head=ft.HeadConfig(factored=True)), log=messages.append)
    assert any("a new factored head" in m for m in messages)
    metrics = [json.loads(line) for line in (tmp_path / "factored" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any(m.get("factored", 0) > 0 for m in metrics)  # its loss was trained on
    teacher = ft.FeatureTeacher(factored, tiny_encoder)
    assert teacher.model.factored
    gold = read_conllu_text()
    upos, feats = teacher.tag([s.words for s in gold])
    assert all(f in teacher.labels.bundles for p in feats for f in p)
    right = sum(a == b for s, p in zip(gold, feats) for a, b in zip(s.feats, p))
    assert right > 0.5 * sum(len(s.words) for s in gold)
    # a factored teacher continues as one without being told
    again = ft.train_teacher(cache, tmp_path / "again", ft.TeacherTrainConfig(
        minutes=5, lr=1e-9, max_steps=1, epoch_steps=1, init=str(factored)), log=lambda m: None)
    assert torch.load(again, weights_only=False)["head"]["factored"]
    with pytest.raises(InputError, match="no such teacher file"):
        ft.train_teacher(cache, tmp_path / "none", ft.TeacherTrainConfig(max_steps=1, init=str(tmp_path / "gone.pt")),
                         log=lambda m: None)

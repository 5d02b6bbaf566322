"""Training: examples and targets, the loss, a step that learns, the Trainer's outputs, and a
Hugging Face checkpoint as the encoder (`polytag train --encoder PATH`)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from conftest import ALL_CONLLU, TINY_TRAIN_ARGS, wordpiece_tokenizer, write_conllu
from safetensors.torch import load_file
from transformers import BertConfig, BertModel

from polytag.cli import main
from polytag.core.conllu_io import Sentence, read_conllu
from polytag.core.encoding import WordPieces
from polytag.core.errors import InputError
from polytag.core.folder import ModelConfig, init_history, training_stages
from polytag.core.labels import IGNORE, Labels
from polytag.nn.model_io import load_model
from polytag.nn.transformer import TaggerModel, preset_encoder_config
from polytag.tagging import load as load_tagger
from polytag.training.supervised import (
    Example,
    TrainConfig,
    Trainer,
    batches_for_epoch,
    collate_examples,
    drop_wordpieces,
    encode_examples,
    factored_table,
    lowercased_copies,
    tagging_loss,
)
from polytag.training.soft_targets import compress, labels_digest, soft_path, write_soft_targets
from polytag.training.tasks import train


def gold_sentences(tmp_path) -> list[Sentence]:
    sentences = list(read_conllu(write_conllu(tmp_path / "gold.conllu", ALL_CONLLU)))
    for s in sentences:
        s.meta["treebank"] = "xx_test"
    return sentences


def test_examples_split_long_sentences_without_overlap(tiny_tokenizer):
    wp = WordPieces(tiny_tokenizer)
    words = [f"w{i % 7}" for i in range(300)]
    upos = ["NOUN", "VERB", "X"] * 100
    feats = ["Number=Sing", "_", "Case=Zzz"] * 100  # the last: an unseen bundle
    labels = Labels.build(["_", "Number=Sing"])
    examples = encode_examples(wp, labels, [Sentence(words, upos, feats, meta={"treebank": "t"})], max_len=32)
    assert len(examples) > 1 and all(len(e.input_ids) <= 32 for e in examples)
    assert sum(len(e.first) for e in examples) == 300  # each word is a target exactly once
    targets = np.concatenate([e.upos for e in examples])
    assert targets.tolist() == labels.encode_upos(upos)
    bundles = np.concatenate([e.bundle for e in examples])
    assert bundles[:3].tolist() == [labels.bundle_id["Number=Sing"], 0, IGNORE]


def test_factored_targets_follow_the_bundle():
    labels = Labels.build(["_", "Case=Nom|Number=Sing", "Case=Acc"])
    table = factored_table(labels)
    assert table.shape == (len(labels.bundles) + 1, labels.n_features)
    assert (table[-1] == IGNORE).all()  # row for unseen bundles
    first = np.array([1, 2, 3])
    ex = Example("xx", np.array([2, 7, 8, 9, 3], dtype=np.int32), first, first, np.array([0, 1, 2]),
                 np.array([labels.bundle_id["Case=Acc"], IGNORE, 0]))
    batch = collate_examples([ex], 0, table)
    assert "word_chars" not in batch
    assert batch["factored"][0].tolist() == labels.encode_factored(["Case=Acc"])[0].tolist()
    assert (batch["factored"][1] == IGNORE).all()
    assert (batch["factored"][2] == 0).all()


def test_loss_ignores_words_without_a_target():
    torch.manual_seed(0)
    out = {"upos": torch.randn(3, 17), "bundle": torch.randn(3, 4), "factored": torch.randn(3, 2, 3)}
    batch = {"upos": torch.tensor([1, IGNORE, 2]), "bundle": torch.tensor([0, IGNORE, 3]),
             "factored": torch.tensor([[0, 1], [IGNORE, IGNORE], [2, 0]])}
    changed = {k: v.clone() for k, v in out.items()}
    for v in changed.values():
        v[1] += 100.0
    assert torch.isclose(tagging_loss(out, batch), tagging_loss(changed, batch))
    changed["upos"][0, 1] += 5.0  # a better score for a real target lowers the loss
    assert tagging_loss(changed, batch) < tagging_loss(out, batch)


def one_hot_soft(batch: dict, soft: torch.Tensor, n_upos: int, n_bundles: int) -> dict:
    """`batch` with soft targets on the words of `soft` that say exactly what their hard labels say."""
    upos = np.eye(n_upos)[batch["upos"][soft].numpy()]
    bundles = np.eye(n_bundles)[batch["bundle"][soft].numpy()]
    stored = compress(upos, bundles, k=2, temperatures=(1.0,))
    return {**batch, "soft_mask": soft, "soft_upos": torch.from_numpy(stored["upos_logp"]).float(),
            "soft_bundle_ids": torch.from_numpy(stored["bundle_ids"]).long(),
            "soft_bundle_logp": torch.from_numpy(stored["bundle_logp"]).float(),
            "soft_bundle_lse": torch.from_numpy(stored["bundle_lse"][:, 0])}


def test_soft_targets_that_agree_with_the_labels_give_the_hard_loss():
    torch.manual_seed(0)
    out = {"upos": torch.randn(5, 17), "bundle": torch.randn(5, 6), "factored": torch.randn(5, 2, 3)}
    batch = {"upos": torch.tensor([1, 4, 2, 0, 16]), "bundle": torch.tensor([0, 5, 3, 3, 1]),
             "factored": torch.tensor([[0, 1], [1, 1], [2, 0], [0, 0], [1, 2]])}
    soft = one_hot_soft(batch, torch.tensor([False, True, True, False, True]), 17, 6)
    assert torch.isclose(tagging_loss(out, soft, 1.0), tagging_loss(out, batch), atol=1e-4)


def test_soft_targets_teach_their_distribution_not_the_written_label():
    out = {"upos": torch.zeros(2, 17, requires_grad=True), "bundle": torch.zeros(2, 6, requires_grad=True)}
    batch = {"upos": torch.tensor([1, 1]), "bundle": torch.tensor([0, 0])}
    upos = np.full((2, 17), 0.01)
    upos[:, 3] = 1 - 0.16  # the labeller preferred UPOS 3; the written label says 1
    bundles = np.full((2, 6), 0.1)
    bundles[:, 2] = 0.5
    stored = compress(upos, bundles, k=2, temperatures=(3.0,))
    batch.update(soft_mask=torch.tensor([True, True]), soft_upos=torch.from_numpy(stored["upos_logp"]).float(),
                 soft_bundle_ids=torch.from_numpy(stored["bundle_ids"]).long(),
                 soft_bundle_logp=torch.from_numpy(stored["bundle_logp"]).float(),
                 soft_bundle_lse=torch.from_numpy(stored["bundle_lse"][:, 0]))
    tagging_loss(out, batch, 3.0).backward()
    assert out["upos"].grad[:, 3].lt(0).all() and out["upos"].grad[:, 1].gt(0).all()  # toward 3, away from 1
    assert out["bundle"].grad[:, 2].lt(0).all() and out["bundle"].grad[:, 0].gt(0).all()
    # at the targets' own (tempered) distribution, nothing is left to learn
    at_targets = {"upos": torch.from_numpy(np.log(upos)).float(), "bundle": torch.from_numpy(np.log(bundles)).float()}
    assert abs(tagging_loss(at_targets, batch, 3.0).item()) < 1e-2


def test_training_on_soft_targets_beside_a_pseudo_treebank(tiny_treebank_dir, tiny_model_dir, tmp_path):
    data = tmp_path / "data"
    for source in tiny_treebank_dir.rglob("*.conllu*"):
        (data / source.parent.name).mkdir(parents=True, exist_ok=True)
        (data / source.parent.name / source.name).write_bytes(source.read_bytes())
    pseudo = write_conllu(data / "zz_pseudo" / "zz_pseudo-ud-train.conllu", ALL_CONLLU)
    args = ["train", str(data), "-o", str(tmp_path / "soft"), "--init", str(tiny_model_dir), "--epochs", "1",
            "--soft-temperature", "3", *TINY_TRAIN_ARGS]
    assert main(args) == 2  # no soft targets anywhere: refused (an input error), not trained on labels alone
    labels = Labels.load(tiny_model_dir / "labels.json")
    n = sum(len(s.words) for s in read_conllu(pseudo))
    rng = np.random.default_rng(0)
    upos, bundles = rng.dirichlet(np.ones(len(labels.upos)), n), rng.dirichlet(np.ones(len(labels.bundles)), n)
    write_soft_targets(soft_path(pseudo), [compress(upos, bundles)], labels_digest(labels.upos, labels.bundles))
    assert main(args) == 0
    config = json.loads((tmp_path / "soft" / "train_config.json").read_text(encoding="utf-8"))
    assert config["soft_temperature"] == 3.0


def test_a_training_step_lowers_the_loss(tmp_path, tiny_tokenizer):
    torch.manual_seed(0)
    sentences = gold_sentences(tmp_path)
    labels = Labels.build(f for s in sentences for f in s.feats)
    config = ModelConfig(encoder="tiny", encoder_config=preset_encoder_config("tiny", len(tiny_tokenizer), 64),
                         max_len=64, dropout=0.0)
    model = TaggerModel(config, labels)
    wp = WordPieces(tiny_tokenizer)
    examples = encode_examples(wp, labels, sentences, 64)
    batch = collate_examples(examples, wp.pad_id, factored_table(labels))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    forward = lambda: tagging_loss(model(batch["input_ids"], batch["attention_mask"], batch["word_index"]), batch)  # noqa: E731
    losses = []
    for _ in range(5):
        loss = forward()
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = forward().item()
    assert losses[1] < losses[0]
    assert final < losses[0] * 0.9


def test_wordpiece_dropout_replaces_only_real_non_special_pieces():
    cls, sep, pad, unk, keep = 2, 3, 0, 1, torch.tensor([0, 2, 3, 4])
    ids = torch.tensor([[cls, 10, 11, 12, sep, pad], [cls, 13, sep, pad, pad, pad]])
    mask = (ids != pad).long()
    assert torch.equal(drop_wordpieces(ids, mask, 1.0, unk, keep),
                       torch.tensor([[cls, unk, unk, unk, sep, pad], [cls, unk, sep, pad, pad, pad]]))
    assert torch.equal(drop_wordpieces(ids, mask, 0.0, unk, keep), ids)
    torch.manual_seed(0)
    many = torch.randint(5, 100, (100, 100))
    rate = (drop_wordpieces(many, torch.ones_like(many), 0.2, unk, keep) == unk).float().mean().item()
    assert 0.18 < rate < 0.22
    assert many.min() >= 5  # the input is not changed in place


def test_lowercased_copies_of_a_share_of_the_sentences_with_capitals():
    sentences = [Sentence([f"Word{i}", "and", "MORE"], ["NOUN", "CCONJ", "ADJ"], ["_", "_", "_"],
                          meta={"treebank": "xx"}) for i in range(200)] + [Sentence(["all", "lower"])] * 50
    copies = lowercased_copies(sentences, 0.25, seed=1)
    assert 25 < len(copies) < 75  # about a quarter of the 200 with capitals, none of the others
    assert all(c.words[1:] == ["and", "more"] and c.words[0].startswith("word") for c in copies)
    assert copies[0].upos == ["NOUN", "CCONJ", "ADJ"] and copies[0].meta["treebank"] == "xx"
    assert lowercased_copies(sentences, 0.25, seed=1) == copies  # seeded
    assert lowercased_copies(sentences, 0.0, seed=1) == []


def test_training_takes_a_lowercase_share(tiny_treebank_dir, tmp_path):
    out = tmp_path / "lower"
    assert main(["train", str(tiny_treebank_dir), "-o", str(out), "--epochs", "1", "--lowercase-share", "0.5",
                 "--treebanks", "yy", *TINY_TRAIN_ARGS]) == 0
    assert json.loads((out / "train_config.json").read_text())["lowercase_share"] == 0.5
    assert main(["train", str(tiny_treebank_dir), "-o", str(tmp_path / "bad"), "--lowercase-share", "1.5"]) == 2


def test_batches_cover_every_example_once():
    lengths = np.array([random.Random(i).randint(3, 60) for i in range(103)])
    by_tb = {"a": list(range(0, 80)), "b": list(range(80, 103))}
    batches = batches_for_epoch(by_tb, lengths, 8, None, random.Random(5))
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert all(1 <= len(b) <= 8 for b in batches)
    assert batches == batches_for_epoch(by_tb, lengths, 8, None, random.Random(5))  # same seed, same epoch
    sampled = batches_for_epoch(by_tb, lengths, 8, 5.0, random.Random(5))
    assert sum(len(b) for b in sampled) == 103


def test_trained_model_folder(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "labels.json", "tokenizer", "model.safetensors", "metadata.json",
            "metrics.jsonl", "train_config.json", "checkpoint"} <= names
    meta = json.loads((tiny_model_dir / "metadata.json").read_text(encoding="utf-8"))
    assert {"polytag_commit", "date", "training_seconds", "parameters", "treebanks", "train_words",
            "dev", "train_config"} <= set(meta)
    assert sorted(meta["treebanks"]) == ["xx_second", "xx_test", "yy_other"]
    assert meta["treebanks"]["yy_other"]["train"].endswith("yy_other-ud-train.conllu.gz")
    assert set(meta["dev"]) == {"bundle", "factored"}
    assert set(meta["dev"]["bundle"]["files"]) == {"xx_test", "yy_other"}
    records = [json.loads(line) for line in (tiny_model_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if "dev_upos" in r]
    assert [r["epoch"] for r in epochs] == [1, 2]
    for r in epochs:  # the score that picks the best model: UPOS with the better head's UFeats
        best_ufeats = max(r["dev_ufeats_bundle"], r["dev_ufeats_factored"])
        assert r["dev_score"] == round((r["dev_upos"] + best_ufeats) / 2, 3)
    config = json.loads((tiny_model_dir / "config.json").read_text(encoding="utf-8"))
    assert config["encoder"] == "tiny" and config["morph_decode"] in ("bundle", "factored")
    assert config["encoder_config"]["hidden_size"] == 32
    assert len(WordPieces(load_model(tiny_model_dir)[1]).tokenizer) <= 300


def test_max_minutes_stops_early_and_still_saves(tiny_treebank_dir, tmp_path):
    cfg = TrainConfig(data=str(tiny_treebank_dir), output=str(tmp_path / "m"), treebanks="xx_test",
                      encoder="tiny", vocab_size=300, epochs=50, batch_size=8, threads=1, max_minutes=1e-9)
    state = train(cfg)
    assert state["step"] == 1  # the time budget is spent after the first optimizer step
    assert (tmp_path / "m" / "model.safetensors").exists()


def test_eval_every_skips_dev_evaluations_but_always_evaluates_the_last_epoch(tiny_treebank_dir, tmp_path):
    out = tmp_path / "sparse_eval"
    assert main(["train", str(tiny_treebank_dir), "-o", str(out), "--epochs", "3", "--eval-every", "2",
                 "--treebanks", "yy", *TINY_TRAIN_ARGS]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "dev_upos" in r] == [2, 3]
    assert json.loads((out / "metadata.json").read_text())["epoch"] in (2, 3)


def test_save_half_and_morph_heads(tiny_treebank_dir, tmp_path):
    out = tmp_path / "half"
    assert main(["train", str(tiny_treebank_dir), "-o", str(out), "--epochs", "1", "--treebanks", "yy",
                 "--morph-heads", "factored", "--save-half", "--sampling-temperature", "2",
                 *TINY_TRAIN_ARGS]) == 0
    weights = load_file(str(out / "model.safetensors"))
    assert all(t.dtype == torch.float16 for t in weights.values() if t.is_floating_point())
    model, *_ = load_model(out)
    assert model.bundle_head is None and model.factored_head is not None
    assert json.loads((out / "config.json").read_text())["morph_decode"] == "factored"
    tagger = load_tagger(out, backend="torch")
    assert len(tagger.tag([["Il", "parle", "."]])[0]) == 3


def test_continued_run_records_its_history(tiny_treebank_dir, tiny_model_dir, tmp_path):
    first = json.loads((tiny_model_dir / "metadata.json").read_text(encoding="utf-8"))
    out = tmp_path / "continued"
    assert main(["train", str(tiny_treebank_dir), "-o", str(out), "--init", str(tiny_model_dir), "--epochs", "1",
                 "--sampling-temperature", "2", *TINY_TRAIN_ARGS]) == 0
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    history = meta["initialised_from"]
    assert history["steps"] == first["steps"] and history["train_config"]["init"] is None
    assert history["dev_macro"]["bundle"] == first["dev"]["bundle"]["macro"]
    stages = training_stages(meta)
    assert [s["steps"] for s in stages] == [first["steps"], meta["steps"]]
    assert [s["train_config"]["init"] for s in stages] == [None, str(tiny_model_dir)]
    # the continued model keeps the first one's vocabulary and labels
    assert (out / "labels.json").read_text() == (tiny_model_dir / "labels.json").read_text()
    assert init_history(tmp_path / "nowhere") is None


# -- a Hugging Face checkpoint as the encoder --

def save_tiny_hf_checkpoint(folder, words: list[str]) -> tuple[list[str], BertModel]:
    """A BERT the way a user has one: config + weights + its own fast tokenizer, save_pretrained."""
    chars = sorted({c for w in words for c in w})
    tok = wordpiece_tokenizer(["zzzunused"] + words + chars + ["##" + c for c in chars])
    tok.save_pretrained(str(folder))
    ids = tok.get_vocab()
    vocab = sorted(ids, key=ids.get)  # tokens in id order
    torch.manual_seed(3)
    config = BertConfig(vocab_size=len(vocab), hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=48, max_position_embeddings=96)
    bert = BertModel(config)
    bert.save_pretrained(str(folder))
    return vocab, bert


def test_train_on_a_hugging_face_checkpoint(tiny_treebank_dir, tmp_path):
    words = sorted({w for s in gold_sentences(tmp_path) for w in s.words})
    hf_dir = tmp_path / "my-bert"
    vocab, bert = save_tiny_hf_checkpoint(hf_dir, words)
    out = tmp_path / "model"
    rc = main(["train", str(tiny_treebank_dir), "-o", str(out), "--encoder", str(hf_dir), "--max-len", "96",
               "--treebanks", "xx_test", "--epochs", "1", "--vocab-size", "999", "--batch-size", "8",
               "--threads", "1"])
    assert rc == 0
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["encoder"] == str(hf_dir)
    assert config["encoder_config"]["hidden_size"] == 24
    model, tokenizer, _, _ = load_model(out)
    assert tokenizer.get_vocab() == {t: i for i, t in enumerate(vocab)}  # its own tokenizer, not a new one
    # a row never used in training keeps the checkpoint's value: the weights were loaded, not re-initialised
    unused = vocab.index("zzzunused")
    before = bert.embeddings.word_embeddings.weight[unused]
    after = model.encoder.embeddings.word_embeddings.weight[unused]
    assert torch.allclose(before, after, rtol=1e-3, atol=1e-5)
    tagged = load_tagger(out, backend="torch").tag([["Мама", "мыла", "раму", "."]])
    assert [w["form"] for w in tagged[0]] == ["Мама", "мыла", "раму", "."]


def test_frozen_embeddings_stay_and_heads_get_their_own_lr(tiny_treebank_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "frozen"
    cfg = TrainConfig(data=str(tiny_treebank_dir), output=str(out), treebanks="xx_test", init=str(tiny_model_dir),
                      epochs=1, batch_size=8, threads=1, lr=1e-3, freeze_embeddings=True, head_lr_scale=10.0)
    trainer = Trainer(cfg)
    trainer.setup(resume=False)
    groups = trainer.parameter_groups()
    assert [scale for _, scale in groups] == [1.0, 10.0]
    assert {id(p) for p in groups[1][0]} == {id(p) for p in trainer.model.upos_head.parameters()} | {
        id(p) for head in (trainer.model.bundle_head, trainer.model.factored_head) if head is not None
        for p in head.parameters()}
    trainer.run()
    before, after = load_model(tiny_model_dir)[0], load_model(out / "checkpoint")[0]
    name = "encoder.embeddings.word_embeddings.weight"
    assert torch.equal(before.state_dict()[name], after.state_dict()[name])
    assert not torch.equal(before.upos_head.weight, after.upos_head.weight)


def test_hints_only_trains_the_hint_vectors_and_nothing_else(tiny_treebank_dir, tiny_model_dir, tmp_path):
    """--hints-only: every other weight and the "no hint" row stay, so the model tags exactly as
    before without a hint; each training treebank's vector moves; dev is scored with the hints."""
    out = tmp_path / "hints"
    cfg = TrainConfig(data=str(tiny_treebank_dir), output=str(out), init=str(tiny_model_dir), epochs=2,
                      batch_size=8, threads=1, lr=1e-2, treebank_hint_dropout=0.0, hints_only=True)
    train(cfg)
    before, after = load_model(tiny_model_dir)[0].state_dict(), load_model(out)[0].state_dict()
    hints = after.pop("treebank_embedding.weight")
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert not hints[0].any() and all(row.any() for row in hints[1:])
    sentences = [s.words for s in read_conllu(next(tiny_treebank_dir.rglob("xx_test-ud-dev.conllu")))]
    plain, hinted = load_tagger(tiny_model_dir, backend="torch"), load_tagger(out, backend="torch")
    assert hinted.predict(sentences) == plain.predict(sentences)
    assert hinted.logits(sentences, ("upos",))[0]["upos"].tolist() == plain.logits(sentences, ("upos",))[0]["upos"].tolist()
    hinted.set_treebank("xx_test")
    assert hinted.logits(sentences, ("upos",))[0]["upos"].tolist() != plain.logits(sentences, ("upos",))[0]["upos"].tolist()
    trained = json.loads((out / "metadata.json").read_text())["train_config"]
    assert trained["hints_only"] is True
    bad = TrainConfig(data=str(tiny_treebank_dir), output=str(tmp_path / "bad"), init=str(tiny_model_dir),
                      epochs=1, batch_size=8, threads=1, hints_only=True)
    with pytest.raises(InputError, match="--hints-only trains treebank hints"):
        train(bad)

"""Distillation: the loss by hand (temperature, special/padding masking), the top-k cache,
cached == on-the-fly, and a tiny teacher -> student -> fine-tune pipeline from the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from polytag.cli import main
from polytag.core.encoding import WordPieces
from polytag.nn.model_io import load_model
from polytag.training.distill import (
    CachedPart,
    DistillConfig,
    Distiller,
    compress,
    corpus_parts,
    distill_loss,
    pad,
    per_wordpiece_logits,
    soft_cross_entropy,
    soft_cross_entropy_topk,
    valid_positions,
)

SENTENCES = [
    ("The dog runs .", "DET NOUN VERB PUNCT", ["Definite=Def", "Number=Sing", "Number=Sing|Tense=Pres", "_"]),
    ("A cat sleeps .", "DET NOUN VERB PUNCT", ["Definite=Ind", "Number=Sing", "Number=Sing|Tense=Pres", "_"]),
    ("The dogs run .", "DET NOUN VERB PUNCT", ["Definite=Def", "Number=Plur", "Number=Plur|Tense=Pres", "_"]),
    ("Cats sleep .", "NOUN VERB PUNCT", ["Number=Plur", "Number=Plur|Tense=Pres", "_"]),
    ("The cat ran home .", "DET NOUN VERB ADV PUNCT", ["Definite=Def", "Number=Sing", "Tense=Past", "_", "_"]),
    ("Dogs ran .", "NOUN VERB PUNCT", ["Number=Plur", "Tense=Past", "_"]),
]
TEXT = ["The dog sleeps at home today .", "A cat runs home .", "The cats ran and the dogs sleep .",
        "Dogs and cats run home .", "The dog ran .", "A dog and a cat sleep at home ."]


def conllu(sentences) -> str:
    out = []
    for text, upos, feats in sentences:
        for i, (w, u, f) in enumerate(zip(text.split(), upos.split(), feats), 1):
            out.append(f"{i}\t{w}\t_\t{u}\t_\t{f}\t{0 if i == 1 else 1}\t{'root' if i == 1 else 'dep'}\t_\t_")
        out.append("")
    return "\n".join(out) + "\n"


# -- the loss by hand --
def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def test_loss_equals_hand_computed_value_with_temperature_and_masking():
    T = 3.0
    cls, sep, pad = 2, 3, 0
    # two windows: [CLS] 7 8 [SEP] and [CLS] 9 [SEP] [PAD]
    ids = torch.tensor([[cls, 7, 8, sep], [cls, 9, sep, pad]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    valid = valid_positions(ids, mask, [cls, sep, pad])
    assert valid.tolist() == [[False, True, True, False], [False, True, False, False]]
    # logits for all 8 positions; only the 3 valid ones may count
    teacher = torch.tensor([[9.0, 9.0, 9.0], [2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [9.0, -9.0, 0.0],
                            [9.0, 9.0, 9.0], [1.0, 2.0, 3.0], [-5.0, 5.0, 0.0], [7.0, 7.0, -7.0]])
    student = torch.tensor([[0.0, 0.0, 9.0], [1.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 0.0],
                            [5.0, 0.0, 0.0], [0.0, 0.0, 0.0], [3.0, 3.0, 3.0], [0.0, 1.0, 2.0]])
    sel = valid.flatten()
    got = distill_loss({"upos": student[sel]}, {"upos": teacher[sel]}, T)
    expected = 0.0
    for t, s in zip(teacher[sel].tolist(), student[sel].tolist()):
        p = softmax([x / T for x in t])
        q = softmax([x / T for x in s])
        expected += -sum(pi * math.log(qi) for pi, qi in zip(p, q))
    expected /= 3  # averaged over the 3 valid wordpieces, not the 8 positions
    assert got["upos"].item() == pytest.approx(expected, rel=1e-5)
    assert got["total"].item() == pytest.approx(expected, rel=1e-5)
    # T matters: at T=1 the value differs
    assert distill_loss({"upos": student[sel]}, {"upos": teacher[sel]}, 1.0)["upos"].item() != pytest.approx(expected)


def test_factored_head_sums_features_and_heads_add_up():
    T = 2.0
    s = torch.randn(5, 3, 4)
    t = torch.randn(5, 3, 4)
    t[:, 2, 3] = -1e4  # a value slot that does not exist for feature 2
    losses = distill_loss({"factored": s, "upos": s[:, 0]}, {"factored": t, "upos": t[:, 0]}, T)
    per_feature = soft_cross_entropy(s, t, T)  # (5, 3)
    assert losses["factored"].item() == pytest.approx(per_feature.sum(-1).mean().item(), rel=1e-5)
    assert losses["total"].item() == pytest.approx(losses["factored"].item() + losses["upos"].item(), rel=1e-5)


def test_topk_with_other_bucket():
    T = 3.0
    torch.manual_seed(0)
    t = torch.randn(6, 10) * 3
    s = torch.randn(6, 10)
    # k covering every class: the full cross-entropy (teacher logits rounded to fp16)
    idx, val, lse = (torch.from_numpy(a) for a in compress(t, 10, T))
    full = soft_cross_entropy(s, t.half().float(), T)
    assert torch.allclose(soft_cross_entropy_topk(s, idx.long(), val, lse, T), full, rtol=1e-5, atol=1e-6)
    # k = 3: CE of the coarsened distributions (top-3 classes + one "other" bucket), by hand
    idx, val, lse = (torch.from_numpy(a) for a in compress(t, 3, T))
    got = soft_cross_entropy_topk(s, idx.long(), val, lse, T)
    for row in range(6):
        p = softmax([x / T for x in t[row].half().float().tolist()])
        q = softmax([x / T for x in s[row].tolist()])
        top = idx[row].tolist()
        coarse_p = [p[i] for i in top] + [1 - sum(p[i] for i in top)]
        coarse_q = [q[i] for i in top] + [1 - sum(q[i] for i in top)]
        expected = -sum(a * math.log(b) for a, b in zip(coarse_p, coarse_q))
        assert got[row].item() == pytest.approx(expected, rel=1e-4)
    # and the gradient is finite
    s.requires_grad_(True)
    soft_cross_entropy_topk(s, idx.long(), val, lse, T).sum().backward()
    assert torch.isfinite(s.grad).all()


# -- the pipeline --
@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    ud = root / "ud"
    (ud / "UD_Xx-Tiny").mkdir(parents=True)
    (ud / "UD_Xx-Tiny" / "xx_tiny-ud-train.conllu").write_text(conllu(SENTENCES * 3), encoding="utf-8")
    (ud / "UD_Xx-Tiny" / "xx_tiny-ud-dev.conllu").write_text(conllu(SENTENCES[:3]), encoding="utf-8")
    text = root / "xx.txt"
    text.write_text("\n".join(TEXT * 2) + "\n", encoding="utf-8")
    corpus = root / "corpus"
    assert main(["corpus", str(corpus), "--text", f"xx:{text}", "--ud", str(ud), "--shard-size", "7"]) == 0
    teacher = root / "teacher"
    assert main(["train", str(ud), "-o", str(teacher), "--encoder", "tiny", "--vocab-size", "120",
                 "--epochs", "2", "--batch-size", "4", "--threads", "1"]) == 0
    return root, ud, corpus, teacher


def test_cached_and_on_the_fly_give_the_same_loss(setup):
    root, _, corpus, teacher = setup
    model, tokenizer, labels, mcfg = load_model(teacher)
    wp = WordPieces(tokenizer)
    special = sorted({wp.cls_id, wp.sep_id, wp.pad_id})
    big_k = max(len(labels.bundles), len(labels.upos))
    common = dict(teacher=str(teacher), corpus=str(corpus), epochs=1, batch_size=4, part_size=5,
                  student="tiny", dropout=0.0, log_every=1, threads=1, warmup=0.0)
    cached_cfg = DistillConfig(output=str(root / "s_cached"), cache=str(root / "cache"), top_k=big_k,
                               top_k_factored=labels.max_values, **common)
    fly_cfg = DistillConfig(output=str(root / "s_fly"), **common)
    # batch by batch: cached targets == the teacher's logits, through the same loss
    Distiller(DistillConfig(**{**cached_cfg.__dict__, "cache_only": True})).run()
    parts = list(corpus_parts(wp, str(corpus), mcfg.max_len, 5))
    assert len(parts) > 1
    torch.manual_seed(0)
    student = model.__class__(mcfg, labels).eval()
    for part in parts:
        cached = CachedPart(root / "cache" / f"part-{part.shard:05d}-{part.index:05d}.npz", ["upos", "bundle", "factored"])
        assert all(np.array_equal(a, b) for a, b in zip(cached.sequences, part.sequences))
        rows = list(range(len(part.sequences)))[::-1]
        ids, mask = pad([part.sequences[i] for i in rows], wp.pad_id)
        valid = valid_positions(ids, mask, special)
        with torch.no_grad():
            fly = per_wordpiece_logits(model, ids, mask, valid)
            out = per_wordpiece_logits(student, ids, mask, valid)
            a = distill_loss(out, fly, 3.0)
            b = distill_loss(out, cached.targets(rows, "cpu"), 3.0)
        for head in a:
            assert a[head].item() == pytest.approx(b[head].item(), rel=1e-3, abs=1e-4), head
    # whole runs: the same batches, the same per-step losses
    Distiller(cached_cfg).run()
    Distiller(fly_cfg).run()
    read = lambda p: [json.loads(l)["loss"] for l in (p / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    cached_losses, fly_losses = read(root / "s_cached"), read(root / "s_fly")
    assert len(cached_losses) == len(fly_losses) > 1
    assert cached_losses == pytest.approx(fly_losses, rel=1e-3)


def test_cache_rejects_other_temperature(setup):
    root, _, corpus, teacher = setup
    cfg = DistillConfig(teacher=str(teacher), corpus=str(corpus), output=str(root / "x"), cache=str(root / "cache_t"),
                        cache_only=True, threads=1)
    Distiller(cfg).run()
    assert json.loads((root / "cache_t" / "meta.json").read_text())["complete"]
    with pytest.raises(ValueError, match="other settings"):
        Distiller(DistillConfig(**{**cfg.__dict__, "temperature": 1.0})).run()


def test_teacher_student_finetune_pipeline_from_the_cli(setup):
    root, ud, corpus, teacher = setup
    student = root / "student"
    assert main(["distill", "--teacher", str(teacher), "--corpus", str(corpus), "-o", str(student),
                 "--student", "tiny", "--cache", str(root / "cache_cli"), "--top-k", "4", "--epochs", "3",
                 "--batch-size", "4", "--lr", "1e-3", "--threads", "1", "--log-every", "1"]) == 0
    meta = json.loads((student / "metadata.json").read_text())
    assert meta["distillation"]["steps"] > 0
    s_model, s_tok, s_labels, s_cfg = load_model(student)
    t_model, t_tok, t_labels, t_cfg = load_model(teacher)
    assert s_tok.get_vocab() == t_tok.get_vocab()  # the teacher's vocabulary
    assert s_labels.bundles == t_labels.bundles and s_cfg.morph_heads == t_cfg.morph_heads
    losses = [json.loads(l)["loss"] for l in (student / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]
    # resumable: asking for more epochs continues from the checkpoint
    assert main(["distill", "--teacher", str(teacher), "--corpus", str(corpus), "-o", str(student),
                 "--student", "tiny", "--cache", str(root / "cache_cli"), "--top-k", "4", "--epochs", "4",
                 "--batch-size", "4", "--lr", "1e-3", "--threads", "1", "--log-every", "1", "--resume"]) == 0
    assert json.loads((student / "metadata.json").read_text())["distillation"]["epochs_done"] == 4
    # fine-tune the distilled student on the labeled data, then evaluate it
    tuned = root / "tuned"
    assert main(["train", str(ud), "-o", str(tuned), "--init", str(student), "--epochs", "1",
                 "--batch-size", "4", "--threads", "1"]) == 0
    scores = root / "scores.json"
    assert main(["evaluate", "--model", str(tuned), str(ud / "UD_Xx-Tiny" / "xx_tiny-ud-dev.conllu"),
                 "--json", str(scores)]) == 0
    assert 0 <= json.loads(scores.read_text())["macro"]["upos"] <= 100
    tuned_model, tuned_tok, _, _ = load_model(tuned)
    assert tuned_tok.get_vocab() == t_tok.get_vocab()


def test_student_from_a_pretrained_encoder_needs_the_teacher_vocabulary(setup, tmp_path):
    root, _, corpus, teacher = setup
    encoder = tmp_path / "mlm"
    assert main(["pretrain", str(corpus), "-o", str(encoder), "--encoder", "tiny", "--tokenizer",
                 str(teacher / "tokenizer"), "--max-steps", "2", "--batch-size", "4", "--threads", "1"]) == 0
    student = tmp_path / "student"
    assert main(["distill", "--teacher", str(teacher), "--corpus", str(corpus), "-o", str(student),
                 "--student-init", str(encoder), "--epochs", "1", "--batch-size", "4", "--threads", "1"]) == 0
    assert load_model(student)[3].encoder == str(encoder)
    other = tmp_path / "mlm_small_vocab"
    assert main(["pretrain", str(corpus), "-o", str(other), "--encoder", "tiny", "--vocab-size", "40",
                 "--max-steps", "1", "--batch-size", "4", "--threads", "1"]) == 0
    rc = main(["distill", "--teacher", str(teacher), "--corpus", str(corpus), "-o", str(tmp_path / "bad"),
               "--student-init", str(other), "--epochs", "1", "--threads", "1"])
    assert rc == 2

"""MLM pretraining: whole-word masking, loss goes down on a tiny model, resume, and the
checkpoint works as `polytag train --encoder`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from polytag.cli import main
from polytag.core.labels import IGNORE
from polytag.training.pretrain import Sequence, mask_whole_words, probe_loss

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma "
         "tau upsilon phi chi psi omega").split()


def test_whole_word_masking_rates_and_whole_words():
    rng = np.random.default_rng(0)
    cls, sep, pad, mask_id, vocab = 2, 3, 0, 4, 1000
    seqs = []
    for _ in range(400):
        n_words = int(rng.integers(5, 30))
        sizes = rng.integers(1, 4, n_words)  # 1-3 pieces per word
        starts = np.concatenate([[1], 1 + np.cumsum(sizes)[:-1]])
        ids = np.concatenate([[cls], rng.integers(10, vocab, int(sizes.sum())), [sep]])
        seqs.append(Sequence(ids, starts))
    batch = mask_whole_words(seqs, rng, mask_id, pad, vocab, [cls, sep, pad, mask_id])
    labels, inputs = batch["labels"].numpy(), batch["input_ids"].numpy()
    chosen = labels != IGNORE
    n_pieces = sum(len(s.ids) - 2 for s in seqs)
    assert 0.12 < chosen.sum() / n_pieces < 0.16  # 15%, never more (whole words that do not fit are skipped)
    for row, s in enumerate(seqs):
        assert not chosen[row, 0] and not chosen[row, len(s.ids) - 1]  # never [CLS]/[SEP]
        here = chosen[row, : len(s.ids)]
        assert (labels[row, : len(s.ids)][here] == s.ids[here]).all()  # labels are the original pieces
        ends = np.append(s.word_starts[1:], len(s.ids) - 1)
        for a, b in zip(s.word_starts, ends):  # a word is masked whole or not at all
            assert chosen[row, a:b].all() or not chosen[row, a:b].any()
    original = np.zeros_like(inputs)
    for row, s in enumerate(seqs):
        original[row, : len(s.ids)] = s.ids
    became_mask = (inputs[chosen] == mask_id).mean()
    kept = (inputs[chosen] == original[chosen]).mean()
    assert became_mask == pytest.approx(0.8, abs=0.04)
    assert kept == pytest.approx(0.1, abs=0.03)
    assert (inputs[~chosen] == original[~chosen]).all()  # nothing else changes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    rng = np.random.default_rng(1)
    # a learnable language: fixed phrases in random order
    phrases = [" ".join(WORDS[i : i + 4]) for i in range(0, len(WORDS), 4)]
    lines = [" ".join(rng.choice(phrases, 3)) for _ in range(300)]
    text = root / "xx.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = root / "corpus"
    assert main(["corpus", str(out), "--text", f"xx:{text}"]) == 0
    return root, out


def test_pretrain_lowers_mlm_loss_resumes_and_feeds_train(corpus, tmp_path):
    root, corpus_dir = corpus
    out = tmp_path / "mlm"
    common = ["pretrain", str(corpus_dir), "-o", str(out), "--encoder", "tiny", "--hidden", "64", "--heads", "2",
              "--vocab-size", "200", "--batch-size", "16", "--lr", "3e-3", "--log-every", "10", "--epochs", "100",
              "--threads", "1"]
    assert main([*common, "--max-steps", "1"]) == 0
    before = probe_loss(str(out), str(corpus_dir))
    assert main([*common, "--max-steps", "150", "--resume"]) == 0
    after = probe_loss(str(out), str(corpus_dir))
    state = torch.load(out / "checkpoint" / "state.pt", weights_only=False)["state"]
    assert state["step"] == 150  # resumed from step 1, not restarted
    assert before > math.log(50)  # about uniform over the vocabulary at the start
    assert after < before - 1.0, (before, after)
    # a Hugging Face checkpoint: polytag train fine-tunes it with its own tokenizer
    ud = root / "ud" / "UD_Xx-Tiny"
    ud.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, w in enumerate(WORDS[:8], 1):
        rows.append(f"{i}\t{w}\t_\t{'NOUN' if i % 2 else 'VERB'}\t_\t{'Number=Sing' if i % 2 else '_'}\t0\troot\t_\t_")
    (ud / "xx_tiny-ud-train.conllu").write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    tagger = tmp_path / "tagger"
    assert main(["train", str(root / "ud"), "-o", str(tagger), "--encoder", str(out), "--epochs", "1",
                 "--batch-size", "2", "--threads", "1"]) == 0
    assert (tagger / "model.safetensors").exists()

"""The Meta-LSTM baseline: character BiLSTM masking, the .vec reader, train/save/load/tag, evaluation."""

from __future__ import annotations

import gzip
import json
import lzma

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import polytag
from polytag.cli import main
from polytag.core.errors import InputError
from polytag.nn.meta_lstm import (
    META_PRESETS,
    BiLSTM,
    MetaVocab,
    collate_inputs,
    synthetic_parts,
)
from polytag.nn.model_io import load_model, save_model
from polytag.tagging.meta_lstm import MetaLSTMTagger, bench_system
from polytag.tagging.torch_backend import TorchBackend
from polytag.training.supervised import TrainConfig, factored_table, tagging_loss
from polytag.training.vectors import read_vectors

SENTENCES = [
    ("The dog runs .", "DET NOUN VERB PUNCT", ["Definite=Def", "Number=Sing", "Number=Sing|Tense=Pres", "_"]),
    ("A cat sleeps .", "DET NOUN VERB PUNCT", ["Definite=Ind", "Number=Sing", "Number=Sing|Tense=Pres", "_"]),
    ("The dogs run .", "DET NOUN VERB PUNCT", ["Definite=Def", "Number=Plur", "Number=Plur|Tense=Pres", "_"]),
    ("Cats sleep .", "NOUN VERB PUNCT", ["Number=Plur", "Number=Plur|Tense=Pres", "_"]),
    ("The cat ran home .", "DET NOUN VERB ADV PUNCT", ["Definite=Def", "Number=Sing", "Tense=Past", "_", "_"]),
    ("Dogs ran .", "NOUN VERB PUNCT", ["Number=Plur", "Tense=Past", "_"]),
]


def conllu(sentences) -> str:
    out = []
    for text, upos, feats in sentences:
        for i, (w, u, f) in enumerate(zip(text.split(), upos.split(), feats), 1):
            out.append(f"{i}\t{w}\t_\t{u}\t_\t{f}\t{0 if i == 1 else 1}\t{'root' if i == 1 else 'dep'}\t_\t_")
        out.append("")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def ud(tmp_path_factory):
    root = tmp_path_factory.mktemp("ud")
    (root / "UD_Xx-Tiny").mkdir()
    (root / "UD_Xx-Tiny" / "xx_tiny-ud-train.conllu").write_text(conllu(SENTENCES * 3), encoding="utf-8")
    (root / "UD_Xx-Tiny" / "xx_tiny-ud-dev.conllu").write_text(conllu(SENTENCES[:3]), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def trained(ud, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "meta"
    rc = main(["train", str(ud), "--arch", "meta-lstm", "--encoder", "tiny", "--epochs", "3",
               "--batch-size", "4", "--threads", "1", "--output", str(out)])
    assert rc == 0
    return out


# -- character BiLSTM and inputs --

def tiny_model():
    torch.manual_seed(0)
    model, vocab, labels = synthetic_parts("tiny", n_words=50, n_chars=60, n_bundles=20)
    return model.eval(), vocab, labels


def test_vocab_encode_positions_and_long_words():
    vocab = MetaVocab(words=["<pad>", "<unk>", "ab"], chars=["<pad>", "<unk>", " ", "a", "b"], max_word_chars=6)
    e = vocab.encode(["ab", "a", "zzzzzzzzzzab", ""])
    # " ab a zzzzab <unk> ": one SPACE before, between and after the words
    assert e.starts.tolist() == [1, 4, 6, 13]
    assert e.ends.tolist() == [2, 4, 11, 13]
    assert e.char_ids[6:12].tolist() == [1, 1, 1, 1, 3, 4]  # first 3 + last 3 characters kept
    assert e.char_ids[13] == 1  # an empty word still has one (unknown) character
    assert e.word_ids.tolist() == [2, 1, 1, 1]
    assert len(e.char_ids) == 15


def test_char_bilstm_shapes_and_masking():
    model, vocab, _ = tiny_model()
    short = ["A"]  # a word of length 1: its first and last character are the same
    long = ["B" * 5000, "A", "C"]  # a very long word is cut to max_word_chars
    h = model.char_lstm.hidden_size
    with torch.no_grad():
        alone = collate_inputs([vocab.encode(short)])
        both = collate_inputs([vocab.encode(short), vocab.encode(long)])
        feats_alone = model.char_words(alone["char_ids"], alone["char_lengths"], alone["word_starts"],
                                       alone["word_ends"])
        feats_both = model.char_words(both["char_ids"], both["char_lengths"], both["word_starts"],
                                      both["word_ends"])
        assert feats_alone.shape == (1, 1, 4 * h)
        assert feats_both.shape == (2, 3, 4 * h)
        # padding never changes a sentence's states (packed sequences), so batching is exact
        torch.testing.assert_close(feats_both[0, 0], feats_alone[0, 0])
        # for a one-character word, start and end states coincide in each direction
        torch.testing.assert_close(feats_alone[0, 0, :h], feats_alone[0, 0, h : 2 * h])
        assert torch.isfinite(feats_both).all()
        assert both["char_ids"].shape[1] == META_PRESETS["tiny"]["max_word_chars"] + 6
        out_alone = model(**alone)
        out_both = model(**both)
    assert out_both["upos"].shape == (4, 17)  # flat over the batch's real words
    torch.testing.assert_close(out_both["upos"][:1], out_alone["upos"])
    torch.testing.assert_close(out_both["factored"][:1], out_alone["factored"])


def test_bilstm_equals_packed_bidirectional_lstm():
    """Padding handled by per-sequence reversal gives exactly the packed nn.LSTM's states."""
    torch.manual_seed(0)
    ours = BiLSTM(5, 7, 2, dropout=0.0).eval()
    ref = torch.nn.LSTM(5, 7, 2, batch_first=True, bidirectional=True).eval()
    with torch.no_grad():
        for layer in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{layer}").copy_(getattr(ours.fw[layer], f"{name}_l0"))
                getattr(ref, f"{name}_l{layer}_reverse").copy_(getattr(ours.bw[layer], f"{name}_l0"))
        x = torch.randn(3, 9, 5)
        lengths = torch.tensor([9, 1, 4])
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        expected = pad_packed_sequence(ref(packed)[0], batch_first=True)[0]
        got = ours(x, lengths)
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(got[row, :n], expected[row, :n])


def test_a_few_steps_lower_the_three_losses():
    model, vocab, labels = tiny_model()
    model.train()
    table = factored_table(labels)
    words = [["A", "B", "C"], ["D", "E"]]
    batch = collate_inputs([vocab.encode(w) for w in words])
    batch["upos"] = torch.tensor([1, 2, 3, 4, 5])
    batch["bundle"] = torch.tensor([0, 1, 2, 3, -100])
    batch["factored"] = table[torch.where(batch["bundle"] < 0, len(table) - 1, batch["bundle"])]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss():
        out = model(**{k: batch[k] for k in batch if k not in ("upos", "bundle", "factored")}, parts=True)
        return [tagging_loss(out, batch), tagging_loss(out["char"], batch), tagging_loss(out["word"], batch)]

    torch.manual_seed(0)
    first = [x.item() for x in loss()]
    for _ in range(30):
        opt.zero_grad()
        sum(loss()).backward()
        opt.step()
    model.eval()
    last = [x.item() for x in loss()]
    assert all(b < a for a, b in zip(first, last)), (first, last)


def test_meta_inputs_are_detached():
    """The paper's synchronized training: the meta loss does not train the char/word models."""
    model, vocab, _ = tiny_model()
    batch = collate_inputs([vocab.encode(["A", "B"])])
    model(**batch)["upos"].sum().backward()
    assert model.char_lstm.fw[0].weight_ih_l0.grad is None and model.word_embed.weight.grad is None
    assert model.meta_lstm.fw[0].weight_ih_l0.grad is not None
    # --meta-training joint: the meta loss reaches the char and word models too
    model.zero_grad()
    model.meta_detach = False
    model(**batch)["upos"].sum().backward()
    assert model.char_lstm.fw[0].weight_ih_l0.grad.abs().sum() > 0
    assert model.word_embed.weight.grad.abs().sum() > 0


def test_meta_training_option(trained, ud, tmp_path, capsys):
    """--meta-training joint is saved with the model (continuing one trained synchronized);
    with the transformer it is a one-line error."""
    out = tmp_path / "joint"
    assert main(["train", str(ud), "--arch", "meta-lstm", "--init", str(trained), "--meta-training", "joint",
                 "--epochs", "1", "--batch-size", "4", "--threads", "1", "--output", str(out)]) == 0
    assert json.loads((trained / "config.json").read_text())["encoder_config"]["meta_detach"] is True
    assert json.loads((out / "config.json").read_text())["encoder_config"]["meta_detach"] is False
    assert load_model(out)[0].meta_detach is False
    capsys.readouterr()
    assert main(["train", str(ud), "--meta-training", "joint", "--output", str(tmp_path / "t")]) == 2
    assert "--meta-training is for --arch meta-lstm" in capsys.readouterr().err


# -- the .vec reader --

VEC = "3 2\nthe 0.1 0.2\ndog 1 -1\nruns 0.5 0.5\n"


@pytest.mark.parametrize("opener,suffix", [(open, ".vec"), (gzip.open, ".vec.gz"), (lzma.open, ".vec.xz")])
def test_read_vectors_header_and_compression(tmp_path, opener, suffix):
    path = tmp_path / f"v{suffix}"
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(VEC)
    words, matrix = read_vectors(path)
    assert words == ["the", "dog", "runs"]
    assert matrix.dtype == np.float32 and matrix.shape == (3, 2)
    np.testing.assert_allclose(matrix[1], [1, -1])


def test_read_vectors_without_header_keep_and_duplicates(tmp_path):
    path = tmp_path / "v.vec"
    path.write_text("the 0.1 0.2 0.3 \nnew\u00a0york 1 2 3\nthe 9 9 9\n\ndog 4 5 6\n", encoding="utf-8")
    words, matrix = read_vectors(path)
    assert words == ["the", "new\u00a0york", "dog"]  # trailing space and blank line ok; first duplicate wins
    np.testing.assert_allclose(matrix[0], [0.1, 0.2, 0.3], rtol=1e-6)
    words, _ = read_vectors(path, keep=lambda w, row: w == "dog")
    assert words == ["dog"]
    words, _ = read_vectors(path, max_rows=1)
    assert words == ["the"]


@pytest.mark.parametrize("text,where", [
    ("2 3\nthe 0.1 0.2 0.3\ndog 1 2\n", ":3: expected 3 values after the word, found 2 (the header says D=3)"),
    ("2 5\nthe 0.1 0.2\n", ":2: expected 5 values"),
    ("the 0.1 0.2\ndog 1 2 3\n", ":2: expected 2 values after the word, found 3 (the first row has 2)"),
    ("3 0\nthe\n", ":1: header must be 'N D'"),
    ("1 2 3\nthe 1 2\n", ":1: header must be 'N D'"),
    ("the 0.1 abc\n", ":1: non-numeric vector value"),
    ("", "no word vectors found"),
])
def test_read_vectors_bad_files(tmp_path, text, where):
    path = tmp_path / "bad.vec"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="bad.vec" + ".*" + where.replace("(", r"\(").replace(")", r"\)")):
        read_vectors(path)


def test_read_vectors_corrupt_archive(tmp_path):
    path = tmp_path / "v.vec.xz"
    path.write_bytes(b"not xz at all")
    with pytest.raises(InputError, match="cannot read word vectors"):
        read_vectors(path)


# -- train, save, load, tag, evaluate --

def test_tiny_model_trains_saves_loads_and_tags_identically(trained, tmp_path):
    assert (trained / "vocab.json").exists() and not (trained / "tokenizer").exists()
    config = json.loads((trained / "config.json").read_text())
    assert config["arch"] == "meta-lstm" and config["encoder_config"]["char_hidden"] == 8
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "dev_upos" in r] == [1, 2, 3]

    tagger = polytag.load(trained)
    assert isinstance(tagger, MetaLSTMTagger)
    sentences = [["The", "dog", "runs", "."], ["Unseen", "words", "here"], [], ["A"]]
    first = tagger.tag(sentences)
    assert [len(s) for s in first] == [4, 3, 0, 1]
    assert first[0][0]["form"] == "The" and first[0][0]["upos"] in tagger.labels.upos

    model, vocab, labels, _ = load_model(trained)
    save_model(tmp_path / "copy", model, vocab, labels)
    again = polytag.load(tmp_path / "copy")
    assert again.tag(sentences) == first
    for a, b in zip(tagger.logits(sentences, ("upos", "bundle", "factored")),
                    again.logits(sentences, ("upos", "bundle", "factored"))):
        for h in a:
            np.testing.assert_array_equal(a[h], b[h])
    # batching does not change predictions
    one_by_one = MetaLSTMTagger(TorchBackend(model), vocab, labels, model.config, batch_size=1)
    assert one_by_one.tag(sentences) == first


def test_shared_evaluation_and_tag_cli(trained, ud, tmp_path, capsys):
    dev = ud / "UD_Xx-Tiny" / "xx_tiny-ud-dev.conllu"
    out = tmp_path / "scores.json"
    assert main(["evaluate", "--model", str(trained), str(dev), "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert scores["files"]["xx_tiny-ud-dev"]["words"] == 12
    meta = json.loads((trained / "metadata.json").read_text())
    head = json.loads((trained / "config.json").read_text())["morph_decode"]
    assert scores["files"]["xx_tiny-ud-dev"]["upos"] == meta["dev"][head]["files"]["xx_tiny"]["upos"]
    capsys.readouterr()
    assert main(["tag", str(dev), "--model", str(trained)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 12 and all(len(line.split("\t")) == 10 for line in lines)


def test_missing_vocab_is_a_clear_error(trained, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    (broken / "vocab.json").unlink()
    assert main(["tag", "-", "--model", str(broken)]) == 2
    assert "missing vocab.json" in capsys.readouterr().err


def test_word_vectors_and_resume(ud, tmp_path):
    vec = tmp_path / "v.vec.gz"
    with gzip.open(vec, "wt", encoding="utf-8") as f:
        f.write("4 6\n")
        for i, w in enumerate(["the", "dog", "cat", "Paris"]):
            f.write(w + " " + " ".join(str((i + j) / 10) for j in range(6)) + "\n")
    out = tmp_path / "vec"
    args = ["train", str(ud), "--arch", "meta-lstm", "--encoder", "tiny", "--batch-size", "4", "--threads", "1",
            "--word-vectors", str(vec), "--output", str(out), "--checkpoint-every", "2"]
    assert main(args + ["--epochs", "1"]) == 0
    sizes = json.loads((out / "config.json").read_text())["encoder_config"]
    assert sizes["word_dim"] == 6 and sizes["vector_vocab"] == 2 + 4
    vocab = MetaVocab.load(out / "vocab.json")
    # "The" finds "the" lowercased; a word the file lacks gets the UNK row (the mean vector)
    assert vocab.encode(["The", "Paris", "zebra"]).vector_ids.tolist() == [2, 5, 1]
    model, *_ = load_model(out)
    np.testing.assert_allclose(model.vectors.weight[1].numpy(), model.vectors.weight[2:].mean(0).numpy(), rtol=1e-5)
    assert not model.vectors.weight.requires_grad
    # --resume continues from the checkpoint to the new number of epochs (train_config.json is reused)
    saved = json.loads((out / "train_config.json").read_text())
    saved["epochs"] = 2
    (out / "train_config.json").write_text(json.dumps(saved))
    assert main(["train", str(ud), "--output", str(out), "--resume"]) == 0
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs[-1] == 2 and TrainConfig.from_dict(saved).arch == "meta-lstm"


def test_bench_system(trained):
    tag, n_params = bench_system(threads=1, preset="tiny")
    assert n_params > 0 and len(tag([["w1", "w2"], ["w3"]])) == 2
    tag, n_params = bench_system(trained, threads=1)
    assert tag([["The", "dog"]])[0][1]["form"] == "dog"

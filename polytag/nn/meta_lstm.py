"""The Meta-LSTM baseline (Bohnet et al. 2018), the paper's comparison system.

Three BiLSTM taggers, each with its own softmax heads (UPOS + morphology as bundle and/or
factored, the same `Labels`, heads and `tagging_loss` as the transformer):

- character model: a sentence-level character BiLSTM. It runs over the characters of the
  whole sentence (words separated by a space symbol); a word is the concatenation of the
  forward and backward states at its first and at its last character (4 x hidden), then an
  MLP. So character features see the neighbouring words, as in the paper;
- word model: a BiLSTM over word embeddings: learned (lowercased words seen at least twice,
  others -> UNK), plus fixed pretrained vectors (`--word-vectors`) when given, summed;
- meta model: a BiLSTM over the concatenated outputs (MLP layers) of the two, then an MLP.

Training: one optimizer, the three losses summed, and the meta model's inputs detached
(`meta_detach`), so the character and word models learn only from their own loss and the
meta model learns to combine them: the paper's "synchronized" training, in which the meta
model is fed the other two models' outputs; with Adam's per-parameter updates and disjoint
parameters this equals three optimizers stepping together. `--meta-training joint` instead
lets the meta loss train the character and word models too (end to end). Predictions come
from the meta heads.

Sizes ("meta-lstm" preset) follow the config.json of the authors' code (google/meta_tagger):
character embeddings 100, word embeddings 100 (the vector file's dimension when pretrained
vectors are given), character BiLSTM 2 layers x 300 per direction, word BiLSTM 2 x 300, meta
BiLSTM 1 x 300, MLPs 300 (ELU), dropout 0.33 (0.05 on character embeddings), Adam lr 2e-3.
(The code's README says these are smaller than the paper's; its built-in defaults are 3
character layers and 500-unit word and meta BiLSTMs.)
Words longer than `max_word_chars` keep their first and last half of that many characters.

ONNX export is not implemented for this architecture; it runs with the PyTorch backend.
This module is the network and its vocabulary; tagging.meta_lstm serves it, training.meta_lstm trains it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from torch import nn

from ..core.errors import InputError
from ..core.folder import ModelConfig
from ..core.labels import Labels
from .heads import add_heads, head_logits

PAD, UNK, SPACE = 0, 1, 2  # ids shared by the word, vector and character vocabularies (SPACE: chars only)

META_PRESETS = {
    "meta-lstm": dict(char_dim=100, char_hidden=300, char_layers=2, word_dim=100, word_hidden=300,
                      word_layers=2, meta_hidden=300, meta_layers=1, mlp=300, char_dropout=0.05,
                      max_word_chars=32),
    # for tests and smoke runs
    "tiny": dict(char_dim=8, char_hidden=8, char_layers=1, word_dim=8, word_hidden=8, word_layers=1,
                 meta_hidden=8, meta_layers=1, mlp=8, char_dropout=0.05, max_word_chars=32),
}
INPUT_KEYS = ("word_ids", "vector_ids", "word_lengths", "char_ids", "char_lengths",
              "word_starts", "word_ends", "word_index")


# ---------------------------------------------------------------- vocabularies and inputs

@dataclass
class Encoded:
    """One sentence as model inputs."""

    word_ids: np.ndarray  # (n_words,)
    vector_ids: np.ndarray  # (n_words,) rows of the pretrained matrix (all UNK without one)
    char_ids: np.ndarray  # (n_chars,) " w1 w2 ... wn " with SPACE between words
    starts: np.ndarray  # (n_words,) position of each word's first character in char_ids
    ends: np.ndarray  # (n_words,) position of its last character


@dataclass
class MetaVocab:
    """Word, pretrained-vector and character vocabularies; saved as vocab.json."""

    words: list[str]  # learned embeddings: "<pad>", "<unk>", then words
    chars: list[str]  # "<pad>", "<unk>", " ", then characters
    vector_words: list[str] = field(default_factory=list)  # "<pad>", "<unk>", file words; [] = none
    lowercase: bool = True  # learned word embeddings are looked up lowercased (as the authors' code)
    max_word_chars: int = 32

    def __post_init__(self):
        self.word_id = {w: i for i, w in enumerate(self.words)}
        self.char_id = {c: i for i, c in enumerate(self.chars)}
        self.vector_id = {w: i for i, w in enumerate(self.vector_words)}
        self._char_cache: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(cls, sentences: Iterable[list[str]], min_count: int = 2, char_min_count: int = 2,
              lowercase: bool = True, max_word_chars: int = 32) -> "MetaVocab":
        """Words seen at least `min_count` times (so UNK is trained on the singletons);
        characters likewise. For multilingual training this is the union over treebanks."""
        words, chars = Counter(), Counter()
        for sentence in sentences:
            for w in sentence:
                words[w.lower() if lowercase else w] += 1
                chars.update(w)
        return cls(
            words=["<pad>", "<unk>"] + sorted(w for w, c in words.items() if c >= min_count),
            chars=["<pad>", "<unk>", " "] + sorted(ch for ch, c in chars.items() if c >= char_min_count and ch != " "),
            lowercase=lowercase, max_word_chars=max_word_chars,
        )

    def word_chars(self, word: str) -> list[int]:
        ids = self._char_cache.get(word)
        if ids is None:
            k = self.max_word_chars
            text = word if len(word) <= k else word[: k // 2] + word[-(k - k // 2):]
            ids = [self.char_id.get(ch, UNK) for ch in text] or [UNK]  # an empty word still gets a position
            if len(self._char_cache) > 500_000:
                self._char_cache = {}  # replaced, not cleared: other threads may be reading it
            self._char_cache[word] = ids
        return ids

    def encode(self, words: list[str]) -> Encoded:
        word_ids = [self.word_id.get(w.lower() if self.lowercase else w, UNK) for w in words]
        if self.vector_words:
            vid = self.vector_id
            vector_ids = [vid.get(w) or vid.get(w.lower(), UNK) for w in words]
        else:
            vector_ids = [UNK] * len(words)
        chars, starts, ends = [SPACE], [], []
        for w in words:
            ids = self.word_chars(w)
            starts.append(len(chars))
            chars += ids
            ends.append(len(chars) - 1)
            chars.append(SPACE)
        return Encoded(np.asarray(word_ids, dtype=np.int64), np.asarray(vector_ids, dtype=np.int64),
                       np.asarray(chars, dtype=np.int64), np.asarray(starts, dtype=np.int64),
                       np.asarray(ends, dtype=np.int64))

    def save(self, path) -> None:
        data = {"words": self.words, "chars": self.chars, "vector_words": self.vector_words,
                "lowercase": self.lowercase, "max_word_chars": self.max_word_chars}
        Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "MetaVocab":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as err:
            raise InputError(f"{path}: not a meta-lstm vocabulary ({err})") from None


def collate_inputs(encoded: list[Encoded]) -> dict[str, torch.Tensor]:
    """Pad a batch of sentences; `word_index` picks the real words out of (batch x max words)."""
    n_words = [len(e.word_ids) for e in encoded]
    n_chars = [len(e.char_ids) for e in encoded]
    rows, t, c = len(encoded), max(n_words), max(n_chars)
    word_ids = np.zeros((rows, t), dtype=np.int64)
    vector_ids = np.zeros((rows, t), dtype=np.int64)
    starts = np.zeros((rows, t), dtype=np.int64)
    ends = np.zeros((rows, t), dtype=np.int64)
    char_ids = np.zeros((rows, c), dtype=np.int64)
    for r, e in enumerate(encoded):
        word_ids[r, : n_words[r]] = e.word_ids
        vector_ids[r, : n_words[r]] = e.vector_ids
        starts[r, : n_words[r]] = e.starts
        ends[r, : n_words[r]] = e.ends
        char_ids[r, : n_chars[r]] = e.char_ids
    word_index = np.concatenate([np.arange(n) + r * t for r, n in enumerate(n_words)])
    return {
        "word_ids": torch.from_numpy(word_ids), "vector_ids": torch.from_numpy(vector_ids),
        "word_lengths": torch.tensor(n_words), "char_ids": torch.from_numpy(char_ids),
        "char_lengths": torch.tensor(n_chars), "word_starts": torch.from_numpy(starts),
        "word_ends": torch.from_numpy(ends), "word_index": torch.from_numpy(word_index),
    }


# ---------------------------------------------------------------- the network

class Heads(nn.Module):
    """UPOS, bundle and factored classifiers with the attribute names of TaggerModel, so that
    heads.head_logits (logits, factored value mask) is the one shared implementation."""

    def __init__(self, hidden: int, labels: Labels, config: ModelConfig):
        super().__init__()
        add_heads(self, hidden, labels, config)

    def forward(self, states: torch.Tensor, which=None) -> dict[str, torch.Tensor]:
        return head_logits(self, self.dropout(states), which)


class BiLSTM(nn.Module):
    """A multi-layer BiLSTM over right-padded batches, without packing: the forward direction
    meets the padding only after a sequence's end, and the backward direction runs over each
    sequence reversed within its own length, so padding never reaches a real position. Same
    result as packed sequences, whose backward pass is ~4x slower on CPU (measured)."""

    def __init__(self, size_in: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.hidden_size = hidden
        sizes = [size_in] + [2 * hidden] * (layers - 1)
        self.fw = nn.ModuleList(nn.LSTM(n, hidden, batch_first=True) for n in sizes)
        self.bw = nn.ModuleList(nn.LSTM(n, hidden, batch_first=True) for n in sizes)
        self.dropout = nn.Dropout(dropout)  # between layers

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, time, size_in), (batch,) -> (batch, time, 2 * hidden): forward states, then backward."""
        steps = torch.arange(x.size(1), device=x.device)
        lengths = lengths.to(x.device)[:, None]
        reverse = torch.where(steps < lengths, lengths - 1 - steps, steps)  # its own inverse

        def flip(y):
            return y.gather(1, reverse.unsqueeze(-1).expand_as(y))

        for layer, (fw, bw) in enumerate(zip(self.fw, self.bw)):
            if layer:
                x = self.dropout(x)
            x = torch.cat([fw(x)[0], flip(bw(flip(x))[0])], -1)
        return x


def mlp(dropout: float, size_in: int, size_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(size_in, size_out), nn.ELU())


class MetaLSTMModel(nn.Module):
    """config.encoder_config holds the sizes (a META_PRESETS entry) and the vocabulary sizes."""

    def __init__(self, config: ModelConfig, labels: Labels):
        super().__init__()
        self.config = config
        s = config.encoder_config
        d = config.dropout
        self.meta_detach = s.get("meta_detach", True)
        # character model
        self.char_embed = nn.Embedding(s["char_vocab"], s["char_dim"], padding_idx=PAD)
        self.char_dropout = nn.Dropout(s["char_dropout"])
        self.char_lstm = BiLSTM(s["char_dim"], s["char_hidden"], s["char_layers"], d)
        self.char_mlp = mlp(d, 4 * s["char_hidden"], s["mlp"])
        self.char_heads = Heads(s["mlp"], labels, config)
        # word model
        self.word_embed = nn.Embedding(s["word_vocab"], s["word_dim"], padding_idx=PAD)
        self.vectors = None
        if s.get("vector_vocab"):
            self.vectors = nn.Embedding(s["vector_vocab"], s["word_dim"], padding_idx=PAD)
            self.vectors.weight.requires_grad_(False)  # fixed, as in the paper
            nn.init.zeros_(self.word_embed.weight)  # the learned part starts as a correction to them
        self.word_dropout = nn.Dropout(d)
        self.word_lstm = BiLSTM(s["word_dim"], s["word_hidden"], s["word_layers"], d)
        self.word_mlp = mlp(d, 2 * s["word_hidden"], s["mlp"])
        self.word_heads = Heads(s["mlp"], labels, config)
        # meta model
        self.meta_dropout = nn.Dropout(d)
        self.meta_lstm = BiLSTM(2 * s["mlp"], s["meta_hidden"], s["meta_layers"], d)
        self.meta_mlp = mlp(d, 2 * s["meta_hidden"], s["mlp"])
        self.meta_heads = Heads(s["mlp"], labels, config)

    def set_vectors(self, matrix: np.ndarray) -> None:
        with torch.no_grad():
            self.vectors.weight.copy_(torch.from_numpy(matrix))

    def char_words(self, char_ids, char_lengths, word_starts, word_ends) -> torch.Tensor:
        """(batch, words, 4 * char_hidden): forward and backward states at each word's first
        and last character of the sentence-level character BiLSTM."""
        states = self.char_lstm(self.char_dropout(self.char_embed(char_ids)), char_lengths)
        h = self.char_lstm.hidden_size
        fw, bw = states[..., :h], states[..., h:]

        def at(x, index):
            return x.gather(1, index.unsqueeze(-1).expand(-1, -1, h))

        return torch.cat([at(fw, word_starts), at(fw, word_ends), at(bw, word_starts), at(bw, word_ends)], -1)

    def forward(self, word_ids, word_lengths, char_ids, char_lengths, word_starts, word_ends, word_index,
                vector_ids=None, parts: bool = False) -> dict:
        """Meta logits flat over the batch's words: (n_words, classes); with `parts`, also
        out["char"] and out["word"], the two sub-models' logits, for their losses."""
        char_feats = self.char_mlp(self.char_words(char_ids, char_lengths, word_starts, word_ends))
        embedded = self.word_embed(word_ids)
        if self.vectors is not None and vector_ids is not None:
            embedded = embedded + self.vectors(vector_ids)
        word_feats = self.word_mlp(self.word_lstm(self.word_dropout(embedded), word_lengths))
        joint = torch.cat([char_feats, word_feats], -1)
        if self.meta_detach:
            joint = joint.detach()
        meta_feats = self.meta_mlp(self.meta_lstm(self.meta_dropout(joint), word_lengths))

        def flat(x):
            return x.flatten(0, 1).index_select(0, word_index)

        out = self.meta_heads(flat(meta_feats))
        if parts:
            out["char"] = self.char_heads(flat(char_feats))
            out["word"] = self.word_heads(flat(word_feats))
        return out


# ---------------------------------------------------------------- benchmarking

def synthetic_parts(preset: str = "meta-lstm", n_words: int = 50_000, n_chars: int = 300,
                    n_bundles: int = 1000) -> tuple[MetaLSTMModel, MetaVocab, Labels]:
    """An untrained model of a preset's sizes with made-up vocabularies: for speed only
    (tagging cost depends on the sizes, not on the weights)."""
    labels = Labels.build(f"F{i % 23}=v{i % 5}|G{i % 11}=w{i % 3}|H{i % 7}=x{i // 385}" for i in range(n_bundles))
    vocab = MetaVocab(words=["<pad>", "<unk>"] + [f"w{i}" for i in range(n_words)],
                      chars=["<pad>", "<unk>", " "] + [chr(0x41 + i) for i in range(n_chars)])
    sizes = {**META_PRESETS[preset], "char_vocab": len(vocab.chars), "word_vocab": len(vocab.words),
             "vector_vocab": 0}
    config = ModelConfig(encoder=preset, encoder_config=sizes, max_len=0, dropout=0.33,
                         morph_heads=["bundle", "factored"], morph_decode="bundle", arch="meta-lstm")
    return MetaLSTMModel(config, labels).eval(), vocab, labels

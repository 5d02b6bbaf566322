"""Training the Meta-LSTM baseline (network: polytag.nn.meta_lstm) with the supervised task:
its own model, inputs and summed three-part loss; data loading, mixing, the loop (schedule,
checkpoints, --resume), dev evaluation and saving are shared with the transformer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import InputError
from ..core.folder import ModelConfig
from ..core.labels import Labels
from ..nn.meta_lstm import (
    INPUT_KEYS,
    META_PRESETS,
    Encoded,
    MetaLSTMModel,
    MetaVocab,
    collate_inputs,
)
from ..tagging.meta_lstm import MetaLSTMTagger
from ..tagging.tagger import Tagger
from ..tagging.torch_backend import TorchBackend
from .loop import read_checkpoint
from .supervised import Trainer, factored_table, tagging_loss
from .vectors import read_vectors

# TrainConfig values that differ from the transformer's (the CLI applies them for --arch meta-lstm)
# the authors' code: Adam at 2e-3 without warmup (the gradient clipping at 5 is our choice)
TRAIN_DEFAULTS = dict(encoder="meta-lstm", lr=2e-3, dropout=0.33, warmup=0.0, weight_decay=0.0, clip=5.0)
VECTORS_TOP = 100_000  # pretrained rows kept besides those of training words (the file's most frequent)

@dataclass
class MetaExample:
    treebank: str
    inputs: Encoded
    upos: np.ndarray
    bundle: np.ndarray


def collate_training(examples: list[MetaExample], table: torch.Tensor) -> dict[str, torch.Tensor]:
    batch = collate_inputs([e.inputs for e in examples])
    bundle = torch.from_numpy(np.concatenate([e.bundle for e in examples]))
    batch["upos"] = torch.from_numpy(np.concatenate([e.upos for e in examples]))
    batch["bundle"] = bundle
    batch["factored"] = table[torch.where(bundle < 0, len(table) - 1, bundle)]
    return batch


def load_vectors(vocab: MetaVocab, path: str, train_words: set[str], top: int = VECTORS_TOP) -> np.ndarray:
    """Read `path` into vocab.vector_words; -> matrix with rows PAD (zeros), UNK (the mean
    vector: out-of-vocabulary words map to it), then the kept words: those of the training
    data (as written or lowercased) and the file's first `top` rows."""
    wanted = train_words | {w.lower() for w in train_words}
    words, matrix = read_vectors(path, keep=lambda w, row: row < top or w in wanted)
    if not words:
        raise InputError(f"{path}: no word vectors could be read")
    dim = matrix.shape[1]
    vocab.vector_words = ["<pad>", "<unk>"] + words
    vocab.__post_init__()
    print(f"{path}: {len(words):,} word vectors of dimension {dim}")
    return np.vstack([np.zeros((1, dim), np.float32), matrix.mean(0, keepdims=True), matrix])


class MetaLSTMTrainer(Trainer):
    """train.Trainer with the Meta-LSTM's model, inputs and summed three-part loss; data
    loading, mixing, schedule, checkpoints, --resume, dev evaluation and saving are shared."""

    def build_model(self, resume: bool):
        cfg = self.cfg
        if cfg.meta_training not in ("synchronized", "joint"):
            raise InputError(f"--meta-training {cfg.meta_training!r}: synchronized or joint")
        meta_detach = cfg.meta_training == "synchronized"
        if (resume and read_checkpoint(self.ckpt_dir, self.name) is not None) or cfg.init:
            model, vocab, labels = super().build_model(resume)
            if model.config.arch != "meta-lstm":
                raise InputError(f"{cfg.init}: --arch meta-lstm needs a meta-lstm model folder to start from")
            model.meta_detach = model.config.encoder_config["meta_detach"] = meta_detach
            return model, vocab, labels
        preset = "meta-lstm" if cfg.encoder in ("minibert", "meta-lstm") else cfg.encoder
        if preset not in META_PRESETS:
            raise InputError(f"--encoder {cfg.encoder!r}: for --arch meta-lstm one of {', '.join(META_PRESETS)}")
        heads = [h.strip() for h in cfg.morph_heads.split(",") if h.strip()]
        labels = Labels.build(f for sents in self.train.values() for s in sents for f in s.feats)
        sizes = dict(META_PRESETS[preset])
        vocab = MetaVocab.build((s.words for sents in self.train.values() for s in sents),
                                max_word_chars=sizes["max_word_chars"])
        matrix = None
        if cfg.word_vectors:
            train_words = {w for sents in self.train.values() for s in sents for w in s.words}
            matrix = load_vectors(vocab, cfg.word_vectors, train_words)
            sizes["word_dim"] = matrix.shape[1]  # learned and pretrained embeddings are summed
        sizes.update(char_vocab=len(vocab.chars), word_vocab=len(vocab.words),
                     vector_vocab=len(vocab.vector_words), meta_detach=meta_detach)
        mcfg = ModelConfig(
            encoder=preset, encoder_config=sizes, max_len=0, dropout=cfg.dropout, morph_heads=heads,
            morph_decode=heads[0] if cfg.morph_decode == "auto" else cfg.morph_decode, arch="meta-lstm",
        )
        model = MetaLSTMModel(mcfg, labels)
        if matrix is not None:
            model.set_vectors(matrix)
        print(f"meta-lstm: {len(vocab.words):,} words, {len(vocab.chars):,} characters, "
              f"{len(vocab.vector_words):,} pretrained vectors")
        return model, vocab, labels

    def encode(self, vocab: MetaVocab, labels: Labels):
        examples = [
            MetaExample(tb_id, vocab.encode(s.words),
                        np.asarray(labels.encode_upos(s.upos), dtype=np.int64),
                        np.asarray(labels.encode_bundles(s.feats), dtype=np.int64))
            for tb_id, sents in self.train.items() for s in sents
        ]
        lengths = np.array([len(e.inputs.char_ids) for e in examples])
        table = factored_table(labels)
        return examples, lengths, lambda part: collate_training(part, table)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self.model(**{k: batch[k] for k in INPUT_KEYS}, parts=True)
        return {"loss": tagging_loss(out, batch) + tagging_loss(out["char"], batch) + tagging_loss(out["word"], batch)}

    def make_tagger(self, model, vocab: MetaVocab, labels: Labels) -> Tagger:
        return MetaLSTMTagger(TorchBackend(model, self.device), vocab, labels, model.config, self.cfg.eval_batch_size)

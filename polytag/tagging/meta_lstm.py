"""Serving a Meta-LSTM model folder (the network is polytag.nn.meta_lstm): whole sentences, no
encoder windows, no wordpieces; PyTorch only (no ONNX export for this architecture)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..core.errors import InputError, check_positive
from ..core.labels import Labels
from ..nn.meta_lstm import MetaVocab, collate_inputs, synthetic_parts
from ..nn.model_io import load_model
from ..nn.transformer import count_parameters
from .tagger import X_INDEX_NAME, Tagger
from .torch_backend import TorchBackend


class MetaLSTMTagger(Tagger):
    """Tagger for a meta-lstm model: whole sentences (no encoder windows), no wordpieces."""

    def __init__(self, backend, vocab: MetaVocab, labels: Labels, config, batch_size: int = 64,
                 morph: str | None = None):
        # Tagger.__init__ is not called: it builds wordpieces from a Hugging Face tokenizer
        self.backend = backend
        self.labels = labels
        self.config = config
        self.batch_size = check_positive("batch_size", batch_size)  # sentences per batch
        self.morph = morph or config.morph_decode
        if self.morph not in config.morph_heads:
            raise ValueError(f"model has no {self.morph!r} morphology head (has {config.morph_heads})")
        self.tokenizer = self.vocab = vocab
        self._lock = threading.Lock()
        self.x_id = labels.upos.index(X_INDEX_NAME)

    def logits(self, sentences: list[list[str]], heads: tuple[str, ...]) -> list[dict[str, np.ndarray]]:
        """Per sentence, per head: (n_words, ...) logits, in input order."""
        result: list[dict] = [{} for _ in sentences]
        order = sorted(range(len(sentences)), key=lambda i: sum(len(w) + 1 for w in sentences[i]))
        for b in range(0, len(order), self.batch_size):
            rows = order[b : b + self.batch_size]
            # an empty sentence is run as one placeholder word whose logits are dropped
            encoded = [self.vocab.encode(sentences[i] or ["_"]) for i in rows]
            out = self.backend(collate_inputs(encoded), heads)
            start = 0
            for i, e in zip(rows, encoded):
                n = len(sentences[i])
                result[i] = {h: out[h][start : start + n] for h in heads}
                start += len(e.word_ids)
        return result


def bench_system(model: str | Path | None = None, threads: int = 1, batch_size: int = 32,
                 preset: str = "meta-lstm") -> tuple[Callable[[list[list[str]]], list], int]:
    """For `polytag bench`: -> (tag, parameter count); tag(list of word lists) tags them
    (Tagger.tag output). `model`: a meta-lstm model folder; None: an untrained model of the
    preset's sizes (see synthetic_parts). `batch_size`: sentences per forward pass."""
    torch.set_num_threads(threads)
    if model is not None:
        net, vocab, labels, config = load_model(model)
        if config.arch != "meta-lstm":
            raise InputError(f"{model}: not a meta-lstm model folder")
    else:
        net, vocab, labels = synthetic_parts(preset)
    tagger = MetaLSTMTagger(TorchBackend(net), vocab, labels, net.config, batch_size)
    return tagger.tag, count_parameters(net)

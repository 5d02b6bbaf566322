"""Inference: `Tagger` turns lists of words into UPOS and FEATS.

Sentences are cut into encoder windows, windows are sorted by length and batched
(so padding is small), run through a backend (PyTorch here; ONNX Runtime in
`polytag.onnx_backend`), and predictions are put back in input order.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from .conllu_io import Sentence
from .encoding import Chunk, WordPieces, collate, make_chunks
from .labels import Labels
from .model_folder import load_model

X_INDEX_NAME = "X"


class TorchBackend:
    """Runs the PyTorch model; returns per-word logits as numpy arrays."""

    name = "torch"

    def __init__(self, model, device: str = "cpu"):
        self.model = model
        self.device = device

    def __call__(self, batch: dict[str, torch.Tensor], heads: tuple[str, ...]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            batch = {k: v.to(self.device) for k, v in batch.items()}
            out = self.model(**batch)
            return {k: out[k].float().cpu().numpy() for k in heads}


class Tagger:
    def __init__(self, backend, tokenizer, labels: Labels, config, batch_size: int = 64, morph: str | None = None):
        self.backend = backend
        self.labels = labels
        self.config = config
        self.batch_size = batch_size
        self.morph = morph or config.morph_decode
        if self.morph not in config.morph_heads:
            raise ValueError(f"model has no {self.morph!r} morphology head (has {config.morph_heads})")
        self.wordpieces = WordPieces(tokenizer)
        self.tokenizer = tokenizer
        self._lock = threading.Lock()  # the wordpiece cache is shared between threads
        self.x_id = labels.upos.index(X_INDEX_NAME)

    @classmethod
    def load(cls, folder, device: str = "cpu", batch_size: int = 64, backend: str = "auto",
             threads: int | None = None, morph: str | None = None) -> "Tagger":
        folder = Path(folder)
        if threads:
            torch.set_num_threads(threads)
        onnx_file = folder / "model.onnx"
        if backend == "onnx" or (backend == "auto" and onnx_file.exists() and device == "cpu"):
            from .onnx_backend import OnnxBackend, load_onnx_parts  # noqa: PLC0415 - optional path

            tokenizer, labels, config = load_onnx_parts(folder)
            return cls(OnnxBackend(folder, threads=threads), tokenizer, labels, config, batch_size, morph)
        model, tokenizer, labels, config = load_model(folder, device)
        return cls(TorchBackend(model, device), tokenizer, labels, config, batch_size, morph)

    # -- core --
    def _chunks(self, sentences: list[list[str]]) -> list[Chunk]:
        with self._lock:
            return make_chunks(self.wordpieces, sentences, self.config.max_len, overlap=True)

    def logits(self, sentences: list[list[str]], heads: tuple[str, ...]) -> list[dict[str, np.ndarray]]:
        """Per sentence, per head: (n_words, ...) logits, in input order."""
        chunks = self._chunks(sentences)
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].input_ids))
        result = [
            {h: None for h in heads} for _ in sentences
        ]
        parts: list[list[tuple[int, dict]]] = [[] for _ in sentences]
        for b in range(0, len(order), self.batch_size):
            batch_chunks = [chunks[i] for i in order[b : b + self.batch_size]]
            out = self.backend(collate(batch_chunks, self.wordpieces.pad_id), heads)
            start = 0
            for c in batch_chunks:
                n = len(c.first)
                own_s, own_e = c.own
                parts[c.sentence].append(
                    (c.offset + own_s, {h: out[h][start + own_s : start + own_e] for h in heads})
                )
                start += n
        for si, pieces in enumerate(parts):
            pieces.sort(key=lambda p: p[0])
            for h in heads:
                result[si][h] = np.concatenate([p[1][h] for p in pieces])
        return result

    def predict(self, sentences: list[list[str]], x_second_best: bool = False, morph: str | None = None):
        """-> (upos per sentence, feats per sentence)."""
        morph = morph or self.morph
        if not sentences:
            return [], []
        per_sentence = self.logits(sentences, ("upos", morph))
        lengths = [len(s) for s in sentences]
        upos_logits = np.concatenate([p["upos"] for p in per_sentence])
        morph_logits = np.concatenate([p[morph] for p in per_sentence])
        upos_ids = self.decide_upos(upos_logits, x_second_best)
        upos = self.labels.decode_upos(upos_ids)
        if morph == "bundle":
            feats = self.labels.decode_bundles(morph_logits.argmax(-1))
        else:
            feats = self.labels.decode_factored(morph_logits.argmax(-1))
        bounds = np.cumsum([0] + lengths)
        return (
            [upos[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
            [feats[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
        )

    def decide_upos(self, logits: np.ndarray, x_second_best: bool) -> np.ndarray:
        """argmax; with x_second_best, words whose best label is X get their second best
        (the paper's rule for code-mixed text)."""
        if not x_second_best:
            return logits.argmax(-1)
        top2 = np.argsort(-logits, axis=-1)[:, :2]
        return np.where(top2[:, 0] == self.x_id, top2[:, 1], top2[:, 0])

    # -- conveniences --
    def tag(self, sentences: list[list[str]], x_second_best: bool = False) -> list[list[dict]]:
        """[["Das", "ist", "gut", "."]] -> [[{"form": "Das", "upos": "PRON", "feats": "..."}...]]"""
        if isinstance(sentences, (str, bytes)) or (sentences and isinstance(sentences[0], str)):
            raise TypeError("tag() takes a list of sentences, each a list of words")
        upos, feats = self.predict([list(s) for s in sentences], x_second_best)
        return [
            [{"form": w, "upos": u, "feats": f} for w, u, f in zip(words, us, fs)]
            for words, us, fs in zip(sentences, upos, feats)
        ]

    def tag_stream(
        self, sentences: Iterable[Sentence], x_second_best: bool = False, chunk_sentences: int = 2048,
        on_progress: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[Sentence, list[str], list[str]]]:
        """Tag a stream in chunks. If the input raises part-way (bad line), every sentence
        read before the bad one is tagged and yielded first, then the error propagates."""
        iterator = iter(sentences)
        while True:
            pending: list[Sentence] = []
            done, error = False, None
            try:
                while len(pending) < chunk_sentences:
                    pending.append(next(iterator))
            except StopIteration:
                done = True
            except Exception as err:  # noqa: BLE001 - re-raised below, after flushing
                done, error = True, err
            if pending:
                upos, feats = self.predict([s.words for s in pending], x_second_best)
                yield from zip(pending, upos, feats)
                if on_progress:
                    on_progress(len(pending))
            if error is not None:
                raise error
            if done:
                return

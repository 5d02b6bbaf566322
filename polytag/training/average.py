"""Weight averaging ("model soup", Wortsman et al. 2022): one model whose weights are the mean of
several transformer runs that continued from one shared model (`polytag train --init`).

Runs fine-tuned from a shared start stay in one basin of the loss, where the mean of their
weights often generalises better than each run; the result is one model of the same size and
speed. Averaging unrelated runs (different starts) gives a broken model: check it on dev.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import torch

from ..core.errors import InputError
from ..core.folder import ModelConfig, git_commit, init_history, share_history
from ..nn.model_io import load_model, save_model
from ..nn.transformer import TaggerModel, count_parameters


def normalised_weights(weights: list[float] | None, n: int) -> list[float]:
    """Equal weights by default; given ones must be n positive numbers (scaled to sum to 1)."""
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n or any(not w > 0 for w in weights):
        raise InputError(f"--weights: give {n} positive numbers, one per folder (got {weights})")
    return [w / sum(weights) for w in weights]


def weighted_mean(template: dict, states: list[dict], shares: list[float], absent: str = "zero") -> dict:
    """The shares-weighted mean of state dicts, for each name of `template` (the new model's).
    A name a state lacks counts as zeros (absent="zero": a tagger without a character CNN is one
    whose CNN is zero) or is left out of that name's mean (absent="skip": a segmenter's hint
    vectors, learned against their own net, stay whole)."""
    mean = {}
    for name, value in template.items():
        have = [(w, s[name].float()) for w, s in zip(shares, states) if name in s]
        if absent == "zero":
            mean[name] = sum(w * t for w, t in have) if have else torch.zeros_like(value, dtype=torch.float)
        else:
            mean[name] = sum(w * t for w, t in have) / sum(w for w, _ in have)
        mean[name] = mean[name].to(value.dtype)
    return mean


def average_models(folders: list[str | Path], weights: list[float] | None = None):
    """-> (model, tokenizer, labels, metadata) with the (weighted) mean of the folders' weights.

    The folders must share vocabulary, labels and encoder shape. A first-piece model is a
    first+last model whose last-piece projection is zero, so the two poolings average exactly;
    likewise a model without a character CNN is one whose CNN projection is zero. (Two runs that
    each added their own, randomly initialised, CNN share no filters: their mean is worse than
    either, 90.79/85.82 against 90.93/85.95 and 90.94/85.96 on dev; see the README.)
    Morphology heads: those every folder has."""
    if len(folders) < 2:
        raise InputError("polytag average: give at least two model folders")
    loaded = [load_model(f) for f in folders]
    _, tokenizer, labels, base = loaded[0]
    for folder, (_, tok, lab, cfg) in zip(folders[1:], loaded[1:]):
        if cfg.arch != "transformer" or base.arch != "transformer":
            raise InputError(f"{folder}: polytag average is for transformer models")
        if cfg.encoder_config != base.encoder_config:
            raise InputError(f"{folder}: encoder shape differs from {folders[0]}")
        if tok.get_vocab() != tokenizer.get_vocab():
            raise InputError(f"{folder}: vocabulary differs from {folders[0]}")
        if (lab.upos, lab.bundles, lab.features) != (labels.upos, labels.bundles, labels.features):
            raise InputError(f"{folder}: label inventory differs from {folders[0]}")
        if cfg.treebank_hints != base.treebank_hints:
            raise InputError(f"{folder}: treebank hints differ from {folders[0]}")
    heads = [h for h in base.morph_heads if all(h in m[3].morph_heads for m in loaded)]
    if not heads:
        raise InputError("polytag average: the models share no morphology head")
    pooling = "first+last" if any(m[3].word_pooling == "first+last" for m in loaded) else "first"
    config = ModelConfig(
        encoder=base.encoder, encoder_config=base.encoder_config, max_len=base.max_len, dropout=base.dropout,
        morph_heads=heads, morph_decode=base.morph_decode if base.morph_decode in heads else heads[0],
        word_pooling=pooling, word_chars=max(m[3].word_chars for m in loaded),
        treebank_hints=list(base.treebank_hints),  # the hint table is averaged like any weight
    )
    model = TaggerModel(config, labels)
    states = [m[0].state_dict() for m in loaded]
    model.load_state_dict(weighted_mean(model.state_dict(), states, normalised_weights(weights, len(folders))))
    model.eval()
    metadata = {
        "polytag_commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": 0.0,
        "parameters": count_parameters(model),
        "averaged_from": share_history([{"folder": str(f), **(init_history(f) or {})} for f in folders]),
        **({"average_weights": normalised_weights(weights, len(folders))} if weights else {}),
    }
    # the data description of the first run (the runs share labels, so they share the data's inventory)
    try:
        first = json.loads((Path(folders[0]) / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        first = {}
    metadata.update({k: first[k] for k in ("device", "treebanks", "train_words") if k in first})
    return model, tokenizer, labels, metadata


def write_average(folders: list[str | Path], output: str | Path, weights: list[float] | None = None) -> dict:
    model, tokenizer, labels, metadata = average_models(folders, weights)
    save_model(output, model, tokenizer, labels, metadata)
    return metadata

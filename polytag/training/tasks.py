"""`train(cfg)`: the supervised trainer for the config's architecture, from a registry; and the
checks that turn command-line values into a TrainConfig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..core.encoding import check_word_chars
from ..core.errors import InputError
from .supervised import TrainConfig, Trainer


def _meta_lstm_trainer() -> type:
    from .meta_lstm import MetaLSTMTrainer  # noqa: PLC0415 - the baseline is optional

    return MetaLSTMTrainer


# architecture (--arch) -> the trainer class
TRAINERS: dict[str, Callable[[], type]] = {"transformer": lambda: Trainer, "meta-lstm": _meta_lstm_trainer}


def train(cfg: TrainConfig, resume: bool = False) -> dict:
    if cfg.arch not in TRAINERS:
        raise InputError(f"unknown --arch {cfg.arch!r} ({' or '.join(TRAINERS)})")
    return TRAINERS[cfg.arch]()(cfg).run(resume)


# options only one architecture reads
TRANSFORMER_ONLY = ("word_pooling", "wordpiece_dropout", "word_chars", "freeze_embeddings", "treebank_hint_dropout",
                    "hints_only", "lowercase_share", "soft_temperature")


def train_config(values: dict, resume: bool) -> TrainConfig:
    """A TrainConfig from command-line values (None = not given), checked; on --resume, the run's
    saved config, except for the machine it now runs on and, when given, a longer budget
    (--epochs, --max-minutes: the LR schedule then stretches to the new end)."""
    if values.get("arch") == "meta-lstm":
        from .meta_lstm import TRAIN_DEFAULTS  # noqa: PLC0415

        for option in TRANSFORMER_ONLY:
            if option in values:
                flag = "--" + option.replace("_", "-")
                raise InputError(f"{flag} is for transformer models; a Meta-LSTM reads whole words")
        values = {**TRAIN_DEFAULTS, **values}  # the baseline's own lr, dropout, ... unless given
    elif "meta_training" in values and not resume:
        raise InputError("--meta-training is for --arch meta-lstm")
    if values.get("eval_every", 1) < 1:
        raise InputError(f"--eval-every must be at least 1, not {values['eval_every']}")
    if values.get("word_chars"):
        try:
            check_word_chars(values["word_chars"])
        except ValueError as err:
            raise InputError(f"--word-chars: {err}") from None
    saved = Path(values["output"]) / "train_config.json"
    if resume and saved.exists():
        values = {**json.loads(saved.read_text(encoding="utf-8")),
                  **{k: v for k, v in values.items() if k in ("output", "device", "threads", "epochs", "max_minutes")}}
    return TrainConfig.from_dict(values)

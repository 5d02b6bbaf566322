"""Training configs from command-line values, and what a resumed run may change."""

from __future__ import annotations

import json
from dataclasses import asdict

from polytag.training.supervised import TrainConfig
from polytag.training.tasks import train_config


def test_resume_keeps_the_saved_options_but_takes_a_longer_budget_and_the_machine(tmp_path):
    saved = TrainConfig(data="ud", output=str(tmp_path), lr=5e-5, epochs=2, max_minutes=125, threads=1)
    (tmp_path / "train_config.json").write_text(json.dumps(asdict(saved)), encoding="utf-8")
    given = {"data": "ud", "output": str(tmp_path), "lr": 1.0, "epochs": 3, "max_minutes": 190, "threads": 2}
    resumed = train_config(given, resume=True)
    assert (resumed.lr, resumed.epochs, resumed.max_minutes, resumed.threads) == (5e-5, 3, 190, 2)
    untouched = train_config({"data": "ud", "output": str(tmp_path)}, resume=True)
    assert (untouched.epochs, untouched.max_minutes) == (2, 125)

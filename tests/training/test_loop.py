"""The one training loop, on a toy task: resume is exact, one checkpoint format, the schedule."""

from __future__ import annotations

import json

import pytest
import torch

from polytag.core.errors import InputError
from polytag.training.loop import STATE_FILE, Loop, LoopSettings, Task, read_checkpoint


class Regression(Task):
    """y = x @ w on fixed random data, 6 batches an epoch (batch order depends on the epoch)."""

    name = "toy"

    def __init__(self, stop_after: int | None = None, accumulate: int = 1):
        torch.manual_seed(0)
        self.model = torch.nn.Linear(4, 1)
        gen = torch.Generator().manual_seed(1)
        self.x = torch.randn(24, 4, generator=gen)
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        self.stop_after, self.calls, self.saved_models, self.epochs_seen = stop_after, 0, 0, []
        self.accumulate = accumulate

    def epoch_steps_estimate(self) -> int:
        return -(-6 // self.accumulate)

    def batches(self, epoch, skip):
        order = torch.randperm(24, generator=torch.Generator().manual_seed(epoch)).view(6, 4)
        for rows in order[skip:]:
            yield rows

    def loss(self, rows):
        self.calls += 1
        if self.stop_after is not None and self.calls > self.stop_after:
            raise KeyboardInterrupt
        # dropout-like noise from torch's RNG: resuming must restore the RNG state too
        noise = torch.rand(1) * 1e-3
        return {"loss": ((self.model(self.x[rows]) - self.y[rows]) ** 2).mean() + noise.sum()}

    def save_checkpoint_model(self, folder, loop):
        self.saved_models += 1
        torch.save(self.model.state_dict(), folder / "toy.pt")

    def after_epoch(self, epoch, loop):
        self.epochs_seen.append(epoch)


SETTINGS = LoopSettings(epochs=3, lr=0.05, warmup=0.2, checkpoint_every=2, log_every=1)


def test_resume_mid_epoch_gives_the_weights_of_a_straight_run(tmp_path):
    straight = Regression()
    Loop(straight, SETTINGS, tmp_path / "a", "cpu").run()
    interrupted = Regression(stop_after=9)  # epoch 2, batch 4: the last checkpoint is at step 8
    with pytest.raises(KeyboardInterrupt):
        Loop(interrupted, SETTINGS, tmp_path / "b", "cpu").run()
    resumed = Regression()
    resumed.model.load_state_dict(torch.load(tmp_path / "b" / "checkpoint" / "toy.pt"))
    state = Loop(resumed, SETTINGS, tmp_path / "b", "cpu").run(resume=True)
    assert state["step"] == 18 and state["epoch"] == 3
    assert resumed.epochs_seen == [2, 3]
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    records = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 19))
    assert records[-1]["loss"] < records[0]["loss"]


def test_accumulation_and_warmup_and_decay(tmp_path):
    task = Regression(accumulate=4)
    loop = Loop(task, LoopSettings(epochs=2, lr=0.1, warmup=0.5, accumulate=4, log_every=1), tmp_path, "cpu")
    state = loop.run()
    assert state["step"] == 4  # 6 batches in steps of 4: 2 steps an epoch, the second one incomplete
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lrs[0] < lrs[1] and lrs[1] > lrs[2] > lrs[3]  # up for half the steps, then down


def test_a_time_budget_stops_after_one_step(tmp_path):
    task = Regression()
    state = Loop(task, LoopSettings(epochs=50, lr=0.1, max_minutes=1e-9), tmp_path, "cpu").run()
    assert state["step"] == 1 and task.epochs_seen == [1]  # evaluated once at the stop


def test_old_and_foreign_checkpoints_are_refused_clearly(tmp_path):
    ckpt = tmp_path / "checkpoint"
    assert read_checkpoint(ckpt, "toy") is None  # nothing to resume: a fresh run
    ckpt.mkdir()
    torch.save({"optimizer": {}, "state": {"step": 3}}, ckpt / STATE_FILE)  # the format before the one loop
    with pytest.raises(InputError, match="older polytag, which cannot be resumed"):
        read_checkpoint(ckpt, "toy")
    Loop(Regression(), LoopSettings(epochs=1, lr=0.1), tmp_path, "cpu").save_checkpoint()
    assert read_checkpoint(ckpt, "toy")["state"]["step"] == 0
    with pytest.raises(InputError, match="checkpoint of a 'toy' run, not 'train'"):
        read_checkpoint(ckpt, "train")

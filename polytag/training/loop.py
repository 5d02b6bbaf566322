"""THE training loop. Supervised training, distillation and MLM pretraining are `Task`s: each
supplies a model, the batches of an epoch and a loss; the loop does the rest, the same way for
all: AdamW with and without weight decay by parameter shape, linear warmup and decay, gradient
accumulation and clipping, bf16 autocast on GPU, a time budget that the schedule follows,
metrics.jsonl, a progress bar, and one checkpoint format (task model files + state.pt holding
optimizer, position, RNG states) from which `--resume` continues exactly.

    loop = Loop(task, settings, output_folder, device)
    summary = loop.run(resume)
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from tqdm import tqdm

from ..core.errors import InputError

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
CHECKPOINT_FORMAT = 1  # state.pt files without it were written by the three loops this one replaced


@dataclass
class LoopSettings:
    """The loop's part of a task's config (TrainConfig, DistillConfig, PretrainConfig)."""

    epochs: int
    lr: float
    warmup: float = 0.05  # fraction of training
    weight_decay: float = 0.01
    clip: float = 1.0
    accumulate: int = 1
    max_minutes: float | None = None  # time budget; the LR schedule follows it
    max_steps: int | None = None
    checkpoint_every: int = 1000  # optimizer steps
    log_every: int = 100  # optimizer steps

    @classmethod
    def from_config(cls, cfg) -> "LoopSettings":
        names = cls.__dataclass_fields__
        return cls(**{k: getattr(cfg, k) for k in names if hasattr(cfg, k)})


class Task:
    """What a training run supplies. Subclasses set `name` and `model` and implement the methods
    that raise here; the others have defaults."""

    name = "task"
    model: torch.nn.Module
    main = True  # this process writes logs, checkpoints and models (False on other DDP ranks)
    autocast = False  # bf16 autocast (on GPU)
    open_ended = False  # epochs without end: only the time budget stops it (progress shown in minutes)

    def parameter_groups(self) -> list[tuple[list, float]]:
        """(parameters, lr scale) pairs; frozen parameters (requires_grad False) are left out."""
        return [(list(self.model.parameters()), 1.0)]

    def epoch_steps_estimate(self) -> int:
        """Optimizer steps in one epoch: exact, or an estimate until epoch 1 has counted them."""
        raise NotImplementedError

    def batches(self, epoch: int, skip: int) -> Iterator[Any]:
        """The epoch's micro-batches, always in the same order, without the first `skip`."""
        raise NotImplementedError

    def loss(self, batch) -> dict[str, torch.Tensor]:
        """{"loss": what is backpropagated, ...other parts to log}."""
        raise NotImplementedError

    def save_checkpoint_model(self, folder: Path, loop: "Loop") -> None:
        """Write the model (whatever the task saves) into the checkpoint folder."""
        raise NotImplementedError

    def after_epoch(self, epoch: int, loop: "Loop") -> None:
        """Called after each epoch, and once more if training stops mid-epoch (dev evaluation)."""

    def finish(self, loop: "Loop") -> dict:
        """After the last step and checkpoint: final saves; -> the run's summary."""
        return loop.state

    def agree_to_stop(self, stop: bool) -> bool:
        """Every process must stop on the same step (DDP); one process: as is."""
        return stop


def read_checkpoint(folder: Path, kind: str) -> dict | None:
    """The saved state.pt of a resumable checkpoint folder, or None if there is none."""
    path = folder / STATE_FILE
    old_pretrain = (folder / "state.json").exists()
    if not path.exists() and not old_pretrain:
        return None
    saved = torch.load(path, map_location="cpu", weights_only=False) if path.exists() else {}
    if saved.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{folder}: checkpoint written by an older polytag, which cannot be resumed; "
                         f"start a new run (a model in it can be continued with --init)")
    if saved.get("kind") != kind:
        raise InputError(f"{folder}: checkpoint of a {saved.get('kind')!r} run, not {kind!r}")
    return saved


def adamw(groups: list[tuple[list, float]], lr: float, weight_decay: float) -> torch.optim.AdamW:
    """One pair of AdamW groups per (parameters, lr scale): weight decay on matrices only (not on
    biases, LayerNorm or other vectors); the schedule sets each group's lr to its scale x the lr."""
    param_groups = []
    for params, scale in groups:
        trained = [p for p in params if p.requires_grad]
        param_groups += [{"params": [p for p in trained if p.ndim >= 2], "weight_decay": weight_decay, "lr_scale": scale},
                         {"params": [p for p in trained if p.ndim < 2], "weight_decay": 0.0, "lr_scale": scale}]
    return torch.optim.AdamW([g for g in param_groups if g["params"]], lr=lr)


def rng_states() -> dict:
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    return device


def start_run(device: str, threads: int | None, seed: int) -> str:
    """Device, CPU threads and every RNG seed for a training run; -> the resolved device."""
    device = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return device


class Loop:
    def __init__(self, task: Task, settings: LoopSettings, output: str | Path, device: str):
        self.task = task
        self.settings = settings
        self.out = Path(output)
        self.ckpt = self.out / CHECKPOINT_DIR
        self.device = device
        self.optimizer = adamw(task.parameter_groups(), settings.lr, settings.weight_decay)
        # epoch: epochs done; batch: micro-batches done in the current epoch; tasks may add keys
        self.state: dict = {"epoch": 0, "batch": 0, "step": 0, "seconds": 0.0, "epoch_steps": None, "loss": None}
        self.started = time.time()

    # -- schedule --
    @property
    def total_steps(self) -> int:
        s = self.settings
        return s.max_steps or max(1, (self.state["epoch_steps"] or self.task.epoch_steps_estimate()) * s.epochs)

    def budget_used(self) -> float:
        """Share of the time budget (or of max_steps) spent; training stops at 1."""
        s = self.settings
        used = self.state["step"] / s.max_steps if s.max_steps else 0.0
        if s.max_minutes:
            used = max(used, (time.time() - self.started) / (60 * s.max_minutes))
        return min(used, 1.0)

    def set_lr(self) -> None:
        """Linear warmup over the first `warmup` of training, then linear decay to 0 at the end of
        the steps or of the time budget, whichever comes first."""
        s = self.settings
        done = min(max(self.budget_used(), self.state["step"] / self.total_steps), 1.0)
        # warmup is a share of the run by steps or by the time budget, whichever is further along
        warm = min(1.0, max(done, (self.state["step"] + 1) / self.total_steps) / s.warmup) if s.warmup else 1.0
        for group in self.optimizer.param_groups:
            group["lr"] = s.lr * group["lr_scale"] * warm * max(0.0, 1.0 - done)

    # -- checkpoint, metrics --
    def resume(self) -> bool:
        saved = read_checkpoint(self.ckpt, self.task.name)
        if saved is None:
            return False
        self.optimizer.load_state_dict(saved["optimizer"])
        self.state = saved["state"]
        set_rng_states(saved["rng"])
        if self.task.main:
            print(f"resuming at epoch {self.state['epoch'] + 1}, batch {self.state['batch']}, "
                  f"step {self.state['step']}")
        return True

    def save_checkpoint(self) -> None:
        if not self.task.main:
            return
        self.state["seconds"] = time.time() - self.started
        self.ckpt.mkdir(parents=True, exist_ok=True)
        self.task.save_checkpoint_model(self.ckpt, self)
        tmp = self.ckpt / (STATE_FILE + ".tmp")
        torch.save({"format": CHECKPOINT_FORMAT, "kind": self.task.name, "optimizer": self.optimizer.state_dict(),
                    "state": self.state, "rng": rng_states()}, tmp)
        tmp.replace(self.ckpt / STATE_FILE)  # a stop mid-write leaves the previous checkpoint whole

    def log(self, record: dict) -> None:
        if self.task.main:
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def elapsed(self) -> float:
        return round(time.time() - self.started, 1)

    # -- the loop --
    def optimizer_step(self) -> None:
        self.set_lr()
        torch.nn.utils.clip_grad_norm_(self.task.model.parameters(), self.settings.clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state["step"] += 1

    def run_epoch(self, bar: tqdm) -> bool:
        """Train on the rest of the current epoch; -> True if the budget stopped it part-way."""
        s, state = self.settings, self.state
        self.running, self.count, pending = {}, 0, 0
        for batch in self.task.batches(state["epoch"], state["batch"]):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.task.autocast):
                losses = self.task.loss(batch)
            (losses["loss"] / s.accumulate).backward()
            for k, v in losses.items():
                self.running[k] = self.running.get(k, 0.0) + v.item()
            self.count, pending = self.count + 1, pending + 1
            state["batch"] += 1
            if pending == s.accumulate:
                pending = 0
                if self.finish_step(bar):
                    return True
        if pending:  # the epoch's last, incomplete accumulation
            self.finish_step(bar)
        return False

    def finish_step(self, bar: tqdm) -> bool:
        """Optimizer step, then metrics and checkpoint when due; -> whether the budget is spent."""
        s, state = self.settings, self.state
        self.optimizer_step()
        bar.update(1)
        if state["step"] % s.log_every == 0 and self.count:
            state["loss"] = {k: round(v / self.count, 4) for k, v in self.running.items()}
            self.log({"step": state["step"], "epoch": state["epoch"] + 1, **state["loss"],
                      "lr": self.optimizer.param_groups[0]["lr"], "seconds": self.elapsed()})
            minutes = {"min": f"{self.elapsed() / 60:.1f}/{s.max_minutes:g}"} if s.max_minutes else {}
            bar.set_postfix(loss=f"{state['loss']['loss']:.3f}", **minutes)
            self.running, self.count = {}, 0
        if state["step"] % s.checkpoint_every == 0:
            self.save_checkpoint()
        return self.task.agree_to_stop(self.budget_used() >= 1.0)

    def run(self, resume: bool = False) -> dict:
        s, state, task = self.settings, self.state, self.task
        if resume:
            self.resume()
            state = self.state
        self.started = time.time() - state["seconds"]
        task.model.train()
        open_ended = task.open_ended and s.max_minutes
        bar = tqdm(total=None if open_ended else self.total_steps, initial=state["step"], desc=task.name,
                   unit="step", mininterval=5, disable=not task.main)
        stopped = state["step"] > 0 and self.budget_used() >= 1.0  # a resumed run whose budget is spent
        while not stopped and state["epoch"] < s.epochs:
            bar.set_description(f"{task.name} epoch {state['epoch'] + 1}" + ("" if open_ended else f"/{s.epochs}"))
            stopped = self.run_epoch(bar)
            if not stopped:
                state["epoch"] += 1
                state["batch"] = 0
                if state["epoch_steps"] is None:
                    state["epoch_steps"] = state["step"]  # now exact: the schedule uses it
                    bar.total = None if open_ended else self.total_steps
            task.after_epoch(state["epoch"] + (1 if stopped else 0), self)
            task.model.train()
            self.save_checkpoint()
        bar.close()
        state["seconds"] = time.time() - self.started
        return task.finish(self)


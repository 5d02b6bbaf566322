"""Distillation of a fine-tuned teacher tagger into a small student on unlabeled text
(Tsai et al. 2019, sec. 3).

The student (a preset trained from scratch, or `student_init`, an encoder with the same
vocabulary) takes the teacher's tokenizer and label inventories. On every wordpiece of the
corpus, except [CLS], [SEP] and padding, and for every head the teacher has (UPOS, "bundle",
"factored"), the loss is the cross-entropy between softmax(teacher logits / T) and
softmax(student logits / T); heads are summed, the factored head's features are summed, and
positions are averaged. (No T**2 factor: Adam makes the scale irrelevant.)

Teacher targets come either from the teacher on the fly, or from a cache built once:
per wordpiece and head the top-k logits (fp16) with their class ids, plus the log-sum-exp of
*all* the teacher's logits / T (fp32, computed from the fp16-rounded logits). So the cached
teacher probabilities of the top-k classes are exact (up to fp16 logits), and the rest of the
teacher's mass, r = 1 - sum(top-k), goes to one "other" bucket whose student probability is
the student's mass on all the other classes:

    CE = - sum_{i in top-k} p_i log q_i  -  r log(1 - sum_{i in top-k} q_i)

This is the exact cross-entropy between the two distributions coarsened to (top-k, other);
when k covers all classes, r = 0 and it is the full cross-entropy. A cache is built for one
temperature (recorded in its meta.json). The factored head caches the top-k values per feature.

Corpus order, windows and batches are deterministic, so both paths see the same batches.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ..core.encoding import WordPieces
from ..core.errors import InputError
from ..core.folder import ModelConfig, git_commit
from ..nn.model_io import load_model, save_model
from ..nn.transformer import (
    PRESETS,
    TaggerModel,
    count_parameters,
    preset_encoder_config,
)
from .corpus import load_manifest, shard_paths
from .loop import CHECKPOINT_DIR, Loop, LoopSettings, Task, read_checkpoint, start_run
from .pretrain import corpus_sequences

HEADS = ("upos", "bundle", "factored")
REMAINDER_FLOOR = 1e-6  # teacher mass outside the top-k below this is fp rounding, not signal
CACHE_META = "meta.json"


@dataclass
class DistillConfig:
    teacher: str
    corpus: str
    output: str
    student: str = "minibert"  # preset for a student from scratch
    student_init: str | None = None  # or a HF encoder checkpoint with the teacher's vocabulary
    temperature: float = 3.0
    cache: str | None = None  # teacher-logit cache folder; None = teacher on the fly
    top_k: int = 8  # cached classes per wordpiece (upos, bundle)
    top_k_factored: int = 2  # cached values per feature (factored head)
    cache_only: bool = False
    part_size: int = 4096  # sequences per cache part (the unit of shuffling and of cache files)
    epochs: int = 24
    batch_size: int = 256
    teacher_batch_size: int = 128
    lr: float = 1e-4
    warmup: float = 0.05
    weight_decay: float = 0.01
    clip: float = 1.0
    dropout: float = 0.1
    max_minutes: float | None = None
    checkpoint_every: int = 500
    log_every: int = 20
    seed: int = 42
    device: str = "auto"
    threads: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "DistillConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# -- the loss --
def valid_positions(input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids: list[int]) -> torch.Tensor:
    """Wordpieces that get a distillation loss: real (not padding) and not [CLS]/[SEP]/[PAD]."""
    special = torch.isin(input_ids, torch.as_tensor(special_ids, device=input_ids.device))
    return attention_mask.bool() & ~special


def soft_cross_entropy(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """(..., C) logits -> (...) CE between softmax(teacher/T) and softmax(student/T)."""
    p = F.softmax(teacher.float() / temperature, dim=-1)
    return -(p * F.log_softmax(student.float() / temperature, dim=-1)).sum(-1)


def soft_cross_entropy_topk(student: torch.Tensor, idx: torch.Tensor, top_logits: torch.Tensor,
                            lse: torch.Tensor, temperature: float) -> torch.Tensor:
    """CE against a cached teacher: top-k ids (..., k), their logits, log-sum-exp of all
    teacher logits / T (...); the teacher's remaining mass goes to an "other" bucket."""
    log_q = F.log_softmax(student.float() / temperature, dim=-1)
    p = torch.exp(top_logits.float() / temperature - lse.unsqueeze(-1))
    ce = -(p * log_q.gather(-1, idx)).sum(-1)
    if idx.shape[-1] < student.shape[-1]:
        rest = (1.0 - p.sum(-1)).clamp(0.0, 1.0)
        rest = torch.where(rest < REMAINDER_FLOOR, torch.zeros_like(rest), rest)
        log_q_other = log_q.scatter(-1, idx, float("-inf")).logsumexp(-1)  # student mass off the top-k
        ce = ce - torch.where(rest > 0, rest * log_q_other, torch.zeros_like(rest))
    return ce


def distill_loss(student_out: dict[str, torch.Tensor], targets: dict, temperature: float) -> dict[str, torch.Tensor]:
    """Per head: mean over positions (features summed for "factored"); "total" sums the heads.
    `targets[head]` is a (N, ...) logits tensor (on the fly) or a (idx, top_logits, lse) tuple."""
    losses = {}
    for head, target in targets.items():
        s = student_out[head]
        if isinstance(target, tuple):
            ce = soft_cross_entropy_topk(s, *target, temperature)
        else:
            ce = soft_cross_entropy(s, target, temperature)
        if ce.ndim == 2:  # factored: (N, features)
            ce = ce.sum(-1)
        losses[head] = ce.mean() if ce.numel() else s.sum() * 0.0
    losses["total"] = sum(losses.values())
    return losses


def compress(logits: torch.Tensor, k: int, temperature: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, ..., C) -> top-k ids, top-k fp16 logits, fp32 log-sum-exp of all (rounded) logits / T."""
    rounded = logits.half().float()
    lse = torch.logsumexp(rounded / temperature, dim=-1)
    vals, idx = rounded.topk(min(k, logits.shape[-1]), dim=-1)
    id_type = np.uint16 if logits.shape[-1] <= 65535 else np.int32
    return idx.cpu().numpy().astype(id_type), vals.half().cpu().numpy(), lse.cpu().numpy().astype(np.float32)


# -- data: the same sequences and batches for both paths --
@dataclass
class Part:
    """A block of consecutive corpus windows (the unit of caching and shuffling)."""

    shard: int
    index: int
    sequences: list[np.ndarray]


def shard_parts(wp: WordPieces, corpus: str, shard: int, max_len: int, part_size: int) -> Iterator[Part]:
    """Consecutive blocks of `part_size` windows of one corpus shard, in file order."""
    block, index = [], 0
    for seq in corpus_sequences(wp, shard_paths(corpus)[shard], max_len):
        block.append(seq.ids)
        if len(block) == part_size:
            yield Part(shard, index, block)
            block, index = [], index + 1
    if block:
        yield Part(shard, index, block)


def corpus_parts(wp: WordPieces, corpus: str, max_len: int, part_size: int) -> Iterator[Part]:
    for shard in range(len(shard_paths(corpus))):
        yield from shard_parts(wp, corpus, shard, max_len, part_size)


def part_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffle, sort by length (little padding), cut into batches, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def pad(sequences: list[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    seq = max(len(s) for s in sequences)
    ids = np.full((len(sequences), seq), pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, s in enumerate(sequences):
        ids[row, : len(s)] = s
        mask[row, : len(s)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def per_wordpiece_logits(model: TaggerModel, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                         valid: torch.Tensor) -> dict[str, torch.Tensor]:
    """Head logits at the valid positions, row-major: (N, ...)."""
    states = model.encode(input_ids, attention_mask)
    return model.heads(states.flatten(0, 1)[valid.flatten()])


# -- the cache --
def _part_file(cache: Path, part: Part) -> Path:
    return cache / f"part-{part.shard:05d}-{part.index:05d}.npz"


def cache_meta(cfg: DistillConfig, heads: list[str]) -> dict:
    return {"teacher": str(Path(cfg.teacher).resolve()), "corpus": str(Path(cfg.corpus).resolve()),
            "temperature": cfg.temperature, "top_k": cfg.top_k, "top_k_factored": cfg.top_k_factored,
            "part_size": cfg.part_size, "heads": heads}


@torch.no_grad()
def build_cache(cfg: DistillConfig, teacher: TaggerModel, wp: WordPieces, special: list[int], device: str) -> Path:
    """Teacher targets for every corpus window, one .npz per part; resumable (done parts are kept)."""
    cache = Path(cfg.cache)
    heads = list(teacher_heads(teacher))
    meta = cache_meta(cfg, heads)
    meta_file = cache / CACHE_META
    if meta_file.exists():
        old = json.loads(meta_file.read_text(encoding="utf-8"))
        if {k: old.get(k) for k in meta} != meta:
            raise InputError(f"{cache}: cache was built with other settings ({old}); use a new --cache folder")
        if old.get("complete"):
            return cache
    cache.mkdir(parents=True, exist_ok=True)
    meta_file.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    teacher.eval().to(device)
    manifest = load_manifest(cfg.corpus)
    bar = tqdm(total=manifest["total"]["sentences"], desc="teacher cache", unit="sent", mininterval=5)
    n_positions = 0
    for part in corpus_parts(wp, cfg.corpus, teacher.config.max_len, cfg.part_size):
        bar.update(len(part.sequences))
        out_file = _part_file(cache, part)
        if out_file.exists():
            continue
        n_valid = np.array([int(np.sum(~np.isin(s, special))) for s in part.sequences])
        offsets = np.concatenate([[0], np.cumsum(n_valid)])
        arrays: dict[str, np.ndarray] = {}
        order = sorted(range(len(part.sequences)), key=lambda i: len(part.sequences[i]))
        for b in range(0, len(order), cfg.teacher_batch_size):
            rows = order[b : b + cfg.teacher_batch_size]
            ids, mask = pad([part.sequences[i] for i in rows], wp.pad_id)
            valid = valid_positions(ids, mask, special)
            out = per_wordpiece_logits(teacher, ids.to(device), mask.to(device), valid.to(device))
            where = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in rows])
            for head in heads:
                k = cfg.top_k_factored if head == "factored" else cfg.top_k
                for name, value in zip(("idx", "val", "lse"), compress(out[head], k, cfg.temperature)):
                    key = f"{head}.{name}"
                    if key not in arrays:
                        arrays[key] = np.zeros((offsets[-1], *value.shape[1:]), dtype=value.dtype)
                    arrays[key][where] = value
        tmp = out_file.with_suffix(".tmp.npz")
        np.savez(tmp, ids=np.concatenate(part.sequences).astype(np.int32), lengths=np.array([len(s) for s in part.sequences]),
                 valid_offsets=offsets, **arrays)
        tmp.replace(out_file)
        n_positions += int(offsets[-1])
    bar.close()
    meta["complete"] = True
    meta["bytes"] = sum(f.stat().st_size for f in cache.glob("part-*.npz"))
    meta_file.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return cache


class CachedPart:
    def __init__(self, path: Path, heads: list[str]):
        data = np.load(path)
        lengths = data["lengths"]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        flat = data["ids"].astype(np.int64)
        self.sequences = [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        self.offsets = data["valid_offsets"]
        self.arrays = {k: data[k] for k in data.files if "." in k and k.split(".")[0] in heads}
        self.heads = heads

    def targets(self, rows: list[int], device: str) -> dict[str, tuple]:
        where = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in rows])
        out = {}
        for head in self.heads:
            idx, val, lse = (self.arrays[f"{head}.{n}"][where] for n in ("idx", "val", "lse"))
            out[head] = (torch.from_numpy(idx.astype(np.int64)).to(device), torch.from_numpy(val).to(device),
                         torch.from_numpy(lse).to(device))
        return out


def teacher_heads(teacher: TaggerModel) -> list[str]:
    return ["upos"] + [h for h in ("bundle", "factored") if getattr(teacher, f"{h}_head") is not None]


# -- the student --
def build_student(cfg: DistillConfig, tokenizer, labels, teacher_config: ModelConfig) -> TaggerModel:
    heads = list(teacher_config.morph_heads)
    if cfg.student_init:
        mcfg = ModelConfig(encoder=cfg.student_init, max_len=teacher_config.max_len, dropout=cfg.dropout,
                           morph_heads=heads, morph_decode=teacher_config.morph_decode)
        student = TaggerModel(mcfg, labels, pretrained=cfg.student_init)
        if student.encoder.config.vocab_size < len(tokenizer):
            raise InputError(f"{cfg.student_init}: vocabulary of {student.encoder.config.vocab_size} pieces, but the "
                             f"teacher's tokenizer has {len(tokenizer)}; the student needs the teacher's vocabulary")
        return student
    if cfg.student not in PRESETS:
        raise InputError(f"unknown student preset {cfg.student!r} (known: {', '.join(PRESETS)})")
    mcfg = ModelConfig(encoder=cfg.student,
                       encoder_config=preset_encoder_config(cfg.student, len(tokenizer), teacher_config.max_len),
                       max_len=teacher_config.max_len, dropout=cfg.dropout, morph_heads=heads,
                       morph_decode=teacher_config.morph_decode)
    return TaggerModel(mcfg, labels)


class Distiller(Task):
    """Distillation as a task of the training loop: the teacher's soft targets (on the fly or
    from the cache) on every wordpiece of the corpus, in the same deterministic batches."""

    name = "distill"

    def __init__(self, cfg: DistillConfig):
        self.cfg = cfg
        self.out = Path(cfg.output)
        self.ckpt = self.out / CHECKPOINT_DIR
        self.device = start_run(cfg.device, cfg.threads, cfg.seed)
        self.cache_seconds = 0.0

    def setup(self, resume: bool) -> bool:
        """Teacher, cache, student; -> False when only the cache was asked for."""
        cfg = self.cfg
        teacher, self.tokenizer, self.labels, self.tcfg = load_model(cfg.teacher, self.device)
        self.wp = WordPieces(self.tokenizer)
        self.special = sorted({self.wp.cls_id, self.wp.sep_id, self.wp.pad_id})
        self.heads = teacher_heads(teacher)
        self.manifest = load_manifest(cfg.corpus)
        self.teacher = teacher
        if cfg.cache:
            t0 = time.time()
            build_cache(cfg, teacher, self.wp, self.special, self.device)
            self.cache_seconds = time.time() - t0
            if cfg.cache_only:
                info = json.loads((Path(cfg.cache) / CACHE_META).read_text(encoding="utf-8"))
                print(json.dumps({"cache": cfg.cache, "seconds": round(self.cache_seconds, 1),
                                  "bytes": info.get("bytes")}))
                return False
            self.teacher = None  # not needed any more
        if resume and read_checkpoint(self.ckpt, self.name) is not None:
            self.model, _, _, _ = load_model(self.ckpt, self.device)
        else:
            self.model = build_student(cfg, self.tokenizer, self.labels, self.tcfg).to(self.device)
        return True

    def run(self, resume: bool = False) -> dict:
        cfg = self.cfg
        if not self.setup(resume):
            return {"cache_seconds": self.cache_seconds}
        loop = Loop(self, LoopSettings.from_config(cfg), self.out, self.device)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "distill_config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
        print(f"distilling {count_parameters(self.model):,}-parameter student on "
              f"{self.manifest['total']['sentences']} corpus sentences, heads {self.heads}, T={cfg.temperature}, "
              f"{'cached top-k' if cfg.cache else 'teacher on the fly'}, ~{loop.total_steps} steps on {self.device}")
        return loop.run(resume)

    # -- the task --
    def epoch_steps_estimate(self) -> int:
        """Windows ~ sentences (only sentences over max_len wordpieces are split)."""
        return max(1, math.ceil(self.manifest["total"]["sentences"] / self.cfg.batch_size))

    def batches(self, epoch: int, skip: int):
        """Shards in a seeded order, each shard's parts in a seeded order, each part's batches;
        the first `skip` batches are passed over without running anything."""
        cfg = self.cfg
        shard_order = list(range(len(self.manifest["shards"])))
        random.Random(cfg.seed * 1000 + epoch).shuffle(shard_order)
        for shard in shard_order:
            source = self.shard_parts(shard)
            part_order = list(range(len(source)))
            random.Random(f"{cfg.seed}-{epoch}-{shard}").shuffle(part_order)
            for p in part_order:
                n_rows = self.part_length(source[p])
                n_batches = math.ceil(n_rows / cfg.batch_size)
                if skip >= n_batches:
                    skip -= n_batches
                    continue
                part = CachedPart(source[p], self.heads) if cfg.cache else source[p]
                rows_of = part_batches([len(x) for x in part.sequences], cfg.batch_size,
                                       random.Random(f"{cfg.seed}-{epoch}-{shard}-{p}"))
                for rows in rows_of[skip:]:
                    yield part, rows
                skip = 0

    def part_length(self, part) -> int:
        if isinstance(part, Part):
            return len(part.sequences)
        with np.load(part) as data:
            return len(data["lengths"])

    def loss(self, batch) -> dict[str, torch.Tensor]:
        part, rows = batch
        ids, mask = pad([part.sequences[i] for i in rows], self.wp.pad_id)
        ids, mask = ids.to(self.device), mask.to(self.device)
        valid = valid_positions(ids, mask, self.special)
        if self.cfg.cache:
            targets = part.targets(rows, self.device)
        else:
            with torch.no_grad():
                targets = per_wordpiece_logits(self.teacher, ids, mask, valid)
        losses = distill_loss(per_wordpiece_logits(self.model, ids, mask, valid), targets, self.cfg.temperature)
        losses["loss"] = losses.pop("total")
        return losses

    def save_checkpoint_model(self, folder: Path, loop: Loop) -> None:
        save_model(folder, self.model, self.tokenizer, self.labels, self.metadata(loop))

    def finish(self, loop: Loop) -> dict:
        save_model(self.out, self.model, self.tokenizer, self.labels, self.metadata(loop))
        state = loop.state
        print(json.dumps({"steps": state["step"], "epochs_done": state["epoch"], "last_loss": state["loss"],
                          "seconds": round(state["seconds"], 1), "cache_seconds": round(self.cache_seconds, 1)}))
        return state

    # -- the two target paths: the same parts, in the same order --
    def shard_parts(self, shard: int) -> list:
        """The parts of one corpus shard: cache files, or (on the fly) tokenized windows;
        one shard at a time is held in memory."""
        if self.cfg.cache:
            return sorted(Path(self.cfg.cache).glob(f"part-{shard:05d}-*.npz"))
        return list(shard_parts(self.wp, self.cfg.corpus, shard, self.tcfg.max_len, self.cfg.part_size))

    def metadata(self, loop: Loop) -> dict:
        state = loop.state
        return {
            "polytag_commit": git_commit(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "distillation": {"teacher": str(self.cfg.teacher), "corpus": str(self.cfg.corpus),
                             "steps": state["step"], "epochs_done": state["epoch"], "loss": state["loss"],
                             "seconds": loop.elapsed(), "cache_seconds": round(self.cache_seconds, 1),
                             "config": asdict(self.cfg)},
            "parameters": count_parameters(self.model),
        }


def distill(cfg: DistillConfig, resume: bool = False) -> dict:
    return Distiller(cfg).run(resume)

"""Masked-LM pretraining of a BERT encoder on a `polytag corpus` folder (for when no pretrained
multilingual checkpoint is on disk).

Whole-word masking: words are drawn in random order until 15% of the wordpieces are covered;
each chosen wordpiece becomes [MASK] 80%, a random wordpiece 10%, itself 10% of the time.
The MLM output layer runs on the masked positions only (same loss, far less compute with
a large vocabulary).

Output: a Hugging Face checkpoint folder (`save_pretrained` of BertForMaskedLM and of the
tokenizer), so `polytag train --encoder OUTPUT` fine-tunes it. OUTPUT/checkpoint holds the
optimizer and data position for `--resume`.

Multi-GPU: start it with `torchrun --nproc_per_node N -m polytag.cli pretrain ...` (or
`accelerate launch`, which sets the same environment variables); each process takes every
N-th batch of the same deterministic batch order and DDP averages gradients. The batch size
is per process.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm
from transformers import BertConfig, BertForMaskedLM

from .conllu_io import InputError
from .corpus import load_manifest, read_shard, shard_paths
from .encoding import WordPieces, make_chunks
from .model import PRESETS
from .vocab import load_tokenizer, train_wordpiece

IGNORE = -100


@dataclass
class PretrainConfig:
    corpus: str
    output: str
    encoder: str = "minibert"  # a preset; the size overrides below take precedence
    layers: int | None = None
    hidden: int | None = None
    heads: int | None = None
    intermediate: int | None = None
    tokenizer: str | None = None  # reuse a tokenizer folder; else train a WordPiece vocab
    vocab_size: int = 32000
    vocab_sentences: int = 20000  # per language, sampled from the corpus for the vocabulary
    max_len: int = 128
    mask_prob: float = 0.15
    batch_size: int = 64  # sequences per process per micro-batch
    accumulate: int = 1
    lr: float = 1e-4
    warmup: float = 0.05
    weight_decay: float = 0.01
    clip: float = 1.0
    epochs: int = 1
    max_steps: int | None = None
    max_minutes: float | None = None  # time budget; the LR schedule follows it
    checkpoint_every: int = 500
    log_every: int = 50
    seed: int = 42
    device: str = "auto"
    threads: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "PretrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def encoder_config(cfg: PretrainConfig, vocab_size: int) -> BertConfig:
    if cfg.encoder not in PRESETS:
        raise InputError(f"unknown encoder preset {cfg.encoder!r} (known: {', '.join(PRESETS)})")
    sizes = dict(PRESETS[cfg.encoder])
    for key, value in (("num_hidden_layers", cfg.layers), ("hidden_size", cfg.hidden),
                       ("num_attention_heads", cfg.heads), ("intermediate_size", cfg.intermediate)):
        if value:
            sizes[key] = value
    if sizes["hidden_size"] % sizes["num_attention_heads"]:
        raise InputError(f"hidden size {sizes['hidden_size']} is not a multiple of {sizes['num_attention_heads']} heads")
    return BertConfig(vocab_size=vocab_size, max_position_embeddings=max(512, cfg.max_len), **sizes)


def vocabulary_text(corpus: str, per_language: int, seed: int) -> dict[str, list[str]]:
    """Up to `per_language` sentences of each language (reservoir sampling, one pass)."""
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    sample: dict[str, list[str]] = {}
    for path in shard_paths(corpus):
        for lang, words in read_shard(path):
            n = seen[lang] = seen.get(lang, 0) + 1
            pool = sample.setdefault(lang, [])
            if len(pool) < per_language:
                pool.append(" ".join(words))
            else:
                j = rng.randrange(n)
                if j < per_language:
                    pool[j] = " ".join(words)
    return sample


@dataclass
class Sequence:
    ids: np.ndarray  # [CLS] pieces [SEP]
    word_starts: np.ndarray  # position of each word's first piece


def corpus_sequences(wp: WordPieces, path: Path, max_len: int) -> Iterator[Sequence]:
    """Encoder windows of every sentence of one shard, in file order (long ones are split)."""
    block: list[list[str]] = []

    def emit():
        for c in make_chunks(wp, block, max_len, overlap=False):
            yield Sequence(np.asarray(c.input_ids, dtype=np.int64), np.asarray(c.first, dtype=np.int64))

    for _, words in read_shard(path):
        block.append(words)
        if len(block) == 512:
            yield from emit()
            block = []
    if block:
        yield from emit()


def epoch_batches(wp: WordPieces, corpus: str, max_len: int, batch_size: int, seed: int,
                  epoch: int) -> Iterator[list[Sequence]]:
    """Deterministic batches for one epoch: shards in a seeded order, pools of 50 batches
    sorted by length (little padding), batches shuffled within the pool."""
    rng = random.Random(seed * 1000 + epoch)
    paths = shard_paths(corpus)
    rng.shuffle(paths)
    pool_size = batch_size * 50
    for path in paths:
        pool: list[Sequence] = []
        for seq in corpus_sequences(wp, path, max_len):
            pool.append(seq)
            if len(pool) == pool_size:
                yield from _pool_batches(pool, batch_size, rng)
                pool = []
        if pool:
            yield from _pool_batches(pool, batch_size, rng)


def _pool_batches(pool: list[Sequence], batch_size: int, rng: random.Random) -> list[list[Sequence]]:
    rng.shuffle(pool)
    pool.sort(key=lambda s: len(s.ids))
    batches = [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
    rng.shuffle(batches)
    return batches


def mask_whole_words(seqs: list[Sequence], rng: np.random.Generator, mask_id: int, pad_id: int,
                     vocab_size: int, special_ids: list[int], mask_prob: float = 0.15) -> dict[str, torch.Tensor]:
    """Padded MLM batch: input_ids (masked), attention_mask, labels (-100 where not predicted)."""
    seq_len = max(len(s.ids) for s in seqs)
    ids = np.full((len(seqs), seq_len), pad_id, dtype=np.int64)
    attn = np.zeros_like(ids)
    labels = np.full_like(ids, IGNORE)
    specials = np.asarray(special_ids)
    # random replacements are never special tokens
    normal = np.setdiff1d(np.arange(vocab_size), specials)
    for row, s in enumerate(seqs):
        n = len(s.ids)
        ids[row, :n] = s.ids
        attn[row, :n] = 1
        ends = np.append(s.word_starts[1:], n - 1)  # the last word ends before [SEP]
        spans = [(a, b) for a, b in zip(s.word_starts, ends) if b > a]
        if not spans:
            continue
        budget = max(1, round(mask_prob * (n - 2)))
        chosen: list[int] = []
        for w in rng.permutation(len(spans)):
            a, b = spans[w]
            if len(chosen) + (b - a) > budget:
                continue  # a word that does not fit is skipped, never cut (whole words only)
            chosen.extend(range(a, b))
            if len(chosen) >= budget:
                break
        if not chosen:  # every word is longer than the budget: mask the shortest whole word
            a, b = min(spans, key=lambda ab: ab[1] - ab[0])
            chosen = list(range(a, b))
        pos = np.asarray(chosen)
        pos = pos[~np.isin(s.ids[pos], specials)]
        labels[row, pos] = s.ids[pos]
        roll = rng.random(len(pos))
        ids[row, pos[roll < 0.8]] = mask_id
        swap = pos[(roll >= 0.8) & (roll < 0.9)]
        ids[row, swap] = rng.choice(normal, size=len(swap))
    return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(attn),
            "labels": torch.from_numpy(labels)}


class MaskedLMObjective(nn.Module):
    """MLM loss computing the output layer on masked positions only. Wrapping this module
    (not the bare model) in DDP keeps the gradient hooks on the forward that is used."""

    def __init__(self, mlm: BertForMaskedLM):
        super().__init__()
        self.mlm = mlm

    def forward(self, input_ids, attention_mask, labels):
        hidden = self.mlm.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        chosen = labels != IGNORE
        logits = self.mlm.cls(hidden[chosen])
        return F.cross_entropy(logits.float(), labels[chosen])


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


class Pretrainer:
    def __init__(self, cfg: PretrainConfig):
        self.cfg = cfg
        self.out = Path(cfg.output)
        self.ckpt = self.out / "checkpoint"
        self.world, self.rank, local = _dist_info()
        if self.world > 1:
            torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if cfg.device == "auto":
            self.device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
        else:
            self.device = cfg.device
        if self.device.startswith("cuda"):
            torch.cuda.set_device(torch.device(self.device))
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.main = self.rank == 0

    def tokenizer(self, resume: bool):
        cfg = self.cfg
        if resume and (self.out / "tokenizer.json").exists():
            return load_tokenizer(self.out)
        if cfg.tokenizer:
            return load_tokenizer(cfg.tokenizer)
        # process 0 trains the vocabulary and saves it; the others load that file
        if self.main:
            tok = train_wordpiece(vocabulary_text(cfg.corpus, cfg.vocab_sentences, cfg.seed), cfg.vocab_size,
                                  seed=cfg.seed)
            self.out.mkdir(parents=True, exist_ok=True)
            tok.save_pretrained(str(self.out))
        if self.world > 1:
            torch.distributed.barrier()
        return load_tokenizer(self.out)

    def save(self, model: BertForMaskedLM, tokenizer, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))

    def run(self, resume: bool = False) -> dict:
        cfg = self.cfg
        manifest = load_manifest(cfg.corpus)
        resume = resume and (self.ckpt / "state.json").exists()
        tokenizer = self.tokenizer(resume)
        wp = WordPieces(tokenizer)
        if resume:
            model = BertForMaskedLM.from_pretrained(str(self.ckpt))
        else:
            model = BertForMaskedLM(encoder_config(cfg, len(tokenizer)))
        model.to(self.device)
        objective: nn.Module = MaskedLMObjective(model)
        if self.world > 1:
            objective = torch.nn.parallel.DistributedDataParallel(objective)
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
        # sequences ~ sentences (only sentences over max_len wordpieces are split)
        per_step = cfg.batch_size * cfg.accumulate * self.world
        steps_per_epoch = max(1, math.ceil(manifest["total"]["sentences"] / per_step))
        total_steps = cfg.max_steps or steps_per_epoch * cfg.epochs  # estimated until epoch 1 is done
        state = {"epoch": 0, "batch": 0, "step": 0, "seconds": 0.0, "loss": None}
        if resume:
            state = json.loads((self.ckpt / "state.json").read_text(encoding="utf-8"))
            optimizer.load_state_dict(torch.load(self.ckpt / "optimizer.pt", map_location=self.device))
            if self.main:
                print(f"resuming at epoch {state['epoch'] + 1}, batch {state['batch']}, step {state['step']}")
        elif self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "pretrain_config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
            tokenizer.save_pretrained(str(self.out))
        n_params = sum(p.numel() for p in model.parameters())
        if self.main:
            print(f"MLM pretraining: {n_params:,} parameters, vocab {len(tokenizer)}, "
                  f"{manifest['total']['sentences']} corpus sentences, ~{total_steps} steps on {self.device}"
                  + (f" x {self.world} processes" if self.world > 1 else ""))
        special = [i for i in (wp.cls_id, wp.sep_id, wp.pad_id, tokenizer.mask_token_id, wp.unk_id) if i is not None]
        use_amp = self.device.startswith("cuda")
        started = time.time() - state["seconds"]

        if resume and state.get("epoch_steps") and not cfg.max_steps:
            total_steps = state["epoch_steps"] * cfg.epochs

        def progress() -> float:
            """Share of the budget used: time, or max_steps; training stops at 1 (or after the epochs)."""
            p = state["step"] / cfg.max_steps if cfg.max_steps else 0.0
            if cfg.max_minutes:
                p = max(p, (time.time() - started) / (60 * cfg.max_minutes))
            return min(p, 1.0)

        def schedule() -> float:
            """Where the LR schedule is: steps (estimated until epoch 1 has counted them) or time."""
            return min(max(progress(), state["step"] / total_steps), 0.999)

        def checkpoint():
            if not self.main:
                return
            state["seconds"] = time.time() - started
            self.save(model, tokenizer, self.ckpt)
            torch.save(optimizer.state_dict(), self.ckpt / "optimizer.pt.tmp")
            (self.ckpt / "optimizer.pt.tmp").replace(self.ckpt / "optimizer.pt")
            (self.ckpt / "state.json").write_text(json.dumps(state), encoding="utf-8")
            self.save(model, tokenizer, self.out)  # a usable encoder at every checkpoint

        def agree_to_stop(local_stop: bool) -> bool:
            """All processes must stop on the same step, or DDP would wait forever."""
            if self.world == 1:
                return local_stop
            flag = torch.tensor([float(local_stop)], device=self.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            return bool(flag.item())

        model.train()
        running, count = 0.0, 0
        done = progress() >= 1.0
        bar = tqdm(total=total_steps, initial=state["step"], desc="pretrain", unit="step",
                   mininterval=5, disable=not self.main)
        while not done and state["epoch"] < cfg.epochs:
            batches = epoch_batches(wp, cfg.corpus, cfg.max_len, cfg.batch_size, cfg.seed, state["epoch"])
            micro = 0
            round_: list[list[Sequence]] = []
            for b, seqs in enumerate(batches):
                if b < state["batch"]:
                    continue  # already trained on (resume)
                # rounds of `world` batches, one per process; an incomplete last round is dropped
                # so every process runs the same number of steps (DDP would hang otherwise)
                round_.append(seqs)
                if len(round_) < self.world:
                    continue
                seqs, mine = round_[self.rank], b - self.world + 1 + self.rank
                round_ = []
                mask_rng = np.random.default_rng([cfg.seed, state["epoch"], mine])  # same masks on resume
                batch = mask_whole_words(seqs, mask_rng, tokenizer.mask_token_id, wp.pad_id, len(tokenizer),
                                         special, cfg.mask_prob)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                    loss = objective(**batch)
                (loss / cfg.accumulate).backward()
                running += loss.item()
                count += 1
                micro += 1
                state["batch"] = b + 1
                if micro % cfg.accumulate:
                    continue
                # warmup is a fraction of the run, by steps or by the time budget, whichever is further
                warm = min(1.0, max(schedule(), 1.0 / total_steps) / cfg.warmup) if cfg.warmup else 1.0
                for group in optimizer.param_groups:
                    group["lr"] = cfg.lr * warm * max(0.0, 1.0 - schedule())
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                bar.update(1)
                if state["step"] % cfg.log_every == 0 and self.main:
                    state["loss"] = round(running / count, 4)
                    with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as f:
                        f.write(json.dumps({"step": state["step"], "epoch": state["epoch"] + 1, "loss": state["loss"],
                                            "lr": optimizer.param_groups[0]["lr"],
                                            "seconds": round(time.time() - started, 1)}) + "\n")
                    bar.set_postfix(loss=f"{state['loss']:.3f}")
                    running, count = 0.0, 0
                if state["step"] % cfg.checkpoint_every == 0:
                    checkpoint()
                if agree_to_stop(progress() >= 1.0):
                    done = True
                    break
            else:
                if not state.get("epoch_steps"):
                    state["epoch_steps"] = state["step"]
                    if not cfg.max_steps:
                        total_steps = state["epoch_steps"] * cfg.epochs
                state["epoch"] += 1
                state["batch"] = 0
        bar.close()
        if count and self.main:
            state["loss"] = round(running / count, 4)
        checkpoint()
        if self.main:
            print(json.dumps({"steps": state["step"], "epochs_done": state["epoch"], "last_loss": state["loss"],
                              "seconds": round(time.time() - started, 1)}))
        if self.world > 1:
            torch.distributed.destroy_process_group()
        return state


def pretrain(cfg: PretrainConfig, resume: bool = False) -> dict:
    return Pretrainer(cfg).run(resume)


@torch.no_grad()
def probe_loss(model_dir: str, corpus: str, n_batches: int = 4, batch_size: int = 16, seed: int = 0,
               max_len: int = 128) -> float:
    """Mean MLM loss of a saved checkpoint on fixed, fixed-masked batches of the corpus."""
    tokenizer = load_tokenizer(model_dir)
    wp = WordPieces(tokenizer)
    model = BertForMaskedLM.from_pretrained(model_dir).eval()
    objective = MaskedLMObjective(model)
    special = [i for i in (wp.cls_id, wp.sep_id, wp.pad_id, tokenizer.mask_token_id, wp.unk_id) if i is not None]
    losses = []
    for b, seqs in enumerate(epoch_batches(wp, corpus, max_len, batch_size, seed, 0)):
        if b == n_batches:
            break
        batch = mask_whole_words(seqs, np.random.default_rng([seed, b]), tokenizer.mask_token_id, wp.pad_id,
                                 len(tokenizer), special)
        losses.append(objective(**batch).item())
    return float(np.mean(losses))

"""Masked-LM pretraining of a BERT encoder on a `polytag corpus` folder (for when no pretrained
multilingual checkpoint is on disk).

Whole-word masking: words are drawn in random order until 15% of the wordpieces are covered;
each chosen wordpiece becomes [MASK] 80%, a random wordpiece 10%, itself 10% of the time.
The MLM output layer runs on the masked positions only (same loss, far less compute with
a large vocabulary).

Output: a Hugging Face checkpoint folder (`save_pretrained` of BertForMaskedLM and of the
tokenizer), so `polytag train --encoder OUTPUT` fine-tunes it. OUTPUT/checkpoint holds the
training loop's checkpoint (training.loop) for `--resume`.

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
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertForMaskedLM

from ..core.encoding import WordPieces, make_chunks
from ..core.errors import InputError
from ..nn.model_io import load_tokenizer
from ..nn.transformer import PRESETS
from .corpus import load_manifest, read_shard, shard_paths
from .loop import CHECKPOINT_DIR, Loop, LoopSettings, Task, read_checkpoint
from .vocab import train_wordpiece

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


class Pretrainer(Task):
    """MLM pretraining as a task of the training loop; with DDP, every process runs the loop on
    its share of each round of batches, and only process 0 writes."""

    name = "pretrain"

    def __init__(self, cfg: PretrainConfig):
        self.cfg = cfg
        self.out = Path(cfg.output)
        self.ckpt = self.out / CHECKPOINT_DIR
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
        self.autocast = self.device.startswith("cuda")

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

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.mlm.save_pretrained(str(folder))
        self.tok.save_pretrained(str(folder))

    def run(self, resume: bool = False) -> dict:
        cfg = self.cfg
        self.manifest = load_manifest(cfg.corpus)
        resume = resume and read_checkpoint(self.ckpt, self.name) is not None
        self.tok = self.tokenizer(resume)
        self.wp = WordPieces(self.tok)
        self.mlm = (BertForMaskedLM.from_pretrained(str(self.ckpt)) if resume
                    else BertForMaskedLM(encoder_config(cfg, len(self.tok))))
        self.mlm.to(self.device)
        self.model = self.mlm  # what the loop optimises
        self.objective: nn.Module = MaskedLMObjective(self.mlm)
        if self.world > 1:
            self.objective = torch.nn.parallel.DistributedDataParallel(self.objective)
        self.special = [i for i in (self.wp.cls_id, self.wp.sep_id, self.wp.pad_id, self.tok.mask_token_id,
                                    self.wp.unk_id) if i is not None]
        loop = Loop(self, LoopSettings.from_config(cfg), self.out, self.device)
        if self.main and not resume:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "pretrain_config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
            self.tok.save_pretrained(str(self.out))
        if self.main:
            print(f"MLM pretraining: {sum(p.numel() for p in self.mlm.parameters()):,} parameters, "
                  f"vocab {len(self.tok)}, {self.manifest['total']['sentences']} corpus sentences, "
                  f"~{loop.total_steps} steps on {self.device}"
                  + (f" x {self.world} processes" if self.world > 1 else ""))
        state = loop.run(resume)
        if self.world > 1:
            torch.distributed.destroy_process_group()
        return state

    # -- the task --
    def epoch_steps_estimate(self) -> int:
        """Sequences ~ sentences (only sentences over max_len wordpieces are split)."""
        per_step = self.cfg.batch_size * self.cfg.accumulate * self.world
        return max(1, math.ceil(self.manifest["total"]["sentences"] / per_step))

    def batches(self, epoch: int, skip: int):
        """This process's batch of each round of `world` batches (an incomplete last round is
        dropped, so every process runs the same number of steps: DDP would hang otherwise),
        masked with a generator seeded by its position (the same masks on resume)."""
        cfg, mine = self.cfg, 0
        round_: list[list[Sequence]] = []
        for b, seqs in enumerate(epoch_batches(self.wp, cfg.corpus, cfg.max_len, cfg.batch_size, cfg.seed, epoch)):
            round_.append(seqs)
            if len(round_) < self.world:
                continue
            seqs, index = round_[self.rank], b - self.world + 1 + self.rank
            round_ = []
            mine += 1
            if mine <= skip:
                continue  # already trained on (resume)
            mask_rng = np.random.default_rng([cfg.seed, epoch, index])
            batch = mask_whole_words(seqs, mask_rng, self.tok.mask_token_id, self.wp.pad_id, len(self.tok),
                                     self.special, cfg.mask_prob)
            yield {k: v.to(self.device) for k, v in batch.items()}

    def loss(self, batch) -> dict[str, torch.Tensor]:
        return {"loss": self.objective(**batch)}

    def save_checkpoint_model(self, folder: Path, loop: Loop) -> None:
        self.save(folder)
        self.save(self.out)  # a usable encoder at every checkpoint

    def agree_to_stop(self, stop: bool) -> bool:
        """All processes must stop on the same step, or DDP would wait forever."""
        if self.world == 1:
            return stop
        flag = torch.tensor([float(stop)], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    def finish(self, loop: Loop) -> dict:
        state = loop.state
        if self.main:
            print(json.dumps({"steps": state["step"], "epochs_done": state["epoch"], "last_loss": state["loss"],
                              "seconds": round(state["seconds"], 1)}))
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


def pretrain_config(values: dict, resume: bool) -> PretrainConfig:
    """The config of a run from command-line values; on --resume, the saved one, except where a
    new budget or machine was given."""
    saved = Path(values["output"]) / "pretrain_config.json"
    if resume and saved.exists():
        keep = ("output", "device", "threads", "max_minutes", "max_steps", "epochs")
        values = {**json.loads(saved.read_text(encoding="utf-8")), **{k: v for k, v in values.items() if k in keep}}
    return PretrainConfig.from_dict(values)

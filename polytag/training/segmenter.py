"""Train the multilingual raw-text segmenter on every UD train split and export it to ONNX.

    python -m polytag.training.segmenter ../shared/ud runs --minutes 25

writes runs/segmenter/{segmenter.onnx, segmenter.json, mwt.json} (the folder
`polytag.tagging.segmenter.Segmenter.load` reads) and runs/segmenter-checkpoint.pt, from
which a rerun resumes. Small treebanks are sampled up (weight ~ size ** sample_power) so
that the big ones do not drown them; the checkpoint kept is the best on the dev splits.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from polytag.core import segmentation as seg
from polytag.core.errors import InputError
from polytag.nn.segmenter import SegmenterLabels, SegmenterNet

FOLDER = "segmenter"
ONNX_NAME, CONFIG_NAME, MWT_NAME = "segmenter.onnx", "segmenter.json", "mwt.json"


@dataclass
class TrainConfig:
    minutes: float = 25.0
    batch_size: int = 32
    crop: int = 256  # characters per training window
    lr: float = 3e-3
    warmup_fraction: float = 0.03
    sample_power: float = 0.5  # treebank weight ~ characters ** sample_power
    eval_minutes: float = 3.0
    dev_chars: int = 40_000  # per dev treebank, for model selection while training
    threads: int = 1
    seed: int = 1
    quantize: bool = False  # int8 dynamic quantisation of the exported graph
    resume: bool = True


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


def joined_paragraphs(sentences: list[seg.GoldSentence], max_chars: int | None = None):
    """(text, labels) of paragraphs joined by '\\n\\n', at most max_chars (whole paragraphs)."""
    texts, labels, size = [], [], 0
    for paragraph in seg.gold_paragraphs(sentences):
        if texts:
            texts.append("\n\n")
            labels.append(np.zeros(2, np.uint8))
        texts.append(paragraph.text)
        labels.append(paragraph.labels)
        size += len(paragraph.text) + 2
        if max_chars is not None and size >= max_chars:
            break
    return "".join(texts), np.concatenate(labels)


def language_of(treebank: str) -> str:
    return treebank.split("_")[0]


def load_training_data(ud_dir: Path, n_buckets: int, log: Callable[[str], None]):
    """Per-treebank feature arrays and the MWT lexicon learned from all train splits."""
    treebanks, pairs, word_counts = [], [], defaultdict(Counter)
    for path in treebank_files(ud_dir, "train"):
        sentences = seg.read_gold_sentences(path)
        language = language_of(path.parent.name)
        pairs.extend((form, words, language) for form, words in seg.mwt_pairs(sentences))
        word_counts[language].update(t.form.lower() for s in sentences for t in s.tokens)
        text, labels = joined_paragraphs(sentences)
        char_ids, cat_ids, _ = seg.featurize(text, n_buckets)
        name = path.parent.name
        treebanks.append(TreebankArrays(name, char_ids.astype(np.int32),
                                        cat_ids.astype(np.int8), labels))  # fmt: skip
    log(f"{len(treebanks)} treebanks, {sum(len(t.labels) for t in treebanks):,} characters, "
        f"{len(pairs):,} multiword tokens")  # fmt: skip
    return treebanks, seg.MwtLexicon.learn(pairs, word_counts)


def load_dev_sets(ud_dir: Path, max_chars: int | None) -> list[DevSet]:
    """Dev raw text with gold items, decoded from the gold labels by the same decoder."""
    config, result = seg.SegmenterConfig(max_sentence_chars=10**9), []
    for path in treebank_files(ud_dir, "dev"):
        sentences = seg.read_gold_sentences(path)
        text, labels = joined_paragraphs(sentences, max_chars)
        expander = _GoldLexicon(sentences).expander()
        gold = seg.decode_region(text, labels, 0, True, expander, config)
        result.append(DevSet(path.parent.name, text, seg.segmentation_items(gold.sentences)))
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
    """Random crops from treebanks drawn with weight ~ size ** power."""

    def __init__(self, treebanks: list[TreebankArrays], config: TrainConfig):
        self.treebanks, self.config = treebanks, config
        sizes = np.array([len(t.labels) for t in treebanks], dtype=np.float64)
        weights = sizes**config.sample_power
        self.p = weights / weights.sum()
        self.rng = np.random.default_rng(config.seed)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        crop, n = self.config.crop, self.config.batch_size
        chars = np.zeros((n, crop), np.int64)
        cats, labels = np.zeros_like(chars), np.zeros_like(chars)
        for row, k in enumerate(self.rng.choice(len(self.treebanks), size=n, p=self.p)):
            tb = self.treebanks[k]
            start = int(self.rng.integers(-crop // 4, max(1, len(tb.labels) - crop // 2)))
            lo, hi = max(0, start), min(len(tb.labels), start + crop)  # edges: padding
            at = lo - start
            chars[row, at : at + hi - lo] = tb.char_ids[lo:hi]
            cats[row, at : at + hi - lo] = tb.cat_ids[lo:hi]
            labels[row, at : at + hi - lo] = tb.labels[lo:hi]
        return torch.from_numpy(chars), torch.from_numpy(cats), torch.from_numpy(labels)


def torch_predictor(net: SegmenterNet) -> seg.Predictor:
    def predict(char_ids: np.ndarray, cat_ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = net(torch.from_numpy(char_ids), torch.from_numpy(cat_ids))
        return logits.argmax(-1).numpy()

    return predict


def evaluate_dev(predict: seg.Predictor, config, lexicon, dev_sets) -> dict[str, dict]:
    """Quick span F1 per dev treebank: tokens, sentences, words."""
    scores = {}
    for dev in dev_sets:
        sentences = seg.segment_with(predict, config, lexicon, [dev.text])
        items = seg.segmentation_items(sentences)
        scores[dev.name] = {k: seg.span_f1(dev.gold[k], items[k]) for k in dev.gold}
    return scores


def macro(scores: dict[str, dict]) -> dict[str, float]:
    keys = ("tokens", "words", "sentences")
    return {k: 100 * sum(s[k] for s in scores.values()) / max(1, len(scores)) for k in keys}


def selection_score(m: dict[str, float]) -> float:
    return m["tokens"] + m["words"] + m["sentences"]


def learning_rate(config: TrainConfig, fraction: float) -> float:
    """Linear warm-up, then cosine decay to 5 % over the time budget."""
    if fraction < config.warmup_fraction:
        return config.lr * max(fraction / config.warmup_fraction, 0.01)
    rest = (fraction - config.warmup_fraction) / (1 - config.warmup_fraction)
    return config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(rest, 1.0))))


@dataclass
class TrainState:
    step: int = 0
    elapsed: float = 0.0  # training seconds so far (survives resume)
    best: float = -1.0
    best_state: dict | None = None


def train_segmenter(
    ud_dir: str | Path,
    out_dir: str | Path,
    minutes: float = 25.0,
    config: TrainConfig | None = None,
    model_config: seg.SegmenterConfig | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train on all train splits of ud_dir, select on dev, export to out_dir/segmenter/."""
    config = config or TrainConfig()
    config.minutes = minutes
    model_config = model_config or seg.SegmenterConfig()
    ud_dir, out_dir = Path(ud_dir), Path(out_dir)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    treebanks, lexicon = load_training_data(ud_dir, model_config.n_buckets, log)
    dev_sets = load_dev_sets(ud_dir, config.dev_chars)
    net = SegmenterNet(model_config)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    checkpoint = out_dir / f"{FOLDER}-checkpoint.pt"
    state = _resume(checkpoint, net, optimizer, log) if config.resume else TrainState()
    _train_loop(net, optimizer, BatchSampler(treebanks, config), state, config, log,
                lambda: _evaluate_and_keep(net, state, model_config, lexicon, dev_sets, log),
                lambda: _save_checkpoint(checkpoint, net, optimizer, state))  # fmt: skip
    if state.best_state is not None:
        net.load_state_dict(state.best_state)
    folder = export_segmenter(net, model_config, lexicon, out_dir / FOLDER, config.quantize)
    log(f"exported {folder} (best dev tokens+words+sentences {state.best:.2f})")
    return folder


def _train_loop(net, optimizer, sampler, state, config, log, evaluate, checkpoint) -> None:
    budget = config.minutes * 60
    next_eval = state.elapsed + config.eval_minutes * 60
    last_log, losses = time.monotonic(), []
    while state.elapsed < budget:
        started = time.monotonic()
        net.train()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, state.elapsed / budget)
        chars, cats, labels = sampler.batch()
        loss = F.cross_entropy(net(chars, cats).reshape(-1, seg.N_CLASSES), labels.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        state.step += 1
        state.elapsed += time.monotonic() - started
        if time.monotonic() - last_log > 30:
            log(f"step {state.step} {state.elapsed / 60:.1f}/{config.minutes:g} min "
                f"loss {np.mean(losses):.4f}")  # fmt: skip
            last_log, losses = time.monotonic(), []
        if state.elapsed >= next_eval or state.elapsed >= budget:
            evaluate()
            checkpoint()
            next_eval = state.elapsed + config.eval_minutes * 60


def _evaluate_and_keep(net, state, model_config, lexicon, dev_sets, log) -> None:
    net.eval()
    scores = macro(evaluate_dev(torch_predictor(net), model_config, lexicon, dev_sets))
    score = selection_score(scores)
    log("dev " + " ".join(f"{k} {v:.2f}" for k, v in scores.items()) + f" (step {state.step})")
    if score > state.best:
        state.best, state.best_state = score, copy.deepcopy(net.state_dict())


def _save_checkpoint(path: Path, net, optimizer, state: TrainState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"net": net.state_dict(), "optimizer": optimizer.state_dict(), "state": asdict(state)}
    torch.save(payload, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


def _resume(path: Path, net, optimizer, log) -> TrainState:
    if not path.exists():
        return TrainState()
    payload = torch.load(path, weights_only=False)
    net.load_state_dict(payload["net"])
    optimizer.load_state_dict(payload["optimizer"])
    state = TrainState(**payload["state"])
    log(f"resumed from {path} at step {state.step} ({state.elapsed / 60:.1f} min)")
    return state


def export_segmenter(
    net: SegmenterNet, config: seg.SegmenterConfig, lexicon: seg.MwtLexicon, folder: Path,
    quantize: bool = False,
) -> Path:  # fmt: skip
    """Write segmenter.onnx (argmax labels, dynamic batch and length), config and lexicon."""
    folder.mkdir(parents=True, exist_ok=True)
    graph = SegmenterLabels(net).eval()
    example = (torch.ones(2, 64, dtype=torch.long), torch.ones(2, 64, dtype=torch.long))
    axes = {0: "windows", 1: "length"}
    onnx_path = folder / ONNX_NAME
    with warnings.catch_warnings():  # the legacy exporter is the one that handles this graph
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, example, str(onnx_path), input_names=["char_ids", "cat_ids"],
            output_names=["labels"], opset_version=17, dynamo=False,
            dynamic_axes={"char_ids": axes, "cat_ids": axes, "labels": axes},
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
    parser.add_argument("--quantize", action="store_true")
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--lexicon-only", action="store_true",
                        help="only relearn OUT/segmenter/mwt.json from the train splits")
    args = parser.parse_args(argv)
    if args.lexicon_only:
        _, lexicon = load_training_data(args.ud_dir, seg.SegmenterConfig.n_buckets, print)
        (args.out_dir / FOLDER).mkdir(parents=True, exist_ok=True)
        lexicon.save(args.out_dir / FOLDER / MWT_NAME)
        return 0
    config = TrainConfig(threads=args.threads, quantize=args.quantize, resume=not args.no_resume)
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

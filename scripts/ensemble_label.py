"""Label unlabeled text with an ensemble: the shipped student and the e5 teacher tag the same
words and their UPOS and FEATS-bundle probabilities are averaged (`--weight`: the teacher's
share, chosen by `benchmarks/ensemble_check.py`). Writes one CoNLL-U pseudo-treebank per
language, `OUT/<lang>_pseudo/<lang>_pseudo-ud-train.conllu`, to train a student on beside the UD
train splits: distillation by the ensemble's decisions on whole words, as the student keeps its
own vocabulary. Beside each file, `<lang>_pseudo-ud-train.soft.npz` keeps the pair's probabilities
(polytag.training.soft_targets) for `polytag train --soft-temperature T`.

    python scripts/ensemble_label.py ../shared/text runs/pseudo --teacher runs/teacher_l6 --per-language 2000
    python scripts/ensemble_label.py ../shared/text runs/pseudo --teacher teachers/e5-features/teacher.pt \
        --encoder runs/e5-l6

`--teacher` is a polytag model folder (a fine-tuned teacher) or a feature teacher's teacher.pt
(`polytag.training.feature_teacher`), which reads the frozen encoder of `--encoder`.

Sentences under 10 characters are dropped (as the paper's transfer set); a language's first
`--per-language` remaining lines, in a seeded random order (after `--offset` lines, so that a second
run with the same seed labels new sentences), are segmented by the student's own
segmenter. A finished language is skipped on a rerun (files are written whole, then renamed).
"""

from __future__ import annotations

import argparse
import lzma
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import polytag  # noqa: E402
from polytag.core.conllu_io import format_conllu  # noqa: E402
from polytag.tagging.raw import segment_text  # noqa: E402
from polytag.training.soft_targets import compress, labels_digest, soft_path, write_soft_targets  # noqa: E402


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class Ensemble:
    """Two taggers with the same UPOS inventory; decisions in the first one's label space (the
    second one's bundles mapped by name; those the first lacks drop out)."""

    def __init__(self, student, teacher, weight: float = 0.5, feats_weight: float | None = None):
        if student.labels.upos != teacher.labels.upos:
            raise SystemExit("the two models' UPOS inventories differ")
        self.student, self.teacher, self.weight = student, teacher, weight
        self.feats_weight = weight if feats_weight is None else feats_weight
        index = {b: i for i, b in enumerate(student.labels.bundles)}
        to_student = np.array([index.get(b, -1) for b in teacher.labels.bundles])
        self.known, self.target = to_student >= 0, to_student[to_student >= 0]

    def probabilities(self, sentences: list[list[str]]) -> tuple[tuple, tuple]:
        """((student UPOS, student bundle), (teacher UPOS, teacher bundle in the student's space))."""
        s = self.student.run(sentences, ("upos", "bundle"))
        t = self.teacher.run(sentences, ("upos", "bundle"))
        teacher_bundle = np.zeros((len(t["bundle"]), len(self.student.labels.bundles)))
        teacher_bundle[:, self.target] = softmax(t["bundle"].astype(np.float64))[:, self.known]
        return ((softmax(s["upos"].astype(np.float64)), softmax(s["bundle"].astype(np.float64))),
                (softmax(t["upos"].astype(np.float64)), teacher_bundle))

    @staticmethod
    def mix(probabilities: tuple[tuple, tuple], weight: float, feats_weight: float | None = None):
        """-> (UPOS, bundle) probabilities of the pair, the teacher's shares `weight` and `feats_weight`."""
        (su, sb), (tu, tb) = probabilities
        fw = weight if feats_weight is None else feats_weight
        return (1 - weight) * su + weight * tu, (1 - fw) * sb + fw * tb

    def decide(self, probabilities: tuple[tuple, tuple], sentences: list[list[str]], weight: float,
               feats_weight: float | None = None):
        """-> (UPOS per sentence, FEATS per sentence) from the teacher's share `weight` (of the
        FEATS probabilities: `feats_weight`, default the same; a teacher can be better at one)."""
        return self.labels_of(*self.mix(probabilities, weight, feats_weight), sentences)

    def labels_of(self, upos_p: np.ndarray, bundle_p: np.ndarray, sentences: list[list[str]]):
        """Mixed probabilities -> (UPOS per sentence, FEATS per sentence)."""
        labels = self.student.labels
        upos = [labels.upos[i] for i in upos_p.argmax(-1)]
        feats = [labels.bundles[i] for i in bundle_p.argmax(-1)]
        bounds = np.cumsum([0] + [len(x) for x in sentences])
        pairs = list(zip(bounds[:-1], bounds[1:]))
        return [upos[a:b] for a, b in pairs], [feats[a:b] for a, b in pairs]

    def predict(self, sentences: list[list[str]]):
        """-> (UPOS per sentence, FEATS per sentence, UPOS probabilities, bundle probabilities per word)."""
        upos_p, bundle_p = self.mix(self.probabilities(sentences), self.weight, self.feats_weight)
        return (*self.labels_of(upos_p, bundle_p, sentences), upos_p, bundle_p)


def load_teacher(path: str, encoder: str | None, threads: int, device: str = "cpu"):
    """A polytag model folder, or a feature teacher file with its frozen encoder (CPU only)."""
    if Path(path).is_file():
        import torch  # noqa: PLC0415

        from polytag.training.feature_teacher import FeatureTeacher  # noqa: PLC0415

        torch.set_num_threads(threads)
        return FeatureTeacher(path, encoder)
    return polytag.load(path, backend="torch", threads=threads, device=device)


def sample_lines(path: Path, n: int, min_chars: int, seed: int, offset: int = 0) -> list[str]:
    with lzma.open(path, "rt", encoding="utf-8") as f:
        lines = [line.strip() for line in f if len(line.strip()) >= min_chars]
    random.Random(seed).shuffle(lines)
    return lines[offset : offset + n]


def label_language(ensemble: Ensemble, segmenter, lines: list[str], out: Path, batch: int = 500) -> int:
    """Writes the pseudo-treebank `out` and, first, its soft targets beside it
    (polytag.training.soft_targets): so a finished CoNLL-U file always has them."""
    parts, words, soft = [], 0, []
    for at in range(0, len(lines), batch):
        # one line a paragraph: sentences never run across lines
        sentences = [s for s in segment_text(segmenter, "\n\n".join(lines[at : at + batch]), str(out)) if s.words]
        upos, feats, up, bp = ensemble.predict([s.words for s in sentences])
        parts.extend(format_conllu(s, u, f) for s, u, f in zip(sentences, upos, feats))
        soft.append(compress(up, bp))
        words += sum(len(s.words) for s in sentences)
    labels = ensemble.student.labels
    empty = compress(np.zeros((0, len(labels.upos))), np.zeros((0, len(labels.bundles))))
    write_soft_targets(soft_path(out), soft or [empty], labels_digest(labels.upos, labels.bundles))
    tmp = out.with_suffix(".tmp")
    tmp.write_text("".join(parts), encoding="utf-8")
    tmp.replace(out)
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text_dir", type=Path, help="folder of <lang>.txt.xz, one sentence a line")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--teacher", required=True, help="a model folder or a feature teacher's teacher.pt")
    parser.add_argument("--encoder", help="a feature teacher's encoder folder (default: the one it was trained on)")
    parser.add_argument("--student", default=str(polytag.DEFAULT_MODEL))
    parser.add_argument("--weight", type=float, default=0.5, help="the teacher's share of the probabilities")
    parser.add_argument("--feats-weight", type=float, help="its share of the FEATS probabilities (default: --weight)")
    parser.add_argument("--per-language", type=int, default=2000)
    parser.add_argument("--min-chars", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where both networks run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--offset", type=int, default=0,
                        help="skip this many lines of the seeded order: same seed, later offset, no overlap")
    args = parser.parse_args()
    student = polytag.load(args.student, backend="torch", threads=args.threads, device=args.device)
    teacher = load_teacher(args.teacher, args.encoder, args.threads, args.device)
    ensemble, segmenter = Ensemble(student, teacher, args.weight, args.feats_weight), student.segmenter
    for path in sorted(args.text_dir.glob("*.txt.xz")):
        lang = path.name.split(".")[0]
        out = args.out_dir / f"{lang}_pseudo" / f"{lang}_pseudo-ud-train.conllu"
        if out.exists():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        lines = sample_lines(path, args.per_language, args.min_chars, args.seed, args.offset)
        words = label_language(ensemble, segmenter, lines, out)
        print(f"{lang}: {len(lines)} lines, {words} words, {words / (time.perf_counter() - start):.0f} words/s",
              flush=True)


if __name__ == "__main__":
    main()

"""Would the shipped student and the CPU teacher together make a better teacher? Both tag the
dev gold tokens; their UPOS and FEATS-bundle probabilities are averaged (the teacher's bundles
mapped to the student's by name), and each mix is scored like `polytag evaluate`.

    python benchmarks/ensemble_check.py ../shared/ud runs/teacher_l6 --json docs/results/ensemble.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import polytag  # noqa: E402
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.evaluate import score  # noqa: E402

WEIGHTS = (0.0, 0.3, 0.5, 0.7, 1.0)  # the teacher's share


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def probabilities(tagger, sentences) -> tuple[np.ndarray, np.ndarray]:
    flat = tagger.run(sentences, ("upos", "bundle"))
    return softmax(flat["upos"].astype(np.float64)), softmax(flat["bundle"].astype(np.float64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("teacher")
    parser.add_argument("--student", default=str(polytag.DEFAULT_MODEL))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    student = polytag.load(args.student, backend="torch", threads=args.threads)
    teacher = polytag.load(args.teacher, backend="torch", threads=args.threads)
    if student.labels.upos != teacher.labels.upos:
        raise SystemExit("the two models' UPOS inventories differ")
    index = {b: i for i, b in enumerate(student.labels.bundles)}
    to_student = np.array([index.get(b, -1) for b in teacher.labels.bundles])
    rows = {}
    for dev in sorted(Path(args.data).glob("*/*-ud-dev.conllu*")):
        gold = list(read_conllu(dev))
        sentences = [s.words for s in gold]
        su, sb = probabilities(student, sentences)
        tu, tb_raw = probabilities(teacher, sentences)
        tb = np.zeros_like(sb)
        known = to_student >= 0
        tb[:, to_student[known]] = tb_raw[:, known]  # bundles the student lacks drop out
        bounds = np.cumsum([0] + [len(s) for s in sentences])
        row = {}
        for w in WEIGHTS:
            upos = ((1 - w) * su + w * tu).argmax(-1)
            bundle = ((1 - w) * sb + w * tb).argmax(-1)
            names_u = [student.labels.upos[i] for i in upos]
            names_b = [student.labels.bundles[i] for i in bundle]
            per_u = [names_u[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            per_b = [names_b[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            row[str(w)] = score(gold, per_u, per_b)
        rows[dev.parent.name] = row
        print(dev.parent.name, {w: (r["upos"], r["ufeats"]) for w, r in row.items()}, flush=True)
    macro = {w: {k: round(sum(r[w][k] for r in rows.values()) / len(rows), 2) for k in ("upos", "ufeats")}
             for w in map(str, WEIGHTS)}
    result = {"treebanks": rows, "macro": macro, "teacher": args.teacher, "student": args.student,
              "note": "dev, gold tokens; weight = the teacher's share of the averaged probabilities"}
    print(json.dumps(macro))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Would the shipped student and the CPU teacher together make a better teacher? Both tag the
dev gold tokens; their UPOS and FEATS-bundle probabilities are averaged (the teacher's bundles
mapped to the student's by name), and each mix is scored like `polytag evaluate`. A mix's UPOS
depends only on the UPOS share and its UFeats only on the FEATS share, so the best of each
column is the best pair of `ensemble_label.py --weight W --feats-weight F`.

    python benchmarks/ensemble_check.py ../shared/ud runs/teacher_l6 --json docs/results/ensemble.json
    python benchmarks/ensemble_check.py ../shared/ud teachers/e5-features/teacher.pt --encoder runs/e5-l6
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import polytag  # noqa: E402
from ensemble_label import Ensemble, load_teacher  # noqa: E402 - scripts/ensemble_label.py
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.evaluate import score  # noqa: E402

WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)  # the teacher's share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("teacher", help="a model folder or a feature teacher's teacher.pt")
    parser.add_argument("--encoder", help="a feature teacher's encoder folder (default: the one it was trained on)")
    parser.add_argument("--student", default=str(polytag.DEFAULT_MODEL))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    ensemble = Ensemble(polytag.load(args.student, backend="torch", threads=args.threads),
                        load_teacher(args.teacher, args.encoder, args.threads))
    rows = {}
    for dev in sorted(Path(args.data).glob("*/*-ud-dev.conllu*")):
        gold = list(read_conllu(dev))
        sentences = [s.words for s in gold]
        probabilities = ensemble.probabilities(sentences)
        rows[dev.parent.name] = row = {str(w): score(gold, *ensemble.decide(probabilities, sentences, w))
                                       for w in WEIGHTS}
        print(dev.parent.name, {w: (r["upos"], r["ufeats"]) for w, r in row.items()}, flush=True)
    macro = {w: {k: round(sum(r[w][k] for r in rows.values()) / len(rows), 2) for k in ("upos", "ufeats")}
             for w in map(str, WEIGHTS)}
    result = {"treebanks": rows, "macro": macro, "teacher": args.teacher, "student": args.student,
              "note": "dev, gold tokens; weight = the teacher's share of the averaged probabilities",
              "command": "python benchmarks/ensemble_check.py " + " ".join(sys.argv[1:])}
    best = {k: max(macro, key=lambda w: macro[w][k]) for k in ("upos", "ufeats")}
    result["best_weight"] = {"upos": float(best["upos"]), "ufeats": float(best["ufeats"])}
    print(json.dumps(macro), "best shares:", json.dumps(result["best_weight"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

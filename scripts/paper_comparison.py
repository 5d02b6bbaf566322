"""Our dev figures next to Tsai et al. 2019's Tables 8 (UPOS F1) and 9 (UFeats F1) for the same
treebanks: the shipped model on gold tokens and on raw text, and any other model folders given
(e.g. a teacher). Theirs are on the test sets from raw text; ours on dev.

    python scripts/paper_comparison.py ../shared/paper --model teacher_l6_epoch1=runs/teacher_l6 \\
        --teacher "feature teacher=teachers/e5-features/teacher.pt" --json docs/results/paper_comparison.json

`--keep NAME` carries a column over from the existing --json (a model folder that is gone).
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import polytag  # noqa: E402
from polytag.core.folder import load_metadata  # noqa: E402


def paper_table(path: Path) -> dict[str, dict[str, float]]:
    with open(path, encoding="utf-8") as f:
        return {row["treebank"]: {k: float(v) for k, v in row.items() if k != "treebank" and v}
                for row in csv.DictReader(f, delimiter="\t")}


def training_dev(folder: Path) -> dict[str, dict]:
    """Per-treebank dev scores recorded by training (metadata.json "dev", the head it decodes with)."""
    meta = load_metadata(folder)
    head = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("morph_decode", "bundle")
    return {k: v for k, v in ((meta.get("dev") or {}).get(head) or {}).get("files", {}).items()}


def teacher_dev(path: Path) -> dict[str, dict]:
    """Per-treebank dev scores a feature teacher file was picked by (its "dev" entry)."""
    import torch  # noqa: PLC0415 (only this option needs it)

    return torch.load(path, map_location="cpu", weights_only=False)["dev"]["files"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paper", help="folder with table8_upos_f1.tsv and table9_ufeats_f1.tsv")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=FOLDER",
                        help="another model folder whose training-time dev scores to add")
    parser.add_argument("--teacher", action="append", default=[], metavar="NAME=TEACHER.PT",
                        help="a feature teacher file whose dev scores to add")
    parser.add_argument("--keep", action="append", default=[], metavar="NAME",
                        help="copy this column from the existing --json")
    parser.add_argument("--json")
    args = parser.parse_args()
    old = json.loads(Path(args.json).read_text(encoding="utf-8")) if args.json and Path(args.json).exists() else {}
    for name in args.keep:
        if name not in old.get("macro", {}):
            sys.exit(f"error: --keep {name!r}: no such column in {args.json}")
    upos, ufeats = (paper_table(Path(args.paper) / name) for name in ("table8_upos_f1.tsv", "table9_ufeats_f1.tsv"))
    shipped = load_metadata(polytag.DEFAULT_MODEL)["dev_measured"]["files"]
    raw = json.loads((ROOT / "docs" / "results" / "raw_eval.json").read_text(encoding="utf-8"))["files"]
    others = {name: training_dev(Path(folder)) for name, folder in (m.split("=", 1) for m in args.model)}
    others |= {name: teacher_dev(Path(path)) for name, path in (t.split("=", 1) for t in args.teacher)}
    # columns whose UFeats compares every feature: records made before the gold-token scorer
    # followed CoNLL 2018 (they have no "allfeats"); a kept column keeps what it was
    all_features = [name for name, scores in {"shipped (gold tokens)": shipped, **others}.items()
                    if any("allfeats" not in r for r in scores.values())]
    all_features += [name for name in args.keep if name in old.get("all_features_columns", old.get("macro", {}))]
    rows = {}
    for key in sorted(shipped):
        tb = key.removesuffix("-ud-dev")
        row = {"shipped (gold tokens)": [shipped[key]["upos"], shipped[key]["ufeats"]],
               "shipped (raw text)": [raw[key]["UPOS"], raw[key]["UFeats"]] if key in raw else None}
        for name, scores in others.items():
            row[name] = [scores[tb]["upos"], scores[tb]["ufeats"]] if tb in scores else None
        for name in args.keep:
            row[name] = old["treebanks"].get(tb, {}).get(name)
        for system in ("mMiniBERT", "mBERT", "BERT", "Meta-LSTM", "mMeta-LSTM"):
            pair = [upos.get(tb, {}).get(system), ufeats.get(tb, {}).get(system)]
            row[f"paper {system}"] = pair if None not in pair else None
        rows[tb] = row
    systems = list(next(iter(rows.values())))
    both = [tb for tb in rows if all(rows[tb][s] is not None for s in systems)]
    macro = {s: [round(sum(rows[tb][s][i] for tb in both) / len(both), 2) for i in (0, 1)] for s in systems}
    result = {"treebanks": rows, "macro": macro, "macro_over": both, "all_features_columns": all_features,
              "note": "ours: dev; the paper's: test, from raw text (its Tables 8 and 9)",
              "command": shlex.join(["python", "scripts/paper_comparison.py", *sys.argv[1:]])}
    print(json.dumps(macro, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Merge samples labelled by scripts/ensemble_label.py into one folder: each language's
non-empty pseudo-treebanks concatenated in the order given, and their soft targets with them (so the rows
still follow the words).

    python scripts/merge_pseudo.py runs/pseudo_all runs/pseudo_o5000 runs/pseudo_o6000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.training.soft_targets import concatenate_files, soft_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("samples", type=Path, nargs="+")
    args = parser.parse_args()
    names = sorted({p.name for sample in args.samples for p in sample.glob("*_pseudo") if p.is_dir()})
    for name in names:
        # a language with no lines left at a sample's offset has an empty file there
        files = [f for sample in args.samples
                 if (f := sample / name / f"{name}-ud-train.conllu").exists() and f.stat().st_size]
        if not files:
            print(f"{name}: no words in any sample, left out")
            continue
        out = args.out / name / f"{name}-ud-train.conllu"
        out.parent.mkdir(parents=True, exist_ok=True)
        softs = [soft_path(f) for f in files]
        if all(s.exists() for s in softs):
            concatenate_files(softs, soft_path(out))
        elif any(s.exists() for s in softs):
            raise SystemExit(f"{name}: only some samples have soft targets; label them again or merge without")
        out.write_text("".join(f.read_text(encoding="utf-8") for f in files), encoding="utf-8")
        print(f"{name}: {len(files)} samples")


if __name__ == "__main__":
    main()

"""Collect the treebank-hint experiments (issue 19, item 4) into one JSON for docs/results.md.

    scripts/treebank_hint_ablation.sh 60     # A: no hint, B: hints, both continuing the shipped model
    scripts/hints_only.sh 35                 # C: only hint vectors trained on the shipped model
    python scripts/keep_shared_language_hints.py runs/hints_only ../shared/ud -o runs/hints_shared   # D
    polytag export --model runs/hints_shared
    polytag evaluate ../shared/ud/*/*-ud-dev.conllu.xz --model runs/hints_shared --treebank auto \
        --json runs/hints_shared.dev_hint.json
    python benchmarks/treebank_hint.py --json docs/results/treebank_hint.json

Reads the dev scores those scripts leave in runs/ (int8 ONNX, gold tokens) and the training
records of each run (minutes, steps); an arm whose files are missing is left out. The
"shipped" scores (the model every arm continued) are read once, from docs/results/default_model.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ARMS = {  # name -> (dev scores file, model folder, how it was made)
    "A: no hint": ("runs/hint_off.dev.json", "runs/hint_off", "scripts/treebank_hint_ablation.sh 60"),
    "B: hints, scored without": ("runs/hint_on.dev_nohint.json", "runs/hint_on", "scripts/treebank_hint_ablation.sh 60"),
    "B: hints, each file's own": ("runs/hint_on.dev_hint.json", "runs/hint_on", "scripts/treebank_hint_ablation.sh 60"),
    "C: hint vectors only, scored without": ("runs/hints_only.dev_nohint.json", "runs/hints_only",
                                             "scripts/hints_only.sh 35"),
    "C: hint vectors only, each file's own": ("runs/hints_only.dev_hint.json", "runs/hints_only",
                                              "scripts/hints_only.sh 35"),
    "D: C's hints for languages with several treebanks, each file's own": (
        "runs/hints_shared.dev_hint.json", "runs/hints_shared",
        "scripts/hints_only.sh 35; python scripts/keep_shared_language_hints.py runs/hints_only ../shared/ud "
        "-o runs/hints_shared"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    arms = {}
    for name, (scores, folder, command) in ARMS.items():
        if not Path(scores).exists():
            continue
        metadata = json.loads((Path(folder) / "metadata.json").read_text(encoding="utf-8"))
        arms[name] = {"dev": json.loads(Path(scores).read_text(encoding="utf-8")), "command": command,
                      "minutes": round(metadata["training_seconds"] / 60, 1), "steps": metadata["steps"],
                      "epoch": metadata["epoch"]}
    # the model these runs continued: kept from an earlier collection, since shipping one of the
    # arms later rewrites default_model.json
    before = json.loads(Path(args.json).read_text(encoding="utf-8")) if Path(args.json).exists() else {}
    shipped = before.get("shipped") or json.loads(
        Path("docs/results/default_model.json").read_text(encoding="utf-8"))["evaluation"]
    result = {"arms": arms, "shipped": shipped,
              "note": "dev, gold tokens, int8 ONNX; every arm continues the model shipped before this experiment "
                      "(itself trained on UD + machine-labelled text) on the UD train splits only, one thread each"}
    Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name, arm in arms.items():
        print(f"{name:40s} {arm['dev']['macro']['upos']:.2f} / {arm['dev']['macro']['ufeats']:.2f}")


if __name__ == "__main__":
    main()

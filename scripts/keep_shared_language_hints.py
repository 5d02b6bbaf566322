"""Keep a model's treebank hints only for treebanks whose language has other treebanks.

    python scripts/keep_shared_language_hints.py runs/hints_only ../shared/ud -o runs/hints_shared

`polytag train` now learns hints only for those (training.supervised.shared_language_treebanks);
this applies the same rule to a model trained before, by dropping the other rows. For a model
trained with --hints-only the result is what retraining with the rule gives: each row there
learns only from its own treebank's sentences, and sentences without a row get row 0, which
--hints-only never moves.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from polytag.nn.model_io import load_model, save_model  # noqa: E402
from polytag.training.data import find_treebanks  # noqa: E402
from polytag.training.supervised import shared_language_treebanks  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path, help="the treebank folder the model was trained on")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    model, tokenizer, labels, config = load_model(args.model)
    metadata = json.loads((args.model / "metadata.json").read_text(encoding="utf-8"))
    trained = [tb for tb in find_treebanks(args.data).values() if tb.id in metadata["treebanks"]]
    keep = [tb for tb in config.treebank_hints if tb in shared_language_treebanks(trained)]
    dropped = [tb for tb in config.treebank_hints if tb not in keep]
    model.set_treebank_hints(keep)
    metadata["hints_dropped"] = {"treebanks": dropped, "command": " ".join(["python", *sys.argv])}
    if args.output.exists():
        shutil.rmtree(args.output)
    save_model(args.output, model, tokenizer, labels, metadata)
    print(f"{args.output}: hints for {len(keep)} treebanks, dropped {len(dropped)}: {', '.join(dropped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

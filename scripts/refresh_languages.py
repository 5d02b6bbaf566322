"""Score a model folder on every dev file and write its language table into its metadata.json
(`metadata["languages"]`, read by `polytag languages`) and into README.md, with the command, date
and commit that measured it (`metadata["dev_measured"]`).

    python scripts/refresh_languages.py polytag/models/default ../shared/ud
"""

from __future__ import annotations

import argparse
import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import polytag
from polytag.core.evaluate import evaluate_files
from polytag.core.folder import METADATA_FILE, git_commit, load_metadata
from polytag.core.languages import format_languages, languages_from_scores, replace_readme_table
from polytag.tagging import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="model folder")
    parser.add_argument("data", help="treebank folder with MANIFEST.tsv (language names) and <id>/<id>-ud-dev.conllu.xz")
    args = parser.parse_args()
    model, data = Path(args.model), Path(args.data)
    with open(data / "MANIFEST.tsv", encoding="utf-8") as f:
        names = {row["language_code"]: row["language"] for row in csv.DictReader(f, delimiter="\t")}
    dev_files = sorted(data.glob("*/*-ud-dev.conllu*"))
    result = evaluate_files(load(model), dev_files)
    metadata = load_metadata(model)
    metadata["languages"] = languages_from_scores(metadata.get("treebanks", {}), names, result["files"])
    metadata["dev_measured"] = {
        "command": f"python scripts/refresh_languages.py {args.model} {args.data}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": git_commit(),
        "macro": result["macro"], "files": result["files"],
    }
    (model / METADATA_FILE).write_text(json.dumps(metadata, indent=1, ensure_ascii=False), encoding="utf-8")
    results = Path(__file__).resolve().parents[1] / "docs" / "results" / "default_model.json"
    if model.resolve() == polytag.DEFAULT_MODEL.resolve() and results.exists():  # the shipped model's section
        shipped = json.loads(results.read_text(encoding="utf-8"))
        shipped["evaluation"] = {"files": result["files"], "macro": result["macro"]}
        shipped["evaluation_command"] = metadata["dev_measured"]["command"]
        results.write_text(json.dumps(shipped, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    readme = Path(__file__).resolve().parents[1] / "README.md"
    readme.write_text(replace_readme_table(readme.read_text(encoding="utf-8"), metadata["languages"]), encoding="utf-8")
    print(format_languages(metadata["languages"]))
    print(f"dev macro over {len(result['files'])} files: UPOS {result['macro']['upos']:.2f}, "
          f"UFeats {result['macro']['ufeats']:.2f}")


if __name__ == "__main__":
    main()

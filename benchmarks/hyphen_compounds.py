"""How segmenters split English hyphenated compounds: whole, split at every hyphen, or broken.

    python benchmarks/hyphen_compounds.py polytag/models/default/segmenter runs/seg_shipped_64

English treebanks disagree (en_ewt writes `15 - year - old`, en_gum/en_lines/en_partut
`15-year-old`), so a segmenter trained on all of them may cut a compound on one side of a hyphen
only (`15-|year|-old`, `mother|-in-law`), which no treebank does. 30 compounds in 3 sentence
frames, no treebank hint; each segmenter folder (with its own multiword lexicon) is counted as
given: whole / split / broken, with the first broken outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.tagging.segmenter import Segmenter  # noqa: E402

COMPOUNDS = [
    "15-year-old", "well-known", "state-of-the-art", "long-term", "e-mail", "self-esteem", "mother-in-law",
    "high-quality", "three-day", "follow-up", "x-ray", "full-time", "part-time", "first-class", "up-to-date",
    "non-profit", "co-worker", "anti-war", "so-called", "twenty-five", "50-year", "old-fashioned", "check-in",
    "real-time", "user-friendly", "pre-war", "post-war", "mid-1990s", "T-shirt", "one-third",
]  # fmt: skip
FRAMES = ["It was a {} thing.", "The {} plan failed.", "She sent a {} message yesterday."]


def count(segmenter: Segmenter) -> dict:
    whole = split = 0
    broken = []
    for compound in COMPOUNDS:
        parts = compound.split("-")
        for frame in FRAMES:
            forms = [t.form for s in segmenter.segment(frame.format(compound)) for t in s.tokens]
            if compound in forms:
                whole += 1
            elif all(p in forms for p in parts) and forms.count("-") >= len(parts) - 1:
                split += 1
            else:
                broken.append("|".join(forms))
    return {"whole": whole, "split": split, "broken": len(broken), "broken_examples": broken[:5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("segmenters", nargs="+", help="segmenter folders (<model>/segmenter)")
    args = parser.parse_args()
    for folder in args.segmenters:
        print(folder, json.dumps(count(Segmenter.load(folder)), ensure_ascii=False))


if __name__ == "__main__":
    main()

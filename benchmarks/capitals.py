"""Text in capitals and in lowercase: dev UPOS / UFeats with gold tokens (no hint), and Tokens /
Sentences F1 of the segmenter on the dev raw text, as written, in capitals and lowercased.

Segmentation is scored with the quick span F1 (`core.segmentation.span_f1`) over the dev texts
whose capitalised form keeps every character's position (str.upper() turns ß into SS).

    python benchmarks/capitals.py ../shared/ud [--model DIR] [--json FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.evaluate import file_keys, macro, score  # noqa: E402
from polytag.core.segmentation import raw_text, read_gold_sentences, segmentation_items, span_f1  # noqa: E402
from polytag.tagging import load  # noqa: E402
from polytag.tagging.raw import load_segmenter  # noqa: E402
from dev_files import dev_parser, gold_spans  # noqa: E402 - beside this file

CASINGS = {"as written": lambda s: s, "in capitals": str.upper, "lowercased": str.lower}


def main() -> None:
    args = dev_parser(__doc__.splitlines()[0]).parse_args()
    paths = sorted(args.data.glob("*/*-ud-dev.conllu*"))
    tagger, segmenter = load(args.model), load_segmenter(args.model)
    tagging: dict[str, dict] = {way: {} for way in CASINGS}
    segmentation: dict[str, dict] = {way: {} for way in CASINGS}
    for key, path in zip(file_keys(paths), paths):
        gold = list(read_conllu(path))
        for way, case in CASINGS.items():
            tagging[way][key] = score(gold, *tagger.predict([[case(w) for w in s.words] for s in gold]))
        text = raw_text(read_gold_sentences(path))
        if any(len(case(text)) != len(text) for case in CASINGS.values()):
            continue
        tokens, sentences = gold_spans(read_gold_sentences(path), text)
        for way, case in CASINGS.items():
            items = segmentation_items(segmenter.segment(case(text)))
            segmentation[way][key] = {"tokens": round(100 * span_f1(tokens, items["tokens"]), 2),
                                      "sentences": round(100 * span_f1(sentences, items["sentences"]), 2)}
        print(key, json.dumps({way: tagging[way][key] for way in CASINGS}),
              json.dumps({way: segmentation[way][key] for way in CASINGS}), flush=True)
    result = {
        "tagging": {way: macro(files) for way, files in tagging.items()},
        "segmentation": {way: {m: round(sum(f[m] for f in files.values()) / len(files), 2)
                               for m in ("tokens", "sentences")} for way, files in segmentation.items()},
        "segmentation_files": len(segmentation["as written"]),
        "tagging_files": len(paths),
        "command": f"python benchmarks/capitals.py {args.data}",
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

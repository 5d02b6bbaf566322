"""The word lexicon's text lexicons: dev UPOS / UFeats (gold tokens, no hint) of the network
alone, with the word lexicon of the train splits alone, and with the text lexicons added (the
UPOS that machine-labelled text gave the forms no train split of their language has), per
file and macro; also the words each way changes and how many of those are right.

    python benchmarks/text_lexicon.py ../shared/ud [--model DIR] [--json FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.evaluate import file_keys, macro, score  # noqa: E402
from polytag.tagging import load  # noqa: E402
from dev_files import dev_parser  # noqa: E402 - beside this file

WAYS = ("network alone", "train-split lexicon", "with text lexicons")


def main() -> int:
    args = dev_parser(__doc__.splitlines()[0]).parse_args()
    paths = sorted(args.data.glob("*/*-ud-dev.conllu*"))
    network = load(args.model, lexicon=False)
    with_text = load(args.model)
    if with_text.lexicon is None or not with_text.lexicon.text_forms:
        print(f"{args.model}: its word lexicon has no text lexicons (`polytag lexicon --text`)", file=sys.stderr)
        return 2
    train_only = load(args.model)
    train_only.lexicon = with_text.lexicon.without_text()
    files: dict[str, dict] = {way: {} for way in WAYS}
    changed = {"words": 0, "upos right before": 0, "upos right after": 0}
    for key, path in zip(file_keys(paths), paths):
        gold = list(read_conllu(path))
        words = [s.words for s in gold]
        before = train_only.predict(words)
        after = with_text.predict(words)
        for way, labels in zip(WAYS, (network.predict(words), before, after)):
            files[way][key] = score(gold, *labels)
        for sentence, old, new in zip(gold, before[0], after[0]):
            for truth, a, b in zip(sentence.upos, old, new):
                if a != b:
                    changed["words"] += 1
                    changed["upos right before"] += a == truth
                    changed["upos right after"] += b == truth
    result = {
        "command": f"python benchmarks/text_lexicon.py {args.data}",
        "text_forms": sum(with_text.lexicon.text_forms.values()),
        "text_languages": len(with_text.lexicon.text_forms),
        "macro": {way: macro(scores) for way, scores in files.items()},
        "files": {key: {way: files[way][key] for way in WAYS} for key in files[WAYS[0]]},
        "changed_by_text": changed,
    }
    print(json.dumps({k: result[k] for k in ("macro", "changed_by_text", "text_forms")}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

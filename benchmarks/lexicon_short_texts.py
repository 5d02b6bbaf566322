"""The word lexicon on short texts: dev UPOS / UFeats (gold tokens, no hint) when each file is
one text, as `polytag evaluate` tags it, and when every sentence is a text of its own (a server
request of one sentence: the lexicon's guess of language and treebank starts afresh at each),
beside the network alone.

    python benchmarks/lexicon_short_texts.py ../shared/ud [--model DIR] [--json FILE]
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


def main() -> None:
    args = dev_parser(__doc__.splitlines()[0]).parse_args()
    paths = sorted(args.data.glob("*/*-ud-dev.conllu*"))
    tagger, network = load(args.model), load(args.model, lexicon=False)
    ways = {"network alone": {}, "lexicon, each file one text": {}, "lexicon, each sentence one text": {}}
    for key, path in zip(file_keys(paths), paths):
        gold = list(read_conllu(path))
        words = [s.words for s in gold]
        ways["network alone"][key] = score(gold, *network.predict(words))
        ways["lexicon, each file one text"][key] = score(gold, *tagger.predict(words))
        ways["lexicon, each sentence one text"][key] = score(gold, *tagger.predict(words, documents=[1] * len(words)))
    result = {way: macro(files) for way, files in ways.items()}
    result["command"] = f"python benchmarks/lexicon_short_texts.py {args.data}"
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

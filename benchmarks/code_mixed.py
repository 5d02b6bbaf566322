"""Text that changes language from one sentence to the next: dev UPOS / UFeats (gold tokens, no
hint) of pairs of dev files whose sentences are interleaved into one text (A1 B1 A2 B2 ...),
against each file tagged as a text of its own and against the network alone (no word lexicon),
so that what the lexicon's guess of the text's language does to mixed text is measured.

    python benchmarks/code_mixed.py ../shared/ud [--model DIR] [--sentences 300] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag import DEFAULT_MODEL  # noqa: E402
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.evaluate import macro, score  # noqa: E402
from polytag.tagging import load  # noqa: E402

# related languages (and conventions) side by side, and distant ones
PAIRS = [("en_ewt", "fr_sequoia"), ("en_ewt", "pt_gsd"), ("fr_sequoia", "it_partut"), ("sv_lines", "af_afribooms"),
         ("tr_imst", "hu_szeged"), ("el_gdt", "be_hse"), ("cs_cltt", "lt_hse"), ("en_gum", "ko_gsd")]
WAYS = ("interleaved, one text", "each file one text", "network alone, interleaved")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="treebank folder with <id>/<id>-ud-dev.conllu[.xz]")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--sentences", type=int, default=300, help="at most this many of each file")
    parser.add_argument("--json")
    args = parser.parse_args()
    tagger, network = load(args.model), load(args.model, lexicon=False)
    rows: dict[str, dict] = {}
    for a, b in PAIRS:
        gold = []
        for treebank in (a, b):
            path = next(iter(sorted((args.data / treebank).glob(f"{treebank}-ud-dev.conllu*"))), None)
            if path is None:
                sys.exit(f"{args.data / treebank}: no dev file")
            gold.append(list(read_conllu(path))[: args.sentences])
        n = min(len(g) for g in gold)
        first, second = gold[0][:n], gold[1][:n]
        words = [s.words for pair in zip(first, second) for s in pair]
        mixed_upos, mixed_feats = tagger.predict(words)
        alone_upos, alone_feats = network.predict(words)
        key = f"{a} + {b}"
        rows[key] = {"sentences each": n}
        for i, (treebank, part) in enumerate(((a, first), (b, second))):
            apart = tagger.predict([s.words for s in part])
            rows[key][treebank] = {
                WAYS[0]: score(part, mixed_upos[i::2], mixed_feats[i::2]),
                WAYS[1]: score(part, *apart),
                WAYS[2]: score(part, alone_upos[i::2], alone_feats[i::2]),
            }
        print(key, json.dumps(rows[key]), flush=True)
    files = [scores for row in rows.values() for name, scores in row.items() if name != "sentences each"]
    result = {"pairs": rows, "macro": {way: macro({i: f[way] for i, f in enumerate(files)}) for way in WAYS},
              "command": f"python benchmarks/code_mixed.py {args.data} --sentences {args.sentences}"}
    print(json.dumps(result["macro"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

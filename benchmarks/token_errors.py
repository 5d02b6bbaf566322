"""Which tokens the segmenter gets wrong: per dev treebank, the gold tokens it missed and the
tokens it made that the gold lacks, most frequent first (dev raw text rebuilt from the gold).

    python benchmarks/token_errors.py ../shared/ud en_ewt tr_imst [--model DIR] [--hint] [--top 40]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag import DEFAULT_MODEL  # noqa: E402
from polytag.core.segmentation import raw_text, read_gold_sentences, segmentation_items  # noqa: E402
from polytag.tagging.segmenter import Segmenter  # noqa: E402
from dev_files import gold_spans  # noqa: E402 - beside this file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="treebank folder with <id>/<id>-ud-dev.conllu[.xz]")
    parser.add_argument("treebanks", nargs="+")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--hint", action="store_true", help="segment each as its own treebank")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    segmenter = Segmenter.load(args.model / "segmenter")
    for treebank in args.treebanks:
        path = next(iter(sorted((args.data / treebank).glob(f"{treebank}-ud-dev.conllu*"))), None)
        if path is None:
            sys.exit(f"{args.data / treebank}: no dev file")
        sentences = read_gold_sentences(path)
        text = raw_text(sentences)
        gold, _ = gold_spans(sentences, text)
        system = segmentation_items(segmenter.segment(text, treebank if args.hint else None))["tokens"]
        missed = Counter(text[a:b] for a, b in gold - system)
        extra = Counter(text[a:b] for a, b in system - gold)
        print(f"{treebank}: {len(gold)} gold tokens, {len(system)} made, {len(gold & system)} right")
        print("  missed:", missed.most_common(args.top))
        print("  extra: ", extra.most_common(args.top))


if __name__ == "__main__":
    main()

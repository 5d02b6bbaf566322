"""Measure WordPiece vocabulary sizes: fertility and [UNK] rate on dev words, per size.

    python scripts/measure_vocab.py ../shared/ud 8000 16000 32000 48000 > docs/vocab_sizes.json
"""

import json
import random
import sys
import time

from polytag.data import find_treebanks, load_sentences
from polytag.vocab import tokenizer_stats, train_wordpiece


def main():
    root, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
    treebanks = find_treebanks(root)
    text = {}
    dev_words = []
    for tb in treebanks.values():
        if tb.train:
            text.setdefault(tb.language, []).extend(" ".join(s.words) for s in load_sentences(tb.train, tb.id))
        if tb.dev:
            dev_words += [w for s in load_sentences(tb.dev, tb.id) for w in s.words]
    rows = []
    for size in sizes:
        t = time.time()
        tok = train_wordpiece(text, size)
        stats = tokenizer_stats(tok, dev_words)
        rows.append({"vocab_size": size, "actual": len(tok), **{k: round(v, 4) for k, v in stats.items()},
                     "train_seconds": round(time.time() - t, 1)})
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

"""Measure WordPiece vocabulary sizes: fertility and [UNK] rate on dev words, per size.

    python scripts/measure_vocab.py ../shared/ud 8000 16000 24000 32000 48000

Writes docs/results/vocab_sizes.json (rendered into docs/results.md). Fertility = wordpieces per
dev word: it sets the sequence length, hence the speed, while the embedding table (size x 256)
dominates the MiniBERT's parameter count; the default (24,000) is where a bigger vocabulary
stops buying much shorter sequences.
"""

import json
import sys
import time
from pathlib import Path

from polytag.training.data import find_treebanks, load_sentences
from polytag.training.vocab import tokenizer_stats, train_wordpiece


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
    out = Path(__file__).resolve().parent.parent / "docs" / "results" / "vocab_sizes.json"
    out.write_text(json.dumps({"command": "python scripts/measure_vocab.py " + " ".join(sys.argv[1:]),
                               "dev_words": len(dev_words), "rows": rows}, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

"""spaCy `nlp.pipe` with `spacy.blank(lang)` + the polytag component, against polytag's own
tagging of the same words, on one dev file: words/s (and how often the two agree: spaCy's
tokenization of the sentence texts differs from the gold words a little).

    python benchmarks/spacy_pipe.py ../shared/ud/en_ewt/en_ewt-ud-dev.conllu.xz --lang en --json docs/results/spacy_pipe.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import spacy  # noqa: E402

import polytag  # noqa: E402
from polytag.core.conllu_io import read_conllu  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", help="a CoNLL-U file with # text comments")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256, help="docs per nlp.pipe batch")
    parser.add_argument("--json")
    args = parser.parse_args()
    sentences = list(read_conllu(args.dev))
    texts = [s.meta.get("text") or " ".join(s.words) for s in sentences]
    nlp = spacy.blank(args.lang)
    nlp.add_pipe("polytag", config={"threads": args.threads})
    list(nlp.pipe(texts[:50]))  # warm up
    start = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=args.batch_size))
    spacy_seconds = time.perf_counter() - start
    spacy_words = sum(1 for d in docs for t in d if not t.is_space)
    tagger = polytag.load(threads=args.threads)
    start = time.perf_counter()
    list(tagger.tag_stream(sentences))
    polytag_seconds = time.perf_counter() - start
    polytag_words = sum(len(s.words) for s in sentences)
    result = {"file": Path(args.dev).name, "sentences": len(sentences),
              "spacy_pipe": {"words": spacy_words, "words_per_s": round(spacy_words / spacy_seconds)},
              "polytag_tag_stream": {"words": polytag_words, "words_per_s": round(polytag_words / polytag_seconds)},
              "threads": args.threads, "spacy": spacy.__version__}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Short raw-text requests (about six en_ewt dev sentences, ~440 characters, a server's typical
text) through `tagger.tag_text`, one thread: milliseconds a text with the segmenter's treebank
guess as shipped and with it switched off. Texts under raw.MIN_GUESS_CHARS are not guessed for,
so the two should match; with that limit set to 0 the cost of guessing a short text shows.

    python benchmarks/raw_requests.py ../shared/ud [--texts 100] [--rounds 2]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.core.segmentation import raw_text, read_gold_sentences  # noqa: E402
from polytag.tagging import load, raw  # noqa: E402
from dev_files import dev_parser  # noqa: E402 - beside this file


def main() -> None:
    parser = dev_parser(__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sentences = read_gold_sentences(args.data / "en_ewt" / "en_ewt-ud-dev.conllu.xz")
    texts = [raw_text(sentences[i : i + 6]) for i in range(0, 6 * args.texts, 6)]
    tagger = load(args.model, threads=1)
    segmenter = tagger.segmenter
    guess, shipped_min = segmenter.guess_treebank, raw.MIN_GUESS_CHARS
    for text in texts:  # warm: the lexicon's English blocks, the sessions, the allocator
        tagger.tag_text(text)
    ways = {"as shipped": (guess, shipped_min), "no guess": (None, shipped_min),
            "guessing short texts too": (guess, 0)}  # fmt: skip
    result: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(args.rounds):  # alternated: this machine's speed drifts
        for way, (function, minimum) in ways.items():
            segmenter.guess_treebank, raw.MIN_GUESS_CHARS = function, minimum
            start = time.perf_counter()
            for text in texts:
                tagger.tag_text(text)
            result[way].append(round((time.perf_counter() - start) / len(texts) * 1000, 2))
    segmenter.guess_treebank, raw.MIN_GUESS_CHARS = guess, shipped_min
    out = {"ms_per_text": result, "texts": len(texts), "mean_chars": round(sum(map(len, texts)) / len(texts)),
           "command": f"python benchmarks/raw_requests.py {args.data} --texts {args.texts} --rounds {args.rounds}"}
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

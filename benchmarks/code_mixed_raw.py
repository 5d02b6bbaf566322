"""Raw text that changes language line by line: pairs of dev files whose sentences' raw texts
are interleaved, one a line (A1, B1, A2, B2, ...), segmented and tagged as one text, and each
file's lines scored with the CoNLL 2018 scorer against its gold; beside each file's lines alone,
one a line. What switching languages costs the segmenter (sentences, tokens, multiword tokens)
and the tagger, from raw text (`benchmarks/code_mixed.py` measures the tagger on gold tokens).

    python benchmarks/code_mixed_raw.py ../shared/ud [--model DIR] [--sentences 300] [--json FILE]

A system sentence that runs over from one line into a line of the other file is cut there, each
part scored with its own file (so a missed sentence end between the two languages costs that
sentence, not the other file's tokens).
"""

from __future__ import annotations

import io
import json
import sys
from bisect import bisect_right
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag import load  # noqa: E402
from polytag.core.segmentation import text_chunks  # noqa: E402
from polytag.core.ud_eval import evaluate, load_conllu  # noqa: E402
from polytag.tagging.raw import CHUNK_BYTES, RAW_METRICS, raw_sentences  # noqa: E402
from code_mixed import PAIRS, pair_sentences  # noqa: E402 - beside this file
from dev_files import dev_parser  # noqa: E402 - beside this file

WAYS = ("interleaved lines, one text", "each file's lines, one text")


def tag_lines(tagger, lines: list[str], owners: list[int], n_files: int) -> list[str]:
    """The lines (each one sentence's raw text), joined by newlines, segmented and tagged as one
    text -> per file, the CoNLL-U of its lines' tokens (owners: each line's file)."""
    starts, at = [], 0
    for line in lines:
        starts.append(at)
        at += len(line) + 1
    text = "\n".join(lines) + "\n"
    out: list[list[str]] = [[] for _ in range(n_files)]
    for sentence, upos, feats in tagger.tag_stream(raw_sentences(tagger.segmenter, text_chunks(text, CHUNK_BYTES),
                                                                  "<lines>", None)):
        labels = iter(zip(upos, feats))
        part, owner_line = [], None
        for token in sentence.meta["tokens"]:
            line = bisect_right(starts, token["start"]) - 1
            if owner_line is not None and line != owner_line and part:
                out[owners[owner_line]].append(_conllu(part))
                part = []
            owner_line = line
            part.append((token["form"], [(w, *next(labels)) for w in token["words"]]))
        if part:
            out[owners[owner_line]].append(_conllu(part))
    return ["".join(blocks) for blocks in out]


def _conllu(tokens: list[tuple[str, list[tuple[str, str, str]]]]) -> str:
    """One sentence's tokens as CoNLL-U (the scorer needs numeric heads: word 1 the root)."""
    rows, i = [], 1
    for form, words in tokens:
        if len(words) > 1:
            rows.append(f"{i}-{i + len(words) - 1}\t{form}\t_\t_\t_\t_\t_\t_\t_\t_")
        for word, upos, feats in words:
            rows.append(f"{i}\t{word}\t_\t{upos}\t_\t{feats}\t{0 if i == 1 else 1}\t_\t_\t_")
            i += 1
    return "\n".join(rows) + "\n\n"


def scores(gold: str, system: str) -> dict[str, float]:
    result = evaluate(load_conllu(io.StringIO(gold)), load_conllu(io.StringIO(system)))
    return {metric: round(100 * result[metric].f1, 2) for metric in RAW_METRICS}


def mean(parts: list[dict[str, float]]) -> dict[str, float]:
    return {metric: round(sum(p[metric] for p in parts) / len(parts), 2) for metric in RAW_METRICS}


def main() -> None:
    parser = dev_parser(__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=300, help="at most this many of each file")
    args = parser.parse_args()
    tagger = load(args.model)
    rows: dict[str, dict] = {}
    for a, b in PAIRS:
        files = pair_sentences(args.data, (a, b), args.sentences)  # (UD dev sentences all have # text)
        n = min(map(len, files))
        lines, owners = [], []
        for i in range(n):
            for f in (0, 1):
                lines.append(files[f][i].meta["text"])
                owners.append(f)
        mixed = tag_lines(tagger, lines, owners, 2)
        row = {}
        for f, treebank in enumerate((a, b)):
            gold = "".join("\n".join(s.lines) + "\n\n" for s in files[f][:n])
            alone = tag_lines(tagger, [s.meta["text"] for s in files[f][:n]], [0] * n, 1)[0]
            row[treebank] = {WAYS[0]: scores(gold, mixed[f]), WAYS[1]: scores(gold, alone)}
        rows[f"{a} + {b}"] = row
        print(f"{a} + {b}:", json.dumps(row), flush=True)
    result = {
        "pairs": rows,
        "macro": {way: mean([part[way] for row in rows.values() for part in row.values()]) for way in WAYS},
        "sentences per file": args.sentences,
        "command": f"python benchmarks/code_mixed_raw.py {args.data} --sentences {args.sentences}",
    }
    print(json.dumps(result["macro"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

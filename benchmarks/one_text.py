"""The dev files as one text: a text made of several documents, of several treebanks' genres and
languages, as a crawl or a book of mixed chapters is. Tagged once on gold tokens and once from
raw text (the files' raw texts joined by blank lines), then scored whole (micro, the CoNLL 2018
scorer for raw text) and per file (its sentences; raw sentences by their character offsets).

    python benchmarks/one_text.py ../shared/ud [--model DIR] [--json docs/results/one_text.json]

Without a hint the tagger and the segmenter guess each sentence's treebank from the words before
it, so a file tagged after another is not tagged as when alone: the per-file rows show what the
text's earlier documents cost it (compare `polytag evaluate` on the files one by one).
"""

from __future__ import annotations

import json
import sys
import time
from bisect import bisect_right
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag import load  # noqa: E402
from polytag.core.conllu_io import format_conllu, open_text, read_conllu  # noqa: E402
from polytag.core.evaluate import score  # noqa: E402
from polytag.core.segmentation import raw_text, read_gold_sentences, text_chunks  # noqa: E402
from polytag.core.ud_eval import evaluate, load_conllu  # noqa: E402
from polytag.tagging.raw import CHUNK_BYTES, RAW_METRICS, evaluate_raw, raw_sentences  # noqa: E402
from dev_files import dev_parser  # noqa: E402 - beside this file


def gold_tokens(tagger, files: list[Path]) -> dict:
    """Every file's gold sentences as one text: per-file and whole (micro) UPOS / UFeats; and
    each file tagged alone."""
    sentences, spans, alone = [], {}, {}
    for path in files:
        ours = list(read_conllu(path))
        spans[path] = (len(sentences), len(sentences) + len(ours))
        sentences += ours
        alone[path.parent.name] = score(ours, *tagger.predict([s.words for s in ours]))
    upos, feats = tagger.predict([s.words for s in sentences])
    per_file = {path.parent.name: score(sentences[a:b], upos[a:b], feats[a:b]) for path, (a, b) in spans.items()}
    return {"files": per_file, "whole": score(sentences, upos, feats), "alone": alone}


def raw(tagger, files: list[Path]) -> dict:
    """Every file's raw text joined by a blank line, segmented and tagged as one text; scored
    whole against the joined gold files, and per file over the sentences that start in its text."""
    texts = [raw_text(read_gold_sentences(path)) for path in files]
    starts, at = [], 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    text = "\n".join(texts)
    segmenter = tagger.segmenter
    sentences = raw_sentences(segmenter, text_chunks(text, CHUNK_BYTES), "<the dev files>", None)
    system: list[list[str]] = [[] for _ in files]
    for sentence, upos, feats in tagger.tag_stream(sentences):
        start = sentence.meta["tokens"][0]["start"]
        system[bisect_right(starts, start) - 1].append(format_conllu(sentence, upos, feats))
    gold_lines = [path_text(path) for path in files]
    per_file = {}
    for path, gold, ours in zip(files, gold_lines, system):
        scores = evaluate(load_conllu(gold.splitlines(), str(path)), load_conllu("".join(ours).splitlines(), "system"))
        per_file[path.parent.name] = {m: round(100 * scores[m].f1, 2) for m in RAW_METRICS}
    whole = evaluate(load_conllu("".join(gold_lines).splitlines(), "gold"),
                     load_conllu("".join(map("".join, system)).splitlines(), "system"))
    alone = {key.removesuffix("-ud-dev"): scores
             for key, scores in evaluate_raw(tagger, segmenter, files)["files"].items()}
    return {"files": per_file, "whole": {m: round(100 * whole[m].f1, 2) for m in RAW_METRICS}, "alone": alone}


def path_text(path: Path) -> str:
    """A gold file's lines, ending in one blank line (so that files join)."""
    with open_text(path) as stream:
        return stream.read().rstrip("\n") + "\n\n"


def main() -> None:
    args = dev_parser(__doc__.splitlines()[0]).parse_args()
    files = sorted(args.data.glob("*/*-ud-dev.conllu*"))
    if not files:
        sys.exit(f"{args.data}: no */*-ud-dev.conllu files")
    tagger = load(args.model)
    start = time.time()
    result = {"files": [p.parent.name for p in files], "gold tokens": gold_tokens(tagger, files)}
    result["raw text"] = raw(tagger, files)
    result["seconds"] = round(time.time() - start, 1)
    result["command"] = "python benchmarks/one_text.py " + " ".join(sys.argv[1:])
    g, r = result["gold tokens"]["whole"], result["raw text"]["whole"]
    print(f"gold tokens, whole: UPOS {g['upos']:.2f} UFeats {g['ufeats']:.2f}")
    print("raw text, whole: " + " ".join(f"{m} {r[m]:.2f}" for m in RAW_METRICS))
    for name in result["files"]:
        a, b = result["gold tokens"]["files"][name], result["raw text"]["files"][name]
        c, d = result["gold tokens"]["alone"][name], result["raw text"]["alone"][name]
        print(f"  {name:16s} gold {a['upos']:6.2f} {a['ufeats']:6.2f} (alone {c['upos']:6.2f} {c['ufeats']:6.2f})"
              "   raw " + " ".join(f"{b[m]:6.2f}" for m in RAW_METRICS)
              + " (alone " + " ".join(f"{d[m]:6.2f}" for m in RAW_METRICS) + ")")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

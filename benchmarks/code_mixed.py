"""Text that changes language: dev UPOS / UFeats (gold tokens, no hint) of pairs of dev files
whose sentences are interleaved into one text (A1 B1 A2 B2 ...), or joined two by two into
sentences of two languages (A1+B1, A2+B2, ...), against each file tagged as a text of its own and
against the network alone (no word lexicon), so that what the lexicon's guess of the text's
language does to mixed text is measured.

    python benchmarks/code_mixed.py ../shared/ud [--model DIR] [--sentences 300] [--json FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.core.conllu_io import read_conllu  # noqa: E402
from polytag.core.evaluate import macro, score  # noqa: E402
from polytag.tagging import load  # noqa: E402
from dev_files import dev_parser  # noqa: E402 - beside this file

# related languages (and conventions) side by side, and distant ones
PAIRS = [("en_ewt", "fr_sequoia"), ("en_ewt", "pt_gsd"), ("fr_sequoia", "it_partut"), ("sv_lines", "af_afribooms"),
         ("tr_imst", "hu_szeged"), ("el_gdt", "be_hse"), ("cs_cltt", "lt_hse"), ("en_gum", "ko_gsd")]
WAYS = ("interleaved, one text", "joined sentences, one text", "each file one text", "network alone, interleaved",
        "network alone, joined")


def pair_sentences(data: Path, pair: tuple[str, str], limit: int) -> list[list]:
    """The first `limit` sentences of each dev file of a pair (exits naming a missing file)."""
    out = []
    for treebank in pair:
        path = next(iter(sorted((data / treebank).glob(f"{treebank}-ud-dev.conllu*"))), None)
        if path is None:
            sys.exit(f"{data / treebank}: no dev file")
        out.append(list(read_conllu(path))[:limit])
    return out


def main() -> None:
    parser = dev_parser(__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=300, help="at most this many of each file")
    args = parser.parse_args()
    tagger, network = load(args.model), load(args.model, lexicon=False)
    rows: dict[str, dict] = {}
    for a, b in PAIRS:
        gold = pair_sentences(args.data, (a, b), args.sentences)
        n = min(len(g) for g in gold)
        first, second = gold[0][:n], gold[1][:n]
        words = [s.words for pair in zip(first, second) for s in pair]
        joined = [x.words + y.words for x, y in zip(first, second)]
        cut = [len(x.words) for x in first]
        outputs = {WAYS[0]: tagger.predict(words), WAYS[1]: tagger.predict(joined),
                   WAYS[3]: network.predict(words), WAYS[4]: network.predict(joined)}
        key = f"{a} + {b}"
        rows[key] = {"sentences each": n}
        for i, (treebank, part) in enumerate(((a, first), (b, second))):
            rows[key][treebank] = {WAYS[2]: score(part, *tagger.predict([s.words for s in part]))}
            for way, (upos, feats) in outputs.items():
                if way in (WAYS[0], WAYS[3]):  # interleaved: every other sentence
                    upos, feats = upos[i::2], feats[i::2]
                else:  # joined: each sentence's words before or after the cut
                    upos = [u[:k] if i == 0 else u[k:] for u, k in zip(upos, cut)]
                    feats = [f[:k] if i == 0 else f[k:] for f, k in zip(feats, cut)]
                rows[key][treebank][way] = score(part, upos, feats)
            rows[key][treebank] = {way: rows[key][treebank][way] for way in WAYS}
        print(key, json.dumps(rows[key]), flush=True)
    files = [scores for row in rows.values() for name, scores in row.items() if name != "sentences each"]
    result = {"pairs": rows, "macro": {way: macro({i: f[way] for i, f in enumerate(files)}) for way in WAYS},
              "command": f"python benchmarks/code_mixed.py {args.data} --sentences {args.sentences}"}
    print(json.dumps(result["macro"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

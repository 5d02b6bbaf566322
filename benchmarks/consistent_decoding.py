"""Does choosing UPOS and FEATS together, among the pairs the train splits contain, help?

    python benchmarks/consistent_decoding.py ../shared/ud --json runs/consistent_decoding.json

The tagger decides UPOS and the FEATS bundle separately, so a word can come out as NOUN with a
verb's features (`chat` NOUN Mood=Ind|...|VerbForm=Fin). Here each word instead gets the pair
(u, b) with the best log p(u) * upos_weight + log p(b) among its top UPOS and top bundles that
the train splits pair together (where none of them is, the separate argmaxes stay). Dev, gold
tokens, the PyTorch weights of --model (the full bundle logits that the int8 graph does not
return); the score is exact-match accuracy of UPOS and of the whole bundle per word, macro over
the dev files. About 6 minutes on one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import polytag  # noqa: E402
from polytag.core.conllu_io import read_conllu  # noqa: E402

TOP_UPOS, TOP_BUNDLES = 3, 16
WEIGHTS = {"joint": 1.0, "joint, UPOS weight 2": 2.0}


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def allowed_pairs(data: Path, upos: list[str], bundles: list[str]) -> np.ndarray:
    """(17, n_bundles) bool: the (UPOS, bundle) pairs the train splits contain."""
    upos_ix, bundle_ix = {u: i for i, u in enumerate(upos)}, {b: i for i, b in enumerate(bundles)}
    allowed = np.zeros((len(upos), len(bundles)), bool)
    for train in sorted(data.glob("*/*-ud-train.conllu*")):
        for sentence in read_conllu(train):
            for u, b in zip(sentence.upos, sentence.feats):
                if u in upos_ix and b in bundle_ix:
                    allowed[upos_ix[u], bundle_ix[b]] = True
    return allowed


def joint_decode(lu: np.ndarray, lb: np.ndarray, allowed: np.ndarray, upos_weight: float):
    """-> (upos ids, bundle ids): the best allowed pair among the top candidates of each word."""
    tu, tb = np.argsort(-lu, -1)[:, :TOP_UPOS], np.argsort(-lb, -1)[:, :TOP_BUNDLES]
    score = upos_weight * np.take_along_axis(lu, tu, -1)[:, :, None] + np.take_along_axis(lb, tb, -1)[:, None, :]
    ok = allowed[tu[:, :, None], tb[:, None, :]]
    best = np.where(ok, score, -np.inf).reshape(len(lu), -1).argmax(-1)
    found, rows = ok.reshape(len(lu), -1).any(-1), np.arange(len(lu))
    return (np.where(found, tu[rows, best // TOP_BUNDLES], lu.argmax(-1)),
            np.where(found, tb[rows, best % TOP_BUNDLES], lb.argmax(-1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="treebank folder (<id>/<id>-ud-{train,dev}.conllu.xz)")
    parser.add_argument("--model", default=str(polytag.DEFAULT_MODEL))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    tagger = polytag.load(args.model, backend="torch", threads=args.threads)
    upos, bundles = tagger.labels.upos, np.array(tagger.labels.bundles, dtype=object)
    allowed = allowed_pairs(args.data, upos, list(bundles))
    methods = ["separate argmax", *WEIGHTS]
    rows = {}
    for dev in sorted(args.data.glob("*/*-ud-dev.conllu*")):
        gold = list(read_conllu(dev))
        hits = {m: [0, 0] for m in methods}
        for i in range(0, len(gold), 400):  # 400 sentences of 10k-wide bundle logits at a time
            part = gold[i:i + 400]
            flat = tagger.run([s.words for s in part], ("upos", "bundle"))
            if "upos" not in flat:
                continue
            lu, lb = log_softmax(flat["upos"]), log_softmax(flat["bundle"])
            gold_u = np.array([u for s in part for u in s.upos], dtype=object)
            gold_b = np.array([b for s in part for b in s.feats], dtype=object)
            decoded = {"separate argmax": (lu.argmax(-1), lb.argmax(-1))}
            decoded.update({m: joint_decode(lu, lb, allowed, w) for m, w in WEIGHTS.items()})
            for m, (pu, pb) in decoded.items():
                hits[m][0] += int((np.array(upos, dtype=object)[pu] == gold_u).sum())
                hits[m][1] += int((bundles[pb] == gold_b).sum())
        n = sum(len(s.words) for s in gold)
        rows[dev.parent.name] = {m: {"UPOS": round(100 * h[0] / n, 2), "FEATS": round(100 * h[1] / n, 2)}
                                 for m, h in hits.items()}
        print(dev.parent.name, json.dumps(rows[dev.parent.name]), flush=True)
    macro = {m: {k: round(float(np.mean([r[m][k] for r in rows.values()])), 2) for k in ("UPOS", "FEATS")}
             for m in methods}
    print("macro", json.dumps(macro))
    if args.json:
        result = {"treebanks": rows, "macro": macro, "allowed_pairs": int(allowed.sum()),
                  "command": "python benchmarks/consistent_decoding.py " + " ".join(sys.argv[1:])}
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Where a model's errors come from: three diagnostics behind the notes on the default model.

    python benchmarks/error_analysis.py fit         [--model DIR] [--data ../shared/ud] [--sentences 1500]
    python benchmarks/error_analysis.py joint       [--model DIR] [--data ../shared/ud]
    python benchmarks/error_analysis.py conventions [--model DIR] [--data ../shared/ud]

fit:   UPOS/UFeats on (a seeded sample of) each treebank's *train* split next to its dev scores.
       A large gap means the model memorises that treebank rather than generalising.
joint: dev macro with UPOS and the FEATS bundle decoded independently (argmax each, what polytag
       does) and decoded jointly: the best-scoring (UPOS, bundle) pair among pairs seen together
       in training, searched over the top-k of each head. Tells whether inconsistent pairs
       (e.g. a NOUN with VerbForm) are a source of errors worth a constrained decoder.
conventions: treebanks of one language can annotate FEATS differently (release, guidelines), and
       one model with no treebank id learns their mix. Per dev treebank whose language has other
       treebanks: the feature names its train split uses and no other treebank of its language
       does, the share of dev words whose gold FEATS carry one, and UFeats on those words and
       on the rest.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from polytag.core.conllu_io import normalize_feats, read_conllu  # noqa: E402
from polytag.core.evaluate import feature_set, file_key, score  # noqa: E402
from polytag.tagging import load as load_tagger  # noqa: E402
from polytag.tagging.tagger import Tagger  # noqa: E402
from polytag.training.data import find_treebanks, load_sentences  # noqa: E402


def fit(tagger: Tagger, data: str, n_sentences: int) -> None:
    print(f"{'treebank':<16} {'train UPOS':>10} {'train UFeats':>12} {'dev UPOS':>9} {'dev UFeats':>10}")
    for tb in find_treebanks(data).values():
        if not (tb.train and tb.dev):
            continue
        train = load_sentences(tb.train, tb.id)
        random.Random(0).shuffle(train)
        train = train[:n_sentences]
        dev = list(read_conllu(tb.dev))
        on_train = score(train, *tagger.predict([s.words for s in train]))
        on_dev = score(dev, *tagger.predict([s.words for s in dev]))
        print(f"{tb.id:<16} {on_train['upos']:>10.2f} {on_train['ufeats']:>12.2f} "
              f"{on_dev['upos']:>9.2f} {on_dev['ufeats']:>10.2f}", flush=True)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.argpartition(-scores, k - 1, axis=-1)[:, :k]
    return ids, np.take_along_axis(scores, ids, -1)


def joint_decode(upos_logits, bundle_logits, seen: np.ndarray, k_upos: int = 4, k_bundle: int = 20):
    """-> (upos ids, bundle ids): the best pair allowed by `seen` (n_upos, n_bundles) among the
    top-k of each head; words with no allowed pair keep the independent argmax."""
    n = len(upos_logits)
    u_ids, u_scores = top_k(log_softmax(upos_logits), k_upos)
    b_ids, b_scores = top_k(log_softmax(bundle_logits), k_bundle)
    pair = u_scores[:, :, None] + b_scores[:, None, :]
    pair = np.where(seen[u_ids[:, :, None], b_ids[:, None, :]], pair, -np.inf).reshape(n, -1)
    best = pair.argmax(-1)
    upos = u_ids[np.arange(n), best // k_bundle]
    bundle = b_ids[np.arange(n), best % k_bundle]
    none = ~np.isfinite(pair.max(-1))
    upos[none], bundle[none] = upos_logits[none].argmax(-1), bundle_logits[none].argmax(-1)
    return upos, bundle


def joint(tagger: Tagger, data: str) -> None:
    labels = tagger.labels
    seen = np.zeros((len(labels.upos), len(labels.bundles)), bool)
    treebanks = find_treebanks(data).values()
    for tb in treebanks:
        for s in load_sentences(tb.train, tb.id) if tb.train else []:
            for u, f in zip(s.upos, s.feats):
                b = labels.bundle_id.get(normalize_feats(f))
                if u in labels.upos_id and b is not None:
                    seen[labels.upos_id[u], b] = True
    print(f"(UPOS, bundle) pairs seen in training: {seen.sum():,} ({len(labels.bundles):,} bundles)")
    upos_names, bundle_names = np.array(labels.upos), np.array(labels.bundles, dtype=object)
    macro = {"independent": [], "joint": []}
    for tb in treebanks:
        if not tb.dev:
            continue
        gold = list(read_conllu(tb.dev))
        out = tagger.run([s.words for s in gold], ("upos", "bundle"))
        gold_upos = np.array([u for s in gold for u in s.upos])
        gold_feats = [feature_set(f) for s in gold for f in s.feats]
        decoded = {"independent": (out["upos"].argmax(-1), out["bundle"].argmax(-1)),
                   "joint": joint_decode(out["upos"], out["bundle"], seen)}
        row = []
        for name, (u, b) in decoded.items():
            upos = 100 * np.mean(upos_names[u] == gold_upos)
            ufeats = 100 * np.mean([feature_set(p) == g for p, g in zip(bundle_names[b], gold_feats)])
            macro[name].append((upos, ufeats))
            row.append(f"{upos:6.2f}/{ufeats:6.2f}")
        print(f"{file_key(tb.dev):<24} independent {row[0]}  joint {row[1]}", flush=True)
    for name, rows in macro.items():
        print(f"macro {name}: UPOS {np.mean([r[0] for r in rows]):.2f} UFeats {np.mean([r[1] for r in rows]):.2f}")


def feature_names(feats: str) -> set[str]:
    return {f.split("=")[0] for f in feature_set(feats)}


def percent(hits: list[bool]) -> str:
    return f"{100 * np.mean(hits):.2f}" if hits else "-"


def conventions(tagger: Tagger, data: str) -> None:
    treebanks = [tb for tb in find_treebanks(data).values() if tb.train]
    used = {tb.id: set().union(*(feature_names(f) for s in load_sentences(tb.train, tb.id) for f in s.feats))
            for tb in treebanks}
    print(f"{'treebank':<16} {'dev words':>9} {'with own features':>17} {'UFeats on them':>14} "
          f"{'on the rest':>11}  own features")
    for tb in treebanks:
        others = [o.id for o in treebanks if o.language == tb.language and o.id != tb.id]
        if not (tb.dev and others):
            continue
        own = used[tb.id] - set().union(*(used[o] for o in others))
        gold = list(read_conllu(tb.dev))
        _, feats = tagger.predict([s.words for s in gold])
        hits = {True: [], False: []}  # does the gold bundle carry an own feature?
        for g, p in zip(gold, feats):
            for gf, pf in zip(g.feats, p):
                hits[bool(feature_names(gf) & own)].append(feature_set(gf) == feature_set(pf))
        words = len(hits[True]) + len(hits[False])
        print(f"{tb.id:<16} {words:>9} {100 * len(hits[True]) / words:>16.2f}% {percent(hits[True]):>14} "
              f"{percent(hits[False]):>11}  {','.join(sorted(own)) or '-'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["fit", "joint", "conventions"])
    parser.add_argument("--model", default=str(ROOT / "polytag" / "models" / "default"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "ud"))
    parser.add_argument("--sentences", type=int, default=1500, help="fit: train sentences per treebank")
    args = parser.parse_args()
    # fp32 logits from PyTorch: the joint decoder needs the bundle scores, not just the argmax
    tagger = load_tagger(args.model, backend="torch")
    if args.what == "fit":
        fit(tagger, args.data, args.sentences)
    elif args.what == "joint":
        joint(tagger, args.data)
    else:
        conventions(tagger, args.data)


if __name__ == "__main__":
    main()

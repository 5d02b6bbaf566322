"""Scores as defined by the CoNLL 2018 shared task, with gold tokenization.

With gold tokens, precision = recall = F1 = accuracy over syntactic words.
UFeats is right only when the whole feature set matches (order-insensitive; "_" = empty).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conllu_io import Sentence, read_conllu


def feature_set(feats: str) -> frozenset[str]:
    return frozenset() if feats in ("_", "") else frozenset(feats.split("|"))


def score(gold: list[Sentence], upos: list[list[str]], feats: list[list[str]]) -> dict:
    words = upos_ok = feats_ok = 0
    for g, pu, pf in zip(gold, upos, feats, strict=True):
        words += len(g.words)
        upos_ok += sum(a == b for a, b in zip(g.upos, pu, strict=True))
        feats_ok += sum(feature_set(a) == feature_set(b) for a, b in zip(g.feats, pf, strict=True))
    return {
        "words": words,
        "upos": round(100 * upos_ok / max(words, 1), 2),
        "ufeats": round(100 * feats_ok / max(words, 1), 2),
    }


def file_key(path: str | Path) -> str:
    """'en_ewt-ud-dev.conllu.xz' -> 'en_ewt-ud-dev'."""
    return re.sub(r"(\.conllu)?(\.gz|\.xz)?$", "", Path(path).name)


def macro(files: dict[str, dict]) -> dict:
    if not files:
        return {"upos": 0.0, "ufeats": 0.0}
    n = len(files)
    return {
        "upos": round(sum(f["upos"] for f in files.values()) / n, 2),
        "ufeats": round(sum(f["ufeats"] for f in files.values()) / n, 2),
    }


def evaluate_files(tagger, paths: list[str | Path], x_second_best: bool = False, morph: str | None = None) -> dict:
    """{"files": {key: {"words", "upos", "ufeats"}}, "macro": {"upos", "ufeats"}}"""
    files = {}
    for path in paths:
        gold = list(read_conllu(path))
        upos, feats = tagger.predict([s.words for s in gold], x_second_best, morph=morph)
        files[file_key(path)] = score(gold, upos, feats)
    return {"files": files, "macro": macro(files)}


def format_table(result: dict) -> str:
    rows = [f"{'file':<32} {'words':>8} {'UPOS':>7} {'UFeats':>7}"]
    for key, r in result["files"].items():
        rows.append(f"{key:<32} {r['words']:>8} {r['upos']:>7.2f} {r['ufeats']:>7.2f}")
    m = result["macro"]
    rows.append(f"{'macro (' + str(len(result['files'])) + ' files)':<32} {'':>8} {m['upos']:>7.2f} {m['ufeats']:>7.2f}")
    return "\n".join(rows)


def write_json(result: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

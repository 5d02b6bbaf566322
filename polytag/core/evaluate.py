"""Scores as defined by the CoNLL 2018 shared task, with gold tokenization.

With gold tokens, precision = recall = F1 = accuracy over syntactic words.
UFeats is the shared task's: a word is right when its universal features match (order-
insensitive; "_" = empty); features outside UD's universal list, Hungarian's Number[psor] or
Person[psor] among them, are not compared (`ud_eval.UNIVERSAL_FEATURES`, as the official
scorer and the paper's tables). AllFeats compares every feature: the stricter figure, which
polytag reported as UFeats until 2026-12-07.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from .conllu_io import Sentence, read_conllu
from .errors import InputError
from .ud_eval import UNIVERSAL_FEATURES

METRICS = ("upos", "ufeats", "allfeats")


def feature_set(feats: str) -> frozenset[str]:
    return frozenset() if feats in ("_", "") else frozenset(feats.split("|"))


def universal(features: frozenset[str]) -> frozenset[str]:
    """The features UFeats compares: those whose name is on UD's universal list."""
    return frozenset(f for f in features if f.split("=", 1)[0] in UNIVERSAL_FEATURES)


def score(gold: list[Sentence], upos: list[list[str]], feats: list[list[str]]) -> dict:
    words = upos_ok = ufeats_ok = allfeats_ok = 0
    for g, pu, pf in zip(gold, upos, feats, strict=True):
        words += len(g.words)
        upos_ok += sum(a == b for a, b in zip(g.upos, pu, strict=True))
        for a, b in zip(g.feats, pf, strict=True):
            fa, fb = feature_set(a), feature_set(b)
            allfeats_ok += fa == fb
            ufeats_ok += fa == fb or universal(fa) == universal(fb)
    return {
        "words": words,
        "upos": round(100 * upos_ok / max(words, 1), 2),
        "ufeats": round(100 * ufeats_ok / max(words, 1), 2),
        "allfeats": round(100 * allfeats_ok / max(words, 1), 2),
    }


def file_key(path: str | Path) -> str:
    """'en_ewt-ud-dev.conllu.xz' -> 'en_ewt-ud-dev'."""
    return re.sub(r"(\.conllu)?(\.gz|\.xz)?$", "", Path(path).name)


def macro(files: dict[str, dict]) -> dict:
    """Mean of each metric over the files (of those every file has: older records lack allfeats)."""
    metrics = [m for m in METRICS if all(m in f for f in files.values())] if files else ["upos", "ufeats"]
    n = max(len(files), 1)
    return {m: round(sum(f[m] for f in files.values()) / n, 2) for m in metrics}


def file_keys(paths: list[str | Path]) -> list[str]:
    """One key per input, unique: the file's base name; with its parent folders where two names
    clash; with "#2", "#3" for the same file given again."""
    resolved = [Path(p).resolve() for p in paths]
    keys = [file_key(p) for p in paths]
    for depth in (1, 2, 3):
        files_of = {}
        for key, path in zip(keys, resolved):
            files_of.setdefault(key, set()).add(path)
        keys = [f"{'/'.join(path.parts[-1 - depth:-1])}/{file_key(path)}" if len(files_of[key]) > 1 else key
                for key, path in zip(keys, resolved)]
    seen: dict[str, int] = {}
    unique = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        unique.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return unique


def check_gold(gold: list[Sentence], path: str | Path, allow_missing: bool) -> None:
    """A gold file whose UPOS column is `_` on every word has nothing to score against."""
    if any(u != "_" for s in gold for u in s.upos):
        return
    message = f"{path}: no gold UPOS (column 4 is _ on every word), so this is not a gold file"
    if not allow_missing:
        raise InputError(message + "; --allow-missing-gold scores it anyway")
    print(f"polytag: warning: {message}", file=sys.stderr)


AUTO_TREEBANK = "auto"  # evaluate --treebank auto: each file's hint is the treebank its name says
_TREEBANK_FILE = re.compile(r"(?P<id>[a-z]{2,3}_[a-z0-9]+)-ud-(train|dev|test)\b")


def treebank_of(path: str | Path) -> str | None:
    """The treebank id in a UD file name (fr_gsd-ud-dev.conllu -> fr_gsd), or None."""
    m = _TREEBANK_FILE.match(Path(path).name)
    return m["id"] if m else None


def treebank_id(path: str | Path) -> str:
    """The treebank of a file in a treebank folder: from its name (a UD release keeps
    en_ewt-ud-train.conllu in UD_English-EWT/), else its folder's name."""
    return treebank_of(path) or Path(path).parent.name


def file_treebank(tagger, path: str | Path, treebank: str | None) -> str | None:
    """The treebank hint to tag `path` with: `treebank` itself, or with AUTO_TREEBANK the id in the
    file name where the model knows it (None, no hint, where it does not)."""
    if treebank != AUTO_TREEBANK:
        return treebank
    found = treebank_of(path)
    return found if found in tagger.treebank_hints else None


def evaluate_files(tagger, paths: list[str | Path], x_second_best: bool = False, morph: str | None = None,
                   allow_missing_gold: bool = False, treebank: str | None = None,
                   on_file: Callable[[str, int, int], None] | None = None) -> dict:
    """{"files": {key: {"words", "upos", "ufeats"}}, "macro": {"upos", "ufeats"}}; every input gets
    its own key (see file_keys). treebank: a hint for every file, or AUTO_TREEBANK (file_treebank).
    on_file(key, its number from 1, files in all): told as each file begins."""
    files = {}
    for number, (key, path) in enumerate(zip(file_keys(paths), paths), 1):
        if on_file is not None:
            on_file(key, number, len(paths))
        gold = list(read_conllu(path))
        check_gold(gold, path, allow_missing_gold)
        upos, feats = tagger.predict([s.words for s in gold], x_second_best, morph=morph,
                                     treebank=file_treebank(tagger, path, treebank))
        files[key] = score(gold, upos, feats)
    return {"files": files, "macro": macro(files)}


def format_table(result: dict) -> str:
    rows = [f"{'file':<32} {'words':>8} {'UPOS':>7} {'UFeats':>7} {'AllFeats':>8}"]
    for key, r in result["files"].items():
        rows.append(f"{key:<32} {r['words']:>8} {r['upos']:>7.2f} {r['ufeats']:>7.2f} {r['allfeats']:>8.2f}")
    m = result["macro"]
    rows.append(f"{'macro (' + str(len(result['files'])) + ' files)':<32} {'':>8} {m['upos']:>7.2f} "
                f"{m['ufeats']:>7.2f} {m['allfeats']:>8.2f}")
    return "\n".join(rows)


def write_json(result: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

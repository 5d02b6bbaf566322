"""Finding treebanks on disk and loading their sentences.

Two layouts are read, both by file name alone (`<id>-ud-<split>.conllu[.gz|.xz]`):
a standard UD release (`UD_*/xx_yyy-ud-train.conllu`) and polytag's shared layout
(`<id>/<id>-ud-train.conllu.xz` with a MANIFEST.tsv that adds versions and licenses).
"""

from __future__ import annotations

import csv
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..core.conllu_io import Sentence, read_conllu
from ..core.errors import InputError

_FILE = re.compile(r"(?P<id>[a-z]{2,3}_[a-z0-9]+)-ud-(?P<split>train|dev|test)\.conllu(\.gz|\.xz)?\Z")


@dataclass
class Treebank:
    id: str
    language: str
    train: Path | None = None
    dev: Path | None = None
    test: Path | None = None
    source: str = ""  # version / commit, from MANIFEST.tsv when there is one
    license: str = ""


def find_treebanks(root: str | Path) -> dict[str, Treebank]:
    """All treebanks under `root` (a UD release folder, the shared layout, or one treebank folder)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: treebank folder not found")
    found: dict[str, Treebank] = {}
    for path in sorted(root.rglob("*.conllu*")):
        m = _FILE.match(path.name)
        if not m:
            continue
        tb = found.setdefault(m["id"], Treebank(m["id"], m["id"].split("_")[0]))
        if getattr(tb, m["split"]) is None:  # prefer the first (sorted) of duplicates
            setattr(tb, m["split"], path)
    manifest = root / "MANIFEST.tsv"
    if manifest.exists():
        with open(manifest, encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                tb = found.get(row.get("treebank", ""))
                if tb:
                    tb.language = row.get("language_code") or tb.language
                    tb.source = f"{row.get('ud_repo', '')}@{row.get('source_ref', '')}:{row.get('commit', '')}"
                    tb.license = row.get("license", "")
    if not found:
        raise InputError(f"{root}: no *-ud-train/dev/test.conllu files found")
    return found


def select_treebanks(found: dict[str, Treebank], spec: str | None, split: str = "train") -> list[Treebank]:
    """`spec`: comma-separated treebank ids or language codes; None = all with that split."""
    if not spec:
        chosen = list(found.values())
    else:
        chosen = []
        for key in (k.strip() for k in spec.split(",") if k.strip()):
            matches = [tb for tb in found.values() if tb.id == key or tb.language == key]
            if not matches:
                known = ", ".join(sorted({tb.language for tb in found.values()}))
                raise InputError(f"unknown treebank or language {key!r} (languages here: {known})")
            chosen += [tb for tb in matches if tb not in chosen]
    return [tb for tb in chosen if getattr(tb, split) is not None]


def feats_counts(root: str | Path) -> Counter:
    """How often each FEATS string occurs in the train splits under `root` (words only)."""
    counts: Counter = Counter()
    for tb in find_treebanks(root).values():
        if tb.train is not None:
            for sentence in read_conllu(tb.train):
                counts.update(sentence.feats or ())
    return counts


def load_sentences(path: Path, treebank: str) -> list[Sentence]:
    sentences = list(read_conllu(path))
    for s in sentences:
        s.meta["treebank"] = treebank
        s.lines = None  # training needs words and labels only; drop raw lines to save memory
        s.word_lines = None
    return sentences


def mix_treebanks(
    per_treebank: dict[str, list[Sentence]], rng: random.Random, temperature: float | None
) -> list[Sentence]:
    """One epoch of training sentences.

    temperature None: concatenate everything and shuffle (the paper).
    temperature T: as many sentences as the data has, drawn from treebank i with
    probability proportional to n_i ** (1/T) (T=1 is proportional, larger T flattens).
    """
    if not temperature:
        epoch = [s for sents in per_treebank.values() for s in sents]
        rng.shuffle(epoch)
        return epoch
    names = list(per_treebank)
    sizes = [len(per_treebank[n]) for n in names]
    weights = [n ** (1.0 / temperature) for n in sizes]
    draws = rng.choices(names, weights=weights, k=sum(sizes))
    return [rng.choice(per_treebank[name]) for name in draws]

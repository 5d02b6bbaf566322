"""Label inventories: UPOS, and morphology as whole FEATS bundles or factored per feature.

Ids are ints; -100 marks "no label" (ignored by the losses). A bundle never seen in
training gets -100 as its training target and can never be predicted by the bundle head;
the factored head can still produce it, one feature at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .conllu_io import read_bytes, write_text

UPOS = [
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
]
IGNORE = -100
NONE = "<none>"  # factored head: this feature is absent


def split_feats(feats: str) -> dict[str, str]:
    if feats in ("_", ""):
        return {}
    return dict(part.split("=", 1) for part in feats.split("|"))


def join_feats(features: dict[str, str]) -> str:
    if not features:
        return "_"
    return "|".join(f"{k}={features[k]}" for k in sorted(features, key=str.lower))


@dataclass
class Labels:
    """Everything needed to turn labels into ids and back; saved as labels.json."""

    bundles: list[str] = field(default_factory=list)  # whole FEATS strings, "_" first
    features: dict[str, list[str]] = field(default_factory=dict)  # name -> [NONE, values...]
    upos: list[str] = field(default_factory=lambda: list(UPOS))

    @classmethod
    def build(cls, feats_strings: Iterable[str], min_count: int = 1) -> "Labels":
        counts = Counter(feats_strings)
        bundles = ["_"] + sorted(b for b, c in counts.items() if b != "_" and c >= min_count)
        values: dict[str, set[str]] = {}
        for bundle in counts:
            for name, value in split_feats(bundle).items():
                values.setdefault(name, set()).add(value)
        features = {name: [NONE] + sorted(vals) for name, vals in sorted(values.items())}
        return cls(bundles=bundles, features=features)

    def frequent_bundles(self, counts: Mapping[str, int], min_count: int) -> list[int]:
        """Ids of the bundles seen at least `min_count` times in `counts` (and "_", always), in
        order: the ones worth a column of the bundle head. Each column costs every word
        the same, however rarely its bundle is right (nn.heads.prune_bundle_head)."""
        return [i for i, b in enumerate(self.bundles) if b == "_" or counts.get(b, 0) >= min_count]

    def with_bundles(self, keep: Sequence[int]) -> "Labels":
        """These labels with only the bundles `keep` (ids, in order); features and UPOS as they are."""
        return Labels(bundles=[self.bundles[i] for i in keep], features=self.features, upos=list(self.upos))

    # -- sizes and lookup tables (cached: building dicts per call would be wasteful) --
    def __post_init__(self):
        self._index()

    def _index(self):
        self.upos_id = {u: i for i, u in enumerate(self.upos)}
        self.bundle_id = {b: i for i, b in enumerate(self.bundles)}
        self.feature_names = list(self.features)
        self.feature_col = {n: i for i, n in enumerate(self.feature_names)}
        self.value_id = [{v: i for i, v in enumerate(vals)} for vals in self.features.values()]
        self.max_values = max((len(v) for v in self.features.values()), default=1)

    @property
    def n_features(self) -> int:
        return len(self.features)

    def factored_mask(self) -> np.ndarray:
        """(n_features, max_values) bool: which value slots exist for each feature."""
        mask = np.zeros((max(self.n_features, 1), self.max_values), dtype=bool)
        for i, vals in enumerate(self.features.values()):
            mask[i, : len(vals)] = True
        if self.n_features == 0:
            mask[0, 0] = True
        return mask

    # -- encoding --
    def encode_upos(self, tags: list[str]) -> list[int]:
        return [self.upos_id.get(t, IGNORE) for t in tags]

    def encode_bundles(self, feats: list[str]) -> list[int]:
        return [self.bundle_id.get(f, IGNORE) for f in feats]

    def encode_factored(self, feats: list[str]) -> np.ndarray:
        """(n_words, n_features) value ids; unknown feature values are ignored (-100)."""
        out = np.zeros((len(feats), max(self.n_features, 1)), dtype=np.int64)
        for row, bundle in enumerate(feats):
            for name, value in split_feats(bundle).items():
                col = self.feature_col.get(name, -1)
                if col >= 0:
                    out[row, col] = self.value_id[col].get(value, IGNORE)
        return out

    # -- decoding --
    def decode_upos(self, ids: Iterable[int]) -> list[str]:
        return [self.upos[i] for i in ids]

    def decode_bundles(self, ids: Iterable[int]) -> list[str]:
        return [self.bundles[i] for i in ids]

    def decode_factored(self, ids: np.ndarray) -> list[str]:
        """ids: (n_words, n_features) value ids -> FEATS strings."""
        names = self.feature_names
        vals = list(self.features.values())
        out = []
        for row in ids:
            present = np.flatnonzero(row[: len(names)])
            out.append(join_feats({names[j]: vals[j][row[j]] for j in present}))
        return out

    # -- persistence --
    def save(self, path: Path) -> None:
        """labels.json, or xz-compressed where the name ends in .xz (a shipped folder)."""
        write_text(path, json.dumps({"upos": self.upos, "bundles": self.bundles, "features": self.features},
                                    ensure_ascii=False, indent=0))

    @classmethod
    def load(cls, path: Path) -> "Labels":
        data = json.loads(read_bytes(path))
        return cls(bundles=data["bundles"], features=data["features"], upos=data["upos"])

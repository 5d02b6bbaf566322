"""Soft targets beside a machine-labelled treebank: the labeller's probabilities for every word,
so a student learns the whole distribution (Tsai et al. 2019: soft cross-entropy, T=3) and not
only its argmax, which is what the CoNLL-U file beside it holds.

`<file>.conllu` gets `<file>.soft.npz`, one row per word in file order:
  upos_logp    (N, n_upos)  fp16  log-probabilities over every UPOS label
  bundle_ids   (N, k)       int32 the k most probable FEATS bundles (the student's label ids)
  bundle_logp  (N, k)       fp16  their log-probabilities
  bundle_lse   (N, len(T))  fp32  log-sum-exp of *all* bundles' log-probabilities / T, per T
  temperatures (len(T),)    the temperatures bundle_lse was computed for
  label_digest ()           str   which label inventory the ids index (labels_digest)

The bundle distribution at a temperature T is kept exactly on its top k and the rest of its mass
goes to one "other" bucket (the cross-entropy of training.distill.soft_cross_entropy_topk), so only
the temperatures of `temperatures` can be trained at. Torch-free: the labeller writes it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError

SUFFIX = ".soft.npz"
TEMPERATURES = (1.0, 2.0, 3.0)
TOP_K = 16


def soft_path(conllu: str | Path) -> Path:
    """`x-ud-train.conllu[.xz|.gz]` -> `x-ud-train.soft.npz` beside it."""
    conllu = Path(conllu)
    stem = conllu.name.split(".conllu")[0]
    return conllu.with_name(stem + SUFFIX)


def labels_digest(upos: list[str], bundles: list[str]) -> str:
    """Names the label inventory the stored ids index, so a mismatched student is refused."""
    return hashlib.sha256("\n".join(upos + ["--"] + bundles).encode("utf-8")).hexdigest()[:16]


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-30, None))


def compress(upos_p: np.ndarray, bundle_p: np.ndarray, k: int = TOP_K,
             temperatures: tuple[float, ...] = TEMPERATURES) -> dict[str, np.ndarray]:
    """upos_p (N, n_upos), bundle_p (N, n_bundles): probabilities (rows sum to 1) -> the stored
    rows (a labeller compresses each batch, so it never holds every word's bundle distribution)."""
    k = min(k, bundle_p.shape[1])
    logp = _log(bundle_p.astype(np.float64))
    ids = np.argpartition(-logp, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(logp, ids, 1)
    order = np.argsort(-top, axis=1)  # most probable first: easier to read, same targets
    ids, top = np.take_along_axis(ids, order, 1), np.take_along_axis(top, order, 1)
    lse = np.stack([_logsumexp(logp / t) for t in temperatures], axis=1)
    return {"upos_logp": _log(upos_p.astype(np.float64)).astype(np.float16), "bundle_ids": ids.astype(np.int32),
            "bundle_logp": top.astype(np.float16), "bundle_lse": lse.astype(np.float32)}


def write_soft_targets(path: str | Path, parts: list[dict[str, np.ndarray]], digest: str,
                       temperatures: tuple[float, ...] = TEMPERATURES) -> None:
    """`parts`: `compress` outputs in word order (at least one). Written whole, then renamed, so
    a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    arrays = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    with open(tmp, "wb") as f:
        np.savez(f, **arrays, temperatures=np.asarray(temperatures, dtype=np.float32),
                 label_digest=np.asarray(digest))
    os.replace(tmp, path)


def concatenate_files(paths: list[Path], out: str | Path) -> None:
    """One soft-target file of several, rows in the order given (for their treebanks, concatenated
    in the same order); they must share a label inventory and temperatures."""
    parts, meta = [], set()
    for path in paths:
        with np.load(path, allow_pickle=False) as data:
            parts.append({name: data[name] for name in ("upos_logp", "bundle_ids", "bundle_logp", "bundle_lse")})
            meta.add((str(data["label_digest"]), tuple(float(t) for t in data["temperatures"])))
    if len(meta) != 1:
        raise InputError(f"{paths[0]}: the soft targets to merge differ in labels or temperatures ({sorted(meta)})")
    digest, temperatures = meta.pop()
    write_soft_targets(out, parts, digest, temperatures)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(1, keepdims=True)))[:, 0]


@dataclass
class SoftTargets:
    """One file's soft targets, at one temperature."""

    upos_logp: np.ndarray  # (N, n_upos) float32
    bundle_ids: np.ndarray  # (N, k) int64
    bundle_logp: np.ndarray  # (N, k) float32
    bundle_lse: np.ndarray  # (N,) float32, at `temperature`
    temperature: float

    def __len__(self) -> int:
        return len(self.upos_logp)

    @staticmethod
    def concatenate(parts: list["SoftTargets"]) -> "SoftTargets":
        return SoftTargets(*(np.concatenate([getattr(p, name) for p in parts]) for name in
                             ("upos_logp", "bundle_ids", "bundle_logp", "bundle_lse")), parts[0].temperature)


def read_soft_targets(path: str | Path, n_words: int, digest: str, temperature: float) -> SoftTargets:
    """The soft targets of a file of `n_words` words for a student whose labels have `digest`;
    an InputError naming the file when it does not fit."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = {name: data[name] for name in data.files}
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: cannot read soft targets ({err})") from None
    needed = {"upos_logp", "bundle_ids", "bundle_logp", "bundle_lse", "temperatures", "label_digest"}
    if not needed <= set(stored):
        raise InputError(f"{path}: not a soft-target file (missing {sorted(needed - set(stored))})")
    if str(stored["label_digest"]) != digest:
        raise InputError(f"{path}: soft targets for another label inventory (digest {stored['label_digest']}, "
                         f"the student's {digest}); label the text again with this student")
    if len(stored["upos_logp"]) != n_words:
        raise InputError(f"{path}: {len(stored['upos_logp'])} rows of soft targets for {n_words} words "
                         "in the treebank beside it")
    temps = [float(t) for t in stored["temperatures"]]
    match = [i for i, t in enumerate(temps) if abs(t - temperature) < 1e-6]
    if not match:
        raise InputError(f"{path}: soft targets were stored for temperatures {temps}, not {temperature}")
    return SoftTargets(stored["upos_logp"].astype(np.float32), stored["bundle_ids"].astype(np.int64),
                       stored["bundle_logp"].astype(np.float32),
                       stored["bundle_lse"][:, match[0]].astype(np.float32), temperature)

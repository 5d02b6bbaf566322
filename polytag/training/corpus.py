"""The unlabeled multilingual corpus for pretraining and distillation, built by streaming.

Sources: plain-text files (one sentence per line, any language, plain/.gz/.xz, each with a
language code) and/or the **train** split of UD treebanks (words joined by spaces; dev and
test text are never read, so dev scores stay honest).

Pipeline (memory stays bounded by `memory_mb`, whatever the corpus size):

1. filter: Unicode NFC, whitespace collapsed, sentences under `min_chars` characters dropped;
2. de-duplicate exactly, across all sources, by 8-byte BLAKE2b digests kept as sorted numpy
   runs (8 bytes per unique sentence, the only state that grows with the corpus);
   survivors are spooled to one temporary file per language, counted;
3. balance: each language gets t_l = min(s * n_l ** alpha, max_upsample * n_l, max_per_language)
   sentences (alpha = 1 / temperature; s found by bisection so the total meets `max_sentences`),
   drawn without replacement by selection sampling (repeats only when max_upsample > 1);
4. shuffle to disk: each chosen sentence goes to a random shard bucket (buffers flushed
   whenever they reach the budget), then each bucket is shuffled in memory and written as
   `shard-NNNNN.txt.gz` with lines `lang<TAB>sentence`; `manifest.json` has the counts.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
import shutil
import tempfile
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..core.conllu_io import open_text, read_conllu
from ..core.errors import InputError
from .data import find_treebanks, select_treebanks

MANIFEST = "manifest.json"
_DIGEST_BATCH = 4096


@dataclass
class CorpusConfig:
    output: str
    texts: list[str] = field(default_factory=list)  # "lang:path" items
    ud: str | None = None  # treebank root; their train text is added
    treebanks: str | None = None  # ids or language codes (default all with train)
    min_chars: int = 10
    temperature: float = 1.43  # alpha = 1/T = 0.7, as for the vocabulary
    max_sentences: int | None = None  # total cap after balancing
    max_per_language: int | None = None
    max_upsample: float = 1.0  # >1 repeats sentences of small languages
    shard_size: int = 100_000  # sentences per shard (fewer if the memory budget needs it)
    memory_mb: float = 512.0  # bound on sentence text held in memory at once
    seed: int = 0


def normalize(line: str) -> str:
    return " ".join(unicodedata.normalize("NFC", line).split())


def digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


class DigestSet:
    """Exact membership for 64-bit digests: sorted numpy runs merged like a binary counter
    (so there are O(log n) runs and each digest is re-sorted O(log n) times)."""

    def __init__(self):
        self.runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.runs)

    def add_new(self, digests: np.ndarray) -> np.ndarray:
        """Insert a batch; returns a bool mask of entries seen for the first time (the first
        occurrence within the batch counts as new)."""
        _, first = np.unique(digests, return_index=True)
        new = np.zeros(len(digests), dtype=bool)
        new[first] = True
        for run in self.runs:
            pos = np.searchsorted(run, digests).clip(max=len(run) - 1)
            new &= run[pos] != digests
        fresh = np.sort(digests[new])
        if len(fresh):
            self.runs.append(fresh)
            while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
                b, a = self.runs.pop(), self.runs.pop()
                self.runs.append(np.sort(np.concatenate([a, b]), kind="mergesort"))
        return new


@dataclass
class LanguageStats:
    input_sentences: int = 0
    too_short: int = 0
    duplicates: int = 0
    sentences: int = 0  # unique, long enough
    words: int = 0
    selected_sentences: int = 0
    selected_words: int = 0


class BufferMeter:
    """Counts sentence bytes held in Python buffers, to prove the memory bound in tests."""

    def __init__(self):
        self.now = 0
        self.peak = 0

    def add(self, n: int):
        self.now += n
        self.peak = max(self.peak, self.now)

    def sub(self, n: int):
        self.now -= n


def parse_text_spec(spec: str) -> tuple[str, Path]:
    lang, sep, path = spec.partition(":")
    if not sep or not lang or not path:
        raise InputError(f"--text {spec!r}: expected LANG:FILE, e.g. de:dewiki.txt.xz")
    return lang, Path(path)


def iter_sources(cfg: CorpusConfig) -> Iterator[tuple[str, str, Iterable[str]]]:
    """(language, source name, lines) for every input."""
    for spec in cfg.texts:
        lang, path = parse_text_spec(spec)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        yield lang, str(path), _text_lines(path)
    if cfg.ud:
        for tb in select_treebanks(find_treebanks(cfg.ud), cfg.treebanks, "train"):
            yield tb.language, str(tb.train), (" ".join(s.words) for s in read_conllu(tb.train))


def _text_lines(path: Path) -> Iterator[str]:
    with open_text(path) as f:
        yield from f


def _spool_path(tmp: Path, lang: str) -> Path:
    return tmp / f"spool-{lang}.txt"


def filter_and_dedupe(cfg: CorpusConfig, tmp: Path, meter: BufferMeter) -> tuple[dict[str, LanguageStats], dict]:
    """Pass 1: normalise, filter and de-duplicate every source into per-language spools."""
    stats: dict[str, LanguageStats] = {}
    seen = DigestSet()
    sources = []
    budget = cfg.memory_mb * 2**20
    for lang, name, lines in iter_sources(cfg):
        if "\t" in lang or "/" in lang:
            raise InputError(f"bad language code {lang!r}")
        st = stats.setdefault(lang, LanguageStats())
        sources.append({"language": lang, "path": name})
        with open(_spool_path(tmp, lang), "a", encoding="utf-8") as spool:
            batch: list[str] = []
            held = 0

            def flush():
                nonlocal batch, held
                new = seen.add_new(np.array([digest(t) for t in batch], dtype=np.int64))
                for text, keep in zip(batch, new):
                    if keep:
                        spool.write(text + "\n")
                        st.sentences += 1
                        st.words += len(text.split(" "))
                    else:
                        st.duplicates += 1
                meter.sub(held)
                batch, held = [], 0

            for raw in lines:
                st.input_sentences += 1
                text = normalize(raw)
                if len(text) < cfg.min_chars:
                    st.too_short += 1
                    continue
                batch.append(text)
                size = len(text) + 50  # + object overhead, roughly
                held += size
                meter.add(size)
                if len(batch) >= _DIGEST_BATCH or held >= budget / 4:
                    flush()
            if batch:
                flush()
    return stats, {"sources": sources, "digest_bytes": seen.nbytes}


def balance(counts: dict[str, int], alpha: float, total: int | None, per_language: int | None,
            max_upsample: float) -> dict[str, int]:
    """Sentences per language: min(s * n ** alpha, max_upsample * n, cap), s chosen so the sum is
    `total` (or as large as the caps allow)."""
    langs = [l for l in counts if counts[l] > 0]
    cap = {l: min(math.floor(max_upsample * counts[l]), per_language or math.inf) for l in langs}
    ceiling = sum(cap.values())
    if total is None or total >= ceiling:
        return {l: int(cap[l]) for l in langs}

    def size(s: float) -> float:
        return sum(min(s * counts[l] ** alpha, cap[l]) for l in langs)

    lo, hi = 0.0, 1.0
    while size(hi) < total:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if size(mid) < total else (lo, mid)
    out = {l: int(min(hi * counts[l] ** alpha, cap[l])) for l in langs}
    # hand out rounding leftovers to the languages with room, largest first
    short = total - sum(out.values())
    for l in sorted(langs, key=lambda l: -counts[l]):
        if short <= 0:
            break
        extra = min(short, int(cap[l]) - out[l])
        out[l] += extra
        short -= extra
    return out


def select_lines(path: Path, n_lines: int, target: int, rng: random.Random) -> Iterator[str]:
    """Stream `target` lines from a file of `n_lines`: every line `target // n_lines` times, plus
    a uniform sample without replacement of `target % n_lines` lines (selection sampling)."""
    repeats, extra = divmod(target, n_lines) if n_lines else (0, 0)
    remaining, needed = n_lines, extra
    with open(path, encoding="utf-8") as f:
        for line in f:
            text = line.rstrip("\n")
            take = repeats
            if needed and rng.random() * remaining < needed:
                take += 1
                needed -= 1
            remaining -= 1
            for _ in range(take):
                yield text


def write_shards(cfg: CorpusConfig, tmp: Path, stats: dict[str, LanguageStats], targets: dict[str, int],
                 meter: BufferMeter, rng: random.Random) -> list[dict]:
    """Pass 2: chosen sentences -> random buckets on disk -> shuffled gzip shards."""
    out = Path(cfg.output)
    budget = cfg.memory_mb * 2**20
    total = sum(targets.values())
    total_bytes = sum(targets[l] * _spool_path(tmp, l).stat().st_size / max(stats[l].sentences, 1) for l in targets)
    # a shard is held in memory once (to shuffle it): keep it under half the budget
    n_shards = max(1, math.ceil(total / cfg.shard_size), math.ceil(total_bytes / (budget / 2)))
    buckets: list[list[str]] = [[] for _ in range(n_shards)]
    held = 0

    def flush():
        nonlocal held
        for i, bucket in enumerate(buckets):
            if bucket:
                with open(tmp / f"bucket-{i:05d}.txt", "a", encoding="utf-8") as f:
                    f.writelines(bucket)
                bucket.clear()
        meter.sub(held)
        held = 0

    for lang in sorted(targets):
        st = stats[lang]
        for text in select_lines(_spool_path(tmp, lang), st.sentences, targets[lang], rng):
            line = f"{lang}\t{text}\n"
            buckets[rng.randrange(n_shards)].append(line)
            st.selected_sentences += 1
            st.selected_words += len(text.split(" "))
            size = len(line) + 50
            held += size
            meter.add(size)
            if held >= budget / 4:
                flush()
    flush()
    shards = []
    for i in range(n_shards):
        bucket_file = tmp / f"bucket-{i:05d}.txt"
        if not bucket_file.exists():
            continue
        lines = bucket_file.read_text(encoding="utf-8").splitlines(keepends=True)
        size = sum(len(l) + 50 for l in lines)
        meter.add(size)
        rng.shuffle(lines)
        name = f"shard-{len(shards):05d}.txt.gz"
        with gzip.open(out / name, "wt", encoding="utf-8", compresslevel=6) as f:
            f.writelines(lines)
        shards.append({"file": name, "sentences": len(lines)})
        meter.sub(size)
        bucket_file.unlink()
    return shards


def build_corpus(cfg: CorpusConfig) -> dict:
    """Build the corpus folder; returns (and writes) its manifest."""
    if not cfg.texts and not cfg.ud:
        raise InputError("corpus: give --text LANG:FILE and/or --ud FOLDER")
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("shard-*.txt.gz"):
        old.unlink()
    rng = random.Random(cfg.seed)
    meter = BufferMeter()
    tmp = Path(tempfile.mkdtemp(prefix=".corpus-tmp-", dir=out))  # same disk as the output
    try:
        stats, info = filter_and_dedupe(cfg, tmp, meter)
        targets = balance({l: s.sentences for l, s in stats.items()}, 1.0 / cfg.temperature,
                          cfg.max_sentences, cfg.max_per_language, cfg.max_upsample)
        shards = write_shards(cfg, tmp, stats, targets, meter, rng)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    manifest = {
        "config": asdict(cfg),
        "sources": info["sources"],
        "languages": {l: asdict(s) for l, s in sorted(stats.items())},
        "total": {
            "sentences": sum(s.selected_sentences for s in stats.values()),
            "words": sum(s.selected_words for s in stats.values()),
            "unique_sentences": sum(s.sentences for s in stats.values()),
            "unique_words": sum(s.words for s in stats.values()),
        },
        "shards": shards,
        "peak_buffer_bytes": meter.peak,
        "digest_bytes": info["digest_bytes"],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return manifest


# -- reading a built corpus --
def load_manifest(folder: str | Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise InputError(f"{folder}: not a corpus folder (no {MANIFEST}; build one with `polytag corpus`)")
    return json.loads(path.read_text(encoding="utf-8"))


def shard_paths(folder: str | Path) -> list[Path]:
    return [Path(folder) / s["file"] for s in load_manifest(folder)["shards"]]


def read_shard(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(language, words) per line of one shard."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            lang, _, text = line.rstrip("\n").partition("\t")
            if text:
                yield lang, text.split(" ")


def format_summary(manifest: dict) -> str:
    rows = [f"{'lang':<8}{'input':>10}{'short':>8}{'dups':>8}{'unique':>10}{'words':>11}{'selected':>10}{'sel.words':>11}"]
    for lang, s in manifest["languages"].items():
        rows.append(f"{lang:<8}{s['input_sentences']:>10}{s['too_short']:>8}{s['duplicates']:>8}"
                    f"{s['sentences']:>10}{s['words']:>11}{s['selected_sentences']:>10}{s['selected_words']:>11}")
    t = manifest["total"]
    rows.append(f"{'total':<8}{'':>10}{'':>8}{'':>8}{t['unique_sentences']:>10}{t['unique_words']:>11}"
                f"{t['sentences']:>10}{t['words']:>11}")
    rows.append(f"{len(manifest['shards'])} shards; peak sentence buffer {manifest['peak_buffer_bytes'] / 2**20:.1f} MiB; "
                f"digest set {manifest['digest_bytes'] / 2**20:.1f} MiB")
    return "\n".join(rows)

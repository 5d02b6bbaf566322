"""`polytag tag-corpus`: tag a corpus of many shards, on this machine or on a Dask cluster.

Dask (distributed) was chosen over Ray Data and Spark for this job: the unit of work is a whole
shard (read, tag, write one output file), which is exactly a Dask task; each worker process keeps
the model it loaded once (a per-process cache), the scheduler retries the tasks of a worker that
died, a local cluster starts in about two seconds with a few MB of dependencies (Ray and Spark
bring a JVM or hundreds of MB, and tens of seconds to start), and the same code runs on a
multi-node cluster by giving the scheduler's address (docs/scale.md).

Each input shard gives one output shard, written to a temporary name and renamed when whole, so
a rerun skips finished shards and a killed worker never leaves half a shard under the real name.
Inputs: CoNLL-U, words (one sentence a line), JSON lines, raw text, and Parquet with a `words`
column (list of strings), each possibly .gz/.xz (not Parquet). Outputs: CoNLL-U or JSON lines.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .core.conllu_io import READERS, WRITERS, Sentence, guess_format
from .core.errors import InputError

OUTPUT_SUFFIX = {"conllu": ".conllu", "jsonl": ".jsonl"}
_TAGGERS: dict = {}  # per worker process: model folder -> loaded tagger (loaded once)


@dataclass
class CorpusJob:
    model: str
    output: str
    input_format: str | None = None  # None: from each file's name (.parquet is Parquet)
    output_format: str = "conllu"
    threads: int = 1
    batch_size: int = 64
    treebank: str | None = None  # a treebank hint for every shard (models with hints)


def shard_format(path: str, given: str | None) -> str:
    if given:
        return given
    return "parquet" if path.endswith(".parquet") else guess_format(path)


def output_path(job: CorpusJob, shard: str) -> Path:
    name = Path(shard).name
    for suffix in (".gz", ".xz", ".parquet", ".conllu", ".jsonl", ".txt"):
        name = name.removesuffix(suffix)
    return Path(job.output) / (name + OUTPUT_SUFFIX[job.output_format])


def read_parquet(path: str) -> list[Sentence]:
    import pyarrow.parquet as pq  # noqa: PLC0415 - only for Parquet input

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises its own types for a damaged file
        raise InputError(f"{path}: cannot read Parquet ({err})") from None
    if "words" not in table.column_names:
        raise InputError(f"{path}: no 'words' column (has {', '.join(table.column_names)})")
    rows = table.to_pylist()
    return [Sentence([str(w) for w in row["words"]], source=path, line_no=i + 1,
                     meta={k: v for k, v in row.items() if k != "words"}) for i, row in enumerate(rows)]


def _tagger(job: CorpusJob):
    key = (job.model, job.threads, job.batch_size)
    if key not in _TAGGERS:
        from .tagging import load  # noqa: PLC0415

        _TAGGERS[key] = load(job.model, threads=job.threads, batch_size=job.batch_size)
    return _TAGGERS[key]


def tag_shard(job: CorpusJob, shard: str) -> dict:
    """Tag one shard into its output file (atomically); -> counts. A finished shard is skipped."""
    out = output_path(job, shard)
    if out.exists():
        return {"shard": shard, "skipped": True, "sentences": 0, "words": 0, "seconds": 0.0}
    started = time.perf_counter()
    tagger = _tagger(job)
    fmt = shard_format(shard, job.input_format)
    if fmt == "parquet":
        sentences = read_parquet(shard)
    elif fmt == "raw":
        from .tagging.raw import read_raw  # noqa: PLC0415

        sentences = read_raw(shard, tagger.segmenter, treebank=job.treebank)
    else:
        sentences = READERS[fmt](shard)
    writer = WRITERS[job.output_format]
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    n_sentences = n_words = 0
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for sentence, upos, feats in tagger.tag_stream(sentences, treebank=job.treebank):
                f.write(writer(sentence, upos, feats))
                n_sentences += 1
                n_words += len(sentence.words)
        os.replace(tmp, out)  # whole or not at all
    finally:
        tmp.unlink(missing_ok=True)
    return {"shard": shard, "skipped": False, "sentences": n_sentences, "words": n_words,
            "seconds": round(time.perf_counter() - started, 3)}


def find_shards(pattern: str, job: CorpusJob) -> list[str]:
    shards = sorted(s for s in glob.glob(pattern, recursive=True) if Path(s).is_file())
    if not shards:
        raise InputError(f"{pattern}: no input files")
    seen: dict[Path, str] = {}
    for shard in shards:
        out = output_path(job, shard)
        if out in seen:
            raise InputError(f"{shard}: its output {out.name} would overwrite that of {seen[out]}")
        seen[out] = shard
    return shards


class Progress:
    def __init__(self, total: int):
        self.total, self.done, self.words, self.started = total, 0, 0, time.perf_counter()

    def update(self, result: dict) -> None:
        self.done += 1
        self.words += result["words"]
        rate = self.words / max(time.perf_counter() - self.started, 1e-9)
        note = " (already done)" if result["skipped"] else ""
        print(f"polytag: {self.done}/{self.total} shards, {self.words:,} words, {rate:,.0f} words/s: "
              f"{Path(result['shard']).name}{note}", file=sys.stderr, flush=True)


def run_local(job: CorpusJob, shards: list[str]) -> list[dict]:
    progress, results = Progress(len(shards)), []
    for shard in shards:
        results.append(tag_shard(job, shard))
        progress.update(results[-1])
    return results


def run_dask(job: CorpusJob, shards: list[str], workers: int, scheduler: str | None) -> list[dict]:
    from distributed import Client, LocalCluster, as_completed  # noqa: PLC0415

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:  # one single-threaded worker process per core asked for: the model uses `threads` within it
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = [client.submit(tag_shard, job, shard, key=f"polytag-{i}-{Path(shard).name}", pure=False)
                   for i, shard in enumerate(shards)]
        progress, results = Progress(len(shards)), []
        for future in as_completed(futures):
            results.append(future.result())
            progress.update(results[-1])
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def tag_corpus(pattern: str, job: CorpusJob, engine: str = "local", workers: int = 2,
               scheduler: str | None = None) -> dict:
    shards = find_shards(pattern, job)
    Path(job.output).mkdir(parents=True, exist_ok=True)
    for stale in Path(job.output).glob(".*.tmp"):  # left by a worker that was killed (one run per folder)
        stale.unlink()
    if not Path(job.model).is_dir():
        raise InputError(f"{job.model}: model folder not found")
    started = time.perf_counter()
    results = run_local(job, shards) if engine == "local" else run_dask(job, shards, workers, scheduler)
    words = sum(r["words"] for r in results)
    seconds = time.perf_counter() - started
    summary = {"shards": len(shards), "tagged": sum(not r["skipped"] for r in results), "words": words,
               "seconds": round(seconds, 2), "words_per_s": round(words / max(seconds, 1e-9)), "engine": engine,
               "workers": workers if engine == "dask" else 1, "job": asdict(job)}
    (Path(job.output) / "_polytag_run.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary

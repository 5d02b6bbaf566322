"""`polytag tag-corpus` on this machine: words/s with the local engine and a local Dask cluster of
1 and 2 workers, against one plain `polytag tag` process over the same input (the dev files,
cut into shards). Writes docs/results/corpus_scale.json, which docs/scale.md quotes.

    python benchmarks/corpus_scale.py ../shared/ud --json docs/results/corpus_scale.json
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.corpus_tagging import CorpusJob, tag_corpus  # noqa: E402


def make_shards(data: Path, folder: Path, n_shards: int) -> int:
    """The dev files' sentences dealt round-robin into n_shards CoNLL-U shards; -> words."""
    blocks = [b for dev in sorted(data.glob("*/*-ud-dev.conllu.xz"))
              for b in lzma.open(dev, "rt", encoding="utf-8").read().split("\n\n") if b.strip()]
    shards = [[] for _ in range(n_shards)]
    for i, block in enumerate(blocks):
        shards[i % n_shards].append(block + "\n\n")
    for i, part in enumerate(shards):
        (folder / f"shard-{i:03d}.conllu").write_text("".join(part), encoding="utf-8")
    (folder / "all.conllu.in").write_text("".join(b + "\n\n" for b in blocks), encoding="utf-8")
    return sum(1 for b in blocks for line in b.splitlines() if line.split("\t")[0].isdigit())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="treebank folder with <id>/<id>-ud-dev.conllu.xz")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    try:
        words = make_shards(Path(args.data), work, args.shards)
        model = str(Path(__file__).resolve().parents[1] / "polytag" / "models" / "default")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "polytag.cli", "tag", "--format", "conllu", "--threads", "1",
                        str(work / "all.conllu.in"), "-o", str(work / "plain.conllu")], check=True)
        rows = {"polytag tag (1 process, 1 thread)": round(words / (time.perf_counter() - start))}
        for name, engine, workers in (("tag-corpus local", "local", 1), ("tag-corpus dask, 1 worker", "dask", 1),
                                      ("tag-corpus dask, 2 workers", "dask", 2)):
            out = work / name.replace(" ", "_").replace(",", "")
            start = time.perf_counter()
            tag_corpus(str(work / "shard-*.conllu"), CorpusJob(model=model, output=str(out), threads=1),
                       engine, workers)
            rows[name] = round(words / (time.perf_counter() - start))
        result = {"words": words, "shards": args.shards, "words_per_s": rows,
                  "note": "wall time including start-up (process, cluster, model load), 1 model thread per worker"}
        print(json.dumps(result, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

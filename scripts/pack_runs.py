"""Pack training runs for the trip back from a lent GPU machine, which returns at most 8 files
of 16 MiB (64 MiB in all): every run's logs and metrics in one small archive, then each run's
best model folder (xz tar, split into parts), best dev score first, while they fit.

    python scripts/pack_runs.py runs/gpu $OUT          # pack
    cat name.tar.xz.part* | tar -xJ -C runs/gpu_back    # unpack, here
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import shutil
import subprocess
import tarfile
from pathlib import Path

MB = 1_000_000


def best_dev(run: Path) -> float | None:
    """The run's best dev score, (UPOS + UFeats) / 2, the one training picks its model by."""
    records = (json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines())
    return max((r["dev_score"] for r in records if "dev_score" in r), default=None)


def xz_tar(paths: list[tuple[Path, str]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, name in paths:
            tar.add(path, arcname=name)
    if shutil.which("xz"):  # all cores: the lease's clock is running
        return subprocess.run(["xz", "-T0", "-1", "-c"], input=buffer.getvalue(), capture_output=True,
                              check=True).stdout
    return lzma.compress(buffer.getvalue(), preset=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--budget-mb", type=float, default=64 * 1.048576 - 2, help="all files together")
    p.add_argument("--part-mb", type=float, default=16 * 1.048576 - 0.5)
    p.add_argument("--max-files", type=int, default=8)
    args = p.parse_args()

    runs = sorted(r for r in args.runs.iterdir() if (r / "metrics.jsonl").exists())
    scores = {r.name: best_dev(r) for r in runs}
    logs = [(f, f"{r.name}/{f.name}") for r in runs for f in sorted(r.iterdir()) if f.suffix in (".jsonl", ".json")]
    logs += [(f, f.name) for f in sorted(args.runs.glob("*.log"))]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "logs.tar.xz").write_bytes(xz_tar(logs))
    used, files = (args.out / "logs.tar.xz").stat().st_size, 1

    packed = {}
    for run in sorted(runs, key=lambda r: -(scores[r.name] or -1)):
        if not (run / "model.safetensors").exists():
            continue
        members = [(f, f"{run.name}/{f.name}") for f in sorted(run.iterdir()) if f.name != "checkpoint"]
        data = xz_tar(members)
        part = int(args.part_mb * MB)
        parts = [data[i : i + part] for i in range(0, len(data), part)]
        if used + len(data) > args.budget_mb * MB or files + len(parts) > args.max_files:
            packed[run.name] = "left out: over the size limits"
            continue
        for i, chunk in enumerate(parts):
            (args.out / f"{run.name}.tar.xz.part{i}").write_bytes(chunk)
        used, files = used + len(data), files + len(parts)
        packed[run.name] = f"{len(data) / MB:.1f} MB in {len(parts)} part(s)"
    for run in runs:
        score = scores[run.name]
        print(f"{run.name}: best dev (UPOS+UFeats)/2 {score if score is None else round(score, 2)}; "
              f"{packed.get(run.name, 'no model')}")


if __name__ == "__main__":
    main()

"""scripts/pack_runs.py: runs packed best dev score first, split into parts, while they fit."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pack_runs.py"


def make_run(folder: Path, dev_scores: list[tuple[float, float]], weights_bytes: int) -> None:
    folder.mkdir(parents=True)
    records = [{"step": 100, "loss": 1.0}] + [{"epoch": i + 1, "dev_upos": u, "dev_ufeats_bundle": f,
                                                 "dev_score": (u + f) / 2} for i, (u, f) in enumerate(dev_scores)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(os.urandom(weights_bytes))  # incompressible, like weights
    (folder / "checkpoint").mkdir()
    (folder / "checkpoint" / "state.pt").write_bytes(b"x" * 1000)


def test_best_run_first_split_into_parts_and_what_does_not_fit_left_out(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "out"
    make_run(runs / "weak", [(80.0, 70.0)], 300_000)
    make_run(runs / "strong", [(90.0, 85.0), (91.0, 86.0)], 300_000)
    make_run(runs / "middle", [(88.0, 80.0)], 300_000)
    (runs / "strong.log").write_text("log\n")
    result = subprocess.run([sys.executable, str(SCRIPT), str(runs), str(out), "--budget-mb", "0.7",
                             "--part-mb", "0.2"], capture_output=True, text=True, check=True)
    assert "strong: best dev (UPOS+UFeats)/2 88.5; 0.3 MB in 2 part(s)" in result.stdout
    assert "weak: best dev (UPOS+UFeats)/2 75.0; left out: over the size limits" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "logs.tar.xz", "middle.tar.xz.part0", "middle.tar.xz.part1", "strong.tar.xz.part0", "strong.tar.xz.part1"]
    joined = tmp_path / "strong.tar.xz"
    joined.write_bytes(b"".join((out / f"strong.tar.xz.part{i}").read_bytes() for i in range(2)))
    with tarfile.open(joined) as tar:
        assert sorted(tar.getnames()) == ["strong/config.json", "strong/metrics.jsonl", "strong/model.safetensors"]
    with tarfile.open(out / "logs.tar.xz") as tar:
        assert "strong.log" in tar.getnames() and "weak/metrics.jsonl" in tar.getnames()

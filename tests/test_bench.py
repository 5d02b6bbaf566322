"""`polytag bench` in its reduced mode on the tiny model (no speed is asserted)."""

from __future__ import annotations

import json

from polytag.bench import (
    add_speedups,
    make_inputs,
    markdown,
    meta_lstm_available,
    run_worker,
)
from polytag.cli import main


def test_bench_quick_all_systems(tiny_model_dir, tmp_path, capsys):
    systems = "bert-base,student-torch,student-onnx-fp32,student-onnx-int8"
    if meta_lstm_available():
        systems += ",meta-lstm"
    out = tmp_path / "bench.json"
    # --reference tiny: the BERT-base row's code path with a small encoder, to stay fast
    rc = main(["bench", "--model", str(tiny_model_dir), "--quick", "--in-process", "--threads", "1",
               "--lengths", "8,20", "--batch-size", "4", "--reference", "tiny", "--systems", systems,
               "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    rows = {(r["system"], r["threads"]): r for r in data["rows"]}
    assert set(k for k, _ in rows) == set(systems.split(","))
    for row in rows.values():
        assert "error" not in row, row
        assert set(row["results"]) == {"8", "20"}
        for res in row["results"].values():
            assert res["latency_ms"]["p50"] > 0 and res["words_per_s"] > 0
            assert res["latency_speedup_vs_bert"] > 0 and res["throughput_speedup_vs_bert"] > 0
        assert row["disk_bytes"] > 0 and row["peak_rss_mb"] > 0
    assert rows[("bert-base", 1)]["results"]["8"]["latency_speedup_vs_bert"] == 1.0
    assert rows[("student-onnx-int8", 1)]["parameters"] == rows[("student-torch", 1)]["parameters"]
    assert data["setup"]["student"] == str(tiny_model_dir)
    printed = capsys.readouterr().out
    assert "| MiniBERT (ONNX int8) | 1 | 8 |" in printed and "peak RSS MB" in printed
    assert not list(tiny_model_dir.glob("*.onnx"))  # the model folder is never written to


def test_worker_runs_in_its_own_process(tiny_model_dir, tmp_path):
    """The ONNX worker in a subprocess (how the full bench measures RSS per system)."""
    import shutil  # noqa: PLC0415

    from polytag.training.export import export  # noqa: PLC0415

    folder = shutil.copytree(tiny_model_dir, tmp_path / "m")
    export(folder, check=False)
    inputs, source = make_inputs([6], 4, None)
    assert source.startswith("built-in") and all(len(s) == 6 for s in inputs["6"])
    (tmp_path / "in.json").write_text(json.dumps(inputs))
    spec = {"folder": str(folder), "inputs": str(tmp_path / "in.json"), "batch_size": 2, "seconds": 0.01,
            "min_samples": 2, "threads": 1, "device": "cpu", "system": "student-onnx-int8"}
    row = run_worker(spec, in_process=False)
    assert "error" not in row, row
    assert row["peak_rss_mb"] >= row["rss_loaded_mb"] > 0
    failed = run_worker({**spec, "folder": str(tmp_path / "missing")}, in_process=False)
    assert "missing" in failed["error"]
    rows = [row, failed]
    add_speedups(rows)
    assert "failed" in markdown({"rows": rows})


def test_inputs_from_a_dev_file(tmp_path):
    from conftest import ALL_CONLLU, write_conllu  # noqa: PLC0415

    dev = write_conllu(tmp_path / "dev.conllu.xz", ALL_CONLLU)
    inputs, source = make_inputs([32, 5], 3, str(dev))
    assert source.endswith("dev.conllu.xz") and [len(s) for s in inputs["32"]] == [32] * 3
    assert inputs["5"][0] == ["Sue", "likes", "coffee", "and", "Bill"]


def test_bench_speed_script_help_leaves_the_table_alone(tmp_path):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    table = tmp_path / "bench.json"
    table.write_text('{"command": "python benchmarks/bench_speed.py"}\n', encoding="utf-8")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_speed.py"
    done = subprocess.run([sys.executable, str(script), "--help", "--json", str(table)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage: polytag bench" in done.stdout
    assert table.read_text(encoding="utf-8") == '{"command": "python benchmarks/bench_speed.py"}\n'

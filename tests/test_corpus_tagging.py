"""`polytag tag-corpus`: one output shard per input shard, the same bytes as `polytag tag`, on a
real local Dask cluster of 2 workers too; reruns skip finished shards and recover from a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DE, EN, FR, RU, write_conllu

from polytag.cli import main
from polytag.core.errors import InputError
from polytag.corpus_tagging import CorpusJob, tag_corpus

DOCS = [EN, DE, FR, RU]


def make_shards(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_conllu(folder / f"part-{i:03d}.conllu", "".join(DOCS[(i + k) % 4] for k in range(1 + i % 3)))
    return folder


def tagged_alone(shard: Path, model: Path, tmp: Path) -> str:
    out = tmp / f"alone-{shard.name}.conllu"
    assert main(["tag", str(shard), "--model", str(model), "-o", str(out), "--backend", "torch"]) == 0
    return out.read_text(encoding="utf-8")


def test_local_engine_writes_what_polytag_tag_writes_and_reruns_skip(tmp_path, tiny_model_dir):
    shards = make_shards(tmp_path / "in", 3)
    job = CorpusJob(model=str(tiny_model_dir), output=str(tmp_path / "out"))
    summary = tag_corpus(str(shards / "*.conllu"), job)
    assert summary["tagged"] == 3 and summary["words"] > 0
    for shard in sorted(shards.glob("*.conllu")):
        assert (tmp_path / "out" / shard.name).read_text(encoding="utf-8") == tagged_alone(shard, tiny_model_dir,
                                                                                           tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.conllu")}
    assert tag_corpus(str(shards / "*.conllu"), job)["tagged"] == 0
    assert before == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.conllu")}


def test_parquet_words_and_jsonl_inputs(tmp_path, tiny_model_dir):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa  # noqa: PLC0415

    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"words": [["Sue", "likes", "tea", "."], ["Das", "ist", "gut"]], "id": [1, 2]}),
                   folder / "a.parquet")
    (folder / "b.jsonl").write_text('{"words": ["Sue", "likes", "tea", "."], "id": 1}\n', encoding="utf-8")
    job = CorpusJob(model=str(tiny_model_dir), output=str(tmp_path / "out"), output_format="jsonl")
    assert tag_corpus(str(folder / "*"), job)["tagged"] == 2
    a = [json.loads(line) for line in (tmp_path / "out" / "a.jsonl").read_text().splitlines()]
    b = [json.loads(line) for line in (tmp_path / "out" / "b.jsonl").read_text().splitlines()]
    assert [r["id"] for r in a] == [1, 2] and a[0]["upos"] == b[0]["upos"] and len(a[1]["upos"]) == 3


def test_bad_inputs(tmp_path, tiny_model_dir):
    job = CorpusJob(model=str(tiny_model_dir), output=str(tmp_path / "out"))
    with pytest.raises(InputError, match="no input files"):
        tag_corpus(str(tmp_path / "nothing-*.conllu"), job)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_conllu(tmp_path / "a" / "x.conllu", EN)
    write_conllu(tmp_path / "b" / "x.conllu", DE)
    with pytest.raises(InputError, match="would overwrite"):
        tag_corpus(str(tmp_path / "*" / "x.conllu"), job)


def test_a_dask_cluster_of_two_workers_gives_the_same_bytes(tmp_path, tiny_model_dir):
    pytest.importorskip("distributed")
    shards = make_shards(tmp_path / "in", 6)
    local = CorpusJob(model=str(tiny_model_dir), output=str(tmp_path / "local"))
    tag_corpus(str(shards / "*.conllu"), local)
    dask = CorpusJob(model=str(tiny_model_dir), output=str(tmp_path / "dask"))
    summary = tag_corpus(str(shards / "*.conllu"), dask, engine="dask", workers=2)
    assert summary["tagged"] == 6 and summary["workers"] == 2
    for out in sorted((tmp_path / "local").glob("*.conllu")):
        assert (tmp_path / "dask" / out.name).read_bytes() == out.read_bytes()


def test_a_run_killed_mid_way_is_completed_by_a_rerun(tmp_path, tiny_model_dir):
    pytest.importorskip("distributed")
    shards = make_shards(tmp_path / "in", 40)
    expected = tmp_path / "expected"
    tag_corpus(str(shards / "*.conllu"), CorpusJob(model=str(tiny_model_dir), output=str(expected)))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "polytag.cli", "tag-corpus", str(shards / "*.conllu"), "-o", str(out),
               "--model", str(tiny_model_dir), "--engine", "dask", "--workers", "2"]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None and len(list(out.glob("*.conllu"))) < 3:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # the driver, the scheduler and both workers, mid-run
    run.wait()
    done_before = len(list(out.glob("*.conllu")))
    assert main(["tag-corpus", str(shards / "*.conllu"), "-o", str(out), "--model", str(tiny_model_dir),
                 "--engine", "dask", "--workers", "2"]) == 0
    summary = json.loads((out / "_polytag_run.json").read_text())
    assert summary["tagged"] == 40 - done_before
    assert sorted(p.name for p in out.glob("*.conllu")) == sorted(p.name for p in expected.glob("*.conllu"))
    for want in expected.glob("*.conllu"):
        assert (out / want.name).read_bytes() == want.read_bytes()  # no shard lost, none doubled
    assert not list(out.glob(".*.tmp"))


def test_a_treebank_hint_gives_what_polytag_tag_gives_with_it(tmp_path, tiny_model_dir, capsys):
    from helpers import hinted_copy  # noqa: PLC0415

    model = hinted_copy(tiny_model_dir, tmp_path / "hints")
    shards = make_shards(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert main(["tag-corpus", str(shards / "*.conllu"), "-o", str(out), "--model", str(model),
                 "--treebank", "xx_test"]) == 0
    for shard in sorted(shards.glob("*.conllu")):
        alone = tmp_path / f"alone-{shard.name}"
        assert main(["tag", str(shard), "--model", str(model), "-o", str(alone), "--backend", "torch",
                     "--treebank", "xx_test"]) == 0
        assert (out / shard.name).read_text(encoding="utf-8") == alone.read_text(encoding="utf-8")
    assert tagged_alone(shard, model, tmp_path) != alone.read_text(encoding="utf-8")  # the hint mattered
    capsys.readouterr()
    assert main(["tag-corpus", str(shards / "*.conllu"), "-o", str(tmp_path / "none"), "--model", str(model),
                 "--treebank", "zz_none"]) == 2
    assert "treebank hint 'zz_none': unknown" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()

"""`polytag export`: the files it writes, dynamic batch/sequence axes, int8 vs fp32, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from polytag.cli import main


@pytest.fixture()
def model_copy(tiny_model_dir, tmp_path):
    return shutil.copytree(tiny_model_dir, tmp_path / "m")


def test_export_writes_int8_and_fp32(model_copy, capsys):
    assert main(["export", "--model", str(model_copy)]) == 0
    info = json.loads((model_copy / "onnx.json").read_text())
    assert info == json.loads(capsys.readouterr().out)
    assert info["precision"] == "int8-dynamic" and info["fp32_file"] == "model.fp32.onnx"
    assert info["outputs"] == ["upos", "bundle_ids"]  # only the head the model decodes with
    assert info["parity_vs_torch_fp32"]["words"] > 50
    int8, fp32 = onnx.load(model_copy / "model.onnx"), onnx.load(model_copy / "model.fp32.onnx")
    ops = {n.op_type for n in int8.graph.node}
    assert "MatMulInteger" in ops or "QAttention" in ops
    assert "Attention" in {n.op_type for n in fp32.graph.node}  # fused by onnxruntime's optimizer
    assert (model_copy / "model.onnx").stat().st_size < (model_copy / "model.fp32.onnx").stat().st_size
    assert not [p for p in model_copy.iterdir() if p.name.startswith("tmp")]  # temp folder removed


def test_dynamic_batch_and_sequence_axes(model_copy):
    assert main(["export", "--model", str(model_copy), "--fp32", "--morph", "bundle,factored"]) == 0
    assert not (model_copy / "model.fp32.onnx").exists()
    session = ort.InferenceSession(str(model_copy / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["upos", "bundle_ids", "factored_ids"]
    assert [i.name for i in session.get_inputs()] == ["word_embeddings", "attention_mask", "word_index"]
    labels = json.loads((model_copy / "labels.json").read_text())
    hidden = json.loads((model_copy / "config.json").read_text())["encoder_config"]["hidden_size"]
    for batch, seq in ((1, 3), (3, 40), (7, 128)):
        embedded = np.random.default_rng(0).normal(size=(batch, seq, hidden)).astype(np.float32)
        mask = np.ones((batch, seq), dtype=np.int64)
        mask[-1, seq // 2 + 1 :] = 0
        word_index = np.arange(1, max(seq // 2, 2), dtype=np.int64)  # a batch always has words
        upos, bundle, factored = session.run(None, {"word_embeddings": embedded, "attention_mask": mask,
                                                    "word_index": word_index})
        n = len(word_index)
        assert upos.shape == (n, 17) and bundle.shape == (n,) and factored.shape == (n, len(labels["features"]))
        assert bundle.max() < len(labels["bundles"])


def test_export_errors(tmp_path, model_copy, capsys):
    assert main(["export", "--model", str(tmp_path / "missing")]) == 2
    assert "model folder not found" in capsys.readouterr().err
    assert main(["export", "--model", str(model_copy), "--morph", "lemma"]) == 2
    assert "no 'lemma' morphology head" in capsys.readouterr().err

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
    # ... but SkipLayerNormalization written back as Add + LayerNormalization (its kernel is slower)
    for graph in (int8, fp32):
        ops = [n.op_type for n in graph.graph.node]
        assert "SkipLayerNormalization" not in ops
        assert ops.count("LayerNormalization") == 1 + info["unfused"]["SkipLayerNormalization"]
    layers = json.loads((model_copy / "config.json").read_text())["encoder_config"]["num_hidden_layers"]
    assert info["unfused"]["SkipLayerNormalization"] == 2 * layers  # after attention and after the FFN
    assert not any(f.startswith("SkipLayerNormalization") for f in info["fused"])
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


def skip_layer_norm_graph(hidden: int = 8, with_sum: bool = True):
    """One SkipLayerNormalization with a bias, its input+skip+bias sum read by a later node when
    `with_sum`, as onnxruntime's optimizer writes it in a BERT layer."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    inits = [helper.make_tensor(name, TensorProto.FLOAT, [hidden], rng.normal(size=hidden).astype(np.float32))
             for name in ("gamma", "beta", "bias")]
    outputs = ["y", "", "", "sum"] if with_sum else ["y"]
    nodes = [helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta", "bias"], outputs,
                              domain="com.microsoft", epsilon=1e-5, name="sln")]
    graph_outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", "S", hidden])]
    if with_sum:
        nodes.append(helper.make_node("Relu", ["sum"], ["r"]))
        graph_outputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, ["B", "S", hidden]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["B", "S", hidden]) for n in ("x", "skip")]
    return helper.make_model(helper.make_graph(nodes, "g", inputs, graph_outputs, inits), ir_version=8,
                             opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


@pytest.mark.parametrize("with_sum", [True, False])
def test_unfused_skip_layer_norm_computes_the_same_and_stays_unfused_when_served(tmp_path, with_sum):
    from polytag.tagging.onnx_backend import DISABLED_FUSIONS, session_options
    from polytag.training.export import unfuse_skip_layer_norm

    path = tmp_path / "g.onnx"
    onnx.save(skip_layer_norm_graph(with_sum=with_sum), str(path))
    fused = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {n: np.random.default_rng(1).normal(size=(2, 5, 8)).astype(np.float32) for n in ("x", "skip")}
    expected = fused.run(None, feeds)
    assert unfuse_skip_layer_norm(path) == 1
    assert [n.op_type for n in onnx.load(str(path)).graph.node][:3] == ["Add", "Add", "LayerNormalization"]
    assert unfuse_skip_layer_norm(path) == 0  # nothing left to replace: the file is not written again
    options = session_options(1)
    options.optimized_model_filepath = str(tmp_path / "served.onnx")  # the graph as the backend runs it
    served = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                  disabled_optimizers=DISABLED_FUSIONS)
    for got, want in zip(served.run(None, feeds), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert "SkipLayerNormalization" not in {n.op_type for n in onnx.load(str(tmp_path / "served.onnx")).graph.node}
    if not with_sum:  # (a sum read elsewhere is never fused)
        # without the disabled fusion onnxruntime would fuse them back: what DISABLED_FUSIONS is for
        options.optimized_model_filepath = str(tmp_path / "refused.onnx")
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        assert "SkipLayerNormalization" in {n.op_type for n in onnx.load(str(tmp_path / "refused.onnx")).graph.node}


def test_a_folder_exported_before_is_unfused_in_place_and_says_so(tmp_path):
    from polytag.training.export import unfuse_folder

    onnx.save(skip_layer_norm_graph(with_sum=False), str(tmp_path / "model.onnx"))
    info = {"onnx": "model.onnx", "fused": ["Attention=3", "SkipLayerNormalization=1"], "size_bytes": 0}
    (tmp_path / "onnx.json").write_text(json.dumps(info))
    assert unfuse_folder(tmp_path) == 1
    info = json.loads((tmp_path / "onnx.json").read_text())
    assert info["fused"] == ["Attention=3"]
    assert info["unfused"] == {"SkipLayerNormalization": 1, "as": "Add + LayerNormalization"}
    assert info["size_bytes"] == (tmp_path / "model.onnx").stat().st_size
    assert unfuse_folder(tmp_path) == 0 and json.loads((tmp_path / "onnx.json").read_text()) == info

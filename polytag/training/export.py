"""`polytag export`: the encoder + heads as an ONNX graph in the model folder, for fast CPU serving.

    model.fp32.onnx   the exported graph, transformer ops fused by onnxruntime's optimizer (all but
                      SkipLayerNormalization: `unfuse_skip_layer_norm`)
    model.onnx        int8 dynamic quantization of it (the default; `--fp32` writes fp32 here instead)

Inputs (dynamic batch and sequence axes): word_embeddings (B, S, H) float, attention_mask (B, S),
word_index (N,), for a first+last model last_index (N,), and for a model with a character
encoder word_chars (N, max_chars), as built by
`encoding.collate_numpy` plus a lookup of input_ids in the word-embedding matrix. The graph
starts after that lookup: the matrix is the biggest one in the model (vocabulary x hidden), and
model.safetensors already holds it (int8 rows in the shipped model), so
`onnx_backend.EmbeddingTable` reads it from there instead of storing it twice; onnx.json names
it ("embedding_table"). Outputs, per word (N rows):

    upos          (N, 17) float logits: small, and `--x-second-best` needs the runner-up
    bundle_ids    (N,)    argmax of the whole-bundle head (when the model has it)
    factored_ids  (N, F)  argmax value per feature of the factored head (when the model has it)
    bundle, factored      the full logits, only for `Tagger.logits` (never asked for on the hot path;
                          onnxruntime runs only the nodes the requested outputs need)

The ~10k-wide bundle logits never leave the graph on the hot path: returning them would copy
40 KB per word into numpy just to take an argmax there.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import torch

from ..core.errors import InputError
from ..core.folder import EXPORT_INFO, ONNX_FILE
from ..nn.heads import head_logits
from ..nn.model_io import load_model
from ..tagging.loading import load as load_tagger
from ..tagging.tagger import Tagger
from ..tagging.torch_backend import TorchBackend

OPSET = 17
FP32_FILE = "model.fp32.onnx"
INPUTS = ("word_embeddings", "attention_mask", "word_index")
LAST_INDEX = "last_index"  # an extra input of first+last models
WORD_CHARS = "word_chars"  # an extra input of models with a character encoder


def input_names(model) -> list[str]:
    extra = [LAST_INDEX] if model.last_piece is not None else []
    extra += [WORD_CHARS] if model.char_encoder is not None else []
    return [*INPUTS, *extra]


def _wrapper(model, morph: list[str], logits: bool):
    class Exported(torch.nn.Module):
        def __init__(self, tagger):
            super().__init__()
            self.tagger = tagger
            self.extra_inputs = input_names(tagger)[len(INPUTS):]

        def forward(self, word_embeddings, attention_mask, word_index, *extra):
            t = self.tagger
            extra = dict(zip(self.extra_inputs, extra))
            states = t.encoder(inputs_embeds=word_embeddings, attention_mask=attention_mask).last_hidden_state
            words = t.word_states(states, word_index, extra.get(LAST_INDEX), extra.get(WORD_CHARS))
            scores = head_logits(t, words, morph)
            out = [scores["upos"]]
            for head in morph:
                out += [scores[head].argmax(-1), scores[head]] if logits else [scores[head].argmax(-1)]
            return tuple(out)

    return Exported(model).eval()


def embedding_table_name(model) -> str:
    """The state-dict name of the encoder's word-embedding matrix (whatever the architecture)."""
    weight = model.encoder.get_input_embeddings().weight
    return next(name for name, p in model.named_parameters() if p is weight)


def output_names(morph: list[str], logits: bool) -> list[str]:
    names = ["upos"]
    for head in morph:
        names += [f"{head}_ids", head] if logits else [f"{head}_ids"]
    return names


def export_fp32(model, path: Path, morph: list[str], logits: bool = False, example_len: int = 16) -> None:
    """torch.onnx.export with the TorchScript exporter (dynamo=False: the dynamo exporter
    needs onnxscript, which polytag does not depend on)."""
    names = output_names(morph, logits)
    # eager attention exports as plain MatMul/Softmax, the pattern onnxruntime's BERT fusion knows
    try:
        model.encoder.set_attn_implementation("eager")
    except (AttributeError, ValueError):
        model.encoder.config._attn_implementation = "eager"
    mask = torch.ones((2, example_len), dtype=torch.long)
    mask[1, example_len // 2 :] = 0
    word_index = torch.tensor([1, 2, 3, example_len + 1, example_len + 2], dtype=torch.long)
    inputs = input_names(model)
    dynamic = {INPUTS[0]: {0: "batch", 1: "seq"}, INPUTS[1]: {0: "batch", 1: "seq"}}
    dynamic.update({n: {0: "words"} for n in [*inputs[2:], *names]})  # word_chars: (words, fixed)
    with torch.inference_mode(False), torch.no_grad():
        embedded = model.encoder.get_input_embeddings()(torch.full((2, example_len), 5, dtype=torch.long))
        example = (embedded, mask, word_index) + ((word_index + 1,) if LAST_INDEX in inputs else ())
        if WORD_CHARS in inputs:
            chars = torch.zeros((len(word_index), model.config.word_chars), dtype=torch.long)
            chars[:, :3] = torch.tensor([1, 40, 2])
            example += (chars,)
        torch.onnx.export(
            _wrapper(model, morph, logits), example, str(path), input_names=inputs,
            output_names=names, dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )


def optimize(path: Path, num_heads: int, hidden: int) -> list[str]:
    """Fuse attention / LayerNorm / GELU with onnxruntime's transformer optimizer, in place.
    Returns the fused op counts (empty if the optimizer is unavailable or fails)."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model  # noqa: PLC0415
    except ImportError:
        return []
    opt = optimize_model(str(path), model_type="bert", num_heads=num_heads, hidden_size=hidden, opt_level=1)
    opt.save_model_to_file(str(path))
    return [f"{k}={v}" for k, v in opt.get_fused_operator_statistics().items() if v]


def unfuse_skip_layer_norm(path: Path) -> int:
    """Replace each SkipLayerNormalization of the graph at `path` by Add nodes and a standard
    LayerNormalization, in place; -> how many were replaced. ONNX Runtime 1.31's CPU kernel for
    the fused op ran 7 to 10 times slower than the two standard ones (2.5 against 0.3 ns per value,
    hidden 256): a fifth of the tagger graph's time. The backend keeps ONNX Runtime from fusing
    them again (`onnx_backend.DISABLED_FUSIONS`). A node whose mean / variance outputs are used is
    kept as it is."""
    import onnx  # noqa: PLC0415
    from onnx import helper  # noqa: PLC0415

    model = onnx.load(str(path))
    nodes, replaced = [], 0
    for node in model.graph.node:
        outputs = list(node.output) + [""] * (4 - len(node.output))
        if node.op_type != "SkipLayerNormalization" or outputs[1] or outputs[2]:
            nodes.append(node)
            continue
        x, skip, gamma, beta = node.input[:4]
        bias = node.input[4] if len(node.input) > 4 else ""
        epsilon = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-12)
        name = node.name or f"SkipLayerNormalization_{replaced}"
        if bias:
            nodes.append(helper.make_node("Add", [x, bias], [f"{name}_biased"], name=f"{name}_bias"))
            x = f"{name}_biased"
        total = outputs[3] or f"{name}_sum"  # output 3: input + skip + bias, where a later node reads it
        nodes.append(helper.make_node("Add", [x, skip], [total], name=f"{name}_skip"))
        nodes.append(helper.make_node("LayerNormalization", [total, gamma, beta], [outputs[0]], name=f"{name}_norm",
                                      axis=-1, epsilon=epsilon))
        replaced += 1
    if replaced:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        onnx.save(model, str(path))
    return replaced


def unfused_fields(fused: list[str], unfused: int) -> dict:
    """onnx.json's "fused" and "unfused" after `unfuse_skip_layer_norm` replaced `unfused` nodes."""
    if not unfused:
        return {"fused": fused, "unfused": None}
    return {"fused": [f for f in fused if not f.startswith("SkipLayerNormalization=")],
            "unfused": {"SkipLayerNormalization": unfused, "as": "Add + LayerNormalization"}}


def unfuse_folder(folder: Path) -> int:
    """An exported model folder's graph rewritten by `unfuse_skip_layer_norm`, onnx.json updated
    (a folder exported before it: the same weights, the faster kernel); -> nodes replaced."""
    info_path = Path(folder) / EXPORT_INFO
    info = json.loads(info_path.read_text(encoding="utf-8"))
    unfused = unfuse_skip_layer_norm(Path(folder) / info["onnx"])
    if unfused:
        info.update(unfused_fields(info["fused"], unfused), size_bytes=(Path(folder) / info["onnx"]).stat().st_size)
        info_path.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return unfused


def quantize(src: Path, dst: Path) -> None:
    """int8 dynamic quantization: weights int8 ahead of time (one scale per output channel:
    on dev 99.75% UPOS / 99.70% FEATS agreement with fp32 vs 99.71 / 99.51 per tensor, same
    speed), activations per batch."""
    import onnx  # noqa: PLC0415
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    # fused contrib ops (Attention, SkipLayerNormalization) defeat shape inference: say their
    # outputs are float
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def export(folder, fp32: bool = False, keep_fp32: bool = True, morph: list[str] | None = None,
           logits: bool = False, check: bool = True) -> dict:
    """Export the model folder's weights to ONNX inside the folder; -> info (also saved as onnx.json).

    morph: the morphology heads whose argmax the graph returns (default: the one the config
    decodes with; onnxruntime runs every node of a graph, so an unused head would cost time).
    logits: also return the full logits (for `Tagger.logits`; costs memory traffic)."""
    folder = Path(folder)
    model, tokenizer, labels, config = load_model(folder)
    if config.arch != "transformer":
        raise InputError(f"{folder}: ONNX export is only implemented for transformer models (this is {config.arch})")
    morph = morph or [config.morph_decode]
    for head in morph:
        if head not in config.morph_heads:
            raise InputError(f"{folder}: the model has no {head!r} morphology head (has {config.morph_heads})")
    start = time.time()
    enc = model.encoder.config
    root, level = logging.getLogger(), logging.getLogger().level
    with tempfile.TemporaryDirectory(dir=folder) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python code
        root.setLevel(logging.ERROR)  # onnxruntime.quantization logs advice at WARNING
        raw = Path(tmp) / FP32_FILE
        export_fp32(model, raw, morph, logits)
        fusions = unfused_fields(optimize(raw, enc.num_attention_heads, enc.hidden_size), unfuse_skip_layer_norm(raw))
        if fp32:
            shutil.copyfile(raw, Path(tmp) / ONNX_FILE)
        else:
            quantize(raw, Path(tmp) / ONNX_FILE)
        # os.replace: a reader never sees a half-written model.onnx
        os.replace(Path(tmp) / ONNX_FILE, folder / ONNX_FILE)
        if keep_fp32 and not fp32:
            os.replace(raw, folder / FP32_FILE)
        elif (folder / FP32_FILE).exists():
            (folder / FP32_FILE).unlink()  # a stale fp32 copy of an older export
        root.setLevel(level)
    info = {
        "onnx": ONNX_FILE, "precision": "fp32" if fp32 else "int8-dynamic", "opset": OPSET,
        "fp32_file": FP32_FILE if (folder / FP32_FILE).exists() else None,
        "inputs": input_names(model), "embedding_table": embedding_table_name(model),
        "outputs": output_names(morph, logits), **fusions, "seconds": round(time.time() - start, 1),
        "size_bytes": (folder / ONNX_FILE).stat().st_size,
    }
    (folder / EXPORT_INFO).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")  # the backend reads it
    if check:
        info["parity_vs_torch_fp32"] = parity(folder, model, tokenizer, labels, config, morph[0])
        (folder / EXPORT_INFO).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def parity(folder, model, tokenizer, labels, config, morph: str, sentences=None) -> dict:
    """Agreement of model.onnx with PyTorch fp32 on a few sentences (% of words); a sanity
    check only (benchmarks/onnx_parity.py measures it on dev files)."""
    sentences = sentences or [s.split() for s in PARITY_TEXT]
    ref = Tagger(TorchBackend(model), tokenizer, labels, config, morph=morph)
    got = load_tagger(folder, backend="onnx", threads=1, morph=morph)  # also checks the torch-free tokenizer
    return agreement(ref.predict(sentences), got.predict(sentences))


def agreement(a, b) -> dict:
    """Percent of words on which two (upos, feats) predictions agree."""
    n = sum(len(s) for s in a[0])
    same_upos = sum(x == y for s, t in zip(a[0], b[0]) for x, y in zip(s, t))
    same_feats = sum(x == y for s, t in zip(a[1], b[1]) for x, y in zip(s, t))
    return {"words": n, "upos": round(100 * same_upos / max(n, 1), 2), "feats": round(100 * same_feats / max(n, 1), 2)}


PARITY_TEXT = [
    "The quick brown fox jumps over the lazy dog .",
    "Das ist ein kleines Haus am Rande der Stadt .",
    "Мама мыла раму , а папа читал газету .",
    "Il parle du livre qu' il a lu hier soir .",
    "Jis sakė , kad rytoj bus šilta ir saulėta diena .",
    "Гэта была вельмі цікавая кніга пра вайну .",
    "La casa de mi abuela está cerca del río .",
    "Ο σκύλος τρέχει στο πάρκο με τα παιδιά .",
]

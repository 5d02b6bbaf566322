"""Serving with ONNX Runtime: no torch, no transformers (importing those takes seconds).

`tagging.load` reads the tokenizer with `tokenizers` alone and the labels and the config as
plain JSON (core.folder); `OnnxBackend` runs the graph `polytag export` wrote (see
polytag.training.export for its inputs and outputs), after looking the wordpieces up in the word-embedding matrix that
`EmbeddingTable` reads from model.safetensors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..core.folder import EXPORT_INFO, ONNX_FILE, SCALE_SUFFIX, WEIGHTS_FILE


TREEBANK_HINT_TABLE = "treebank_embedding.weight"  # nn.transformer.TaggerModel's hint vectors
# ONNX Runtime fusions kept off when a graph is loaded: export writes Add + LayerNormalization where
# the optimizer had fused a SkipLayerNormalization, whose CPU kernel is the slower
# (training.export.unfuse_skip_layer_norm), and this keeps the session from fusing them again
DISABLED_FUSIONS = ["SkipLayerNormFusion"]


def session_options(threads: int | None = None):
    """The ONNX Runtime options the tagger graph and the segmenter run with: every graph
    optimization, sequential, `threads` intra-op threads (None: ONNX Runtime's default, all
    cores)."""
    import onnxruntime as ort  # noqa: PLC0415

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads:
        opts.intra_op_num_threads = threads
    opts.log_severity_level = 3  # keep warnings about unused initializers off the user's stderr
    return opts


class EmbeddingTable:
    """The encoder's word-embedding matrix from model.safetensors, with numpy only. Kept as stored
    (int8 rows + one scale per row in the shipped model, else fp16/fp32): a lookup dequantizes just
    the rows a batch uses."""

    def __init__(self, path: Path, name: str, required: bool = True):
        """required False: a file without `name` gives a table whose `rows` is None."""
        from safetensors import safe_open  # noqa: PLC0415

        self.rows = self.scale = None
        try:
            with safe_open(str(path), framework="numpy") as weights:
                if name not in weights.keys():
                    if not required:
                        self.nbytes = 0
                        return
                    raise InputError(f"{path}: no tensor {name!r} (the word embeddings the ONNX graph expects); "
                                     "re-export the model with `polytag export`")
                self.rows = weights.get_tensor(name)
                has_scale = name + SCALE_SUFFIX in weights.keys()
                self.scale = weights.get_tensor(name + SCALE_SUFFIX).astype(np.float32) if has_scale else None
        except InputError:
            raise
        except Exception as err:  # safetensors raises its own types for a damaged file
            raise InputError(f"{path}: cannot read weights ({err})") from None
        self.nbytes = self.rows.nbytes + (self.scale.nbytes if self.scale is not None else 0)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        vectors = self.rows[ids].astype(np.float32)
        if self.scale is not None:
            vectors *= self.scale[ids]  # (..., 1): one scale per row
        return vectors


class OnnxBackend:
    """Runs model.onnx with ONNX Runtime on the CPU. Returns the requested outputs as numpy
    arrays: "upos" logits, "bundle_ids" / "factored_ids" argmax ids, or full "bundle" /
    "factored" logits (ONNX Runtime runs only the nodes those outputs need)."""

    name = "onnx"
    returns_ids = True

    def __init__(self, folder, threads: int | None = None, file: str = ONNX_FILE,
                 providers: list[str] | None = None):
        path = Path(folder) / file
        if not path.exists():
            raise InputError(f"{folder}: model folder is missing {file} (run `polytag export --model {folder}`)")
        self.path, self.providers = path, providers or ["CPUExecutionProvider"]
        try:
            self.session = self._session(threads)
        except Exception as err:  # onnxruntime raises its own exception types
            raise InputError(f"{path}: cannot load ONNX model ({str(err).splitlines()[0]})") from None
        # while another thread of the process computes (`share_cores`): a session on a thread fewer
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self.threads = threads or cores
        self.neighbour_working: Callable[[], bool] | None = None
        self._fewer_threads = None
        self.file = file
        self.outputs = {o.name for o in self.session.get_outputs()}
        self.inputs = [i.name for i in self.session.get_inputs()]
        if "word_embeddings" not in self.inputs:
            raise InputError(f"{path}: exported by an older polytag (inputs {self.inputs}); "
                             f"re-export it with `polytag export --model {folder}`")
        try:
            table = json.loads((Path(folder) / EXPORT_INFO).read_text(encoding="utf-8"))["embedding_table"]
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"{folder}: {EXPORT_INFO} is missing or does not name the embedding table; "
                             f"re-export the model with `polytag export --model {folder}`") from None
        weights = Path(folder) / WEIGHTS_FILE
        if not weights.exists():
            raise InputError(f"{folder}: model folder is missing {WEIGHTS_FILE} (it holds the word embeddings)")
        self.embeddings = EmbeddingTable(weights, table)
        # a model with treebank hints: the hint's vector is added to every looked-up embedding, as
        # TaggerModel.encode does before the encoder (the graph starts after that point)
        hints = EmbeddingTable(weights, TREEBANK_HINT_TABLE, required=False)
        self.hints = hints if hints.rows is not None else None

    def _session(self, threads: int | None):
        import onnxruntime as ort  # noqa: PLC0415

        return ort.InferenceSession(str(self.path), session_options(threads), providers=self.providers,
                                    disabled_optimizers=DISABLED_FUSIONS)

    def share_cores(self, working: Callable[[], bool] | None) -> None:
        """While working() says so, another thread of this process computes beside the graph (the
        raw-text segmenter reading ahead): the graph then runs on one thread fewer, so that the
        threads of its parallel sections do not wait for a core that thread holds (on 2 cores, 2
        threads and the segmenter's 1 spun a tenth of the CPU time away; raw text end to end 13 to
        25% faster). None: no neighbour."""
        self.neighbour_working = working

    def _current_session(self):
        if self.neighbour_working is None or self.threads < 2 or not self.neighbour_working():
            return self.session
        if self._fewer_threads is None:
            self._fewer_threads = self._session(self.threads - 1)
        return self._fewer_threads

    def __call__(self, batch: dict, heads: tuple[str, ...]) -> dict[str, np.ndarray]:
        missing = [h for h in heads if h not in self.outputs]
        if missing:
            raise ValueError(f"{self.file} has no output {missing[0]!r} (has {sorted(self.outputs)}); "
                             "re-export the model with `polytag export`")
        # the graph's other inputs: attention_mask, word_index, and last_index / word_chars where the model has them
        feeds = {name: np.asarray(batch[name], dtype=np.int64) for name in self.inputs if name != "word_embeddings"}
        embedded = self.embeddings(np.asarray(batch["input_ids"]))
        if self.hints is not None and "treebank" in batch:
            embedded += self.hints(np.asarray(batch["treebank"]))[:, None, :]
        feeds["word_embeddings"] = embedded
        return dict(zip(heads, self._current_session().run(list(heads), feeds)))

"""Serving with ONNX Runtime: no torch, no transformers (importing those takes seconds).

`load_onnx_parts(folder)` reads the tokenizer with `tokenizers` alone, the labels and the
config as plain JSON; `OnnxBackend` runs the graph `polytag export` wrote (see polytag.export
for its inputs and outputs), after looking the wordpieces up in the word-embedding matrix that
`EmbeddingTable` reads from model.safetensors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from .conllu_io import InputError
from .labels import Labels

ONNX_FILE = "model.onnx"
EXPORT_INFO = "onnx.json"
WEIGHTS_FILE = "model.safetensors"
SCALE_SUFFIX = ".int8_row_scale"  # model_folder stores an int8 matrix's per-row fp16 scales under name + this


@dataclass
class ServingConfig:
    """The fields of model.ModelConfig that tagging reads, without importing torch."""

    encoder: str = "minibert"
    encoder_config: dict = field(default_factory=dict)
    max_len: int = 128
    dropout: float = 0.1
    morph_heads: list[str] = field(default_factory=lambda: ["bundle", "factored"])
    morph_decode: str = "bundle"
    arch: str = "transformer"
    word_pooling: str = "first"
    word_chars: int = 0

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class FastTokenizer:
    """A saved Hugging Face fast tokenizer (tokenizer/tokenizer.json + tokenizer_config.json)
    read with `tokenizers`: only what `encoding.WordPieces` needs."""

    def __init__(self, folder):
        from tokenizers import Tokenizer  # noqa: PLC0415

        folder = Path(folder)
        self.backend_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # WordPieces asks for words without special tokens; a saved padding/truncation
        # setting must not apply to single words
        self.backend_tokenizer.no_padding()
        self.backend_tokenizer.no_truncation()
        specials: dict = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            path = folder / name
            if path.exists():
                specials.update(json.loads(path.read_text(encoding="utf-8")))
        for role in ("cls", "sep", "pad", "unk", "bos", "eos", "mask"):
            token = specials.get(f"{role}_token")
            if isinstance(token, dict):  # {"content": "[CLS]", ...}
                token = token.get("content")
            setattr(self, f"{role}_token", token)
            setattr(self, f"{role}_token_id", self.backend_tokenizer.token_to_id(token) if token else None)

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)


def load_serving_config(folder: Path) -> ServingConfig:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return ServingConfig(**data)
    except (OSError, ValueError, TypeError) as err:
        raise InputError(f"{folder / 'config.json'}: not a polytag model config ({err})") from None


def load_onnx_parts(folder):
    """-> (tokenizer, labels, config) for an exported model folder, without torch."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: model folder not found")
    for name in ("config.json", "labels.json", "tokenizer", ONNX_FILE):
        if not (folder / name).exists():
            raise InputError(f"{folder}: model folder is missing {name}")
    config = load_serving_config(folder)
    try:
        labels = Labels.load(folder / "labels.json")
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"{folder / 'labels.json'}: not a polytag label file ({err!r})") from None
    tok_dir = folder / "tokenizer"
    try:
        if (tok_dir / "tokenizer.json").exists():
            tokenizer = FastTokenizer(tok_dir)
        else:  # e.g. a checkpoint that ships only vocab.txt: let transformers build the fast tokenizer
            from .vocab import load_tokenizer  # noqa: PLC0415

            tokenizer = load_tokenizer(tok_dir)
    except Exception as err:  # tokenizers/transformers raise many types for a broken folder
        raise InputError(f"{tok_dir}: cannot load tokenizer ({err})") from None
    return tokenizer, labels, config


class EmbeddingTable:
    """The encoder's word-embedding matrix from model.safetensors, with numpy only. Kept as stored
    (int8 rows + one scale per row in the shipped model, else fp16/fp32): a lookup dequantizes just
    the rows a batch uses."""

    def __init__(self, path: Path, name: str):
        from safetensors import safe_open  # noqa: PLC0415

        try:
            with safe_open(str(path), framework="numpy") as weights:
                if name not in weights.keys():
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
        import onnxruntime as ort  # noqa: PLC0415

        path = Path(folder) / file
        if not path.exists():
            raise InputError(f"{folder}: model folder is missing {file} (run `polytag export --model {folder}`)")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        if threads:
            opts.intra_op_num_threads = threads
        opts.log_severity_level = 3  # keep warnings about unused initializers off the user's stderr
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise InputError(f"{path}: cannot load ONNX model ({str(err).splitlines()[0]})") from None
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

    def __call__(self, batch: dict, heads: tuple[str, ...]) -> dict[str, np.ndarray]:
        missing = [h for h in heads if h not in self.outputs]
        if missing:
            raise ValueError(f"{self.file} has no output {missing[0]!r} (has {sorted(self.outputs)}); "
                             "re-export the model with `polytag export`")
        # the graph's other inputs: attention_mask, word_index, and last_index / word_chars where the model has them
        feeds = {name: np.asarray(batch[name], dtype=np.int64) for name in self.inputs if name != "word_embeddings"}
        feeds["word_embeddings"] = self.embeddings(np.asarray(batch["input_ids"]))
        return dict(zip(heads, self.session.run(list(heads), feeds)))

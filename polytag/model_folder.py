"""A saved model is one self-describing folder:

    config.json        ModelConfig (architecture, heads, HF encoder config)
    labels.json        label inventories
    tokenizer/         the Hugging Face tokenizer files
    model.safetensors  weights: fp32, fp16 (`weights="fp16"`) or int8 (`weights="int8"`: each
                       weight matrix as int8 with one fp16 scale per row, dequantized on load;
                       the ONNX backend reads the word-embedding matrix from here too)
    metadata.json      data sources and versions, commit, date, training time, scores
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .conllu_io import InputError
from .labels import Labels
from .model import ModelConfig, TaggerModel
from .onnx_backend import SCALE_SUFFIX  # one name for the int8 scales, also read without torch
from .vocab import load_tokenizer

REQUIRED = ["config.json", "labels.json", "tokenizer", "model.safetensors"]
# a meta-lstm folder has no HF tokenizer: its word and character vocabularies are in vocab.json
REQUIRED_BY_ARCH = {"meta-lstm": ["config.json", "labels.json", "vocab.json", "model.safetensors"]}


def _arch(folder: Path) -> str:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8")).get("arch", "transformer")
    except (OSError, ValueError, AttributeError):
        return "transformer"  # a broken config is reported by load_config


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


INT8_MIN_ELEMENTS = 4096  # small matrices and vectors (biases, LayerNorm) stay fp16


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 with one scale per output row (what onnxruntime's per-channel dynamic
    quantization does to the same matrices): -> (int8 values, fp16 scales)."""
    scale = (weight.abs().amax(dim=1, keepdim=True) / 127.0).clamp(min=1e-12).half()
    q = torch.round(weight / scale.float()).clamp(-127, 127).to(torch.int8)
    return q, scale


def compress_state(state: dict[str, torch.Tensor], weights: str) -> dict[str, torch.Tensor]:
    if weights == "fp32":
        return state
    if weights not in ("fp16", "int8"):
        raise ValueError(f"weights must be fp32, fp16 or int8, not {weights!r}")
    out = {}
    for name, value in state.items():
        if not value.is_floating_point():
            out[name] = value
        elif weights == "int8" and value.ndim == 2 and value.numel() >= INT8_MIN_ELEMENTS:
            out[name], out[name + SCALE_SUFFIX] = quantize_rows(value.float())
        else:
            out[name] = value.half()
    return out


def expand_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fp32 tensors from any stored form."""
    out = {}
    for name, value in state.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = state.get(name + SCALE_SUFFIX)
        if scale is not None:
            out[name] = value.float() * scale.float()
        else:
            out[name] = value.float() if value.is_floating_point() else value
    return out


def save_model(folder, model, tokenizer, labels: Labels, metadata: dict | None = None, half: bool = False,
               weights: str | None = None):
    """weights: "fp32" (default), "fp16" (same as half=True) or "int8"."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_dict(), indent=1), encoding="utf-8")
    labels.save(folder / "labels.json")
    if model.config.arch == "meta-lstm":
        tokenizer.save(folder / "vocab.json")  # a meta_lstm.MetaVocab
    else:
        tokenizer.save_pretrained(str(folder / "tokenizer"))
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    state = compress_state(state, weights or ("fp16" if half else "fp32"))
    tmp = folder / "model.safetensors.tmp"
    save_file(state, str(tmp))
    tmp.replace(folder / "model.safetensors")  # never leave a half-written weights file
    if metadata is not None:
        (folder / "metadata.json").write_text(json.dumps(metadata, indent=1, ensure_ascii=False), encoding="utf-8")


def check_folder(folder) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: model folder not found")
    for name in REQUIRED_BY_ARCH.get(_arch(folder), REQUIRED):
        if not (folder / name).exists():
            raise InputError(f"{folder}: model folder is missing {name}")
    return folder


def load_config(folder) -> ModelConfig:
    folder = check_folder(folder)
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return ModelConfig(**data)
    except (ValueError, TypeError) as err:  # ValueError: bad JSON or not UTF-8
        raise InputError(f"{folder / 'config.json'}: not a polytag model config ({err})") from None


def load_model(folder, device: str = "cpu"):
    """-> (model in eval mode, tokenizer, labels, config)."""
    folder = check_folder(folder)
    config = load_config(folder)
    try:
        labels = Labels.load(folder / "labels.json")
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"{folder / 'labels.json'}: not a polytag label file ({err!r})") from None
    if config.arch == "meta-lstm":
        from .meta_lstm import MetaLSTMModel, MetaVocab  # noqa: PLC0415 - optional architecture

        tokenizer = MetaVocab.load(folder / "vocab.json")
        model = MetaLSTMModel(config, labels)
    else:
        try:
            tokenizer = load_tokenizer(folder / "tokenizer")
        except Exception as err:  # transformers raises many types for a broken folder
            raise InputError(f"{folder / 'tokenizer'}: cannot load tokenizer ({err})") from None
        model = TaggerModel(config, labels)
    try:
        state = load_file(str(folder / "model.safetensors"))
    except Exception as err:
        raise InputError(f"{folder / 'model.safetensors'}: cannot read weights ({err})") from None
    state = expand_state(state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(
            f"{folder / 'model.safetensors'}: weights do not match config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    model.to(device).eval()
    return model, tokenizer, labels, config

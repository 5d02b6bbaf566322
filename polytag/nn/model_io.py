"""Model folders with torch: build a model from its folder's config (by architecture, from
`ARCHITECTURES`), load and save its weights (fp32, fp16 or int8 rows). The folder format itself,
file names and config, is `polytag.core.folder`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from ..core.errors import InputError
from ..core.folder import (
    CONFIG_FILE,
    META_VOCAB_FILE,
    METADATA_FILE,
    SCALE_SUFFIX,
    TOKENIZER_DIR,
    WEIGHTS_FILE,
    ModelConfig,
    check_folder,
    check_tokenizer_files,
    load_config,
    load_labels,
)
from ..core.labels import Labels


def load_tokenizer(path: str | Path):
    """A Hugging Face fast tokenizer from a folder (transformers' AutoTokenizer)."""
    from transformers import AutoTokenizer  # noqa: PLC0415 - seconds to import; only the torch path pays it

    tok = AutoTokenizer.from_pretrained(str(path))
    if not getattr(tok, "is_fast", False):
        raise ValueError(f"{path}: polytag needs a fast (Rust) tokenizer; this one is slow-only")
    return tok


@dataclass(frozen=True)
class Architecture:
    """How to build one architecture's network and read/write its vocabulary."""

    build: Callable  # (ModelConfig, Labels) -> nn.Module
    load_vocab: Callable  # folder -> tokenizer or vocabulary
    save_vocab: Callable  # (vocab, folder) -> None


def _transformer() -> Architecture:
    from .transformer import TaggerModel  # noqa: PLC0415

    def load_vocab(folder: Path):
        check_tokenizer_files(folder)
        try:
            return load_tokenizer(folder / TOKENIZER_DIR)
        except Exception as err:  # transformers raises many types for a broken folder
            raise InputError(f"{folder / TOKENIZER_DIR}: cannot load tokenizer ({err})") from None

    return Architecture(TaggerModel, load_vocab, lambda tok, folder: tok.save_pretrained(str(folder / TOKENIZER_DIR)))


def _meta_lstm() -> Architecture:
    from .meta_lstm import MetaLSTMModel, MetaVocab  # noqa: PLC0415

    return Architecture(MetaLSTMModel, lambda folder: MetaVocab.load(folder / META_VOCAB_FILE),
                        lambda vocab, folder: vocab.save(folder / META_VOCAB_FILE))


# architecture name (config.arch) -> a factory; modules are imported only when used
ARCHITECTURES: dict[str, Callable[[], Architecture]] = {"transformer": _transformer, "meta-lstm": _meta_lstm}


def architecture(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise InputError(f"unknown architecture {name!r} (known: {', '.join(ARCHITECTURES)})")
    return ARCHITECTURES[name]()


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
    (folder / CONFIG_FILE).write_text(json.dumps(model.config.to_dict(), indent=1), encoding="utf-8")
    labels.save(folder / "labels.json")
    architecture(model.config.arch).save_vocab(tokenizer, folder)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    state = compress_state(state, weights or ("fp16" if half else "fp32"))
    tmp = folder / (WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    tmp.replace(folder / WEIGHTS_FILE)  # never leave a half-written weights file
    if metadata is not None:
        (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=1, ensure_ascii=False), encoding="utf-8")


def load_model(folder, device: str = "cpu") -> tuple[torch.nn.Module, object, Labels, ModelConfig]:
    """-> (model in eval mode, tokenizer, labels, config)."""
    folder = check_folder(folder)
    config = load_config(folder)
    labels = load_labels(folder)
    arch = architecture(config.arch)
    tokenizer = arch.load_vocab(folder)
    model = arch.build(config, labels)
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except Exception as err:
        raise InputError(f"{folder / WEIGHTS_FILE}: cannot read weights ({err})") from None
    missing, unexpected = model.load_state_dict(expand_state(state), strict=False)
    if missing or unexpected:
        raise InputError(
            f"{folder / WEIGHTS_FILE}: weights do not match config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    model.to(device).eval()
    return model, tokenizer, labels, config

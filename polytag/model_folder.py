"""A saved model is one self-describing folder:

    config.json        ModelConfig (architecture, heads, HF encoder config)
    labels.json        label inventories
    tokenizer/         the Hugging Face tokenizer files
    model.safetensors  weights (fp32, or fp16 with `half=True`)
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


def save_model(folder, model, tokenizer, labels: Labels, metadata: dict | None = None, half: bool = False):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config.to_dict(), indent=1), encoding="utf-8")
    labels.save(folder / "labels.json")
    if model.config.arch == "meta-lstm":
        tokenizer.save(folder / "vocab.json")  # a meta_lstm.MetaVocab
    else:
        tokenizer.save_pretrained(str(folder / "tokenizer"))
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
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
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(
            f"{folder / 'model.safetensors'}: weights do not match config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    model.to(device).eval()
    return model, tokenizer, labels, config

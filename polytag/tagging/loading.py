"""`load(folder)`: a ready Tagger for a model folder. The backend (ONNX Runtime or PyTorch) and
the tagger class (by the folder's architecture) come from the registries below, not from
if-chains; the ONNX path never imports torch or transformers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from ..core.errors import InputError, check_positive
from ..core.folder import (
    ONNX_FILE,
    check_folder,
    has_fast_tokenizer,
    load_config,
    load_fast_tokenizer,
    load_labels,
    load_metadata,
)
from ..core.languages import model_languages
from ..core.variants import load_variants
from ..core.word_lexicon import load_lexicon


def _transformer_tagger():
    from .tagger import Tagger  # noqa: PLC0415

    return Tagger


def _meta_lstm_tagger():
    from .meta_lstm import MetaLSTMTagger  # noqa: PLC0415 - imports torch: only for that architecture

    return MetaLSTMTagger


# architecture (config.arch) -> the Tagger class that serves it
TAGGERS: dict[str, Callable[[], type]] = {"transformer": _transformer_tagger, "meta-lstm": _meta_lstm_tagger}


def tagger_class(arch: str) -> type:
    if arch not in TAGGERS:
        raise InputError(f"unknown architecture {arch!r} (known: {', '.join(TAGGERS)})")
    return TAGGERS[arch]()


def load_onnx_parts(folder) -> tuple:
    """-> (tokenizer, labels, config) of an exported model folder, without torch."""
    folder = check_folder(folder, extra=(ONNX_FILE,))
    config = load_config(folder)
    labels = load_labels(folder)
    if has_fast_tokenizer(folder):
        tokenizer = load_fast_tokenizer(folder)
    else:  # e.g. a checkpoint that ships only vocab.txt: let transformers build the fast tokenizer
        from ..nn.model_io import architecture  # noqa: PLC0415

        tokenizer = architecture(config.arch).load_vocab(folder)
    return tokenizer, labels, config


def _load_onnx(folder: Path, device: str, threads: int | None):
    """-> (backend, tokenizer, labels, config) for an exported model folder, without torch."""
    from .onnx_backend import OnnxBackend  # noqa: PLC0415

    tokenizer, labels, config = load_onnx_parts(folder)
    return OnnxBackend(folder, threads=threads), tokenizer, labels, config


def _load_torch(folder: Path, device: str, threads: int | None):
    import torch  # noqa: PLC0415 - seconds to import; only the PyTorch path pays it

    from ..nn.model_io import load_model  # noqa: PLC0415
    from .torch_backend import TorchBackend  # noqa: PLC0415

    if threads:
        torch.set_num_threads(threads)
    model, tokenizer, labels, config = load_model(folder, device)
    return TorchBackend(model, device), tokenizer, labels, config


# backend name -> (folder, device, threads) -> (backend, tokenizer, labels, config)
BACKENDS: dict[str, Callable] = {"onnx": _load_onnx, "torch": _load_torch}


_NOTED: set[Path] = set()  # folders already told about (once per process)


def pick_backend(folder: Path, backend: str, device: str) -> str:
    """"auto": ONNX Runtime where the folder has a model.onnx and the device is the CPU."""
    if backend == "auto":
        return "onnx" if (folder / ONNX_FILE).exists() and device == "cpu" else "torch"
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r} (known: auto, {', '.join(BACKENDS)})")
    return backend


def load(folder, device: str = "cpu", batch_size: int = 64, backend: str = "auto",
         threads: int | None = None, morph: str | None = None, treebank: str | None = None,
         lexicon: bool = True):
    """A Tagger for a model folder; thread-safe, load it once. treebank: tag as that treebank
    annotates (a model trained with treebank hints: `tagger.treebank_hints` lists them).
    lexicon: use the folder's word lexicon where it has one (core.word_lexicon)."""
    folder = Path(folder)
    check_positive("batch_size", batch_size)
    check_positive("threads", threads, allow_none=True)
    name = pick_backend(folder, backend, device)
    runner, tokenizer, labels, config = BACKENDS[name](folder, device, threads)
    if backend == "auto" and name == "torch" and device == "cpu" and config.arch == "transformer" \
            and folder.resolve() not in _NOTED:
        _NOTED.add(folder.resolve())
        print(f"polytag: note: {folder} has no {ONNX_FILE}, so PyTorch tags (about 4x slower); "
              f"`polytag export --model {folder}` writes one", file=sys.stderr)
    tagger = tagger_class(config.arch)(runner, tokenizer, labels, config, batch_size, morph)
    tagger.languages = [entry["code"] for entry in model_languages(load_metadata(folder))] or None
    tagger.folder = folder
    tagger.lexicon = load_lexicon(folder) if lexicon else None
    tagger.variants = load_variants(folder)
    if treebank is not None:
        tagger.set_treebank(treebank)
    return tagger


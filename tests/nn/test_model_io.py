"""Model folders: weight storage forms (fp32 / fp16 / int8 with row scales) and what loading checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import SENTENCES, all_logits, random_tagger
from safetensors.torch import load_file

from polytag.core.errors import InputError
from polytag.core.folder import SCALE_SUFFIX
from polytag.nn.model_io import (
    compress_state,
    expand_state,
    load_model,
    quantize_rows,
    save_model,
)
from polytag.tagging import load as load_tagger


def test_quantize_rows_round_trip_error_is_bounded():
    torch.manual_seed(0)
    weight = torch.randn(300, 64) * torch.linspace(0.01, 3, 300)[:, None]  # rows of very different size
    q, scale = quantize_rows(weight)
    assert q.dtype == torch.int8 and scale.shape == (300, 1)
    restored = q.float() * scale.float()
    # per row the error is at most half a quantization step (plus fp16 rounding of the scale)
    step = weight.abs().amax(dim=1, keepdim=True) / 127
    assert torch.all((restored - weight).abs() <= 0.5 * step + 2e-3 * weight.abs().amax(dim=1, keepdim=True))


def test_compress_state_keeps_small_tensors_and_integers():
    state = {"big": torch.randn(100, 100), "bias": torch.randn(100), "ids": torch.arange(5)}
    packed = compress_state(state, "int8")
    assert packed["big"].dtype == torch.int8 and packed["big" + SCALE_SUFFIX].dtype == torch.float16
    assert packed["bias"].dtype == torch.float16
    assert torch.equal(packed["ids"], state["ids"])
    restored = expand_state(packed)
    assert set(restored) == set(state)
    assert restored["big"].dtype == torch.float32
    with pytest.raises(ValueError, match="fp32, fp16 or int8"):
        compress_state(state, "int4")


@pytest.mark.parametrize("weights", ["fp16", "int8"])
def test_compressed_weights_tag_like_fp32(tiny_tokenizer, tmp_path, weights):
    tagger = random_tagger(tiny_tokenizer)
    save_model(tmp_path / weights, tagger.backend.model, tiny_tokenizer, tagger.labels, weights=weights)
    stored = load_file(str(tmp_path / weights / "model.safetensors"))
    if weights == "int8":
        assert any(v.dtype == torch.int8 for v in stored.values())
    loaded = load_tagger(tmp_path / weights, backend="torch")
    for a, b in zip(all_logits(tagger, SENTENCES), all_logits(loaded, SENTENCES)):
        assert np.allclose(a["upos"], b["upos"], atol=0.1)
    reference, got = tagger.predict(SENTENCES), loaded.predict(SENTENCES)
    words = sum(len(s) for s in SENTENCES)
    same = sum(x == y for s, t in zip(reference[0], got[0]) for x, y in zip(s, t))
    assert same >= 0.9 * words


def test_int8_folder_is_smaller(tiny_tokenizer, tmp_path):
    tagger = random_tagger(tiny_tokenizer)
    sizes = {}
    for weights in ("fp32", "int8"):
        save_model(tmp_path / weights, tagger.backend.model, tiny_tokenizer, tagger.labels, weights=weights)
        sizes[weights] = (tmp_path / weights / "model.safetensors").stat().st_size
    assert sizes["int8"] < 0.6 * sizes["fp32"]


def test_missing_and_mismatched_pieces_are_named(tiny_tokenizer, tmp_path):
    tagger = random_tagger(tiny_tokenizer)
    folder = tmp_path / "m"
    save_model(folder, tagger.backend.model, tiny_tokenizer, tagger.labels)
    config = json.loads((folder / "config.json").read_text())
    config["morph_heads"] = ["bundle"]  # the weights still hold the factored head
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="do not match config"):
        load_model(folder)
    (folder / "labels.json").unlink()
    with pytest.raises(InputError, match="missing labels.json"):
        load_model(folder)

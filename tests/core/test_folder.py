"""The model-folder format without torch: checks, config, labels, the fast tokenizer."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import SENTENCES

from polytag.core.errors import InputError
from polytag.core.folder import (REQUIRED_FILES, FastTokenizer, ModelConfig, check_folder, load_config,
                                 load_fast_tokenizer, load_labels, load_metadata)


def test_a_complete_folder_passes_and_each_missing_file_is_named(tiny_model_dir, tmp_path):
    assert check_folder(tiny_model_dir) == tiny_model_dir
    with pytest.raises(InputError, match="model folder not found"):
        check_folder(tmp_path / "nowhere")
    for name in REQUIRED_FILES["transformer"]:
        copy = tmp_path / f"without_{name}"
        shutil.copytree(tiny_model_dir, copy)
        target = copy / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        with pytest.raises(InputError, match=f"missing {name}$"):
            check_folder(copy)
    with pytest.raises(InputError, match=r"missing model.onnx \(run `polytag export"):
        check_folder(tiny_model_dir, extra=("model.onnx",))


def test_a_meta_lstm_folder_needs_its_vocabulary_not_a_tokenizer(tmp_path):
    folder = tmp_path / "meta"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"arch": "meta-lstm"}))
    for name in ("labels.json", "model.safetensors"):
        (folder / name).write_text("")
    with pytest.raises(InputError, match="missing vocab.json"):
        check_folder(folder)


def test_config_round_trips_and_bad_configs_are_one_line_errors(tiny_model_dir, tmp_path):
    config = load_config(tiny_model_dir)
    assert isinstance(config, ModelConfig) and ModelConfig(**config.to_dict()) == config
    for text in ("{not json", json.dumps({"no_such_field": 1}), "\xff"):
        (tmp_path / "config.json").write_text(text, encoding="latin-1")
        with pytest.raises(InputError, match="not a polytag model config") as err:
            load_config(tmp_path)
        assert "\n" not in str(err.value)


def test_labels_load_and_a_broken_label_file_is_named(tiny_model_dir, tmp_path):
    assert "NOUN" in load_labels(tiny_model_dir).upos
    (tmp_path / "labels.json").write_text("[]")
    with pytest.raises(InputError, match="labels.json: not a polytag label file"):
        load_labels(tmp_path)


def test_metadata_is_empty_when_absent(tiny_model_dir, tmp_path):
    assert load_metadata(tmp_path) == {}
    assert "treebanks" in load_metadata(tiny_model_dir)


def test_fast_tokenizer_matches_transformers(tiny_model_dir, tiny_tokenizer):
    fast = FastTokenizer(tiny_model_dir / "tokenizer")
    for role in ("cls", "sep", "pad", "unk"):
        assert getattr(fast, f"{role}_token_id") == getattr(tiny_tokenizer, f"{role}_token_id")
    assert len(fast) == len(tiny_tokenizer)
    words = [w for s in SENTENCES for w in s]
    a = fast.backend_tokenizer.encode_batch(words, add_special_tokens=False)
    b = tiny_tokenizer.backend_tokenizer.encode_batch(words, add_special_tokens=False)
    assert [e.ids for e in a] == [e.ids for e in b]


def test_a_broken_tokenizer_file_is_named(tiny_model_dir, tmp_path):
    shutil.copytree(tiny_model_dir / "tokenizer", tmp_path / "tokenizer")
    (tmp_path / "tokenizer" / "tokenizer.json").write_text("{")
    with pytest.raises(InputError, match="tokenizer: cannot load tokenizer"):
        load_fast_tokenizer(tmp_path)


def test_a_folder_with_compacted_labels_loads_alike(tiny_model_dir, tmp_path):
    from polytag.core.folder import LABELS_XZ, check_folder, compact_labels, load_labels  # noqa: PLC0415

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    before = load_labels(folder)
    assert compact_labels(folder).name == LABELS_XZ and not (folder / "labels.json").exists()
    assert check_folder(folder) == folder
    after = load_labels(folder)
    assert (after.upos, after.bundles, after.features) == (before.upos, before.bundles, before.features)
    (folder / LABELS_XZ).write_bytes(b"broken")
    with pytest.raises(InputError, match="labels.json.xz: not a polytag label file"):
        load_labels(folder)

"""polytag average: the mean of runs that continued one model, and how a shipped average
describes its training (scripts/ship_default_model.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_TRAIN_ARGS
from test_cli import assert_one_error_line, run_cli

from polytag.core.folder import SAME_AS_FIRST, branch_stages, share_history
from polytag.nn.model_io import load_model
from polytag.tagging import load as load_tagger
from polytag.training.average import average_models

SENTENCES = [["Il", "parle", "."], ["Das", "ist", "gut", "."]]


@pytest.fixture(scope="module")
def two_runs(tiny_treebank_dir, tiny_model_dir, tmp_path_factory) -> tuple[Path, Path]:
    """Two runs continuing the tiny model: one first-piece, one first+last with a character CNN."""
    root = tmp_path_factory.mktemp("average")
    first, last = root / "first", root / "last"
    args = ["train", str(tiny_treebank_dir), "--init", str(tiny_model_dir), "--epochs", "1", *TINY_TRAIN_ARGS]
    from polytag.cli import main  # noqa: PLC0415

    assert main([*args, "-o", str(first), "--seed", "3"]) == 0
    assert main([*args, "-o", str(last), "--word-pooling", "first+last", "--word-chars", "8", "--seed", "4"]) == 0
    return first, last


def test_the_average_is_the_mean_of_the_weights(two_runs):
    first, last = two_runs
    model, _, _, metadata = average_models([first, last])
    a, b = load_model(first)[0].state_dict(), load_model(last)[0].state_dict()
    mean = model.state_dict()
    name = "upos_head.weight"
    assert not torch.equal(a[name], b[name])
    assert torch.allclose(mean[name], (a[name] + b[name]) / 2)
    # a first-piece model is a first+last one with a zero projection
    assert model.config.word_pooling == "first+last"
    assert torch.allclose(mean["last_piece.weight"], b["last_piece.weight"] / 2)
    # ... and a model without a character CNN one whose CNN is zero
    assert model.config.word_chars == 8
    assert torch.allclose(mean["char_encoder.project.weight"], b["char_encoder.project.weight"] / 2)
    assert [s["folder"] for s in metadata["averaged_from"]] == [str(first), str(last)]
    assert metadata["averaged_from"][1]["initialised_from"]["steps"] > 0
    # the model both runs continued is told in full in the first branch only
    assert metadata["averaged_from"][1]["initialised_from"][SAME_AS_FIRST]
    assert "train_config" in metadata["averaged_from"][0]["initialised_from"]
    assert [len(chain) for chain in branch_stages(metadata["averaged_from"])] == [2, 2]
    assert sorted(metadata["treebanks"]) == ["xx_second", "xx_test", "yy_other"] and metadata["train_words"] > 0
    weighted, _, _, metadata = average_models([first, last], [3, 1])
    assert torch.allclose(weighted.state_dict()[name], 0.75 * a[name] + 0.25 * b[name])
    assert metadata["average_weights"] == [0.75, 0.25]


def test_a_model_averaged_with_itself_predicts_as_before(capsys, two_runs, tmp_path):
    first, _ = two_runs
    out = tmp_path / "self"
    rc, stdout, _ = run_cli(capsys, "average", first, first, "-o", out)
    assert rc == 0 and "mean of 2 models" in stdout
    before = load_tagger(first, backend="torch").tag(SENTENCES)
    assert load_tagger(out, backend="torch").tag(SENTENCES) == before
    assert json.loads((out / "metadata.json").read_text())["averaged_from"][0]["folder"] == str(first)


def test_models_that_do_not_match_are_a_clear_error(capsys, tiny_treebank_dir, two_runs, tmp_path):
    first, _ = two_runs
    other = tmp_path / "other"  # trained from scratch on one treebank: other vocabulary and labels
    assert run_cli(capsys, "train", tiny_treebank_dir, "-o", other, "--treebanks", "yy", "--epochs", "1",
                   *TINY_TRAIN_ARGS)[0] == 0
    rc, _, err = run_cli(capsys, "average", first, other, "-o", tmp_path / "bad")
    assert_one_error_line(rc, err, str(other), "differs from")
    rc, _, err = run_cli(capsys, "average", first, "-o", tmp_path / "bad")
    assert_one_error_line(rc, err, "at least two model folders")
    rc, _, err = run_cli(capsys, "average", first, tmp_path / "missing", "-o", tmp_path / "bad")
    assert_one_error_line(rc, err, "model folder not found")


def load_ship_script():
    path = Path(__file__).resolve().parents[2] / "scripts" / "ship_default_model.py"
    spec = importlib.util.spec_from_file_location("ship_default_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_average_describes_the_shared_run_once_then_each_branch():
    ship = load_ship_script()

    def run(minutes, lr, dev, parent=None, **cfg):
        stage = {"training_seconds": 60 * minutes, "steps": 10, "epoch": 1, "device": "cpu",
                 "train_config": {"lr": lr, **cfg}, "dev_macro": {"bundle": {"upos": dev, "ufeats": dev}}}
        return {**stage, "initialised_from": parent} if parent else stage

    shared = run(100, 5e-4, 90.0)
    metadata = {"averaged_from": [run(50, 1e-4, 91.0, shared, word_pooling="first+last"),
                                  run(40, 2e-4, 92.0, shared, wordpiece_dropout=0.15, word_chars=20)]}
    text = ship.describe_training(metadata, "bundle")
    assert text.startswith("190 min on cpu in 3 run(s): 100 min")
    assert text.count("100 min") == 1
    assert "then 2 runs continuing that model, their weights averaged" in text
    assert "word pooling first+last" in text and "wordpiece dropout 0.15" in text
    assert "character CNN added (20 characters per word)" in text
    assert "dev (fp32) 92.00/92.00" in text
    plain = ship.describe_training({**run(30, 1e-3, 80.0, shared), "device": "cpu"}, "bundle")
    assert plain.startswith("130 min on cpu in 2 run(s)") and "averaged" not in plain
    # a run that continued an averaged model: the average is told inside the history
    averaged = {"training_seconds": 0.0, **metadata}
    later = ship.describe_training({**run(20, 1e-4, 93.0, averaged), "device": "cpu"}, "bundle")
    assert later.startswith("210 min on cpu in 4 run(s): 100 min")
    assert later.index("weights averaged") < later.index("20 min") and later.count("100 min") == 1
    # that run kept the averaged model's pooling (first+last, from one branch); a changed dropout is told
    continued = ship.describe_training({**run(20, 1e-4, 93.0, averaged, dropout=0.2), "device": "cpu"}, "bundle")
    assert "20 min, 10 steps, lr 0.0001, shuffled, word pooling first+last, dropout 0.2, best" in continued
    assert "40 min, 10 steps, lr 0.0002, shuffled, word pooling first, wordpiece dropout" in continued
    # an average of a run and two runs continuing it: that run is told (and counted) once
    base = {**run(20, 1e-4, 93.0, averaged), "folder": "runs/base", "dev": {}}
    history = {k: v for k, v in base.items() if k not in ("folder", "dev")}  # as init_history keeps it
    soup = {"averaged_from": [base, run(5, 1e-4, 94.0, history), run(6, 1e-4, 95.0, history)]}
    text = ship.describe_training({**soup, "device": "cpu"}, "bundle")
    assert text.startswith("221 min on cpu in 6 run(s)") and text.count("20 min") == 1
    assert "3 runs continuing that model, their weights averaged (polytag average): [that model itself] and [5 min" in text
    # the same average with the shared history cut from the later branches (as polytag average
    # writes it) tells the same, and its input is not changed
    cut = share_history(soup["averaged_from"])
    assert cut[1]["initialised_from"] == {SAME_AS_FIRST: True, "date": None, "steps": 10, "training_seconds": 1200}
    assert soup["averaged_from"][1]["initialised_from"] is history
    assert ship.describe_training({"averaged_from": cut, "device": "cpu"}, "bundle") == text
    assert len(json.dumps(cut)) < len(json.dumps(soup["averaged_from"])) / 2
    # a run on a GPU: its minutes are counted apart, and the run says where it ran and its batch size
    gpu = {**run(7, 2e-4, 96.0, history, batch_size=128), "device": "NVIDIA H100 80GB HBM3"}
    text = ship.describe_training(gpu, "bundle")
    assert text.startswith("210 min on cpu and 7 min on NVIDIA H100 80GB HBM3 in 5 run(s)")
    assert "; then 7 min on NVIDIA H100 80GB HBM3, 10 steps, lr 0.0002, shuffled, word pooling first+last, batch 128," in text


def test_runs_with_treebank_hints_average_with_their_hints(capsys, tiny_treebank_dir, tiny_model_dir, two_runs,
                                                             tmp_path):
    from polytag.cli import main  # noqa: PLC0415

    runs = [tmp_path / "h1", tmp_path / "h2"]
    for seed, out in enumerate(runs):
        assert main(["train", str(tiny_treebank_dir), "-o", str(out), "--init", str(tiny_model_dir),
                     "--treebank-hint-dropout", "0.5", "--epochs", "1", *TINY_TRAIN_ARGS, "--seed", str(seed)]) == 0
    capsys.readouterr()  # the runs' progress
    model, _, _, _ = average_models(runs)
    assert model.config.treebank_hints == ["xx_second", "xx_test"]
    a, b = (load_model(r)[0].state_dict()["treebank_embedding.weight"] for r in runs)
    assert not torch.equal(a, b)
    assert torch.allclose(model.state_dict()["treebank_embedding.weight"], (a + b) / 2)
    rc, _, err = run_cli(capsys, "average", runs[0], two_runs[0], "-o", tmp_path / "bad")
    assert_one_error_line(rc, err, str(two_runs[0]), "treebank hints differ")


def test_the_shipped_record_is_rescored_in_place(tiny_model_dir, tiny_treebank_dir, tmp_path, monkeypatch):
    """`ship_default_model.py --rescore DATA`: new scores (UFeats and AllFeats) into the record,
    the model description and the build command kept; the trained source is not needed."""
    ship = load_ship_script()
    record = tmp_path / "default_model.json"
    record.write_text(json.dumps({"command": "python scripts/ship_default_model.py runs/x data",
                                  "model": {"encoder": "kept"}, "evaluation": {"files": {}, "macro": {}}}))
    monkeypatch.setattr(ship, "DEST", tiny_model_dir)
    monkeypatch.setattr(ship, "RESULT", record)
    monkeypatch.setattr(sys, "argv", ["ship_default_model.py", "--rescore", str(tiny_treebank_dir)])
    assert ship.main() == 0
    result = json.loads(record.read_text())
    assert result["command"] == "python scripts/ship_default_model.py runs/x data" and result["model"]["encoder"] == "kept"
    assert set(result["evaluation"]["macro"]) == {"upos", "ufeats", "allfeats"} and result["evaluation"]["files"]
    assert result["evaluation_command"] == f"python scripts/ship_default_model.py --rescore {tiny_treebank_dir}"
    assert "no hint" in result["network_only_macro"] and "upos" in result["torch_backend_macro"]


def test_a_rescore_with_labelled_text_learns_the_lexicon_again_only_if_it_fits(tiny_model_dir, tiny_treebank_dir,
                                                                            tmp_path, monkeypatch):
    """`--rescore DATA --lexicon-text DIR`: the folder's word lexicon gains text lexicons, and the
    record says how; over the size limit, the shipped lexicon stays as it was."""
    import shutil  # noqa: PLC0415

    from polytag.core.word_lexicon import LEXICON_FILE, load_lexicon  # noqa: PLC0415

    ship = load_ship_script()
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    text = tmp_path / "text" / "xx_pseudo"
    text.mkdir(parents=True)
    (text / "xx_pseudo-ud-train.conllu").write_text("1\tzyzzyva\t_\tNOUN\t_\t_\t0\t_\t_\t_\n\n", encoding="utf-8")
    record = tmp_path / "default_model.json"
    record.write_text(json.dumps({"command": "x", "model": {}, "evaluation": {"files": {}, "macro": {}}}))
    monkeypatch.setattr(ship, "DEST", model)
    monkeypatch.setattr(ship, "RESULT", record)
    argv = ["ship_default_model.py", "--rescore", str(tiny_treebank_dir), "--lexicon-text", str(tmp_path / "text")]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(ship, "MAX_MB", 0)  # nothing fits: refused, nothing written
    assert ship.main() == 1
    assert not (model / LEXICON_FILE).exists() and not (model / (LEXICON_FILE + ".new")).exists()
    assert json.loads(record.read_text())["model"] == {}
    monkeypatch.setattr(ship, "MAX_MB", 20)
    assert ship.main() == 0
    assert load_lexicon(model).text_entries("xx")["zyzzyva"].best_upos == "NOUN"
    result = json.loads(record.read_text())
    assert "+ 1 forms of labelled text in 1 languages" in result["model"]["word lexicon"]
    assert result["lexicon_command"].endswith(f"--lexicon-text {tmp_path / 'text'}")


def ship_on_a_copy(model_dir, tmp_path, monkeypatch):
    """The ship script, writing into a copy of model_dir and a fresh record: (script, copy, record)."""
    import shutil  # noqa: PLC0415

    ship = load_ship_script()
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    record = tmp_path / "default_model.json"
    record.write_text(json.dumps({"command": "x", "model": {}, "evaluation": {"files": {}, "macro": {}}}))
    monkeypatch.setattr(ship, "DEST", model)
    monkeypatch.setattr(ship, "RESULT", record)
    return ship, model, record


def test_a_rescore_can_learn_the_segmenters_mwt_lexicon_again(tiny_model_dir, tiny_treebank_dir, tmp_path,
                                                              monkeypatch):
    """`--rescore DATA --relearn-mwt`: the segmenter's MWT lexicon is learned again from DATA's
    train splits (treebanks named by their files in a UD release folder), and the record says how."""
    from polytag.core.segmentation import MwtLexicon, mwt_path  # noqa: PLC0415

    ship, model, record = ship_on_a_copy(tiny_model_dir, tmp_path, monkeypatch)
    monkeypatch.setattr(sys, "argv", ["ship_default_model.py", "--rescore", str(tiny_treebank_dir), "--relearn-mwt"])
    assert ship.main() == 1  # no segmenter/ in the folder: refused
    (model / "segmenter").mkdir()
    (model / "segmenter" / "mwt.json.xz").write_bytes(b"")
    assert ship.main() == 0
    lexicon = MwtLexicon.load(mwt_path(model / "segmenter"))
    assert lexicon.entries["zum"] == ["zu", "dem"] and lexicon.entries["du"] == ["de", "le"]
    assert set(lexicon.hyphens) == {"xx_test", "xx_second", "yy_other"}
    assert json.loads(record.read_text())["mwt_command"].endswith("--relearn-mwt")


def test_a_rescore_can_learn_the_character_variants(tiny_model_dir, tiny_treebank_dir, tmp_path, monkeypatch):
    """`--rescore DATA --variants`: the folder's variants.json.xz from OpenCC's table and DATA's
    train splits, and the record says how."""
    import shutil  # noqa: PLC0415

    from polytag.core.variants import load_variants  # noqa: PLC0415

    ship, model, record = ship_on_a_copy(tiny_model_dir, tmp_path, monkeypatch)
    table = tmp_path / "STCharacters.txt"
    table.write_text("们\t們\n这\t這\n", encoding="utf-8")
    monkeypatch.setattr(ship, "opencc_table", lambda: table)
    data = tmp_path / "ud"
    shutil.copytree(tiny_treebank_dir, data)
    (data / "UD_Zz-Han").mkdir()
    (data / "UD_Zz-Han" / "zz_han-ud-train.conllu").write_text(
        "1\t他們\t_\tPRON\t_\t_\t0\t_\t_\t_\n2\t,\t_\tPUNCT\t_\t_\t1\t_\t_\t_\n\n", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["ship_default_model.py", "--rescore", str(data), "--variants"])
    assert ship.main() == 0
    table = load_variants(model)
    assert table[ord("们")] == ord("們") and ord("这") not in table  # 这: its variant is in no train split
    assert table[ord("，")] == ord(",") and ord("＠") not in table  # full-width forms of ASCII the splits have
    result = json.loads(record.read_text())
    assert result["model"]["character variants"].startswith("1 Simplified") and result["variants_command"].endswith("--variants")

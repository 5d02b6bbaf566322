"""`polytag tag | evaluate | train` end to end on the tiny fixture, and every bad input:
exit status 2, one line on stderr naming the file and line (or the missing piece), no
traceback, and output already written made of whole sentences."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import ALL_CONLLU, DE, EN, HE, JA, RU, TINY_TRAIN_ARGS, write_conllu
from safetensors.torch import load_file

from polytag.cli import main
from polytag.core.conllu_io import format_conllu, read_conllu
from polytag.core.errors import InputError
from polytag.core.labels import UPOS
from polytag.tagging.tagger import Tagger
from polytag.training.supervised import Trainer

TEXT = "Das ist gut .\nМама мыла раму .\n\n猫 が 魚 を 食べる 。\nהילד הלך ל ה בית .\n"
TEXT_WORDS = [line.split() for line in TEXT.splitlines() if line.strip()]


def run_cli(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def conllu_words(text: str) -> list[list[tuple[str, str, str]]]:
    """(form, upos, feats) of the syntactic words of each sentence of CoNLL-U output."""
    sentences = []
    for block in text.split("\n\n"):
        rows = [line.split("\t") for line in block.splitlines() if line and not line.startswith("#")]
        rows = [r for r in rows if r[0].isdigit()]
        if rows:
            sentences.append([(r[1], r[3], r[5]) for r in rows])
    return sentences


def assert_one_error_line(rc: int, err: str, *needles: str) -> str:
    assert rc == 2
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith("polytag: error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


def polytag_process(*args, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "polytag.cli", *map(str, args)], input=stdin,
                          capture_output=True, text=True, env=env, timeout=300)


# -- tag --

def test_tag_conllu_fills_upos_and_feats_only(capsys, tmp_path, tiny_model_dir, tiny_tagger):
    path = write_conllu(tmp_path / "in.conllu", ALL_CONLLU)
    rc, out, err = run_cli(capsys, "tag", path, "--model", tiny_model_dir, "--backend", "torch")
    assert rc == 0 and err == ""
    gold = list(read_conllu(path))
    upos, feats = tiny_tagger.predict([s.words for s in gold])
    expected = "".join(format_conllu(s, u, f) for s, u, f in zip(gold, upos, feats))
    assert out == expected
    # ranges, empty nodes and comments are in the output untouched
    assert "3-4\tzum\t_\t_\t_\t_\t_\t_\t_\t_" in out and "\n5.1\tlikes\tlike\tVERB\tVBZ\t" in out
    assert "# text = Sue likes coffee and Bill tea." in out


def test_tag_text_to_conllu_and_jsonl(capsys, tmp_path, tiny_model_dir):
    path = tmp_path / "in.txt"
    path.write_text(TEXT, encoding="utf-8")
    rc, out, _ = run_cli(capsys, "tag", "--format", "text", path, "--model", tiny_model_dir)
    assert rc == 0
    tagged = conllu_words(out)
    assert [[w for w, _, _ in s] for s in tagged] == TEXT_WORDS
    assert all(u in UPOS for s in tagged for _, u, _ in s)
    assert out.splitlines()[0].startswith("1\tDas\t_\t")
    rc, out_jsonl, _ = run_cli(capsys, "tag", "--format", "text", "--output-format", "jsonl", path,
                               "--model", tiny_model_dir)
    objs = [json.loads(line) for line in out_jsonl.splitlines()]
    assert [o["words"] for o in objs] == TEXT_WORDS
    assert [o["upos"] for o in objs] == [[u for _, u, _ in s] for s in tagged]
    assert [o["feats"] for o in objs] == [[f for _, _, f in s] for s in tagged]


def test_tag_jsonl_keeps_other_keys(capsys, tmp_path, tiny_model_dir):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "words": w}, ensure_ascii=False) for i, w in enumerate(TEXT_WORDS)),
                    encoding="utf-8")
    rc, out, _ = run_cli(capsys, "tag", "--format", "jsonl", path, "--model", tiny_model_dir)
    assert rc == 0
    objs = [json.loads(line) for line in out.splitlines()]  # jsonl in -> jsonl out by default
    assert [(o["id"], o["words"]) for o in objs] == list(enumerate(TEXT_WORDS))
    assert all(len(o["upos"]) == len(o["words"]) == len(o["feats"]) for o in objs)
    rc, out, _ = run_cli(capsys, "tag", "--format", "jsonl", "--output-format", "conllu", path,
                         "--model", tiny_model_dir)
    assert [[w for w, _, _ in s] for s in conllu_words(out)] == TEXT_WORDS


def test_tag_conllu_to_jsonl_and_compressed_input(capsys, tmp_path, tiny_model_dir):
    path = write_conllu(tmp_path / "in.conllu.xz", DE + HE)
    rc, out, _ = run_cli(capsys, "tag", path, "--output-format", "jsonl", "--model", tiny_model_dir)
    assert rc == 0
    assert [json.loads(line)["words"] for line in out.splitlines()] == [
        ["Ich", "gehe", "zu", "dem", "Markt", "."], ["הילד", "הלך", "ל", "ה", "בית", "."]]


def test_tag_output_file(capsys, tmp_path, tiny_model_dir):
    path = write_conllu(tmp_path / "in.conllu", EN + JA)
    target = tmp_path / "out.conllu"
    rc, out, err = run_cli(capsys, "tag", path, "-o", target, "--model", tiny_model_dir, "--batch-size", "1")
    assert (rc, out, err) == (0, "", "")
    tagged = list(read_conllu(target))
    assert [s.words for s in tagged] == [s.words for s in read_conllu(path)]
    assert all(u in UPOS for s in tagged for u in s.upos)


def test_tag_shows_progress_and_totals_when_asked(capsys, tmp_path, tiny_model_dir, monkeypatch):
    path = write_conllu(tmp_path / "in.conllu", EN + JA)
    target = tmp_path / "out.conllu"
    rc, out, err = run_cli(capsys, "tag", path, "-o", target, "--model", tiny_model_dir, "--progress", "on")
    n = len(list(read_conllu(path)))
    words = sum(len(s.words) for s in read_conllu(path))
    assert rc == 0 and out == ""
    last = err.splitlines()[-1]  # (after a note that the folder has no ONNX graph, where it has none)
    assert last.startswith(f"polytag: tagged {n} sentences, {words} words in ") and err.endswith(" words/s)\n")
    # auto: only where stderr is a terminal and the output is not
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    from polytag.cli import _show_progress  # noqa: PLC0415

    assert _show_progress("auto", str(target)) and not _show_progress("off", str(target))
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert not _show_progress("auto", None)  # the tagged text goes to the terminal


def test_evaluate_says_which_file_it_is_at_on_a_terminal_and_rubs_it_out(capsys, monkeypatch):
    from polytag.cli import FilesScored  # noqa: PLC0415

    shown = FilesScored()
    shown("xx_long_name-ud-dev", 1, 2)
    shown("xx_b-ud-dev", 2, 2)
    shown.clear()
    err = capsys.readouterr().err
    first = "polytag: scoring file 1 of 2 (xx_long_name-ud-dev)"
    second = "polytag: scoring file 2 of 2 (xx_b-ud-dev)"
    assert err == ("\r" + first + "\r" + second + " " * (len(first) - len(second))
                   + "\r" + " " * len(first) + "\r")


def test_tag_five_thousand_words(capsys, tmp_path, tiny_model_dir):
    words = (["Мама", "мыла", "раму", ","] * 1250)
    path = tmp_path / "long.txt"
    path.write_text(" ".join(words) + "\n", encoding="utf-8")
    rc, out, _ = run_cli(capsys, "tag", "--format", "text", path, "--model", tiny_model_dir)
    assert rc == 0
    (sentence,) = conllu_words(out)
    assert [w for w, _, _ in sentence] == words
    assert all(u in UPOS for _, u, _ in sentence)


def test_x_second_best_reaches_the_tagger(capsys, tmp_path, tiny_model_dir, monkeypatch):
    seen = []
    original = Tagger.decide_upos
    monkeypatch.setattr(Tagger, "decide_upos", lambda self, logits, flag: seen.append(flag) or original(
        self, logits, flag))
    path = tmp_path / "in.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert run_cli(capsys, "tag", "--format", "text", path, "--model", tiny_model_dir, "--x-second-best")[0] == 0
    gold = write_conllu(tmp_path / "g.conllu", RU)
    assert run_cli(capsys, "evaluate", gold, "--model", tiny_model_dir, "--x-second-best")[0] == 0
    assert run_cli(capsys, "evaluate", gold, "--model", tiny_model_dir)[0] == 0
    assert seen == [True, True, False]


def test_stdin_in_a_real_process(tmp_path, tiny_model_dir):
    result = polytag_process("tag", "--format", "text", "--model", tiny_model_dir, "--threads", "1", stdin=TEXT)
    assert result.returncode == 0, result.stderr
    assert [[w for w, _, _ in s] for s in conllu_words(result.stdout)] == TEXT_WORDS
    result = polytag_process("tag", "-", "--model", tiny_model_dir, "--output-format", "jsonl", stdin=RU + DE)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["words"][0] for line in result.stdout.splitlines()] == ["Мама", "Ich"]


# -- evaluate --

def test_evaluate_table_and_json(capsys, tmp_path, tiny_model_dir, tiny_treebank_dir, tiny_tagger):
    dev_a = tiny_treebank_dir / "UD_Xx-Test" / "xx_test-ud-dev.conllu"
    dev_b = tiny_treebank_dir / "UD_Yy-Other" / "yy_other-ud-dev.conllu.xz"
    out_json = tmp_path / "scores.json"
    rc, out, err = run_cli(capsys, "evaluate", dev_a, dev_b, "--model", tiny_model_dir, "--json", out_json)
    # nothing on stderr but, when this test is the first to load the folder, its one no-ONNX note
    assert rc == 0 and all(line.startswith("polytag: note:") for line in err.splitlines())
    result = json.loads(out_json.read_text(encoding="utf-8"))
    assert set(result) == {"files", "macro"}
    assert list(result["files"]) == ["xx_test-ud-dev", "yy_other-ud-dev"]
    for scores in result["files"].values():
        assert set(scores) == {"words", "upos", "ufeats", "allfeats"}
        assert 0 <= scores["upos"] <= 100 and 0 <= scores["allfeats"] <= scores["ufeats"] <= 100
        assert round(scores["upos"], 2) == scores["upos"]
    assert result["files"]["xx_test-ud-dev"]["words"] == sum(len(s.words) for s in read_conllu(dev_a))
    assert set(result["macro"]) == {"upos", "ufeats", "allfeats"}
    assert result["macro"]["upos"] == round(sum(f["upos"] for f in result["files"].values()) / 2, 2)
    # the same numbers as tagging the file and counting by hand
    gold = list(read_conllu(dev_a))
    upos, _ = tiny_tagger.predict([s.words for s in gold])
    right = sum(a == b for s, u in zip(gold, upos) for a, b in zip(s.upos, u))
    assert result["files"]["xx_test-ud-dev"]["upos"] == round(100 * right / len(sum(upos, [])), 2)
    assert "xx_test-ud-dev" in out and "macro (2 files)" in out and "AllFeats" in out


# -- train --

def test_train_selects_treebanks_by_id_and_language(capsys, tiny_treebank_dir, tmp_path):
    out = tmp_path / "sel"
    rc, _, _ = run_cli(capsys, "train", tiny_treebank_dir, "-o", out, "--treebanks", "xx_test,yy",
                       "--epochs", "1", *TINY_TRAIN_ARGS)
    assert rc == 0
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert sorted(meta["treebanks"]) == ["xx_test", "yy_other"]
    out = tmp_path / "lang"
    assert run_cli(capsys, "train", tiny_treebank_dir, "-o", out, "--treebanks", "xx",
                   "--epochs", "1", *TINY_TRAIN_ARGS)[0] == 0
    assert sorted(json.loads((out / "metadata.json").read_text())["treebanks"]) == ["xx_second", "xx_test"]


def test_train_switches_an_init_model_to_first_plus_last(capsys, tiny_treebank_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "fl"
    rc, _, _ = run_cli(capsys, "train", tiny_treebank_dir, "-o", out, "--init", tiny_model_dir,
                       "--word-pooling", "first+last", "--epochs", "1", *TINY_TRAIN_ARGS)
    assert rc == 0
    assert json.loads((out / "config.json").read_text())["word_pooling"] == "first+last"
    assert "last_piece.weight" in load_file(str(out / "model.safetensors"))


def test_train_adds_a_character_encoder(capsys, tiny_treebank_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "chars"
    rc, _, _ = run_cli(capsys, "train", tiny_treebank_dir, "-o", out, "--init", tiny_model_dir,
                       "--word-chars", "12", "--epochs", "1", *TINY_TRAIN_ARGS)
    assert rc == 0
    assert json.loads((out / "config.json").read_text())["word_chars"] == 12
    weights = load_file(str(out / "model.safetensors"))
    assert weights["char_encoder.project.weight"].abs().sum() > 0  # trained away from its zero start
    text = tmp_path / "words.txt"
    text.write_text("Мама мыла раму .\nUnbekanntes 😀 Wort\n", encoding="utf-8")
    rc, tagged, _ = run_cli(capsys, "tag", "--format", "text", str(text), "--model", out)
    assert rc == 0 and tagged.count("\n1\t") + tagged.startswith("1\t") == 2
    # a model continued without the option keeps its encoder
    again = tmp_path / "again"
    assert run_cli(capsys, "train", tiny_treebank_dir, "-o", again, "--init", out, "--epochs", "1",
                   *TINY_TRAIN_ARGS)[0] == 0
    assert json.loads((again / "config.json").read_text())["word_chars"] == 12
    rc, _, err = run_cli(capsys, "train", tiny_treebank_dir, "-o", tmp_path / "bad", "--init", tiny_model_dir,
                         "--word-chars", "2", *TINY_TRAIN_ARGS)
    assert_one_error_line(rc, err, "at least 3")


def test_train_with_wordpiece_dropout(capsys, tiny_treebank_dir, tiny_model_dir, tmp_path):
    out = tmp_path / "wd"
    rc, _, _ = run_cli(capsys, "train", tiny_treebank_dir, "-o", out, "--init", tiny_model_dir,
                       "--wordpiece-dropout", "0.3", "--epochs", "1", *TINY_TRAIN_ARGS)
    assert rc == 0
    assert json.loads((out / "train_config.json").read_text())["wordpiece_dropout"] == 0.3


@pytest.mark.parametrize("option", [["--word-pooling", "first+last"], ["--word-chars", "12"],
                                    ["--wordpiece-dropout", "0.1"], ["--treebank-hint-dropout", "0.5"], ["--hints-only"]])
def test_transformer_options_with_the_meta_lstm_are_a_clear_error(capsys, tiny_treebank_dir, tmp_path, option):
    rc, _, err = run_cli(capsys, "train", tiny_treebank_dir, "-o", tmp_path / "m", "--arch", "meta-lstm",
                         *option, *TINY_TRAIN_ARGS)
    assert_one_error_line(rc, err, f"{option[0]} is for transformer models")


def test_train_bad_arguments_are_a_clear_error(capsys, tiny_treebank_dir, tmp_path):
    rc, _, err = run_cli(capsys, "train", tiny_treebank_dir, "-o", tmp_path / "m", "--treebanks", "qq",
                         *TINY_TRAIN_ARGS)
    assert_one_error_line(rc, err, "unknown treebank or language 'qq'", "xx, yy")
    assert not (tmp_path / "m").exists()
    rc, _, err = run_cli(capsys, "train", tmp_path / "nowhere", "-o", tmp_path / "m", *TINY_TRAIN_ARGS)
    assert_one_error_line(rc, err, "nowhere: treebank folder not found")
    rc, _, err = run_cli(capsys, "train", tiny_treebank_dir, "-o", tmp_path / "m", "--eval-every", "0",
                         *TINY_TRAIN_ARGS)
    assert_one_error_line(rc, err, "argument --eval-every: 0 is out of range (must be at least 1)")
    assert not (tmp_path / "m").exists()


def test_train_resume_continues_from_the_checkpoint(capsys, tiny_treebank_dir, tiny_model_dir, tmp_path,
                                                    monkeypatch):
    # a given tokenizer: the `tokenizers` WordPiece trainer breaks ties in hash-map order, so
    # two vocabularies trained on the same text can differ (huggingface/tokenizers#1794)
    args = ["--treebanks", "xx_test", "--epochs", "2", "--checkpoint-every", "1", "--dropout", "0.2",
            "--tokenizer", tiny_model_dir / "tokenizer", *TINY_TRAIN_ARGS]
    straight = tmp_path / "straight"
    assert run_cli(capsys, "train", tiny_treebank_dir, "-o", straight, *args)[0] == 0

    # Ctrl-C in the middle of epoch 2 (4 batches per epoch: the 7th batch never runs)
    calls = {"n": 0}
    original = Trainer.loss

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Trainer, "loss", interrupted)
    resumed = tmp_path / "resumed"
    rc, _, err = run_cli(capsys, "train", tiny_treebank_dir, "-o", resumed, *args)
    assert rc == 130 and "interrupted" in err
    assert torch.load(resumed / "checkpoint" / "state.pt", weights_only=False)["state"]["step"] == 6
    monkeypatch.setattr(Trainer, "loss", original)

    rc, out, _ = run_cli(capsys, "train", tiny_treebank_dir, "-o", resumed, "--resume", "--threads", "1")
    assert rc == 0
    assert "resuming at epoch 2, batch 2, step 6" in out
    records = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "dev_upos" in r] == [1, 2]
    # the same weights as a run that was never interrupted
    a = load_file(str(straight / "checkpoint" / "model.safetensors"))
    b = load_file(str(resumed / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- bad input --

def malformed_third(text: str) -> str:
    return EN + DE + text


BAD_INPUTS = {
    "wrong column count": ("conllu", malformed_third(RU.replace("\tмыла\tмыть", "\tмыла")), 2, 25),
    "bad ID": ("conllu", malformed_third(RU.replace("\n2\t", "\n2a\t")), 2, 25),
    "out of sequence ID": ("conllu", malformed_third(RU.replace("\n3\t", "\n5\t")), 2, 26),
    "empty file": ("conllu", "", 0, None),
    "long word": ("text", "Das ist gut .\n" + "a" * 10_000 + " b\n", 1, 2),
    "control character (text)": ("text", "Das ist gut .\nDas\x1b[31m ist rot .\n", 1, 2),
    "control character (conllu)": ("conllu", malformed_third(RU.replace("\tраму\t", "\tра\x00му\t")), 2, 26),
    "invalid JSON": ("jsonl", '{"words": ["a", "b"]}\n{"words": ["a",\n', 1, 2),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_one_line_and_whole_sentences(capsys, tmp_path, tiny_model_dir, case):
    fmt, content, good_before, line = BAD_INPUTS[case]
    path = tmp_path / f"bad.{fmt}"
    path.write_text(content, encoding="utf-8")
    rc, out, err = run_cli(capsys, "tag", "--format", fmt, "--output-format", "conllu", path,
                           "--model", tiny_model_dir)
    message = assert_one_error_line(rc, err, str(path))
    if line is not None:
        assert f"{path}:{line}: " in message
    else:
        assert "empty input" in message
    # what was written is whole sentences: all those before the bad one, and nothing else
    assert out == "" or out.endswith("\n\n")
    assert len(conllu_words(out)) == good_before


def test_malformed_third_sentence_with_output_file(capsys, tmp_path, tiny_model_dir):
    path = write_conllu(tmp_path / "in.conllu", EN + DE + RU.replace("\n2\t", "\nX\t") + JA)
    target = tmp_path / "out.conllu"
    rc, out, err = run_cli(capsys, "tag", path, "--output", target, "--model", tiny_model_dir)
    assert_one_error_line(rc, err, f"{path}:25: bad ID 'X'")
    assert out == ""
    written = target.read_text(encoding="utf-8")
    good = list(read_conllu(write_conllu(tmp_path / "good.conllu", EN + DE)))
    assert [s.words for s in read_conllu(target)] == [s.words for s in good]  # parses: whole sentences
    assert written.count("\n\n") == 2 and written.startswith("# sent_id = en-1\n")


def test_evaluate_bad_gold_file(capsys, tmp_path, tiny_model_dir):
    path = write_conllu(tmp_path / "gold.conllu", EN + RU.replace("\n3\t", "\n4\t"))
    rc, _, err = run_cli(capsys, "evaluate", path, "--model", tiny_model_dir)
    assert_one_error_line(rc, err, f"{path}:16: word ID 4 out of sequence")


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target, ignore=shutil.ignore_patterns("checkpoint"))
    return target


@pytest.mark.parametrize("missing", ["labels.json", "config.json", "model.safetensors", "tokenizer"])
def test_model_folder_missing_a_file(capsys, tmp_path, model_copy, missing):
    victim = model_copy / missing
    shutil.rmtree(victim) if victim.is_dir() else victim.unlink()
    path = write_conllu(tmp_path / "in.conllu", RU)
    rc, out, err = run_cli(capsys, "tag", path, "--model", model_copy)
    assert_one_error_line(rc, err, str(model_copy), f"missing {missing}")
    assert out == ""


@pytest.mark.parametrize("damage", ["labels.json", "config.json", "model.safetensors", "tokenizer"])
def test_model_folder_with_a_damaged_file(capsys, tmp_path, model_copy, damage):
    if damage == "tokenizer":
        (model_copy / "tokenizer" / "tokenizer.json").write_text("{not json", encoding="utf-8")
    else:
        (model_copy / damage).write_bytes(b"\xff\x00garbage")  # not JSON, not even UTF-8
    path = write_conllu(tmp_path / "in.conllu", RU)
    rc, out, err = run_cli(capsys, "tag", path, "--model", model_copy)
    assert_one_error_line(rc, err, str(model_copy / damage))
    assert out == ""


def test_wrong_model_path(capsys, tmp_path):
    path = write_conllu(tmp_path / "in.conllu", RU)
    rc, out, err = run_cli(capsys, "tag", path, "--model", tmp_path / "no-such-model")
    assert_one_error_line(rc, err, "no-such-model: model folder not found")
    assert out == ""


def test_missing_input_and_unwritable_output(capsys, tmp_path, tiny_model_dir):
    rc, _, err = run_cli(capsys, "tag", tmp_path / "nope.conllu", "--model", tiny_model_dir)
    assert_one_error_line(rc, err, "nope.conllu: no such file")
    path = write_conllu(tmp_path / "in.conllu", RU)
    rc, _, err = run_cli(capsys, "tag", path, "-o", tmp_path / "no" / "such" / "dir.conllu",
                         "--model", tiny_model_dir)
    assert_one_error_line(rc, err, "dir.conllu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu(capsys, tmp_path, tiny_model_dir):
    path = write_conllu(tmp_path / "in.conllu", RU)
    rc, _, err = run_cli(capsys, "tag", path, "--model", tiny_model_dir, "--device", "cuda")
    assert_one_error_line(rc, err, "--device cuda: no CUDA device is available")


def test_real_exit_codes_and_no_traceback(tmp_path, model_copy):
    path = write_conllu(tmp_path / "in.conllu", EN + RU.replace("\tмыла\tмыть", "\tмыла"))
    result = polytag_process("tag", path, "--model", model_copy)
    assert result.returncode == 2
    notes = [line for line in result.stderr.splitlines() if line.startswith("polytag: note: ")]
    assert len(notes) == 1 and "has no model.onnx" in notes[0]  # this folder is tagged by PyTorch
    assert result.stderr.splitlines()[len(notes):] == [
        f"polytag: error: {path}:15: expected 10 tab-separated columns, got 9"]
    assert [s[0][0] for s in conllu_words(result.stdout)] == ["Sue"]
    (model_copy / "labels.json").unlink()
    result = polytag_process("tag", path, "--model", model_copy)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"polytag: error: {model_copy}: model folder is missing labels.json"]
    assert result.stdout == ""


# -- what a new user hits first --

@pytest.mark.parametrize("args", [["tag", "--batch-size", "-1"], ["tag", "--batch-size", "0"],
                                  ["evaluate", "--batch-size", "-1", "x.conllu"], ["tag", "--threads", "0"],
                                  ["train", "d", "-o", "o", "--lr", "-1"], ["train", "d", "-o", "o", "--epochs", "0"],
                                  ["train", "d", "-o", "o", "--dropout", "1.5"], ["train", "d", "-o", "o", "--warmup", "nan"],
                                  ["distill", "--teacher", "t", "--corpus", "c", "-o", "o", "--temperature", "0"],
                                  ["tag", "--on-error", "ignore"]])
def test_every_numeric_option_is_range_checked_in_one_line(capsys, args):
    rc, out, err = run_cli(capsys, *args)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("polytag: error: argument --")


def test_api_refuses_what_the_cli_refuses(tiny_model_dir):
    from polytag.tagging import load  # noqa: PLC0415

    with pytest.raises(InputError, match="batch_size must be a whole number of at least 1, not -1"):
        load(tiny_model_dir, batch_size=-1)
    with pytest.raises(InputError, match="threads"):
        load(tiny_model_dir, threads=0)
    tagger = load(tiny_model_dir, backend="torch")
    with pytest.raises(InputError, match="sentence 0, word 1: empty word"):
        tagger.tag([["a", ""]])
    with pytest.raises(InputError, match="word of 1000000 characters"):
        tagger.tag([["a"], ["x" * 1_000_000]])
    with pytest.raises(InputError, match="control character U\\+001B"):
        tagger.tag([["\x1b[31mred"]])


def test_version(capsys):
    rc, out, _ = run_cli(capsys, "--version")
    assert rc == 0 and out.startswith("polytag ")


def test_format_is_guessed_from_the_file_name(capsys, tmp_path, tiny_model_dir):
    text = tmp_path / "in.txt.gz"
    with gzip.open(text, "wt", encoding="utf-8") as f:
        f.write("Das ist gut .\n")
    rc, _, err = run_cli(capsys, "tag", text, "--model", tiny_model_dir)  # .txt is raw text: needs a segmenter
    assert_one_error_line(rc, err, "has no segmenter/", "--format words")
    rc, out, _ = run_cli(capsys, "tag", text, "--model", tiny_model_dir, "--format", "words")
    assert rc == 0 and [w[0] for w in conllu_words(out)[0]] == ["Das", "ist", "gut", "."]
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"words": ["a", "b"], "id": 3}\n', encoding="utf-8")
    rc, out, _ = run_cli(capsys, "tag", lines, "--model", tiny_model_dir)
    assert rc == 0 and json.loads(out)["id"] == 3  # jsonl in, jsonl out
    wrong = tmp_path / "in.conllu"
    wrong.write_text("Das ist gut .\n", encoding="utf-8")
    rc, _, err = run_cli(capsys, "tag", wrong, "--model", tiny_model_dir)
    assert_one_error_line(rc, err, f"{wrong}:1:", "use --format raw")


def test_on_error_skip_writes_bad_sentences_through_and_says_so(capsys, tmp_path, tiny_model_dir):
    bad = RU.replace("\n3\t", "\n5\t")
    path = write_conllu(tmp_path / "in.conllu", EN + bad + DE.rstrip("\n"))  # and no final blank line
    rc, out, err = run_cli(capsys, "tag", path, "--model", tiny_model_dir)
    assert rc == 2 and conllu_words(out)[0][0][0] == "Sue"  # stop: what came before is written
    rc, out, err = run_cli(capsys, "tag", path, "--model", tiny_model_dir, "--on-error", "skip")
    assert rc == 1 and "polytag: 1 of 3 sentences skipped; the first: " in err and f"{path}:" in err
    blocks = out.strip("\n").split("\n\n")
    assert len(blocks) == 3 and blocks[1].startswith("# polytag_error = ")
    assert blocks[1].split("\n", 1)[1] + "\n\n" == bad  # written through as it came: no gold tags changed
    assert [w[0] for w in conllu_words(blocks[2])[0]] == ["Ich", "gehe", "zu", "dem", "Markt", "."]
    long_word = tmp_path / "long.txt"
    long_word.write_text("ok .\n" + "x" * 1001 + " y\n", encoding="utf-8")
    rc, out, err = run_cli(capsys, "tag", long_word, "--model", tiny_model_dir, "--on-error", "keep",
                           "--format", "words")
    assert rc == 1 and "kept with a problem" in err
    assert "# polytag_warning = " in out and all(w[1] != "_" for s in conllu_words(out) for w in s)


def test_evaluate_scores_every_input_under_its_own_key(capsys, tmp_path, tiny_model_dir):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_conllu(a / "dev.conllu", EN + RU)
    write_conllu(b / "dev.conllu", DE)
    out_json = tmp_path / "s.json"
    rc, out, _ = run_cli(capsys, "evaluate", a / "dev.conllu", b / "dev.conllu", a / "dev.conllu",
                         "--model", tiny_model_dir, "--json", out_json)
    assert rc == 0
    assert list(json.loads(out_json.read_text())["files"]) == ["a/dev", "b/dev", "a/dev#2"]


def test_evaluate_refuses_a_file_without_gold_tags(capsys, tmp_path, tiny_model_dir):
    rows = [line.split("\t") for line in RU.splitlines()]
    no_gold = "\n".join("\t".join(r[:3] + ["_"] + r[4:]) if len(r) == 10 else r[0] for r in rows) + "\n\n"
    path = write_conllu(tmp_path / "nogold.conllu", no_gold)
    rc, _, err = run_cli(capsys, "evaluate", path, "--model", tiny_model_dir)
    assert_one_error_line(rc, err, "no gold UPOS", "--allow-missing-gold")
    rc, out, err = run_cli(capsys, "evaluate", path, "--model", tiny_model_dir, "--allow-missing-gold")
    assert rc == 0 and "warning" in err and "nogold" in out


def test_conllu_to_jsonl_keeps_sent_id_and_text(capsys, tmp_path, tiny_model_dir):
    path = write_conllu(tmp_path / "x.conllu", EN)
    rc, out, _ = run_cli(capsys, "tag", path, "--output-format", "jsonl", "--model", tiny_model_dir)
    obj = json.loads(out)
    assert rc == 0 and obj["sent_id"] == "en-1" and obj["text"] == "Sue likes coffee and Bill tea."


def test_a_missing_tokenizer_file_is_named(capsys, tmp_path, tiny_model_dir):
    import shutil  # noqa: PLC0415

    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "tokenizer" / "tokenizer.json").unlink()
    rc, _, err = run_cli(capsys, "tag", "--model", folder, write_conllu(tmp_path / "x.conllu", EN))
    assert_one_error_line(rc, err, "tokenizer: missing tokenizer.json")


def test_no_onnx_model_says_pytorch_is_used_once(capsys, tmp_path, tiny_model_dir):
    path = write_conllu(tmp_path / "x.conllu", EN)
    rc, _, err = run_cli(capsys, "tag", "--model", tiny_model_dir, path)
    assert rc == 0 and err.count("has no model.onnx, so PyTorch tags") <= 1


def test_treebank_hints_train_tag_and_evaluate(capsys, tiny_treebank_dir, tiny_model_dir, tmp_path):
    """--treebank-hint-dropout gives an --init model one hint per training treebank; `tag --treebank`
    and `evaluate --treebank auto` use them; an unknown id, or a hint for a model without hints,
    is one line and exit 2 with nothing written."""
    out = tmp_path / "hinted"
    rc, _, _ = run_cli(capsys, "train", tiny_treebank_dir, "-o", out, "--init", tiny_model_dir,
                       "--treebank-hint-dropout", "0.5", "--epochs", "1", *TINY_TRAIN_ARGS)
    assert rc == 0
    # yy is the only treebank of its language: no hint for it (training.supervised.shared_language_treebanks)
    assert json.loads((out / "config.json").read_text())["treebank_hints"] == ["xx_second", "xx_test"]
    assert "treebank_embedding.weight" in load_file(str(out / "model.safetensors"))
    path = write_conllu(tmp_path / "in.conllu", EN + DE)
    rc, tagged, _ = run_cli(capsys, "tag", path, "--model", out, "--backend", "torch", "--treebank", "xx_test")
    assert rc == 0 and len(conllu_words(tagged)) == 2
    dev = sorted(str(p) for p in tiny_treebank_dir.rglob("*-ud-dev.conllu*"))
    rc, table, _ = run_cli(capsys, "evaluate", *dev, "--model", out, "--backend", "torch", "--treebank", "auto",
                           "--json", tmp_path / "scores.json")
    assert rc == 0 and "macro (2 files)" in table
    rc, _, err = run_cli(capsys, "tag", path, "--model", out, "--backend", "torch", "--treebank", "zz_none",
                         "-o", tmp_path / "never.conllu")
    assert_one_error_line(rc, err, "treebank hint 'zz_none': unknown", "xx_second, xx_test)")
    assert not (tmp_path / "never.conllu").exists()
    rc, _, err = run_cli(capsys, "evaluate", *dev, "--model", tiny_model_dir, "--backend", "torch",
                         "--treebank", "xx_test")
    assert_one_error_line(rc, err, "trained without treebank hints")


def test_lexicon_errors_are_one_line_and_leave_the_folder_as_it_was(capsys, model_copy, tmp_path):
    rc, _, err = run_cli(capsys, "lexicon", tmp_path / "nothere", "--model", model_copy)
    assert_one_error_line(rc, err, "nothere: no */*-ud-train.conllu")
    bad = tmp_path / "ud" / "xx_bad"
    bad.mkdir(parents=True)
    (bad / "xx_bad-ud-train.conllu").write_text("1\tHi\t_\tINTJ\t_\t_\t0\t_\t_\t_\nnot a word line\n\n", encoding="utf-8")
    rc, _, err = run_cli(capsys, "lexicon", tmp_path / "ud", "--model", model_copy)
    assert_one_error_line(rc, err, "xx_bad-ud-train.conllu:2:")
    assert not (model_copy / "lexicon.tsv.xz").exists()
    (bad / "xx_bad-ud-train.conllu").write_text("1\tHi\t_\tINTJ\t_\t_\t0\t_\t_\t_\n\n", encoding="utf-8")
    rc, _, err = run_cli(capsys, "lexicon", tmp_path / "ud", "--model", model_copy, "--text", tmp_path / "ud")
    assert_one_error_line(rc, err, "ud: no <lang>_pseudo/*-ud-train.conllu")
    assert not (model_copy / "lexicon.tsv.xz").exists()
    text = tmp_path / "text" / "xx_pseudo"
    text.mkdir(parents=True)
    (text / "xx_pseudo-ud-train.conllu").write_text("1\tHi\t_\tINTJ\t_\t_\t0\t_\t_\t_\n2\tyou\t_\tPRON\t_\t_\t1\t_\t_\t_\n\n",
                                                   encoding="utf-8")
    rc, out, _ = run_cli(capsys, "lexicon", tmp_path / "ud", "--model", model_copy, "--text", tmp_path / "text")
    assert rc == 0 and "1 forms in 1 treebanks + 1 forms of labelled text in 1 languages, " in out

"""The language table: from scores, as text/markdown/JSON, in the README, from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import polytag
from polytag.core.folder import labels_path, load_metadata
from polytag.core.languages import (README_END, README_START, format_languages, languages_from_scores,
                                    model_languages, replace_readme_table)

TREEBANKS = {"en_ewt": {"language": "en"}, "en_gum": {"language": "en"}, "kk_ktb": {"language": "kk"}}
NAMES = {"en": "English", "kk": "Kazakh"}
FILES = {"en_ewt-ud-dev": {"words": 10, "upos": 90.0, "ufeats": 80.0},
         "en_gum-ud-dev": {"words": 10, "upos": 94.0, "ufeats": 86.0}}


def test_languages_group_treebanks_and_average_their_dev_scores():
    table = languages_from_scores(TREEBANKS, NAMES, FILES)
    assert [t["name"] for t in table] == ["English", "Kazakh"]
    assert table[0]["treebanks"] == ["en_ewt", "en_gum"] and table[0]["dev"] == {"upos": 92.0, "ufeats": 83.0}
    assert table[1]["dev"] is None and table[1]["dev_treebanks"] == []


def test_machine_labelled_text_is_not_listed_as_a_treebank():
    treebanks = {**TREEBANKS, "en_pseudo": {"language": "en"}, "hi_pseudo": {"language": "hi"}}
    table = languages_from_scores(treebanks, NAMES, FILES)
    assert [t["code"] for t in table] == ["en", "kk"] and table[0]["treebanks"] == ["en_ewt", "en_gum"]


def test_formats():
    table = languages_from_scores(TREEBANKS, NAMES, FILES)
    text = format_languages(table).splitlines()
    assert text[1].split() == ["English", "en", "en_ewt,", "en_gum", "92.00", "83.00"]
    assert text[2].split() == ["Kazakh", "kk", "kk_ktb", "-", "-"]
    md = format_languages(table, "markdown").splitlines()
    assert md[2] == "| English (en) | en_ewt, en_gum | 92.00 / 83.00 | Kazakh (kk) | kk_ktb | - |"
    assert json.loads(format_languages(table, "json")) == table


def test_the_readme_table_is_the_shipped_models():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = model_languages(load_metadata(polytag.DEFAULT_MODEL))
    assert len(table) == 47
    assert replace_readme_table(readme, table) == readme, "run scripts/refresh_languages.py"
    assert README_START in readme and README_END in readme


def test_cli_lists_languages(capsys, tmp_path):
    from polytag.cli import main  # noqa: PLC0415

    assert main(["languages"]) == 0
    out = capsys.readouterr().out
    assert "Lithuanian" in out and "lt_hse" in out
    # the shipped model's treebank hints, languages with several treebanks only ...
    hints = out.split("treebank hints (polytag tag --treebank ID): ")[1].split("\n")[0].split(", ")
    assert "fr_sequoia" in hints and "en_ewt" in hints and "lt_hse" not in hints
    # ... and its segmenter's and word lexicon's, every train treebank: the others are listed apart
    line = next(line for line in out.splitlines() if line.startswith("treebank hints for raw-text segmentation"))
    raw_only = line.split(" only: ")[1].split(", ")
    assert "lt_hse" in raw_only and not set(raw_only) & set(hints) and len(raw_only) + len(hints) == 72
    folder = tmp_path / "m"
    folder.mkdir()
    for path in (polytag.DEFAULT_MODEL / "config.json", labels_path(polytag.DEFAULT_MODEL),
                 polytag.DEFAULT_MODEL / "model.safetensors"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "tokenizer").mkdir()
    (folder / "metadata.json").write_text(json.dumps({"treebanks": TREEBANKS}))
    assert main(["languages", "--model", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["en", "en"]  # no names or scores: codes
    (folder / "metadata.json").write_text("{}")
    assert main(["languages", "--model", str(folder)]) == 2
    assert "lists no languages" in capsys.readouterr().err

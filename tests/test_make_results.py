"""scripts/make_results.py: the Meta-LSTM section puts the shipped MiniBERT beside the Meta-LSTM rows."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_results.py"


@pytest.fixture
def make_results(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("make_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path)
    return module


def meta_lstm_data() -> dict:
    row = {"train_words": 1000}
    return {"description": {"scale": "tiny"},
            "per_language": {"aa_one": {**row, "upos": 90.0, "ufeats": 80.0},
                             "bb_two": {**row, "upos": 70.0, "ufeats": 60.0}},
            "multilingual": {"files": {"aa_one": {"upos": 85.0, "ufeats": 75.0},
                                       "bb_two": {"upos": 65.0, "ufeats": 55.0},
                                       "cc_three": {"upos": 50.0, "ufeats": 40.0}},
                             "macro": {"upos": 66.67, "ufeats": 56.67}}}


def test_meta_lstm_table_has_macro_and_multilingual_drop(make_results):
    text = make_results.render_meta_lstm(meta_lstm_data())
    assert "| **macro (2)** |  | **80.00** | **70.00** | **75.00** | **65.00** | -5.00 |  |  |" in text
    assert "| aa_one | 1,000 | 90.00 | 80.00 | 85.00 | 75.00 | -5.00 |  |  |" in text
    assert "shipped MiniBERT on the same files" not in text  # no default_model.json: no MiniBERT figures


def test_meta_lstm_table_shows_shipped_minibert_from_its_evaluation(make_results, tmp_path):
    files = {"aa_one-ud-dev": {"words": 10, "upos": 95.0, "ufeats": 91.0},
             "bb_two-ud-dev": {"words": 10, "upos": 93.0, "ufeats": 89.0},
             "cc_three-ud-dev": {"words": 10, "upos": 88.0, "ufeats": 83.0}}
    (tmp_path / "default_model.json").write_text(json.dumps({"evaluation": {"files": files}}))
    text = make_results.render_meta_lstm(meta_lstm_data())
    assert "| aa_one | 1,000 | 90.00 | 80.00 | 85.00 | 75.00 | -5.00 | 95.00 | 91.00 |" in text
    assert "| -5.00 | **94.00** | **90.00** |" in text
    assert "(shipped MiniBERT on the same files: 92.00, 87.67)." in text


def with_a_longer_run(data: dict) -> dict:
    """aa_one also trained 65 minutes (93 / 84 after 11 epochs; 2.5 epochs in the short run)."""
    data["per_language"]["aa_one"]["epochs_seen"] = 2.5
    data["longer_runs"] = {"minutes": 65, "command": "polytag train X",
                           "per_language": {"aa_one": {"train_words": 1000, "upos": 93.0, "ufeats": 84.0,
                                                       "epochs_seen": 11.0}}}
    return data


def test_longer_meta_lstm_runs_sit_beside_the_short_ones(make_results):
    data = with_a_longer_run(meta_lstm_data())
    data["per_language_minutes"] = 15.5
    text = make_results.render_meta_lstm(data)
    assert "| treebank (dev) | train words | UPOS (15.5 min) | UFeats | epochs | UPOS (65 min) |" in text
    assert "| aa_one | 1,000 | 90.00 | 80.00 | 2.5 | 93.00 | 84.00 | 11 |  |  |" in text
    assert "- longer runs: `polytag train X`" in text
    assert "trained longer" not in make_results.render_meta_lstm(meta_lstm_data())


def test_the_papers_meta_lstm_sits_beside_ours_with_the_gap(make_results):
    data = with_a_longer_run(meta_lstm_data())
    data["paper_table8_upos"] = {"aa_one": 94.5}
    data["paper_command"] = "python benchmarks/meta_lstm_experiments.py --paper P --paper-only"
    text = make_results.render_meta_lstm(data)
    assert "| aa_one | 1,000 | 90.00 | 80.00 | 85.00 | 75.00 | -5.00 |  |  | 94.50 |" in text
    assert "| bb_two | 1,000 | 70.00 | 60.00 | 65.00 | 55.00 | -5.00 |  |  |  |" in text
    assert "| 93.00 | 84.00 | 11 |  |  | 94.50 | -1.50 |" in text
    assert "Added by `python benchmarks/meta_lstm_experiments.py --paper P --paper-only`." in text


def test_joint_training_runs_sit_beside_the_synchronized_ones(make_results):
    data = meta_lstm_data()
    data["per_language_minutes"] = 15.5
    data["per_language"]["aa_one"]["epochs_seen"] = 2.5
    data["joint_training"] = {"minutes": 15.5, "command": "polytag train J",
                              "per_language": {"aa_one": {"upos": 88.5, "ufeats": 81.0, "epochs_seen": 2.0}}}
    text = make_results.render_meta_lstm(data)
    assert "per-language models (15.5 min each):" in text
    assert "| aa_one | 90.00 | 80.00 | 2.5 | 88.50 | 81.00 | 2 | -1.50 |" in text
    assert "- joint runs: `polytag train J`" in text
    assert "joint training" not in make_results.render_meta_lstm(meta_lstm_data())


def test_the_lexicon_on_short_texts_is_one_table(make_results):
    data = {"network alone": {"upos": 92.05, "ufeats": 87.28},
            "lexicon, each sentence one text": {"upos": 92.83, "ufeats": 87.97}, "command": "python x"}
    text = make_results.render_lexicon_short_texts(data)
    assert "| lexicon, each sentence one text | 92.83 | 87.97 |" in text and "python x" not in text


def test_the_text_lexicons_are_one_row_a_file_and_the_words_they_changed(make_results):
    ways = {"network alone": {"upos": 90.0, "ufeats": 80.0}, "with text lexicons": {"upos": 91.25, "ufeats": 80.5}}
    data = {"macro": ways, "files": {"xx_dev": ways}, "text_forms": 12345, "text_languages": 3,
            "changed_by_text": {"words": 40, "upos right before": 5, "upos right after": 20}}
    text = make_results.render_text_lexicon(data)
    assert "| xx_dev | 90.00 / 80.00 | 91.25 / 80.50 |" in text and "| **macro** | **90.00 / 80.00** |" in text
    assert "(12,345 forms in 3 languages)" in text and "40 dev words, 5 right before and 20 after" in text


def test_simplified_chinese_is_one_row_a_script_and_setting(make_results):
    row = {"gold tokens": {"upos": 97.49, "ufeats": 99.61},
           "raw text": {"Tokens": 95.95, "Sentences": 99.7, "Words": 95.95, "UPOS": 94.4, "UFeats": 95.68}}
    data = {"sentences": 500, "words": 12663, "variants": 709, "rows": {"Simplified, with variants": row}}
    text = make_results.render_simplified_chinese(data)
    assert "| Simplified, with variants | 97.49 / 99.61 | 95.95 / 95.95 / 94.40 / 95.68 |" in text
    assert "last 500 train sentences (12,663 words)" in text and "709 characters that no train split has" in text


def test_the_dev_files_as_one_text_sit_beside_each_file_alone(make_results):
    gold = {"upos": 94.0, "ufeats": 90.5, "allfeats": 90.0}
    raw = {"Tokens": 99.0, "Sentences": 85.0, "Words": 98.5, "UPOS": 93.0, "UFeats": 89.25}
    data = {"files": ["xx_a", "xx_b"],
            "gold tokens": {"files": {"xx_a": gold, "xx_b": gold}, "alone": {"xx_a": {**gold, "ufeats": 95.0},
                            "xx_b": gold}, "whole": {"upos": 94.37, "ufeats": 93.31}},
            "raw text": {"files": {"xx_a": raw, "xx_b": raw}, "alone": {"xx_a": raw, "xx_b": raw}, "whole": raw}}
    text = make_results.render_one_text(data)
    assert "| xx_a | 94.00 / 95.00 | 94.00 / 90.50 | 98.50 / 93.00 / 89.25 | 98.50 / 93.00 / 89.25 |" in text
    assert "The 2 dev files joined" in text and "gold tokens 94.37 / 93.31 (micro)" in text
    assert "UFeats 99.00 / 85.00 / 98.50 / 93.00 / 89.25" in text


def test_short_texts_sit_beside_each_file_as_one_text(make_results, tmp_path):
    short = {"Tokens": 98.0, "Words": 97.5, "UPOS": 91.0, "UFeats": 87.25}
    data = {"files": {"xx_a": short}, "macro": short}
    alone = make_results.render_short_raw_texts(data)
    assert "| xx_a | 98.00 | 97.50 | 91.00 | 87.25 |" in alone  # no whole-file record: its own figures
    whole = {"Tokens": 99.0, "Sentences": 85.0, "Words": 98.5, "UPOS": 93.0, "UFeats": 89.5}
    (tmp_path / "raw_eval.json").write_text(json.dumps({"files": {"xx_a": whole}, "macro": whole}))
    text = make_results.render_short_raw_texts(data)
    assert "| xx_a | 98.00 (99.00) | 97.50 (98.50) | 91.00 (93.00) | 87.25 (89.50) |" in text
    assert "| **macro** | **98.00 (99.00)** |" in text


def _raw_speed(cpu: dict, words_per_s: int) -> dict:
    return {"files": 22, "characters": 1000, "words_out": 200, "seconds": 1.0, "words_per_s": words_per_s,
            "cold_start_one_paragraph_s": 1.1, "threads": 2, "note": "whole command", "machine": cpu,
            "when": "2026-12-06"}


def test_raw_speed_keeps_each_cpus_latest_record_apart(tmp_path):
    """benchmarks/raw_throughput.py --json (and bench_speed.py): a run on another CPU does not
    replace the figure of the machine before it (polytag.bench.other_machines)."""
    from polytag.bench import other_machines

    xeon, epyc = {"cpus": 2, "cpu": "Xeon"}, {"cpus": 2, "cpu": "EPYC", "isa": ["avx2"]}
    path = tmp_path / "raw.json"
    assert other_machines(path, epyc) == []  # no file yet
    path.write_text(json.dumps(_raw_speed(xeon, 10175)), encoding="utf-8")
    assert other_machines(path, xeon) == []  # the same CPU: its record is replaced
    kept = other_machines(path, epyc)
    assert [r["words_per_s"] for r in kept] == [10175]
    # a third run, on the EPYC again: the Xeon's record is still carried, the older EPYC one not
    path.write_text(json.dumps({**_raw_speed(epyc, 6000), "other_machines": kept}), encoding="utf-8")
    assert [r["words_per_s"] for r in other_machines(path, epyc)] == [10175]
    assert [r["words_per_s"] for r in other_machines(path, {"cpu": "Other"})] == [6000, 10175]
    path.write_text("not json", encoding="utf-8")
    assert other_machines(path, epyc) == []


def test_raw_speed_section_names_each_machine(make_results):
    data = {**_raw_speed({"cpus": 2, "cpu": "EPYC", "isa": ["avx2"]}, 6000),
            "other_machines": [_raw_speed({"cpus": 2, "cpu": "Xeon"}, 10175)]}
    text = make_results.render_raw_throughput(data)
    assert "**6,000 words/s**" in text and "- machine: 2 x EPYC (avx2)" in text
    assert "| 2 x Xeon (features not recorded) | 10,175 | 1.1 | 2026-12-06 |" in text


def test_machine_names_the_cpu_and_its_int8_features_without_importing_torch():
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = ("import sys, json; from polytag.bench import machine; m = machine(); "
            "print(json.dumps([m.get('cpu'), m.get('isa'), 'torch' in sys.modules, m.get('onnxruntime')]))")
    cpu, isa, torch_imported, ort_version = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert not torch_imported and ort_version
    if Path("/proc/cpuinfo").exists():
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
        assert cpu and isa == [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]


def test_paper_comparison_marks_columns_that_compared_every_feature(make_results):
    rows = {"hu_szeged": {"shipped (gold tokens)": [92.0, 88.4], "old teacher": [90.0, 60.2], "paper mMiniBERT": [95.5, 87.4]}}
    data = {"treebanks": rows, "macro": rows["hu_szeged"], "macro_over": ["hu_szeged"], "note": "ours: dev",
            "all_features_columns": ["old teacher"]}
    text = make_results.render_paper_comparison(data)
    assert "| treebank | shipped (gold tokens) | old teacher † | paper mMiniBERT |" in text and "† UFeats there: every feature compared" in text
    del data["all_features_columns"]  # a record from before: all of our gold-token columns compared every feature
    assert "| treebank | shipped (gold tokens) † | old teacher † | paper mMiniBERT |" in make_results.render_paper_comparison(data)


def test_speed_table_shows_the_tables_of_other_cpus_below_its_own(make_results):
    setup = {"sentences_per_length": 8, "inputs": "words", "wordpieces_per_word": 1.5, "batch_size": 32,
             "seconds_per_measurement": 1, "student": "tiny"}
    data = {"setup": setup, "rows": [], "machine": {"cpus": 2, "cpu": "EPYC", "isa": ["avx2"]}, "markdown": "| new |",
            "other_machines": [{"machine": {"cpus": 2, "cpu": "Xeon"}, "markdown": "| old |", "command": "python b.py"}]}
    text = make_results.render_bench(data)
    assert text.index("| new |") < text.index("The same table on 2 x Xeon (features not recorded) (`python b.py`):") \
        < text.index("| old |")

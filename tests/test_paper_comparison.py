"""scripts/paper_comparison.py: the paper's columns beside ours, a feature teacher's dev scores,
a column carried over from the last run, and the command recorded for results.md."""

import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "paper_comparison.py"
SYSTEMS = "treebank\tBERT\tMeta-LSTM\tmBERT\tmMeta-LSTM\tmMiniBERT\n"


def test_paper_columns_a_teacher_and_a_kept_column(tmp_path):
    import polytag
    from polytag.core.folder import load_metadata

    files = load_metadata(polytag.DEFAULT_MODEL)["dev_measured"]["files"]
    first = sorted(files)[0].removesuffix("-ud-dev")
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "table8_upos_f1.tsv").write_text(SYSTEMS + f"{first}\t90\t91\t92\t93\t94\n")
    (paper / "table9_ufeats_f1.tsv").write_text(SYSTEMS + f"{first}\t80\t81\t82\t83\t84\n")
    teacher = tmp_path / "teacher.pt"
    torch.save({"dev": {"files": {first: {"upos": 95.5, "ufeats": 85.5}}}}, teacher)
    out = tmp_path / "comparison.json"
    out.write_text(json.dumps({"macro": {"old model": [1, 2]}, "treebanks": {first: {"old model": [70.0, 60.0]}}}))
    run = subprocess.run([sys.executable, str(SCRIPT), str(paper), "--teacher", f"feature teacher={teacher}",
                          "--keep", "old model", "--json", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    row = data["treebanks"][first]
    assert row["feature teacher"] == [95.5, 85.5] and row["old model"] == [70.0, 60.0]
    assert row["paper mMiniBERT"] == [94.0, 84.0] and row["paper Meta-LSTM"] == [91.0, 81.0]
    assert data["macro_over"] == [first]  # the only treebank every column has
    assert data["command"].startswith("python scripts/paper_comparison.py ") and "--keep 'old model'" in data["command"]
    # a column that the old file does not have is refused in one line
    bad = subprocess.run([sys.executable, str(SCRIPT), str(paper), "--keep", "missing", "--json", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "missing" in bad.stderr

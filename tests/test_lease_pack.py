"""scripts/lease_pack.py: the slimmed treebank copies a lent GPU trains the teacher on hold the
same words, UPOS and FEATS as the originals (the columns a tagger reads), and nothing else."""

import lzma
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from lease_pack import slim_conllu  # noqa: E402

from polytag.core.conllu_io import read_conllu  # noqa: E402


def test_slim_copies_keep_what_a_tagger_trains_on(tiny_treebank_dir, tmp_path):
    sources = sorted(tiny_treebank_dir.glob("*/*.conllu.xz"))
    assert sources
    for source in sources:
        slim = tmp_path / source.name
        slim_conllu(source, slim)
        before, after = list(read_conllu(source)), list(read_conllu(slim))
        assert [(s.words, s.upos, s.feats) for s in after] == [(s.words, s.upos, s.feats) for s in before]
        rows = [row.split("\t") for row in lzma.open(slim, "rt", encoding="utf-8").read().split("\n") if row]
        assert all(len(cols) == 10 and cols[2] == cols[4] == cols[6] == cols[9] == "_" for cols in rows)

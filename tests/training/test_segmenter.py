"""Training the segmenter end to end on a tiny two-language UD folder (seconds)."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from polytag.core import segmentation as seg
from polytag.core.errors import InputError
from polytag.training import segmenter as training

TINY = seg.SegmenterConfig(
    n_buckets=512, char_dim=8, cat_dim=4, channels=16, dilations=(1, 2), context=8, core=24,
    batch_windows=4, dropout=0.0,
)  # fmt: skip


def _row(i: int, form: str, misc: str = "_") -> str:
    return f"{i}\t{form}\t_\t_\t_\t_\t{0 if i == 1 else 1}\t_\t_\t{misc}"


def _sentences(lang: str, n: int) -> str:
    """n small sentences; French ones contain the multiword token 'du' = 'de le'."""
    out = []
    for k in range(n):
        if lang == "fr":
            rows = [_row(1, "Il"), _row(2, "parle"), "3-4\tdu\t_\t_\t_\t_\t_\t_\t_\t_",
                    _row(3, "de"), _row(4, "le"), _row(5, f"chat{k}", "SpaceAfter=No"), _row(6, ".")]  # fmt: skip
            text = f"Il parle du chat{k}."
        else:
            rows = [_row(1, "We"), _row(2, "see"), _row(3, f"dog{k}", "SpaceAfter=No"), _row(4, "!")]
            text = f"We see dog{k}!"
        par = "# newpar\n" if k % 3 == 0 else ""
        out.append(f"{par}# text = {text}\n" + "\n".join(rows) + "\n\n")
    return "".join(out)


def make_ud(root: Path) -> Path:
    for name, lang in (("fr_tiny", "fr"), ("en_tiny", "en")):
        folder = root / name
        folder.mkdir(parents=True)
        with lzma.open(folder / f"{name}-ud-train.conllu.xz", "wt", encoding="utf-8") as f:
            f.write(_sentences(lang, 60))
        (folder / f"{name}-ud-dev.conllu").write_text(_sentences(lang, 8), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("seg")
    ud = make_ud(root / "ud")
    config = training.TrainConfig(batch_size=8, crop=48, lr=0.02, epoch_steps=100)
    logs: list[str] = []
    folder = training.train_segmenter(ud, root / "out", 0.2, config, TINY, log=logs.append)
    return root, folder, logs


def test_training_writes_a_complete_folder_and_reports_dev(trained):
    root, folder, logs = trained
    assert folder == root / "out" / "segmenter"
    assert {p.name for p in folder.iterdir()} == {"segmenter.onnx", "segmenter.json", "mwt.json"}
    assert seg.SegmenterConfig.load(folder / "segmenter.json") == TINY
    assert seg.MwtLexicon.load(folder / "mwt.json").expand("du") == ["de", "le"]
    assert any(line.startswith("dev tokens") for line in logs)
    assert (root / "out" / "segmenter-run" / "checkpoint" / "state.pt").exists()  # the one loop's checkpoint
    assert (root / "out" / "segmenter-run" / "metrics.jsonl").exists()


def test_tiny_model_learns_the_fixture(trained):
    from polytag.tagging.segmenter import Segmenter

    segmenter = Segmenter.load(trained[1])
    sentences = list(segmenter.segment("Il parle du chat3. We see dog5!"))
    tokens = [t for s in sentences for t in s.tokens]
    assert [t.form for t in tokens] == ["Il", "parle", "du", "chat3", ".", "We", "see", "dog5", "!"]
    assert tokens[2].words == ["de", "le"]


def test_rerun_resumes_from_the_checkpoint(trained):
    root, _, _ = trained
    logs: list[str] = []
    config = training.TrainConfig(batch_size=8, crop=48, epoch_steps=40)
    training.train_segmenter(root / "ud", root / "out", 0.12, config, TINY, log=logs.append)
    assert any(line.startswith("resumed from") for line in logs)


def test_missing_train_files_are_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no .*train"):
        training.train_segmenter(tmp_path, tmp_path / "out", 0.01, model_config=TINY)

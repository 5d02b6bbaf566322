"""Serving the segmenter with ONNX Runtime: invariants on any text, streaming, no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytag.core import segmentation as seg
from polytag.core.errors import InputError
from polytag.tagging.segmenter import Segmenter

SMALL = seg.SegmenterConfig(
    n_buckets=256, char_dim=8, cat_dim=4, channels=8, dilations=(1, 2), context=6, core=10,
    batch_windows=3, max_sentence_chars=80,
)  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An untrained (random) network: the invariants must hold whatever it predicts."""
    import torch

    from polytag.nn.segmenter import SegmenterNet
    from polytag.training.segmenter import export_segmenter

    torch.manual_seed(1)
    net = SegmenterNet(SMALL).eval()
    for p in net.parameters():  # big random weights: with this seed every label occurs
        torch.nn.init.normal_(p, std=1.0)
    torch.nn.init.zeros_(net.out.bias)
    lexicon = seg.MwtLexicon(entries={"du": ["de", "le"]}, suffixes={"ki": ["", ["ki"], 3]})
    return export_segmenter(net, SMALL, lexicon, tmp_path_factory.mktemp("m") / "segmenter")


@pytest.fixture(scope="module")
def segmenter(folder):
    return Segmenter.load(folder, threads=1)


PIECES = [" ", "\t", "\r\n", "\n\n", "\u3000", "\u200d", "👩‍👩‍👧", "\x07", ".", "du", "Hà Nội"]
TEXTS = st.lists(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(PIECES)), max_size=120
).map("".join)


@settings(max_examples=60, deadline=None)
@given(text=TEXTS)
def test_tokens_index_the_text_and_give_it_back(segmenter, text):
    sentences = list(segmenter.segment(text))
    rebuilt, pos = [], 0
    for sentence in sentences:
        assert sentence.text == text[sentence.start : sentence.end]
        for t in sentence.tokens:
            assert t.form and text[t.start : t.end] == t.form
            assert t.start >= pos and text[pos : t.start].strip() == ""
            assert t.words and (len(t.words) > 1 or t.words == [t.form])
            rebuilt.append(t.form + (" " if t.space_after else ""))
            pos = t.end
    assert text[pos:].strip() == ""
    assert "".join(rebuilt).split() == text.split()


@settings(max_examples=30, deadline=None)
@given(text=TEXTS, size=st.integers(1, 25))
def test_streaming_in_chunks_gives_the_same_sentences(segmenter, text, size):
    chunks = (text[i : i + size] for i in range(0, len(text), size))
    assert list(segmenter.segment_stream(chunks)) == list(segmenter.segment(text))


def test_the_random_network_predicts_every_label(segmenter):
    char_ids, cat_ids, _ = seg.featurize("Hello world. Ça va? 中文 du vin, Hà Nội  x\n\ny " * 20, 256)
    labels = segmenter.predict(char_ids[None], cat_ids[None])
    assert set(labels.ravel().tolist()) == set(range(seg.N_CLASSES))


def test_long_text_without_newline(segmenter):
    text = "Lorem ipsum, dolor sit amet. " * 2000
    sentences = list(segmenter.segment(text))
    assert sum(len(s.tokens) for s in sentences) >= 10_000
    assert sentences[-1].end <= len(text) and sentences[0].start >= 0


def test_missing_files_are_an_input_error(tmp_path):
    with pytest.raises(InputError, match="segmenter.onnx: missing"):
        Segmenter.load(tmp_path)


def test_serving_never_imports_torch(folder):
    code = (
        "import sys\n"
        "from polytag.tagging.segmenter import Segmenter\n"
        f"s = Segmenter.load({str(folder)!r}, threads=2)\n"
        "assert list(s.segment('Hello there. Bye!'))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr

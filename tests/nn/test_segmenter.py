"""The segmenter network: shapes, and a receptive field the window margins cover."""

from __future__ import annotations

import pytest
import torch

from polytag.core.segmentation import N_CLASSES, SegmenterConfig
from polytag.nn.segmenter import SegmenterLabels, SegmenterNet

CONFIG = SegmenterConfig(n_buckets=64, char_dim=4, cat_dim=2, channels=8, dilations=(1, 2),
                         context=8, dropout=0.0)  # fmt: skip


def test_shapes_and_labels():
    torch.manual_seed(0)
    net = SegmenterNet(CONFIG).eval()
    chars, cats = torch.randint(1, 64, (3, 50)), torch.randint(1, 30, (3, 50))
    logits = net(chars, cats)
    assert logits.shape == (3, 50, N_CLASSES)
    assert torch.equal(SegmenterLabels(net)(chars, cats), logits.argmax(-1))


def test_output_depends_only_on_characters_within_the_receptive_radius():
    torch.manual_seed(0)
    net = SegmenterNet(CONFIG).eval()
    radius = CONFIG.receptive_radius
    chars, cats = torch.randint(1, 64, (1, 60)), torch.randint(1, 30, (1, 60))
    changed = chars.clone()
    changed[0, 30 + radius + 1 :] = 1
    changed[0, : 30 - radius] = 1
    with torch.no_grad():
        assert torch.allclose(net(chars, cats)[0, 30], net(changed, cats)[0, 30])


def test_context_must_cover_the_receptive_field():
    with pytest.raises(ValueError, match="receptive radius"):
        SegmenterNet(SegmenterConfig(dilations=(1, 2, 4, 8, 16, 32), context=40))


HINTED = SegmenterConfig(n_buckets=64, char_dim=4, cat_dim=2, channels=8, dilations=(1, 2), context=8,
                         dropout=0.0, treebank_hints=["en_a", "en_b"])  # fmt: skip


def test_new_hints_start_at_zero_and_no_hint_is_the_plain_network():
    torch.manual_seed(0)
    net = SegmenterNet(HINTED).eval()
    chars, cats = torch.randint(1, 64, (2, 30)), torch.randint(1, 30, (2, 30))
    plain = net(chars, cats)
    assert torch.equal(net(chars, cats, torch.tensor([1, 2])), plain)  # zero-initialised rows
    with torch.no_grad():
        net.hints.weight[1:].normal_()  # trained hints; row 0 stays zero (no gradient reaches it)
    assert torch.equal(net(chars, cats, torch.tensor([0, 0])), plain)
    hinted = net(chars, cats, torch.tensor([1, 2]))
    assert not torch.allclose(hinted, plain)
    assert torch.equal(SegmenterLabels(net)(chars, cats, torch.tensor([1, 2])), hinted.argmax(-1))


def test_the_no_hint_row_gets_no_gradient():
    net = SegmenterNet(HINTED)
    chars, cats = torch.randint(1, 64, (2, 30)), torch.randint(1, 30, (2, 30))
    net(chars, cats, torch.tensor([0, 2])).sum().backward()
    assert torch.count_nonzero(net.hints.weight.grad[0]) == 0
    assert torch.count_nonzero(net.hints.weight.grad[2]) > 0

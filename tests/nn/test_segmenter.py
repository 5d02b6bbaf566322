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

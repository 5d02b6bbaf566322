"""The tagging heads: pruning the bundle head keeps the kept columns' logits exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from polytag.core.folder import ModelConfig
from polytag.core.labels import Labels
from polytag.nn.heads import add_heads, head_logits, prune_bundle_head

FEATS = ["_", "Case=Nom", "Case=Acc", "Case=Gen", "Number=Plur", "Case=Acc", "Case=Acc", "Case=Nom"]


def heads_module(morph_heads=("bundle",)) -> tuple[nn.Module, Labels]:
    torch.manual_seed(0)
    labels = Labels.build(FEATS)
    module = nn.Module()
    add_heads(module, 16, labels, ModelConfig(encoder="tiny", morph_heads=list(morph_heads),
                                              morph_decode=morph_heads[0]))
    return module.eval(), labels


def test_pruned_bundle_head_keeps_its_columns():
    module, labels = heads_module()
    states = torch.randn(5, 16)
    before = head_logits(module, states)
    keep = labels.frequent_bundles({"Case=Acc": 3, "Case=Nom": 2, "Case=Gen": 1, "Number=Plur": 1}, 2)
    assert [labels.bundles[i] for i in keep] == ["_", "Case=Acc", "Case=Nom"]
    prune_bundle_head(module, keep)
    after = head_logits(module, states)
    assert module.bundle_head.out_features == 3
    assert torch.allclose(after["bundle"], before["bundle"][:, keep], atol=1e-6)  # a narrower matmul may round apart
    assert torch.equal(after["upos"], before["upos"])
    pruned = labels.with_bundles(keep)
    best = after["bundle"].argmax(-1).tolist()  # ids index the pruned labels
    assert pruned.decode_bundles(best) == [labels.bundles[keep[i]] for i in best]


def test_pruning_needs_a_bundle_head():
    module, _ = heads_module(("factored",))
    with pytest.raises(ValueError, match="no bundle head"):
        prune_bundle_head(module, [0])

"""The tagging heads, in one place: UPOS (17), morphology as whole bundles ("bundle") and/or one
classifier per feature with a "not present" value ("factored"). Every architecture's word
states go through these; training, the PyTorch backend and the ONNX export all call
`head_logits`, so the arithmetic is written once.
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.folder import ModelConfig
from ..core.labels import Labels


def add_heads(module: nn.Module, hidden: int, labels: Labels, config: ModelConfig) -> None:
    """Give `module` the dropout and the UPOS / bundle / factored classifiers that
    `TaggerModel.heads` reads (every architecture's encoder output goes through these)."""
    module.dropout = nn.Dropout(config.dropout)
    module.upos_head = nn.Linear(hidden, len(labels.upos))
    module.bundle_head = nn.Linear(hidden, len(labels.bundles)) if "bundle" in config.morph_heads else None
    module.factored_head = None
    if "factored" in config.morph_heads:
        module.factored_shape = (max(labels.n_features, 1), labels.max_values)
        module.factored_head = nn.Linear(hidden, module.factored_shape[0] * module.factored_shape[1])
        # value slots that do not exist for a feature can never win the softmax
        module.register_buffer(
            "factored_bias_mask",
            torch.where(torch.from_numpy(labels.factored_mask()), 0.0, -1e4),
            persistent=False,
        )


def head_logits(module: nn.Module, states: torch.Tensor, which=None) -> dict[str, torch.Tensor]:
    """Logits of the heads `add_heads` gave `module`, for any (..., hidden) states: all it has,
    or only those in `which` ("upos" always: it is small). Only what is asked for is computed:
    the bundle head alone costs about as much as a MiniBERT encoder."""
    out = {"upos": module.upos_head(states)}
    if module.bundle_head is not None and (which is None or "bundle" in which):
        out["bundle"] = module.bundle_head(states)
    if module.factored_head is not None and (which is None or "factored" in which):
        logits = module.factored_head(states).unflatten(-1, module.factored_shape)
        out["factored"] = logits + module.factored_bias_mask
    return out


def prune_bundle_head(module: nn.Module, keep: list[int]) -> None:
    """Keep only the bundle head's columns `keep` (Labels.frequent_bundles): its cost per word
    is proportional to its width, and a bundle seen a handful of times in training is almost
    never the right answer. The labels must be cut the same way (Labels.with_bundles)."""
    head = module.bundle_head
    if head is None:
        raise ValueError("this model has no bundle head to prune")
    index = torch.tensor(keep, dtype=torch.long)
    pruned = nn.Linear(head.in_features, len(keep), bias=head.bias is not None)
    with torch.no_grad():
        pruned.weight.copy_(head.weight[index])
        if head.bias is not None:
            pruned.bias.copy_(head.bias[index])
    module.bundle_head = pruned.to(head.weight.device, head.weight.dtype)

"""The raw-text segmenter network: hashed characters -> dilated 1-D convolutions -> labels.

Convolutions rather than a recurrent layer: they train fast on one CPU thread, export to
ONNX cleanly, and with a bounded receptive field a window's core labels do not depend on
where the window was cut (`SegmenterConfig.context` must cover `receptive_radius`).
"""

from __future__ import annotations

import torch
from torch import nn

from polytag.core.segmentation import N_CATS, N_CLASSES, SegmenterConfig


class ResidualConv(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        padding = dilation * (kernel // 2)
        self.conv = nn.Conv1d(channels, channels, kernel, padding=padding, dilation=dilation)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(torch.relu(self.conv(x)))


class SegmenterNet(nn.Module):
    """(char_ids, cat_ids) [batch, length] -> logits [batch, length, N_CLASSES]."""

    def __init__(self, config: SegmenterConfig):
        super().__init__()
        if config.context < config.receptive_radius:
            raise ValueError(
                f"context {config.context} < receptive radius {config.receptive_radius}"
            )
        self.chars = nn.Embedding(config.n_buckets, config.char_dim, padding_idx=0)
        self.cats = nn.Embedding(N_CATS, config.cat_dim, padding_idx=0)
        in_dim = config.char_dim + config.cat_dim
        k = config.first_kernel
        self.first = nn.Conv1d(in_dim, config.channels, k, padding=k // 2)
        self.blocks = nn.ModuleList(
            ResidualConv(config.channels, config.kernel, d, config.dropout)
            for d in config.dilations
        )
        self.out = nn.Conv1d(config.channels, N_CLASSES, 1)
        # a treebank's convention hint: one vector per treebank added to the first layer; row 0
        # ("no hint") is fixed at zero (padding_idx), so with no hint this is the plain network
        self.hints = None
        if config.treebank_hints:
            self.hints = nn.Embedding(len(config.treebank_hints) + 1, config.channels, padding_idx=0)
            nn.init.zeros_(self.hints.weight)  # a start from a hint-less net changes nothing at first

    def forward(self, char_ids: torch.Tensor, cat_ids: torch.Tensor,
                hint_ids: torch.Tensor | None = None) -> torch.Tensor:
        """hint_ids: [batch] hint rows (0: no hint), for a net with hints; None: no hint."""
        x = torch.cat([self.chars(char_ids), self.cats(cat_ids)], dim=-1).transpose(1, 2)
        x = self.first(x)
        if self.hints is not None and hint_ids is not None:
            x = x + self.hints(hint_ids).unsqueeze(-1)
        x = torch.relu(x)
        for block in self.blocks:
            x = block(x)
        return self.out(x).transpose(1, 2)


class SegmenterLabels(nn.Module):
    """The exported graph: the argmax label per character (int64), no logits to copy out; a net
    with hints takes a third input, hint_ids [windows]."""

    def __init__(self, net: SegmenterNet):
        super().__init__()
        self.net = net

    def forward(self, char_ids: torch.Tensor, cat_ids: torch.Tensor,
                hint_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(char_ids, cat_ids, hint_ids).argmax(dim=-1)


class SegmenterEnsemble(nn.Module):
    """Nets trained apart, their class probabilities averaged with `weights`: same inputs as
    one SegmenterNet; returns the averaged probabilities (argmax-equivalent to logits). A
    member trained without hints ignores hint_ids. Costs the sum of its members."""

    def __init__(self, members: list[SegmenterNet], weights: list[float]):
        super().__init__()
        if len(members) != len(weights) or len(members) < 2:
            raise ValueError("an ensemble needs two or more members, one weight each")
        self.members = nn.ModuleList(members)
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32), persistent=False)
        hinted = [m.hints for m in members if m.hints is not None]
        self.hints = hinted[0] if hinted else None  # export_segmenter: does the graph take hint_ids

    def forward(self, char_ids: torch.Tensor, cat_ids: torch.Tensor,
                hint_ids: torch.Tensor | None = None) -> torch.Tensor:
        total = 0
        for i, member in enumerate(self.members):
            total = total + self.weights[i] * torch.softmax(member(char_ids, cat_ids, hint_ids), dim=-1)
        return total

"""The PyTorch backend: runs a torch model (any architecture in nn.model_io.ARCHITECTURES) and
returns per-word outputs as numpy arrays, as `OnnxBackend` does."""

from __future__ import annotations

import numpy as np
import torch

from ..nn.heads import head_logits
from ..nn.transformer import TaggerModel


class TorchBackend:
    """Runs the PyTorch model; returns per-word outputs as numpy arrays."""

    name = "torch"
    returns_ids = True

    def __init__(self, model, device: str = "cpu"):
        self.model = model
        self.device = device
        self.transformer = isinstance(model, TaggerModel)

    def __call__(self, batch: dict, heads: tuple[str, ...]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            batch = {k: torch.as_tensor(v).to(self.device) for k, v in batch.items()}
            logit_heads = {h.removesuffix("_ids") for h in heads}
            out = self._transformer(batch, logit_heads) if self.transformer else self.model(**batch)
            result = {}
            for h in heads:
                if h.endswith("_ids"):
                    result[h] = out[h.removesuffix("_ids")].argmax(-1).cpu().numpy()
                else:
                    result[h] = out[h].float().cpu().numpy()
            return result

    def _transformer(self, batch: dict, heads: set[str]) -> dict:
        """Only the heads asked for (eval mode: no dropout)."""
        m = self.model
        states = m.encode(batch["input_ids"], batch["attention_mask"], batch.get("treebank"))
        words = m.word_states(states, batch["word_index"], batch.get("last_index"), batch.get("word_chars"))
        return head_logits(m, words, heads)

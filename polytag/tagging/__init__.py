"""Serving: load a model folder and tag (ONNX Runtime or PyTorch). Never imports training."""

from .loading import load

__all__ = ["load"]

"""Torch modules only: the encoders, the Meta-LSTM network, the heads. Above core, below tagging."""

"""polytag's torch-free floor: formats, labels, errors, scoring and the model-folder format.

Nothing here imports torch, transformers or any other part of polytag above this floor.
"""

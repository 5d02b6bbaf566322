"""polytag: one small multilingual UPOS + UFeats tagger.

    >>> import polytag
    >>> tagger = polytag.load()            # the shipped default model
    >>> tagger.tag([["Das", "ist", "gut", "."]])
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "default"


def load(path: str | Path | None = None, device: str = "cpu", batch_size: int = 64,
         backend: str = "auto", threads: int | None = None, treebank: str | None = None,
         lexicon: bool = True):
    """Load a model folder (default: the shipped model) once; the Tagger is thread-safe.
    treebank: tag as that treebank annotates, where the model was trained with treebank hints
    (`tagger.treebank_hints`); each call may also take its own `treebank=`. lexicon: where the
    folder has a word lexicon (lexicon.tsv.xz), a word seen in training keeps the network's
    label only if training gave it that label (else it gets its most frequent one there)."""
    from .tagging import load as load_tagger  # noqa: PLC0415 - keep `import polytag` light

    return load_tagger(path or DEFAULT_MODEL, device=device, batch_size=batch_size, backend=backend,
                       threads=threads, treebank=treebank, lexicon=lexicon)

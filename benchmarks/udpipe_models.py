"""UDPipe 1 models trained on a treebank's train split (dev as heldout) and cached, for the
benchmarks that measure polytag beside it (`segmentation.py`: tokenizers, `peers.py`: taggers).

    pip install ufal.udpipe==1.4.0.1
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polytag.core.conllu_io import open_text  # noqa: E402


def load_text(path: Path) -> str:
    with open_text(path) as f:  # plain, .gz or .xz
        return f.read()


def train_udpipe(train: Path, dev: Path, cache: Path, tokenizer: str = "none", tagger: str = "none"):
    """-> (model, seconds spent training it here, or None when it came from the cache)."""
    from ufal.udpipe import (  # noqa: PLC0415
        InputFormat,
        Model,
        ProcessingError,
        Sentence,
        Sentences,
        Trainer,
    )

    path = cache / f"{train.name.split('-ud-')[0]}.udpipe"
    seconds = None
    if not path.exists():
        def sentences(file: Path):
            reader, out, s = InputFormat.newConlluInputFormat(), Sentences(), Sentence()
            reader.setText(load_text(file))
            while reader.nextSentence(s):
                out.append(s)
                s = Sentence()
            return out

        start = time.perf_counter()
        error = ProcessingError()
        model = Trainer.train("morphodita_parsito", sentences(train), sentences(dev), tokenizer, tagger, "none", error)
        if error.occurred():
            raise RuntimeError(f"UDPipe training failed on {train}: {error.message}")
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(model)
        seconds = round(time.perf_counter() - start)
    return Model.load(str(path)), seconds

"""Serving the raw-text segmenter: numpy + ONNX Runtime only (never torch).

    segmenter = Segmenter.load("runs/segmenter")
    for sentence in segmenter.segment(text):
        for token in sentence.tokens:
            token.form, token.start, token.end, token.space_after, token.words

`segment_stream(chunks)` does the same for text arriving in pieces (a file read in blocks),
in bounded memory; offsets then count characters from the start of the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort

from polytag.core.errors import InputError
from polytag.core.segmentation import (
    MWT_FILE,
    MwtLexicon,
    RawSentence,
    SegmenterConfig,
    mwt_path,
    segment_with,
    text_chunks,
)
from polytag.core.word_lexicon import TextState

from .onnx_backend import session_options

ONNX_NAME, CONFIG_NAME, MWT_NAME = "segmenter.onnx", "segmenter.json", MWT_FILE


class Segmenter:
    """Splits raw text of any of the trained languages into sentences, tokens and words."""

    def __init__(self, session: ort.InferenceSession, config: SegmenterConfig, lexicon: MwtLexicon,
                 variants: dict[int, int] | None = None):
        self.session, self.config, self.lexicon = session, config, lexicon
        self.variants = variants  # characters the network reads as others (core.variants)
        # (the words of a text's next sentences, the text's TextState) -> (the treebank to segment
        # the text as, or None; i: the sentences from the i-th on read as it), set by the tagger
        # that loads this segmenter, from its word lexicon (`raw.raw_sentences`)
        self.guess_treebank: Callable[[list[list[str]], TextState], tuple[str | None, int]] | None = None
        # a sentence's forms -> its language, for a sentence whose words say none (`MwtExpander`),
        # set by the tagger from its language identifier
        self.identify_language: Callable[[list[str]], str | None] | None = None
        # (a language, the text's TextState) -> the language's treebank the text reads most like
        # so far, for a line in another language than the text's guessed treebank (`MwtExpander`)
        self.language_treebank: Callable[[str, TextState], str | None] | None = None

    @classmethod
    def load(cls, folder: str | Path, threads: int = 1, variants: dict[int, int] | None = None) -> Segmenter:
        """variants: the model folder's (`core.variants.load_variants`), read by the network."""
        folder = Path(folder)
        for path in (folder / ONNX_NAME, folder / CONFIG_NAME, mwt_path(folder)):
            if not path.is_file():
                raise InputError(f"{path}: missing (not a segmenter folder)")
        session = ort.InferenceSession(str(folder / ONNX_NAME), session_options(threads),
                                       providers=["CPUExecutionProvider"])
        config = SegmenterConfig.load(folder / CONFIG_NAME)
        return cls(session, config, MwtLexicon.load(mwt_path(folder)), variants)

    @property
    def treebank_hints(self) -> list[str]:
        """Treebank ids this segmenter takes as a convention hint (empty: it takes none)."""
        return self.config.treebank_hints

    def predict(self, char_ids: np.ndarray, cat_ids: np.ndarray, hint_row: int = 0) -> np.ndarray:
        """Per-character labels for a batch of windows."""
        feeds = {"char_ids": char_ids, "cat_ids": cat_ids}
        if self.config.treebank_hints:
            feeds["hint_ids"] = np.full(len(char_ids), hint_row, np.int64)
        return self.session.run(None, feeds)[0]

    def segment(self, text: str, treebank: str | None = None) -> Iterator[RawSentence]:
        """Sentences of `text`; token offsets index `text` itself. treebank: segment as that
        treebank does, where this segmenter was trained with hints and knows it."""
        return self.segment_stream(text_chunks(text), treebank)

    def segment_stream(self, chunks: Iterable[str], treebank: str | None = None,
                       guess: Callable[[list[RawSentence]], tuple[str | None, int]] | None = None,
                       ) -> Iterator[RawSentence]:
        """guess: see `segment_with`."""
        return segment_with(self._predict_as(treebank), self.config, self.lexicon, chunks, treebank, self.variants,
                            guess, self._predict_as, identify=self.identify_language)

    def _predict_as(self, treebank: str | None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        row = self.config.hint_row(treebank)
        return lambda char_ids, cat_ids: self.predict(char_ids, cat_ids, row)

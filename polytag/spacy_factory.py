"""polytag as a spaCy pipeline component. `pip install polytag[spacy]` registers the factory
through spaCy's entry points, so no import of polytag is needed:

    nlp = spacy.blank("de")
    nlp.add_pipe("polytag")                       # config: model, threads, x_second_best, batch_size, treebank
    for doc in nlp.pipe(texts, batch_size=256):
        [(t.text, t.pos_, str(t.morph)) for t in doc]

spaCy's tokenization is kept: each spaCy token is a word; whitespace tokens get SPACE and no
features. A doc with sentence boundaries is tagged sentence by sentence, otherwise as one
sequence (the tagger cuts long ones into overlapping windows). `nlp.to_disk` saves the model
folder's path (not the model: it is a folder of its own, and the shipped one comes with the
package), and `nlp.from_disk` loads it again.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc

from . import DEFAULT_MODEL
from .tagging import load

CONFIG_FILE = "polytag.json"


class PolytagComponent:
    def __init__(self, nlp: Language, name: str, model: str | None, threads: int | None, x_second_best: bool,
                 batch_size: int, treebank: str | None = None):
        self.name, self.model, self.threads = name, model, threads
        self.x_second_best, self.batch_size = x_second_best, batch_size
        self.tagger = load(model or DEFAULT_MODEL, threads=threads, batch_size=batch_size)
        self.treebank = treebank
        self.tagger.hint_row(treebank)  # an unknown treebank hint fails here, not at the first doc

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        docs = iter(docs)
        while batch := list(islice(docs, batch_size or self.batch_size)):
            self._tag(batch)
            yield from batch

    def _tag(self, docs: list[Doc]) -> None:
        """One tagger call for a batch of docs: every sentence (or doc) without its space tokens."""
        per_doc = [list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]] for doc in docs]
        tokens = [[t for t in span if not t.is_space] for spans in per_doc for span in spans]
        upos, feats = self.tagger.predict([[t.text for t in ts] for ts in tokens], self.x_second_best,
                                          treebank=self.treebank, documents=[len(spans) for spans in per_doc])
        for ts, us, fs in zip(tokens, upos, feats):
            for token, u, f in zip(ts, us, fs):
                token.pos_ = u
                token.set_morph(None if f == "_" else f)
        for doc in docs:
            for token in doc:
                if token.is_space:
                    token.pos_ = "SPACE"

    # -- serialisation: the model folder's path --
    def to_disk(self, path, exclude=()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        settings = {"model": str(Path(self.model).resolve()) if self.model else None, "threads": self.threads,
                    "x_second_best": self.x_second_best, "batch_size": self.batch_size, "treebank": self.treebank}
        (path / CONFIG_FILE).write_text(json.dumps(settings, indent=1), encoding="utf-8")

    def from_disk(self, path, exclude=()) -> "PolytagComponent":
        settings = json.loads((Path(path) / CONFIG_FILE).read_text(encoding="utf-8"))
        if settings["model"] != self.model or settings["threads"] != self.threads:
            self.tagger = load(settings["model"] or DEFAULT_MODEL, threads=settings["threads"],
                               batch_size=settings["batch_size"])
        self.model, self.threads = settings["model"], settings["threads"]
        self.x_second_best, self.batch_size = settings["x_second_best"], settings["batch_size"]
        self.treebank = settings.get("treebank")  # absent in settings saved before treebank hints
        return self


@Language.factory("polytag", default_config={"model": None, "threads": None, "x_second_best": False,
                                            "batch_size": 64, "treebank": None})
def make_polytag(nlp: Language, name: str, model: str | None, threads: int | None, x_second_best: bool,
                 batch_size: int, treebank: str | None) -> PolytagComponent:
    return PolytagComponent(nlp, name, model, threads, x_second_best, batch_size, treebank)

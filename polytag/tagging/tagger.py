"""Inference: `Tagger` turns lists of words into UPOS and FEATS.

Sentences are cut into encoder windows, windows are sorted by length and batched
(so padding is small), run through a backend (`tagging.onnx_backend` or `tagging.torch_backend`;
`tagging.load` picks one), and predictions are scattered back to input order with numpy.

Backends take a dict of int64 arrays (see `encoding.collate_numpy`) and the names of the
outputs wanted: "upos", "bundle", "factored" (logits) or, where `returns_ids` is set,
"bundle_ids" / "factored_ids" (argmax ids, so a ~10k-wide logit row per word never has to
reach numpy). This module never imports torch.
"""

from __future__ import annotations

import threading
from itertools import accumulate
from functools import cached_property
from typing import Callable, Collection, Iterable, Iterator

import numpy as np

from ..core.conllu_io import MAX_SENTENCE_WORDS, Sentence, check_word
from ..core.emoji import tag_emoji
from ..core.encoding import Chunk, WordChars, WordPieces, collate_numpy, make_chunks
from ..core.errors import InputError, check_positive
from ..core.folder import NO_HINT, segmenter_hints, treebank_hint_index
from ..core.labels import Labels
from ..core.variants import translate_words
from ..core.word_lexicon import TextState, WordLexicon, glued_tokens
from .coverage import CoverageCheck, sentence_language

X_INDEX_NAME = "X"
# without a hint: a sentence gets the hint of the treebank the lexicon guesses once its text has
# this many words before it (a one-sentence text is tagged better with none: 93.22 / 88.92
# UPOS / UFeats on dev, each sentence a text, against 93.21 / 88.83 with its own words' guess)
HINT_AFTER_WORDS = 50
# tag_stream's first chunk of sentences: small, so that tagging begins while a read-ahead
# segmenter goes on (a first chunk of 2,048 left one core idle for its first seconds; raw text
# of the 22 dev files: 20.9-21.3 s against 21.8-23.5 s end to end)
FIRST_CHUNK_SENTENCES = 64
MORPH_HEADS = ("bundle", "factored")


def check_sentences(sentences) -> None:
    """The limits the readers apply to files, for sentences given as lists of words (API, server)."""
    for i, words in enumerate(sentences):
        if not isinstance(words, list):
            raise InputError(f"sentence {i}: not a list of words")
        if len(words) > MAX_SENTENCE_WORDS:
            raise InputError(f"sentence {i}: longer than {MAX_SENTENCE_WORDS} words")
        for j, word in enumerate(words):
            if not isinstance(word, str):
                raise InputError(f"sentence {i}, word {j}: {word!r} is not a string")
            check_word(word, f"sentence {i}, word {j}")


class Tagger:
    # the treebank hint every batch gets (set_treebank); class attributes, so that subclasses that
    # skip __init__ (MetaLSTMTagger) have them too
    hint: int = NO_HINT
    treebank: str | None = None
    lexicon: WordLexicon | None = None  # the folder's word lexicon (tagging.load sets it)
    variants: dict[int, int] | None = None  # characters read as others (core.variants; tagging.load sets it)

    def __init__(self, backend, tokenizer, labels: Labels, config, batch_size: int = 64, morph: str | None = None):
        self.backend = backend
        self.labels = labels
        self.config = config
        self.batch_size = check_positive("batch_size", batch_size)
        self.morph = morph or config.morph_decode
        if self.morph not in config.morph_heads:
            raise ValueError(f"model has no {self.morph!r} morphology head (has {config.morph_heads})")
        served = getattr(backend, "outputs", None)  # an exported graph has a fixed set of outputs
        if served is not None and f"{self.morph}_ids" not in served:
            raise ValueError(f"the ONNX model has no {self.morph!r} morphology output (has {sorted(served)}); "
                             f"re-export it with `polytag export --morph {self.morph}` or use --backend torch")
        self.wordpieces = WordPieces(tokenizer)
        chars = getattr(config, "word_chars", 0)
        self.word_chars = WordChars(chars) if chars else None
        self.tokenizer = tokenizer
        self._lock = threading.Lock()  # the wordpiece cache is shared between threads
        self.x_id = labels.upos.index(X_INDEX_NAME)
        self.languages: list[str] | None = None  # language codes the model was trained on (tagging.load sets them)
        self.folder = None  # the model folder (tagging.load sets it): raw text needs its segmenter/

    def set_treebank(self, treebank: str | None) -> "Tagger":
        """Tag as treebank `treebank` annotates (a model trained with treebank hints; see
        nn.transformer), or with no hint (None). An unknown id is an InputError naming the known ones."""
        self.hint = treebank_hint_index(self.config, treebank, self.other_hints)
        self.treebank = treebank
        return self

    @property
    def treebank_hints(self) -> list[str]:
        """The treebank ids this model takes as hints (empty: none)."""
        return list(getattr(self.config, "treebank_hints", None) or [])

    @cached_property
    def segmenter_hints(self) -> list[str]:
        """The treebank ids the folder's raw-text segmenter takes as hints: also accepted by
        set_treebank, and tag with no hint where the tagger does not know them."""
        folder = getattr(self, "folder", None)
        return segmenter_hints(folder) if folder is not None else []

    @property
    def other_hints(self) -> list[str]:
        """Treebank ids the network takes no hint for but the folder's segmenter or word lexicon
        does: accepted (the network then tags with no hint)."""
        return [*self.segmenter_hints, *(self.lexicon.treebanks if self.lexicon is not None else [])]

    # object arrays: decoding is one numpy take per batch, not a Python loop per word
    # (cached properties: subclasses such as MetaLSTMTagger do not run this __init__)
    @cached_property
    def _upos_names(self) -> np.ndarray:
        return np.array(self.labels.upos, dtype=object)

    @cached_property
    def _bundle_names(self) -> np.ndarray:
        return np.array(self.labels.bundles, dtype=object)

    # -- core --
    def _chunks(self, sentences: list[list[str]]) -> list[Chunk]:
        with self._lock:
            return make_chunks(self.wordpieces, sentences, self.config.max_len, overlap=True)

    def hint_row(self, treebank: str | None) -> int:
        """The hint row of a call: `treebank`'s where one is given, else the tagger's (set_treebank)."""
        return self.hint if treebank is None else treebank_hint_index(self.config, treebank, self.other_hints)

    def run(self, sentences: list[list[str]], heads: tuple[str, ...], hint: int | None = None) -> dict[str, np.ndarray]:
        """Backend outputs for every word, flat over all sentences in input order: (n_words, ...).
        hint: the treebank-hint row of every window (default: the tagger's).

        Windows are sorted by length and batched (little padding); each batch's kept rows
        are scattered to their words' input positions with one numpy assignment per head."""
        chunks = self._chunks(sentences)
        starts = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in sentences], out=starts[1:])
        result: dict[str, np.ndarray] = {}
        if not chunks:
            return result
        order = np.argsort([len(c.input_ids) for c in chunks], kind="stable")
        pad_id = self.wordpieces.pad_id
        for b in range(0, len(order), self.batch_size):
            part = [chunks[i] for i in order[b : b + self.batch_size]]
            batch = collate_numpy(part, pad_id, self.word_chars)
            if self.config.treebank_hints:
                batch["treebank"] = np.full(len(part), self.hint if hint is None else hint, dtype=np.int64)
            out = self.backend(batch, heads)
            # rows of the batch output kept for each window, and where they go
            n_rows = np.fromiter((len(c.first) for c in part), np.int64, len(part))
            own_s = np.fromiter((c.own[0] for c in part), np.int64, len(part))
            own_n = np.fromiter((c.own[1] - c.own[0] for c in part), np.int64, len(part))
            dst0 = np.fromiter((starts[c.sentence] + c.offset for c in part), np.int64, len(part)) + own_s
            src0 = np.cumsum(n_rows) - n_rows + own_s
            step = np.arange(own_n.sum()) - np.repeat(np.cumsum(own_n) - own_n, own_n)
            src, dst = np.repeat(src0, own_n) + step, np.repeat(dst0, own_n) + step
            for h in heads:
                if h not in result:
                    result[h] = np.empty((starts[-1], *out[h].shape[1:]), dtype=out[h].dtype)
                result[h][dst] = out[h][src]
        return result

    def logits(self, sentences: list[list[str]], heads: tuple[str, ...]) -> list[dict[str, np.ndarray]]:
        """Per sentence, per head: (n_words, ...) logits (or ids for "*_ids"), in input order."""
        flat = self.run(sentences, heads)
        bounds = np.cumsum([len(s) for s in sentences])[:-1]
        per_head = {h: np.split(flat[h], bounds) if h in flat else None for h in heads}
        return [
            {h: per_head[h][i] if per_head[h] is not None else self._empty(h) for h in heads}
            for i in range(len(sentences))
        ]

    def _empty(self, head: str) -> np.ndarray:
        """Outputs for a call in which no sentence has a word."""
        widths = {"upos": (len(self.labels.upos),), "bundle": (len(self.labels.bundles),),
                  "factored": (max(self.labels.n_features, 1), self.labels.max_values),
                  "bundle_ids": (), "factored_ids": (max(self.labels.n_features, 1),)}
        return np.zeros((0, *widths[head]), dtype=np.int64 if head.endswith("_ids") else np.float32)

    def word_outputs(self, sentences: list[list[str]], morph: str,
                     hint: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """-> UPOS logits (n_words, 17) and morphology ids, (n_words,) bundle ids or
        (n_words, n_features) factored value ids; flat, in input order."""
        if type(self).logits is not Tagger.logits:
            # a subclass with its own (whole-sentence) logits, e.g. the Meta-LSTM tagger
            per = self.logits(sentences, ("upos", morph))
            upos = np.concatenate([p["upos"] for p in per]) if per else self._empty("upos")
            ids = np.concatenate([p[morph] for p in per]).argmax(-1) if per else self._empty(f"{morph}_ids")
            return upos, ids
        if getattr(self.backend, "returns_ids", False):
            flat = self.run(sentences, ("upos", f"{morph}_ids"), hint)
            ids = flat.get(f"{morph}_ids")
        else:  # a backend that returns logits only
            flat = self.run(sentences, ("upos", morph), hint)
            ids = flat[morph].argmax(-1) if morph in flat else None
        if "upos" not in flat:
            return self._empty("upos"), self._empty(f"{morph}_ids")
        return flat["upos"], ids

    def decode_morph(self, morph: str, ids: np.ndarray) -> list[str]:
        """Ids -> FEATS strings, decoding each distinct id (row) once."""
        if len(ids) == 0:
            return []
        if morph == "bundle":
            return self._bundle_names[ids].tolist()
        rows, inverse = np.unique(ids, axis=0, return_inverse=True)
        names = np.array(self.labels.decode_factored(rows), dtype=object)
        return names[inverse.reshape(-1)].tolist()

    def predict(self, sentences: list[list[str]], x_second_best: bool = False, morph: str | None = None,
                treebank: str | None = None, documents: list[int] | None = None, text: TextState | None = None,
                glued: list[Collection[int]] | None = None):
        """-> (upos per sentence, feats per sentence). treebank: this call's treebank hint instead
        of the tagger's (thread-safe, unlike set_treebank). documents: sizes of runs of unrelated
        sentences (requests batched together), so that the word lexicon's guess of each text's
        language and treebank starts afresh at each (core.word_lexicon). text: the sentences
        continue a text tagged before (a stream in chunks), whose guess goes on from that state.
        glued: per sentence, the indices of words written glued to the one before
        (`WordLexicon.sentence_treebanks`).

        With no hint, a model with hints and a word lexicon tags each sentence with the hint of
        the treebank the lexicon takes it for, from the words of its text up to it (a text's
        genre and vocabulary), once the text has HINT_AFTER_WORDS words before it; the lexicon
        then checks its labels against the same treebank's (no more network work than one pass)."""
        morph = morph or self.morph
        given = self.treebank if treebank is None else treebank
        hint = self.hint_row(treebank)
        if not sentences:
            return [], []
        read = translate_words(sentences, self.variants)  # Simplified Chinese as Traditional
        if text is not None and documents is not None:
            raise ValueError("a text state continues one text: give it without documents")
        keys, words_before = None, text.words if text is not None else 0
        if self.lexicon is not None:
            keys = self.lexicon.sentence_treebanks(read, given, documents, self.identify_language, text, glued)
        if given is None and keys is not None and self.treebank_hints:
            upos_lists, feats_lists = self._guessed_hints(read, keys, x_second_best, morph, documents, words_before)
        else:
            upos_lists, feats_lists = self._network(read, x_second_best, morph, hint)
        if keys is not None:
            self.lexicon.restrict(read, upos_lists, feats_lists, keys=keys)
        tag_emoji(sentences, upos_lists, feats_lists)
        return upos_lists, feats_lists

    def identify_language(self, words: list[str]) -> str | None:
        """For the word lexicon: the language of a sentence in which no word says it (no cue word),
        by the language identifier, among the lexicon's languages."""
        return sentence_language(words, self._lexicon_languages)

    @cached_property
    def _lexicon_languages(self) -> frozenset[str]:
        return frozenset(self.lexicon.by_language) if self.lexicon is not None else frozenset()

    def _network(self, sentences: list[list[str]], x_second_best: bool, morph: str, hint: int):
        """The network's labels alone: (upos per sentence, feats per sentence)."""
        if not sentences:
            return [], []
        upos_logits, morph_ids = self.word_outputs(sentences, morph, hint)
        upos = self._upos_names[self.decide_upos(upos_logits, x_second_best)].tolist()
        feats = self.decode_morph(morph, morph_ids)
        bounds = np.cumsum([0] + [len(s) for s in sentences]).tolist()
        pairs = list(zip(bounds[:-1], bounds[1:]))
        return [upos[a:b] for a, b in pairs], [feats[a:b] for a, b in pairs]

    def _guessed_hints(self, sentences, keys, x_second_best: bool, morph: str, documents: list[int] | None = None,
                       words_so_far: int = 0):
        """The network's labels, each sentence with the hint of the treebank the word lexicon
        takes it for (`WordLexicon.sentence_treebanks`), none before its text has
        HINT_AFTER_WORDS words, for a sentence in two languages, or for a treebank without a
        hint; one network call per distinct hint. words_so_far: the text's words before these
        sentences (one text, tagged in parts)."""
        words_before = []  # in the sentence's own text
        for n in [len(sentences)] if documents is None else documents:
            lengths = [len(s) for s in sentences[len(words_before) : len(words_before) + n]]
            words_before += accumulate(lengths[:-1], initial=words_so_far) if lengths else []
        rows: dict[int, list[int]] = {}
        for i, (key, word_keys) in enumerate(keys):
            hinted = words_before[i] >= HINT_AFTER_WORDS and key in self.treebank_hints and word_keys is None
            rows.setdefault(self.hint_row(key) if hinted else NO_HINT, []).append(i)
        upos: list = [None] * len(sentences)
        feats: list = [None] * len(sentences)
        for row, ids in rows.items():
            for i, u, f in zip(ids, *self._network([sentences[i] for i in ids], x_second_best, morph, row)):
                upos[i], feats[i] = u, f
        return upos, feats

    def decide_upos(self, logits: np.ndarray, x_second_best: bool) -> np.ndarray:
        """argmax; with x_second_best, words whose best label is X get their second best
        (the paper's rule for code-mixed text)."""
        best = logits.argmax(-1)
        if not x_second_best:
            return best
        is_x = best == self.x_id
        if is_x.any():
            masked = logits[is_x].copy()
            masked[:, self.x_id] = -np.inf
            best[is_x] = masked.argmax(-1)
        return best

    # -- raw text --
    @cached_property
    def segmenter(self):
        """The model folder's raw-text segmenter, loaded on first use."""
        from .raw import load_segmenter  # noqa: PLC0415

        if getattr(self, "folder", None) is None:
            raise InputError("this tagger was not loaded from a model folder (polytag.load), so it has no segmenter")
        segmenter = load_segmenter(self.folder)
        if self.lexicon is not None:
            segmenter.guess_treebank = self.text_treebank_from
            segmenter.language_treebank = self.language_treebank
            segmenter.identify_language = self.identify_language
        return segmenter

    def language_treebank(self, language: str, text: TextState) -> str | None:
        """Of a language's treebanks, the one a text read so far (`text_treebank_from`'s state)
        is likeliest under; None where its sentences in that language gave none a score."""
        if self.lexicon is None:
            return None
        scored = [t for t in self.lexicon.by_language.get(language, []) if t in text.likelihood]
        return max(scored, key=text.likelihood.__getitem__) if scored else None

    def text_treebank(self, sentences: list[list[str]], text: TextState | None = None) -> str | None:
        """The treebank the word lexicon takes a text for after these sentences (as `predict`
        hints the network with: that of the last sentence with a language); None before
        HINT_AFTER_WORDS words, or with no lexicon. text: the sentences continue a text guessed
        before (its state, updated). The language identifier is not asked for sentences with no
        cue word (it took 3.3 of 4 s guessing over the 22 dev files' text)."""
        return self.text_treebank_from(sentences, text)[0]

    def text_treebank_from(self, sentences: list[list[str]], text: TextState | None = None) -> tuple[str | None, int]:
        """(`text_treebank`, i): sentences[i:] are each read as that treebank or as none, where
        the text turned to it (a new document) if it did among these."""
        if self.lexicon is None:
            return None, 0
        text = TextState() if text is None else text
        keys = [key for key, _ in self.lexicon.sentence_treebanks(sentences, text=text)]
        treebank = next((key for key in reversed(keys) if key is not None), None)
        if text.words < HINT_AFTER_WORDS or treebank is None:
            return None, 0
        first = len(keys)
        while first > 0 and keys[first - 1] in (treebank, None):
            first -= 1
        return treebank, first

    def tag_text(self, text: str, x_second_best: bool = False, treebank: str | None = None) -> list[dict]:
        """Raw text -> [{"text", "tokens": [{"form", "start", "end", "space_after", "words":
        [{"form", "upos", "feats"}]}]}] per sentence; start/end index `text`."""
        from .raw import tag_text  # noqa: PLC0415

        if not isinstance(text, str):
            raise TypeError("tag_text() takes a string of raw text")
        return tag_text(self, self.segmenter, text, x_second_best, treebank)

    def __call__(self, text_or_sentences, x_second_best: bool = False, treebank: str | None = None):
        """tagger("raw text") is tag_text; tagger([["Das", "ist", "gut", "."]]) is tag."""
        if isinstance(text_or_sentences, str):
            return self.tag_text(text_or_sentences, x_second_best, treebank)
        return self.tag(text_or_sentences, x_second_best, treebank)

    # -- conveniences --
    def tag(self, sentences: list[list[str]], x_second_best: bool = False,
            treebank: str | None = None) -> list[list[dict]]:
        """[["Das", "ist", "gut", "."]] -> [[{"form": "Das", "upos": "PRON", "feats": "..."}...]]
        treebank: tag as that treebank annotates (a model with treebank hints)."""
        if isinstance(sentences, (str, bytes)) or (sentences and isinstance(sentences[0], str)):
            raise TypeError("tag() takes a list of sentences, each a list of words")
        check_sentences(sentences)
        self._check_coverage(sentences, "polytag: tag()", final=False)
        upos, feats = self.predict([list(s) for s in sentences], x_second_best, treebank=treebank)
        return [
            [{"form": w, "upos": u, "feats": f} for w, u, f in zip(words, us, fs)]
            for words, us, fs in zip(sentences, upos, feats)
        ]

    def _check_coverage(self, sentences, source: str, final: bool) -> None:
        """Warn once (CoverageWarning) if the text is in a language the model was not trained on:
        on the first chunk of a stream; over tag() calls, once 200 letters have been seen."""
        check = getattr(self, "_coverage", None)
        if check is None:
            check = self._coverage = CoverageCheck(getattr(self, "languages", None), source)
        if check.done:
            return
        with self._lock:
            check.feed(sentences)
            if final or check.chars >= 200:
                check.finish()

    def _tag_pending(self, pending: list[Sentence], x_second_best: bool, treebank: str | None = None,
                     text: TextState | None = None):
        """(sentence, upos, feats); (sentence, None, None) for one that cannot be tagged
        (read with on_error skip)."""
        taggable = [s for s in pending if s.taggable]
        guessing = (self.treebank if treebank is None else treebank) is None  # (given: no guess to inform)
        upos, feats = self.predict([s.words for s in taggable], x_second_best, treebank=treebank, text=text,
                                   glued=self._glued(taggable) if guessing else None)
        tagged = iter(zip(upos, feats))
        for sentence in pending:
            yield (sentence, *next(tagged)) if sentence.taggable else (sentence, None, None)

    def _glued(self, sentences: list[Sentence]) -> list[list[int]] | None:
        """Per sentence, its words the word lexicon must not take for cue words where they are
        written glued to the word before (raw text, CoNLL-U's SpaceAfter=No): Polish 'kupił' +
        'em' is not Portuguese 'em'."""
        blanked = getattr(self.lexicon, "glued_cues", ())  # (none: no lexicon, or one from before)
        if not blanked:
            return None
        return [[i for i, form in glued_tokens(s) if form in blanked] if any(w.lower() in blanked for w in s.words)
                else [] for s in sentences]  # fmt: skip

    def tag_stream(
        self, sentences: Iterable[Sentence], x_second_best: bool = False, chunk_sentences: int = 2048,
        on_progress: Callable[[int], None] | None = None, treebank: str | None = None,
    ) -> Iterator[tuple[Sentence, list[str], list[str]]]:
        """Tag a stream in chunks, as one text: the guess of its treebank goes on from chunk to
        chunk. If the input raises part-way (bad line), every sentence read before the bad one
        is tagged and yielded first, then the error propagates."""
        iterator = iter(sentences)
        text = TextState()
        size = min(chunk_sentences, FIRST_CHUNK_SENTENCES)  # then doubling up to chunk_sentences
        while True:
            pending: list[Sentence] = []
            done, error = False, None
            try:
                while len(pending) < size:
                    pending.append(next(iterator))
            except StopIteration:
                done = True
            except Exception as err:  # noqa: BLE001 - re-raised below, after flushing
                done, error = True, err
            if pending:
                self._check_coverage([s.words for s in pending if s.taggable], pending[0].source, final=True)
                yield from self._tag_pending(pending, x_second_best, treebank, text)
                if on_progress:
                    on_progress(len(pending))
            if error is not None:
                raise error
            if done:
                return
            size = min(chunk_sentences, 2 * size)

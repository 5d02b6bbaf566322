"""Is the input in a language the model was trained on? A language identifier (py3langid: 97
languages, offline, numpy only) reads a sample of the text, and if most of its probability goes
to languages the model never saw, the user is told once, by a `CoverageWarning` (the CLI prints
it as one line on stderr). Tags of such text are guesses: the model has no way to say so itself.
"""

from __future__ import annotations

import io
import os
import unicodedata
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_CHARS = 10_000  # text read before the verdict; later text is not checked again
MIN_LETTERS = 20  # a sentence with fewer letters is not identified: the guess would be noise
MIN_SENTENCE_LETTERS = 4  # sentence_language: fewer letters than this are not identified at all
MIN_SAMPLE_LETTERS = 200  # less text than this in all is not judged (short texts mislead the identifier)
# languages a covered one stands for: the identifier tells them apart worse than their treebanks do
RELATED = {"en": {"pcm"}, "hr": {"sr", "bs"}, "sr": {"hr", "bs"}, "no": {"nn", "nb", "da"}, "da": {"no", "nn"},
           "id": {"ms"}, "zh": {"yue", "wuu"}, "he": {"hbo"}, "el": {"grc"}, "fa": {"tg"}}
NOT_LANGUAGE = {"zxx"}  # numbers, symbols, code


class CoverageWarning(UserWarning):
    """The text looks like a language the model was not trained on."""


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier  # noqa: PLC0415 - only when needed

    packed = Path(MODEL_FILE) if Path(MODEL_FILE).is_absolute() else MODEL_DIR / MODEL_FILE
    arrays = _unpacked_model(packed)
    if arrays is None:  # no cache to be had: decompress as py3langid does (0.5 s more)
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # as py3langid's loader builds it from the same arrays (its stdlib arrays for the tokenizer)
    from py3langid.modelio import _to_array  # noqa: PLC0415

    return LanguageIdentifier(np.asarray(arrays["ptc"]), np.asarray(arrays["pc"]), arrays["classes"].tolist(),
                              _to_array(arrays["nextmove"]), arrays["out_feat"].tolist(), norm_probs=True,
                              tk_row=_to_array(arrays["nextmove_row"]))


MODEL_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")


def cache_folder() -> Path:
    """Where polytag keeps what it can rebuild: $POLYTAG_CACHE, else $XDG_CACHE_HOME/polytag, else ~/.cache/polytag."""
    if os.environ.get("POLYTAG_CACHE"):
        return Path(os.environ["POLYTAG_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polytag"


def _unpacked_model(packed: Path) -> dict | None:
    """The identifier's arrays from plain .npy files in the cache (made from its xz-compressed model
    on first use, 68 MB; read back memory-mapped in a few ms where decompressing takes 0.5 s of
    every short command's start); None where the cache cannot be written or read."""
    try:
        stamp = f"{packed.stat().st_size}-{packed.stat().st_mtime_ns}"
        folder = cache_folder() / f"py3langid-{stamp}"
        if not folder.is_dir():
            import lzma  # noqa: PLC0415
            import shutil  # noqa: PLC0415
            import tempfile  # noqa: PLC0415

            folder.parent.mkdir(parents=True, exist_ok=True)
            # written apart, then renamed into place whole: another process (tag-corpus workers)
            # never sees a half-written folder, and files in place are never rewritten
            staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
            with lzma.open(packed) as f, np.load(io.BytesIO(f.read()), allow_pickle=False) as data:
                for name in MODEL_ARRAYS:
                    np.save(staging / f"{name}.npy", data[name])
            try:
                staging.rename(folder)
            except OSError:  # another process put it there first
                shutil.rmtree(staging, ignore_errors=True)
        return {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in MODEL_ARRAYS}
    except (OSError, ValueError, KeyError):
        return None


def _judged_letters(sentences: list[str]) -> list[int]:
    """Letters of each sentence long enough to identify (0 for the others); vowel signs count."""
    letters = [sum(ch.isalpha() or unicodedata.category(ch)[0] == "M" for ch in text) for text in sentences]
    return [n if n >= MIN_LETTERS else 0 for n in letters]


def covered_codes(languages: list[str]) -> set[str] | None:
    """The identifier's codes that count as covered; None when it knows none of the model's
    languages (then it cannot judge, and nothing is checked)."""
    if not set(languages) & set(_identifier().nb_classes):
        return None
    codes = set(languages) | NOT_LANGUAGE
    for code in languages:
        codes |= RELATED.get(code, set())
    return codes


def uncovered_language(sentences: list[str], covered: set[str]) -> tuple[str, float] | None:
    """(language, share of the letters) when most of the text is in languages outside `covered`.
    Each sentence is identified on its own, so a file mixing covered languages is not mistaken
    for one the identifier would guess from the mixture."""
    outside: dict[str, int] = {}
    total = 0
    for text, letters in zip(sentences, _judged_letters(sentences)):
        if not letters:
            continue  # too short to identify
        total += letters
        ranked = _identifier().rank(text)
        if sum(p for lang, p in ranked if lang in covered) < 0.5:
            top = next(lang for lang, _ in ranked if lang not in covered)
            outside[top] = outside.get(top, 0) + letters
    if total < MIN_SAMPLE_LETTERS or sum(outside.values()) < 0.5 * total:
        return None
    lang = max(outside, key=outside.get)
    return lang, sum(outside.values()) / total


class CoverageCheck:
    """Reads sentences until it has a sample, then warns once if it is not a covered language."""

    def __init__(self, languages: list[str] | None, source: str = "the input"):
        self.languages = languages
        self.covered: set[str] | None = None
        self.source = source
        self.sample: list[str] = []
        self.chars = 0
        self.verdict: tuple[str, float] | None = None
        self.done = not languages  # a model that does not list its languages is not checked

    def feed(self, sentences) -> None:
        if self.done:
            return
        for words in sentences:
            text = " ".join(words)
            self.sample.append(text)
            self.chars += len(text) + 1
            if self.chars >= SAMPLE_CHARS:
                break
        if self.chars >= SAMPLE_CHARS:
            self.finish()

    def finish(self) -> None:
        """Decide on what was read (at the end of a stream, or once the sample is full)."""
        if self.done:
            return
        self.done = True
        if sum(_judged_letters(self.sample)) < MIN_SAMPLE_LETTERS:
            self.sample = []  # too little text to judge: no need to load the identifier at all
            return
        self.covered = covered_codes(self.languages)
        self.verdict = uncovered_language(self.sample, self.covered) if self.covered else None
        self.sample = []
        if self.verdict:
            lang, share = self.verdict
            warnings.warn(f"{self.source}: {share:.0%} of the text looks like languages this model was not trained "
                          f"on (mostly '{lang}'; `polytag languages` lists those it was); their tags are guesses",
                          CoverageWarning, stacklevel=3)


def sentence_language(words: list[str], languages: frozenset[str]) -> str | None:
    """The language of one sentence by the identifier, when its best guess is one of `languages`
    (those a word lexicon has); else None. Short sentences are guessed badly ("Мама мыла раму ."
    comes out Belarusian), so this only stands in where nothing better is known."""
    text = " ".join(words)
    if sum(ch.isalpha() for ch in text) < MIN_SENTENCE_LETTERS:
        return None
    language = _identifier().rank(text)[0][0]
    return language if language in languages else None

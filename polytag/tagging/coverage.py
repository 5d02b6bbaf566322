"""Is the input in a language the model was trained on? A language identifier (py3langid: 97
languages, offline, numpy only) reads a sample of the text, and if most of its probability goes
to languages the model never saw, the user is told once, by a `CoverageWarning` (the CLI prints
it as one line on stderr). Tags of such text are guesses: the model has no way to say so itself.
"""

from __future__ import annotations

import unicodedata
import warnings
from functools import lru_cache

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
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # noqa: PLC0415 - 0.5 s: only when tagging

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


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
    for text in sentences:
        letters = sum(ch.isalpha() or unicodedata.category(ch)[0] == "M" for ch in text)  # vowel signs count
        if letters < MIN_LETTERS:
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

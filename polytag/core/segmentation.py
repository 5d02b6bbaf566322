"""Raw-text segmentation, the torch-free half: gold data, features, MWT lexicon, decoding.

One character-level model labels every character of raw text (see the label constants);
this module turns gold CoNLL-U into such labels for training, turns characters into the
integer features the network reads (shared by training and serving, so both hash alike), and
turns predicted labels back into sentences -> tokens (with offsets into the input) -> words.
Nothing here needs torch or onnxruntime: the network is passed in as a `predict` callable.
"""

from __future__ import annotations

import gzip
import json
import lzma
import math
import re
import unicodedata
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from polytag.core.conllu_io import open_text, read_bytes, write_text
from polytag.core.emoji import emoji_runs, is_emoji_word
from polytag.core.errors import InputError, where
from polytag.core.folder import NO_HINT, hint_rows
from polytag.core.word_lexicon import (cue_words, glued_cues, is_punctuation, language_cues, language_of,
                                      leading_language, sentence_language)

# Per-character labels. A boundary label sits on the LAST character of a token.
CONTINUE = 0  # no boundary after this character (or: a whitespace separator)
TOKEN_END = 1
SENTENCE_END = 2  # token ends and so does the sentence
MWT_END = 3  # token ends and is a multiword token
MWT_SENTENCE_END = 4
JOIN_SPACE = 5  # only on whitespace: the space is inside a token (e.g. Vietnamese)
N_CLASSES = 6

_ENDS = np.array([False, True, True, True, True, False])
_SENT_ENDS = np.array([False, False, True, False, True, False])
_MWT_ENDS = np.array([False, False, False, True, True, False])


@dataclass(slots=True)
class RawToken:
    """A token of the input: `form == text[start:end]` for the text it came from."""

    form: str
    start: int
    end: int
    space_after: bool
    words: list[str]


@dataclass(slots=True)
class RawSentence:
    """A sentence: its text (input[start:end]) and its tokens."""

    text: str
    start: int
    end: int
    tokens: list[RawToken]


@dataclass
class SegmenterConfig:
    """Everything needed to featurise, window and run a segmenter; saved as segmenter.json."""

    n_buckets: int = 12288  # hashed code-point embeddings (no vocabulary file)
    char_dim: int = 32
    cat_dim: int = 8
    channels: int = 64
    first_kernel: int = 5
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16)
    dropout: float = 0.1
    context: int = 40  # window margin on each side; must cover the receptive field
    core: int = 984  # characters labelled per window (wide: less margin overhead)
    batch_windows: int = 32  # windows per network call
    max_token_chars: int = 500  # longer "tokens" are cut (bounded memory on junk input)
    max_sentence_chars: int = 5000  # longer sentences are cut at a token boundary
    # treebank ids of an optional convention hint (a learned vector added after the first
    # convolution; id i is row i + 1, row 0 is "no hint" and is the plain network); empty: no hint
    treebank_hints: list[str] = field(default_factory=list)

    def hint_row(self, treebank: str | None) -> int:
        """The hint row of `treebank` (the tagger's numbering, core.folder.hint_rows): NO_HINT for
        None or an id this segmenter was not trained with, so a tagger's hint never stops the
        segmenter (the tagger checks its own ids)."""
        return hint_rows(self.treebank_hints).get(treebank, NO_HINT)

    @property
    def receptive_radius(self) -> int:
        return self.first_kernel // 2 + sum(d * (self.kernel // 2) for d in self.dilations)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> SegmenterConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise InputError(f"{path}: unknown segmenter option(s) {sorted(unknown)}")
        if "dilations" in raw:
            raw["dilations"] = tuple(raw["dilations"])
        return cls(**raw)


# ----------------------------------------------------------------------------- features

_CATEGORIES = [
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
    "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
]  # fmt: skip
_CAT_INDEX = {c: i + 1 for i, c in enumerate(_CATEGORIES)}  # 0 = padding
NEWLINE_CAT = len(_CATEGORIES) + 1
N_CATS = NEWLINE_CAT + 1
_NEWLINES = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_SPACE_CP = 32


def _category_id(ch: str) -> int:
    if ch in _NEWLINES:
        return NEWLINE_CAT
    if ch.isspace():
        return _CAT_INDEX["Zs"]
    return _CAT_INDEX[unicodedata.category(ch)]


def _lower_cp(ch: str) -> int:
    if ch.isspace():
        return _SPACE_CP  # all whitespace looks alike to the network
    low = ch.lower()
    return ord(low) if len(low) == 1 else ord(ch)


@lru_cache(maxsize=1)
def _bmp_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lowercased code point, category id and is-space for every BMP code point."""
    chars = [chr(cp) for cp in range(0x10000)]
    lower = np.fromiter((_lower_cp(c) for c in chars), dtype=np.int64, count=0x10000)
    cats = np.fromiter((_category_id(c) for c in chars), dtype=np.int64, count=0x10000)
    space = np.fromiter((c.isspace() for c in chars), dtype=bool, count=0x10000)
    return lower, cats, space


def code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


def featurize(text: str, n_buckets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(char_ids, cat_ids, is_space) for each character; ids 0 are reserved for padding.

    Code points below n_buckets/2 keep their own id (all alphabetic scripts but CJK/Hangul);
    the rest are hashed into the upper half.
    """
    lower_t, cat_t, space_t = _bmp_tables()
    cps = code_points(text)
    astral = cps >= 0x10000
    bmp = np.where(astral, 0, cps)
    lower, cats, space = lower_t[bmp], cat_t[bmp], space_t[bmp]
    if astral.any():  # emoji, rare CJK: per character, outside the tables
        for i in np.flatnonzero(astral):
            ch = text[i]
            lower[i], cats[i], space[i] = _lower_cp(ch), _category_id(ch), ch.isspace()
    direct = n_buckets // 2
    hashed = direct + 1 + (lower * 2654435761 % 4294967296) % (n_buckets - direct - 1)
    char_ids = np.where(lower < direct, lower + 1, hashed)
    return char_ids, cats, space


CAPITAL_CATS = (_CAT_INDEX["Lu"], _CAT_INDEX["Lt"])
LOWERCASE_CAT = _CAT_INDEX["Ll"]
_OTHER_LETTER_CATS = (_CAT_INDEX["Lm"], _CAT_INDEX["Lo"])
CAPITALS_REACH = 32  # a capital is read as lowercase where, this many characters either side, ...
CAPITALS_SHARE = 0.8  # ... this share of the cased letters are capitals ...
CAPITALS_MIN = 8  # ... and at least this many


def fold_capital_windows(cat_ids: np.ndarray) -> np.ndarray:
    """Windows [n, width] of category ids, in place: the capitals of a word written in capitals
    in a stretch of text written in capitals (a headline, a shouted post) are marked lowercase.
    Training text has little in capitals, and the network takes each capital for a sentence
    start (dev text in capitals: Sentences 62 against 87 as written). A stretch: the letters up
    to CAPITALS_REACH before, or after, or on both sides are CAPITALS_SHARE capitals and
    CAPITALS_MIN or more; so "The" after a headline keeps its capital. Windows sit at fixed
    offsets of the text, so this does not depend on how the text was chunked."""
    capital = np.isin(cat_ids, CAPITAL_CATS)
    if not capital.any():
        return cat_ids
    lower = cat_ids == LOWERCASE_CAT
    n, width = cat_ids.shape
    # words: runs of letters; a word with a lowercase letter is not written in capitals
    letter = (capital | lower | np.isin(cat_ids, _OTHER_LETTER_CATS)).ravel()
    begins = letter.copy()
    begins[1:] &= ~letter[:-1]
    begins[::width] = letter[::width]  # a window's first character starts a word
    run = np.cumsum(begins) * letter
    lower_in_run = np.bincount(run, weights=lower.ravel())
    in_capitals_word = (capital.ravel() & (lower_in_run[run] == 0)).reshape(n, width)
    # capitals and cased letters up to CAPITALS_REACH before, after, and both
    cased = capital | lower
    totals = []
    for flags in (capital, cased):
        total = np.zeros((n, width + 1), np.int32)
        np.cumsum(flags, axis=1, out=total[:, 1:])
        totals.append(total)
    idx = np.arange(width)
    lo, hi = np.maximum(idx - CAPITALS_REACH, 0), np.minimum(idx + CAPITALS_REACH + 1, width)
    shouting = np.zeros((n, width), bool)
    for a, b in ((lo, idx + 1), (idx, hi), (lo, hi)):
        caps, letters = totals[0][:, b] - totals[0][:, a], totals[1][:, b] - totals[1][:, a]
        shouting |= (caps >= CAPITALS_MIN) & (caps >= CAPITALS_SHARE * letters)
    cat_ids[in_capitals_word & shouting] = LOWERCASE_CAT
    return cat_ids


def is_space(text: str) -> np.ndarray:
    cps = code_points(text)
    space = _bmp_tables()[2][np.where(cps >= 0x10000, 0, cps)]
    return space & (cps < 0x10000)  # no astral code point is whitespace


# ----------------------------------------------------------------------------- gold data


@dataclass
class GoldToken:
    form: str
    space_after: bool
    words: list[str]


@dataclass
class GoldSentence:
    text: str
    tokens: list[GoldToken]
    new_par: bool  # a # newpar or # newdoc precedes it


@dataclass
class GoldParagraph:
    """Raw text of a paragraph and the gold label of each of its characters."""

    text: str
    labels: np.ndarray  # uint8, len(text)


def read_gold_sentences(path: str | Path) -> list[GoldSentence]:
    """A plain, .gz or .xz CoNLL-U file's sentences; a file that is not UTF-8 or does not
    decompress is one InputError naming it."""
    try:
        with open_text(path) as stream:
            return list(parse_gold_sentences(stream, str(path)))
    except (UnicodeDecodeError, lzma.LZMAError, gzip.BadGzipFile, EOFError) as err:
        raise InputError(f"{path}: cannot read ({err})") from None


def parse_gold_sentences(stream: Iterable[str], source: str) -> Iterator[GoldSentence]:
    """Sentences of a CoNLL-U stream with their text, tokens (MWT words) and paragraph marks."""
    text, new_par, tokens, mwt_until = None, False, [], 0
    for line_no, line in enumerate(stream, 1):
        line = line.rstrip("\r\n")
        if not line:
            if tokens:
                yield _finish_sentence(text, tokens, new_par)
            text, new_par, tokens, mwt_until = None, False, [], 0
        elif line.startswith("#"):
            if line.startswith(("# newpar", "# newdoc")):
                new_par = True
            elif line.startswith("# text = "):
                text = line[len("# text = "):]
        else:
            cols = line.split("\t")
            if len(cols) != 10:
                raise InputError(f"{where(source, line_no)}: expected 10 columns, got {len(cols)}")
            mwt_until = _add_gold_line(cols, tokens, mwt_until)
    if tokens:
        yield _finish_sentence(text, tokens, new_par)


def _add_gold_line(cols: list[str], tokens: list[GoldToken], mwt_until: int) -> int:
    ident, form, misc = cols[0], cols[1], cols[9]
    space_after = "SpaceAfter=No" not in misc.split("|")
    if "-" in ident:
        tokens.append(GoldToken(form, space_after, []))
        return int(ident.split("-")[1])
    if "." in ident:
        return mwt_until  # empty node: no surface
    if int(ident) <= mwt_until:
        tokens[-1].words.append(form)
    else:
        tokens.append(GoldToken(form, space_after, [form]))
    return mwt_until


def _finish_sentence(text: str | None, tokens: list[GoldToken], new_par: bool) -> GoldSentence:
    if text is None:
        text = "".join(t.form + (" " if t.space_after else "") for t in tokens).rstrip()
    return GoldSentence(text, tokens, new_par)


def raw_paragraphs(sentences: list[GoldSentence]) -> list[list[GoldSentence]]:
    paragraphs: list[list[GoldSentence]] = []
    for sentence in sentences:
        if sentence.new_par or not paragraphs:
            paragraphs.append([])
        paragraphs[-1].append(sentence)
    return paragraphs


def _separator(sentence: GoldSentence) -> str:
    return " " if sentence.tokens[-1].space_after else ""


def raw_text(sentences: list[GoldSentence]) -> str:
    """The raw text of a gold file as the CoNLL 2018 task gave it to systems."""
    paragraphs = raw_paragraphs(sentences)
    parts = ["".join(s.text + _separator(s) for s in p[:-1]) + p[-1].text for p in paragraphs]
    return "\n\n".join(parts) + "\n"


def gold_paragraphs(sentences: list[GoldSentence]) -> list[GoldParagraph]:
    """Each paragraph's raw text (as in `raw_text`) with per-character gold labels."""
    result = []
    for paragraph in raw_paragraphs(sentences):
        texts, labels = [], []
        for i, sentence in enumerate(paragraph):
            text, sent_labels = sentence_labels(sentence)
            sep = _separator(sentence) if i + 1 < len(paragraph) else ""
            texts.append(text + sep)
            labels.append(sent_labels)
            labels.append(np.zeros(len(sep), np.uint8))
        result.append(GoldParagraph("".join(texts), np.concatenate(labels)))
    return result


def sentence_labels(sentence: GoldSentence) -> tuple[str, np.ndarray]:
    """Align the tokens to the sentence text; fall back to text rebuilt from the tokens."""
    labels = _align(sentence.text, sentence.tokens)
    if labels is not None:
        return sentence.text, labels
    text = "".join(t.form + (" " if t.space_after else "") for t in sentence.tokens).rstrip()
    labels = _align(text, sentence.tokens)
    assert labels is not None, text
    return text, labels


def _align(text: str, tokens: list[GoldToken]) -> np.ndarray | None:
    labels = np.zeros(len(text), np.uint8)
    pos, last = 0, len(tokens) - 1
    for k, token in enumerate(tokens):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        chars = [c for c in token.form if not c.isspace()]
        for j, ch in enumerate(chars):
            while j and pos < len(text) and text[pos].isspace():
                labels[pos] = JOIN_SPACE  # a space inside the token
                pos += 1
            if pos >= len(text) or text[pos] != ch:
                return None
            pos += 1
        if not chars:
            return None
        mwt = len(token.words) > 1
        labels[pos - 1] = (MWT_SENTENCE_END if mwt else SENTENCE_END) if k == last else (
            MWT_END if mwt else TOKEN_END
        )
    return labels if text[pos:].strip() == "" else None


def mwt_pairs(sentences: Iterable[GoldSentence]) -> Iterator[tuple[str, list[str]]]:
    for sentence in sentences:
        for token in sentence.tokens:
            if len(token.words) > 1:
                yield token.form, token.words


# ----------------------------------------------------------------------------- MWT lexicon


def _restore_case(surface: str, words: list[str]) -> list[str]:
    if len(surface) > 1 and surface.isupper():
        return [w.upper() for w in words]
    if surface[:1].isupper() and words and words[0]:
        return [words[0][:1].upper() + words[0][1:]] + words[1:]
    return list(words)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _affix_rules(low: str, words: tuple[str, ...]):
    """The suffix and prefix rule one MWT attests, or None for each.

    Suffix rule: the surface's ending `cut` becomes `stem_end` + trailing words
    (Tamil 'நாடுகளும்' = 'நாடுகள்' + 'உம்': cut 'ும்', stem_end '்'; Turkish 'yoktu' = 'yok' 'tu').
    Prefix rule: the surface's beginning `cut` becomes leading words + `stem_start`
    (Hebrew 'בבית' = 'ב' 'ה' 'בית').
    """
    k = _common_prefix(low, words[0])
    suffix = (low[k:], (words[0][k:], words[1:])) if 0 < k < len(low) else None
    j = _common_prefix(low[::-1], words[-1][::-1])
    prefix = (low[: len(low) - j], (words[:-1], words[-1][: len(words[-1]) - j]))
    return suffix, prefix if 0 < j < len(low) else None


BLANK_FORM = "_"  # a syntactic word a treebank gives no form
BLANK_ENDING = 3  # characters of a surface's ending that blank rules look at


MWT_FILE = "mwt.json"


def mwt_path(folder: str | Path) -> Path:
    """A segmenter folder's multiword lexicon: mwt.json, or mwt.json.xz where only that is there."""
    plain, packed = Path(folder) / MWT_FILE, Path(folder) / (MWT_FILE + ".xz")
    return packed if packed.exists() and not plain.exists() else plain


def _decide(counts: list[int] | None, predicted: bool | None) -> bool | None:
    """[times a multiword token, times a token] -> split or not: sure either way at
    MwtLexicon.SURE, else the network's prediction (None: undecided, to compare decisions)."""
    if not counts:
        return predicted
    rate = counts[0] / counts[1]
    return True if rate >= MwtLexicon.SURE else False if rate <= 1 - MwtLexicon.SURE else predicted


def _language_counts(analyses, word_counts: dict[str, Counter], pooled: dict[str, list[int]]):
    """surface -> {language: [multiword, tokens]} for the surfaces some language of which
    decides otherwise than the pooled counts (`is_mwt`)."""
    out = {}
    for low, per_language in analyses.items():
        languages = {lang for lang, counts in word_counts.items() if counts[low]} | set(per_language)
        table = {}
        for lang in sorted(languages):
            mwt = sum(per_language.get(lang, Counter()).values())
            table[lang] = [mwt, max(word_counts.get(lang, Counter())[low], mwt)]
        if any(_decide(c, None) != _decide(pooled.get(low), None) for c in table.values()):
            out[low] = table
    return out


_WORD = re.compile(r"\w+")  # a run of word characters


@dataclass
class MwtLexicon:
    """Expands multiword tokens: a learned dictionary, then affix rules for unseen tokens.

    One lexicon for all languages: where languages analyse a surface differently (Spanish
    'del' = 'de el', Italian 'del' = 'di il') `by_language` keeps each, and an `MwtExpander`
    picks by the language its `cues` (frequent words typical of one language) point to, or,
    where they point to none or to two alike, a language identifier's (the tagger's).
    """

    entries: dict[str, list[str]] = field(default_factory=dict)
    by_language: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # cut -> [stem_end, words, types] / [words, stem_start, types]; types: surfaces attesting it
    suffixes: dict[str, list] = field(default_factory=dict)
    prefixes: dict[str, list] = field(default_factory=dict)
    cues: dict[str, str] = field(default_factory=dict)  # word -> language
    # "a b" (two word-character runs, lowercased) -> [times one token, times seen]: spaces inside
    # tokens (Vietnamese 'hàng xóm', French '100 000'), decided from the train splits where seen
    joins: dict[str, list[int]] = field(default_factory=dict)
    # surface -> [times a multiword token, times a token] in the train splits (all languages)
    counts: dict[str, list[int]] = field(default_factory=dict)
    # surface -> {language: [times a multiword token, times a token]} where a language's own
    # counts decide otherwise than all languages' together (German 'am' = 'an dem', English 'am')
    language_counts: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    # surface ending -> [words, types]: multiword tokens whose words a treebank writes as "_"
    # (Marathi UFAL: 'तुकड्याचे' = '_' '_'), for unseen tokens of that kind that no affix rule fits
    blanks: dict[str, list[int]] = field(default_factory=dict)
    # token -> count: tokens that begin or end with a hyphen next to a word character (French
    # '-il', '-t-il'), the only half-split hyphens kept (`apply_hyphen_pieces`)
    hyphen_pieces: dict[str, int] = field(default_factory=dict)
    # treebank -> [hyphens between two letters kept inside a token, split off on both sides, left
    # parts for which the treebank does the opposite of its usual]: en_ewt splits 'al-Qaeda' but
    # not 'e-mail', en_gum splits none, tr_imst all (`learn_hyphen_conventions`)
    hyphens: dict[str, list] = field(default_factory=dict)
    # script -> [adjacent letter pairs, token ends between them inside a sentence] in the train
    # splits: scripts never cut so are not cut while segmenting (`join_unsplit_scripts`)
    script_splits: dict[str, list[int]] = field(default_factory=dict)
    # title (lowercased, with its period) -> [times it ends a sentence, times seen, times a
    # capitalised word follows] in the train splits ('dr.', 'mrs.', 'prof.'): no sentence ends
    # after one (`keep_abbreviations`)
    abbreviations: dict[str, list[int]] = field(default_factory=dict)
    # language -> {"suffixes", "prefixes", "blanks"}: the affix rules of its own multiword tokens,
    # used for a text in that language (`expand`)
    language_rules: dict[str, dict[str, dict[str, list]]] = field(default_factory=dict)
    # cue word -> its language, for those another language writes glued to the token before: not
    # counted where so written (`word_lexicon.glued_cues`)
    glued_cues: dict[str, str] = field(default_factory=dict)
    # treebank -> [threshold, {feature: weight}]: sentence ends from the words around a token end,
    # for a treebank whose sentences have no final punctuation to go by (`SentenceWords`)
    sentence_words: dict[str, list] = field(default_factory=dict)
    # treebank -> punctuation marks other than . ! ? that end nearly all its train sentences they
    # are in: the partut treebanks' ':' and ';', el_gdt's '·' (`learn_sentence_marks`, `end_at_marks`)
    sentence_marks: dict[str, list[str]] = field(default_factory=dict)

    SURE = 0.9  # a surface that is an MWT this often (or 1 - this rarely) overrides the network

    @classmethod
    def learn(
        cls,
        pairs: Iterable[tuple[str, list[str], str]],
        word_counts: dict[str, Counter] | None = None,
        min_rule_types: int = 3,
        glued: dict[str, Counter] | None = None,
    ) -> MwtLexicon:
        """From (surface, words, language) MWTs and per-language token counts (for cues; glued:
        the forms each language writes glued to the token before, `word_lexicon.glued_cues`)."""
        analyses: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        surfaces: dict[str, set] = defaultdict(set)  # language -> (surface, words) it has
        for surface, words, language in pairs:
            low, lows = surface.lower(), tuple(w.lower() for w in words)
            analyses[low][language][lows] += 1
            surfaces[language].add((low, lows))
        pooled = _affix_tables(set().union(*surfaces.values()), min_rule_types)
        lexicon = cls(suffixes=pooled["suffixes"], prefixes=pooled["prefixes"], blanks=pooled["blanks"],
                      cues=language_cues(word_counts or {}))  # fmt: skip
        lexicon.glued_cues = glued_cues(lexicon.cues, glued or {})
        lexicon.language_rules = {language: _affix_tables(own, min_rule_types)
                                  for language, own in sorted(surfaces.items())}  # fmt: skip
        tokens: Counter = sum((word_counts or {}).values(), Counter())
        for low, per_language in analyses.items():
            total = sum(per_language.values(), Counter())
            lexicon.entries[low] = list(total.most_common(1)[0][0])
            if tokens[low]:
                lexicon.counts[low] = [sum(total.values()), max(tokens[low], sum(total.values()))]
            choices = {lang: list(c.most_common(1)[0][0]) for lang, c in per_language.items()}
            if len({tuple(w) for w in choices.values()}) > 1:
                lexicon.by_language[low] = choices
        lexicon.language_counts = _language_counts(analyses, word_counts or {}, lexicon.counts)
        return lexicon

    def cue_counts(self, words: Iterable[str]) -> Counter:
        """language -> how many of `words` (any case) are its cue words."""
        return Counter(filter(None, map(self.cues.get, map(str.lower, words))))

    def text_cue_counts(self, text: str) -> Counter:
        """`cue_counts` of the runs of word characters of a stretch of text."""
        return self.cue_counts(_WORD.findall(text))

    def is_mwt(self, surface: str, predicted: bool, language: str | None = None) -> bool:
        """The network's decision, unless the train splits nearly always (or nearly never)
        split this surface: memorised tokens (Turkish 'yoktu') are kept. language: the text's,
        where known: that language's train splits decide where they differ from all together
        (a language that never has the surface leaves it to the network)."""
        low = surface.lower()
        per_language = self.language_counts.get(low)
        if per_language is not None and language is not None:
            return _decide(per_language.get(language), predicted)
        return _decide(self.counts.get(low), predicted)

    def expand(self, surface: str, language: str | None = None) -> list[str]:
        """The syntactic words of a token predicted to be a multiword token. A surface the train
        splits have gets its analysis there; another one the best-attested affix rule of
        `language` (all languages' where it is not known, or a lexicon learned before rules were
        kept per language): a Turkish 'duydum' is not cut by the French-Italian rule 'd' = 'de'."""
        low = surface.lower()
        if low in self.entries:
            words = self.by_language.get(low, {}).get(language or "", self.entries[low])
            return _restore_case(surface, words)
        if language is not None and self.language_rules:
            own = self.language_rules.get(language, {})  # a language with no multiword tokens: no rules
            suffixes, prefixes, blanks = own.get("suffixes", {}), own.get("prefixes", {}), own.get("blanks", {})
        else:
            suffixes, prefixes, blanks = self.suffixes, self.prefixes, self.blanks
        best, best_key = None, (0, 0)  # the best-attested matching affix rule
        for n in range(len(low) - 1, 0, -1):
            if low[-n:] in suffixes and (suffixes[low[-n:]][2] * n, n) > best_key:
                stem_end, words, types = suffixes[low[-n:]]
                best = [surface[:-n] + stem_end] + _restore_case(surface[-n:], words)
                best_key = (types * n, n)
            if low[:n] in prefixes and (prefixes[low[:n]][2] * n, n) > best_key:
                words, stem_start, types = prefixes[low[:n]]
                best = _restore_case(surface[:n], words) + [stem_start + surface[n:]]
                best_key = (types * n, n)
        if best is None:  # the longest ending of blank-word tokens (see `blanks`)
            for n in range(min(BLANK_ENDING, len(low) - 1), 0, -1):
                if low[-n:] in blanks:
                    return [BLANK_FORM] * blanks[low[-n:]][0]
        return best or [surface]

    def hyphen_policy(self, treebank: str | None, language: str | None) -> HyphenPolicy | None:
        """How to cut hyphens between letters: as `treebank` does where its train split has
        enough of them; else as every treebank of `language` does alike (>= SURE one way);
        else None (the network decides)."""
        row = self.hyphens.get(treebank or "")
        if row and _hyphens_known(row):
            return HyphenPolicy(row[1] >= row[0], frozenset(row[2]))
        rates = [r[1] / (r[0] + r[1]) for tb, r in self.hyphens.items()
                 if language and language_of(tb) == language and _hyphens_known(r)]  # fmt: skip
        if rates and min(rates) >= self.SURE:
            return HyphenPolicy(True, frozenset())
        if rates and max(rates) <= 1 - self.SURE:
            return HyphenPolicy(False, frozenset())
        return None

    def expander(self, treebank: str | None = None,
                 identify: Callable[[list[str]], str | None] | None = None) -> MwtExpander:
        return MwtExpander(self, treebank, identify)

    def save(self, path: Path) -> None:
        """mwt.json, one line per top-level table, compact inside; xz-compressed where the name
        ends in .xz (the shipped folder's, `compact_segmenter`)."""
        tables = (f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False, separators=(',', ':'))}"
                  for k, v in asdict(self).items())
        write_text(path, "{\n" + ",\n".join(tables) + "\n}\n")

    @classmethod
    def load(cls, path: Path) -> MwtLexicon:
        try:
            raw = json.loads(read_bytes(path))
            optional = {"joins", "counts", "blanks", "hyphen_pieces", "hyphens", "script_splits", "language_counts",
                        "abbreviations", "language_rules", "sentence_words", "glued_cues",
                        "sentence_marks"}  # files before them
            lexicon = cls(**{f.name: dict(raw[f.name] if f.name not in optional else raw.get(f.name, {}))
                             for f in fields(cls)})  # fmt: skip
            tables = [lexicon.suffixes, lexicon.prefixes]
            tables += [own.get(kind, {}) for own in lexicon.language_rules.values() for kind in ("suffixes", "prefixes")]
            for rules in tables:
                for cut, rule in rules.items():
                    if not isinstance(rule, list) or len(rule) not in (2, 3):
                        raise ValueError(f"bad affix rule for {cut!r}")
                    rules[cut] = rule if len(rule) == 3 else rule + [1]  # early files: no count
            for treebank, rule in lexicon.sentence_words.items():
                if not (isinstance(rule, list) and len(rule) == 2 and isinstance(rule[1], dict)):
                    raise ValueError(f"bad sentence-word model for {treebank!r}")
        except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
            raise InputError(f"{path}: not an MWT lexicon ({err})") from None
        return lexicon


_PAIR = re.compile(r"(\w+) (?=(\w+))")  # two runs of word characters around one space


def _space_pairs(text: str) -> Iterator[tuple[int, str, int]]:
    """(position of the space, "a b" lowercased, end of b) for word-character runs a and b
    around a single space (punctuation next to them is not part of the pair)."""
    for match in _PAIR.finditer(text):
        yield match.end(1), f"{match.group(1).lower()} {match.group(2).lower()}", match.end(2)


def learn_joins(paragraphs: list[GoldParagraph], min_joined: int = 1) -> dict[str, list[int]]:
    """Pairs of runs that the gold data joins into one token at least `min_joined` times, each
    with [times joined, times seen adjacent]."""
    joined: Counter = Counter()
    for paragraph in paragraphs:
        if (paragraph.labels == JOIN_SPACE).any():
            for at, key, _ in _space_pairs(paragraph.text):
                if paragraph.labels[at] == JOIN_SPACE:
                    joined[key] += 1
    seen: Counter = Counter()
    for paragraph in paragraphs:
        for _, key, _ in _space_pairs(paragraph.text):
            if key in joined:
                seen[key] += 1
    return {key: [n, seen[key]] for key, n in sorted(joined.items()) if n >= min_joined}


def apply_joins(text: str, labels: np.ndarray, joins: dict[str, list[int]], final: bool) -> np.ndarray:
    """Labels with the space between two runs decided by the join lexicon where it knows the
    pair (joined in at least half of its uses), the network's label elsewhere."""
    if not joins:
        return labels
    labels = labels.copy()
    for at, key, end in _space_pairs(text):
        counts = joins.get(key)
        if counts is None or (end == len(text) and not final):
            continue  # unknown pair, or the second run may still grow
        if 2 * counts[0] >= counts[1]:
            labels[at] = JOIN_SPACE
            if labels[at - 1] == TOKEN_END:
                labels[at - 1] = CONTINUE
        elif labels[at] == JOIN_SPACE:
            labels[at] = CONTINUE
    return labels


UNSPLIT_MIN_PAIRS = 1000  # a script is never cut inside a word if the train splits have this many pairs


_LETTER_KINDS: dict[str, int] = {}  # kind of letter -> id, as met (ids only live in one process)


@lru_cache(maxsize=None)
def _letter_kind(cp: int) -> int:
    """The id of a code point's kind of letter (the first two words of its Unicode name: LATIN
    SMALL, HANGUL SYLLABLE, GREEK CAPITAL...; Korean's middle dot is a HANGUL LETTER); 0 for
    anything but a letter. Looked up per distinct character, not built for all at start-up."""
    ch = chr(cp)
    if not ch.isalpha():
        return 0
    return _LETTER_KINDS.setdefault(" ".join(unicodedata.name(ch, "?").split(" ")[:2]), len(_LETTER_KINDS) + 1)


def _per_character(cps: np.ndarray, lookup: Callable[[int], int | bool], dtype) -> np.ndarray:
    """lookup(code point) for each of `cps`, called once per distinct code point (a cached
    Unicode lookup per character of a long text would be the slow part)."""
    distinct, where = np.unique(cps, return_inverse=True)
    return np.array([lookup(int(cp)) for cp in distinct], dtype)[where.reshape(-1)]


def _letter_scripts(text: str) -> np.ndarray:
    """Each character's kind of letter (`_letter_kind`)."""
    return _per_character(code_points(text), _letter_kind, np.int64)


_INNER_ENDS = _ENDS & ~_SENT_ENDS  # a token ends, the sentence goes on


def _no_end_after(labels: np.ndarray, together: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Labels where character i and i + 1 stay in one token wherever together[i]: a label of
    `ends` (a table over the label ids) after character i becomes CONTINUE. A copy if any changes."""
    cut = together & ends[labels[:-1].astype(np.int64)]
    if not cut.any():
        return labels
    labels = labels.copy()
    labels[:-1][cut] = CONTINUE
    return labels


def learn_script_splits(paragraphs: Iterable[GoldParagraph]) -> dict[str, list[int]]:
    """kind of letter -> [pairs of adjacent letters of that kind, tokens ending between the two
    inside a sentence], over the train splits. Hangul syllables, Greek, Arabic, Hebrew letters...
    are never cut so; Latin (English 'cannot' = 'can not') and Chinese are."""
    pairs: Counter = Counter()
    cuts: Counter = Counter()
    for paragraph in paragraphs:
        scripts = _letter_scripts(paragraph.text)
        same = (scripts[:-1] == scripts[1:]) & (scripts[:-1] > 0)
        pairs.update(dict(zip(*np.unique(scripts[:-1][same], return_counts=True))))
        cut = same & _INNER_ENDS[paragraph.labels[:-1].astype(np.int64)]
        cuts.update(dict(zip(*np.unique(scripts[:-1][cut], return_counts=True))))
    names = {i: name for name, i in _LETTER_KINDS.items()}
    return {names[i]: [int(n), int(cuts[i])] for i, n in sorted(pairs.items())}


def join_unsplit_scripts(text: str, labels: np.ndarray, splits: dict[str, list[int]]) -> np.ndarray:
    """Labels with no token end (inside a sentence) between two letters of a script the train
    splits never cut so (`learn_script_splits`); the network put a few inside long Korean words
    (ko_gsd dev: 12)."""
    never = [name for name, (pairs, cuts) in splits.items() if cuts == 0 and pairs >= UNSPLIT_MIN_PAIRS]
    if not never:
        return labels
    scripts = _letter_scripts(text)  # (meets the kinds of this text first)
    wanted = np.isin(scripts[:-1], [_LETTER_KINDS.get(name, -1) for name in never])
    return _no_end_after(labels, wanted & (scripts[:-1] == scripts[1:]), _INNER_ENDS)


_ZWJ = 0x200D


@lru_cache(maxsize=None)
def _extends_cluster(cp: int) -> bool:
    """Whether a code point belongs to the character before it: a combining mark, a zero-width
    joiner, a variation selector, an emoji skin tone or tag character (Unicode's grapheme
    cluster 'Extend' and 'ZWJ', in short)."""
    return (unicodedata.category(chr(cp)).startswith("M") or cp == _ZWJ or 0xFE00 <= cp <= 0xFE0F
            or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F or 0xE0100 <= cp <= 0xE01EF)


def join_grapheme_clusters(text: str, labels: np.ndarray) -> np.ndarray:
    """Labels with no token or sentence end inside a character and its combining marks, or an
    emoji sequence joined by zero-width joiners (👩‍👩‍👧): no token of the train splits begins
    with one of those, but a net that never saw emoji may cut there."""
    if len(text) < 2:
        return labels
    cps = code_points(text)
    extends = _per_character(cps, _extends_cluster, bool)
    return _no_end_after(labels, extends[1:] | (cps[:-1] == _ZWJ), _ENDS)


def emoji_tokens(text: str, labels: np.ndarray) -> np.ndarray:
    """Labels that make each run of emoji one token ('🇫🇷' not '🇫' '🇷'), cut from a word glued
    to it ('merci👍'): the treebanks do both (core.emoji), but the net saw too few emoji to learn it."""
    runs = emoji_runs(text)
    if not runs:
        return labels
    inside = np.zeros(len(text) - 1, bool)
    edges = []
    for start, end in runs:
        inside[start : end - 1] = True
        edges += [i for i in (start - 1, end - 1)
                  if 0 <= i < len(text) - 1 and not text[i].isspace() and not text[i + 1].isspace()]  # fmt: skip
    labels = _no_end_after(labels, inside, _ENDS)
    cuts = np.array(edges, np.int64)
    cuts = cuts[~_ENDS[labels[cuts].astype(np.int64)]] if len(cuts) else cuts
    if len(cuts):
        labels = labels.copy()
        labels[cuts] = TOKEN_END
    return labels


# a word of letters (and inner periods) ending in a period, then a space, after a space or an
# opening bracket or quote: 'Dr.', 'Prof.' (not the 't.' of "didn't.")
_ABBREVIATION = re.compile(r"(?<![^\s(\[{\"'“‘«])[^\W\d_][\w.]*[^\W\d_]\.(?=\s|$)")
ABBREVIATION_MIN_SEEN = 3  # a title is kept from ending a sentence if seen this often,
ABBREVIATION_MAX_FINAL = 0.1  # ending at most this share of its sentences in the train splits,
ABBREVIATION_MIN_CAPITAL = 0.9  # and followed by a capitalised word this often where it does not


def learn_abbreviations(sentences: Iterable[GoldSentence], counts: dict[str, list[int]] | None = None):
    """[times it ends a sentence, times seen, times a capitalised word follows] of each token of
    two letters or more ending in a period ('dr.', 'e.g.'), added into `counts` (a new dict if
    None); `abbreviations_from` keeps the titles among them."""
    counts = {} if counts is None else counts
    for sentence in sentences:
        tokens = sentence.tokens
        for i, token in enumerate(tokens):
            if _ABBREVIATION.fullmatch(token.form):
                seen = counts.setdefault(token.form.lower(), [0, 0, 0])
                seen[0] += i == len(tokens) - 1
                seen[1] += 1
                seen[2] += i < len(tokens) - 1 and tokens[i + 1].form[:1].isupper()
    return counts


def abbreviations_from(counts: dict[str, list[int]]) -> dict[str, list[int]]:
    """The titles: abbreviations that rarely end a sentence and are nearly always followed by a
    capitalised word where they do not ('Dr. Who', 'Prof. Weber'). An abbreviation followed by
    any word ('e.g.', 'a.C.', 'no.') is left to the net: the train splits' pooled counts cannot
    tell when it ends a sentence ('... in 404 a.C. As ...')."""
    return {form: c for form, c in sorted(counts.items())
            if c[1] >= ABBREVIATION_MIN_SEEN and c[0] <= ABBREVIATION_MAX_FINAL * c[1]
            and c[2] >= ABBREVIATION_MIN_CAPITAL * (c[1] - c[0])}  # fmt: skip


_NO_SENTENCE_END = {SENTENCE_END: TOKEN_END, MWT_SENTENCE_END: MWT_END}


def keep_abbreviations(text: str, labels: np.ndarray, abbreviations: dict[str, list[int]]) -> np.ndarray:
    """Labels with no sentence end after a title of `abbreviations` ('Prof. Weber', 'Mrs. Jones':
    the nets end one after the period), whether the net kept its period in the token or split
    it off. A paragraph break still ends one."""
    if not abbreviations:
        return labels
    changed = None
    for match in _ABBREVIATION.finditer(text):
        end = match.end() - 1  # the period
        label = int(labels[end])
        if label in _NO_SENTENCE_END and match.group().lower() in abbreviations:
            changed = labels.copy() if changed is None else changed
            changed[end] = _NO_SENTENCE_END[label]
    return labels if changed is None else changed


SENTENCE_MARK_MIN_SEEN = 10  # a punctuation mark seen this often in a treebank's train split ...
SENTENCE_MARK_FINAL = 0.95  # ... and ending this share of the sentences it is in or more ends one


def learn_sentence_marks(sentences: Iterable[GoldSentence]) -> list[str]:
    """The one-character punctuation marks other than . ! ? that end nearly all the train
    sentences of a treebank they are in: the partut treebanks end sentences at ':' and ';' (a
    translation's units), el_gdt at the Greek '·'. The network, trained on all treebanks at once,
    learns the conventions of few of them weakly; . ! ? it learns everywhere, with their
    exceptions ('etc .', '...')."""
    seen, final = Counter(), Counter()
    for sentence in sentences:
        last = len(sentence.tokens) - 1
        for i, token in enumerate(sentence.tokens):
            form = token.form
            if len(form) == 1 and form not in ".!?" and is_punctuation(form):
                seen[form] += 1
                final[form] += i == last
    return sorted(form for form, n in seen.items()
                  if n >= SENTENCE_MARK_MIN_SEEN and final[form] >= SENTENCE_MARK_FINAL * n)  # fmt: skip


MARK_CONTEXT = 200  # characters before a mark (within its line) whose cue words say its language


def end_at_marks(text: str, labels: np.ndarray, marks: Collection[str],
                 in_language: Callable[[str], bool] | None = None) -> np.ndarray:
    """Labels with a sentence end after each of `marks` that is a token of its own followed by
    whitespace (or the text's end): what the hinted treebank does (`learn_sentence_marks`).
    in_language(text before the mark, within its line): whether that is the treebank's language
    (a French line in a text guessed Italian keeps the French convention)."""
    if not marks:
        return labels
    changed = None
    for match in re.finditer("[" + re.escape("".join(marks)) + "]", text):
        i = match.start()
        alone = (i == 0 or text[i - 1].isspace() or _ENDS[int(labels[i - 1])]) and (
            i + 1 == len(text) or text[i + 1].isspace())
        if not alone or int(labels[i]) != TOKEN_END:
            continue
        if in_language is None or in_language(text[max(0, i - MARK_CONTEXT) : i].rsplit("\n", 1)[-1]):
            changed = labels.copy() if changed is None else changed
            changed[i] = SENTENCE_END
    return labels if changed is None else changed


# a web address (with a scheme or www.) or an e-mail address; the address ends before trailing
# punctuation and at a bracket or quote. The train splits keep 590 of the 592 such addresses in
# one token (the 2 others: a Twitter '/via' and a glued word) and end a token where all but 3 end.
_WEB_CHARS = r"[\w\-.~:/?#@!$&*+,;=%]"
_WEB_ADDRESS = re.compile(
    rf"(?:(?:https?|ftp)://|www\.){_WEB_CHARS}*[\w/#=&%~+-]|[\w.+-]*\w@\w[\w-]*(?:\.[\w-]+)+", re.IGNORECASE
)  # fmt: skip
_WEB_CUES = ("://", "@", "www.", "WWW.")


def _web_addresses(text: str) -> list[tuple[int, int]]:
    if not any(cue in text for cue in _WEB_CUES):
        return []
    return [m.span() for m in _WEB_ADDRESS.finditer(text)]


def keep_web_addresses(text: str, labels: np.ndarray) -> np.ndarray:
    """Labels with no token or sentence end inside a web or e-mail address, and a token end
    where one ends before more characters ('x.org.', 'me@x.org)'); nets cut 'lotte.wilms@kb.nl'
    after 'lotte.' as a sentence. (An address at the end of a region that is not final may go
    on: decode_region holds such glued tokens back until the text after them is known.)"""
    spans = _web_addresses(text)
    if not spans:
        return labels
    inside = np.zeros(len(text) - 1, bool)
    for start, end in spans:
        inside[start : end - 1] = True
    kept = _no_end_after(labels, inside, _ENDS)
    open_ends = [end - 1 for _, end in spans
                 if end < len(text) and not text[end].isspace() and not _ENDS[int(kept[end - 1])]]  # fmt: skip
    if open_ends:
        kept = kept.copy() if kept is labels else kept
        kept[open_ends] = TOKEN_END
    return kept


_GLUED_HYPHEN = re.compile(r"(?<=\w)[-\u2010](?=\w)")  # a hyphen between two word characters
_HYPHEN_PIECE = re.compile(r"^(?:[-\u2010]\w.*|.*\w[-\u2010])$")


def learn_hyphen_pieces(token_counts: Counter, min_count: int = 2) -> dict[str, int]:
    """Tokens (lowercased) that begin or end with a hyphen next to a word character, seen at
    least `min_count` times in the train splits: French '-il', '-ce', '-t-il'."""
    return {t: n for t, n in sorted(token_counts.items()) if n >= min_count and _HYPHEN_PIECE.match(t)}


def apply_hyphen_pieces(text: str, labels: np.ndarray, pieces: dict[str, int], final: bool) -> np.ndarray:
    """A hyphen between two word characters stays inside its token or is split off on both
    sides; a token boundary on one side only ('15-|year', 'mother|-in-law') is removed unless
    the piece it cuts off is a token of the train splits (French 'dit|-il'). The network half-
    splits where treebanks of one language disagree (en_ewt splits hyphens, en_gum does not)."""
    if not pieces or "-" not in text and "\u2010" not in text:
        return labels
    out = None
    for match in _GLUED_HYPHEN.finditer(text):
        h = match.start()
        left, right = _ENDS[labels[h - 1]], _ENDS[labels[h]]
        if left == right:
            continue
        if left:  # a token begins at the hyphen: "-in-law"
            j = h + 1
            while j < len(text) and not _ENDS[labels[j]] and not text[j].isspace():
                j += 1
            if j == len(text) and not final:
                continue  # the piece may still grow
            piece, cut = text[h : j + 1], h - 1
        else:  # a token ends at the hyphen: "15-"
            i = h
            while i > 0 and not _ENDS[labels[i - 1]] and not text[i - 1].isspace():
                i -= 1
            piece, cut = text[i : h + 1], h
        if piece.strip().lower() in pieces or labels[cut] != TOKEN_END:
            continue  # a known piece, or a sentence / multiword-token end: the network's
        if out is None:
            out = labels.copy()
        out[cut] = CONTINUE
    return labels if out is None else out


_LETTER_HYPHEN = re.compile(r"(?<=[^\W\d_])[-\u2010](?=[^\W\d_])")  # a hyphen between two letters
_HYPHENS = "-\u2010"
MIN_HYPHENS = 20  # hyphens a treebank's train split must have for its convention to be used, ...
MIN_CLEAR_HYPHENS = 10  # ... or this many, all kept or all cut (id_gsd keeps its 14: 'anak-anak')


def _hyphens_known(row: list) -> bool:
    """Whether a treebank's [kept, cut, ...] hyphens between letters say its convention."""
    n = row[0] + row[1]
    return n >= MIN_HYPHENS or (n >= MIN_CLEAR_HYPHENS and min(row[0], row[1]) == 0)


@dataclass(frozen=True)
class HyphenPolicy:
    """Whether hyphens between letters are split off (on both sides) or kept in the token;
    `exceptions`: left parts (lowercased) for which the other choice holds."""

    split: bool
    exceptions: frozenset

    def splits(self, text: str, hyphen: int) -> bool:
        return self.split != (_left_part(text, hyphen) in self.exceptions)


def _left_part(text: str, hyphen: int) -> str:
    """The run of letters and digits just before position `hyphen`, lowercased."""
    i = hyphen
    while i > 0 and text[i - 1].isalnum():
        i -= 1
    return text[i:hyphen].lower()


def learn_hyphen_conventions(paragraphs: Iterable[GoldParagraph]) -> list:
    """[kept, split, exceptions] of one treebank's hyphens between two letters (see
    MwtLexicon.hyphens); hyphens split on one side only (French '-il') are pieces, not counted."""
    by_left: dict[str, Counter] = defaultdict(Counter)
    for paragraph in paragraphs:
        for match in _LETTER_HYPHEN.finditer(paragraph.text):
            h = match.start()
            before, after = _ENDS[paragraph.labels[h - 1]], _ENDS[paragraph.labels[h]]
            if before == after:
                by_left[_left_part(paragraph.text, h)][bool(before)] += 1
    kept = sum(c[False] for c in by_left.values())
    split = sum(c[True] for c in by_left.values())
    usual = split >= kept
    exceptions = sorted(left for left, c in by_left.items() if c[not usual] > c[usual])
    return [kept, split, exceptions]


def _glued_hyphen(text: str, p: int) -> int | None:
    """The hyphen between two letters that touches the token junction at `p`, if any."""
    for h in (p - 1, p):
        if 0 < h < len(text) - 1 and text[h] in _HYPHENS and _LETTER_HYPHEN.match(text, h):
            return h
    return None


def apply_hyphen_policy(
    text: str, labels: np.ndarray, spans: list[tuple[int, int]], policy: HyphenPolicy, pieces: dict[str, int]
) -> list[tuple[int, int]]:
    """Token spans with every hyphen between two letters cut as `policy` says: split off on
    both sides, or kept inside its token. Multiword tokens and known pieces ('-il') are left."""

    def fixed(s: int, e: int) -> bool:
        return bool(_MWT_ENDS[int(labels[e - 1])]) or text[s:e].lower() in pieces or _web_addresses(text[s:e]) != []

    cut: list[tuple[int, int]] = []
    for s, e in spans:
        if fixed(s, e):
            cut.append((s, e))
            continue
        start = s
        for match in _LETTER_HYPHEN.finditer(text, s, e):
            h = match.start()
            if h > s and policy.splits(text, h):
                cut += [(start, h), (h, h + 1)]
                start = h + 1
        cut.append((start, e))
    merged: list[tuple[int, int]] = []
    for s, e in cut:
        if merged and merged[-1][1] == s and not fixed(*merged[-1]) and not fixed(s, e):
            h = _glued_hyphen(text, s)
            if h is not None and not policy.splits(text, h):
                merged[-1] = (merged[-1][0], e)
                continue
        merged.append((s, e))
    return merged


def _affix_tables(surfaces: set, min_types: int) -> dict[str, dict[str, list]]:
    """{"suffixes", "prefixes", "blanks"}: the affix rules (`_affix_rules`) and blank-word endings
    that at least min_types of these distinct (surface, words) attest."""
    suffixes, prefixes, blanks = defaultdict(Counter), defaultdict(Counter), defaultdict(Counter)
    for low, lows in sorted(surfaces):  # rules count distinct surfaces (sorted: ties break alike every run)
        if all(w == BLANK_FORM for w in lows):
            for n in range(1, min(BLANK_ENDING, len(low) - 1) + 1):
                blanks[low[-n:]][(len(lows),)] += 1
            continue
        suffix, prefix = _affix_rules(low, lows)
        if suffix:
            suffixes[suffix[0]][suffix[1]] += 1
        if prefix:
            prefixes[prefix[0]][prefix[1]] += 1
    return {"suffixes": _rules(suffixes, min_types), "prefixes": _rules(prefixes, min_types),
            "blanks": _rules(blanks, min_types)}  # fmt: skip


def _rules(rules: dict[str, Counter], min_types: int) -> dict[str, list]:
    """Each affix's most frequent rule, tuples made JSON lists, if enough surfaces attest it."""
    kept = {}
    for cut, counts in rules.items():
        if sum(counts.values()) >= min_types:
            rule, types = counts.most_common(1)[0]
            kept[cut] = [list(x) if isinstance(x, tuple) else x for x in rule] + [types]
    return kept


NO_CUE_MIN_WORDS = 5  # a sentence with no cue word and this many words of letters: its language is asked


def _letter_words(forms: list[str]) -> int:
    return sum(1 for form in forms if form.isalpha())


class MwtExpander:
    """Expands the MWTs of one text, tracking which language its recent words point to.

    Sentences are observed once each, in order, so the choice does not depend on how the
    text was chunked.
    """

    DECAY = 0.8  # per sentence: a few sentences of evidence

    def __init__(self, lexicon: MwtLexicon, treebank: str | None = None,
                 identify: Callable[[list[str]], str | None] | None = None):
        self.lexicon, self.treebank = lexicon, treebank
        self.guessed = False  # the treebank was guessed from the text, not given: kept to its language
        self.scores: Counter = Counter()
        # forms -> their language, by a language identifier: asked only for a sentence whose cue
        # words and the recent ones say no language, or two alike (a short text: 'Vamos al cine
        # del barrio.' has no cue word, and its 'al' is Italian 'a il' to the pooled lexicon)
        self.identify = identify
        # language -> the treebank of it the text reads most like so far, for a sentence in another
        # language than the guessed treebank's (an English line in a text guessed French: its
        # hyphens cut as the English treebank of the text's English lines does); set by the guess
        self.treebank_of: Callable[[str], str | None] | None = None

    def hinted(self) -> str | None:
        """The treebank to segment as now: the given one; a guessed one only while the recent
        words are in its language (or in none known)."""
        if self.treebank is None or not self.guessed:
            return self.treebank
        recent = self.language()
        return self.treebank if recent is None or recent == language_of(self.treebank) else None

    def language(self) -> str | None:
        """The language the recent words point to, if any."""
        return max(self.scores, key=self.scores.__getitem__) if self.scores else None

    def hyphen_policy(self, forms: list[str] | None = None) -> HyphenPolicy | None:
        """As the hinted treebank cuts hyphens, else the recent words' language. With a guessed
        treebank and a sentence's forms, by the sentence's own language (`sentence_language`): the
        guessed treebank's where it is in that language (an English line after a French one in a
        text guessed English), else the text's treebank of its language (`treebank_of`: an
        English line in a text guessed French), else its language's."""
        if self.treebank is not None and self.guessed and forms is not None:
            language = self.sentence_language(forms)
            if language == language_of(self.treebank):  # (also after lines in another language)
                return self.lexicon.hyphen_policy(self.treebank, language)
            if language is not None:
                own = self.treebank_of(language) if self.treebank_of is not None else None
                return self.lexicon.hyphen_policy(own, language)
        return self.lexicon.hyphen_policy(self.hinted(), self.language())

    def sentence_marks(self) -> list[str]:
        """The punctuation marks that end a sentence in the hinted treebank, where it has any."""
        return self.lexicon.sentence_marks.get(self.hinted() or "", [])

    def in_hinted_language(self, text: str) -> bool:
        """Whether the cue words of `text` (none: yes) say the hinted treebank's language most."""
        counts = self.lexicon.text_cue_counts(text)
        return not counts or counts.most_common(1)[0][0] == language_of(self.hinted() or "")

    def sentence_words(self) -> SentenceWords | None:
        """The hinted treebank's model of sentence ends from words, where it has one."""
        rule = self.lexicon.sentence_words.get(self.hinted() or "")
        return SentenceWords(*rule) if rule else None

    def sentence_language(self, forms: Iterable[str], glued: Collection[int] | None = None) -> str | None:
        """The language of a sentence: the hinted treebank's, else the one the recent sentences
        and this one's own cue words point to (`leading_language`: the identifier's where they
        point to none or to two alike), unless its own cue words clearly say another, as the word
        lexicon decides (`word_lexicon.sentence_language`: an Italian sentence after a Japanese
        one, whose particles are many cue words, is Italian), or say another and nothing of the
        recent one's where the identifier agrees. A guessed treebank's language gives way to a
        sentence's own cue words the same way, the identifier asked in both cases (a Portuguese
        line in a text guessed English: its 'do' is 'de o'; but not 'É a música símbolo do primeiro
        álbum disco dos Bee Gees -- Children of the World.', two English cue words to one
        Portuguese, which the identifier calls Portuguese); a given one does not.
        glued: indices of the forms written glued to the one before, whose `glued_cues` are not
        counted."""
        treebank = self.hinted()
        if treebank is not None and not self.guessed:
            return language_of(treebank)
        forms = list(forms)
        cues = cue_words(forms, glued, self.lexicon.glued_cues)
        own = self.lexicon.cue_counts(cues)
        if treebank is not None:
            return self._own_language(own, forms, language_of(treebank), ask_if_clear=True)
        scores = Counter({language: score * self.DECAY for language, score in self.scores.items()})
        scores.update(own)
        recent = leading_language(scores, forms, self.identify)
        if recent is None:
            return None
        return self._own_language(own, forms, recent, ask_if_clear=False)

    def _own_language(self, own: Counter, forms: list[str], language: str, ask_if_clear: bool) -> str:
        """`language`, or the one a sentence's own words say instead:
        - with no cue word at all, the identifier's, for a sentence of NO_CUE_MIN_WORDS words or
          more (a Portuguese line among English ones with no Portuguese cue word);
        - where its cue words clearly say another (asking the identifier too with ask_if_clear),
          or say others and nothing of `language`, that one of them the identifier names
          (Portuguese 'o' is an Estonian cue word too)."""
        if not own:
            if self.identify is None or _letter_words(forms) < NO_CUE_MIN_WORDS:
                return language
            return self.identify(forms) or language
        other = sentence_language(own, language)
        if other == language or (other is not None and not ask_if_clear):
            return other
        if self.identify is None:
            return language
        said = self.identify(forms)
        return said if said in own else language

    def expand(self, form: str, language: str | None = None) -> list[str]:
        """The words of a multiword token: as its sentence's language (`sentence_language`)
        analyses it where that language has it, else as the language of the recent sentences
        that has it ('del': Spanish 'de el', Italian 'di il')."""
        choices = self.lexicon.by_language.get(form.lower())
        if choices and language not in choices:
            language = max(choices, key=lambda lang: self.scores.get(lang, 0.0)) if self.scores else None
        return self.lexicon.expand(form, language)

    def observe(self, tokens: list[RawToken]) -> None:
        for language in self.scores:
            self.scores[language] *= self.DECAY
        cues, glued = self.lexicon.cues, self.lexicon.glued_cues
        for i, token in enumerate(tokens):
            low = token.form.lower()
            language = cues.get(low)
            if language is not None and not (i and low in glued and tokens[i - 1].end == token.start):
                self.scores[language] += 1.0


# ----------------------------------------------------------------------------- decoding


def find_tokens(
    text: str, labels: np.ndarray, space: np.ndarray, final: bool, max_token_chars: int
) -> tuple[np.ndarray, np.ndarray]:
    """Token (starts, ends) from per-character labels, vectorised.

    Whitespace separates tokens unless labelled JOIN_SPACE; a boundary label on a
    non-space character ends a token. When not `final`, a token running into the end of
    `text` may continue: its start is the last of `starts`, which is then one longer.
    """
    n = len(text)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    labels = labels.astype(np.int64)
    in_token = ~space | (labels == JOIN_SPACE)
    ends = in_token & ~space & _ENDS[labels]
    ends[:-1] |= in_token[:-1] & ~in_token[1:]
    ends[-1] = in_token[-1] and final
    starts = in_token.copy()
    starts[1:] &= ~in_token[:-1] | ends[:-1]
    if n > max_token_chars:  # cut overlong runs (junk input) to bound memory
        idx = np.arange(n)
        run_start = np.maximum.accumulate(np.where(starts, idx, 0))
        ends |= in_token & ((idx - run_start) % max_token_chars == max_token_chars - 1)
        starts[1:] = in_token[1:] & (~in_token[:-1] | ends[:-1])
    # a token still open at the end (not final) has a start but no end yet
    return np.flatnonzero(starts), np.flatnonzero(ends) + 1


def gap_features(forms: list[str], k: int, first: bool) -> tuple[str, ...]:
    """The features of the gap after forms[k] (lowercased tokens; first: forms[k] begins its
    sentence): the token, the next two ("</s>" past the text's end), the one before it in its
    sentence ("<s>" at its start), and the pairs around the gap."""
    form, before = forms[k], "<s>" if first else forms[k - 1]
    after = forms[k + 1] if k + 1 < len(forms) else "</s>"
    after2 = forms[k + 2] if k + 2 < len(forms) else "</s>"
    return ("b", "l:" + form, "r:" + after, "lr:" + form + "|" + after, "ll:" + before + "|" + form,
            "rr:" + after + "|" + after2, "l2:" + before, "r2:" + after2)  # fmt: skip


@dataclass
class SentenceWords:
    """Sentence ends from words: a logistic regression over the tokens around each token end,
    learned for a treebank whose sentences mostly end with no punctuation (fr_spoken's
    transcribed speech: 'euh', 'donc', 'et' begin its sentences, 'quoi' ends them), where the
    network's character windows have no sign to go by. It adds sentence ends to the network's,
    never takes one away (`training.segmenter.learn_sentence_words`)."""

    threshold: float
    weights: dict[str, float]

    RIGHT = 2  # tokens after the gap that the features read

    def probability(self, features: Iterable[str]) -> float:
        z = sum(self.weights.get(f, 0.0) for f in features)
        return 1.0 / (1.0 + math.exp(-min(30.0, max(-30.0, z))))

    def sentence_ends(self, text: str, starts: np.ndarray, ends: np.ndarray, breaks: np.ndarray,
                      limit: int) -> np.ndarray:
        """`breaks` (per token: a sentence ends after it) with the model's added, for tokens
        before `limit`; the first token is a sentence's first."""
        forms = [text[a:b].lower() for a, b in zip(starts.tolist(), ends.tolist())]
        out, first = breaks.copy(), True
        for k in range(min(limit, len(forms))):
            if not out[k]:
                out[k] = self.probability(gap_features(forms, k, first)) > self.threshold
            first = bool(out[k])
        return out


_REFERENCE = re.compile(r"[ \t]*\[\d{1,3}\]")  # a citation mark after a sentence: 'edge. [3]'
_REFERENCE_START = re.compile(r"[ \t]*(\[\d{0,3})?")


def attach_references(text: str, starts: np.ndarray, ends: np.ndarray, breaks: np.ndarray, limit: int,
                      final: bool) -> tuple[np.ndarray, int]:
    """A citation mark ('[3]') or a run of emoji right after a sentence's final `.` `!` `?`, on
    the same line, ends that sentence instead of beginning the next, as the treebanks write it
    (en_gum's wikiHow pages: '... its humorous edge. [3]'; in the train splits 9 such marks end a
    sentence, in en_gum, sk_snk and pt_gsd, and 3 begin one, in en_ewt and pt_gsd; ru_taiga's
    posts: 'gr8!!! 😂', 5 emoji inside a sentence after its punctuation, 2 beginning the next).
    -> (breaks, limit), the limit lowered to hold a sentence whose mark is not all there yet."""
    breaks = breaks.copy()
    for k in np.flatnonzero(breaks[:limit]).tolist():
        end = int(ends[k])
        if text[end - 1] not in ".!?":
            continue
        mark = _REFERENCE.match(text, end)
        if mark is not None:
            last = int(np.searchsorted(ends, mark.end()))
            if last >= len(ends) or ends[last] != mark.end():
                continue  # the mark ends inside a token ('[3]Think')
        else:
            last = _emoji_after(text, starts, ends, k)
            if last is None:
                if not final and len(text) - end <= 6 and _REFERENCE_START.fullmatch(text, end):
                    return breaks, k  # the text stops where a mark may begin
                continue
        if last >= limit:
            return breaks, k
        breaks[k : last] = False
        breaks[last] = True
    return breaks, limit


def _emoji_after(text: str, starts: np.ndarray, ends: np.ndarray, k: int) -> int | None:
    """The last of the emoji tokens right after token k, on its line, if any."""
    last = None
    for j in range(k + 1, len(ends)):
        gap = text[int(ends[j - 1]) : int(starts[j])]
        if gap.strip(" \t") or not is_emoji_word(text[int(starts[j]) : int(ends[j])]):
            break
        last = j
    return last


@dataclass
class Decoded:
    sentences: list[RawSentence]
    consumed: int  # characters of the region that are done with


def decode_region(
    text: str,
    labels: np.ndarray,
    base: int,
    final: bool,
    expander: MwtExpander,
    config: SegmenterConfig,
) -> Decoded:
    """Sentences of `text` (offsets + base); when not `final`, only the complete ones."""
    space = is_space(text)
    labels = apply_joins(text, labels, expander.lexicon.joins, final)
    labels = join_unsplit_scripts(text, labels, expander.lexicon.script_splits)
    labels = join_grapheme_clusters(text, labels)
    labels = apply_hyphen_pieces(text, labels, expander.lexicon.hyphen_pieces, final)
    labels = emoji_tokens(text, labels)
    labels = keep_web_addresses(text, labels)
    labels = keep_abbreviations(text, labels, expander.lexicon.abbreviations)
    labels = end_at_marks(text, labels, expander.sentence_marks(), expander.in_hinted_language)
    starts, ends = find_tokens(text, labels, space, final, config.max_token_chars)
    open_start = int(starts[len(ends)]) if len(starts) > len(ends) else len(text)
    starts, ends = _strip_joined_spaces(text, starts[: len(ends)], ends)
    limit = len(starts)
    if not final and len(starts):
        limit -= 1  # the last token might still grow or gain a sentence end,
        while limit > 0 and starts[limit] == ends[limit - 1] and ends[-1] - starts[limit - 1] <= config.max_token_chars:
            limit -= 1  # and the tokens glued to it might join a web address the text goes on with
    breaks = _sentence_breaks(text, labels, starts, ends, final)
    by_words = expander.sentence_words()
    if by_words is not None:
        if not final:  # a token's end is decided with the two tokens after it known
            limit = max(0, limit - SentenceWords.RIGHT)
        breaks = by_words.sentence_ends(text, starts, ends, breaks, limit)
    breaks, limit = attach_references(text, starts, ends, breaks, limit, final)
    sentences, sentence_start = [], 0
    for k in range(limit):
        if breaks[k] or int(ends[k] - starts[sentence_start]) > config.max_sentence_chars:
            sentences.append(_make_sentence(text, labels, starts, ends, sentence_start, k + 1,
                                            base, expander))  # fmt: skip
            sentence_start = k + 1
    if sentence_start < limit and final:
        sentences.append(_make_sentence(text, labels, starts, ends, sentence_start, limit,
                                        base, expander))  # fmt: skip
        sentence_start = limit
    consumed = int(starts[sentence_start]) if sentence_start < len(starts) else open_start
    return Decoded(sentences, consumed)


def _strip_joined_spaces(text: str, starts: np.ndarray, ends: np.ndarray):
    """Tokens never begin or end with a (JOIN-labelled) space; all-space ones are dropped."""
    keep_s, keep_e = [], []
    for s, e in zip(starts.tolist(), ends.tolist()):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            keep_s.append(s)
            keep_e.append(e)
    return np.array(keep_s, np.int64), np.array(keep_e, np.int64)


def _sentence_breaks(text, labels, starts, ends, final) -> np.ndarray:
    """Sentence ends: predicted on a token's last character, or a blank line after it."""
    if len(ends) == 0:
        return np.zeros(0, bool)
    breaks = _SENT_ENDS[labels[ends - 1].astype(np.int64)]
    cps = code_points(text)
    newline = (cps == 10) | (cps == 0x2029)  # 0x2029: paragraph separator
    cum = np.concatenate([[0], np.cumsum(newline)])
    gap_end = np.append(starts[1:], len(text))
    blank = cum[gap_end] - cum[ends] >= 2
    if not final:
        blank[-1] = False  # the gap after the last token is not complete yet
    return breaks | blank


def _make_sentence(text, labels, starts, ends, first, stop, base, expander) -> RawSentence:
    """Tokens first..stop-1 as a sentence; MWTs are expanded only here, once per sentence.
    Hyphens are cut here too, by the convention of the hinted treebank or of the language the
    sentences before point to (so the choice does not depend on how the text was chunked)."""
    spans = list(zip(starts[first:stop].tolist(), ends[first:stop].tolist()))
    if expander.lexicon.hyphens and any(h in text[spans[0][0] : spans[-1][1]] for h in _HYPHENS):
        policy = expander.hyphen_policy([text[s:e] for s, e in spans])
        if policy is not None:
            spans = apply_hyphen_policy(text, labels, spans, policy, expander.lexicon.hyphen_pieces)
    forms = [text[s:e] for s, e in spans]
    lexicon, language, known = expander.lexicon, None, False
    tokens = []
    for (s, e), form in zip(spans, forms):
        space_after = e >= len(text) or text[e].isspace()
        predicted = bool(_MWT_ENDS[int(labels[e - 1])])
        low = form.lower()
        maybe = predicted or low in lexicon.counts or low in lexicon.language_counts
        if maybe and not known:
            # the language matters only to a token that may be a multiword token
            glued = [i for i in range(1, len(spans)) if spans[i][0] == spans[i - 1][1]] if lexicon.glued_cues else None
            language, known = expander.sentence_language(forms, glued), True
        mwt = maybe and lexicon.is_mwt(form, predicted, language)  # (is_mwt: no for the rest)
        words = expander.expand(form, language) if mwt else [form]
        tokens.append(RawToken(form, s + base, e + base, space_after, words))
    expander.observe(tokens)
    start, end = tokens[0].start, tokens[-1].end
    return RawSentence(text[start - base : end - base], start, end, tokens)


# ----------------------------------------------------------------------------- streaming

# predict(char_ids, cat_ids) with int64 [windows, length] arrays -> int labels, same shape
Predictor = Callable[[np.ndarray, np.ndarray], np.ndarray]


class SegmentationStream:
    """Segments text fed in chunks, in bounded memory, by overlapping character windows.

    Each window labels `core` characters and sees `context` more on each side, more than the
    network's receptive field, so labels do not depend on where the chunks were cut.
    Offsets in the output count characters from the start of the stream.
    """

    def __init__(
        self, predict: Predictor, config: SegmenterConfig, lexicon: MwtLexicon, treebank: str | None = None,
        variants: dict[int, int] | None = None, identify: Callable[[list[str]], str | None] | None = None,
    ):
        self.predict, self.config = predict, config
        self.plain: Predictor | None = None  # see set_treebank
        self.variants = variants  # characters the network reads as others, one for one (core.variants)
        self.expander = lexicon.expander(treebank, identify)
        self.buffer = ""  # text from `base` on: left context + undecided text + lookahead
        self.base = 0
        self.labels = np.zeros(0, np.uint8)  # labels of buffer[:len(labels)]
        self.pending = 0  # buffer index where undecided text starts
        self.incoming: deque[str] = deque()
        self.head_offset = 0  # characters of incoming[0] already moved into the buffer
        # (stream offset, labels) the network gave in the last feed: what `label_until` needs
        # of them again after a `restore` is taken from here, not computed twice
        self.last_labels: list[tuple[int, np.ndarray]] = []

    def set_treebank(self, treebank: str | None, predict: Predictor, plain: Predictor | None = None) -> None:
        """Segment the text not labelled yet as `treebank` does, labelled by `predict` (the
        network with that treebank's hint); the recent words' language is kept. plain: the
        network with no hint, for a guessed treebank: a window whose cue words are of another
        language than the treebank's is labelled by it (text that changed language)."""
        self.expander.treebank, self.predict, self.plain = treebank, predict, plain
        self.expander.guessed = plain is not None

    def state(self) -> tuple:
        """What feeding changes, so a block can be segmented again (`restore`) under another
        treebank; the text itself is shared, not copied."""
        e = self.expander
        return (self.buffer, self.base, self.labels, self.pending, tuple(self.incoming), self.head_offset,
                e.treebank, e.guessed, Counter(e.scores), self.predict, self.plain)

    def restore(self, state: tuple) -> None:
        e = self.expander
        (self.buffer, self.base, self.labels, self.pending, incoming, self.head_offset,
         e.treebank, e.guessed, e.scores, self.predict, self.plain) = state  # fmt: skip
        self.incoming = deque(incoming)

    def labelled_to(self) -> int:
        """The stream offset up to which the network has labelled the text."""
        return self.base + len(self.labels)

    def label_until(self, chunk: str, offset: int) -> list[RawSentence]:
        """Take `chunk` in, but label only the text before stream `offset` (with the network
        set now) and decode what that decides; the rest waits for the next feed (after
        `set_treebank`: a block segmented as two treebanks, split where the text changed)."""
        if chunk:
            self.incoming.append(chunk)
        done, cfg = len(self.labels), self.config
        stop = offset - self.base
        if stop <= done:
            return []
        self._pull(stop + cfg.context)
        stop = min(stop, len(self.buffer))
        self.labels = np.concatenate([self.labels, self._labelled_before(done, stop)])
        out = self._decode(False)
        self._trim()
        return out

    def _labelled_before(self, start: int, stop: int) -> np.ndarray:
        """Labels of buffer[start:stop] as the last feed gave them, where it did (the network's
        labels do not depend on where its windows fall), else from the network."""
        if self.last_labels and self.last_labels[0][0] == self.base + start:
            given = np.concatenate([labels for _, labels in self.last_labels])
            if len(given) >= stop - start:
                return given[: stop - start]
        return self._label(start, stop)

    def feed(self, chunk: str) -> list[RawSentence]:
        self.last_labels = []
        if chunk:
            self.incoming.append(chunk)
        return self._advance(final=False)

    def close(self) -> list[RawSentence]:
        return self._advance(final=True)

    def _advance(self, final: bool) -> list[RawSentence]:
        cfg, out = self.config, []
        block = cfg.core * cfg.batch_windows
        while True:
            done = len(self.labels)
            self._pull(done + block + cfg.context)
            end_of_text = not self.incoming
            if len(self.buffer) < done + block + cfg.context and not (final and end_of_text):
                return out
            if done >= len(self.buffer):
                break
            stop = min(done + block, len(self.buffer))
            labels = self._label(done, stop)
            self.last_labels.append((self.base + done, labels))
            self.labels = np.concatenate([self.labels, labels])
            out += self._decode(final and end_of_text and stop == len(self.buffer))
            self._trim()
        out += self._decode(True)
        self.buffer, self.base = "", self.base + len(self.buffer)
        self.labels, self.pending = np.zeros(0, np.uint8), 0
        return out

    def _pull(self, wanted: int) -> None:
        """Move text from the incoming chunks into the buffer, without copying whole chunks."""
        pieces, have = [self.buffer], len(self.buffer)
        while have < wanted and self.incoming:
            head = self.incoming[0]
            piece = head[self.head_offset : self.head_offset + wanted - have]
            pieces.append(piece)
            have += len(piece)
            self.head_offset += len(piece)
            if self.head_offset >= len(head):
                self.incoming.popleft()
                self.head_offset = 0
        self.buffer = "".join(pieces)

    def _label(self, start: int, stop: int) -> np.ndarray:
        """Labels of buffer[start:stop], by windows with `context` characters each side."""
        cfg = self.config
        lo, hi = max(0, start - cfg.context), min(len(self.buffer), stop + cfg.context)
        window = self.buffer[lo:hi]
        char_ids, cat_ids, _ = featurize(window.translate(self.variants) if self.variants else window, cfg.n_buckets)
        n_windows = -(-(stop - start) // cfg.core)
        left = cfg.context - (start - lo)
        # one window for fewer than `core` characters (a short text, a stream's end) is only as
        # wide as they and their context: the labels are the same (the net sees `context` at
        # most either side), for a fraction of the compute (a 440-character request: 2.4 times less)
        core = stop - start if n_windows == 1 else cfg.core
        total = n_windows * core + 2 * cfg.context
        padded_chars = np.zeros(total, np.int64)
        padded_cats = np.zeros(total, np.int64)
        padded_chars[left : left + len(char_ids)] = char_ids
        padded_cats[left : left + len(cat_ids)] = cat_ids
        width = core + 2 * cfg.context
        view = np.lib.stride_tricks.sliding_window_view
        windows_c = view(padded_chars, width)[::core]
        windows_k = view(padded_cats, width)[::core]
        windows_c, windows_k = windows_c.copy(), fold_capital_windows(windows_k.copy())  # writable, contiguous
        elsewhere = self._elsewhere(start, n_windows) if self.plain is not None else None
        if elsewhere is None or not elsewhere.any():
            predicted = self.predict(windows_c, windows_k)
        elif elsewhere.all():
            predicted = self.plain(windows_c, windows_k)
        else:
            predicted = np.empty(windows_c.shape, np.int64)
            predicted[~elsewhere] = self.predict(windows_c[~elsewhere], windows_k[~elsewhere])
            predicted[elsewhere] = self.plain(windows_c[elsewhere], windows_k[elsewhere])
        labels = predicted[:, cfg.context : cfg.context + core].reshape(-1)
        return labels[: stop - start].astype(np.uint8)

    def _elsewhere(self, start: int, n_windows: int) -> np.ndarray:
        """Per window from buffer index `start`: whether its cue words (two or more) are mostly
        of another language than the guessed treebank's."""
        own, lexicon, core = language_of(self.expander.treebank or ""), self.expander.lexicon, self.config.core
        out = np.zeros(n_windows, bool)
        for i in range(n_windows):
            counts = lexicon.text_cue_counts(self.buffer[start + i * core : start + (i + 1) * core])
            if sum(counts.values()) >= 2:
                out[i] = counts.most_common(1)[0][0] != own
        return out

    def _decode(self, final: bool) -> list[RawSentence]:
        done = len(self.labels)
        region = self.buffer[self.pending : done]
        decoded = decode_region(
            region, self.labels[self.pending : done], self.base + self.pending, final,
            self.expander, self.config,
        )  # fmt: skip
        self.pending += decoded.consumed
        return decoded.sentences

    def _trim(self) -> None:
        """Forget text that is decided and out of the next window's left context."""
        cut = min(self.pending, len(self.labels) - self.config.context)
        if cut > 0:
            self.buffer = self.buffer[cut:]
            self.labels = self.labels[cut:]
            self.base += cut
            self.pending -= cut


# when the treebank is guessed: the windows of a block the network labels, after each of which
# the guess is asked again (15,744 characters). 32, the batch otherwise, left a new document
# segmented as the one before for up to 31,488 (dev raw Tokens 99.17 against 99.20); 8 let
# en_partut's near-tie with en_gum decide its second block (99.14)
GUESS_BLOCK_WINDOWS = 16


def segment_with(
    predict: Predictor,
    config: SegmenterConfig,
    lexicon: MwtLexicon,
    chunks: Iterable[str],
    treebank: str | None = None,
    variants: dict[int, int] | None = None,
    guess: Callable[[list[RawSentence]], tuple[str | None, int]] | None = None,
    predict_as: Callable[[str | None], Predictor] | None = None,
    guess_after: int = 2000,
    identify: Callable[[list[str]], str | None] | None = None,
) -> Iterator[RawSentence]:
    """treebank: cut hyphens as it does (`MwtLexicon.hyphen_policy`); variants: characters the
    network reads as others (`core.variants`). guess: the sentences segmented since the last
    guess -> the treebank to segment the rest of the text as, asked after each block the network
    labels (`core` x GUESS_BLOCK_WINDOWS characters) once they hold `guess_after` characters, with
    predict_as(treebank) the network hinted with it (a text that changes language, or genre, is
    not segmented as its start's treebank to its end). guess -> (treebank, i): since[i:] read as
    that treebank. A block whose sentences change the guess is segmented again, as the new
    treebank from since[i] on, so a new document is not read by the last one's conventions for
    a block, nor the end of the last one by the new one's. identify: see `MwtExpander`."""
    guessing = guess is not None and predict_as is not None
    if guessing:  # smaller blocks: a new document's treebank is taken sooner
        config = replace(config, batch_windows=min(config.batch_windows, GUESS_BLOCK_WINDOWS))
    stream = SegmentationStream(predict, config, lexicon, treebank, variants, identify)
    if guessing:
        stream.expander.treebank_of = getattr(guess, "treebank_of", None)
        if treebank is not None:  # the head's guess: kept to its language too
            stream.set_treebank(treebank, predict, predict_as(None))
        step = config.core * config.batch_windows  # fed a block at a time: guessed again after each
        chunks = (c[i : i + step] for c in chunks for i in range(0, len(c), step))
    since: list[RawSentence] = []
    since_chars = 0
    for chunk in chunks:
        if not guessing:
            yield from stream.feed(chunk)
            continue
        before, block_start = stream.state(), stream.labelled_to()
        sentences = stream.feed(chunk)
        since += sentences
        since_chars += sum(len(s.text) for s in sentences)
        if since_chars >= guess_after:
            guessed, first = guess(since)
            if guessed != stream.expander.treebank:
                switch_at = since[first].start if first < len(since) else stream.labelled_to()
                stream.restore(before)  # this block again; the guess is not asked again on it
                sentences = stream.label_until(chunk, max(switch_at, block_start))
                stream.set_treebank(guessed, predict_as(guessed), predict_as(None))
                sentences += stream.feed("")
            since, since_chars = [], 0
        yield from sentences
    yield from stream.close()


def text_chunks(text: str, size: int = 1 << 16) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


# ----------------------------------------------------------------------------- quick scoring


def span_f1(gold: set, system: set) -> float:
    if not gold and not system:
        return 1.0
    hits = len(gold & system)
    return 2 * hits / (len(gold) + len(system)) if hits else 0.0


def segmentation_items(sentences: Iterable[RawSentence]) -> dict[str, set]:
    """Token, sentence and word items for a quick F1 (the real scorer is ud_eval)."""
    tokens, sents, words = set(), set(), set()
    for sentence in sentences:
        sents.add((sentence.start, sentence.end))
        for t in sentence.tokens:
            tokens.add((t.start, t.end))
            words.update((t.start, t.end, i, w.lower()) for i, w in enumerate(t.words))
    return {"tokens": tokens, "sentences": sents, "words": words}

"""The word lexicon: what UPOS and FEATS each word form had in the train splits, per treebank.

The network's label for a word seen in training is kept when that treebank's train split gave
the form that label at least once; otherwise it becomes the form's most frequent label there
(as UDPipe 1's morphological dictionary limits its tagger). Forms are looked up lowercased.
With a treebank hint the lexicon of that treebank is used. Without one, the language comes
from the words (frequent words typical of one language, as the segmenter guesses which
analysis of a multiword token to take) and, among that language's treebanks, the one under
whose train split's words (a unigram model, add-0.1 smoothed) the text's recent words are
likeliest: a text's treebank is its genre and vocabulary (transcribed speech reads as fr_spoken,
and is tagged without features, as fr_spoken writes it). Only the words one of them has count
(an unknown word favours the smallest treebank), and only sentences in one language. Beside its
words, each sentence's *writing signs* count: whether it ends with punctuation and whether it
begins with a capital, each a Bernoulli of the treebank's train sentences (header `signs`), so
that a written sentence in the first person is not read as transcribed speech, which has
neither. The tagger hints the network with the same treebank (`sentence_treebanks`).
A text whose words so far hold no cue word at all (a short request) may be given a language by
an identifier from outside (`restrict(identify=...)`: the tagger passes py3langid's guess), and
so may a sentence whose cue words and the recent ones point to two languages alike (the first
sentence of a text, 'Le chat dort sur le canapé.': German 'dort', French 'sur').
The recent sentences decide the language unless a sentence's own words say otherwise (text
that changes language from one sentence to the next): with clearly more cue words of another
language it takes that one; with a few of another and none of the recent one it gets no
lexicon, as a foreign lexicon forces wrong labels on the words it shares; with no cue word at
all, and words the recent language's lexicons mostly lack, it is asked of the identifier (a
Polish sentence after Dutch ones). A sentence with runs
of three cue words or more of two languages is in both: each word is looked up in the language
of the nearest run's cue word.
A word no train split of the language has may still be in text a stronger tagger labelled
(the machine-labelled `<lang>_pseudo` treebanks: the student and the e5 teacher together): its
UPOS is then checked the same way against the UPOS that text gave it (the language's *text
lexicon*; UPOS only, as that text's FEATS follow no one treebank's conventions). A word in
neither keeps its UPOS. An unseen word's FEATS are checked against the forms of the treebank
that end in its last three letters and had that UPOS (UDPipe's guesser, small).

The file (`lexicon.tsv.xz` in a model folder): a first line `polytag-word-lexicon 2 N`, then N
bytes of xz-compressed JSON header (label tables, the language cues and those of them counted only
where not glued to the word before, each treebank's writing signs, where each treebank's block
is), then one xz block per treebank of lines `form<TAB>u.f:count,u.f:count` (ids into the
header's tables, most frequent first), then one per language with a text lexicon, of lines
`form<TAB>u,u` (UPOS ids, most frequent first; header `text_forms` and `text_blocks`; a file
without them has none). A block is read the first time it is needed, so a process that tags a
few languages holds a few treebanks' forms, not all 72.
"""

from __future__ import annotations

import json
import lzma
import math
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from .conllu_io import XZ_PRESET, normalize_feats, read_conllu
from .errors import InputError
from .evaluate import treebank_id

LEXICON_FILE = "lexicon.tsv.xz"
FORMAT = "polytag-word-lexicon"
VERSION = 2
SUFFIX = 3  # an unseen word's FEATS are checked against words of its ending and UPOS
SUFFIX_MIN_TYPES = 3  # ... where that many forms of the treebank have them
LANGUAGE_DECAY = 0.8  # per sentence: the language the recent words point to
OWN_CUES = 2  # a sentence with this many cue words of a language, twice the recent one's, is in it
MIXED_RUN = 3  # a sentence with runs of this many cue words of two languages is in both
FOREIGN_MIN_WORDS = 3  # a sentence with no cue word, of this many words or more, ...
FOREIGN_SHARE = 0.5  # ... more of which the recent language's lexicons lack is asked of the identifier
# a cue word that another language writes glued to the word before this many times counts only
# where it stands apart (the train splits: Portuguese 'em', 74 times Polish 'kupił' + 'em')
MIN_GLUED = 20
WORD_SMOOTHING = 0.1  # add-this to each form's count in a treebank's unigram model of its words
# per sentence of the language: the likelihoods remember about its last 100 sentences (the whole
# text, 1.0, scores the same on dev files, 93.52 / 90.36 against 93.52 / 90.35, but the 22 dev
# files as one text 93.90 / 90.18 against 94.32 / 92.90: a text made of several documents)
WORD_DECAY = 0.99
# a change of document: the likelihoods of about the last 10 sentences (decay 0.9 a sentence)
# favouring another treebank by this many nats over the long memory's choice replace the long
# memory (the 22 dev files as one text: fr_spoken after fr_sequoia, en_partut after en_lines were
# read as the document before them for a hundred sentences); margins of 60 and below moved choices
# inside dev files, 80 to 120 none
SWITCH_DECAY = 0.9
SWITCH_MARGIN = 80.0
# cue words: each language's this many most frequent words, where 90% of their uses are its
# (more cue words, more sentences that say their own language: 400 gave single sentences
# 92.82 / 87.97, 3,000 gives 92.86 / 88.02, for 0.06 MB)
CUES_PER_LANGUAGE = 3000


def is_punctuation(word: str) -> bool:
    """Whether every character of `word` is punctuation (Unicode category P*)."""
    return all(unicodedata.category(c).startswith("P") for c in word)


def writing_signs(words: list[str]) -> tuple[bool | None, bool | None]:
    """Of one sentence's words: (whether the last is punctuation, whether the first that is not
    begins with a capital: None where it begins with no letter that has case, a digit, a Korean
    letter; '¿Qué' counts as a capital)."""
    if not words:
        return None, None
    first = next((word[:1] for word in words if not is_punctuation(word)), "")
    return is_punctuation(words[-1]), (first.isupper() if first.upper() != first.lower() else None)


def count_signs(words: list[str], counts: list[int]) -> None:
    """Adds one sentence's signs to counts: [sentences, of which end with punctuation, begin
    with a cased letter, of which with a capital]."""
    ends, capital = writing_signs(words)
    if ends is None:
        return
    counts[0] += 1
    counts[1] += ends
    if capital is not None:
        counts[2] += 1
        counts[3] += capital


class GuessCounts:
    """What the guess of a text's language and treebank reads from train sentences besides the
    forms, counted sentence by sentence (`add`): per language its words (for the cue words) and
    the forms it writes glued to the word before, per treebank its writing signs."""

    def __init__(self):
        self.signs: dict[str, list[int]] = {}
        self.words: dict[str, Counter] = defaultdict(Counter)
        self.glued: dict[str, Counter] = defaultdict(Counter)

    def add(self, treebank: str, sentence) -> None:
        language = language_of(treebank)
        count_signs(sentence.words, self.signs.setdefault(treebank, [0, 0, 0, 0]))
        self.glued[language].update(form for _, form in glued_tokens(sentence))
        self.words[language].update(word.lower() for word in sentence.words)

    def learned(self) -> tuple[dict[str, str], dict[str, str], dict[str, list[int]]]:
        """(the cue words, `language_cues`; those of them written glued elsewhere, `glued_cues`;
        treebank -> its sentences' `count_signs`)."""
        cues = language_cues(self.words, CUES_PER_LANGUAGE)
        return cues, glued_cues(cues, self.glued), self.signs


def learn_guess(files: Iterable[str | Path]) -> tuple[dict[str, str], dict[str, str], dict[str, list[int]]]:
    """`GuessCounts.learned` of train files, as `WordLexicon.learn` counts them (machine-labelled
    files left out)."""
    counts = GuessCounts()
    for path in sorted(Path(f) for f in files):
        treebank = treebank_id(path)
        if not treebank.endswith("_pseudo"):
            for sentence in read_conllu(path):
                counts.add(treebank, sentence)
    return counts.learned()


def _sign_scores(counts: list[int]) -> dict[tuple[int, bool], float]:
    """(sign, value) -> its log probability in a treebank's train sentences, add-WORD_SMOOTHING
    smoothed (sign 0: ends with punctuation, 1: begins with a capital)."""
    n, ends, cased, capitals = counts
    out = {}
    for sign, (total, yes) in enumerate(((n, ends), (cased, capitals))):
        denominator = math.log(total + 2 * WORD_SMOOTHING)
        out[(sign, True)] = math.log(yes + WORD_SMOOTHING) - denominator
        out[(sign, False)] = math.log(total - yes + WORD_SMOOTHING) - denominator
    return out


def language_of(treebank: str) -> str:
    return treebank.split("_")[0]


def language_cues(word_counts: dict[str, Counter], per_language: int = 400) -> dict[str, str]:
    """Frequent words (>= 90 % of their uses in one language) -> that language."""
    totals: Counter = sum(word_counts.values(), Counter())
    cues = {}
    for language, counts in word_counts.items():
        for word, n in counts.most_common(per_language):
            if n >= 5 and n >= 0.9 * totals[word]:
                cues[word] = language
    return cues


def glued_cues(cues: dict[str, str], glued: dict[str, Counter]) -> dict[str, str]:
    """The cue words (-> their language) another language writes glued to the word before
    MIN_GLUED times or more (glued: language -> forms it writes so): Polish 'kupił' + 'em' (I
    bought) is no Portuguese 'em' (in). They count only where the text does not show them glued
    (`cue_words`)."""
    return {word: language for word, language in sorted(cues.items())
            if any(other != language and forms[word] >= MIN_GLUED for other, forms in glued.items())}


def cue_words(words: list[str], glued: Collection[int] | None, blanked: Collection[str]) -> list[str]:
    """The words to look cue words up in: those of `blanked` (`glued_cues`) written glued to the
    word before (their indices in `glued`) left out, as ''."""
    if not glued or not blanked:
        return words
    return [("" if i in glued and word.lower() in blanked else word) for i, word in enumerate(words)]


def glued_tokens(sentence) -> list[tuple[int, str]]:
    """(index of its first word, lowercased form) of each token of letters a CoNLL-U sentence
    writes with no space after the token before (SpaceAfter=No on it): 'em' of Polish 'kupiłem'."""
    out, glue, skip_to = [], False, 0
    for line in sentence.lines or ():
        cells = line.split("\t")
        if len(cells) < 10 or "." in cells[0]:
            continue
        first, _, last = cells[0].partition("-")
        if not first.isdigit() or not (last.isdigit() or not last):
            continue  # (a reader that keeps bad lines: nothing to learn from them)
        if int(first) <= skip_to:  # a word inside a multiword token
            continue
        if glue and cells[1].isalpha():
            out.append((int(first) - 1, cells[1].lower()))
        glue = "SpaceAfter=No" in cells[9].split("|")
        skip_to = int(last) if last else 0
    return out


def leading_language(scores: dict[str, float], words: list[str],
                     identify: Callable[[list[str]], str | None] | None = None) -> str | None:
    """The language with the highest score; where none has a score, or two or more share the
    highest, the identifier's guess from `words` when it is one of those (any, where none has a
    score): which language was counted first must not decide."""
    best = max(scores, key=scores.__getitem__) if scores else None
    if identify is None or (best is not None and sum(s == scores[best] for s in scores.values()) < 2):
        return best
    identified = identify(words)
    if identified is not None and (best is None or scores.get(identified) == scores[best]):
        return identified
    return best


def sentence_language(own: Counter, recent: str) -> str | None:
    """The language of a sentence with these cue word counts in a text whose recent sentences
    are in `recent`: that one, unless its own words clearly say another (that one), or say
    another and nothing of it (None: no lexicon, a foreign one would do harm)."""
    if own:
        top = max(own, key=own.__getitem__)
        if own[top] >= OWN_CUES and own[top] >= 2 * own[recent]:
            return top
        if own[recent] == 0:
            return None
    return recent


# a sentence's treebank (None: none) and, for a sentence in two languages, each word's
SentenceKeys = tuple[str | None, list[str | None] | None]


@dataclass(slots=True)
class TextState:
    """What the guess knows of a text so far, for a text tagged in parts (a stream in chunks):
    the running scores of its languages and of its treebanks (long and short memory), and how
    many words it has had."""

    languages: Counter = field(default_factory=Counter)
    likelihood: Counter = field(default_factory=Counter)
    recent: Counter = field(default_factory=Counter)
    words: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """A form's labels in one treebank: the sets seen and the most frequent."""

    upos: frozenset
    feats: frozenset
    best_upos: str
    best_feats: str


def _entries(counts: dict[str, Counter]) -> dict[str, Entry]:
    """form -> Entry, from form -> Counter({(upos, feats): n})."""
    out = {}
    for form, pairs in counts.items():
        upos: Counter = Counter()
        feats: Counter = Counter()
        for (u, f), n in pairs.items():
            upos[u] += n
            feats[f] += n
        out[form] = Entry(frozenset(upos), frozenset(feats), upos.most_common(1)[0][0], feats.most_common(1)[0][0])
    return out


def _word_scores(seen: dict[str, int]) -> tuple[dict[str, float], float]:
    """form -> log P(form) in a treebank's train split, add-WORD_SMOOTHING smoothed, and the
    log probability of a form it never had: a unigram model of its words, whose likelihood
    tells a text's treebank (its genre and vocabulary) from the words alone."""
    denominator = math.log(sum(seen.values()) + WORD_SMOOTHING * (len(seen) + 1))
    return ({form: math.log(n + WORD_SMOOTHING) - denominator for form, n in seen.items()},
            math.log(WORD_SMOOTHING) - denominator)


def _suffix_table(entries: dict[str, Entry], counts: dict[str, Counter]) -> dict[tuple[str, str], tuple[frozenset, str]]:
    """(last SUFFIX characters, UPOS) -> (FEATS seen, the most frequent) over the forms longer
    than SUFFIX, each form counted once per (UPOS, FEATS) it had; kept where SUFFIX_MIN_TYPES
    forms attest it."""
    types: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for form, entry in entries.items():
        if len(form) <= SUFFIX:
            continue
        pairs = counts[form] if form in counts else ((entry.best_upos, entry.best_feats),)
        for upos, feats in pairs:
            types[(form[-SUFFIX:], upos)][feats] += 1
    return {key: (frozenset(c), c.most_common(1)[0][0]) for key, c in types.items()
            if sum(c.values()) >= SUFFIX_MIN_TYPES}  # fmt: skip


class WordLexicon:
    def __init__(self, header: dict, blocks: dict[str, bytes], text_blocks: dict[str, bytes] | None = None,
                 source: str | Path = "word lexicon"):
        self.header = header
        self.source = source  # the file, for errors in a block read later
        self.min_count: int = header["min_count"]
        self.cues: dict[str, str] = header["cues"]
        # cue words counted only where not written glued to the word before (`glued_cues`)
        self.glued_cues = frozenset(header.get("glued_cues", ()))
        self.forms: dict[str, int] = header["forms"]  # treebank -> forms it lists
        self._blocks = blocks  # treebank -> its xz-compressed lines
        self._upos, self._feats = header["upos"], header["feats"]
        self._entries: dict[str, dict[str, Entry]] = {}
        self._suffixes: dict[str, dict[tuple[str, str], tuple[frozenset, str]]] = {}
        self._word_scores: dict[str, tuple[dict[str, float], float]] = {}
        # treebank -> (sign, value) -> log P; a lexicon from before signs has none
        self._sign_scores = {tb: _sign_scores(c) for tb, c in header.get("signs", {}).items()}
        self.text_forms: dict[str, int] = header.get("text_forms", {})  # language -> forms of its text lexicon
        self._text_blocks = text_blocks or {}
        self._text_entries: dict[str, dict[str, Entry]] = {}

    # -- building --
    @classmethod
    def learn(cls, files: Iterable[str | Path], min_count: int = 1, text: Iterable[str | Path] = ()) -> WordLexicon:
        """From treebank train files (<id>/<id>-ud-train.conllu[.xz]); machine-labelled ones
        (ids ending in _pseudo) are left out. Forms seen fewer than min_count times in a
        treebank are left out of its lexicon (a smaller file). text: machine-labelled files
        (<lang>_pseudo/...conllu[.xz]) whose UPOS make each language's text lexicon, of the forms
        no train split of that language has."""
        per_treebank: dict[str, dict[str, Counter]] = {}
        guess = GuessCounts()
        for path in sorted(Path(f) for f in files):
            treebank = treebank_id(path)
            if treebank.endswith("_pseudo"):
                continue
            counts = per_treebank.setdefault(treebank, defaultdict(Counter))
            for sentence in read_conllu(path):
                guess.add(treebank, sentence)
                for word, upos, feats in zip(sentence.words, sentence.upos or [], sentence.feats or []):
                    counts[word.lower()][(upos, normalize_feats(feats))] += 1
        if not per_treebank:
            raise InputError("polytag lexicon: no treebank train files")
        upos_ids: dict[str, int] = {}
        feats_ids: dict[str, int] = {}
        blocks, forms = {}, {}
        for treebank, counts in sorted(per_treebank.items()):
            lines = []
            for form, pairs in sorted(counts.items()):
                if sum(pairs.values()) < min_count or "\t" in form or "\n" in form:
                    continue
                cells = [f"{upos_ids.setdefault(u, len(upos_ids))}.{feats_ids.setdefault(f, len(feats_ids))}:{n}"
                         for (u, f), n in sorted(pairs.items(), key=lambda p: (-p[1], p[0]))]  # fmt: skip
                lines.append(f"{form}\t{','.join(cells)}")
            blocks[treebank] = _pack("\n".join(lines))
            forms[treebank] = len(lines)
        text_blocks, text_forms = {}, {}
        for language, counts in sorted(_text_counts(text, guess.words).items()):
            lines = [f"{form}\t{','.join(str(upos_ids.setdefault(u, len(upos_ids))) for u, _ in tags.most_common())}"
                     for form, tags in sorted(counts.items()) if "\t" not in form and "\n" not in form]  # fmt: skip
            if lines:
                text_blocks[language], text_forms[language] = _pack("\n".join(lines)), len(lines)
        cues, glued, signs = guess.learned()
        header = {"format": FORMAT, "version": VERSION, "min_count": min_count,
                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "upos": list(upos_ids), "feats": list(feats_ids),
                  "cues": cues, "glued_cues": glued, "forms": forms,
                  "signs": signs}  # fmt: skip
        if text_forms:
            header["text_forms"] = text_forms
        return cls(header, blocks, text_blocks)

    @classmethod
    def learn_folder(cls, data: str | Path, min_count: int = 1, text: Iterable[str | Path] = ()) -> WordLexicon:
        """From every <id>/<id>-ud-train.conllu[.gz/.xz] of a treebank folder (see learn); text:
        folders of machine-labelled <lang>_pseudo treebanks for the text lexicons."""
        files = sorted(Path(data).glob("*/*-ud-train.conllu*"))
        if not files:
            raise InputError(f"{data}: no */*-ud-train.conllu(.gz/.xz) files")
        text_files = []
        for folder in text:
            found = sorted(Path(folder).glob("*_pseudo/*-ud-train.conllu*"))
            if not found:
                raise InputError(f"{folder}: no <lang>_pseudo/*-ud-train.conllu(.gz/.xz) files")
            text_files += [f for f in found if f.stat().st_size > 0]  # empty: a language with no text left there
        return cls.learn(files, min_count, text_files)

    def save(self, path: str | Path) -> None:
        offsets, text_offsets, at = {}, {}, 0
        for table, blocks in ((offsets, self._blocks), (text_offsets, self._text_blocks)):
            for key, block in blocks.items():
                table[key] = [at, len(block)]
                at += len(block)
        header = {**self.header, "blocks": offsets}
        if text_offsets:
            header["text_blocks"] = text_offsets
        head = _pack(json.dumps(header, ensure_ascii=False, separators=(",", ":")))
        with open(path, "wb") as f:
            f.write(f"{FORMAT} {VERSION} {len(head)}\n".encode("ascii"))
            f.write(head)
            for block in (*self._blocks.values(), *self._text_blocks.values()):
                f.write(block)

    @classmethod
    def load(cls, path: str | Path) -> WordLexicon:
        try:
            data = Path(path).read_bytes()
            first, _, rest = data.partition(b"\n")
            name, version, size = first.decode("ascii").split(" ")
            if name != FORMAT or int(version) != VERSION:
                raise ValueError(f"not a {FORMAT} version {VERSION} file")
            header = json.loads(lzma.decompress(rest[: int(size)]))
            body = memoryview(rest)[int(size) :]
            blocks = {tb: body[at : at + n] for tb, (at, n) in header.pop("blocks").items()}
            text_blocks = {lang: body[at : at + n] for lang, (at, n) in header.pop("text_blocks", {}).items()}
            return cls(header, blocks, text_blocks, path)
        except (OSError, lzma.LZMAError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"{path}: not a word lexicon ({err})") from None

    # -- lookup --
    @property
    def treebanks(self) -> list[str]:
        return list(self.forms)

    def entries(self, treebank: str) -> dict[str, Entry]:
        """form -> Entry of one treebank (its block read on first use)."""
        if treebank not in self._entries:
            with self._reading(f"treebank {treebank}"):
                self._read_entries(treebank)
        return self._entries[treebank]

    @contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """A block that does not decompress or parse: one error naming the file."""
        try:
            yield
        except (lzma.LZMAError, UnicodeDecodeError, ValueError, IndexError) as err:
            raise InputError(f"{self.source}: not a word lexicon (the block of {what}: {err})") from None

    def _read_entries(self, treebank: str) -> None:
        """One treebank's block: its entries, and the suffix table made from them."""
        text = lzma.decompress(self._blocks[treebank]).decode("utf-8")
        upos, feats = self._upos, self._feats
        single: dict[str, Entry] = {}  # most forms have one (UPOS, FEATS) pair: one Entry each
        out, multi, seen = {}, {}, {}
        for line in text.split("\n") if text else ():
            form, _, cells = line.partition("\t")
            if "," in cells:
                multi[form] = cells
                continue
            ids, _, n = cells.partition(":")
            seen[form] = int(n or 1)
            entry = single.get(ids)
            if entry is None:
                u, _, f = ids.partition(".")
                label_u, label_f = upos[int(u)], feats[int(f)]
                entry = single[ids] = Entry(frozenset((label_u,)), frozenset((label_f,)), label_u, label_f)
            out[form] = entry
        counts: dict[str, Counter] = {}
        for form, cells in multi.items():
            pairs: Counter = Counter()
            for cell in cells.split(","):
                ids, _, count = cell.partition(":")
                u, _, f = ids.partition(".")
                pairs[(upos[int(u)], feats[int(f)])] = int(count)
            counts[form] = pairs
            seen[form] = sum(pairs.values())
        out.update(_entries(counts))
        # suffixes first: a thread that sees the entries finds them (threads share a tagger)
        self._suffixes[treebank] = _suffix_table(out, counts)
        self._word_scores[treebank] = _word_scores(seen)
        self._entries[treebank] = out

    def set_guess(self, cues: dict[str, str], glued: dict[str, str], signs: dict[str, list[int]]) -> None:
        """Replace the cue words, those of them glued elsewhere and the writing signs' counts
        (`learn_guess`)."""
        self.header["cues"], self.header["glued_cues"], self.header["signs"] = cues, glued, signs
        self.cues, self.glued_cues = cues, frozenset(glued)
        self._sign_scores = {tb: _sign_scores(c) for tb, c in signs.items()}

    def describe(self) -> str:
        """What it holds, in a line: forms per treebank and of labelled text."""
        text = (f" + {sum(self.text_forms.values()):,} forms of labelled text in {len(self.text_forms)} languages"
                if self.text_forms else "")
        return f"{sum(self.forms.values()):,} forms in {len(self.treebanks)} treebanks{text}"

    def without_text(self) -> WordLexicon:
        """The same lexicon without its text lexicons (to measure what they change)."""
        header = {k: v for k, v in self.header.items() if k != "text_forms"}
        return WordLexicon(header, self._blocks, None, self.source)

    def text_entries(self, language: str) -> dict[str, Entry]:
        """form -> Entry (UPOS only; FEATS '_') of a language's text lexicon; empty without one."""
        if language not in self._text_entries:
            with self._reading(f"language {language}'s text"):
                self._read_text_entries(language)
        return self._text_entries[language]

    def _read_text_entries(self, language: str) -> None:
        block = self._text_blocks.get(language)
        text = lzma.decompress(block).decode("utf-8") if block is not None else ""
        out, shared = {}, {}  # forms with the same UPOS cells share one Entry (few distinct: fast)
        for line in text.split("\n") if text else ():
            form, _, cells = line.partition("\t")
            entry = shared.get(cells)
            if entry is None:
                tags = [self._upos[int(u)] for u in cells.split(",")]
                entry = shared[cells] = Entry(frozenset(tags), frozenset(("_",)), tags[0], "_")
            out[form] = entry
        self._text_entries[language] = out

    @cached_property
    def by_language(self) -> dict[str, list[str]]:
        """language -> its treebanks, the largest lexicon first (the choice before any evidence)."""
        out: dict[str, list[str]] = defaultdict(list)
        for treebank in sorted(self.forms, key=lambda t: -self.forms[t]):
            out[language_of(treebank)].append(treebank)
        return dict(out)

    def restrict(
        self,
        sentences: list[list[str]],
        upos: list[list[str]],
        feats: list[list[str]],
        treebank: str | None = None,
        documents: list[int] | None = None,
        identify: Callable[[list[str]], str | None] | None = None,
        keys: list[SentenceKeys] | None = None,
    ) -> None:
        """Replace, in place, each label the word never had in training by its most frequent
        one there. treebank: that treebank's lexicon; else (or for a treebank it lacks) each
        sentence gets the lexicon chosen from the sentences so far (see the module doc).
        documents: the sizes of runs of sentences that are unrelated texts (a server's requests
        batched together): each starts with nothing known, so none depends on the others.
        identify: words -> a language code or None, asked for a sentence of a text whose words
        so far hold no cue word at all (a short text, a one-sentence request); its answer is used for
        that sentence only. keys: `sentence_treebanks` of these sentences, if computed already."""
        if keys is None:
            keys = self.sentence_treebanks(sentences, treebank, documents, identify)
        elif len(keys) != len(sentences):
            raise ValueError(f"{len(keys)} treebank keys for {len(sentences)} sentences")
        for words, sentence_upos, sentence_feats, (key, word_keys) in zip(sentences, upos, feats, keys):
            if key is not None:
                self._restrict_sentence(words, sentence_upos, sentence_feats, key, word_keys)

    def sentence_treebanks(self, sentences: list[list[str]], treebank: str | None = None,
                           documents: list[int] | None = None,
                           identify: Callable[[list[str]], str | None] | None = None,
                           text: TextState | None = None,
                           glued: list[Collection[int]] | None = None) -> list[SentenceKeys]:
        """Per sentence, from its words and those before it in its document: the treebank whose
        lexicon decides it (None: no lexicon would do) and, for a sentence in two languages, each
        word's (else None). treebank, documents, identify: as `restrict`. text: the sentences
        continue that text (updated; not with documents). glued: per sentence, the indices of
        its words written glued to the word before, where the input shows it (raw text,
        CoNLL-U's SpaceAfter=No; `glued_tokens`). The tagger gives the network each sentence's
        treebank as its hint, so both decide alike."""
        if text is not None and documents is not None:
            raise ValueError("a text state continues one text: give it without documents")
        sizes = [len(sentences)] if documents is None else documents
        if sum(sizes) != len(sentences) or any(n < 0 for n in sizes):
            raise ValueError(f"documents {documents} do not add up to {len(sentences)} sentences")
        out: list[SentenceKeys] = []
        start = 0
        if glued is not None and len(glued) != len(sentences):
            raise ValueError(f"glued words of {len(glued)} sentences for {len(sentences)} sentences")
        for n in sizes:
            out += self._document_keys(sentences[start : start + n], treebank, identify, text or TextState(),
                                       glued[start : start + n] if glued is not None else None)
            start += n
        return out

    def _document_keys(self, sentences, treebank: str | None, identify, text: TextState,
                       glued: list[Collection[int]] | None = None) -> list[SentenceKeys]:
        text.words += sum(map(len, sentences))
        fixed = treebank if treebank in self.forms else None
        if fixed:
            return [(fixed, None)] * len(sentences)
        languages, likelihood, recent = text.languages, text.likelihood, text.recent
        out: list[SentenceKeys] = []
        for i, words in enumerate(sentences):
            cue_text = cue_words(words, glued[i] if glued is not None else None, self.glued_cues)
            own = self.sentence_cues(cue_text)
            runs = self.language_runs(cue_text) if len(own) >= 2 else []
            mixed = len({language for language, _ in runs}) >= 2  # a sentence in two languages
            key = self._guess(words, languages, likelihood, recent, own, mixed, identify)
            if key is None and identify is not None and not languages:
                key = self.by_language.get(identify(words) or "", [None])[0]
            elif key is not None and identify is not None and not own and self._foreign(words, key):
                # no cue word at all, and words the recent language's lexicon mostly lacks: a
                # sentence in another language (a Polish one after Dutch ones)
                other = identify(words)
                if other is not None and other != language_of(key):
                    key = self.by_language.get(other, [key])[0]
            word_keys = self._mixed_keys(words, key, likelihood, runs) if key is not None and mixed else None
            out.append((key, word_keys))
        return out

    def _restrict_sentence(self, words, sentence_upos, sentence_feats, key: str, keys: list | None) -> None:
        """One sentence's labels against the lexicon of `key` (or each word's, `keys`)."""
        entries, suffixes = self.entries(key), self._suffixes[key]
        text_entries = self.text_entries(language_of(key))
        for i, word in enumerate(words):
            if keys is not None:
                if keys[i] is None:
                    continue
                entries, suffixes = self.entries(keys[i]), self._suffixes[keys[i]]
                text_entries = self.text_entries(language_of(keys[i]))
            form = word.lower()
            entry = entries.get(form)
            if entry is None:  # unseen: no UPOS labelled text never gave it, no FEATS its ending and UPOS never had
                seen_in_text = text_entries.get(form)
                if seen_in_text is not None and sentence_upos[i] not in seen_in_text.upos:
                    sentence_upos[i] = seen_in_text.best_upos
                if len(form) > SUFFIX:
                    ending = suffixes.get((form[-SUFFIX:], sentence_upos[i]))
                    if ending is not None and sentence_feats[i] not in ending[0]:
                        sentence_feats[i] = ending[1]
                continue
            if sentence_upos[i] not in entry.upos:
                sentence_upos[i] = entry.best_upos
            if sentence_feats[i] not in entry.feats:
                sentence_feats[i] = entry.best_feats

    def language_runs(self, words: list[str]) -> list[tuple[str, list[int]]]:
        """The runs of MIXED_RUN or more consecutive cue words of one language (positions of the
        cue words; other words between them do not break a run): a sentence with runs of two
        languages is in both. A lone cue word of another language inside a run is not one."""
        runs: list[tuple[str, list[int]]] = []
        for i, language in enumerate(self._cue_languages(words)):
            if language is None:
                continue
            if runs and runs[-1][0] == language:
                runs[-1][1].append(i)
            else:
                runs.append((language, [i]))
        return [run for run in runs if len(run[1]) >= MIXED_RUN]

    def _mixed_keys(self, words: list[str], key: str, likelihood: Counter,
                    runs: list[tuple[str, list[int]]]) -> list[str | None]:
        """For a sentence in two languages or more (its `language_runs`), each word's treebank:
        that of the language of the nearest cue word of a run (`key` for its own language, else
        the language's treebank likeliest so far)."""
        placed = sorted((i, language) for language, positions in runs for i in positions)
        chosen: dict[str, str | None] = {language_of(key): key}
        out = []
        for i in range(len(words)):
            _, language = min(placed, key=lambda p: (abs(p[0] - i), p[0]))  # a tie: the left one
            if language not in chosen:
                candidates = self.by_language.get(language, [])
                chosen[language] = max(candidates, key=likelihood.__getitem__) if candidates else None
            out.append(chosen[language])
        return out

    def _cue_languages(self, words: Iterable[str]) -> Iterable[str | None]:
        """Each word's language if it is a cue word, else None."""
        return map(self.cues.get, map(str.lower, words))

    def sentence_cues(self, words: Iterable[str]) -> Counter:
        """language -> how many of the words are its cue words."""
        return Counter(language for language in self._cue_languages(words) if language is not None)

    def _weak_cue(self, words: list[str], own: Counter, recent: str) -> str | None:
        """For a sentence whose cue words say another language than the recent one, but not
        clearly (`sentence_language`: one cue word, none of the recent one's; a French sentence
        after English ones, whose only cue is 'lundi'): that language's treebank where most of its
        words are foreign to the recent language's lexicons and not to its own, else None (a rare
        Hungarian form is in no lexicon, nor in Spanish's for 'ide')."""
        cue = max(own, key=own.__getitem__)
        if cue not in self.by_language or recent not in self.by_language:
            return None
        treebank = self.by_language[cue][0]
        foreign = self._foreign(words, self.by_language[recent][0]) and not self._foreign(words, treebank)
        return treebank if foreign else None

    def _foreign(self, words: list[str], treebank: str) -> bool:
        """Whether most of a sentence's words (of letters, two or more) are in neither the
        treebank's lexicon nor its language's text lexicon."""
        entries, text = self.entries(treebank), self.text_entries(language_of(treebank))
        letters = [w.lower() for w in words if len(w) > 1 and w.isalpha()]
        unknown = sum(w not in entries and w not in text for w in letters)
        return len(letters) >= FOREIGN_MIN_WORDS and unknown > FOREIGN_SHARE * len(letters)

    def word_likelihoods(self, treebanks: list[str], words: list[str]) -> list[float]:
        """log P(words) under each treebank's unigram model of its train split's words, over the
        words one of them has: a word none has (a name, a word of another language) would
        favour the smallest treebank, whose unseen words are the likeliest. Plus, where the
        lexicon has them, log P of the sentence's writing signs in each treebank."""
        tables = []
        for treebank in treebanks:
            self.entries(treebank)
            tables.append(self._word_scores[treebank])
        forms = [form for form in map(str.lower, words) if any(form in scores for scores, _ in tables)]
        out = [sum(scores.get(form, unseen) for form in forms) for scores, unseen in tables]
        if all(treebank in self._sign_scores for treebank in treebanks):
            signs = [(i, value) for i, value in enumerate(writing_signs(words)) if value is not None]
            out = [score + sum(self._sign_scores[treebank][sign] for sign in signs)
                   for treebank, score in zip(treebanks, out)]
        return out

    def _guess(self, words, languages: Counter, likelihood: Counter, recent: Counter, own: Counter,
               mixed: bool, identify: Callable[[list[str]], str | None] | None = None) -> str | None:
        """The treebank for one sentence, updating the running scores of languages (cue words,
        the recent ones weigh most) and treebanks (the likelihood of the language's last hundred
        sentences or so under each one's unigram model: a text's treebank is a matter of its
        genre and vocabulary, which a stretch of text shows; `recent`, that of the last ten or so,
        replaces it where it clearly says another: a new document). own: the sentence's cue word
        counts; mixed: whether it is in two languages (its words then move no treebank's score:
        its other half's, some of them in one treebank by chance, names, would decide). identify:
        asked which of two languages the recent words and its own point to alike it is in (the
        first sentence of a text: 'Le chat dort sur le canapé.', German 'dort' and French 'sur')."""
        for language in languages:
            languages[language] *= LANGUAGE_DECAY
        languages.update(own)
        if not languages:
            return None
        current = leading_language(languages, words, identify)
        language = sentence_language(own, current)
        if language is None:
            return self._weak_cue(words, own, current)
        candidates = self.by_language.get(language, [])
        if len(candidates) < 2:
            return candidates[0] if candidates else None
        if not mixed:
            for treebank, score in zip(candidates, self.word_likelihoods(candidates, words)):
                likelihood[treebank] = likelihood[treebank] * WORD_DECAY + score
                recent[treebank] = recent[treebank] * SWITCH_DECAY + score
        best = max(candidates, key=likelihood.__getitem__)
        lately = max(candidates, key=recent.__getitem__)
        if recent[lately] - recent[best] > SWITCH_MARGIN:
            for treebank in candidates:  # (Counter.update would add)
                likelihood[treebank] = recent[treebank]
            return lately
        return best


def _text_counts(files: Iterable[str | Path], train_words: dict[str, Counter]) -> dict[str, dict[str, Counter]]:
    """language -> form -> Counter of UPOS in machine-labelled files (<lang>_pseudo/...), for the
    forms no train split of that language has (those its treebanks' lexicons already decide).
    A language with no treebank is left out: no text is ever looked up in it."""
    out: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for path in sorted(Path(f) for f in files):
        language = language_of(treebank_id(path))
        if language not in train_words:
            continue
        seen = train_words[language]
        counts = out[language]
        for sentence in read_conllu(path):
            for word, upos in zip(sentence.words, sentence.upos or []):
                form = word.lower()
                if form not in seen:
                    counts[form][upos] += 1
    return out


def _pack(text: str) -> bytes:
    return lzma.compress(text.encode("utf-8"), preset=XZ_PRESET)


def load_lexicon(folder: str | Path) -> WordLexicon | None:
    """The model folder's word lexicon, or None when it has none."""
    path = Path(folder) / LEXICON_FILE
    return WordLexicon.load(path) if path.is_file() else None

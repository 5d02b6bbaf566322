"""Raw-text scoring that gives the same numbers as the CoNLL 2018 shared task's official scorer.

A raw-text system segments the text itself, so its tokens, words and sentences need not line
up with the gold ones. Following the official `conll18_ud_eval.py` (ufal/conll2018, MPL 2.0;
this is an independent rewrite of its logic, not a copy):

- Both files are reduced to the concatenation of their token forms with all whitespace
  (Unicode category Zs) removed; the two concatenations must be identical. Every token and
  sentence is then a character span over it, and a gold and a system span match when both ends
  are equal (Tokens, Sentences).
- Words outside multiword tokens align when their token spans are equal. Where multiword
  tokens (MWTs) are involved, the smallest stretch of text holding whole MWTs of either side is
  found, and the words inside it are aligned by a longest common subsequence of their
  lower-cased forms (Words).
- Tag metrics (UPOS, XPOS, UFeats, AllTags, Lemmas) count aligned words whose values agree;
  precision divides by all system words, recall by all gold words, and the aligned accuracy by
  the aligned words only.

Dependency metrics (UAS, LAS, ...) are not computed, so HEAD and DEPREL are not read at all.
"""

from __future__ import annotations

import gzip
import lzma
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from polytag.core.conllu_io import open_text
from polytag.core.errors import InputError

# The universal features of UD v2 as the official scorer lists them; UFeats ignores all others
# (language-specific ones and layered ones such as "Number[psor]").
UNIVERSAL_FEATURES = frozenset({
    "PronType", "NumType", "Poss", "Reflex", "Foreign", "Abbr", "Gender", "Animacy", "Number",
    "Case", "Definite", "Degree", "VerbForm", "Mood", "Tense", "Aspect", "Voice", "Evident",
    "Polarity", "Person", "Polite",
})

METRICS = ("Tokens", "Sentences", "Words", "UPOS", "XPOS", "UFeats", "AllTags", "Lemmas")

_ID, _FORM, _LEMMA, _UPOS, _XPOS, _FEATS = range(6)
_N_COLUMNS = 10


@dataclass(frozen=True, slots=True)
class Span:
    """Characters [start, end) of the whitespace-free text."""

    start: int
    end: int


@dataclass(eq=False, slots=True)
class UDWord:
    """A syntactic word; `token` is the span of its token (the whole MWT for MWT words)."""

    token: Span
    form: str
    lemma: str
    upos: str
    xpos: str
    feats: tuple[str, ...]  # universal features only, sorted, so order does not matter
    in_mwt: bool


@dataclass(slots=True)
class UDDocument:
    """What the scorer needs of one CoNLL-U file."""

    name: str
    text: str  # the token forms concatenated, whitespace removed
    tokens: list[Span]
    token_lines: list[int]  # line number of each token, for error messages
    sentences: list[Span]
    words: list[UDWord]


@dataclass(frozen=True, slots=True)
class Score:
    """One metric; the ratios are in 0..1. aligned_accuracy is None for Tokens, Sentences, Words."""

    precision: float
    recall: float
    f1: float
    aligned_accuracy: float | None
    correct: int
    gold_total: int
    system_total: int
    aligned_total: int | None

    @classmethod
    def from_counts(
        cls, correct: int, gold_total: int, system_total: int, aligned_total: int | None = None
    ) -> Score:
        """Ratios from counts; an empty denominator gives 0.0, as in the official scorer."""
        if aligned_total is None:
            accuracy = None
        else:
            accuracy = correct / aligned_total if aligned_total else 0.0
        return cls(
            precision=correct / system_total if system_total else 0.0,
            recall=correct / gold_total if gold_total else 0.0,
            f1=2 * correct / (gold_total + system_total) if gold_total + system_total else 0.0,
            aligned_accuracy=accuracy,
            correct=correct,
            gold_total=gold_total,
            system_total=system_total,
            aligned_total=aligned_total,
        )


# --------------------------------------------------------------------------- reading CoNLL-U


def _universal_feats(raw: str) -> tuple[str, ...]:
    # "_" and unknown names drop out here, so "_" equals an empty feature list.
    return tuple(sorted(f for f in raw.split("|") if f.split("=", 1)[0] in UNIVERSAL_FEATURES))


def _strip_spaces(form: str) -> str:
    return "".join(c for c in form if unicodedata.category(c) != "Zs")


class _ConlluReader:
    """Line-by-line reader; keeps the state of the sentence and MWT being read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.line_no = 0
        self.pieces: list[str] = []  # token forms, joined into the text at the end
        self.length = 0  # characters read so far
        self.tokens: list[Span] = []
        self.token_lines: list[int] = []
        self.sentences: list[Span] = []
        self.words: list[UDWord] = []
        self.sentence_start: int | None = None  # text offset of the open sentence, if any
        self.sentence_words = 0  # index into words of the open sentence's first word
        self.next_id = 1  # ID the next word of the open sentence must have
        self.mwt: Span | None = None  # the MWT whose words are being read
        self.mwt_last_id = 0

    def error(self, what: str) -> InputError:
        return InputError(f"{self.name}:{self.line_no}: {what}")

    def read(self, stream: Iterable[str]) -> UDDocument:
        try:
            for self.line_no, line in enumerate(stream, start=1):
                self.read_line(line.rstrip("\r\n"))
        except UnicodeDecodeError as exc:
            self.line_no += 1
            raise self.error(f"not UTF-8 text ({exc.reason})") from None
        if self.sentence_start is not None:
            raise self.error("the file does not end with an empty line")
        return UDDocument(
            self.name, "".join(self.pieces), self.tokens, self.token_lines, self.sentences,
            self.words,
        )

    def read_line(self, line: str) -> None:
        if self.sentence_start is None:
            if line.startswith("#"):
                return
            # Any other line opens a sentence, even an empty one (which then is an error).
            self.sentence_start = self.length
            self.sentence_words = len(self.words)
            self.next_id = 1
        elif line.startswith("#"):
            raise self.error("comment inside a sentence; comments must precede its first word")
        if not line:
            self.end_sentence()
            return
        columns = line.split("\t")
        if len(columns) != _N_COLUMNS:
            raise self.error(f"expected {_N_COLUMNS} tab-separated columns, got {len(columns)}")
        if self.mwt is not None:
            self.add_mwt_word(columns)
        elif "." in columns[_ID]:
            return  # empty nodes take no part in the scores
        elif "-" in columns[_ID]:
            self.add_mwt(columns)
        else:
            self.add_plain_word(columns)

    def end_sentence(self) -> None:
        if self.mwt is not None:
            raise self.error(f"sentence ends before word {self.mwt_last_id} of its multiword token")
        if len(self.words) == self.sentence_words:
            raise self.error("empty sentence (two empty lines in a row?)")
        assert self.sentence_start is not None
        self.sentences.append(Span(self.sentence_start, self.length))
        self.sentence_start = None

    def add_token(self, raw_form: str) -> Span:
        # Whitespace inside forms is ignored so that "10 000" matches "10000".
        form = _strip_spaces(raw_form)
        if not form:
            raise self.error("empty FORM")
        span = Span(self.length, self.length + len(form))
        self.pieces.append(form)
        self.length = span.end
        self.tokens.append(span)
        self.token_lines.append(self.line_no)
        return span

    def add_mwt(self, columns: list[str]) -> None:
        first, _, last = columns[_ID].partition("-")
        try:
            first_id, last_id = int(first), int(last)
        except ValueError:
            raise self.error(f"bad multiword token ID {columns[_ID]!r}") from None
        if first_id != self.next_id or last_id < first_id:
            raise self.error(f"multiword token ID {columns[_ID]!r}, expected {self.next_id}-N")
        self.mwt = self.add_token(columns[_FORM])
        self.mwt_last_id = last_id

    def add_mwt_word(self, columns: list[str]) -> None:
        assert self.mwt is not None
        if columns[_ID] != str(self.next_id):
            raise self.error(f"word ID {columns[_ID]!r} inside a multiword token, "
                             f"expected {self.next_id}")
        # Like the official scorer, MWT words keep their FORM as written (it is only compared).
        self.words.append(self.make_word(self.mwt, columns[_FORM], columns, in_mwt=True))
        self.next_id += 1
        if self.next_id > self.mwt_last_id:
            self.mwt = None

    def add_plain_word(self, columns: list[str]) -> None:
        try:
            word_id = int(columns[_ID])
        except ValueError:
            raise self.error(f"bad word ID {columns[_ID]!r}") from None
        if word_id != self.next_id:
            raise self.error(f"word ID {columns[_ID]!r}, expected {self.next_id}")
        span = self.add_token(columns[_FORM])
        self.words.append(self.make_word(span, _strip_spaces(columns[_FORM]), columns, False))
        self.next_id += 1

    @staticmethod
    def make_word(token: Span, form: str, columns: list[str], in_mwt: bool) -> UDWord:
        return UDWord(
            token=token, form=form, lemma=columns[_LEMMA], upos=columns[_UPOS],
            xpos=columns[_XPOS], feats=_universal_feats(columns[_FEATS]), in_mwt=in_mwt,
        )


def load_conllu(stream: Iterable[str], name: str = "<stream>") -> UDDocument:
    """Read CoNLL-U lines; raises InputError("NAME:LINE: ...") on malformed input."""
    return _ConlluReader(name).read(stream)


def load_conllu_file(path: str | Path) -> UDDocument:
    """Read a plain, .gz or .xz CoNLL-U file."""
    path = Path(path)
    try:
        with open_text(path) as stream:
            return load_conllu(stream, str(path))
    except (lzma.LZMAError, gzip.BadGzipFile, EOFError) as exc:
        raise InputError(f"{path}: cannot decompress ({exc})") from None


# --------------------------------------------------------------------------- aligning words


def _past_group(words: list[UDWord], i: int, end: int) -> bool:
    """Whether words[i] lies beyond a multiword group ending at character `end`."""
    if i >= len(words):
        return True
    if words[i].in_mwt:
        return words[i].token.start >= end
    return words[i].token.end > end


def _multiword_group(
    gold: list[UDWord], system: list[UDWord], g: int, s: int
) -> tuple[int, int, int, int]:
    """The smallest run of words around gold[g] / system[s] (one is an MWT word) that holds
    whole MWTs of both sides: (gold start, system start, gold end, system end)."""
    if gold[g].in_mwt:
        end = gold[g].token.end
        # A plain system word that starts before the MWT stays out of the group.
        if not system[s].in_mwt and system[s].token.start < gold[g].token.start:
            s += 1
    else:  # system[s] is the MWT word and gold[g] a plain one
        end = system[s].token.end
        if gold[g].token.start < system[s].token.start:
            g += 1
    g_start, s_start = g, s
    # Take words in text order (gold first on ties); each MWT reached may push the end further.
    while not (_past_group(gold, g, end) and _past_group(system, s, end)):
        take_gold = g < len(gold) and (
            s >= len(system) or gold[g].token.start <= system[s].token.start
        )
        word = gold[g] if take_gold else system[s]
        if word.in_mwt:
            end = max(end, word.token.end)
        if take_gold:
            g += 1
        else:
            s += 1
    return g_start, s_start, g, s


def _align_by_lcs(gold: list[UDWord], system: list[UDWord]) -> list[tuple[UDWord, UDWord]]:
    """Pairs from a longest common subsequence of lower-cased forms, walked as the official
    scorer does: equal forms pair at once, otherwise skip the side that keeps the LCS."""
    gold_forms = [w.form.lower() for w in gold]
    system_forms = [w.form.lower() for w in system]
    n, m = len(gold_forms), len(system_forms)
    # lcs[i][j] = LCS length of gold_forms[i:] and system_forms[j:]
    lcs = [[0] * (m + 1) for _ in range(n + 1)]
    for i in reversed(range(n)):
        for j in reversed(range(m)):
            if gold_forms[i] == system_forms[j]:
                lcs[i][j] = 1 + lcs[i + 1][j + 1]
            else:
                lcs[i][j] = max(lcs[i + 1][j], lcs[i][j + 1])
    pairs = []
    i = j = 0
    while i < n and j < m:
        if gold_forms[i] == system_forms[j]:
            pairs.append((gold[i], system[j]))
            i += 1
            j += 1
        elif lcs[i][j] == lcs[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def align_words(gold: list[UDWord], system: list[UDWord]) -> list[tuple[UDWord, UDWord]]:
    """(gold word, system word) pairs, in text order, as the official scorer aligns them."""
    pairs: list[tuple[UDWord, UDWord]] = []
    g = s = 0
    while g < len(gold) and s < len(system):
        if gold[g].in_mwt or system[s].in_mwt:
            g_start, s_start, g, s = _multiword_group(gold, system, g, s)
            pairs.extend(_align_by_lcs(gold[g_start:g], system[s_start:s]))
        elif gold[g].token == system[s].token:
            pairs.append((gold[g], system[s]))
            g += 1
            s += 1
        elif gold[g].token.start <= system[s].token.start:
            g += 1
        else:
            s += 1
    return pairs


# --------------------------------------------------------------------------- scoring


def _first_difference(a: str, b: str) -> int:
    """Index of the first character where a and b differ (len of the shorter if a prefix)."""
    limit = min(len(a), len(b))
    i, step = 0, 4096
    while i + step <= limit and a[i : i + step] == b[i : i + step]:
        i += step  # skip equal chunks quickly; texts run to millions of characters
    while i < limit and a[i] == b[i]:
        i += 1
    return i


def _where(doc: UDDocument, index: int) -> str:
    """'NAME:LINE' of the token holding character `index`, or 'NAME (end)' past the text."""
    if index >= len(doc.text):
        return f"{doc.name} (end of text)"
    token = bisect_right(doc.tokens, index, key=lambda span: span.start) - 1
    return f"{doc.name}:{doc.token_lines[token]}"


def _check_same_text(gold: UDDocument, system: UDDocument) -> None:
    if gold.text == system.text:
        return
    i = _first_difference(gold.text, system.text)
    raise InputError(
        f"{_where(gold, i)} vs {_where(system, i)}: gold and system texts differ at character "
        f"{i} (whitespace ignored): gold has {gold.text[i:i + 20]!r}, "
        f"system has {system.text[i:i + 20]!r}"
    )


def _span_score(gold: list[Span], system: list[Span]) -> Score:
    """Spans match when both ends agree; both lists are in text order."""
    correct = g = s = 0
    while g < len(gold) and s < len(system):
        if system[s].start < gold[g].start:
            s += 1
        elif gold[g].start < system[s].start:
            g += 1
        else:
            correct += gold[g].end == system[s].end
            g += 1
            s += 1
    return Score.from_counts(correct, len(gold), len(system))


_Agree = Callable[[UDWord, UDWord], bool]

# For each tag metric: whether an aligned (gold, system) pair counts as correct.
_TAG_AGREEMENT: dict[str, _Agree] = {
    "UPOS": lambda g, s: g.upos == s.upos,
    "XPOS": lambda g, s: g.xpos == s.xpos,
    "UFeats": lambda g, s: g.feats == s.feats,
    "AllTags": lambda g, s: (g.upos, g.xpos, g.feats) == (s.upos, s.xpos, s.feats),
    # A gold lemma "_" means "not annotated": any system lemma counts as right.
    "Lemmas": lambda g, s: g.lemma == "_" or g.lemma == s.lemma,
}


def evaluate(gold: UDDocument, system: UDDocument) -> dict[str, Score]:
    """Scores for METRICS; raises InputError when the two texts differ."""
    _check_same_text(gold, system)
    pairs = align_words(gold.words, system.words)
    n_gold, n_system, n_aligned = len(gold.words), len(system.words), len(pairs)
    scores = {
        "Tokens": _span_score(gold.tokens, system.tokens),
        "Sentences": _span_score(gold.sentences, system.sentences),
        "Words": Score.from_counts(n_aligned, n_gold, n_system),
    }
    for metric, agree in _TAG_AGREEMENT.items():
        correct = sum(1 for g, s in pairs if agree(g, s))
        scores[metric] = Score.from_counts(correct, n_gold, n_system, n_aligned)
    return scores


def evaluate_files(gold_path: str | Path, system_path: str | Path) -> dict[str, Score]:
    """evaluate() on two plain, .gz or .xz CoNLL-U files."""
    return evaluate(load_conllu_file(gold_path), load_conllu_file(system_path))


def format_scores(scores: dict[str, Score]) -> str:
    """A table in percent, laid out like the official scorer's verbose output."""
    lines = ["Metric     | Precision |    Recall |  F1 Score | AligndAcc",
             "-----------+-----------+-----------+-----------+-----------"]
    for metric in METRICS:
        score = scores[metric]
        accuracy = "" if score.aligned_accuracy is None else f"{100 * score.aligned_accuracy:10.2f}"
        lines.append(f"{metric:11}|{100 * score.precision:10.2f} |{100 * score.recall:10.2f} "
                     f"|{100 * score.f1:10.2f} |{accuracy}")
    return "\n".join(lines)

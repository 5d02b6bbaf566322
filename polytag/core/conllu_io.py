"""Reading and writing sentences: CoNLL-U (every column kept), plain text and JSON lines.

Readers stream: they yield one `Sentence` at a time and never hold a whole file. Lines are
decoded one by one, so a problem is reported with its file and line. With `on_error="stop"`
(the default) every problem is raised as `InputError("<file>:<line>: <what>")`, after all
earlier sentences have been yielded, so callers can write what they already have first. With
"skip" or "keep" a bad sentence is yielded with `error` set and reading goes on: "skip" leaves
it untagged; "keep" still tags it when its words could be read (only a word limit was broken).
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import lzma
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from .errors import InputError

# Limits that turn pathological input into a clear error instead of a hang or OOM.
MAX_WORD_CHARS = 1000
MAX_SENTENCE_WORDS = 20000
ON_ERROR = ("stop", "skip", "keep")

_C0_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INT_ID = re.compile(r"[1-9][0-9]*\Z")
_RANGE_ID = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)\Z")
_EMPTY_ID = re.compile(r"(0|[1-9][0-9]*)\.[1-9][0-9]*\Z")
_FEATS_PART = re.compile(r"[^=|\s]+=[^=|\s]+\Z")  # Name=Value; every part in the UD data passes
_COMMENT_KEYS = ("sent_id", "text")  # CoNLL-U comments kept in JSON-lines output


@dataclass
class Sentence:
    """One sentence. `lines` holds the raw CoNLL-U lines (comments, multiword-token
    ranges, empty nodes, words) so output reproduces every column; `word_lines`
    indexes the syntactic words among them. For text/JSON input `lines` is built.
    `error`: what is wrong with it (on_error skip/keep); `taggable`: whether its words
    could still be read and tagged."""

    words: list[str]
    upos: list[str] | None = None
    feats: list[str] | None = None
    lines: list[str] | None = None
    word_lines: list[int] | None = None
    source: str = "<input>"
    line_no: int = 0
    meta: dict = field(default_factory=dict)
    error: str | None = None
    taggable: bool = True


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")


def open_binary(path: str | Path | IO[bytes]) -> IO[bytes]:
    """Open plain, .gz or .xz bytes; '-' is stdin; an open binary stream is used as it is."""
    if hasattr(path, "read"):
        return path
    if str(path) == "-":
        return sys.stdin.buffer
    path = Path(path)
    _check_path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".xz":
        return lzma.open(path, "rb")
    return open(path, "rb")


XZ_PRESET = 9 | lzma.PRESET_EXTREME  # files the model folder ships: smallest, read once


def read_bytes(path: str | Path) -> bytes:
    """A file's bytes, decompressed where the name ends in .gz or .xz."""
    with open_binary(path) as f:
        return f.read()


def write_text(path: str | Path, text: str) -> None:
    """UTF-8 text, xz-compressed where the name ends in .xz."""
    data = text.encode("utf-8")
    Path(path).write_bytes(lzma.compress(data, preset=XZ_PRESET) if Path(path).suffix == ".xz" else data)


def open_text(path: str | Path) -> IO[str]:
    """Open plain, .gz or .xz text; '-' is stdin. A UTF-8 byte order mark is skipped."""
    if str(path) == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="strict")
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="strict")


def _input_name(path: str | Path, name: str | None) -> str:
    return name or ("<stdin>" if str(path) == "-" else str(path))


def _check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}")


def normalize_feats(feats: str) -> str:
    """Canonical FEATS: features sorted case-insensitively (the UD order), '_' if empty."""
    if feats in ("_", ""):
        return "_"
    parts = feats.split("|")
    return "|".join(sorted(parts, key=lambda p: p.split("=", 1)[0].lower()))


def check_word(word: str, where: str) -> None:
    if not word:
        raise InputError(f"{where}: empty word")
    if len(word) > MAX_WORD_CHARS:
        raise InputError(f"{where}: word of {len(word)} characters (limit {MAX_WORD_CHARS})")
    # C0 controls and DEL break terminals and downstream tools. C1 controls (U+0080-U+009F)
    # are let through: real treebanks contain them (eu_bdt has U+0097 from mis-encoded text).
    bad = _C0_CONTROL.search(word)
    if bad:
        ch = bad.group()
        raise InputError(f"{where}: control character U+{ord(ch):04X} in word {word[:30]!r}")


def _lines(path: str | Path, name: str, on_error: str = "stop") -> Iterator[tuple[int, str, str | None]]:
    """(line number, the line without its end of line, its problem or None). Each line is
    decoded on its own, so invalid UTF-8 is reported with its line, after every line before it."""
    stream = open_binary(path)
    try:
        for number, raw in enumerate(stream, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            problem = None
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                problem = f"{name}:{number}: not UTF-8 text ({err.reason} at byte {err.start + 1} of the line)"
                if on_error == "stop":
                    raise InputError(problem) from None
                text = raw.decode("utf-8", errors="replace")
            yield number, text.rstrip("\r\n"), problem
    except (EOFError, lzma.LZMAError, gzip.BadGzipFile) as err:
        raise InputError(f"{name}: cannot read compressed file ({err})") from None
    except OSError as err:
        raise InputError(f"{name}: cannot read ({err.strerror or err})") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _format_hint(line: str) -> str:
    """What a first line that does not parse looks like, for the error message."""
    stripped = line.strip()
    if stripped.startswith("{"):
        return "; it looks like JSON lines: use --format jsonl"
    if "\t" in stripped or stripped.startswith("#"):
        return "; it looks like CoNLL-U: use --format conllu"
    # raw, not words: most plain text is running text, and raw also takes pre-split words
    return "; it looks like plain text: use --format raw (or --format words if its words are split by spaces)"


class _WordProblems:
    """Word-limit problems of one sentence: raised at once, or collected (on_error keep)."""

    def __init__(self, collect: bool):
        self.collect, self.first = collect, None

    def check(self, word: str, where: str) -> None:
        try:
            check_word(word, where)
        except InputError as err:
            if not self.collect:
                raise
            self.first = self.first or str(err)


def _parse_block(block: list[tuple[int, str]], name: str, keep_words: bool = False) -> Sentence:
    lines, word_lines, words, upos, feats = [], [], [], [], []
    meta: dict = {}
    problems = _WordProblems(keep_words)
    expected = 1
    for number, line in block:
        where = f"{name}:{number}"
        lines.append(line)
        if line.startswith("#"):
            key, sep, value = line[1:].partition("=")
            if sep and key.strip() in _COMMENT_KEYS:
                meta[key.strip()] = value.strip()
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise InputError(f"{where}: expected 10 tab-separated columns, got {len(cols)}")
        token_id = cols[0]
        if _INT_ID.match(token_id):
            if int(token_id) != expected:
                raise InputError(f"{where}: word ID {token_id} out of sequence (expected {expected})")
            expected += 1
            problems.check(cols[1], where)
            # conllu's parser accepts "Animacy|Case=Nom"; labels.split_feats would crash on it later
            if cols[5] not in ("_", "") and not all(_FEATS_PART.match(p) for p in cols[5].split("|")):
                raise InputError(f"{where}: bad FEATS {cols[5]!r} (expected Name=Value|Name=Value...)")
            word_lines.append(len(lines) - 1)
            words.append(cols[1])
            upos.append(cols[3])
            feats.append(normalize_feats(cols[5]))
            if len(words) > MAX_SENTENCE_WORDS:
                raise InputError(f"{where}: sentence longer than {MAX_SENTENCE_WORDS} words")
        elif m := _RANGE_ID.match(token_id):
            if int(m.group(1)) != expected or int(m.group(2)) <= int(m.group(1)):
                raise InputError(f"{where}: bad multiword token range {token_id}")
        elif _EMPTY_ID.match(token_id):
            pass
        else:
            raise InputError(f"{where}: bad ID {token_id!r}")
    if not words:
        raise InputError(f"{name}:{block[0][0]}: sentence has no words")
    return Sentence(words, upos, feats, lines, word_lines, name, block[0][0], meta, error=problems.first)


def _conllu_sentence(block: list[tuple[int, str]], problem: str | None, name: str, on_error: str,
                     first: bool) -> Sentence:
    """A block of lines as a Sentence; with on_error skip/keep a bad block becomes a sentence
    with `error` set, its lines kept as they were."""
    try:
        sentence = _parse_block(block, name, keep_words=on_error == "keep")
    except InputError as err:
        message = str(err) + (_format_hint(block[0][1]) if first and not block[0][1].startswith("#") else "")
        if on_error == "stop":
            raise InputError(message) from None
        return Sentence([], lines=[line for _, line in block], source=name, line_no=block[0][0], error=message,
                        taggable=False)
    if problem:  # invalid UTF-8 in the block, read with replacement characters
        sentence.error, sentence.taggable = problem, False
    return sentence


def read_conllu(path: str | Path, name: str | None = None, on_error: str = "stop") -> Iterator[Sentence]:
    """Stream sentences from a CoNLL-U file (plain, .gz, .xz or '-'). A last sentence without the
    blank line the format asks for is read all the same."""
    _check_on_error(on_error)
    name = _input_name(path, name)
    count = 0
    block: list[tuple[int, str]] = []
    problem = None
    for number, line, line_problem in _lines(path, name, on_error):
        if line.strip() == "":
            if block:
                yield _conllu_sentence(block, problem, name, on_error, count == 0)
                count += 1
                block, problem = [], None
            continue
        block.append((number, line))
        problem = problem or line_problem
    if block:
        yield _conllu_sentence(block, problem, name, on_error, count == 0)
        count += 1
    if count == 0:
        raise InputError(f"{name}: empty input (no sentences)")


def _checked_words(words: list, where: str, on_error: str) -> str | None:
    """Raise (stop) or return the first problem of a sentence's words (skip, keep)."""
    try:
        if len(words) > MAX_SENTENCE_WORDS:
            raise InputError(f"{where}: sentence longer than {MAX_SENTENCE_WORDS} words")
        for word in words:
            if not isinstance(word, str):
                raise InputError(f"{where}: word {word!r} is not a string")
            check_word(word, where)
    except InputError as err:
        if on_error == "stop":
            raise
        return str(err)
    return None


def read_text(path: str | Path, name: str | None = None, on_error: str = "stop") -> Iterator[Sentence]:
    """One sentence per line, words separated by spaces; blank lines are skipped."""
    _check_on_error(on_error)
    name = _input_name(path, name)
    count = 0
    for number, line, problem in _lines(path, name, on_error):
        words = line.split()
        if not words:
            continue
        count += 1
        error = problem or _checked_words(words, f"{name}:{number}", on_error)
        taggable = error is None or (on_error == "keep" and not problem and len(words) <= MAX_SENTENCE_WORDS)
        yield Sentence(words, source=name, line_no=number, error=error, taggable=taggable)
    if count == 0:
        raise InputError(f"{name}: empty input (no sentences)")


def _json_words(line: str, where: str) -> tuple[list, dict]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: invalid JSON ({err.msg})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("words"), list):
        raise InputError(f'{where}: expected an object with a "words" list')
    if not obj["words"]:
        raise InputError(f'{where}: "words" is empty')
    return obj["words"], {k: v for k, v in obj.items() if k not in ("words", "upos", "feats")}


def read_jsonl(path: str | Path, name: str | None = None, on_error: str = "stop") -> Iterator[Sentence]:
    """JSON lines: {"words": [...]} per line; other keys are passed through to the output."""
    _check_on_error(on_error)
    name = _input_name(path, name)
    count = 0
    for number, line, problem in _lines(path, name, on_error):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        count += 1
        try:
            if problem:
                raise InputError(problem)
            words, meta = _json_words(line, where)
        except InputError as err:
            if on_error == "stop":
                raise InputError(str(err) + (_format_hint(line) if count == 1 else "")) from None
            yield Sentence([], source=name, line_no=number, error=str(err), taggable=False, meta={"line": line})
            continue
        error = _checked_words(words, where, on_error)
        taggable = error is None or (on_error == "keep" and all(isinstance(w, str) for w in words)
                                     and len(words) <= MAX_SENTENCE_WORDS)
        yield Sentence([str(w) for w in words], source=name, line_no=number, meta=meta, error=error,
                       taggable=taggable)
    if count == 0:
        raise InputError(f"{name}: empty input (no sentences)")


def guess_format(path: str | Path) -> str:
    """The input format a file name says (.conllu, .txt: raw text, .jsonl; under .gz/.xz too); else conllu."""
    name = str(path).lower()
    for compressed in (".gz", ".xz"):
        name = name.removesuffix(compressed)
    suffix = Path(name).suffix
    return {".txt": "raw", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix, "conllu")


# "raw" (text the segmenter splits) is read by polytag.tagging.raw, which needs a model's segmenter;
# "text" is the old name of "words"
READERS = {"conllu": read_conllu, "words": read_text, "text": read_text, "jsonl": read_jsonl}


def _notes(sentence: Sentence, tagged: bool) -> list[str]:
    """The comment that says what was wrong with a sentence that was skipped or kept."""
    if sentence.error is None:
        return []
    return [f"# polytag_{'warning' if tagged else 'error'} = {sentence.error}"]


def format_conllu(sentence: Sentence, upos: list[str] | None, feats: list[str] | None) -> str:
    """CoNLL-U for one tagged sentence: input columns kept, UPOS and FEATS filled in. An untagged
    sentence (upos None: on_error skip) is written through as it came, after a polytag_error comment."""
    tagged = upos is not None
    if sentence.lines is None:
        upos = upos if tagged else ["_"] * len(sentence.words)
        feats = feats if tagged else ["_"] * len(sentence.words)
        rows = [f"{i}\t{w}\t_\t{u}\t_\t{f}\t_\t_\t_\t_"
                for i, (w, u, f) in enumerate(zip(sentence.words, upos, feats), 1)]
        return "\n".join(_notes(sentence, tagged) + rows) + "\n\n"
    lines = list(sentence.lines)
    if tagged:
        for index, u, f in zip(sentence.word_lines, upos, feats):
            cols = lines[index].split("\t")
            cols[3], cols[5] = u, f
            lines[index] = "\t".join(cols)
    return "\n".join(_notes(sentence, tagged) + lines) + "\n\n"


def format_jsonl(sentence: Sentence, upos: list[str] | None, feats: list[str] | None) -> str:
    obj = dict(sentence.meta)
    if sentence.words or "line" not in obj:
        obj.update(words=sentence.words, upos=upos, feats=feats)
    if sentence.error is not None:
        obj["polytag_warning" if upos is not None else "polytag_error"] = sentence.error
    return json.dumps(obj, ensure_ascii=False) + "\n"


WRITERS = {"conllu": format_conllu, "jsonl": format_jsonl}

"""Reading and writing sentences: CoNLL-U (every column kept), plain text and JSON lines.

Readers stream: they yield one `Sentence` at a time and never hold a whole file.
Every problem is raised as `InputError("<file>:<line>: <what>")`, after all earlier
sentences have been yielded, so callers can write what they already have first.
"""

from __future__ import annotations

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

_C0_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INT_ID = re.compile(r"[1-9][0-9]*\Z")
_RANGE_ID = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)\Z")
_EMPTY_ID = re.compile(r"(0|[1-9][0-9]*)\.[1-9][0-9]*\Z")
_FEATS_PART = re.compile(r"[^=|\s]+=[^=|\s]+\Z")  # Name=Value; every part in ../shared/ud passes


@dataclass
class Sentence:
    """One sentence. `lines` holds the raw CoNLL-U lines (comments, multiword-token
    ranges, empty nodes, words) so output reproduces every column; `word_lines`
    indexes the syntactic words among them. For text/JSON input `lines` is built."""

    words: list[str]
    upos: list[str] | None = None
    feats: list[str] | None = None
    lines: list[str] | None = None
    word_lines: list[int] | None = None
    source: str = "<input>"
    line_no: int = 0
    meta: dict = field(default_factory=dict)


def open_text(path: str | Path) -> IO[str]:
    """Open plain, .gz or .xz text; '-' is stdin. A UTF-8 byte order mark is skipped."""
    if str(path) == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="strict")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig")
    if path.suffix == ".xz":
        return lzma.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")


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


def _lines(stream: IO[str], name: str) -> Iterator[tuple[int, str]]:
    try:
        for number, line in enumerate(stream, 1):
            yield number, line
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except (EOFError, lzma.LZMAError, gzip.BadGzipFile, OSError) as err:
        raise InputError(f"{name}: cannot read compressed file ({err})") from None


def _parse_block(block: list[tuple[int, str]], name: str) -> Sentence:
    lines, word_lines, words, upos, feats = [], [], [], [], []
    expected = 1
    for number, line in block:
        where = f"{name}:{number}"
        lines.append(line)
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise InputError(f"{where}: expected 10 tab-separated columns, got {len(cols)}")
        token_id = cols[0]
        if _INT_ID.match(token_id):
            if int(token_id) != expected:
                raise InputError(f"{where}: word ID {token_id} out of sequence (expected {expected})")
            expected += 1
            check_word(cols[1], where)
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
    return Sentence(words, upos, feats, lines, word_lines, name, block[0][0])


def read_conllu(path: str | Path, name: str | None = None) -> Iterator[Sentence]:
    """Stream sentences from a CoNLL-U file (plain, .gz, .xz or '-')."""
    name = name or ("<stdin>" if str(path) == "-" else str(path))
    count = 0
    with open_text(path) as stream:
        block: list[tuple[int, str]] = []
        last_number = 0
        last_raw = "\n"
        for number, raw in _lines(stream, name):
            last_number, last_raw = number, raw
            line = raw.rstrip("\r\n")
            if line.strip() == "":
                if block:
                    yield _parse_block(block, name)
                    count += 1
                    block = []
                continue
            block.append((number, line))
        if block:
            # Still parse it, so a worse problem inside the block is reported first.
            _parse_block(block, name)
            if last_raw.endswith("\n"):
                raise InputError(f"{name}:{last_number}: missing blank line after the last sentence")
            raise InputError(f"{name}:{last_number}: missing newline and blank line at end of file")
    if count == 0:
        raise InputError(f"{name}: empty input (no sentences)")


def read_text(path: str | Path, name: str | None = None) -> Iterator[Sentence]:
    """One sentence per line, words separated by spaces; blank lines are skipped."""
    name = name or ("<stdin>" if str(path) == "-" else str(path))
    count = 0
    with open_text(path) as stream:
        for number, raw in _lines(stream, name):
            line = raw.rstrip("\r\n")
            words = line.split()
            if not words:
                continue
            if len(words) > MAX_SENTENCE_WORDS:
                raise InputError(f"{name}:{number}: sentence longer than {MAX_SENTENCE_WORDS} words")
            for word in words:
                check_word(word, f"{name}:{number}")
            count += 1
            yield Sentence(words, source=name, line_no=number)
    if count == 0:
        raise InputError(f"{name}: empty input (no sentences)")


def read_jsonl(path: str | Path, name: str | None = None) -> Iterator[Sentence]:
    """JSON lines: {"words": [...]} per line; other keys are passed through to the output."""
    name = name or ("<stdin>" if str(path) == "-" else str(path))
    count = 0
    with open_text(path) as stream:
        for number, raw in _lines(stream, name):
            if not raw.strip():
                continue
            where = f"{name}:{number}"
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                raise InputError(f"{where}: invalid JSON ({err.msg})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("words"), list):
                raise InputError(f'{where}: expected an object with a "words" list')
            words = obj["words"]
            if not words:
                raise InputError(f'{where}: "words" is empty')
            if len(words) > MAX_SENTENCE_WORDS:
                raise InputError(f"{where}: sentence longer than {MAX_SENTENCE_WORDS} words")
            for word in words:
                if not isinstance(word, str):
                    raise InputError(f"{where}: word {word!r} is not a string")
                check_word(word, where)
            count += 1
            meta = {k: v for k, v in obj.items() if k not in ("words", "upos", "feats")}
            yield Sentence(list(words), source=name, line_no=number, meta=meta)
    if count == 0:
        raise InputError(f"{name}: empty input (no sentences)")


READERS = {"conllu": read_conllu, "text": read_text, "jsonl": read_jsonl}


def format_conllu(sentence: Sentence, upos: list[str], feats: list[str]) -> str:
    """CoNLL-U for one tagged sentence: input columns kept, UPOS and FEATS filled in."""
    if sentence.lines is None:
        rows = [
            f"{i}\t{w}\t_\t{u}\t_\t{f}\t_\t_\t_\t_"
            for i, (w, u, f) in enumerate(zip(sentence.words, upos, feats), 1)
        ]
        return "\n".join(rows) + "\n\n"
    lines = list(sentence.lines)
    for index, u, f in zip(sentence.word_lines, upos, feats):
        cols = lines[index].split("\t")
        cols[3], cols[5] = u, f
        lines[index] = "\t".join(cols)
    return "\n".join(lines) + "\n\n"


def format_jsonl(sentence: Sentence, upos: list[str], feats: list[str]) -> str:
    obj = dict(sentence.meta)
    obj.update(words=sentence.words, upos=upos, feats=feats)
    return json.dumps(obj, ensure_ascii=False) + "\n"


WRITERS = {"conllu": format_conllu, "jsonl": format_jsonl}

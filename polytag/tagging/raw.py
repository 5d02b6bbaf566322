"""Raw text in. The model folder's segmenter (`segmenter/`: ONNX, numpy, no torch) splits text
into sentences, tokens and syntactic words; each sentence becomes a `Sentence` whose CoNLL-U
lines carry what a UD file of raw text carries (`# newdoc`, `# newpar`, `# sent_id`, `# text`,
multiword-token ranges, `SpaceAfter=No`, and `TokenRange=start:end`, character offsets into the
input, as UDPipe writes them), so the tagger and the writers need nothing new.

Input is read in chunks: a 1 GB file or a 100 MB paragraph without a newline is segmented in
bounded memory. Paragraphs are separated by blank lines.
"""

from __future__ import annotations

import codecs
import re
import sys
from collections import deque
from itertools import chain
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..core.conllu_io import Sentence, format_conllu, open_binary
from ..core.errors import InputError
from ..core.read_ahead import read_ahead_beside
from ..core.evaluate import AUTO_TREEBANK, file_keys, file_treebank, treebank_of
from ..core.variants import load_variants
from ..core.segmentation import RawSentence, raw_text, read_gold_sentences, text_chunks
from ..core.ud_eval import evaluate, load_conllu, load_conllu_file
from ..core.word_lexicon import TextState

SEGMENTER_DIR = "segmenter"
CHUNK_BYTES = 1 << 16
# without a hint: the characters of a text's head its treebank is guessed from (dev, raw text:
# Tokens / Words / Sentences 99.10 / 98.44 / 88.71 with no guess, 99.15 / 98.54 / 89.26 with it),
# in a text of MIN_GUESS_CHARS or more: a shorter one (a server's request) would be segmented
# twice, and its words say little (about 440 characters: 25 ms a text without, 34 with;
# benchmarks/raw_requests.py)
GUESS_CHARS = 5000
MIN_GUESS_CHARS = 2000
_NEWLINE = re.compile("\n")
_SPACES = re.compile(r"\s+")


def read_text_chunks(path: str | Path, name: str) -> Iterator[str]:
    """Decoded chunks of a file (plain, .gz, .xz or '-'); a byte order mark is dropped, and
    invalid UTF-8 is an InputError naming the line, after every chunk before it."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    stream = open_binary(path)
    lines_before, first = 0, True
    try:
        while True:
            raw = stream.read(CHUNK_BYTES)
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as err:
                good = raw[: max(err.start, 0)].decode("utf-8", errors="ignore")
                line = lines_before + good.count("\n") + 1
                raise InputError(f"{name}:{line}: not UTF-8 text ({err.reason})") from None
            if first and text.startswith("\ufeff"):
                text = text[1:]
            first = first and not text
            lines_before += text.count("\n")
            if text:
                yield text
            if not raw:
                return
    except (EOFError, OSError) as err:
        raise InputError(f"{name}: cannot read ({err})") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


class NewlineLog:
    """Where the newlines of a stream are, kept only for the text not yet segmented, so that a
    blank line between two sentences (a new paragraph) can be found in bounded memory."""

    def __init__(self):
        self.positions: deque[int] = deque()
        self.offset = 0

    def watch(self, chunks: Iterable[str]) -> Iterator[str]:
        for chunk in chunks:
            self.positions.extend(self.offset + m.start() for m in _NEWLINE.finditer(chunk))
            self.offset += len(chunk)
            yield chunk

    def newlines_between(self, start: int, end: int) -> int:
        while self.positions and self.positions[0] < start:
            self.positions.popleft()
        return sum(1 for p in self.positions if p < end)


def sentence_lines(raw: RawSentence, number: int, new_doc: bool, new_par: bool) -> tuple[list[str], list[int]]:
    """CoNLL-U lines (words untagged) of a segmented sentence, and which of them are words."""
    lines = (["# newdoc"] if new_doc else []) + (["# newpar"] if new_par else [])
    lines += [f"# sent_id = {number}", f"# text = {_SPACES.sub(' ', raw.text).strip()}"]
    word_lines, word_id = [], 1
    for token in raw.tokens:
        misc = ("SpaceAfter=No|" if not token.space_after else "") + f"TokenRange={token.start}:{token.end}"
        if len(token.words) > 1:
            last = word_id + len(token.words) - 1
            lines.append(f"{word_id}-{last}\t{token.form}\t_\t_\t_\t_\t_\t_\t_\t{misc}")
            for word in token.words:
                word_lines.append(len(lines))
                lines.append(f"{word_id}\t{word}\t_\t_\t_\t_\t_\t_\t_\t_")
                word_id += 1
        else:
            word_lines.append(len(lines))
            lines.append(f"{word_id}\t{token.words[0]}\t_\t_\t_\t_\t_\t_\t_\t{misc}")
            word_id += 1
    return lines, word_lines


class HintGuesser:
    """Segmented sentences of one text, given in order -> (the treebank the tagger's word lexicon
    takes the text for after them where the segmenter takes its hint, else None; the index of
    the first of the last sentences read as it). `segmenter.guess_treebank` goes on from the
    sentences given before, as the tagger's guess does; `treebank_of` reads the same state."""

    def __init__(self, segmenter):
        self.segmenter, self.text = segmenter, TextState()

    def __call__(self, sentences: list[RawSentence]) -> tuple[str | None, int]:
        words = [[w for t in s.tokens for w in t.words] for s in sentences]
        treebank, first = self.segmenter.guess_treebank(words, self.text)
        return (treebank, first) if treebank in self.segmenter.treebank_hints else (None, first)

    def treebank_of(self, language: str) -> str | None:
        """The language's treebank the text reads most like so far (a line in another language
        than the guessed treebank's: `MwtExpander.treebank_of`)."""
        of = getattr(self.segmenter, "language_treebank", None)
        return of(language, self.text) if of is not None else None


def hint_guesser(segmenter) -> HintGuesser | None:
    """A `HintGuesser` of one text; None when the segmenter cannot guess."""
    if getattr(segmenter, "guess_treebank", None) is None or not segmenter.treebank_hints:
        return None
    return HintGuesser(segmenter)


def guessed_treebank(segmenter, chunks: Iterable[str], guess) -> tuple[Iterable[str], str | None]:
    """Without a hint: the treebank whose conventions (hyphens, sentence ends) the text is
    segmented with, guessed (`hint_guesser`) from its first GUESS_CHARS characters segmented
    with none, in a text of MIN_GUESS_CHARS or more; -> (the same chunks, the hint or None).
    Only that head is segmented twice, and it is held in memory meanwhile."""
    chunks = iter(chunks)
    head, size = [], 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size >= GUESS_CHARS:
            break
    text = "".join(head)
    if len(text) < MIN_GUESS_CHARS:
        return [text], None
    return chain([text], chunks), guess(list(segmenter.segment(text[:GUESS_CHARS])))[0]


def raw_sentences(segmenter, chunks: Iterable[str], name: str = "<text>",
                  treebank: str | None = None) -> Iterator[Sentence]:
    """Sentences of raw text arriving in chunks, ready to tag and write. treebank: a convention
    hint for a segmenter trained with hints (others, and ids it does not know, ignore it);
    without one, the one `guessed_treebank` takes the text for, guessed again as it goes on
    (`segment_with`: a text that changes language is not segmented as its start's treebank)."""
    guess = hint_guesser(segmenter) if treebank is None else None
    if guess is not None:  # the head on its own (the stream reads it again)
        chunks, treebank = guessed_treebank(segmenter, chunks, hint_guesser(segmenter))
    log = NewlineLog()
    previous_end, number = 0, 0
    for raw in segmenter.segment_stream(log.watch(chunks), treebank, guess):
        number += 1
        new_par = number == 1 or log.newlines_between(previous_end, raw.start) >= 2
        previous_end = raw.end
        lines, word_lines = sentence_lines(raw, number, number == 1, new_par)
        tokens = [{"form": t.form, "start": t.start, "end": t.end, "space_after": t.space_after, "words": t.words}
                  for t in raw.tokens]
        words = [w for t in raw.tokens for w in t.words]
        yield Sentence(words, lines=lines, word_lines=word_lines, source=name, line_no=number,
                       meta={"sent_id": str(number), "text": raw.text, "new_par": new_par, "tokens": tokens})
    if number == 0:
        raise InputError(f"{name}: empty input (no text)")


def check_segmenter(model_folder: str | Path) -> Path:
    """The model folder's segmenter folder; a clear error if it has none."""
    folder = Path(model_folder) / SEGMENTER_DIR
    if not folder.is_dir():
        raise InputError(f"{model_folder}: the model folder has no {SEGMENTER_DIR}/, so it cannot read raw text "
                         "(use --format words for words split by spaces)")
    return folder


def load_segmenter(model_folder: str | Path, threads: int | None = None):
    """The model folder's segmenter; a clear error if it has none."""
    folder = check_segmenter(model_folder)
    from .segmenter import Segmenter  # noqa: PLC0415 - onnxruntime; only when raw text is read

    return Segmenter.load(folder, threads=threads or 1, variants=load_variants(model_folder))


def read_raw(path: str | Path, segmenter, name: str | None = None, treebank: str | None = None) -> Iterator[Sentence]:
    name = name or ("<stdin>" if str(path) == "-" else str(path))
    return raw_sentences(segmenter, read_text_chunks(path, name), name, treebank)


def segment_text(segmenter, text: str, name: str = "<text>", treebank: str | None = None) -> list[Sentence]:
    """The sentences of a text held in memory; [] for empty or blank text."""
    if not text.strip():
        return []
    return list(raw_sentences(segmenter, text_chunks(text, CHUNK_BYTES), name, treebank))


def nested(sentence: Sentence, upos: list[str], feats: list[str]) -> dict:
    """One tagged raw-text sentence as {"text", "tokens": [{"form", "start", "end", "space_after",
    "words": [{"form", "upos", "feats"}]}]} (the API's and the server's shape)."""
    tags = iter(zip(sentence.words, upos, feats))
    tokens = [{**{k: t[k] for k in ("form", "start", "end", "space_after")},
               "words": [dict(zip(("form", "upos", "feats"), next(tags))) for _ in t["words"]]}
              for t in sentence.meta["tokens"]]
    return {"text": sentence.meta["text"], "tokens": tokens}


def segmenter_treebank(tagger, treebank: str | None) -> str | None:
    """The hint to segment with: this call's, else the tagger's own (set_treebank), which holds
    for segmenting too rather than a guess."""
    return treebank if treebank is not None else getattr(tagger, "treebank", None)


def tag_text(tagger, segmenter, text: str, x_second_best: bool = False, treebank: str | None = None) -> list[dict]:
    """Raw text -> sentences -> tokens (with character offsets into `text`) -> words."""
    if treebank is not None:
        tagger.hint_row(treebank)  # an unknown id is an error before any work
    sentences = segment_text(segmenter, text, treebank=segmenter_treebank(tagger, treebank))
    return [nested(s, u, f) for s, u, f in tagger.tag_stream(sentences, x_second_best, treebank=treebank)]


RAW_METRICS = ("Tokens", "Sentences", "Words", "UPOS", "UFeats")


def evaluate_raw(tagger, segmenter, gold_paths: list[str | Path], text_paths: list[str | Path] | None = None,
                 x_second_best: bool = False, treebank: str | None = None,
                 on_file: Callable[[str, int, int], None] | None = None) -> dict:
    """Segment and tag each gold file's raw text (rebuilt from it as the CoNLL 2018 task did, or
    read from `text_paths`), then score it against the gold file with the CoNLL 2018 alignment:
    {"files": {key: {metric: F1 %}}, "macro": {metric: F1 %}}. on_file(key, its number from 1,
    files in all): told as each file begins."""
    if text_paths is not None and len(text_paths) != len(gold_paths):
        raise InputError(f"--text: give one text file per gold file ({len(gold_paths)}), not {len(text_paths)}")
    files = {}
    for i, (key, gold_path) in enumerate(zip(file_keys(gold_paths), gold_paths)):
        if on_file is not None:
            on_file(key, i + 1, len(gold_paths))
        # the segmenter's hint: its own list of ids (every train treebank), not the tagger's
        segmenter_hint = treebank_of(gold_path) if treebank == AUTO_TREEBANK else treebank
        if text_paths is not None:
            sentences = read_raw(text_paths[i], segmenter, treebank=segmenter_hint)
        else:
            text = raw_text(read_gold_sentences(gold_path))
            sentences = raw_sentences(segmenter, text_chunks(text, CHUNK_BYTES), str(gold_path), segmenter_hint)
        hint = file_treebank(tagger, gold_path, treebank)  # as in core.evaluate.evaluate_files
        with read_ahead_beside(tagger, sentences) as ahead:  # segmenting beside tagging, as `polytag tag`
            system = "".join(format_conllu(s, u, f) for s, u, f in tagger.tag_stream(ahead, x_second_best,
                                                                                        treebank=hint))
        scores = evaluate(load_conllu_file(gold_path), load_conllu(system.splitlines(), f"system output for {key}"))
        files[key] = {m: round(100 * scores[m].f1, 2) for m in RAW_METRICS}
    macro = {m: round(sum(f[m] for f in files.values()) / len(files), 2) for m in RAW_METRICS} if files else {}
    return {"files": files, "macro": macro}


def format_raw_table(result: dict) -> str:
    rows = [f"{'file':<32}" + "".join(f"{m:>10}" for m in RAW_METRICS)]
    for key, r in result["files"].items():
        rows.append(f"{key:<32}" + "".join(f"{r[m]:>10.2f}" for m in RAW_METRICS))
    m = result["macro"]
    rows.append(f"{'macro (' + str(len(result['files'])) + ' files)':<32}" + "".join(f"{m[k]:>10.2f}" for k in RAW_METRICS))
    return "\n".join(rows)

"""Words -> wordpieces -> model inputs, and windows for sentences longer than the encoder.

Each word is tokenized on its own (as `is_split_into_words` does) and cached, so the hot
path is one dict lookup per word; the label of a word is read at its first wordpiece (and,
in a first+last model, its last one too).
A word the tokenizer drops entirely (e.g. only zero-width characters) becomes [UNK],
so every word keeps a first wordpiece.

A sentence written in capitals (a headline, a shouted post) is lowercased first
(`fold_capitals`): training text has few, and the network read them as strings of rare
pieces (dev text in capitals: 81.6 UPOS against 93.0 as written).

`WordChars` gives a model with a character encoder (`ModelConfig.word_chars`) each word's
characters as hashed ids, between begin and end markers, so its prefix and suffix are visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate, chain

import numpy as np

MAX_PIECES_PER_WORD = 16  # later pieces of very long words add cost, not accuracy
CACHE_LIMIT = 500_000


class WordPieces:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.backend = tokenizer.backend_tokenizer
        self.cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        self.sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else self.pad_id
        self.cache: dict[str, list[int]] = {}

    def pieces(self, words: list[str]) -> list[list[int]]:
        self.fill(words)
        cache = self.cache
        return [cache[w] for w in words]

    def fill(self, words) -> None:
        """Tokenize (one Rust batch call) the words not yet cached."""
        cache = self.cache
        wanted = set(words)
        missing = [w for w in wanted if w not in cache]
        if missing:
            if len(cache) + len(missing) > CACHE_LIMIT:
                cache.clear()  # bounded memory: then every word of this call is tokenized again
                missing = list(wanted)
            for word, enc in zip(missing, self.backend.encode_batch(missing, add_special_tokens=False)):
                cache[word] = enc.ids[:MAX_PIECES_PER_WORD] or [self.unk_id]


CHAR_PAD, CHAR_BEGIN, CHAR_END = 0, 1, 2
CHAR_BUCKETS = 16384  # code points are hashed into these ids: no character vocabulary to save


def check_word_chars(max_chars: int) -> None:
    """A character encoder reads at least the begin marker, one character and the end marker."""
    if max_chars < 3:
        raise ValueError(f"word_chars must be 0 or at least 3 (begin, a character, end), not {max_chars}")


def char_ids(word: str, max_chars: int) -> list[int]:
    """[begin, hashed code points..., end]; a longer word keeps its first and last characters
    (the two ends carry the inflection and the derivation), `max_chars` ids in all."""
    body = max_chars - 2
    if len(word) > body:
        word = word[: (body + 1) // 2] + word[len(word) - body // 2 :]
    return [CHAR_BEGIN, *(ord(c) % (CHAR_BUCKETS - 3) + 3 for c in word), CHAR_END]


class WordChars:
    """words -> (n_words, max_chars) int64 character ids, padded with CHAR_PAD; one cached row per word."""

    def __init__(self, max_chars: int):
        check_word_chars(max_chars)
        self.max_chars = max_chars
        self.cache: dict[str, np.ndarray] = {}

    def row(self, word: str) -> np.ndarray:
        row = self.cache.get(word)
        if row is None:
            if len(self.cache) >= CACHE_LIMIT:
                self.cache.clear()
            row = np.zeros(self.max_chars, dtype=np.int64)
            ids = char_ids(word, self.max_chars)
            row[: len(ids)] = ids
            self.cache[word] = row
        return row

    def __call__(self, words) -> np.ndarray:
        rows = [self.row(w) for w in words]
        return np.stack(rows) if rows else np.zeros((0, self.max_chars), dtype=np.int64)


def windows(lengths: list[int], budget: int, overlap: bool) -> list[tuple[int, int, int, int]]:
    """Split a sentence (wordpiece count per word) into windows of at most `budget` pieces.

    Returns (start, end, own_start, own_end) word ranges: the window covers start:end and
    its predictions are used for own_start:own_end. With overlap, consecutive windows share
    a quarter of their words so that every word sees context on both sides.
    """
    n = len(lengths)
    spans = []
    start = 0
    while start < n:
        end, total = start, 0
        while end < n and total + lengths[end] <= budget:
            total += lengths[end]
            end += 1
        end = max(end, start + 1)
        spans.append([start, end])
        if end >= n:
            break
        start = start + max(1, (end - start) * 3 // 4) if overlap else end
    out = []
    for i, (s, e) in enumerate(spans):
        own_s = s if i == 0 else out[-1][3]
        own_e = e if i == len(spans) - 1 else (spans[i + 1][0] + e) // 2
        out.append((s, e, own_s, max(own_e, own_s)))
    return out


FOLD_SHARE = 0.8  # a sentence whose words of 2+ cased characters are this much in capitals is folded


def fold_capitals(words: list[str]) -> list[str]:
    """The words lowercased if the sentence is written in capitals (at least two words of two or
    more characters, and FOLD_SHARE of those with cased characters, all in capitals); else the
    words themselves. Turkish dotted capital I folds to a plain i."""
    capitals = sum(1 for w in words if len(w) > 1 and w.isupper())
    if capitals < 2 or capitals < FOLD_SHARE * sum(1 for w in words if len(w) > 1 and w.lower() != w.upper()):
        return words
    return [w.lower().replace("i\u0307", "i") for w in words]


@dataclass
class Chunk:
    """One encoder input: a window of one sentence."""

    input_ids: list[int]
    first: list[int]  # position of each word's first wordpiece
    last: list[int]  # position of each word's last wordpiece
    sentence: int  # index of the sentence in its batch
    own: tuple[int, int]  # words (relative to the window start) whose predictions are kept
    offset: int  # index of the window's first word in the sentence
    words: list[str]  # the window's words (for a character encoder)


def make_chunks(
    wp: WordPieces, sentences: list[list[str]], max_len: int, overlap: bool = True
) -> list[Chunk]:
    budget = max_len - 2
    chunks = []
    sentences = [fold_capitals(words) for words in sentences]
    wp.fill(chain.from_iterable(sentences))  # one tokenizer call for the whole batch
    cache, cls_id, sep_id = wp.cache, wp.cls_id, wp.sep_id
    for si, words in enumerate(sentences):
        pieces = [cache[w] for w in words]
        lengths = list(map(len, pieces))
        if 0 < sum(lengths) <= budget:
            # the usual case, one window: C-level list building, no per-piece Python loop
            ids = [cls_id, *chain.from_iterable(pieces), sep_id]
            first = list(accumulate(lengths[:-1], initial=1))
            last = list(accumulate(lengths))  # [CLS] at 0: word i ends at sum(lengths[:i + 1])
            chunks.append(Chunk(ids, first, last, si, (0, len(words)), 0, words))
            continue
        for s, e, own_s, own_e in windows(lengths, budget, overlap):
            ids = [wp.cls_id]
            first, last = [], []
            for p in pieces[s:e]:
                first.append(len(ids))
                ids.extend(p)
                last.append(len(ids) - 1)
            ids = ids[: max_len - 1]  # a single over-long word is truncated, never dropped
            first = [min(f, max_len - 2) for f in first]
            last = [min(f, max_len - 2) for f in last]
            ids.append(wp.sep_id)
            chunks.append(Chunk(ids, first, last, si, (own_s - s, own_e - s), s, words[s:e]))
    return chunks


def collate_numpy(chunks: list[Chunk], pad_id: int, chars: WordChars | None = None) -> dict[str, np.ndarray]:
    """Pad a batch (int64 numpy arrays). `word_index` holds flat (batch*seq) positions of all
    first wordpieces, so heads run on real words only; `last_index` those of the last ones;
    with `chars`, `word_chars` the words' character ids (n_words, max_chars)."""
    lengths = np.fromiter((len(c.input_ids) for c in chunks), dtype=np.int64, count=len(chunks))
    seq = int(lengths.max())
    mask = np.arange(seq) < lengths[:, None]
    ids = np.full((len(chunks), seq), pad_id, dtype=np.int64)
    # a boolean mask assigns in row-major order: exactly the concatenated chunks
    ids[mask] = np.fromiter(chain.from_iterable(c.input_ids for c in chunks), dtype=np.int64,
                            count=int(lengths.sum()))
    n_words = [len(c.first) for c in chunks]
    row_start = np.repeat(np.arange(len(chunks), dtype=np.int64) * seq, n_words)
    first = np.fromiter(chain.from_iterable(c.first for c in chunks), dtype=np.int64, count=sum(n_words))
    last = np.fromiter(chain.from_iterable(c.last for c in chunks), dtype=np.int64, count=sum(n_words))
    batch = {"input_ids": ids, "attention_mask": mask.astype(np.int64), "word_index": first + row_start,
             "last_index": last + row_start}
    if chars is not None:
        batch["word_chars"] = chars(chain.from_iterable(c.words for c in chunks))
    return batch


def collate(chunks: list[Chunk], pad_id: int, chars: WordChars | None = None) -> dict:
    """`collate_numpy` as torch tensors (for training and direct model calls)."""
    import torch  # noqa: PLC0415 - serving with ONNX Runtime never needs torch

    return {k: torch.from_numpy(v) for k, v in collate_numpy(chunks, pad_id, chars).items()}

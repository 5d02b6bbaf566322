"""Words -> wordpieces: first-wordpiece alignment on hard inputs, windows, collate."""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import wordpiece_tokenizer

from polytag.core.encoding import (
    CHAR_BEGIN,
    CHAR_BUCKETS,
    CHAR_END,
    MAX_PIECES_PER_WORD,
    WordChars,
    WordPieces,
    char_ids,
    collate,
    fold_capitals,
    make_chunks,
    windows,
)

LETTERS = "abcdefghijklmnopqrstuvwxyzäöüßмаылру猫が魚を食べるהילדמرحبا"

HARD_WORDS = [
    "Markt",
    "𓀀",  # a character in no vocabulary: [UNK]
    "abcdefghij" * 9 + "abcdefgh",  # 98 characters: many pieces, truncated to MAX_PIECES_PER_WORD
    "x" * 10_000,  # longer than WordPiece's max_input_chars_per_word: one [UNK]
    "猫が魚を食べる",  # CJK without spaces: split per character by the normalizer, still one word
    "הילד",  # right to left
    "مرحبا",
    "👍🏽",  # emoji with a skin-tone modifier
    "🇩🇪",  # flag: two regional indicators
    "e\u0301",  # decomposed é
    "\u0301",  # a combining mark on its own
    "पढ़ी",  # Devanagari with nukta and vowel sign
    "\u200d",  # zero-width joiner alone: the tokenizer drops it entirely
    "\ufeff",  # zero-width no-break space alone: dropped too
    "New York",  # a CoNLL-U form with a space inside
    "мама",
    ".",
]


def handmade_tokenizer():
    """A WordPiece vocabulary written out by hand, so the expected pieces are known."""
    return wordpiece_tokenizer(list(LETTERS) + ["##" + c for c in LETTERS] + ["Markt", "##kt", "New", ".", "мама"])


@pytest.fixture(scope="module", params=["handmade", "trained"])
def tokenizer(request):
    if request.param == "handmade":
        return handmade_tokenizer()
    return request.getfixturevalue("tiny_tokenizer")  # polytag's own trained vocabulary


def test_every_word_gets_pieces(tokenizer):
    wp = WordPieces(tokenizer)
    pieces = wp.pieces(HARD_WORDS)
    assert len(pieces) == len(HARD_WORDS)
    assert all(1 <= len(p) <= MAX_PIECES_PER_WORD for p in pieces)
    dropped = [w for w, p in zip(HARD_WORDS, pieces) if not tokenizer.backend_tokenizer.encode(
        w, add_special_tokens=False).ids]
    assert dropped == ["\u200d", "\ufeff"]
    assert pieces[HARD_WORDS.index("\u200d")] == [wp.unk_id]  # kept as [UNK], never lost


def test_handmade_pieces():
    tok = handmade_tokenizer()
    wp = WordPieces(tok)
    names = lambda word: tok.convert_ids_to_tokens(wp.pieces([word])[0])  # noqa: E731
    assert names("Markt") == ["Markt"]
    assert names("𓀀") == ["[UNK]"]
    assert names("x" * 10_000) == ["[UNK]"]
    assert names("abcdefghij" * 9 + "abcdefgh") == ["a"] + ["##" + c for c in "bcdefghij" "abcdef"]
    # ideographs are split off one by one; the kana between them stay words of their own
    assert names("猫が魚を食べる") == ["猫", "が", "魚", "を", "食", "べ", "##る"]
    assert names("הילד") == ["ה", "##י", "##ל", "##ד"]
    assert names("New York") == ["New", "[UNK]"]


def test_first_wordpiece_alignment(tokenizer):
    wp = WordPieces(tokenizer)
    words = HARD_WORDS + list(reversed(HARD_WORDS))
    (chunk,) = make_chunks(wp, [words], max_len=512)
    ids = chunk.input_ids
    assert ids[0] == wp.cls_id and ids[-1] == wp.sep_id
    assert len(chunk.first) == len(words)
    pieces = wp.pieces(words)
    bounds = chunk.first + [len(ids) - 1]
    for i, word_pieces in enumerate(pieces):
        assert ids[bounds[i]:bounds[i + 1]] == word_pieces  # the word's pieces, in order, nothing between
        assert chunk.last[i] == bounds[i + 1] - 1  # and the last one read by first+last models
    # the same first pieces as the tokenizer's own is_split_into_words alignment
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    hf_first = {}
    for position, word_id in enumerate(enc.word_ids()):
        hf_first.setdefault(word_id, enc["input_ids"][position])
    for i in range(len(words)):
        assert ids[chunk.first[i]] == hf_first.get(i, wp.unk_id)


def test_a_sentence_in_capitals_reaches_the_network_lowercased(tokenizer):
    assert fold_capitals(["THE", "CAT", "SLEEPS", "."]) == ["the", "cat", "sleeps", "."]
    assert fold_capitals(["İSTANBUL", "BÜYÜK"]) == ["istanbul", "büyük"]  # no combining dot left
    for words in (["I", "love", "NASA", "."], ["A", "B", "C"], ["Hello", "WORLD", "NEWS", "TODAY", "now"], ["EU"]):
        assert fold_capitals(words) is words  # acronyms, letters, a few capitals: as written
    wp = WordPieces(tokenizer)
    shouted, plain = make_chunks(wp, [["THE", "CAT", "SLEEPS", "."], ["the", "cat", "sleeps", "."]], max_len=64)
    assert shouted.input_ids == plain.input_ids and shouted.words == plain.words


def test_cache_gives_same_pieces():
    wp = WordPieces(handmade_tokenizer())
    first = wp.pieces(["мама", "Markt", "мама"])
    assert first[0] == first[2] and "мама" in wp.cache
    assert wp.pieces(["Markt", "мама"]) == first[1:]


def test_a_full_cache_is_refilled_with_every_word_of_the_call(monkeypatch):
    """A call that overflows the cache clears it: its words seen before must come back too
    (they once raised KeyError in make_chunks when training on a large corpus)."""
    monkeypatch.setattr("polytag.core.encoding.CACHE_LIMIT", 3)
    wp = WordPieces(handmade_tokenizer())
    expected = WordPieces(handmade_tokenizer()).pieces(["мама", "Markt", "мыла", "раму"])
    wp.pieces(["мама", "Markt"])
    assert wp.pieces(["мама", "Markt", "мыла", "раму"]) == expected  # overflows: 2 cached + 2 new > 3
    chunks = make_chunks(wp, [["раму", "мама"], ["Markt"]], max_len=16)
    assert [c.input_ids[1:-1] for c in chunks] == [expected[3] + expected[0], expected[1]]


def test_over_long_word_in_a_small_window():
    wp = WordPieces(handmade_tokenizer())
    long_word = "abcdefghij" * 9
    chunks = make_chunks(wp, [["Markt", long_word, "."]], max_len=8)
    assert [c.offset for c in chunks] == [0, 1, 2]  # the long word gets a window of its own
    for c in chunks:
        assert len(c.input_ids) <= 8 and c.input_ids[-1] == wp.sep_id
        assert all(0 < f <= last < len(c.input_ids) - 1 for f, last in zip(c.first, c.last))
    assert chunks[1].last == [6]  # the truncated word ends where its window's [SEP] begins


def check_windows(lengths: list[int], budget: int, overlap: bool):
    spans = windows(lengths, budget, overlap)
    owned = []
    for s, e, own_s, own_e in spans:
        assert s <= own_s <= own_e <= e
        assert e - s == 1 or sum(lengths[s:e]) <= budget
        owned += range(own_s, own_e)
    assert owned == list(range(len(lengths)))  # every word predicted exactly once, in order
    if not overlap:
        assert all((s, e) == (own_s, own_e) for s, e, own_s, own_e in spans)
    return spans


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("overlap", [True, False])
def test_windows_cover_every_word_once(seed, overlap):
    rng = random.Random(seed)
    lengths = [rng.choice([1, 1, 1, 2, 3, 5, 16]) for _ in range(rng.randint(1, 400))]
    check_windows(lengths, rng.choice([4, 16, 126]), overlap)


def test_overlapping_windows_give_context_on_both_sides():
    spans = check_windows([1] * 1000, 126, overlap=True)
    assert len(spans) > 8
    for (_, end, _, own_end), (next_start, *_) in zip(spans, spans[1:]):
        assert next_start < end  # consecutive windows overlap
        assert end - own_end >= 10  # kept words are never at the right edge of their window
    for start, _, own_start, _ in spans[1:]:
        assert own_start - start >= 10  # ... nor at the left edge


def test_windows_of_words_longer_than_the_budget():
    assert check_windows([20, 20, 1], 10, overlap=True)[0][:2] == (0, 1)
    assert check_windows([], 10, overlap=True) == []


def test_collate_pads_and_indexes_first_and_last_pieces():
    wp = WordPieces(handmade_tokenizer())
    chunks = make_chunks(wp, [["Markt", "."], ["猫が魚を食べる", "הילד", "."]], max_len=64)
    batch = collate(chunks, wp.pad_id)
    ids, mask = batch["input_ids"].numpy(), batch["attention_mask"].numpy()
    assert ids.shape == (2, max(len(c.input_ids) for c in chunks))
    assert mask.sum() == sum(len(c.input_ids) for c in chunks)
    assert (ids[mask == 0] == wp.pad_id).all()
    flat = ids.reshape(-1)[batch["word_index"].numpy()]
    expected = [c.input_ids[f] for c in chunks for f in c.first]
    assert flat.tolist() == expected and len(expected) == 5
    assert np.array_equal(batch["word_index"].numpy()[2:], np.array(chunks[1].first) + ids.shape[1])
    last = ids.reshape(-1)[batch["last_index"].numpy()]
    assert last.tolist() == [c.input_ids[i] for c in chunks for i in c.last]
    assert (batch["last_index"] >= batch["word_index"]).all()


def test_char_ids_mark_both_ends_and_keep_both_ends_of_long_words():
    assert char_ids("ab", 8) == [CHAR_BEGIN, ord("a") + 3, ord("b") + 3, CHAR_END]
    long = char_ids("Marktplatzverkäuferinnen", 10)  # 8 characters kept: the first 4 and the last 4
    assert len(long) == 10 and long[0] == CHAR_BEGIN and long[-1] == CHAR_END
    assert long[1:-1] == char_ids("Marknnen", 10)[1:-1]
    for word in ("猫が魚", "הילד", "😀", "e\u0301", "\x00", "가나다"):  # every id is a real, non-marker bucket
        assert all(3 <= i < CHAR_BUCKETS for i in char_ids(word, 16)[1:-1])


def test_collate_adds_character_ids_per_word_in_batch_order():
    wp, chars = WordPieces(handmade_tokenizer()), WordChars(6)
    words = [["Markt", "."], ["猫が魚を食べる", "הילד", "."]]
    chunks = make_chunks(wp, words, max_len=64)
    batch = collate(chunks, wp.pad_id, chars)["word_chars"].numpy()
    assert batch.shape == (5, 6)
    assert batch[1].tolist() == [CHAR_BEGIN, ord(".") + 3, CHAR_END, 0, 0, 0]  # padded with 0
    assert batch[2].tolist() == char_ids("猫が魚を食べる", 6)  # 4 characters: 2 first, 2 last
    assert "word_chars" not in collate(chunks, wp.pad_id)
    long = make_chunks(wp, [["Markt"] * 40], max_len=16)  # windows: every word still has its row
    assert len(long) > 1 and collate(long, wp.pad_id, chars)["word_chars"].shape[0] == sum(len(c.first) for c in long)
    with pytest.raises(ValueError, match="at least 3"):
        WordChars(2)

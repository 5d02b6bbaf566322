"""A cased multilingual WordPiece vocabulary trained with `tokenizers`.

Languages are balanced the way mBERT balanced Wikipedia: each language's share of the
training text is proportional to n_l ** alpha (alpha < 1 up-weights small languages).
"""

from __future__ import annotations

import random
from collections import Counter

from tokenizers import BertWordPieceTokenizer
from transformers import PreTrainedTokenizerFast

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def balanced_sample(
    text_by_language: dict[str, list[str]], alpha: float, total: int, rng: random.Random
) -> list[str]:
    """`total` lines drawn with language probability proportional to n_l ** alpha."""
    langs = sorted(text_by_language)
    weights = [len(text_by_language[l]) ** alpha for l in langs]
    scale = total / sum(weights)
    out = []
    for lang, w in zip(langs, weights):
        lines = text_by_language[lang]
        k = max(1, round(w * scale))
        out += rng.sample(lines, k) if k <= len(lines) else [rng.choice(lines) for _ in range(k)]
    rng.shuffle(out)
    return out


def train_wordpiece(
    text_by_language: dict[str, list[str]],
    vocab_size: int,
    alpha: float = 0.7,
    seed: int = 0,
    limit_alphabet: int = 6000,
) -> PreTrainedTokenizerFast:
    rng = random.Random(seed)
    total = sum(len(v) for v in text_by_language.values())
    lines = balanced_sample(text_by_language, alpha, total, rng)
    wp = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    wp.train_from_iterator(
        lines, vocab_size=vocab_size, min_frequency=2, limit_alphabet=limit_alphabet,
        special_tokens=SPECIAL, show_progress=False,
    )
    return wrap(wp._tokenizer)


def wrap(tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
    )


def tokenizer_stats(tokenizer, words: list[str]) -> dict[str, float]:
    """Fertility (wordpieces per word) and the share of words that contain [UNK]."""
    encs = tokenizer.backend_tokenizer.encode_batch(words, add_special_tokens=False)
    unk = tokenizer.unk_token_id
    pieces = sum(len(e.ids) for e in encs)
    with_unk = sum(1 for e in encs if unk in e.ids)
    return {"fertility": pieces / max(len(words), 1), "unk_rate": with_unk / max(len(words), 1)}


def word_counts(text: list[str]) -> Counter:
    c = Counter()
    for line in text:
        c.update(line.split())
    return c

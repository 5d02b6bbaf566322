"""Emoji: which characters are pictographs, and which words are nothing else.

UD tags emoji SYM, and so do the treebanks: of the 38 tokens of the 72 train and dev splits
made only of pictographs and their modifiers, 35 are SYM (ru_taiga, it_postwita, en_gum, ko_gsd;
one X, two PUNCT), and none is glued to a word. The nets saw too few to learn either (the
tagger's vocabulary maps most emoji to an unknown piece: 😍 came out ADV, 🇫🇷 AUX), so
segmentation keeps each run of emoji one token, cut from any word glued to it (`emoji_runs`),
and the tagger gives an emoji word SYM without features (`tag_emoji`).
"""

from __future__ import annotations

import re

EMOJI_UPOS = "SYM"
EMOJI_FEATS = "_"

# pictographs: the emoji blocks of plane 1 (with the regional-indicator flags and skin
# tones), miscellaneous technical (⌚, ⏰), miscellaneous symbols and dingbats, arrows and
# stars (⭐); modifiers only continue one: zero-width joiner, variation selectors, the keycap
# mark, tag characters (subdivision flags)
_PICTOGRAPH = "\U0001F000-\U0001FAFF\u2300-\u23FF\u2600-\u27BF\u2B00-\u2BFF"
_MODIFIER = "\u200D\uFE00-\uFE0F\u20E3\U000E0020-\U000E007F"
_ANY_PICTOGRAPH = re.compile(f"[{_PICTOGRAPH}]")
_EMOJI_RUN = re.compile(f"[{_PICTOGRAPH}][{_PICTOGRAPH}{_MODIFIER}]*")


def is_emoji_word(word: str) -> bool:
    """A word of pictographs and their modifiers only (😍, 👍🏽, 🇫🇷, 👩‍👩‍👧, ❤️, 🎄🍷)."""
    return _EMOJI_RUN.fullmatch(word) is not None


def emoji_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each run of emoji glued together ('🎄🍷❄', '🇫🇷', '👍🏽'): one token
    each, as the treebanks keep them."""
    if _ANY_PICTOGRAPH.search(text) is None:
        return []
    return [match.span() for match in _EMOJI_RUN.finditer(text)]


def tag_emoji(sentences: list[list[str]], upos: list[list[str]], feats: list[list[str]]) -> None:
    """In place: every emoji word SYM without features, whatever the network said."""
    for words, sentence_upos, sentence_feats in zip(sentences, upos, feats):
        for i, word in enumerate(words):
            if is_emoji_word(word):
                sentence_upos[i], sentence_feats[i] = EMOJI_UPOS, EMOJI_FEATS

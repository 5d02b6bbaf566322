from hypothesis import given
from hypothesis import strategies as st

from polytag.core.emoji import EMOJI_FEATS, EMOJI_UPOS, emoji_runs, is_emoji_word, tag_emoji


def test_words_of_emoji_only():
    for word in ("😍", "👍🏽", "🇫🇷", "👩\u200d👩\u200d👧", "❤\ufe0f", "🎄🍷❄", "⭐", "⏰"):
        assert is_emoji_word(word), word
    for word in ("", "a😍", "😍!", "1\ufe0f\u20e3", "\ufe0f", ":)", "°", "№", "x"):
        assert not is_emoji_word(word), word


def test_runs_of_glued_emoji_with_their_modifiers():
    text = "merci👍🏽! 🇫🇷🇫🇷 ok👩\u200d👧x"
    assert [text[a:b] for a, b in emoji_runs(text)] == ["👍🏽", "🇫🇷🇫🇷", "👩\u200d👧"]
    assert emoji_runs("no emoji here, 1\ufe0f\u20e3") == []


@given(st.text(alphabet=st.sampled_from("ab 😍🏽\u200d\ufe0f🇫!"), max_size=30))
def test_runs_are_emoji_words_and_cover_every_pictograph(text):
    runs = emoji_runs(text)
    assert all(is_emoji_word(text[a:b]) for a, b in runs)
    covered = {i for a, b in runs for i in range(a, b)}
    assert {i for i, ch in enumerate(text) if ch in "😍🏽🇫"} <= covered


def test_emoji_words_are_tagged_sym_without_features():
    sentences = [["I", "❤\ufe0f", "NY", "😂😂"], ["ok"]]
    upos = [["PRON", "VERB", "PROPN", "PUNCT"], ["INTJ"]]
    feats = [["Case=Nom", "Tense=Pres", "_", "_"], ["_"]]
    tag_emoji(sentences, upos, feats)
    assert upos == [["PRON", EMOJI_UPOS, "PROPN", EMOJI_UPOS], ["INTJ"]]
    assert feats == [["Case=Nom", EMOJI_FEATS, "_", EMOJI_FEATS], ["_"]]

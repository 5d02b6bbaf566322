"""Gold labels, features, the MWT lexicon and the streaming decoder (with fake networks)."""

from __future__ import annotations

import io
import json
import lzma
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytag.core import segmentation as seg
from polytag.core.errors import InputError

GOLD = """# newdoc id = d1
# text = Hi there, du vin.
1\tHi\t_\t_\t_\t_\t0\t_\t_\t_
2\tthere\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
3\t,\t_\t_\t_\t_\t1\t_\t_\t_
4-5\tdu\t_\t_\t_\t_\t_\t_\t_\t_
4\tde\t_\t_\t_\t_\t1\t_\t_\t_
5\tle\t_\t_\t_\t_\t1\t_\t_\t_
6\tvin\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
7\t.\t_\t_\t_\t_\t1\t_\t_\t_

# text = Hà Nội!
1\tHà Nội\t_\t_\t_\t_\t0\t_\t_\tSpaceAfter=No
2\t!\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No

# newpar
# text = Next one
1\tNext\t_\t_\t_\t_\t0\t_\t_\t_
2\tone\t_\t_\t_\t_\t1\t_\t_\t_

"""


def gold_sentences():
    return list(seg.parse_gold_sentences(io.StringIO(GOLD), "gold.conllu"))


def test_raw_text_joins_sentences_by_their_spacing_and_paragraphs_by_a_blank_line():
    assert seg.raw_text(gold_sentences()) == "Hi there, du vin. Hà Nội!\n\nNext one\n"


def test_gold_labels_mark_token_mwt_sentence_ends_and_joined_spaces():
    first, second = seg.gold_paragraphs(gold_sentences())
    text, labels = first.text, first.labels
    assert text == "Hi there, du vin. Hà Nội!"
    assert labels[text.index("Hi") + 1] == seg.TOKEN_END
    assert labels[text.index("du") + 1] == seg.MWT_END
    assert labels[text.index(".")] == seg.SENTENCE_END
    assert labels[text.index("Hà") + 2] == seg.JOIN_SPACE
    assert labels[text.index("!")] == seg.SENTENCE_END
    assert second.text == "Next one" and second.labels[-1] == seg.SENTENCE_END


def test_decoding_gold_labels_gives_back_the_gold_segmentation():
    pairs = [(form, words, "fr") for form, words in seg.mwt_pairs(gold_sentences())]
    expander = seg.MwtLexicon.learn(pairs, min_rule_types=1).expander()
    para = seg.gold_paragraphs(gold_sentences())[0]
    decoded = seg.decode_region(para.text, para.labels, 0, True, expander, seg.SegmenterConfig())
    assert [s.text for s in decoded.sentences] == ["Hi there, du vin.", "Hà Nội!"]
    tokens = decoded.sentences[0].tokens
    assert [t.form for t in tokens] == ["Hi", "there", ",", "du", "vin", "."]
    assert tokens[3].words == ["de", "le"]
    assert [t.space_after for t in tokens] == [True, False, True, True, False, True]
    assert decoded.sentences[1].tokens[0].form == "Hà Nội"


def test_join_lexicon_counts_spaces_inside_tokens_and_decides_the_pairs_it_knows():
    paragraphs = seg.gold_paragraphs(gold_sentences())
    assert seg.learn_joins(paragraphs) == {"hà nội": [1, 1]}
    joins = {"hà nội": [3, 4], "nội rồi": [1, 5]}
    text = "Hà Nội rồi Hà Nội"
    network = np.zeros(len(text), np.uint8)
    network[[1, 5, 9]] = seg.TOKEN_END  # the network splits every run ...
    network[6] = seg.JOIN_SPACE  # ... but joins 'Nội rồi'
    labels = seg.apply_joins(text, network, joins, final=True)
    assert network[1] == seg.TOKEN_END  # the caller's labels are not changed
    expander = seg.MwtLexicon(joins=joins).expander()
    decoded = seg.decode_region(text, network, 0, True, expander, seg.SegmenterConfig())
    assert [t.form for t in decoded.sentences[0].tokens] == ["Hà Nội", "rồi", "Hà Nội"]
    assert labels[2] == seg.JOIN_SPACE and labels[6] == seg.CONTINUE
    # the last pair is left to the network while its second run may still grow
    assert seg.apply_joins(text, network, joins, final=False)[13] == seg.CONTINUE


def _labels_with_ends(text: str, *tokens: str) -> np.ndarray:
    """TOKEN_END after each of `tokens`, found in order in `text`."""
    labels, at = np.zeros(len(text), np.uint8), 0
    for token in tokens:
        at = text.index(token, at) + len(token)
        labels[at - 1] = seg.TOKEN_END
    return labels


def test_hyphens_split_on_one_side_only_are_kept_only_for_pieces_seen_in_training():
    pieces = seg.learn_hyphen_pieces(Counter({"-il": 5, "-t-il": 2, "s-": 3, "rare-": 1, "well-known": 9, "-": 40}))
    assert pieces == {"-il": 5, "-t-il": 2, "s-": 3}
    decode = seg.MwtLexicon(hyphen_pieces=pieces).expander()

    def forms(text, *network_tokens, final=True):
        labels = _labels_with_ends(text, *network_tokens)
        decoded = seg.decode_region(text, labels, 0, final, decode, seg.SegmenterConfig())
        return [t.form for s in decoded.sentences for t in s.tokens]

    # the network half-splits hyphenated words: the boundaries on one side are removed
    assert forms("a 15-year-old boy", "a", "15-", "year", "-old", "boy") == ["a", "15-year-old", "boy"]
    assert forms("my mother-in-law", "my", "mother", "-in-law") == ["my", "mother-in-law"]
    # split on both sides: kept, as en_ewt writes it
    assert forms("a 15-year", "a", "15", "-", "year") == ["a", "15", "-", "year"]
    # pieces the train splits have: kept (French clitics, Romanian 's-')
    assert forms("Que dit-il", "Que", "dit", "-il") == ["Que", "dit", "-il"]
    assert forms("va-t-il", "va", "-t-il") == ["va", "-t-il"]
    assert forms("s-a dus", "s-", "a", "dus") == ["s-", "a", "dus"]
    # a piece running into the end of text that may still grow is left to the next call
    labels = _labels_with_ends("x mother-in", "x", "mother")
    assert seg.apply_hyphen_pieces("x mother-in", labels, pieces, final=False)[7] == seg.TOKEN_END
    assert seg.apply_hyphen_pieces("x mother-in", labels, pieces, final=True)[7] == seg.CONTINUE
    assert labels[7] == seg.TOKEN_END  # the caller's labels are not changed
    # a sentence end before a hyphen is the network's to decide
    labels[7] = seg.SENTENCE_END
    assert seg.apply_hyphen_pieces("x mother-in", labels, pieces, final=True)[7] == seg.SENTENCE_END
    # no pieces learned (a lexicon from before they were): the network's labels as they are
    half = _labels_with_ends("a 15-year", "a", "15-", "year")
    assert np.array_equal(seg.apply_hyphen_pieces("a 15-year", half, {}, final=True), half)


HYPHEN_GOLD = """# text = al-Qaeda, e-mail, well-known
1\tal\t_\t_\t_\t_\t0\t_\t_\tSpaceAfter=No
2\t-\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
3\tQaeda\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
4\t,\t_\t_\t_\t_\t1\t_\t_\t_
5\te-mail\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
6\t,\t_\t_\t_\t_\t1\t_\t_\t_
7\twell\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
8\t-\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
9\tknown\t_\t_\t_\t_\t1\t_\t_\t_

# text = dit-il 15-20
1\tdit\t_\t_\t_\t_\t0\t_\t_\tSpaceAfter=No
2\t-il\t_\t_\t_\t_\t1\t_\t_\t_
3\t15\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
4\t-\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No
5\t20\t_\t_\t_\t_\t1\t_\t_\t_

"""


def test_hyphen_conventions_count_kept_and_split_hyphens_between_letters_with_exceptions():
    sentences = seg.parse_gold_sentences(io.StringIO(HYPHEN_GOLD), "gold.conllu")
    # 'al-Qaeda' and 'well-known' split, 'e-mail' kept: the exception; 'dit-il' is a piece and
    # '15-20' is between digits: neither is counted
    assert seg.learn_hyphen_conventions(seg.gold_paragraphs(list(sentences))) == [1, 2, ["e"]]


def test_hyphens_are_cut_as_the_hinted_treebank_or_the_language_of_the_text_does():
    hyphens = {"en_ewt": [10, 30, ["e"]], "en_gum": [40, 0, []], "tr_imst": [1, 40, []], "vi_vtb": [1, 2, []]}
    lexicon = seg.MwtLexicon(hyphens=hyphens, hyphen_pieces={"-il": 5}, cues={"ve": "tr", "the": "en"})
    text = "an e-mail from al-Qaeda, dit-il"
    network = _labels_with_ends(text, "an", "e", "-mail", "from", "al-Qaeda", ",", "dit", "-il")

    def forms(expander):
        decoded = seg.decode_region(text, network, 0, True, expander, seg.SegmenterConfig())
        return [t.form for s in decoded.sentences for t in s.tokens]

    as_ewt = ["an", "e-mail", "from", "al", "-", "Qaeda", ",", "dit", "-il"]
    assert forms(lexicon.expander("en_ewt")) == as_ewt  # split, but not after 'e'
    assert forms(lexicon.expander("en_gum")) == ["an", "e-mail", "from", "al-Qaeda", ",", "dit", "-il"]
    # no hint and no language yet, or a language whose treebanks differ: the network's, with the
    # one-sided hyphen rule
    unknown = ["an", "e-mail", "from", "al-Qaeda", ",", "dit", "-il"]
    assert forms(lexicon.expander()) == unknown
    english = lexicon.expander()
    english.observe([seg.RawToken("the", 0, 3, True, ["the"])])
    assert english.language() == "en" and forms(english) == unknown
    # the language the text points to, where its treebanks all split (the known piece is kept)
    turkish = lexicon.expander()
    turkish.observe([seg.RawToken("ve", 0, 2, True, ["ve"])])
    assert forms(turkish) == ["an", "e", "-", "mail", "from", "al", "-", "Qaeda", ",", "dit", "-il"]
    # a treebank with too few hyphens to go by falls back to the language (none here)
    assert forms(lexicon.expander("vi_vtb")) == unknown
    # a lexicon from before conventions were learned loads without them
    assert lexicon.hyphen_policy("en_ewt", None) == seg.HyphenPolicy(True, frozenset({"e"}))
    assert seg.MwtLexicon().hyphen_policy("en_ewt", "en") is None


def test_a_few_hyphens_all_kept_are_a_convention_and_a_few_of_both_kinds_are_not():
    """id_gsd keeps all 14 of its hyphens between letters (reduplication: 'anak-anak'): too few
    for MIN_HYPHENS, but not a sign of chance; cs_fictree's 6 kept and 4 cut say nothing."""
    hyphens = {"id_gsd": [14, 0, []], "cs_fictree": [6, 4, ["je"]], "te_mtg": [3, 0, []]}
    lexicon = seg.MwtLexicon(hyphens=hyphens)
    keep = seg.HyphenPolicy(False, frozenset())
    assert lexicon.hyphen_policy("id_gsd", None) == keep and lexicon.hyphen_policy(None, "id") == keep
    assert lexicon.hyphen_policy("cs_fictree", None) is None and lexicon.hyphen_policy(None, "cs") is None
    assert lexicon.hyphen_policy("te_mtg", "te") is None  # three: too few


def test_surfaces_nearly_always_split_in_training_override_the_network():
    pairs = [("yoktu", ["yok", "tu"], "tr")] * 3 + [("des", ["de", "les"], "fr")] * 2
    counts = {"tr": Counter({"yoktu": 3}), "fr": Counter({"des": 10})}
    lexicon = seg.MwtLexicon.learn(pairs, counts, min_rule_types=1)
    assert lexicon.counts == {"yoktu": [3, 3], "des": [2, 10]}
    assert lexicon.is_mwt("Yoktu", predicted=False)  # always split in training
    assert lexicon.is_mwt("des", predicted=True) and not lexicon.is_mwt("des", predicted=False)  # ambiguous
    assert not lexicon.is_mwt("unseen", predicted=False) and lexicon.is_mwt("unseen", predicted=True)
    lexicon.counts["des"] = [1, 50]
    assert not lexicon.is_mwt("des", predicted=True)  # nearly never split


def test_a_surface_split_in_one_language_and_not_in_another_is_decided_by_the_text_language():
    pairs = [("am", ["an", "dem"], "de")] * 3
    counts = {"de": Counter({"am": 3, "ich": 9, "gehe": 9}), "en": Counter({"am": 50, "i": 90})}
    lexicon = seg.MwtLexicon.learn(pairs, counts, min_rule_types=1)
    assert lexicon.counts == {"am": [3, 53]}  # all languages together: nearly never split
    assert lexicon.language_counts == {"am": {"de": [3, 3], "en": [0, 50]}}
    assert lexicon.is_mwt("Am", predicted=False, language="de")
    assert not lexicon.is_mwt("am", predicted=True, language="en")
    assert not lexicon.is_mwt("am", predicted=True)  # no language known: all together
    assert lexicon.is_mwt("am", predicted=True, language="fr")  # a language without it: the network
    # the first sentence of a text: its own cue words say German
    lexicon.cues = {"ich": "de", "gehe": "de", "i": "en", "and": "en"}
    text = "Am Abend gehe ich. I am here and I go."
    sentences = list(seg.segment_with(punctuation_labels, SMALL, lexicon, [text]))
    assert [[w for t in s.tokens for w in t.words] for s in sentences] == [
        ["An", "dem", "Abend", "gehe", "ich", "."], ["I", "am", "here", "and", "I", "go", "."]]
    assert seg.MwtLexicon.learn(pairs[:1], {"de": Counter({"am": 1})}).language_counts == {}  # nothing differs
    hinted = list(seg.segment_with(punctuation_labels, SMALL, lexicon, ["I am here."], "de_gsd"))
    assert [w for t in hinted[0].tokens for w in t.words] == ["I", "an", "dem", "here", "."]  # the hint's language


def test_bad_conllu_line_is_a_one_line_input_error():
    with pytest.raises(InputError, match=r"bad\.conllu:2: expected 10 columns"):
        list(seg.parse_gold_sentences(io.StringIO("# text = a\n1\ta\n\n"), "bad.conllu"))


def test_lexicon_dictionary_case_and_affix_rules(tmp_path):
    pairs = [("du", ["de", "le"], "fr")] * 3 + [("du", ["du"], "fr")]
    pairs += [(f"{stem}ki", [f"{stem}", "ki"], "tr") for stem in ("evde", "okulda", "yolda")]
    pairs += [(f"ב{w}", ["ב", "ה", w], "he") for w in ("בית", "ספר", "עיר")]
    pairs += [(f"{w}ும்", [f"{w}்", "உம்"], "ta") for w in ("நாடுகள", "விழாவ", "தேவியைய")]
    lexicon = seg.MwtLexicon.learn(pairs, min_rule_types=3)
    assert lexicon.expand("Du") == ["De", "le"]
    assert lexicon.expand("DU") == ["DE", "LE"]
    assert lexicon.expand("masadaki") == ["masada", "ki"]  # unseen: suffix rule
    assert lexicon.expand("בגן") == ["ב", "ה", "גן"]  # unseen: prefix rule
    assert lexicon.expand("தொழிலாளர்களும்") == ["தொழிலாளர்கள்", "உம்"]  # stem ending restored
    assert lexicon.expand("xyz") == ["xyz"]
    lexicon.save(tmp_path / "mwt.json")
    assert seg.MwtLexicon.load(tmp_path / "mwt.json") == lexicon
    assert seg.mwt_path(tmp_path) == tmp_path / "mwt.json"
    # the shipped folder's: xz-compressed, found and read alike
    lexicon.save(tmp_path / "mwt.json.xz")
    (tmp_path / "mwt.json").unlink()
    assert seg.mwt_path(tmp_path) == tmp_path / "mwt.json.xz"
    assert seg.MwtLexicon.load(seg.mwt_path(tmp_path)) == lexicon
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(InputError, match="bad.json"):
        seg.MwtLexicon.load(tmp_path / "bad.json")
    (tmp_path / "bad.json.xz").write_bytes(b"not xz")
    with pytest.raises(InputError, match="bad.json.xz: not an MWT lexicon"):
        seg.MwtLexicon.load(tmp_path / "bad.json.xz")


def test_tokens_whose_words_a_treebank_leaves_blank_expand_to_blank_words(tmp_path):
    """Marathi UFAL writes an MWT's words as '_': an unseen token with a known ending of such
    tokens gets as many '_' words; affix rules that fit come first; others stay one word."""
    pairs = [(f"{stem}ाचे", ["_", "_"], "mr") for stem in ("हित", "तुकड्", "राज")]
    pairs += [(f"{stem}ki", [f"{stem}", "ki"], "tr") for stem in ("evde", "okulda", "yolda")]
    pairs += [("घरातच", ["_", "_", "_"], "mr")]  # one attestation: no rule
    lexicon = seg.MwtLexicon.learn(pairs, min_rule_types=3)
    assert lexicon.blanks["ाचे"] == [2, 3] and "तच" not in lexicon.blanks
    assert lexicon.expand("भीमाचे") == ["_", "_"]  # unseen, a blank ending
    assert lexicon.expand("हिताचे") == ["_", "_"]  # seen
    assert lexicon.expand("घरातच") == ["_", "_", "_"]
    assert lexicon.expand("masadaki") == ["masada", "ki"]
    assert lexicon.expand("कामात") == ["कामात"]
    lexicon.save(tmp_path / "mwt.json")
    assert seg.MwtLexicon.load(tmp_path / "mwt.json") == lexicon


def test_expander_picks_the_analysis_of_the_language_the_text_is_in():
    pairs = [("del", ["de", "el"], "es")] * 5 + [("del", ["di", "il"], "it")] * 2
    counts = {"es": Counter({"el": 50, "y": 40, "del": 5}), "it": Counter({"il": 50, "che": 40, "del": 2})}
    lexicon = seg.MwtLexicon.learn(pairs, counts)
    assert lexicon.expand("del") == ["de", "el"]  # most frequent overall
    expander = lexicon.expander()
    expander.observe([seg.RawToken(w, 0, 1, True, [w]) for w in ("il", "gatto", "che")])
    assert expander.expand("Del") == ["Di", "il"]
    # a sentence's own language first: the first sentence of a text, or one in another language
    assert expander.sentence_language(["del", "el", "y", "el"]) == "es"
    assert expander.expand("del", "es") == ["de", "el"]
    assert expander.expand("del", "fr") == ["di", "il"]  # a language without it: the recent sentences'
    # the first sentence of a text, in Italian: its own cue words pick the Italian analysis
    first = list(seg.segment_with(punctuation_labels, SMALL, lexicon, ["Il gatto del che ."]))
    assert [w for t in first[0].tokens for w in t.words] == ["Il", "gatto", "di", "il", "che", "."]


def test_a_sentence_whose_words_say_no_language_or_two_alike_asks_the_identifier():
    """'Vamos al cine del barrio.': no cue word, and the pooled lexicon's 'al' is Italian."""
    pairs = [("al", ["a", "il"], "it")] * 5 + [("al", ["a", "el"], "es")] * 2
    counts = {"es": Counter({"el": 50, "y": 40, "al": 2}), "it": Counter({"il": 50, "che": 40, "al": 5})}
    lexicon = seg.MwtLexicon.learn(pairs, counts)
    asked = []

    def identify(forms):
        asked.append(forms)
        return "es"

    text = ["Vamos al cine ."]
    plain = list(seg.segment_with(punctuation_labels, SMALL, lexicon, text))
    assert plain[0].tokens[1].words == ["a", "il"]
    identified = list(seg.segment_with(punctuation_labels, SMALL, lexicon, text, identify=identify))
    assert identified[0].tokens[1].words == ["a", "el"] and asked == [["Vamos", "al", "cine", "."]]
    expander = lexicon.expander(identify=identify)
    assert expander.sentence_language(["el", "che"]) == "es"  # one cue word each: asked
    asked.clear()
    assert expander.sentence_language(["il", "che", "al"]) == "it" and asked == []  # Italian's: not asked
    assert lexicon.expander(identify=lambda forms: "fr").sentence_language(["el", "che"]) in ("es", "it")


def test_a_sentence_whose_own_cue_words_clearly_say_another_language_is_in_it():
    """An Italian sentence after a Japanese one, whose particles are many cue words: the recent
    sentences point to Japanese, its own words clearly to Italian ('al' is 'a il', not 'a el')."""
    pairs = [("al", ["a", "il"], "it")] * 5 + [("al", ["a", "el"], "es")] * 6
    counts = {"es": Counter({"el": 50, "y": 40, "al": 6}), "it": Counter({"il": 50, "che": 40, "al": 5}),
              "ja": Counter({"は": 50, "の": 40, "に": 30})}  # fmt: skip
    lexicon = seg.MwtLexicon.learn(pairs, counts)
    expander = lexicon.expander()
    expander.observe([seg.RawToken(w, 0, 1, True, [w]) for w in ("私", "は", "東京", "の", "大学", "に", "は", "の")])
    assert expander.sentence_language(["il", "che", "al"]) == "it"
    assert expander.sentence_language(["il", "al"]) == "ja"  # one cue word ('al' is none): not clear
    assert expander.sentence_language(["il", "che", "は", "al"]) == "it"  # twice the recent one's
    assert expander.sentence_language(["il", "che", "は", "の", "al"]) == "ja"  # not twice: the recent sentences'


def test_a_cue_word_another_language_glues_to_the_one_before_counts_only_standing_apart(tmp_path):
    """Polish 'kupił' + 'em' (I bought), two tokens with no space between, must not make a
    Polish sentence Portuguese ('em', in) and its 'do' Portuguese 'de o'."""
    pairs = [("do", ["de", "o"], "pt")] * 9
    counts = {"pt": Counter({"em": 800, "o": 900, "do": 9}), "pl": Counter({"em": 74, "w": 500, "do": 50})}
    assert seg.MwtLexicon.learn(pairs, counts).glued_cues == {}
    lexicon = seg.MwtLexicon.learn(pairs, counts, glued={"pl": Counter({"em": 74})})
    assert lexicon.cues["em"] == "pt" and lexicon.glued_cues == {"em": "pt"}
    lexicon.save(tmp_path / "mwt.json")
    assert seg.MwtLexicon.load(tmp_path / "mwt.json").glued_cues == {"em": "pt"}
    assert seg.MwtLexicon.learn(pairs, counts, glued={"pt": Counter({"em": 74})}).glued_cues == {}  # its own
    expander = lexicon.expander()
    forms = ["kupił", "em", "do", "w", "em"]
    assert expander.sentence_language(forms, glued=[1, 4]) == "pl"  # 'w' alone: the glued ones do not count
    assert expander.sentence_language(forms) == "pt"  # nothing known of spaces: two to one
    text = "kupiłem do w em .\n"
    labels = _labels_with_ends(text, "kupił", "em", "do", "w", "em", ".")
    decoded = seg.decode_region(text, labels, 0, True, lexicon.expander(), seg.SegmenterConfig())
    assert [t.form for t in decoded.sentences[0].tokens] == ["kupił", "em", "do", "w", "em", "."]
    expander.scores.clear()
    expander.observe(decoded.sentences[0].tokens)
    assert dict(expander.scores) == {"pl": 1.0, "pt": 1.0}  # 'w'; the 'em' standing apart



def test_features_fold_case_and_whitespace_and_hash_rare_code_points():
    chars, cats, space = seg.featurize("Aa \t\n中😀", 1024)
    assert chars[0] == chars[1] and cats[0] != cats[1]  # case lives in the category
    assert chars[2] == chars[3] == chars[4]  # every whitespace is a space to the network
    assert cats[4] == seg.NEWLINE_CAT and cats[2] != cats[4]
    assert space.tolist() == [False, False, True, True, True, False, False]
    assert ((chars > 0) & (chars < 1024)).all() and (cats > 0).all() and (cats < seg.N_CATS).all()


def test_config_round_trip_and_unknown_option(tmp_path):
    config = seg.SegmenterConfig(channels=8, dilations=(1, 3))
    config.save(tmp_path / "c.json")
    assert seg.SegmenterConfig.load(tmp_path / "c.json") == config
    (tmp_path / "bad.json").write_text('{"chanels": 8}')
    with pytest.raises(InputError, match="chanels"):
        seg.SegmenterConfig.load(tmp_path / "bad.json")


# ------------------------------------------------------------------ streaming, fake networks

SMALL = seg.SegmenterConfig(context=4, core=8, batch_windows=2, max_sentence_chars=60)


def arbitrary_labels(char_ids: np.ndarray, cat_ids: np.ndarray) -> np.ndarray:
    """Any label anywhere, a pure function of the character (receptive field 0)."""
    return (char_ids * 7 + cat_ids * 3) % seg.N_CLASSES


def punctuation_labels(char_ids: np.ndarray, cat_ids: np.ndarray) -> np.ndarray:
    """A rule 'network': punctuation is a token; '.' ends a sentence (looks 1 char ahead)."""
    punct = (cat_ids >= 12) & (cat_ids <= 18)
    labels = np.where(punct, seg.TOKEN_END, seg.CONTINUE)
    labels[:, :-1] |= np.where(punct[:, 1:], seg.TOKEN_END, 0)
    labels[char_ids == ord(".") + 1] = seg.SENTENCE_END
    return labels


def segment(text, predict=arbitrary_labels, chunks=None, config=SMALL):
    lexicon = seg.MwtLexicon(entries={"du": ["de", "le"]}, joins={"du du": [2, 3], "du .": [1, 4]},
                             cues={"du": "xx"}, hyphens={"xx_a": [0, 30, []]})  # 'du' seen: split hyphens
    return list(seg.segment_with(predict, config, lexicon, chunks or [text]))


def test_a_stretch_written_in_capitals_is_read_as_lowercase():
    lu, ll, po, zs = (seg._CAT_INDEX[c] for c in ("Lu", "Ll", "Po", "Zs"))
    heading = ([lu] * 5 + [zs]) * 5 + [po] + [zs]  # a headline in capitals ...
    body = [lu] + [ll] * 5 + [zs] + ([ll] * 6 + [zs]) * 12  # ... then text as usually written
    acronyms = ([ll] * 4 + [zs] + [lu] * 3 + [zs]) * 10  # capitals here and there
    windows = np.array([heading + body, acronyms + [zs] * (len(heading + body) - len(acronyms))])
    folded = seg.fold_capital_windows(windows.copy())
    assert (folded[0][: len(heading)] != lu).all()  # the whole headline, its last word too
    assert (folded[0][len(heading):] == windows[0][len(heading):]).all()  # the body's first capital stays
    assert (folded[1] == windows[1]).all()
    # what the network is given when segmenting a text in capitals
    seen = []

    def recording(char_ids, cat_ids):
        seen.append(cat_ids.copy())
        return punctuation_labels(char_ids, cat_ids)

    wide = seg.SegmenterConfig(context=8, core=48, batch_windows=2)  # windows with 20+ capitals
    text = "THE CAT SLEEPS ON THE MAT. THE DOG DOES NOT."
    assert [s.text for s in segment(text, recording, config=wide)] == ["THE CAT SLEEPS ON THE MAT.", "THE DOG DOES NOT."]
    assert seen and not any((c == lu).any() for c in seen)


def test_text_shorter_than_a_window_is_labelled_in_a_window_of_its_own_width():
    """One window for fewer than `core` characters is only as wide as they and their context,
    and the labels are those of a full window (the net sees `context` at most either side)."""
    widths = []

    def recording(char_ids, cat_ids):
        widths.append(char_ids.shape[1])
        return punctuation_labels(char_ids, cat_ids)

    config = seg.SegmenterConfig(context=4, core=200, batch_windows=2)
    text = "Hi, you. Fine, thanks. And you?"
    short = [(s.text, [(t.start, t.end) for t in s.tokens]) for s in segment(text, recording, config=config)]
    assert widths == [len(text) + 2 * config.context]
    widths.clear()
    full = [(s.text, [(t.start, t.end) for t in s.tokens]) for s in segment(text, punctuation_labels, config=SMALL)]
    assert short == full and [t for t, _ in short] == ["Hi, you.", "Fine, thanks.", "And you?"]
    long_text = text + " " + "Yes. " * 60  # more than one window: every window full width again
    segment(long_text, recording, config=config)
    assert set(widths) == {config.core + 2 * config.context}


def test_rule_network_segments_sentences_tokens_and_paragraphs():
    sentences = segment("Hi, you. Fine\n\nNew para", punctuation_labels)
    assert [s.text for s in sentences] == ["Hi, you.", "Fine", "New para"]
    assert [t.form for t in sentences[0].tokens] == ["Hi", ",", "you", "."]
    assert [t.space_after for t in sentences[0].tokens] == [False, True, False, True]


PIECES = [" ", "  ", "\t", "\r\n", "\n\n", "\u00a0", "\u200d", "👩‍👩‍👧", "\x00", ".", "du", "\u2029", "a-b", "-",
          "me@x.org", "http://a.b/c-d", "www.", "@", ")"]
TEXTS = st.lists(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(PIECES)), max_size=150
).map("".join)


def check_covers_text(text: str, sentences: list[seg.RawSentence]) -> None:
    tokens = [t for s in sentences for t in s.tokens]
    rebuilt, pos = [], 0
    for t in tokens:
        assert text[t.start : t.end] == t.form and t.form and t.start >= pos
        assert text[pos : t.start].strip() == ""  # only whitespace between tokens
        assert t.space_after == (t.end == len(text) or text[t.end].isspace())
        rebuilt.append(t.form + (" " if t.space_after else ""))
        pos = t.end
    assert text[pos:].strip() == ""
    assert "".join(rebuilt).split() == text.split()  # the text back, whitespace runs aside
    for s in sentences:
        assert s.text == text[s.start : s.end] and s.tokens


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.sampled_from([arbitrary_labels, punctuation_labels]))
def test_tokens_give_back_the_text_and_index_it_exactly(text, predict):
    check_covers_text(text, segment(text, predict))


@settings(max_examples=100, deadline=None)
@given(TEXTS, st.lists(st.integers(1, 40), min_size=1, max_size=20))
def test_chunking_does_not_change_the_output(text, cuts):
    chunks, pos = [], 0
    for size in cuts:
        chunks.append(text[pos : pos + size])
        pos += size
    chunks.append(text[pos:])
    assert segment(text, chunks=chunks) == segment(text)


def test_long_paragraph_without_newline_streams_in_bounded_memory():
    stream = seg.SegmentationStream(arbitrary_labels, SMALL, seg.MwtLexicon())
    biggest, n_tokens, last_end = 0, 0, 0
    for _ in range(2000):
        for sentence in stream.feed("abc defg, hij" * 10):
            n_tokens += len(sentence.tokens)
            assert sentence.start >= last_end
            last_end = sentence.end
        biggest = max(biggest, len(stream.buffer))
    stream.close()
    assert biggest < 2 * SMALL.max_sentence_chars + 3 * SMALL.core * SMALL.batch_windows
    assert last_end > 250_000 and n_tokens > 20_000


def test_one_huge_token_is_cut():
    sentences = segment("x" * 2000, config=SMALL)
    assert max(len(t.form) for s in sentences for t in s.tokens) <= SMALL.max_token_chars
    assert "".join(t.form for s in sentences for t in s.tokens) == "x" * 2000


def test_a_token_open_at_a_block_end_is_kept():
    """Found by hypothesis: one token longer than the first block of windows."""
    text = "0000000👩\u200d👩\u200d👧👩\u200d👩\u200d👧"
    check_covers_text(text, segment(text, punctuation_labels))


def test_letters_of_a_kind_the_train_splits_never_cut_are_not_cut():
    text = "반민족행위 cannot"
    labels = np.full(len(text), seg.CONTINUE)
    labels[[3, 8]] = seg.TOKEN_END  # inside 반민족행위; 'can' + 'not'
    learned = seg.learn_script_splits([seg.GoldParagraph(text, labels)])
    assert learned == {"HANGUL SYLLABLE": [4, 1], "LATIN SMALL": [5, 1]}
    splits = {"HANGUL SYLLABLE": [seg.UNSPLIT_MIN_PAIRS, 0], "LATIN SMALL": [seg.UNSPLIT_MIN_PAIRS, 3]}
    joined = seg.join_unsplit_scripts(text, labels, splits)
    assert joined[3] == seg.CONTINUE and joined[8] == seg.TOKEN_END  # Latin is cut in training: kept
    assert labels[3] == seg.TOKEN_END  # the input is not changed
    labels[1] = seg.SENTENCE_END  # a sentence may still end there
    assert seg.join_unsplit_scripts(text, labels, splits)[1] == seg.SENTENCE_END
    few = {"HANGUL SYLLABLE": [seg.UNSPLIT_MIN_PAIRS - 1, 0]}  # too few pairs to go by
    assert seg.join_unsplit_scripts(text, labels, few) is labels


def test_no_end_inside_a_web_or_mail_address_and_one_where_it_ends():
    from polytag.core.segmentation import CONTINUE, SENTENCE_END, TOKEN_END, keep_web_addresses

    text = "Mail lotte.wilms@kb.nl, see http://x.org/a-b.html). Or WWW.Y.DE."
    labels = np.full(len(text), CONTINUE, np.uint8)
    labels[text.index("lotte.") + 5] = SENTENCE_END  # the net's mistake: a sentence ends after 'lotte.'
    labels[text.index("/a-") + 1] = TOKEN_END
    labels[text.index("-b") + 1] = TOKEN_END
    out = keep_web_addresses(text, labels)
    ends = [i for i, label in enumerate(out) if label != CONTINUE]
    # the three addresses end a token each; nothing inside them does
    assert ends == [text.index(",") - 1, text.index(")") - 1, len(text) - 2], [text[i] for i in ends]
    assert labels[text.index("lotte.") + 5] == SENTENCE_END  # the input is not changed in place
    plain = np.zeros(16, np.uint8)
    assert keep_web_addresses("no address here.", plain) is plain
    assert seg._web_addresses("x@y, a.b@c.d-e.fr. and @handle, me@host") == [(5, 17)]  # not 'x@y' (no dot), '@handle', 'me@host'


def test_no_token_ends_inside_a_grapheme_cluster():
    from polytag.core.segmentation import CONTINUE, SENTENCE_END, TOKEN_END, join_grapheme_clusters

    text = "a👩\u200d👧 e\u0301! 👍🏽x"
    labels = np.full(len(text), TOKEN_END, np.uint8)
    labels[[i for i, ch in enumerate(text) if ch == " "]] = CONTINUE
    labels[text.index("!")] = SENTENCE_END
    out = join_grapheme_clusters(text, labels)
    ends = {i for i, label in enumerate(out) if label != CONTINUE}
    # ends only where a new cluster starts after: a|👩‍👧 |e´|!| 👍🏽|x
    assert ends == {0, 3, 6, 7, 10, 11}, [text[i] for i in ends]
    assert out[7] == SENTENCE_END and labels[1] == TOKEN_END  # the input is not changed in place
    assert (join_grapheme_clusters("\u0301", labels[:1]) == labels[:1]).all()  # nothing before it to join


def test_a_run_of_emoji_is_one_token_cut_from_the_word_it_is_glued_to():
    text = "merci👍 🇫🇷🇫🇷! ok"
    labels = np.full(len(text), seg.CONTINUE, np.uint8)
    labels[text.index("🇫🇷") + 1] = seg.TOKEN_END  # the net's cut inside a flag
    labels[text.index("!")] = seg.SENTENCE_END
    out = seg.emoji_tokens(text, labels)
    ends = [i for i, label in enumerate(out) if label != seg.CONTINUE]
    assert [text[i] for i in ends] == ["i", "🇷", "!"]  # (a space ends 👍 already)
    assert out[text.index("!")] == seg.SENTENCE_END and labels[text.index("🇫🇷") + 1] == seg.TOKEN_END  # input kept
    plain = np.zeros(5, np.uint8)
    assert seg.emoji_tokens("plain", plain) is plain
    forms = [t.form for s in segment("Super😂😂 merci👍 ok", predict=punctuation_labels) for t in s.tokens]
    assert forms == ["Super", "😂😂", "merci", "👍", "ok"]


def test_gold_files_are_read_plain_gz_or_xz_and_a_broken_one_is_one_clear_error(tmp_path):
    import gzip  # noqa: PLC0415

    text = "# text = Hi .\n1\tHi\t_\tINTJ\t_\t_\t0\troot\t_\t_\n2\t.\t_\tPUNCT\t_\t_\t1\tpunct\t_\t_\n\n"
    (tmp_path / "a.conllu.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "a.conllu.xz").write_bytes(lzma.compress(text.encode()))
    for name in ("a.conllu.gz", "a.conllu.xz"):
        assert [t.form for t in seg.read_gold_sentences(tmp_path / name)[0].tokens] == ["Hi", "."]
    (tmp_path / "bad.conllu.gz").write_bytes(b"not gzip")
    (tmp_path / "bad.conllu").write_bytes(text.encode().replace(b"Hi", b"H\xffi"))
    for name in ("bad.conllu.gz", "bad.conllu"):
        with pytest.raises(InputError, match=name):
            seg.read_gold_sentences(tmp_path / name)


def test_no_sentence_ends_after_a_title_the_train_splits_put_before_names():
    gold = [seg.GoldSentence("x", [seg.GoldToken(f, True, [f]) for f in forms], False) for forms in (
        ["Dr.", "Who", "came", "."], ["Ask", "Dr.", "No", "."], ["See", "Dr.", "X", "."],
        ["Etc.", "etc."], ["And", "so", "on", "etc."], ["It", "etc.", "ok"], ["Rare", "cf."],
        ["In", "404", "a.C.", "the"], ["a.C.", "Rome", "fell"], ["by", "a.C.", "Rome"], ["I", "didn't."])]
    counts = seg.learn_abbreviations(gold)
    assert counts == {"dr.": [0, 3, 3], "etc.": [2, 4, 0], "cf.": [1, 1, 0], "a.c.": [0, 3, 2]}
    # etc. ends sentences; cf. is seen too rarely; a.C. is followed by any word
    assert seg.abbreviations_from(counts) == {"dr.": [0, 3, 3]}
    text = "Prof. Weber and dr. Who. An etc. Dr. X. Dr.\n\nNext"
    labels = np.full(len(text), seg.CONTINUE, np.uint8)
    periods = [i for i, ch in enumerate(text) if ch == "."]
    labels[periods] = seg.SENTENCE_END
    labels[text.index("Prof") + 3] = seg.TOKEN_END  # the net split the period off 'Prof'
    out = seg.keep_abbreviations(text, labels, {"dr.": [0, 3, 3], "prof.": [0, 4, 4]})
    kept = [text[max(0, i - 4) : i + 1] for i in periods if out[i] == seg.SENTENCE_END]
    # 'Prof.' and the 'Dr.'s go on (the period still ends its token); 'Who.', 'etc.' and 'X.' end sentences
    assert kept == [" Who.", " etc.", "r. X."], kept
    assert all(out[i] == seg.TOKEN_END for i in periods if out[i] != seg.SENTENCE_END)
    assert out[text.index("Prof") + 3] == seg.TOKEN_END and labels[periods[0]] == seg.SENTENCE_END  # input kept
    assert seg.keep_abbreviations(text, labels, {}) is labels
    # a paragraph break still ends a sentence after one
    lexicon = seg.MwtLexicon(abbreviations={"dr.": [0, 3, 3]})
    sentences = list(seg.segment_with(punctuation_labels, SMALL, lexicon, ["I met Dr. Who. Then Dr.\n\nNext."]))
    assert [s.text for s in sentences] == ["I met Dr. Who.", "Then Dr.", "Next."]


def test_a_treebank_whose_sentences_end_at_a_colon_ends_them_there_when_hinted():
    def sentence(*forms):
        return seg.GoldSentence("x", [seg.GoldToken(f, True, [f]) for f in forms], False)

    ends = [sentence("He", "said", ":")] * 10  # ':' ends all its 10 sentences
    inside = [sentence("one", ";", "two", "."), sentence("so", ";", "on", "!")] * 5  # ';' ends none
    assert seg.learn_sentence_marks(ends + inside) == [":"]
    assert seg.learn_sentence_marks(ends[:9] + inside) == []  # seen 9 times: too few
    assert seg.learn_sentence_marks(ends + [sentence("at", ":", "10")]) == []  # 10 of 11: not nearly all
    assert seg.learn_sentence_marks([sentence("Hi", ".")] * 20) == []  # . ! ? are the network's
    lexicon = seg.MwtLexicon(sentence_marks={"xx_a": [":"]})
    text = "They wrote : we come ; at 10:30 : then\n"

    def segmented(treebank):
        return [s.text for s in seg.segment_with(punctuation_labels, SMALL, lexicon, [text], treebank)]

    # a ':' alone between spaces ends the sentence; not '10:30', not ';', not without the hint
    assert segmented("xx_a") == ["They wrote :", "we come ; at 10:30 :", "then"]
    assert segmented(None) == ["They wrote : we come ; at 10:30 : then"]
    labels = np.full(5, seg.CONTINUE, np.uint8)
    assert seg.end_at_marks("a : b", labels, []) is labels
    # a line whose cue words say another language keeps its colons inside sentences
    lexicon = seg.MwtLexicon(sentence_marks={"en_a": [":"]}, cues={"the": "en", "le": "fr"})
    text = "So the cat : the dog\n\nEt le chat : le chien\n"
    assert [s.text for s in seg.segment_with(punctuation_labels, SMALL, lexicon, [text], "en_a")] == [
        "So the cat :", "the dog", "Et le chat : le chien"]


def test_affix_rules_of_one_language_do_not_cut_words_of_another():
    pairs = [(s, w, "it") for s, w in (("dalla", ["da", "la"]), ("dallo", ["da", "lo"]), ("dalle", ["da", "le"]))]
    pairs += [(s, w, "tr") for s, w in (("yoktu", ["yok", "tu"]), ("vardı", ["var", "dı"]), ("çoktu", ["çok", "tu"]))]
    lexicon = seg.MwtLexicon.learn(pairs, min_rule_types=2)
    assert lexicon.prefixes["dal"][0] == ["da"]  # all languages together: "dal..." begins with "da"
    assert set(lexicon.language_rules) == {"it", "tr"} and lexicon.language_rules["tr"]["prefixes"] == {}
    assert lexicon.expand("dalmak") == ["da", "mak"]  # no language known: every rule
    assert lexicon.expand("dalmak", "tr") == ["dalmak"]  # Turkish has no such prefix
    assert lexicon.expand("dalmaktu", "tr") == ["dalmak", "tu"]  # but its own suffix
    assert lexicon.expand("dalli", "it") == ["da", "li"]
    assert lexicon.expand("dalmak", "en") == ["dalmak"]  # a language with no multiword tokens
    old = seg.MwtLexicon(prefixes=lexicon.prefixes)  # a lexicon from before: every rule
    assert old.expand("dalmak", "tr") == ["da", "mak"]


def test_a_text_is_segmented_as_the_treebank_guessed_from_its_sentences_so_far():
    """After each block, the sentences since the last guess may change the treebank (and the
    network's hint): the block that changed it is segmented again under the new one, the
    blocks before it stay as they were."""
    def no_sentence_ends(char_ids, cat_ids):
        labels = punctuation_labels(char_ids, cat_ids)
        labels[labels == seg.SENTENCE_END] = seg.TOKEN_END
        return labels

    lexicon = seg.MwtLexicon(entries={})
    chunks = ["One. Two. Three. Four. " * 3] * 4  # 69 characters a chunk, blocks of 16
    asked: list[list[str]] = []

    def guess(sentences):  # the first guess keeps no treebank, the second switches to b_b
        asked.append([s.text for s in sentences])
        return ("b_b" if len(asked) >= 2 else None), 0

    out = list(seg.segment_with(punctuation_labels, SMALL, lexicon, chunks, guess=guess,
                                predict_as=lambda tb: no_sentence_ends if tb == "b_b" else punctuation_labels,
                                guess_after=20))  # fmt: skip
    assert "".join(chunks).replace(" ", "") == "".join(s.text for s in out).replace(" ", "")
    assert out[0].text == "One." and len(asked) >= 2
    assert all(len(t) <= 6 for t in asked[0] + asked[1])  # the guess read the block as first segmented
    switched = next(i for i, s in enumerate(out) if len(s.text) > 6)
    assert [s.text for s in out[: len(asked[0])]] == asked[0]  # what the first guess kept stays
    assert all(len(s.text) <= 6 for s in out[:switched])
    # the block that switched was segmented again: fewer short sentences than the guesses read
    assert len(asked[0]) <= switched < len(asked[0]) + len(asked[1])
    assert max(len(s.text) for s in out) > 40  # after the switch: no sentence ends but the forced ones
    # without a guess, or with one that keeps no treebank: every '.' ends a sentence
    plain = list(seg.segment_with(punctuation_labels, SMALL, lexicon, chunks))
    assert all(len(s.text) <= 6 for s in plain)
    kept = list(seg.segment_with(punctuation_labels, SMALL, lexicon, chunks, guess=lambda s: (None, 0),
                                 predict_as=lambda tb: no_sentence_ends, guess_after=20))  # fmt: skip
    assert [s.text for s in kept] == [s.text for s in plain]


def test_a_block_that_changed_the_guess_is_split_where_the_text_turned():
    """The guess says from which of its sentences the text reads as the new treebank: the
    block is segmented again as the old one before that sentence and as the new one from it."""
    def no_sentence_ends(char_ids, cat_ids):
        labels = punctuation_labels(char_ids, cat_ids)
        labels[labels == seg.SENTENCE_END] = seg.TOKEN_END
        return labels

    lexicon = seg.MwtLexicon(entries={})
    config = seg.SegmenterConfig(context=4, core=40, batch_windows=2, max_sentence_chars=400)
    text = "One. Two. Three. Four. " * 20  # 460 characters, blocks of 80
    asked: list[list[seg.RawSentence]] = []

    def guess(sentences):  # the second block turns to b_b from its third sentence on
        asked.append(sentences)
        return ("b_b", 2) if len(asked) == 2 else (None if len(asked) < 2 else "b_b", 0)

    out = list(seg.segment_with(punctuation_labels, config, lexicon, [text], guess=guess,
                                predict_as=lambda tb: no_sentence_ends if tb == "b_b" else punctuation_labels,
                                guess_after=20))  # fmt: skip
    assert "".join(s.text for s in out).replace(" ", "") == text.replace(" ", "")
    turn = asked[1][2].start
    before = [s for s in out if s.start < turn]
    assert [s.text for s in before] == [s.text for s in asked[0] + asked[1][:2]]  # as first segmented
    assert out[len(before)].start == turn and len(out[len(before)].text) > 40  # as b_b from there


def test_a_stream_restored_to_its_state_segments_a_block_again_as_before():
    lexicon = seg.MwtLexicon(entries={})
    text = "One. Two. Three. Four. " * 6
    stream = seg.SegmentationStream(punctuation_labels, SMALL, lexicon)
    first = stream.feed(text[:40])
    before = stream.state()
    once = stream.feed(text[40:90])
    stream.restore(before)
    again = stream.feed(text[40:90])
    assert [(s.start, s.end, s.text) for s in again] == [(s.start, s.end, s.text) for s in once]
    rest = stream.feed(text[90:]) + stream.close()
    whole = list(seg.segment_with(punctuation_labels, SMALL, lexicon, [text]))
    assert [(s.start, s.end) for s in first + again + rest] == [(s.start, s.end) for s in whole]


def test_a_guessed_text_is_labelled_in_smaller_blocks(monkeypatch):
    """Guessing, the network labels GUESS_BLOCK_WINDOWS windows at a time, after each of which
    the guess is asked again (a new document's treebank is taken sooner); else its whole batch."""
    monkeypatch.setattr(seg, "GUESS_BLOCK_WINDOWS", 2)
    config = seg.SegmenterConfig(context=4, core=40, batch_windows=8, max_sentence_chars=200)
    lexicon = seg.MwtLexicon(entries={})
    text = "One. Two. Three. Four. " * 40  # 920 characters: 23 windows
    sizes, asked = [], []

    def predict(char_ids, cat_ids):
        sizes.append(len(char_ids))
        return punctuation_labels(char_ids, cat_ids)

    out = list(seg.segment_with(predict, config, lexicon, [text], guess=lambda s: (asked.append(len(s)), 0),
                                predict_as=lambda tb: predict, guess_after=20))  # fmt: skip
    assert max(sizes) == 2 and sum(sizes) == 23 and len(asked) >= 10
    assert "".join(s.text for s in out).replace(" ", "") == text.replace(" ", "")
    sizes.clear()
    list(seg.segment_with(predict, config, lexicon, [text]))
    assert max(sizes) == 8 and sum(sizes) == 23


def test_a_guessed_treebank_is_kept_to_text_in_its_language():
    """A window whose cue words are of another language than the guessed treebank's is labelled
    with no hint; a given treebank is used everywhere."""
    config = seg.SegmenterConfig(context=4, core=40, batch_windows=2, max_sentence_chars=200)
    lexicon = seg.MwtLexicon(entries={}, cues={"the": "xx", "and": "xx", "el": "yy", "la": "yy"})
    text = "the cat and the dog and the cow and them. " * 2 + "el gato del perro y la casa y el sol. " * 2
    seen: dict[str, list[str]] = {"hinted": [], "plain": []}

    def recording(name):
        def predict(char_ids, cat_ids):
            seen[name] += ["".join(chr(max(c - 1, 32)) for c in row) for row in char_ids]
            return punctuation_labels(char_ids, cat_ids)
        return predict

    predictors = {"xx_a": recording("hinted"), None: recording("plain")}
    out = list(seg.segment_with(predictors["xx_a"], config, lexicon, [text], "xx_a", guess=lambda s: ("xx_a", 0),
                                predict_as=predictors.__getitem__))  # fmt: skip
    # 40-character windows: the two of xx text hinted, the two of yy text not
    assert len(seen["hinted"]) == 2 and all("the cat" in w and "gato" not in w for w in seen["hinted"])
    assert len(seen["plain"]) == 2 and all("gato" in w and "the cat" not in w for w in seen["plain"])
    assert "".join(s.text for s in out).replace(" ", "") == text.replace(" ", "")
    # given, not guessed: the hint everywhere
    seen["hinted"].clear(), seen["plain"].clear()
    list(seg.segment_with(predictors["xx_a"], config, lexicon, [text], "xx_a"))
    assert seen["plain"] == [] and any("gato" in w for w in seen["hinted"])


def test_an_expander_keeps_a_guessed_treebank_to_its_language():
    lexicon = seg.MwtLexicon(entries={}, cues={"the": "xx", "el": "yy", "la": "yy"})
    expander = lexicon.expander("xx_a")
    token = lambda form: seg.RawToken(form, 0, len(form), True, [form])  # noqa: E731
    expander.observe([token("el"), token("la")])
    assert expander.hinted() == "xx_a" and expander.sentence_language(["el"]) == "xx"  # given: everywhere
    expander.guessed = True
    assert expander.hinted() is None and expander.sentence_language(["el", "la"]) == "yy"
    expander.observe([token("the")] * 3)
    assert expander.hinted() == "xx_a"


def test_a_line_in_another_language_than_the_guessed_treebanks_is_read_in_its_own():
    """A Portuguese line in a text guessed English (lines of both, alternating): its own cue
    words and the identifier say Portuguese, so 'do' is 'de o' and hyphens are cut as
    Portuguese cuts them; a quoted English title alone does not move a sentence."""
    lexicon = seg.MwtLexicon(entries={}, cues={"the": "en", "of": "en", "com": "pt", "não": "pt", "muito": "pt"},
                             hyphens={"en_a": [0, 40, []], "en_b": [40, 0, []], "pt_a": [30, 0, []]})  # fmt: skip
    said = {}
    expander = lexicon.expander("en_a", identify=lambda forms: said.get(forms[0]))
    expander.guessed = True
    expander.observe([seg.RawToken(w, 0, 1, True, [w]) for w in ("the", "of", "the")])  # recent: English
    portuguese = ["Não", "gosto", "muito", "do", "bolo", "com", "nozes", "."]
    assert expander.hinted() == "en_a" and expander.sentence_language(portuguese) == "en"  # the identifier: no
    said["Não"] = "pt"
    assert expander.sentence_language(portuguese) == "pt"
    assert expander.hyphen_policy(portuguese) == seg.HyphenPolicy(False, frozenset())  # as pt_a, not en_a
    assert expander.hyphen_policy(["the", "end", "of", "it"]) == seg.HyphenPolicy(True, frozenset())
    assert expander.sentence_language(["Não", "é", "the", "end", "of", "it"]) == "en"  # one cue word: not clear
    said["Na"] = "pt"
    assert expander.sentence_language(["Na", "área", "com", "os", "amigos"]) == "pt"  # one, and none of English
    said["Na"] = "es"
    assert expander.sentence_language(["Na", "área", "com", "os", "amigos"]) == "en"  # the identifier: no
    expander.observe([seg.RawToken(w, 0, 1, True, [w]) for w in ("com", "não", "muito")] * 3)  # a Portuguese line
    assert expander.hinted() is None  # the recent words are Portuguese, but this line is English:
    assert expander.hyphen_policy(["the", "end", "of", "it"]) == seg.HyphenPolicy(True, frozenset())  # en_a's
    # a text guessed Portuguese: an English line is cut as the text's English treebank, where known
    guessed_pt = lexicon.expander("pt_a", identify=lambda forms: said.get(forms[0]))
    guessed_pt.guessed = True
    said["the"] = "en"
    assert guessed_pt.hyphen_policy(["the", "end", "of", "it"]) is None  # English treebanks unknown: the network's
    guessed_pt.treebank_of = {"en": "en_a"}.get
    assert guessed_pt.hyphen_policy(["the", "end", "of", "it"]) == seg.HyphenPolicy(True, frozenset())
    expander.guessed = False  # a treebank the user gave holds everywhere
    assert expander.sentence_language(portuguese) == "en"
    # no treebank, the recent sentences English: one cue word of another language and none of
    # English is that language where the identifier agrees
    plain = lexicon.expander(identify=lambda forms: said.get(forms[0]))
    plain.observe([seg.RawToken(w, 0, 1, True, [w]) for w in ("the", "of", "the")])
    said["Na"] = "pt"
    assert plain.sentence_language(["Na", "área", "com", "os", "amigos"]) == "pt"
    said["Na"] = "es"
    assert plain.sentence_language(["Na", "área", "com", "os", "amigos"]) == "en"


def test_a_line_with_no_cue_word_or_cue_words_of_several_other_languages_asks_the_identifier():
    """Portuguese lines among English ones: with no Portuguese cue word at all ('A sede do condado
    é a cidade de Gorzów.'), or with cue words that other languages share ('o' is Estonian too)."""
    lexicon = seg.MwtLexicon(entries={}, cues={"the": "en", "of": "en", "com": "pt", "o": "et", "ja": "et"})
    said = {}
    expander = lexicon.expander("en_a", identify=lambda forms: said.get(forms[0]))
    expander.guessed = True
    expander.observe([seg.RawToken(w, 0, 1, True, [w]) for w in ("the", "of", "the")])  # recent: English
    no_cue = ["A", "sede", "do", "condado", "é", "a", "cidade", "de", "Gorzów", "."]
    assert expander.sentence_language(no_cue) == "en"  # the identifier knows nothing
    said["A"] = "pt"
    assert expander.sentence_language(no_cue) == "pt"
    assert expander.sentence_language(["A", "sede", "do", "condado", "."]) == "en"  # 4 words: too few to ask
    # cue words of two other languages, none of English: the one the identifier names
    said["Quando"] = "pt"
    assert expander.sentence_language(["Quando", "o", "bolo", "com", "nozes", "."]) == "pt"  # et 1, pt 1
    assert expander.sentence_language(["Quando", "o", "ja", "bolo", "com", "."]) == "pt"  # et 2 (clear), pt 1
    said["Quando"] = "es"
    assert expander.sentence_language(["Quando", "o", "bolo", "com", "nozes", "."]) == "en"  # neither of them
    # the same without a treebank, against the recent sentences' language
    plain = lexicon.expander(identify=lambda forms: said.get(forms[0]))
    plain.observe([seg.RawToken(w, 0, 1, True, [w]) for w in ("the", "of", "the")])
    assert plain.sentence_language(no_cue) == "pt"
    said["Quando"] = "pt"
    assert plain.sentence_language(["Quando", "o", "bolo", "com", "nozes", "."]) == "pt"


SPOKEN = seg.SentenceWords(0.5, {"b": -4.0, "l:euh": 8.0, "r:alors": 8.0})  # ends after 'euh' and before 'alors'


def test_sentence_words_add_sentence_ends_where_the_words_say_so():
    lexicon = seg.MwtLexicon(entries={}, sentence_words={"fr_x": [SPOKEN.threshold, SPOKEN.weights]})
    text = "on y va euh alors bon je pense que oui euh voilà. ça va mieux alors"
    as_fr = list(seg.segment_with(punctuation_labels, SMALL, lexicon, [text], "fr_x"))
    assert [s.text for s in as_fr] == ["on y va euh", "alors bon je pense que oui euh", "voilà.", "ça va mieux",
                                       "alors"]
    # the network's ends stay; another treebank, or none, has no such model
    assert [s.text for s in seg.segment_with(punctuation_labels, SMALL, lexicon, [text], "fr_y")] == [
        text[: text.index(".") + 1], text[text.index(".") + 2 :]]
    assert len(list(seg.segment_with(punctuation_labels, SMALL, lexicon, [text]))) == 2
    # where the chunks fall does not matter: a gap waits for the two tokens after it
    for size in (1, 3, 7, 16):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        assert [(s.start, s.end) for s in seg.segment_with(punctuation_labels, SMALL, lexicon, chunks, "fr_x")] == [
            (s.start, s.end) for s in as_fr]


def test_sentence_words_read_the_token_before_only_inside_the_sentence():
    model = seg.SentenceWords(0.5, {"b": -4.0, "ll:<s>|oui": 8.0})  # 'oui' alone as a sentence's first word
    forms = "oui oui oui non oui".split()
    starts = np.array([0, 4, 8, 12, 16])
    ends = starts + np.array([len(f) for f in forms])
    found = model.sentence_ends(" ".join(forms), starts, ends, np.zeros(5, bool), 5)
    assert found.tolist() == [True, True, True, False, False]  # the last "oui" follows "non" in its sentence
    assert model.probability(seg.gap_features(["oui", "non"], 0, True)) > 0.98
    assert model.probability(seg.gap_features(["non", "oui"], 1, False)) < 0.02  # 'oui' after 'non'
    assert seg.gap_features(["a", "b", "c"], 1, False) == ("b", "l:b", "r:c", "lr:b|c", "ll:a|b", "rr:c|</s>",
                                                           "l2:a", "r2:</s>")


def test_a_lexicon_keeps_its_sentence_word_models_and_refuses_a_bad_one(tmp_path):
    lexicon = seg.MwtLexicon(sentence_words={"fr_x": [0.2, {"b": -1.5, "l:euh": 2.25}]})
    lexicon.save(tmp_path / "mwt.json.xz")
    again = seg.MwtLexicon.load(tmp_path / "mwt.json.xz")
    assert again.sentence_words == lexicon.sentence_words
    assert again.expander("fr_x").sentence_words() == seg.SentenceWords(0.2, {"b": -1.5, "l:euh": 2.25})
    assert again.expander("en_x").sentence_words() is None and again.expander().sentence_words() is None
    (tmp_path / "bad.json").write_text(json.dumps({**json.loads(lzma.decompress((tmp_path / "mwt.json.xz").read_bytes())),
                                                   "sentence_words": {"fr_x": [0.2]}}))
    with pytest.raises(InputError, match="bad.json: not an MWT lexicon .*sentence-word model for 'fr_x'"):
        seg.MwtLexicon.load(tmp_path / "bad.json")


def test_a_restored_block_is_not_labelled_twice_up_to_where_the_text_turned():
    lexicon = seg.MwtLexicon(entries={})
    config = seg.SegmenterConfig(context=4, core=40, batch_windows=2, max_sentence_chars=400)
    text = "One. Two. Three. Four. " * 20
    calls = []

    def predict(char_ids, cat_ids):
        calls.append(len(char_ids))
        return punctuation_labels(char_ids, cat_ids)

    stream = seg.SegmentationStream(predict, config, lexicon)
    first = stream.feed(text[:80])
    before, block_start = stream.state(), stream.labelled_to()
    once = stream.feed(text[80:160])
    calls.clear()
    stream.restore(before)
    again = stream.label_until(text[80:160], block_start + 50)
    assert calls == []  # the first 50 characters' labels came from the feed before
    rest = stream.feed("") + stream.feed(text[160:]) + stream.close()
    assert calls  # the rest from the network
    whole = list(seg.segment_with(predict, config, lexicon, [text]))
    assert [(s.start, s.end) for s in first + again + rest] == [(s.start, s.end) for s in whole]
    spans = [(s.start, s.end) for s in again]
    assert spans and spans == [(s.start, s.end) for s in once][: len(spans)] and spans[-1][1] <= block_start + 50


@settings(max_examples=100, deadline=None)
@given(TEXTS, st.lists(st.integers(1, 40), min_size=1, max_size=20), st.sampled_from([arbitrary_labels, punctuation_labels]),
       st.sampled_from([{"b": 1.0, "ll:<s>|a": -3.0}, {"b": -1.0, "l:a": 3.0, "r:b": 3.0}]))
def test_sentence_words_keep_the_text_and_do_not_depend_on_the_chunks(text, cuts, predict, weights):
    """An end after nearly every token (after 'a' only where it is not the sentence's first), or
    after 'a' and before 'b'."""
    lexicon = seg.MwtLexicon(entries={}, sentence_words={"fr_x": [0.5, weights]})
    chunks, pos = [], 0
    for size in cuts:
        chunks.append(text[pos : pos + size])
        pos += size
    chunks.append(text[pos:])
    whole = list(seg.segment_with(predict, SMALL, lexicon, [text], "fr_x"))
    check_covers_text(text, whole)
    assert list(seg.segment_with(predict, SMALL, lexicon, chunks, "fr_x")) == whole


def test_a_citation_mark_after_a_sentence_ends_it_however_the_text_is_chunked():
    lexicon = seg.MwtLexicon(entries={})
    text = "It is good. [3] Then more. [12]\n\nNext one. [4] Go.\n[5] New line. Not a mark. [x] Here."
    whole = [s.text for s in seg.segment_with(punctuation_labels, SMALL, lexicon, [text])]
    # a mark on a new line, or not a number, begins the next sentence as before
    assert whole == ["It is good. [3]", "Then more. [12]", "Next one. [4]", "Go.", "[5] New line.", "Not a mark.",
                     "[x] Here."]
    for size in (1, 2, 3, 5, 8, 13):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        assert [s.text for s in seg.segment_with(punctuation_labels, SMALL, lexicon, chunks)] == whole


def test_emoji_after_a_sentence_end_it_however_the_text_is_chunked():
    lexicon = seg.MwtLexicon(entries={})
    text = "It is gr8. 😂😂 Then more. 👍 🎉\n😎 New line. Not emoji. :) Here"
    whole = [s.text for s in seg.segment_with(punctuation_labels, SMALL, lexicon, [text])]
    # on a new line, or an emoticon of punctuation, begins the next sentence as before
    assert whole == ["It is gr8. 😂😂", "Then more. 👍 🎉", "😎 New line.", "Not emoji.", ":) Here"]
    for size in (1, 2, 3, 5, 8, 13):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        assert [s.text for s in seg.segment_with(punctuation_labels, SMALL, lexicon, chunks)] == whole


def test_a_citation_mark_moves_the_sentence_end_only_when_its_tokens_are_there():
    text = "Good. [3] Next"
    starts, ends = np.array([0, 4, 6, 7, 8, 10]), np.array([4, 5, 7, 8, 9, 14])
    breaks = np.array([False, True, False, False, False, False])
    moved, limit = seg.attach_references(text, starts, ends, breaks, 6, final=True)
    assert moved.tolist() == [False, False, False, False, True, False] and limit == 6
    held, limit = seg.attach_references(text, starts, ends, breaks, 4, final=False)  # ']' not decided yet
    assert held.tolist() == breaks.tolist() and limit == 1
    cut, limit = seg.attach_references("Good. [", starts[:3], np.array([4, 5, 7]), breaks[:3], 2, final=False)
    assert limit == 1  # the text stops inside what may be a mark

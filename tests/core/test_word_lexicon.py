"""The word lexicon: learned per treebank, saved compactly, and used to replace labels a form
never had in training (with a hint, or with the treebank guessed from the text)."""

from __future__ import annotations

import lzma

import pytest

from polytag.core.errors import InputError
from polytag.core.conllu_io import read_conllu
from polytag.core.word_lexicon import WordLexicon, glued_tokens, learn_guess, load_lexicon, writing_signs


def conllu(*sentences: list[tuple[str, str, str]]) -> str:
    blocks = []
    for words in sentences:
        lines = [f"{i}\t{form}\t_\t{upos}\t_\t{feats}\t{0 if i == 1 else 1}\t_\t_\t_"
                 for i, (form, upos, feats) in enumerate(words, 1)]  # fmt: skip
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\n"


# xx_a writes features, xx_b (the same language) none; 'the' and 'and' are the language's cues; both begin
# lowercase and end with no punctuation, so their writing signs are alike
XX_A = [("the", "DET", "Definite=Def"), ("cat", "NOUN", "Number=Sing"), ("and", "CCONJ", "_"),
        ("runs", "VERB", "Number=Sing|Person=3")]  # fmt: skip
XX_B = [("the", "DET", "_"), ("cat", "NOUN", "_"), ("and", "CCONJ", "_"), ("runs", "VERB", "_"),
        ("well", "ADV", "_")]  # fmt: skip
YY = [("el", "DET", "Definite=Def"), ("gato", "NOUN", "Gender=Masc"), ("corre", "VERB", "Mood=Ind")]


@pytest.fixture
def lexicon(tmp_path) -> WordLexicon:
    for treebank, words, n in (("xx_a", XX_A, 6), ("xx_b", XX_B, 5), ("yy_c", YY, 6), ("xx_pseudo", XX_B, 9)):
        folder = tmp_path / treebank
        folder.mkdir()
        # 'runs' is a NOUN once in xx_a: seen, but not its most frequent label
        extra = [[("runs", "NOUN", "Number=Plur")]] if treebank == "xx_a" else []
        (folder / f"{treebank}-ud-train.conllu").write_text(conllu(*([words] * n), *extra), encoding="utf-8")
    return WordLexicon.learn(sorted(tmp_path.glob("*/*-ud-train.conllu")), min_count=2)


def test_learned_per_treebank_without_machine_labelled_ones_and_saved_compactly(lexicon, tmp_path):
    assert lexicon.treebanks == ["xx_a", "xx_b", "yy_c"]
    runs = lexicon.entries("xx_a")["runs"]
    assert runs.upos == {"VERB", "NOUN"} and runs.best_upos == "VERB"
    assert runs.feats == {"Number=Sing|Person=3", "Number=Plur"}
    assert lexicon.entries("xx_b")["the"].feats == {"_"}
    assert lexicon.cues["the"] == "xx" and lexicon.cues["el"] == "yy"
    lexicon.save(tmp_path / "lexicon.tsv.xz")
    again = load_lexicon(tmp_path)
    assert again.entries("xx_a") == lexicon.entries("xx_a") and again.cues == lexicon.cues
    # a form seen fewer than min_count times is left out
    rare = WordLexicon.learn(sorted(tmp_path.glob("*/*-ud-train.conllu")), min_count=6)
    assert "well" not in rare.entries("xx_b") and "the" in rare.entries("xx_a")
    assert load_lexicon(tmp_path / "xx_a") is None  # no lexicon file: none


def test_a_ud_release_folder_is_keyed_by_the_treebank_ids_in_its_file_names(tiny_treebank_dir):
    """UD_Xx-Test/xx_test-ud-train.conllu is treebank xx_test of language xx, not 'UD_Xx-Test'."""
    lexicon = WordLexicon.learn_folder(tiny_treebank_dir)
    assert lexicon.treebanks == ["xx_second", "xx_test", "yy_other"]
    assert set(lexicon.by_language) == {"xx", "yy"}


def test_a_broken_lexicon_file_is_one_clear_error(tmp_path):
    (tmp_path / "lexicon.tsv.xz").write_bytes(b"not xz")
    with pytest.raises(InputError, match="lexicon.tsv.xz: not a word lexicon"):
        load_lexicon(tmp_path)
    (tmp_path / "lexicon.tsv.xz").write_bytes(lzma.compress(b'{"format": "other"}\n'))
    with pytest.raises(InputError, match="not a word lexicon"):
        load_lexicon(tmp_path)
    with pytest.raises(InputError, match="no treebank train files"):
        WordLexicon.learn([])


def test_with_a_hint_labels_the_form_never_had_there_become_its_most_frequent(lexicon):
    words = [["The", "cat", "runs", "unknown"]]
    upos = [["PRON", "NOUN", "NOUN", "X"]]
    feats = [["_", "Number=Plur", "Number=Plur", "Foo=Bar"]]
    lexicon.restrict(words, upos, feats, treebank="xx_a")
    assert upos == [["DET", "NOUN", "NOUN", "X"]]  # 'runs' was a NOUN once there: kept
    assert feats == [["Definite=Def", "Number=Sing", "Number=Plur", "Foo=Bar"]]
    # xx_b's conventions: no features
    feats = [["Definite=Def", "Number=Sing", "_", "Foo=Bar"]]
    lexicon.restrict(words, [["DET", "NOUN", "VERB", "X"]], feats, treebank="xx_b")
    assert feats == [["_", "_", "_", "Foo=Bar"]]


def test_without_a_hint_the_treebank_under_whose_words_the_text_is_likeliest_is_used(lexicon):
    # 'well' is only xx_b's: its lexicon, so 'well' becomes its ADV and keeps no features
    words = [["the", "cat", "and", "well"]] * 3
    upos = [["DET", "NOUN", "CCONJ", "NOUN"] for _ in words]
    feats = [["_", "_", "_", "Degree=Pos"] for _ in words]
    lexicon.restrict(words, upos, feats)
    assert upos[0] == ["DET", "NOUN", "CCONJ", "ADV"] and feats[0] == ["_", "_", "_", "_"]
    # words both have: xx_a gives them more of its mass (6 of 25 each against 5 of 25), so its
    # features are the text's, whatever the labels
    words = [["the", "cat", "and", "runs"]] * 3
    upos = [["DET", "NOUN", "CCONJ", "VERB"] for _ in words]
    feats = [["_", "_", "_", "_"] for _ in words]
    lexicon.restrict(words, upos, feats)
    assert feats[0] == ["Definite=Def", "Number=Sing", "_", "Number=Sing|Person=3"]
    # a word neither has does not count: it would favour the smaller treebank
    assert [k for k, _ in lexicon.sentence_treebanks([["the", "cat", "and", "runs", "zzz", "qqq"]])] == ["xx_a"]
    scores = lexicon.word_likelihoods(["xx_a", "xx_b"], ["zzz"])
    # no word counts, only the signs: no final punctuation and a lowercase start, as all their sentences
    signs = [lexicon._sign_scores[t][(0, False)] + lexicon._sign_scores[t][(1, False)] for t in ("xx_a", "xx_b")]
    assert scores == signs and max(signs) < 0 and min(signs) > -0.05
    # another language's words: its own (single) treebank
    upos, feats = [["DET", "VERB", "VERB"]], [["_", "_", "_"]]
    lexicon.restrict([["el", "gato", "corre"]], upos, feats)
    assert upos == [["DET", "NOUN", "VERB"]] and feats == [["Definite=Def", "Gender=Masc", "Mood=Ind"]]
    # no cue word yet: nothing is known about the text, the labels stay
    lexicon.cues = {}
    upos, feats = [["PRON"]], [["_"]]
    lexicon.restrict([["cat"]], upos, feats)
    assert upos == [["PRON"]]


def test_a_sentence_whose_own_words_say_another_language_is_not_given_the_texts(lexicon):
    """Text that changes language between sentences: each sentence's own cue words can overrule
    the recent ones."""
    before = [["the", "cat", "and", "runs"]] * 3
    before_upos = [["DET", "NOUN", "CCONJ", "VERB"] for _ in before]
    before_feats = [["_"] * 4 for _ in before]
    # clearly Spanish (three cue words, none of xx): Spanish lexicon, though the text was xx
    upos, feats = before_upos + [["DET", "VERB", "VERB"]], before_feats + [["_", "_", "_"]]
    lexicon.restrict(before + [["el", "gato", "corre"]], upos, feats)
    assert upos[-1] == ["DET", "NOUN", "VERB"] and feats[-1] == ["Definite=Def", "Gender=Masc", "Mood=Ind"]
    # one Spanish cue word and none of xx: no lexicon at all ('cat', here no cue word, is not
    # forced to xx's NOUN)
    del lexicon.cues["cat"]
    upos, feats = before_upos + [["VERB", "VERB"]], before_feats + [["_", "_"]]
    lexicon.restrict(before + [["gato", "cat"]], upos, feats)
    assert upos[-1] == ["VERB", "VERB"]
    # as many of xx's as of the other's: still the text's language
    upos, feats = before_upos + [["VERB", "VERB", "VERB"]], before_feats + [["_", "_", "_"]]
    lexicon.restrict(before + [["gato", "the", "cat"]], upos, feats)
    assert upos[-1] == ["VERB", "DET", "NOUN"]


def test_a_sentence_in_two_languages_is_looked_up_in_both(lexicon):
    """Runs of three cue words of two languages: each word takes the language of the nearest."""
    words = ["the", "cat", "and", "runs", "el", "gato", "corre"]
    assert [(language, len(positions)) for language, positions in lexicon.language_runs(words)] == [("xx", 4), ("yy", 3)]
    upos = [["DET", "NOUN", "CCONJ", "VERB", "PRON", "VERB", "VERB"]]
    feats = [["Definite=Def", "Number=Sing", "_", "Number=Sing|Person=3", "_", "_", "_"]]
    lexicon.restrict([words], upos, feats)
    assert upos[0][4:] == ["DET", "NOUN", "VERB"] and feats[0][4:] == ["Definite=Def", "Gender=Masc", "Mood=Ind"]
    assert upos[0][:4] == ["DET", "NOUN", "CCONJ", "VERB"]  # the xx part as xx_a (its labels) has it
    # a lone cue word of another language is not a run: the sentence stays in one language
    words = ["the", "cat", "and", "runs", "el", "the", "cat"]
    assert [language for language, _ in lexicon.language_runs(words)] == ["xx"]
    upos = [["DET", "NOUN", "CCONJ", "VERB", "PRON", "DET", "NOUN"]]
    lexicon.restrict([words], upos, [["_"] * 7])
    assert upos[0][4] == "PRON"  # not looked up in yy


def test_an_unseen_word_gets_no_feats_that_words_of_its_ending_and_upos_never_have(tmp_path):
    folder = tmp_path / "zz_suf"
    folder.mkdir()
    words = [("walking", "VERB", "VerbForm=Ger"), ("talking", "VERB", "VerbForm=Ger"),
             ("barking", "VERB", "VerbForm=Ger"), ("sing", "VERB", "VerbForm=Inf"),
             ("king", "NOUN", "Number=Sing"), ("cat", "NOUN", "Number=Sing")]  # fmt: skip
    (folder / "zz_suf-ud-train.conllu").write_text(conllu(words), encoding="utf-8")
    lexicon = WordLexicon.learn([folder / "zz_suf-ud-train.conllu"], min_count=1)
    upos = [["VERB", "VERB", "NOUN", "VERB"]]
    feats = [["VerbForm=Fin", "VerbForm=Ger", "Number=Plur", "VerbForm=Fin"]]
    lexicon.restrict([["parking", "joking", "parking", "sang"]], upos, feats, treebank="zz_suf")
    # three VERB forms in -ing, all gerunds: an unseen one is too; one NOUN in -ing, or a word
    # of three letters: too little to go by, the network's FEATS stay
    assert feats == [["VerbForm=Ger", "VerbForm=Ger", "Number=Plur", "VerbForm=Fin"]]


def test_a_word_no_train_split_has_gets_no_upos_the_labelled_text_never_gave_it(tmp_path):
    """The text lexicon: machine-labelled text's UPOS for the forms the language's train splits
    lack; a form they have is decided by the treebank's lexicon alone."""
    for treebank, words in (("zz_a", [("dog", "NOUN", "Number=Sing"), ("sleeps", "VERB", "Number=Sing")]),
                            ("zz_pseudo", [("dog", "VERB", "_"), ("cat", "NOUN", "_"), ("cat", "NOUN", "_"),
                                           ("cat", "VERB", "_"), ("purrs", "VERB", "_"), ("ring", "NOUN", "_")]),
                            ("yy_pseudo", [("cat", "PROPN", "_")])):  # fmt: skip - yy: no treebank
        (tmp_path / treebank).mkdir()
        (tmp_path / treebank / f"{treebank}-ud-train.conllu").write_text(conllu(words), encoding="utf-8")
    plain = WordLexicon.learn([tmp_path / "zz_a" / "zz_a-ud-train.conllu"])
    lexicon = WordLexicon.learn([tmp_path / "zz_a" / "zz_a-ud-train.conllu"], text=sorted(tmp_path.glob("*_pseudo/*")))
    assert lexicon.text_forms == {"zz": 3} and plain.text_forms == {}  # no treebank of yy: never looked up
    cat = lexicon.text_entries("zz")["cat"]
    assert cat.upos == {"NOUN", "VERB"} and cat.best_upos == "NOUN"
    assert "dog" not in lexicon.text_entries("zz")  # the train split has it: its lexicon decides
    assert plain.text_entries("zz") == {} and lexicon.text_entries("xx") == {}
    bare = lexicon.without_text()
    assert bare.text_forms == {} and bare.text_entries("zz") == {} and bare.entries("zz_a") == lexicon.entries("zz_a")
    lexicon.save(tmp_path / "lexicon.tsv.xz")
    again = load_lexicon(tmp_path)
    assert again.text_entries("zz") == lexicon.text_entries("zz") and again.entries("zz_a") == lexicon.entries("zz_a")
    # a block is read when first needed: a broken one is then one clear error naming the file
    data = (tmp_path / "lexicon.tsv.xz").read_bytes()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "lexicon.tsv.xz").write_bytes(data[:-8] + b"\0" * 8)  # the last block: zz's text
    with pytest.raises(InputError, match=r"broken/lexicon.tsv.xz: not a word lexicon \(the block of language zz's text"):
        load_lexicon(tmp_path / "broken").text_entries("zz")

    words = [["dog", "cat", "cat", "purrs", "ring", "mews"]]
    upos = [["VERB", "VERB", "ADJ", "NOUN", "VERB", "ADJ"]]
    again.restrict(words, upos, [["_"] * 6], treebank="zz_a")
    # dog: the treebank's NOUN; cat: VERB was given it once, ADJ never; mews: in neither, kept
    assert upos == [["NOUN", "VERB", "NOUN", "VERB", "NOUN", "ADJ"]]
    upos = [["VERB", "VERB", "ADJ", "NOUN", "VERB", "ADJ"]]
    plain.restrict(words, upos, [["_"] * 6], treebank="zz_a")
    assert upos == [["NOUN", "VERB", "ADJ", "NOUN", "VERB", "ADJ"]]  # without text: unseen words keep theirs


def test_text_folders_may_hold_an_empty_language_but_not_nothing(tmp_path):
    """The labeller writes an empty file for a language with no text left at its offset."""
    (tmp_path / "ud" / "zz_a").mkdir(parents=True)
    (tmp_path / "ud" / "zz_a" / "zz_a-ud-train.conllu").write_text(conllu([("dog", "NOUN", "_")]), encoding="utf-8")
    for language, words in (("zz", [("cat", "NOUN", "_")]), ("yy", [])):
        folder = tmp_path / "text" / f"{language}_pseudo"
        folder.mkdir(parents=True)
        (folder / f"{language}_pseudo-ud-train.conllu").write_text(conllu(words) if words else "", encoding="utf-8")
    assert WordLexicon.learn_folder(tmp_path / "ud", text=[tmp_path / "text"]).text_forms == {"zz": 1}
    with pytest.raises(InputError, match="ud: no <lang>_pseudo/"):
        WordLexicon.learn_folder(tmp_path / "ud", text=[tmp_path / "ud"])


def test_unrelated_texts_batched_together_are_guessed_apart(lexicon):
    """A server batches requests: with their sizes given, none depends on the others."""
    first = [["el", "gato", "corre"]]
    second = [["cat", "runs"]]  # no cue word: alone, nothing is known about its language
    alone_upos, alone_feats = [["PRON", "PRON"]], [["_", "_"]]
    lexicon.restrict(second, alone_upos, alone_feats)
    upos, feats = [["DET", "VERB", "VERB"], ["PRON", "PRON"]], [["_", "_", "_"], ["_", "_"]]
    lexicon.restrict(first + second, upos, feats, documents=[1, 1])
    assert upos[1] == alone_upos[0] and feats[1] == alone_feats[0]
    assert upos[0] == ["DET", "NOUN", "VERB"]
    with pytest.raises(ValueError, match="do not add up"):
        lexicon.restrict(first + second, upos, feats, documents=[1])


def test_sentence_treebanks_are_the_choices_restrict_makes_without_a_hint(lexicon):
    words = [["the", "cat", "and", "well"], ["the", "cat"], ["el", "gato"], ["nothing", "known"]]
    keys = lexicon.sentence_treebanks(words)
    # 'el gato' says its own language; 'nothing known' has no cue word: the text's, xx
    assert [k for k, _ in keys] == ["xx_b", "xx_b", "yy_c", "xx_b"]
    assert [k for k, _ in lexicon.sentence_treebanks(words, documents=[2, 1, 1])] == ["xx_b", "xx_b", "yy_c", None]
    assert lexicon.sentence_treebanks(words, treebank="xx_a") == [("xx_a", None)] * 4
    # the same keys given to restrict decide as restrict alone does
    upos = [["DET", "NOUN", "CCONJ", "NOUN"], ["DET", "NOUN"], ["DET", "VERB"], ["X", "X"]]
    feats = [["_"] * len(w) for w in words]
    upos2, feats2 = [list(u) for u in upos], [list(f) for f in feats]
    lexicon.restrict(words, upos, feats)
    lexicon.restrict(words, upos2, feats2, keys=keys)
    assert (upos, feats) == (upos2, feats2) and upos[2] == ["DET", "NOUN"]
    with pytest.raises(ValueError, match="2 treebank keys for 4 sentences"):
        lexicon.restrict(words, upos, feats, keys=keys[:2])


def test_a_sentence_in_two_languages_does_not_move_the_texts_treebank(lexicon):
    """Its other half's words, some of them in one treebank by chance, would decide."""
    mixed = ["the", "cat", "and", "well", "el", "gato", "corre"]
    keys = lexicon.sentence_treebanks([mixed, ["the", "cat", "and", "runs"]])
    assert keys[0][1] is not None  # each word its own language's
    assert keys[1][0] == "xx_a"  # 'well' (xx_b's) in the mixed sentence did not count


def test_a_text_with_no_cue_word_asks_the_identifier_for_each_sentence(lexicon):
    asked = []

    def identify(words):
        asked.append(list(words))
        return {"gato": "yy", "cat": "zz"}.get(words[0])  # zz: a language the lexicon lacks

    lexicon.cues = {"the": "xx", "and": "xx", "el": "yy"}
    # "gato corre": no cue word; identified as yy, so yy_c's labels apply
    upos, feats = [["VERB", "VERB"], ["PRON"]], [["_", "_"], ["_"]]
    lexicon.restrict([["gato", "corre"], ["cat"]], upos, feats, identify=identify)
    assert upos == [["NOUN", "VERB"], ["PRON"]] and feats[0] == ["Gender=Masc", "Mood=Ind"]
    assert asked == [["gato", "corre"], ["cat"]]  # 'cat' is zz: no lexicon, labels stay
    # once a cue word is seen the text's language is known, and the identifier is not asked
    asked.clear()
    upos, feats = [["DET", "NOUN"], ["VERB", "VERB"]], [["_", "_"], ["_", "_"]]
    lexicon.restrict([["the", "cat"], ["gato", "corre"]], upos, feats, identify=identify)
    assert asked == [] and upos[1] == ["VERB", "VERB"]  # xx has no 'gato': kept
    # with a hint nothing is guessed at all
    lexicon.restrict([["gato", "corre"]], [["VERB", "VERB"]], [["_", "_"]], treebank="xx_a", identify=identify)
    assert asked == []


def test_cue_words_of_two_languages_alike_are_decided_by_the_identifier(lexicon):
    """'Le chat dort sur le canapé.': German 'dort' and French 'sur', one cue word each; which
    language counted first must not decide."""
    asked = []

    def identify(words):
        asked.append(list(words))
        return "yy"

    lexicon.cues = {"the": "xx", "and": "xx", "el": "yy"}
    tied = ["the", "gato", "el", "corre"]
    assert [k for k, _ in lexicon.sentence_treebanks([tied])][0].startswith("xx")  # the first counted
    assert [k for k, _ in lexicon.sentence_treebanks([tied], identify=identify)] == ["yy_c"]
    assert asked == [tied]
    asked.clear()  # one language ahead: not asked
    assert [k for k, _ in lexicon.sentence_treebanks([["the", "and", "el"]], identify=identify)][0].startswith("xx")
    assert asked == []


def test_a_sentence_with_no_cue_word_that_the_recent_language_lacks_asks_the_identifier(lexicon):
    asked = []

    def identify(words):
        asked.append(list(words))
        return "yy" if "gato" in words else "xx"

    lexicon.cues = {"the": "xx", "and": "xx", "el": "yy"}
    sentences = [["the", "cat", "and", "runs"], ["gato", "corre", "gato"], ["cat", "runs", "cat"], ["gato", "corre"]]
    upos = [["DET", "NOUN", "CCONJ", "VERB"], ["VERB", "VERB", "VERB"], ["VERB", "VERB", "VERB"], ["VERB", "VERB"]]
    feats = [["_"] * 4, ["_"] * 3, ["_"] * 3, ["_"] * 2]
    lexicon.restrict(sentences, upos, feats, identify=identify)
    # after xx text, a sentence of words xx lacks, with no cue word, is identified as yy
    assert asked == [["gato", "corre", "gato"]]
    assert upos[1] == ["NOUN", "VERB", "NOUN"] and feats[1] == ["Gender=Masc", "Mood=Ind", "Gender=Masc"]
    # words xx has: not asked, xx's labels ('cat' NOUN); too short to judge: not asked, kept
    assert upos[2] == ["NOUN", "VERB", "NOUN"] and upos[3] == ["VERB", "VERB"]


def test_a_new_document_that_clearly_reads_as_another_treebank_switches_at_once(lexicon, monkeypatch):
    """The long memory (about 100 sentences) would hold a text's first document for a while; the
    last ten or so sentences, clearly likelier under another treebank, replace it."""
    first = [["the", "cat", "and", "runs"] * 5] * 150  # xx_a has these words more often
    second = [["well"] * 3] * 60  # only xx_b has 'well'

    def switch(keys):
        assert {key for key, _ in keys[: len(first)]} == {"xx_a"}
        return next(i for i, (key, _) in enumerate(keys[len(first):]) if key == "xx_b")

    with_switch = switch(lexicon.sentence_treebanks(first + second))
    monkeypatch.setattr("polytag.core.word_lexicon.SWITCH_MARGIN", float("inf"))
    without = switch(lexicon.sentence_treebanks(first + second))
    assert with_switch + 8 <= without
    # after the switch the new treebank stays
    monkeypatch.undo()
    keys = lexicon.sentence_treebanks(first + second)
    assert {key for key, _ in keys[len(first) + with_switch:]} == {"xx_b"}


def test_a_text_guessed_in_parts_is_guessed_as_at_once(lexicon):
    """A stream tagged in chunks: the state carries the text's scores from one part to the next."""
    from polytag.core.word_lexicon import TextState  # noqa: PLC0415

    first = [["the", "cat", "and", "runs"] * 5] * 150
    second = [["well"] * 3] * 60
    at_once = lexicon.sentence_treebanks(first + second)
    text = TextState()
    parts = [lexicon.sentence_treebanks(part, text=text) for part in (first[:7], first[7:], second[:1], second[1:])]
    assert sum(parts, []) == at_once and text.words == sum(map(len, first + second))
    # each part alone would start again: the second knows nothing of the first
    assert lexicon.sentence_treebanks(second[1:])[0] != at_once[len(first) + 1]
    with pytest.raises(ValueError, match="without documents"):
        lexicon.sentence_treebanks(first, documents=[150], text=TextState())


def test_one_cue_word_of_another_language_decides_where_the_words_are_that_languages(lexicon):
    """A French sentence after English ones whose only cue word is 'lundi': its language's,
    where most of its words are foreign to the recent language's lexicon and known to its own."""
    lexicon.cues = {"the": "xx", "and": "xx", "el": "yy"}
    before = [["the", "cat", "and", "runs"]] * 3
    keys = lexicon.sentence_treebanks(before + [["el", "gato", "corre"]])
    assert keys[-1][0] == "yy_c"
    # words the recent language knows: one cue word of another does not move it (no lexicon)
    assert lexicon.sentence_treebanks(before + [["el", "cat", "runs"]])[-1][0] is None


def test_writing_signs_of_a_sentence():
    assert writing_signs(["Hello", "world", "."]) == (True, True)
    assert writing_signs(["euh", "bon", "ben", "voilà"]) == (False, False)
    assert writing_signs(["¿", "Qué", "tal", "?"]) == (True, True)  # the first word that is not punctuation
    assert writing_signs(["3", "cats", "..."]) == (True, None)  # no letter with case to go by
    assert writing_signs(["그는", "갔다", "."]) == (True, None)
    assert writing_signs([]) == (None, None)


def test_writing_signs_tell_written_text_from_transcribed_speech(tmp_path):
    """xx_spoken's words fit a first-person sentence better, but its train sentences never end
    with punctuation nor begin with a capital: a written one is read as xx_written."""
    written = [("The", "DET", "Definite=Def"), ("report", "NOUN", "Number=Sing"), ("says", "VERB", "Person=3"),
               ("so", "ADV", "_"), (".", "PUNCT", "_")]  # fmt: skip
    spoken = [("i", "PRON", "_"), ("think", "VERB", "_"), ("so", "ADV", "_"), ("yeah", "INTJ", "_")]
    for treebank, words in (("xx_written", written), ("xx_spoken", spoken)):
        (tmp_path / treebank).mkdir()
        (tmp_path / treebank / f"{treebank}-ud-train.conllu").write_text(conllu(*[words] * 20), encoding="utf-8")
    lexicon = WordLexicon.learn(sorted(tmp_path.glob("*/*-ud-train.conllu")))
    assert lexicon.header["signs"] == {"xx_spoken": [20, 0, 20, 0], "xx_written": [20, 20, 20, 20]}
    lexicon.cues = {"so": "xx"}  # (too few words to learn cues from)

    def key(words):
        return lexicon.sentence_treebanks([words])[0][0]

    assert key(["I", "think", "so", "."]) == "xx_written"
    assert key(["i", "think", "so"]) == "xx_spoken"
    lexicon.save(tmp_path / "lexicon.tsv.xz")
    assert load_lexicon(tmp_path)._sign_scores == lexicon._sign_scores
    # a lexicon learned before signs were kept: the words alone decide, as they did
    del lexicon.header["signs"]
    lexicon.save(tmp_path / "lexicon.tsv.xz")
    old = load_lexicon(tmp_path)
    old.cues = {"so": "xx"}
    assert old.sentence_treebanks([["I", "think", "so", "."]])[0][0] == "xx_spoken"


def test_glued_tokens_are_tokens_of_letters_with_no_space_before(tmp_path):
    text = ("1\tKupił\t_\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No\n"
            "2\tem\t_\tAUX\t_\t_\t1\taux\t_\t_\n"
            "3-4\tdo\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n"
            "3\tde\t_\tADP\t_\t_\t5\tcase\t_\t_\n"
            "4\to\t_\tDET\t_\t_\t5\tdet\t_\t_\n"
            "5\tchleb\t_\tNOUN\t_\t_\t1\tobj\t_\tSpaceAfter=No\n"
            "6\t.\t_\tPUNCT\t_\t_\t1\tpunct\t_\t_\n\n")
    (tmp_path / "xx_a").mkdir()
    path = tmp_path / "xx_a" / "xx_a-ud-train.conllu"
    path.write_text(text, encoding="utf-8")
    [sentence] = read_conllu(path)
    # 'em' after 'Kupił', 'chleb' after the token 'do' (its words are not looked at); '.' is no letter
    assert glued_tokens(sentence) == [(1, "em"), (4, "chleb")]
    cues, glued, signs = learn_guess([path])
    assert signs == {"xx_a": [1, 1, 1, 1]} and glued == {}
    # lines a lenient reader kept though their ids are bad are passed over
    sentence.lines = ["1\tKupił\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No", "x-2\tem\t_\t_\t_\t_\t_\t_\t_\t_",
                      "2\tem\t_\t_\t_\t_\t_\t_\t_\t_", "3\tshort", "4-y\tab\t_\t_\t_\t_\t_\t_\t_\t_"]
    assert glued_tokens(sentence) == [(1, "em")]


def test_a_cue_word_glued_to_the_word_before_does_not_count_where_the_input_shows_it(lexicon):
    """Polish 'kupił' + 'em' is not Portuguese 'em': a cue word another language writes glued
    (`glued_cues`) counts only where the input does not show it glued."""
    lexicon.cues = {**lexicon.cues, "em": "yy"}
    lexicon.glued_cues = frozenset({"em"})
    words = [["the", "em", "em"]]
    assert lexicon.sentence_treebanks(words)[0][0] == "yy_c"  # two of yy, one of xx
    assert lexicon.sentence_treebanks(words, glued=[[1, 2]])[0][0] in ("xx_a", "xx_b")
    assert lexicon.sentence_treebanks(words, glued=[[0]])[0][0] == "yy_c"  # 'the' is no glued cue
    with pytest.raises(ValueError, match="glued words of 2 sentences for 1"):
        lexicon.sentence_treebanks(words, glued=[[], []])

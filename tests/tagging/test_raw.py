"""Raw text in: the segmenter's sentences as CoNLL-U lines, paragraphs, offsets, the CLI, the API
and `evaluate --raw`. The segmenter here is an untrained network (tests/tagging/test_segmenter.py
builds the same): what must hold, holds whatever it predicts."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import EN, FR, write_conllu

from polytag.cli import main
from polytag.core import segmentation as seg
from polytag.core.conllu_io import read_conllu
from polytag.core.errors import InputError
from polytag.core.ud_eval import evaluate, load_conllu, load_conllu_file
from polytag.tagging import load
from polytag.tagging.raw import NewlineLog, read_text_chunks, sentence_lines

SMALL = seg.SegmenterConfig(
    n_buckets=256, char_dim=8, cat_dim=4, channels=8, dilations=(1, 2), context=6, core=10,
    batch_windows=3, max_sentence_chars=80,
)  # fmt: skip
TEXT = "Il parle du livre. Sue likes tea!\nAnd Bill?\n\nA new paragraph, here.\n"


@pytest.fixture(scope="module")
def raw_model(tmp_path_factory, tiny_model_dir):
    """The tiny tagger with an untrained segmenter/ beside it."""
    import torch  # noqa: PLC0415

    from polytag.nn.segmenter import SegmenterNet  # noqa: PLC0415
    from polytag.training.segmenter import export_segmenter  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("raw") / "model"
    shutil.copytree(tiny_model_dir, folder)
    torch.manual_seed(1)
    net = SegmenterNet(SMALL).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=1.0)
    export_segmenter(net, SMALL, seg.MwtLexicon(entries={"du": ["de", "le"]}), folder / "segmenter")
    return folder


def test_sentence_lines_carry_what_a_raw_text_treebank_carries():
    raw = seg.RawSentence("Il parle du livre.", 100, 118, [
        seg.RawToken("Il", 100, 102, True, ["Il"]), seg.RawToken("parle", 103, 108, True, ["parle"]),
        seg.RawToken("du", 109, 111, True, ["de", "le"]), seg.RawToken("livre", 112, 117, False, ["livre"]),
        seg.RawToken(".", 117, 118, True, ["."])])
    lines, word_lines = sentence_lines(raw, 7, new_doc=False, new_par=True)
    assert lines[:3] == ["# newpar", "# sent_id = 7", "# text = Il parle du livre."]
    rows = [line.split("\t") for line in lines[3:]]
    assert [r[0] for r in rows] == ["1", "2", "3-4", "3", "4", "5", "6"]
    assert rows[2][1] == "du" and rows[2][9] == "TokenRange=109:111" and rows[3][9] == "_"
    assert rows[5][9] == "SpaceAfter=No|TokenRange=112:117"
    assert [lines[i].split("\t")[1] for i in word_lines] == ["Il", "parle", "de", "le", "livre", "."]


def test_a_blank_line_is_a_new_paragraph_across_chunk_boundaries():
    log = NewlineLog()
    text = "a b.\n\nc d.\ne f."
    list(log.watch([text[:5], text[5:6], text[6:]]))  # the two newlines in different chunks
    assert log.newlines_between(4, 6) == 2  # between "b." and "c"
    assert log.newlines_between(10, 12) == 1  # between "d." and "e": the same paragraph


def test_text_chunks_drop_a_bom_and_name_the_line_of_invalid_utf8(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbfone\ntwo\nthr\xffee\n")
    chunks = read_text_chunks(path, str(path))
    with pytest.raises(InputError, match=r"t\.txt:3: not UTF-8 text"):
        list(chunks)
    path.write_bytes(b"\xef\xbb\xbfone\n")
    assert "".join(read_text_chunks(path, str(path))) == "one\n"


def test_raw_text_in_gives_the_text_back_with_offsets(tmp_path, raw_model, capsys):
    path = tmp_path / "in.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert main(["tag", str(path), "--model", str(raw_model)]) == 0  # .txt: raw
    out = capsys.readouterr().out
    sentences = list(read_conllu(write_conllu(tmp_path / "out.conllu", out)))
    rebuilt, pieces = "", []
    for s in sentences:
        for line in s.lines:
            cols = line.split("\t")
            if len(cols) == 10 and "TokenRange=" in cols[9]:
                start, end = map(int, cols[9].split("TokenRange=")[1].split("|")[0].split(":"))
                assert TEXT[start:end] == cols[1]
                pieces.append((start, end))
                rebuilt += cols[1] + ("" if "SpaceAfter=No" in cols[9] else " ")
    assert "".join(TEXT.split()) == "".join(rebuilt.split())  # every character, in order
    assert sentences[0].lines[0] == "# newdoc" and all(u != "_" for s in sentences for u in s.upos)
    assert sum("# newpar" in s.lines for s in sentences) >= 2 or len(sentences) == 1


def test_jsonl_output_has_tokens_with_offsets(tmp_path, raw_model, capsys):
    path = tmp_path / "in.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert main(["tag", str(path), "--model", str(raw_model), "--output-format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(TEXT[t["start"]:t["end"]] == t["form"] for r in records for t in r["tokens"])
    assert [w for r in records for w in r["words"]] == [w for r in records for t in r["tokens"] for w in t["words"]]


def test_the_api_tags_raw_text(raw_model):
    tagger = load(raw_model)
    sentences = tagger(TEXT)
    assert sentences == tagger.tag_text(TEXT)
    assert all(TEXT[t["start"]:t["end"]] == t["form"] for s in sentences for t in s["tokens"])
    assert all({"form", "upos", "feats"} == set(w) for s in sentences for t in s["tokens"] for w in t["words"])
    assert tagger.tag_text("") == [] and tagger.tag_text(" \n\t ") == []
    assert tagger([["Sue", "likes", "tea"]]) == tagger.tag([["Sue", "likes", "tea"]])


def test_a_model_without_a_segmenter_says_so(tmp_path, tiny_model_dir, capsys):
    path = tmp_path / "in.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert main(["tag", str(path), "--model", str(tiny_model_dir)]) == 2
    assert "has no segmenter/" in capsys.readouterr().err
    assert main(["tag", str(path), "--model", str(tiny_model_dir), "--format", "words"]) == 0


def test_evaluate_raw_scores_with_the_conll_2018_alignment(tmp_path, raw_model, capsys):
    gold = write_conllu(tmp_path / "gold.conllu", EN + FR)
    scores = tmp_path / "s.json"
    assert main(["evaluate", "--raw", str(gold), "--model", str(raw_model), "--json", str(scores)]) == 0
    result = json.loads(scores.read_text())
    assert set(result["files"]["gold"]) == {"Tokens", "Sentences", "Words", "UPOS", "UFeats"}
    assert all(0 <= v <= 100 for v in result["macro"].values())
    # the same numbers as the scorer on the output `polytag tag --format raw` writes for that text
    text = tmp_path / "gold.txt"
    text.write_text(seg.raw_text(seg.read_gold_sentences(gold)), encoding="utf-8")
    assert main(["tag", str(text), "--model", str(raw_model), "-o", str(tmp_path / "sys.conllu")]) == 0
    system = load_conllu((tmp_path / "sys.conllu").read_text().splitlines(), "sys")
    direct = evaluate(load_conllu_file(gold), system)
    assert result["files"]["gold"]["Tokens"] == round(100 * direct["Tokens"].f1, 2)
    assert result["files"]["gold"]["UPOS"] == round(100 * direct["UPOS"].f1, 2)
    assert main(["evaluate", "--raw", str(gold), "--text", str(text), "--model", str(raw_model)]) == 0


def test_the_shipped_segmenter_keeps_urls_addresses_numbers_and_emoji_whole():
    import polytag  # noqa: PLC0415

    tagger = polytag.load(threads=1)
    text = ("Visit https://example.com/a?b=1 or mail me@example.org. It costs 1,234.56 euros.\r\n"
            "Line two 👩\u200d👩\u200d👧 ok.")
    forms = [t["form"] for s in tagger(text) for t in s["tokens"]]
    for whole in ("https://example.com/a?b=1", "me@example.org", "1,234.56", "👩\u200d👩\u200d👧"):
        assert whole in forms
    assert len(tagger(text)) == 3  # two sentences on line one, one on line two


def test_the_shipped_model_reads_a_short_text_in_the_language_of_each_sentence():
    """A request of a sentence or two has too few words for a guess of its treebank, and few cue
    words: 'dort' is German's and 'sur' French's, and 'Vamos al cine del barrio.' has none."""
    import polytag  # noqa: PLC0415

    tagger = polytag.load(threads=1)
    german, french = tagger("Der Hund schläft im Garten. Le chat dort sur le canapé du salon.")
    words = {w["form"]: w for t in french["tokens"] for w in t["words"]}
    assert [w["form"] for w in next(t for t in french["tokens"] if t["form"] == "du")["words"]] == ["de", "le"]
    assert words["dort"]["upos"] == "VERB"
    assert [w["form"] for t in german["tokens"] if t["form"] == "im" for w in t["words"]] == ["in", "dem"]
    # 'al' and 'del' are near the network's line between one word and two (about 0.5 each): what
    # must hold is that a split one is split the Spanish way, and one at least is split
    spanish = {t["form"]: [w["form"] for w in t["words"]] for t in tagger("Vamos al cine del barrio.")[0]["tokens"]}
    assert spanish["al"] in (["al"], ["a", "el"]) and spanish["del"] in (["del"], ["de", "el"])
    assert [spanish["al"], spanish["del"]] != [["al"], ["del"]]


def test_the_shipped_model_reads_short_texts_of_several_languages_each_in_its_own():
    """A written French sentence in the first person is not transcribed speech (fr_spoken writes
    no features); Polish 'kupił' + 'em' is not Portuguese 'em' (which made 'do' 'de o'); an
    Italian sentence after a Japanese one splits 'al' as Italian; Indonesian keeps 'anak-anak'."""
    import polytag  # noqa: PLC0415

    tagger = polytag.load(threads=1)
    polish, japanese, italian, indonesian, french = tagger(
        "Wczoraj poszedłem do sklepu i kupiłem chleb.\n昨日、私は東京の大学に行きました。\n"
        "Ieri sono andato al mare con gli amici della scuola.\nAnak-anak bermain di taman setiap sore.\n"
        "Je suis allé au marché avec mes amis du quartier.\n")

    def analyses(sentence):
        return {t["form"]: [w["form"] for w in t["words"]] for t in sentence["tokens"]}

    def upos(sentence):
        return {w["form"]: w["upos"] for t in sentence["tokens"] for w in t["words"]}

    assert analyses(polish)["do"] == ["do"] and upos(polish)["do"] == "ADP" and upos(polish)["i"] == "CCONJ"
    assert analyses(italian)["al"] == ["a", "il"]
    assert "Anak-anak" in analyses(indonesian)
    assert upos(french)["suis"] == "AUX"
    suis = next(w for t in french["tokens"] for w in t["words"] if w["form"] == "suis")
    assert "Person=1" in suis["feats"]


def test_the_shipped_model_reads_a_portuguese_line_with_no_cue_word_among_english_ones_as_portuguese():
    """No Portuguese cue word in the line ('de', 'a', 'o' are other languages' too): the language
    identifier says Portuguese, so 'dos' is 'de os'; the English lines keep their words."""
    import polytag  # noqa: PLC0415

    tagger = polytag.load(threads=1)
    sentences = tagger("I went to the market yesterday and bought some apples for the kids.\n"
                       "The weather was nice, so we walked home along the river.\n"
                       "O crescente número de vítimas intensificou a pressão sobre Israel "
                       "para o término dos confrontos.\n"
                       "We had dinner with our neighbours in the evening.\n")
    split = [[(t["form"], [w["form"] for w in t["words"]]) for t in s["tokens"] if len(t["words"]) > 1]
             for s in sentences]
    assert split == [[], [], [("dos", ["de", "os"])], []]


@pytest.fixture(scope="module")
def hinted_model(tmp_path_factory, tiny_model_dir):
    """The tiny tagger (no hints) with an untrained segmenter that takes hints en_a and fr_b."""
    import torch  # noqa: PLC0415

    from polytag.nn.segmenter import SegmenterNet  # noqa: PLC0415
    from polytag.training.segmenter import export_segmenter  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("hinted") / "model"
    shutil.copytree(tiny_model_dir, folder)
    config = seg.SegmenterConfig(**{**SMALL.__dict__, "treebank_hints": ["en_a", "fr_b"]})
    torch.manual_seed(3)
    net = SegmenterNet(config).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=1.0)
    with torch.no_grad():
        net.hints.weight[0] = 0  # "no hint"
        net.hints.weight[1:] *= 4  # hints that change the labels
    export_segmenter(net, config, seg.MwtLexicon(entries={"du": ["de", "le"]}), folder / "segmenter")
    return folder


def test_a_segmenter_hint_reaches_the_segmenter_everywhere(tmp_path, hinted_model, capsys):
    tagger = load(hinted_model)
    assert tagger.treebank_hints == [] and tagger.segmenter_hints == ["en_a", "fr_b"]
    forms = {tb: [[t["form"] for t in s["tokens"]] for s in tagger.tag_text(TEXT, treebank=tb)]
             for tb in (None, "en_a", "fr_b")}
    assert forms["fr_b"] != forms[None]  # the hint is used
    for tb in ("en_a", "fr_b"):  # the API splits as the segmenter alone does with that hint
        assert forms[tb] == [[t.form for t in s.tokens] for s in tagger.segmenter.segment(TEXT, treebank=tb)]
    with pytest.raises(InputError, match="unknown .*en_a, fr_b"):
        tagger.set_treebank("xx_none")
    # the tagger's own hint holds for segmenting too
    assert [[t["form"] for t in s["tokens"]] for s in tagger.set_treebank("fr_b").tag_text(TEXT)] == forms["fr_b"]
    tagger.set_treebank(None)
    # evaluate --raw --treebank auto: each file segmented with its own treebank's hint, as `tag --treebank`
    gold = write_conllu(tmp_path / "fr_b-ud-dev.conllu", FR + EN)
    text = tmp_path / "fr_b.txt"
    text.write_text(seg.raw_text(seg.read_gold_sentences(gold)), encoding="utf-8")
    tokens_f1 = []
    for hint_args, tag_args in (([], []), (["--treebank", "auto"], ["--treebank", "fr_b"])):
        scores = tmp_path / "s.json"
        assert main(["evaluate", "--raw", str(gold), "--model", str(hinted_model), "--json", str(scores), *hint_args]) == 0
        out = tmp_path / "sys.conllu"
        assert main(["tag", str(text), "--model", str(hinted_model), "-o", str(out), *tag_args]) == 0
        direct = evaluate(load_conllu_file(gold), load_conllu(out.read_text().splitlines(), "sys"))
        tokens_f1.append(json.loads(scores.read_text())["files"]["fr_b-ud-dev"]["Tokens"])
        assert tokens_f1[-1] == round(100 * direct["Tokens"].f1, 2)
    assert tokens_f1[0] != tokens_f1[1]  # auto did hint the segmenter
    capsys.readouterr()
    assert main(["languages", "--model", str(hinted_model)]) == 0
    assert "raw-text segmentation only: en_a, fr_b" in capsys.readouterr().out


def test_variant_characters_are_read_as_the_characters_they_stand_for(raw_model, tmp_path):
    """A folder's variants.json.xz: the segmenter and the tagger read 'ŝ' as 's' (as Simplified
    Chinese as Traditional); the forms and offsets written out stay the input's."""
    from polytag.core.variants import VARIANTS_FILE, save_variants  # noqa: PLC0415

    folder = tmp_path / "model"
    shutil.copytree(raw_model, folder)
    save_variants(folder / VARIANTS_FILE, {"ŝ": "s", "Ŝ": "S"}, "test")
    tagger = load(folder)
    plain, variant = "Sue likes tea! Is it Sue's?", "Ŝue likeŝ tea! Iŝ it Ŝue'ŝ?"
    read = tagger(variant)
    assert [[t["form"] for t in s["tokens"]] for s in read] == [
        [variant[t["start"]:t["end"]] for t in s["tokens"]] for s in tagger(plain)]
    labels = lambda sentences: [[(w["upos"], w["feats"]) for t in s["tokens"] for w in t["words"]] for s in sentences]  # noqa: E731
    assert labels(read) == labels(tagger(plain))
    assert tagger([["Ŝue", "likeŝ"]])[0][0]["form"] == "Ŝue"
    assert [[(w["upos"], w["feats"]) for w in s] for s in tagger([["Ŝue", "likeŝ"]])] == [
        [(w["upos"], w["feats"]) for w in s] for s in tagger([["Sue", "likes"]])]


def test_without_a_hint_a_text_is_segmented_as_the_treebank_its_head_reads_as(hinted_model, monkeypatch):
    """The tagger's word lexicon guesses the treebank from the words of the text's first
    GUESS_CHARS characters (segmented with no hint); the whole text is then segmented with it."""
    from polytag.tagging import raw  # noqa: PLC0415

    monkeypatch.setattr(raw, "GUESS_CHARS", 40)
    monkeypatch.setattr(raw, "MIN_GUESS_CHARS", 100)
    tagger = load(hinted_model)
    segmenter = tagger.segmenter
    assert segmenter.guess_treebank is None  # the tiny model has no word lexicon: no guess
    text = TEXT * 3
    as_fr = [[t["form"] for t in s["tokens"]] for s in tagger.tag_text(text, treebank="fr_b")]
    unhinted = [[t.form for t in s.tokens] for s in segmenter.segment(text)]
    assert [[t["form"] for t in s["tokens"]] for s in tagger.tag_text(text)] == unhinted
    heads = []
    segmenter.guess_treebank = lambda sentences, text: (heads.append(sentences) or "fr_b", 0)
    assert [[t["form"] for t in s["tokens"]] for s in tagger.tag_text(text)] == as_fr
    assert sum(len(w) for s in heads[0] for w in s) <= 40  # only the head was read for the guess
    # a text shorter than MIN_GUESS_CHARS: no guess asked
    heads.clear()
    assert [[t["form"] for t in s["tokens"]] for s in tagger.tag_text(TEXT)] == [
        [t.form for t in s.tokens] for s in segmenter.segment(TEXT)] and not heads
    # a treebank the segmenter takes no hint for: none
    segmenter.guess_treebank = lambda sentences, text: ("xx_other", 0)
    assert [[t["form"] for t in s["tokens"]] for s in tagger.tag_text(text)] == unhinted


def test_the_tagger_guesses_a_texts_treebank_from_its_words_once_it_has_enough(tiny_treebank_dir, tiny_model_dir):
    from polytag.core.word_lexicon import WordLexicon  # noqa: PLC0415
    from polytag.tagging.tagger import HINT_AFTER_WORDS  # noqa: PLC0415

    tagger = load(tiny_model_dir)
    tagger.lexicon = WordLexicon.learn_folder(tiny_treebank_dir)
    sentence = ["Sue", "likes", "coffee", "and", "Bill", "tea", "."]  # xx: xx_test or xx_second, by their words
    few = [sentence] * max(1, (HINT_AFTER_WORDS - 1) // len(sentence))
    assert sum(map(len, few)) < HINT_AFTER_WORDS and tagger.text_treebank(few) is None
    guess = tagger.text_treebank(few * 3)
    assert guess in ("xx_test", "xx_second") and guess == tagger.lexicon.sentence_treebanks(few * 3)[-1][0]
    # a text guessed in parts: its words before count, and the guess goes on from them
    from polytag.core.word_lexicon import TextState  # noqa: PLC0415

    text = TextState()
    assert tagger.text_treebank(few, text) is None and text.words == sum(map(len, few))
    tagger.text_treebank(few, text)
    assert tagger.text_treebank(few, text) == guess and text.words == 3 * sum(map(len, few))


def test_the_tagger_says_from_which_sentence_a_text_reads_as_its_guess(tiny_model_dir):
    import types  # noqa: PLC0415

    from polytag.core.word_lexicon import TextState  # noqa: PLC0415

    tagger = load(tiny_model_dir)
    keys = ["xx_a", "xx_b", None, "xx_a", None, "xx_a"]

    def sentence_treebanks(sentences, text):
        text.words += 100
        return [(key, None) for key in keys]

    tagger.lexicon = types.SimpleNamespace(sentence_treebanks=sentence_treebanks)
    assert tagger.text_treebank_from([["w"]] * 6, TextState()) == ("xx_a", 2)  # a None keeps the run
    assert tagger.text_treebank([["w"]] * 6) == "xx_a"
    keys[:] = ["xx_a"] * 3 + [None] * 3
    assert tagger.text_treebank_from([["w"]] * 6) == ("xx_a", 0)
    keys[:] = [None] * 6
    assert tagger.text_treebank_from([["w"]] * 6) == (None, 0)


def test_the_segmenters_guesses_of_one_text_share_its_state():
    """The head is guessed on its own; the stream's guesses go on from one another."""
    import types  # noqa: PLC0415

    from polytag.core.segmentation import RawSentence, RawToken  # noqa: PLC0415
    from polytag.tagging import raw  # noqa: PLC0415

    states = []
    segmenter = types.SimpleNamespace(treebank_hints=["xx_a"],
                                      guess_treebank=lambda words, text: (states.append(text) or "xx_a", 1))
    sentence = RawSentence("Hi there", 0, 8, [RawToken("Hi", 0, 2, True, ["Hi"]), RawToken("there", 3, 8, False, ["there"])])
    first, second = raw.hint_guesser(segmenter), raw.hint_guesser(segmenter)
    assert [first([sentence]), first([sentence]), second([sentence])] == [("xx_a", 1)] * 3
    assert states[0] is states[1] and states[2] is not states[0]
    segmenter.guess_treebank = lambda words, text: ("xx_other", 0)  # a treebank the segmenter has no hint for
    assert raw.hint_guesser(segmenter)([sentence]) == (None, 0)

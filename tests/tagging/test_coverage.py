"""The language-coverage warning: text the model was not trained on is flagged once."""

from __future__ import annotations

import warnings

import pytest

import polytag
from polytag.tagging.coverage import CoverageCheck, CoverageWarning, covered_codes, uncovered_language

ARABIC = "هذا بيت صغير في طرف المدينة وهو جميل جدا ونحن نحبه كثيرا"
MIXED = ["She bought two tickets for the concert in London .", "Die Kinder spielen draußen , weil die Sonne scheint .",
         "Nous avons visité le musée hier soir .", "Вчера мы долго гуляли по старому парку ."]
COVERED = covered_codes(["en", "de", "fr", "ru", "hr"])


def test_text_in_an_uncovered_language_is_flagged_and_covered_ones_are_not():
    assert uncovered_language([ARABIC] * 5, COVERED)[0] == "ar"
    assert uncovered_language([ARABIC], COVERED) is None  # too little text to judge
    assert uncovered_language(MIXED, COVERED) is None  # each sentence is identified on its own
    assert uncovered_language(["Ovo je mala kuća na rubu grada i jako je lijepa ."], COVERED) is None  # sr/bs ~ hr
    assert uncovered_language(["12 34 56"], COVERED) is None  # nothing to identify
    assert uncovered_language(MIXED * 2 + [ARABIC], COVERED) is None  # a minority is not the text
    english = ["Visit https://example.com/a?b=1 or mail me@example.org .", "It costs 1,234.56 euros ."] * 4
    assert uncovered_language(english, COVERED) is None  # the identifier calls this Nigerian Pidgin


def test_the_check_warns_once():
    check = CoverageCheck(["en"], "in.txt")
    with pytest.warns(CoverageWarning, match=r"in\.txt: 100% of the text looks like .*'ar'"):
        check.feed([ARABIC.split()] * 5)
        check.finish()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check.feed([ARABIC.split()] * 5)
        check.finish()  # decided already: silent
    assert CoverageCheck(None).done  # a model that lists no languages is not checked


def test_the_cli_says_it_in_one_line(tmp_path, capsys):
    from polytag.cli import main  # noqa: PLC0415

    path = tmp_path / "ar.txt"
    path.write_text((ARABIC + "\n") * 6, encoding="utf-8")
    assert main(["tag", str(path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"polytag: warning: {path}: 100% of the text")


def test_the_api_warns_through_python_warnings():
    tagger = polytag.load()
    with pytest.warns(CoverageWarning):
        tagger.tag([ARABIC.split()] * 10)


def test_a_model_of_languages_the_identifier_does_not_know_is_not_checked():
    check = CoverageCheck(["xx", "yy"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check.feed([ARABIC.split()] * 5)
        check.finish()
    assert check.done and check.verdict is None


def test_a_sentence_is_identified_among_the_lexicons_languages_only():
    from polytag.tagging.coverage import sentence_language

    words = "Der Hund schläft heute im Garten .".split()
    assert sentence_language(words, frozenset({"de", "fr"})) == "de"
    assert sentence_language(words, frozenset({"fr", "en"})) is None  # its best guess is not one of them
    assert sentence_language(["1", "2", "."], frozenset({"de"})) is None  # no letters: no guess


def test_the_shipped_tagger_gives_its_lexicon_a_language_for_a_sentence_without_cue_words():
    tagger = polytag.load()
    assert tagger.lexicon is not None
    assert tagger.identify_language("Der Hund schläft heute im Garten .".split()) == "de"
    assert tagger.identify_language("Kissa nukkuu .".split()) == "fi"


def test_the_identifier_reads_its_model_unpacked_from_the_cache_and_ranks_as_py3langid(tmp_path, monkeypatch):
    """Decompressing py3langid's model took 0.5 s of every short command; a plain copy in the
    cache is read memory-mapped. A cache that cannot be written falls back to py3langid's loader."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from polytag.tagging import coverage

    texts = ["Le chat dort sur le canapé .", "Мама мыла раму .", "Der Hund schläft im Garten .", ARABIC, "ok"]
    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    monkeypatch.setenv("POLYTAG_CACHE", str(tmp_path / "cache"))
    for _ in range(2):  # made, then read back
        coverage._identifier.cache_clear()
        identifier = coverage._identifier()
        assert [identifier.rank(t)[:5] for t in texts] == [reference.rank(t)[:5] for t in texts]
    [made] = (tmp_path / "cache").iterdir()
    assert made.name.startswith("py3langid-") and {p.name for p in made.iterdir()} == {
        f"{name}.npy" for name in coverage.MODEL_ARRAYS}
    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("POLYTAG_CACHE", str(tmp_path / "not-a-folder"))
    coverage._identifier.cache_clear()
    assert coverage._identifier().rank(texts[0])[:5] == reference.rank(texts[0])[:5]
    coverage._identifier.cache_clear()


def test_too_little_text_is_not_judged_and_the_identifier_not_even_loaded(monkeypatch):
    from polytag.tagging import coverage

    def no_identifier():
        raise AssertionError("loaded for a text too short to judge")

    monkeypatch.setattr(coverage, "_identifier", no_identifier)
    check = CoverageCheck(["en"], "in.txt")
    check.feed([ARABIC.split()])  # one sentence: fewer letters than MIN_SAMPLE_LETTERS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check.finish()
    assert check.verdict is None and check.done

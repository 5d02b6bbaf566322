"""polytag.core.ud_eval against the official CoNLL 2018 scorer's printed results on real
raw-text output (shared/tools/raw_eval_cases) and on small hand-made cases."""

from __future__ import annotations

import csv
import gzip
import io
import lzma
from functools import cache
from pathlib import Path

import pytest

from polytag.core.errors import InputError
from polytag.core.ud_eval import (
    METRICS,
    Score,
    UDDocument,
    align_words,
    evaluate,
    evaluate_files,
    format_scores,
    load_conllu,
)

# In CI the shared data sits beside the repository: <repo>/../shared.
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CASES = SHARED / "tools" / "raw_eval_cases"
EXPECTED = CASES / "expected.tsv"


# --------------------------------------------------------------------------- helpers


def conllu(*sentences: str) -> str:
    """Compact notation -> CoNLL-U. A sentence is space-separated tokens; 'du=de+le' is a
    multiword token with words de, le; a word may carry tags as 'form/UPOS/FEATS/LEMMA'
    (missing ones are '_'); '~' in a form stands for a space."""
    lines = []
    for sentence in sentences:
        word_id = 0
        for token in sentence.split():
            # Only an "=" before the first "/" marks an MWT ("=" also occurs in FEATS).
            is_mwt = "=" in token.split("/", 1)[0]
            form, _, parts = token.partition("=") if is_mwt else (token, "", "")
            words = parts.split("+") if is_mwt else [token]
            if is_mwt:
                lines.append(f"{word_id + 1}-{word_id + len(words)}\t{form.replace('~', ' ')}"
                             + "\t_" * 8)
            for word in words:
                word_id += 1
                w_form, upos, feats, lemma = (word.split("/") + ["_"] * 3)[:4]
                lines.append("\t".join([str(word_id), w_form.replace("~", " "), lemma, upos,
                                        "_", feats, str(int(word_id > 1)), "dep", "_", "_"]))
        lines.append("")
    return "\n".join(lines) + "\n"


def doc(*sentences: str, name: str = "doc.conllu") -> UDDocument:
    return load_conllu(io.StringIO(conllu(*sentences)), name)


def ratios(score: Score) -> tuple[float, float, float]:
    return score.precision, score.recall, score.f1


# --------------------------------------------------------------------------- real cases


def _expected_rows() -> list:
    if not EXPECTED.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"shared data not found: {EXPECTED} (expected at <repo>/../shared)"))]
    with EXPECTED.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [pytest.param(row, id=f"{row['treebank']}-{row['metric']}") for row in rows]


@cache
def _real_scores(treebank: str) -> dict[str, Score]:
    return evaluate_files(SHARED / "ud" / treebank / f"{treebank}-ud-dev.conllu.xz",
                          CASES / f"{treebank}-ud-dev.udpipe1.conllu.xz")


@pytest.mark.parametrize("row", _expected_rows())
def test_matches_official_scorer_on_udpipe_output(row: dict[str, str]) -> None:
    score = _real_scores(row["treebank"])[row["metric"]]
    accuracy = score.aligned_accuracy
    got = {
        "precision": f"{100 * score.precision:.2f}",
        "recall": f"{100 * score.recall:.2f}",
        "f1": f"{100 * score.f1:.2f}",
        "aligned_accuracy": "" if accuracy is None else f"{100 * accuracy:.2f}",
    }
    assert got == {key: row[key] for key in got}


# --------------------------------------------------------------------------- hand-made cases


def test_identical_files_score_100_everywhere() -> None:
    sentences = ("Le/DET chat/NOUN/Number=Sing du=de/ADP+le/DET/Definite=Def|Gender=Masc",
                 "Il/PRON dort/VERB/Mood=Ind|Person=3 ./PUNCT")
    scores = evaluate(doc(*sentences, name="gold"), doc(*sentences, name="system"))
    assert set(scores) == set(METRICS)
    for metric, score in scores.items():
        assert ratios(score) == (1.0, 1.0, 1.0), metric
        tag_metric = metric not in ("Tokens", "Sentences", "Words")
        assert score.aligned_accuracy == (1.0 if tag_metric else None), metric
    assert scores["Words"].correct == 7 and scores["Tokens"].correct == 6


def test_system_splitting_a_gold_token() -> None:
    gold = doc("don't/AUX stop/VERB")
    system = doc("do/AUX n't/PART stop/VERB")
    scores = evaluate(gold, system)
    assert ratios(scores["Tokens"]) == pytest.approx((1 / 3, 1 / 2, 2 / 5))
    assert ratios(scores["Words"]) == pytest.approx((1 / 3, 1 / 2, 2 / 5))
    assert scores["UPOS"].correct == 1 and scores["UPOS"].aligned_accuracy == 1.0
    assert ratios(scores["Sentences"]) == (1.0, 1.0, 1.0)


def test_system_not_expanding_a_multiword_token() -> None:
    gold = doc("du=de/ADP+le/DET chat/NOUN")
    system = doc("du/ADP chat/NOUN")
    scores = evaluate(gold, system)
    assert ratios(scores["Tokens"]) == (1.0, 1.0, 1.0)  # same token boundaries
    assert ratios(scores["Words"]) == pytest.approx((1 / 2, 1 / 3, 2 / 5))  # only "chat"
    assert scores["UPOS"].aligned_accuracy == 1.0


def test_multiword_words_align_by_lowercased_form() -> None:
    gold = doc("du=de/ADP+le/DET chat/NOUN")
    system = doc("du=De/ADP+la/DET chat/NOUN")
    pairs = align_words(gold.words, system.words)
    assert [(g.form, s.form) for g, s in pairs] == [("de", "De"), ("chat", "chat")]


def test_moved_sentence_boundary() -> None:
    gold = doc("a b", "c d", "e")
    system = doc("a b", "c", "d e")
    scores = evaluate(gold, system)
    assert ratios(scores["Sentences"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert ratios(scores["Tokens"]) == (1.0, 1.0, 1.0)
    assert ratios(scores["Words"]) == (1.0, 1.0, 1.0)


# Gold / system tokens and the number of aligned words; the expectations are those of the
# official scorer's own alignment tests (as published with it), in this file's notation.
OFFICIAL_ALIGNMENTS = [
    ("a", "a", 1),
    ("a b c", "a b c", 3),
    ("abc=a+b+c", "a b c", 3),
    ("a bc=b+c d", "a b c d", 4),
    ("abcd=a+b+c+d", "ab=a+b cd=c+d", 4),
    ("abc=a+b+c de=d+e", "a bcd=b+c+d e", 5),
    ("abcd", "a b c d", 0),
    ("abc d", "a b c d", 1),
    ("a bc d", "a b c d", 2),
    ("a bc=b+c d", "a b cd", 2),
    ("abc=a+BX+c def=d+EX+f", "ab=a+b cd=c+d ef=e+f", 4),
    ("ab=a+b cd=bc+d", "a bc d", 2),
    ("a bc=b+c d", "ab=AX+BX cd=CX+a", 1),
]


@pytest.mark.parametrize(("gold", "system", "aligned"), OFFICIAL_ALIGNMENTS)
def test_alignment_agrees_with_official_cases(gold: str, system: str, aligned: int) -> None:
    scores = evaluate(doc(gold), doc(system))
    assert scores["Words"].correct == aligned


def test_ufeats_keeps_only_universal_features_in_any_order() -> None:
    gold = doc("x/NOUN/Case=Nom|Number=Sing|Typo=Yes y/NOUN/Number[psor]=Plur|Gender=Fem")
    system = doc("x/NOUN/Number=Sing|Case=Nom y/NOUN/Gender=Fem")
    assert evaluate(gold, system)["UFeats"].aligned_accuracy == 1.0


def test_gold_lemma_underscore_counts_as_right() -> None:
    gold = doc("cats/NOUN/_/_ dogs/NOUN/_/dog")
    system = doc("cats/NOUN/_/cat dogs/NOUN/_/dogs")
    assert evaluate(gold, system)["Lemmas"].correct == 1


def test_spaces_inside_forms_and_empty_nodes_are_ignored() -> None:
    gold_text = conllu("10~000/NUM euros/NOUN")
    # An empty node (ID 1.1) between the words must be skipped.
    lines = gold_text.splitlines()
    lines.insert(1, "1.1\tghost\t_\t_\t_\t_\t_\t_\t_\t_")
    gold = load_conllu(io.StringIO("\n".join(lines) + "\n"), "gold")
    system = doc("10000/NUM euros/NOUN")
    assert gold.text == "10000euros"
    scores = evaluate(gold, system)
    assert ratios(scores["Tokens"]) == (1.0, 1.0, 1.0)
    assert scores["UPOS"].aligned_accuracy == 1.0


def test_mismatched_text_names_both_files_and_position() -> None:
    gold = doc("a b", "c d", name="gold.conllu")
    system = doc("a b", "c x", name="system.conllu")
    with pytest.raises(InputError) as info:
        evaluate(gold, system)
    message = str(info.value)
    assert "gold.conllu:5" in message and "system.conllu:5" in message
    assert "character 3" in message and "\n" not in message


def test_system_text_shorter_than_gold_raises() -> None:
    with pytest.raises(InputError, match=r"system.conllu \(end of text\).*character 2"):
        evaluate(doc("a b c", name="gold.conllu"), doc("a b", name="system.conllu"))


@pytest.mark.parametrize(("text", "where"), [
    ("1\ta\t_\t_\t_\t_\t0\troot\t_\t_\n2\tb\t_\t_\t_\t_\t1\tdep\t_\n\n", "bad.conllu:2:"),
    ("1\ta\t_\t_\t_\t_\t0\troot\t_\t_\n3\tb\t_\t_\t_\t_\t1\tdep\t_\t_\n\n", "bad.conllu:2:"),
    ("# c\n1\ta\t_\t_\t_\t_\t0\troot\t_\t_\n", "bad.conllu:2:"),  # no final empty line
    ("1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n1\tde\t_\t_\t_\t_\t0\troot\t_\t_\n\n", "bad.conllu:3:"),
    ("1\ta\t_\t_\t_\t_\t0\troot\t_\t_\n\n\n", "bad.conllu:3:"),  # empty sentence
    ("1\t \t_\t_\t_\t_\t0\troot\t_\t_\n\n", "bad.conllu:1:"),  # empty FORM
])
def test_malformed_input_names_file_and_line(text: str, where: str) -> None:
    with pytest.raises(InputError, match=f"^{where}"):
        load_conllu(io.StringIO(text), "bad.conllu")


@pytest.mark.parametrize("suffix", [".conllu", ".conllu.gz", ".conllu.xz"])
def test_evaluate_files_reads_compressed_files(tmp_path: Path, suffix: str) -> None:
    text = conllu("du=de/ADP+le/DET chat/NOUN")
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(Path(suffix).suffix, open)
    path = tmp_path / f"gold{suffix}"
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(text)
    scores = evaluate_files(path, path)
    assert ratios(scores["AllTags"]) == (1.0, 1.0, 1.0)
    assert "UFeats     |    100.00 |" in format_scores(scores)

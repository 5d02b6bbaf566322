"""Shared fixtures: inline CoNLL-U in several languages and scripts, a tiny UD-release-shaped
folder, and a tiny model trained on it once per session (encoder preset "tiny", vocab 300).

In the CoNLL-U strings below columns are separated by runs of spaces for readability;
`tsv()` turns them into the tabs the format requires (no fixture word contains a space).
"""

from __future__ import annotations

import gzip
import lzma
import os
import re
from pathlib import Path

import pytest
import torch

# Tests run beside other CPU work; one thread keeps them fast and deterministic.
torch.set_num_threads(1)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# what polytag caches (the language identifier's unpacked model) goes to a folder of this run,
# not the user's ~/.cache; subprocesses the tests start inherit it
if "POLYTAG_CACHE" not in os.environ:
    import tempfile

    os.environ["POLYTAG_CACHE"] = tempfile.mkdtemp(prefix="polytag-test-cache-")


def tsv(text: str) -> str:
    """Inline CoNLL-U -> real CoNLL-U: columns to tabs, blank line after every sentence."""
    out = []
    for line in text.strip().splitlines():
        line = line.strip()
        if line.startswith("#") or not line:
            out.append(line)
        else:
            cols = re.split(r" {2,}", line)
            assert len(cols) == 10, f"fixture row needs 10 columns: {line!r}"
            out.append("\t".join(cols))
    return "\n".join(out) + "\n\n"


# English: comments, an empty node (5.1) and enhanced dependencies in DEPS.
EN = tsv("""
# sent_id = en-1
# text = Sue likes coffee and Bill tea.
1    Sue     Sue     PROPN  NNP  Number=Sing                                            2    nsubj   2:nsubj        _
2    likes   like    VERB   VBZ  Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin  0    root    0:root         _
3    coffee  coffee  NOUN   NN   Number=Sing                                            2    obj     2:obj          _
4    and     and     CCONJ  CC   _                                                      5    cc      5.1:cc         _
5    Bill    Bill    PROPN  NNP  Number=Sing                                            3    conj    5.1:nsubj      _
5.1  likes   like    VERB   VBZ  Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin  _    _       2:conj:and     CopyOf=2
6    tea     tea     NOUN   NN   Number=Sing                                            5    orphan  5.1:obj        SpaceAfter=No
7    .       .       PUNCT  .    _                                                      2    punct   2:punct        _
""")

# German: a multiword token (zum = zu + dem).
DE = tsv("""
# sent_id = de-1
# text = Ich gehe zum Markt.
1    Ich    ich     PRON   PPER   Case=Nom|Number=Sing|Person=1|PronType=Prs                         2  nsubj  _  _
2    gehe   gehen   VERB   VVFIN  Mood=Ind|Number=Sing|Person=1|Tense=Pres|VerbForm=Fin              0  root   _  _
3-4  zum    _       _      _      _                                                                  _  _      _  _
3    zu     zu      ADP    APPR   _                                                                  5  case   _  _
4    dem    der     DET    ART    Case=Dat|Definite=Def|Gender=Masc|Number=Sing|PronType=Art         5  det    _  _
5    Markt  Markt   NOUN   NN     Case=Dat|Gender=Masc|Number=Sing                                   2  obl    _  SpaceAfter=No
6    .      .       PUNCT  $.     _                                                                  2  punct  _  _
""")

# French: a multiword token (du = de + le) and a feature value list.
FR = tsv("""
# sent_id = fr-1
# text = Il parle du livre.
1    Il      il      PRON   _  Gender=Masc|Number=Sing|Person=3|PronType=Prs             2  nsubj  _  _
2    parle   parler  VERB   _  Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin     0  root   _  _
3-4  du      _       _      _  _                                                         _  _      _  _
3    de      de      ADP    _  _                                                         5  case   _  _
4    le      le      DET    _  Definite=Def|Gender=Masc|Number=Sing|PronType=Art         5  det    _  _
5    livre   livre   NOUN   _  Gender=Masc|Number=Sing                                   2  obl    _  SpaceAfter=No
6    .       .       PUNCT  _  _                                                         2  punct  _  _
""")

# Russian (Cyrillic).
RU = tsv("""
# sent_id = ru-1
# text = Мама мыла раму.
1  Мама  мама  NOUN   _  Animacy=Anim|Case=Nom|Gender=Fem|Number=Sing                            2  nsubj  _  _
2  мыла  мыть  VERB   _  Aspect=Imp|Gender=Fem|Mood=Ind|Number=Sing|Tense=Past|VerbForm=Fin|Voice=Act  0  root   _  _
3  раму  рама  NOUN   _  Animacy=Inan|Case=Acc|Gender=Fem|Number=Sing                            2  obj    _  SpaceAfter=No
4  .     .     PUNCT  _  _                                                                       2  punct  _  _
""")

# Greek.
EL = tsv("""
# sent_id = el-1
# text = Ο σκύλος τρέχει.
1  Ο       ο        DET    _  Case=Nom|Definite=Def|Gender=Masc|Number=Sing|PronType=Art                    2  det    _  _
2  σκύλος  σκύλος   NOUN   _  Case=Nom|Gender=Masc|Number=Sing                                              3  nsubj  _  _
3  τρέχει  τρέχω    VERB   _  Aspect=Imp|Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin|Voice=Act    0  root   _  SpaceAfter=No
4  .       .        PUNCT  _  _                                                                             3  punct  _  _
""")

# Hebrew (right to left): a three-word token (לבית = ל + ה + בית).
HE = tsv("""
# sent_id = he-1
# text = הילד הלך לבית.
1    הילד  ילד   NOUN   _  Definite=Def|Gender=Masc|Number=Sing                                      2  nsubj  _  _
2    הלך   הלך   VERB   _  Gender=Masc|HebBinyan=PAAL|Number=Sing|Person=3|Tense=Past|Voice=Act       0  root   _  _
3-5  לבית  _     _      _  _                                                                          _  _      _  _
3    ל     ל     ADP    _  _                                                                          5  case   _  _
4    ה     ה     DET    _  PronType=Art                                                               5  det    _  _
5    בית   בית   NOUN   _  Definite=Def|Gender=Masc|Number=Sing                                      2  obl    _  SpaceAfter=No
6    .     .     PUNCT  _  _                                                                          2  punct  _  _
""")

# Japanese: no spaces in the text, no features.
JA = tsv("""
# sent_id = ja-1
# text = 猫が魚を食べる。
1  猫    猫    NOUN   _  _  5  nsubj  _  SpaceAfter=No
2  が    が    ADP    _  _  1  case   _  SpaceAfter=No
3  魚    魚    NOUN   _  _  5  obj    _  SpaceAfter=No
4  を    を    ADP    _  _  3  case   _  SpaceAfter=No
5  食べる  食べる  VERB   _  _  0  root   _  SpaceAfter=No
6  。    。    PUNCT  _  _  5  punct  _  _
""")

# Hindi (Devanagari, combining vowel signs and nukta); layered feature names.
HI = tsv("""
# sent_id = hi-1
# text = राम ने किताब पढ़ी ।
1  राम    राम    PROPN  _  Case=Nom|Gender=Masc|Number=Sing|Person=3                          4  nsubj  _  _
2  ने     ने     ADP    _  AdpType=Post                                                       1  case   _  _
3  किताब  किताब  NOUN   _  Case=Nom|Gender=Fem|Number=Sing|Person=3                           4  obj    _  _
4  पढ़ी    पढ़    VERB   _  Aspect=Perf|Gender=Fem|Number=Sing|VerbForm=Part|Voice=Act          0  root   _  _
5  ।      ।      PUNCT  _  _                                                                  4  punct  _  _
""")

SENTENCES = {"en": EN, "de": DE, "fr": FR, "ru": RU, "el": EL, "he": HE, "ja": JA, "hi": HI}
ALL_CONLLU = "".join(SENTENCES.values())


def write_conllu(path: Path, text: str) -> Path:
    """Write plain, .gz or .xz by the file name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    elif path.suffix == ".xz":
        with lzma.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_treebank_dir(tmp_path_factory) -> Path:
    """A UD-release-shaped folder: two treebanks of language xx (one plain with dev, one
    .xz without dev) and one of language yy (train .gz, dev .xz)."""
    root = tmp_path_factory.mktemp("ud")
    write_conllu(root / "UD_Xx-Test" / "xx_test-ud-train.conllu", ALL_CONLLU * 4)
    write_conllu(root / "UD_Xx-Test" / "xx_test-ud-dev.conllu", ALL_CONLLU)
    write_conllu(root / "UD_Xx-Second" / "xx_second-ud-train.conllu.xz", (EN + DE + RU) * 2)
    write_conllu(root / "UD_Yy-Other" / "yy_other-ud-train.conllu.gz", (FR + HE + JA + HI) * 3)
    write_conllu(root / "UD_Yy-Other" / "yy_other-ud-dev.conllu.xz", FR + HE + JA + HI)
    (root / "README.txt").write_text("not a treebank file\n", encoding="utf-8")
    return root


TINY_TRAIN_ARGS = ["--encoder", "tiny", "--vocab-size", "300", "--batch-size", "8", "--threads", "1",
                   "--seed", "1"]


def wordpiece_tokenizer(pieces: list[str]):
    """A cased BERT-style WordPiece tokenizer with exactly these pieces (after the special
    tokens, duplicates dropped, in this order), so tests know its vocabulary."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers  # noqa: PLC0415

    from polytag.training.vocab import SPECIAL, wrap  # noqa: PLC0415

    vocab = {t: i for i, t in enumerate(dict.fromkeys(SPECIAL + list(pieces)))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=False, lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return wrap(tok)


@pytest.fixture(scope="session")
def fixed_tokenizer_dir(tmp_path_factory) -> Path:
    """The fixture's characters (alone and as ##continuations) and words as a fixed vocabulary.
    `tokenizers`' WordPiece trainer is not deterministic (huggingface/tokenizers#1794), so tests
    that compare numbers across two models pass this as --tokenizer to get the same model every run."""
    forms = [line.split("\t")[1] for line in ALL_CONLLU.splitlines() if line and line[0].isdigit()]
    chars = sorted({c for f in forms for c in f if not c.isspace()})
    out = tmp_path_factory.mktemp("tokenizer")
    wordpiece_tokenizer(chars + [f"##{c}" for c in chars] + sorted(forms)).save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_treebank_dir, tmp_path_factory) -> Path:
    """A tiny model trained through the CLI on every fixture treebank (2 epochs).
    Treat it as read-only; copy it before damaging it."""
    from polytag.cli import main  # noqa: PLC0415 - keep collection light

    out = tmp_path_factory.mktemp("models") / "tiny"
    rc = main(["train", str(tiny_treebank_dir), "--output", str(out), "--epochs", "2", *TINY_TRAIN_ARGS])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def tiny_tagger(tiny_model_dir):
    import polytag  # noqa: PLC0415

    return polytag.load(tiny_model_dir, backend="torch")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from polytag.nn.model_io import load_tokenizer  # noqa: PLC0415

    return load_tokenizer(tiny_model_dir / "tokenizer")


# Property tests: a few hundred examples each in CI; `pytest --hypothesis-profile=long` for 20,000.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci")

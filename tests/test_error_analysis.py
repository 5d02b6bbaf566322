"""benchmarks/error_analysis.py conventions: features only one treebank of a language uses."""

import importlib.util
from pathlib import Path

from conftest import tsv, write_conllu

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "error_analysis.py"
spec = importlib.util.spec_from_file_location("error_analysis", SCRIPT)
error_analysis = importlib.util.module_from_spec(spec)
spec.loader.exec_module(error_analysis)

# xx_own writes NumForm on digits; xx_plain, the other xx treebank, never does
OWN = tsv("""
1  5  5  NUM  _  NumForm=Digit|NumType=Card  2  nummod  _  _
2  cats  cat  NOUN  _  Number=Plur  0  root  _  _

""")
PLAIN = tsv("""
1  5  5  NUM  _  NumType=Card  2  nummod  _  _
2  dogs  dog  NOUN  _  Number=Plur  0  root  _  _

""")


class FixedTagger:
    """Predicts the xx_plain convention for every word: right on NOUNs, wrong on NumForm digits."""

    def predict(self, sentences):
        feats = {"5": "NumType=Card", "cats": "Number=Plur", "dogs": "Number=Plur"}
        return None, [[feats[w] for w in words] for words in sentences]


def test_conventions_reports_own_features_and_ufeats_on_them(tmp_path, capsys):
    write_conllu(tmp_path / "UD_Xx-Own" / "xx_own-ud-train.conllu", OWN)
    write_conllu(tmp_path / "UD_Xx-Own" / "xx_own-ud-dev.conllu", OWN * 3)
    write_conllu(tmp_path / "UD_Xx-Plain" / "xx_plain-ud-train.conllu", PLAIN)
    write_conllu(tmp_path / "UD_Xx-Plain" / "xx_plain-ud-dev.conllu", PLAIN)
    write_conllu(tmp_path / "UD_Yy-Alone" / "yy_alone-ud-train.conllu", OWN)  # no other yy: skipped
    write_conllu(tmp_path / "UD_Yy-Alone" / "yy_alone-ud-dev.conllu", OWN)
    error_analysis.conventions(FixedTagger(), str(tmp_path))
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(rows) == {"xx_own", "xx_plain"}
    # 6 dev words, half of them digits with NumForm, all of those wrong, all the rest right
    assert rows["xx_own"][1:] == ["6", "50.00%", "0.00", "100.00", "NumForm"]
    assert rows["xx_plain"][1:] == ["2", "0.00%", "-", "100.00", "-"]

import json
import lzma

import pytest

from polytag.core.errors import InputError
from polytag.core.variants import (
    VARIANTS_FILE,
    learn_fullwidth,
    learn_variants,
    load_variants,
    save_variants,
    translate_words,
)

TABLE = ["们\t們", "这\t這 𧗺", "国\t國", "发\t發 髮", "xy\tz", "兴\t興", "朴\t樸 朴"]


def test_only_characters_no_train_split_has_are_mapped_to_ones_it_has():
    seen = set("們這國國髮樸")
    # 国 is seen (Japanese writes it so): kept; 发's first variant is unseen, its second seen;
    # 兴's variant is unseen: nothing to read it as; 'xy' is not one character; 朴 is written so in
    # Traditional text too
    assert learn_variants(TABLE, seen | {"国"}) == {"们": "們", "这": "這", "发": "髮"}


def test_saved_and_loaded_as_a_translate_table(tmp_path):
    save_variants(tmp_path / VARIANTS_FILE, {"们": "們"}, "test")
    table = load_variants(tmp_path)
    assert table == {ord("们"): ord("們")}
    assert translate_words([["他们", "a"], []], table) == [["他們", "a"], []]
    sentences = [["x"]]
    assert translate_words(sentences, None) is sentences
    assert load_variants(tmp_path / "nowhere") is None


def test_a_broken_variants_file_is_one_clear_error(tmp_path):
    (tmp_path / VARIANTS_FILE).write_bytes(lzma.compress(json.dumps({"format": "other"}).encode()))
    with pytest.raises(InputError, match=VARIANTS_FILE):
        load_variants(tmp_path)
    (tmp_path / VARIANTS_FILE).write_bytes(b"not xz")
    with pytest.raises(InputError, match="not a character variants file"):
        load_variants(tmp_path)


def test_full_width_forms_of_ascii_are_read_as_ascii_where_the_splits_have_only_that():
    seen = set(",?a") | {"？"}
    assert learn_fullwidth(seen) == {"，": ",", "ａ": "a"}  # ？ is in a split itself: kept

"""Label inventories: UPOS, whole FEATS bundles, and factored per-feature labels."""

from __future__ import annotations

import numpy as np

from polytag.core.labels import IGNORE, NONE, UPOS, Labels, join_feats, split_feats

TRAIN_FEATS = [
    "_",
    "Case=Nom|Gender=Masc|Number=Sing",
    "Case=Acc|Gender=Fem|Number=Sing",
    "Case=Nom|Gender=Masc|Number=Sing",
    "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin",
    "Gender[psor]=Masc|Number[psor]=Sing|Poss=Yes|PronType=Prs",  # layered features (Czech)
    "PronType=Int,Rel",  # a multi-value feature is one value
    "Case=Gen|Number=Plur",
]


def test_upos_inventory_round_trip():
    labels = Labels.build(TRAIN_FEATS)
    assert labels.upos == UPOS and len(UPOS) == 17
    ids = labels.encode_upos(["NOUN", "X", "PUNCT", "NOT_A_TAG", "_"])
    assert ids[:3] == [UPOS.index("NOUN"), UPOS.index("X"), UPOS.index("PUNCT")]
    assert ids[3:] == [IGNORE, IGNORE]  # e.g. "_" UPOS in a corpus without tags: ignored by the loss
    assert labels.decode_upos(ids[:3]) == ["NOUN", "X", "PUNCT"]


def test_bundles_round_trip():
    labels = Labels.build(TRAIN_FEATS)
    assert labels.bundles[0] == "_" and len(labels.bundles) == len(set(TRAIN_FEATS))
    ids = labels.encode_bundles(TRAIN_FEATS)
    assert IGNORE not in ids
    assert labels.decode_bundles(ids) == TRAIN_FEATS
    assert labels.encode_bundles(["Case=Dat|Number=Plur"]) == [IGNORE]  # unseen bundle: no target


def test_bundle_min_count():
    labels = Labels.build(TRAIN_FEATS, min_count=2)
    assert labels.bundles == ["_", "Case=Nom|Gender=Masc|Number=Sing"]


def test_factored_round_trip_for_every_bundle():
    labels = Labels.build(TRAIN_FEATS)
    assert labels.features["Case"] == [NONE, "Acc", "Gen", "Nom"]
    assert labels.features["PronType"] == [NONE, "Int,Rel", "Prs"]
    assert "Gender[psor]" in labels.features
    ids = labels.encode_factored(TRAIN_FEATS)
    assert ids.shape == (len(TRAIN_FEATS), labels.n_features)
    assert not ids[0].any()  # "_": every feature "not present"
    assert labels.decode_factored(ids) == TRAIN_FEATS


def test_factored_produces_unseen_combinations():
    labels = Labels.build(TRAIN_FEATS)
    unseen = "Case=Gen|Gender=Fem|Number=Plur"
    assert unseen not in labels.bundles
    ids = labels.encode_factored([unseen])
    assert IGNORE not in ids
    assert labels.decode_factored(ids) == [unseen]


def test_factored_unknown_values_are_ignored():
    labels = Labels.build(TRAIN_FEATS)
    ids = labels.encode_factored(["Case=Voc|Number=Sing|Foreign=Yes"])[0]
    assert ids[labels.feature_col["Case"]] == IGNORE  # unknown value: no target for that feature
    assert labels.features["Number"][ids[labels.feature_col["Number"]]] == "Sing"
    assert (ids >= 0).sum() == labels.n_features - 1  # unknown feature name: dropped


def test_factored_mask_marks_existing_value_slots():
    labels = Labels.build(TRAIN_FEATS)
    mask = labels.factored_mask()
    assert mask.shape == (labels.n_features, labels.max_values)
    for row, values in zip(mask, labels.features.values()):
        assert row.sum() == len(values) and row[: len(values)].all()


def test_no_features_at_all():
    labels = Labels.build(["_", "_"])
    assert labels.bundles == ["_"] and labels.n_features == 0
    assert labels.factored_mask().tolist() == [[True]]
    assert labels.decode_factored(labels.encode_factored(["_", "_"])) == ["_", "_"]


def test_split_and_join_use_ud_order():
    assert split_feats("_") == {} and split_feats("") == {}
    assert split_feats("PronType=Int,Rel|Case=Nom") == {"PronType": "Int,Rel", "Case": "Nom"}
    assert join_feats({}) == "_"
    # UD sorts feature names case-insensitively: Number before NumType, Gender[psor] after Gender
    assert join_feats({"NumType": "Card", "Number": "Plur", "Gender[psor]": "Fem", "Gender": "Masc"}) == (
        "Gender=Masc|Gender[psor]=Fem|Number=Plur|NumType=Card")


def test_save_and_load(tmp_path):
    labels = Labels.build(TRAIN_FEATS + ["Case=Nom|Number=Sing|Деепр=Да"])
    labels.save(tmp_path / "labels.json")
    loaded = Labels.load(tmp_path / "labels.json")
    assert (loaded.upos, loaded.bundles, loaded.features) == (labels.upos, labels.bundles, labels.features)
    feats = ["Case=Nom|Number=Sing|Деепр=Да", "PronType=Int,Rel"]
    assert np.array_equal(loaded.encode_factored(feats), labels.encode_factored(feats))
    assert loaded.encode_bundles(feats) == labels.encode_bundles(feats)


def test_frequent_bundles_and_with_bundles():
    labels = Labels.build(TRAIN_FEATS)
    counts = {"Case=Nom|Gender=Masc|Number=Sing": 2, "Case=Gen|Number=Plur": 1}
    keep = labels.frequent_bundles(counts, 2)
    assert [labels.bundles[i] for i in keep] == ["_", "Case=Nom|Gender=Masc|Number=Sing"]  # "_" always
    pruned = labels.with_bundles(keep)
    assert pruned.bundles == ["_", "Case=Nom|Gender=Masc|Number=Sing"]
    assert pruned.features == labels.features and pruned.upos == labels.upos
    # a bundle cut from the head is no longer a training target
    assert pruned.encode_bundles(["Case=Gen|Number=Plur", "Case=Nom|Gender=Masc|Number=Sing"]) == [IGNORE, 1]
    assert labels.frequent_bundles(counts, 1) == sorted([0] + [labels.bundle_id[b] for b in counts])

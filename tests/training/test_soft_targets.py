"""The soft-target files a labeller writes beside a pseudo-treebank (training.soft_targets)."""

from __future__ import annotations

import numpy as np
import pytest

from polytag.core.errors import InputError
from polytag.training.soft_targets import (
    SoftTargets,
    compress,
    labels_digest,
    read_soft_targets,
    soft_path,
    write_soft_targets,
)


def random_probabilities(rng, n, c, sharp=3.0):
    x = rng.normal(size=(n, c)) * sharp
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_soft_path_sits_beside_the_treebank_whatever_its_compression(tmp_path):
    for name in ("xx_pseudo-ud-train.conllu", "xx_pseudo-ud-train.conllu.xz", "xx_pseudo-ud-train.conllu.gz"):
        assert soft_path(tmp_path / name) == tmp_path / "xx_pseudo-ud-train.soft.npz"


def test_stored_rows_keep_the_top_bundles_and_the_mass_of_the_rest_at_each_temperature(tmp_path):
    rng = np.random.default_rng(0)
    upos, bundles = random_probabilities(rng, 30, 17), random_probabilities(rng, 30, 40)
    path = tmp_path / "x.soft.npz"
    # two batches, as the labeller writes them: rows stay in word order
    write_soft_targets(path, [compress(upos[:12], bundles[:12], k=5), compress(upos[12:], bundles[12:], k=5)], "d")
    for t in (1.0, 3.0):
        soft = read_soft_targets(path, 30, "d", t)
        assert len(soft) == 30 and soft.bundle_ids.shape == (30, 5)
        np.testing.assert_allclose(np.exp(soft.upos_logp), upos, atol=2e-3)
        best = np.argsort(-bundles, 1)[:, :5]
        assert (soft.bundle_ids == best).all()  # the top k, most probable first
        tempered = bundles ** (1 / t) / (bundles ** (1 / t)).sum(1, keepdims=True)
        top = np.exp(soft.bundle_logp / t - soft.bundle_lse[:, None])
        np.testing.assert_allclose(top, np.take_along_axis(tempered, best, 1), rtol=5e-3, atol=1e-5)


def test_a_file_that_does_not_fit_is_refused_naming_it(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "x.soft.npz"
    write_soft_targets(path, [compress(random_probabilities(rng, 4, 3), random_probabilities(rng, 4, 6))], "d")
    with pytest.raises(InputError, match="x.soft.npz: 4 rows of soft targets for 5 words"):
        read_soft_targets(path, 5, "d", 1.0)
    with pytest.raises(InputError, match="another label inventory"):
        read_soft_targets(path, 4, "other", 1.0)
    with pytest.raises(InputError, match="not 5.0"):
        read_soft_targets(path, 4, "d", 5.0)
    path.write_bytes(b"not an npz")
    with pytest.raises(InputError, match="x.soft.npz: cannot read soft targets"):
        read_soft_targets(path, 4, "d", 1.0)


def test_labels_digest_tells_inventories_apart():
    assert labels_digest(["NOUN", "VERB"], ["_"]) == labels_digest(["NOUN", "VERB"], ["_"])
    assert labels_digest(["NOUN", "VERB"], ["_"]) != labels_digest(["VERB", "NOUN"], ["_"])
    assert labels_digest(["NOUN"], ["_", "Case=Nom"]) != labels_digest(["NOUN"], ["Case=Nom", "_"])


def test_concatenated_stores_keep_each_part_in_order():
    a = SoftTargets(np.zeros((2, 3)), np.zeros((2, 2), int), np.zeros((2, 2)), np.zeros(2), 1.0)
    b = SoftTargets(np.ones((1, 3)), np.ones((1, 2), int), np.ones((1, 2)), np.ones(1), 1.0)
    both = SoftTargets.concatenate([a, b])
    assert len(both) == 3 and both.upos_logp[2].tolist() == [1, 1, 1]


def test_merged_files_keep_rows_in_order_and_refuse_other_labels(tmp_path):
    from polytag.training.soft_targets import concatenate_files

    rng = np.random.default_rng(2)
    a, b = tmp_path / "a.soft.npz", tmp_path / "b.soft.npz"
    ua, ub = random_probabilities(rng, 3, 4), random_probabilities(rng, 2, 4)
    write_soft_targets(a, [compress(ua, random_probabilities(rng, 3, 5))], "d")
    write_soft_targets(b, [compress(ub, random_probabilities(rng, 2, 5))], "d")
    concatenate_files([a, b], tmp_path / "ab.soft.npz")
    merged = read_soft_targets(tmp_path / "ab.soft.npz", 5, "d", 2.0)
    np.testing.assert_allclose(np.exp(merged.upos_logp), np.vstack([ua, ub]), atol=2e-3)
    write_soft_targets(b, [compress(ub, random_probabilities(rng, 2, 5))], "other")
    with pytest.raises(InputError, match="differ in labels"):
        concatenate_files([a, b], tmp_path / "ab.soft.npz")

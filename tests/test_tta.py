"""Test-time augmentation (interp.backends.tta) and the pad-mirror symmetry check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models
from interp.backends.classifier import Classifier, load_classifier
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.random_params import random_params
from interp.backends.tta import TTAClassifier, mirror_pads, parse_tta
from interp.core.aligned import is_aligned
from interp.core.errors import UnknownNameError
from interp.data.preprocess import fit_preprocessor
from interp.data.symmetry import pad_centroid_slope, pad_mirror_check


@pytest.fixture(scope="module")
def simulated():
    from interp.data.simulator import simulate

    return simulate("VTPC2", 2, 3, n_clusters=1500)


def _perceptron(charge: np.ndarray, symmetric: bool = False) -> FlaxClassifier:
    module = models.get_model("perceptron")
    params = random_params(module, (11, 20), 3)
    if symmetric:  # kernel [P*T, 2] made even under pad mirroring
        k = np.asarray(params["dense"]["kernel"]).reshape(11, 20, 2)
        params = {**params, "dense": {**params["dense"],
                  "kernel": ((k + k[::-1]) / 2).reshape(220, 2)}}  # fmt: skip
    clf = FlaxClassifier("perceptron", module, params, fit_preprocessor("max", charge), "VTPC2")
    clf.backend = "jax"
    return clf


def test_identity_tta_returns_the_plain_scores_exactly(simulated) -> None:
    clf = _perceptron(simulated.charge)
    tta = TTAClassifier(clf, ("identity",))
    np.testing.assert_array_equal(tta.predict_proba(simulated.charge),
                                  clf.predict_proba(simulated.charge))  # fmt: skip


def test_pad_mirror_of_a_pad_symmetric_model_equals_plain(simulated) -> None:
    x = simulated.charge
    sym = _perceptron(x, symmetric=True)
    np.testing.assert_allclose(TTAClassifier(sym).predict_proba(x), sym.predict_proba(x),
                               atol=2e-6)  # fmt: skip
    plain = _perceptron(x)  # a model that is not symmetric: TTA changes its scores
    assert np.abs(TTAClassifier(plain).predict_proba(x) - plain.predict_proba(x)).max() > 1e-3


def test_tta_folder_round_trip_and_refusals(tmp_path: Path, simulated) -> None:
    x = simulated.charge[:200]
    tta = TTAClassifier(_perceptron(simulated.charge))
    tta.save(tmp_path / "t")
    back = load_classifier(tmp_path / "t")
    assert back.kind == "tta" and back.augmentations == ("pad-mirror",)
    assert isinstance(back, Classifier)
    back.base.backend = "jax"
    np.testing.assert_array_equal(back.predict_proba(x), tta.predict_proba(x))
    with pytest.raises(ValueError, match="asymmetric in time"):
        TTAClassifier(tta.base, ("time-mirror",))
    with pytest.raises(UnknownNameError):
        parse_tta("time-mirror")
    assert parse_tta("pad-mirror") == ("pad-mirror",)


def test_symmetry_check_flags_an_asymmetric_set(simulated) -> None:
    both = simulated.subset(np.arange(len(simulated)))
    mirrored = np.concatenate([both.charge, both.charge[:, ::-1, :]])
    from interp.core.schema import ClusterSet

    sym = ClusterSet(mirrored, np.concatenate([both.label] * 2),
                     np.concatenate([both.event_id] * 2), "VTPC2")  # fmt: skip
    assert pad_mirror_check(sym)["symmetric"] is True
    slope = pad_centroid_slope(simulated.charge)
    assert np.allclose(pad_centroid_slope(simulated.charge[:, ::-1, :]), -slope)
    skewed = simulated.subset(slope > 0.02)  # only tracks crossing one way
    check = pad_mirror_check(skewed)
    assert check["symmetric"] is False and check["slope"]["ks_statistic"] > 0.3


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.float64, np.int16])
def test_mirror_pads_is_the_reversed_view_aligned(dtype) -> None:
    x = np.random.default_rng(0).integers(0, 200, (37, 11, 20)).astype(dtype)
    for src in (x, x[::2], x[:0]):  # contiguous, strided, empty
        got = mirror_pads(src)
        assert got.dtype == src.dtype and (is_aligned(got) or not src.size)
        np.testing.assert_array_equal(got, src[:, ::-1, :])

"""Domain-shift distances, transfer warnings and few-shot recalibration on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from interp.core.schema import ClusterSet
from interp.evaluation.recalibration import rates, recalibration_curve
from interp.evaluation.shift import (
    FEATURES,
    compare,
    feature_shift,
    ks_statistic,
    off_centre,
    wasserstein,
)
from interp.evaluation.transfer import transfer_warning


@pytest.mark.parametrize("shift", [0.0, 0.5, 2.0])
def test_distances_match_scipy_and_the_known_shift(shift) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 2, 4000), rng.normal(shift, 2, 3000)
    assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    assert wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)
    c = compare(a, b)
    assert c["wasserstein_sd"] == pytest.approx(shift / 2, abs=0.06)  # in units of sd(a) = 2
    expected_ks = stats.norm.cdf(shift / 4) - stats.norm.cdf(-shift / 4)
    assert c["ks"] == pytest.approx(expected_ks, abs=0.04)


def test_identical_samples_have_zero_distance_and_nans_are_dropped() -> None:
    x = np.random.default_rng(1).exponential(3, 500)
    assert ks_statistic(x, x) == 0.0 and wasserstein(x, x) == 0.0
    y = np.concatenate([x, [np.nan, np.inf]])
    assert compare(x, y)["ks"] == 0.0 and compare(x, y)["n_test"] == 500
    assert compare(np.ones(10), np.zeros(10))["wasserstein_sd"] is None  # no training spread


def _clusters(n: int, seed: int, width: float, chamber: str) -> ClusterSet:
    """Gaussian blobs centred in the window; ``width`` sets the spread across pads."""
    rng = np.random.default_rng(seed)
    p, t = np.arange(11)[:, None], np.arange(20)[None, :]
    label = (rng.random(n) < 0.3).astype(np.int8)
    amp = rng.uniform(50, 150, n)[:, None, None]
    w = np.where(label == 1, width, 2 * width)[:, None, None]
    charge = amp * np.exp(-((p - 5) ** 2) / (2 * w**2) - (t - 10) ** 2 / 8.0)
    charge = np.floor(charge).astype(np.float32)
    return ClusterSet(charge, label, np.repeat(np.arange(n // 50), 50), chamber)


def test_feature_shift_sees_a_wider_chamber_and_not_an_identical_one() -> None:
    a = _clusters(2000, 0, 1.0, "A")
    same = feature_shift(a, a)
    for f in same["features"].values():
        for v in f["classes"].values():
            assert v["ks"] == 0.0 and v["wasserstein"] == 0.0
    wide = feature_shift(a, _clusters(2000, 1, 1.5, "B"))
    assert set(wide["features"]) == set(FEATURES) and wide["test_chamber"] == "B"
    pad = wide["features"]["pad_rms"]["classes"]["signal"]
    assert pad["ks"] > 0.9 and pad["wasserstein_sd"] > 2 and pad["mean_test"] > pad["mean_train"]
    # time profile and amplitudes are drawn alike: little shift there
    assert wide["features"]["peak_adc"]["classes"]["signal"]["ks"] < 0.1
    assert (
        wide["features"]["time_rms"]["classes"]["signal"]["ks"]
        < wide["features"]["pad_rms"]["classes"]["signal"]["ks"]
    )
    h = wide["histograms"]["pad_rms"]
    assert len(h["edges"]) == 41 and len(h["signal"]["test"]) == 40


def test_off_centre_flags_maxima_away_from_the_centre() -> None:
    q = np.zeros((3, 11, 20), np.float32)
    q[0, 5, 10] = 9
    q[1, 5, 11] = 9
    q[2, 0, 0] = 9
    assert off_centre(q).tolist() == [0.0, 1.0, 1.0]


def _eval(auc: float, nr: float, sl: float, acc: float = 0.7) -> dict:
    m = {
        "roc_auc": {"value": auc},
        "noise_removed": {"value": nr},
        "signal_lost": {"value": sl},
        "accuracy": {"value": acc},
        "balanced_accuracy": {"value": 0.5 * (nr + 1.0 - sl)},
    }
    return {"at_0.5": {"metrics": m}}


def test_transfer_warnings() -> None:
    assert transfer_warning(_eval(0.95, 0.9, 0.05)) is None
    assert "inverted" in transfer_warning(_eval(0.42, 0.9, 0.05))
    # all called noise: 74 % accuracy with a 74 % noise mix, balanced accuracy 50 %
    useless = transfer_warning(_eval(0.7, 1.0, 1.0, acc=0.74))
    assert "useless" in useless and "class mix" in useless
    assert "useless" in transfer_warning(_eval(0.7, 0.53, 0.51))
    assert transfer_warning(_eval(0.7, 0.56, 0.51)) is None  # 52.5 %: outside the 2 points


def _scores(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < 0.3).astype(np.int8)
    s = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 2.5 * (2 * y - 1))))
    return s, y


def test_recalibration_recovers_with_enough_target_clusters() -> None:
    rng = np.random.default_rng(0)
    pool, ref, test = _scores(20_000, rng), _scores(20_000, rng), _scores(20_000, rng)
    curve = recalibration_curve(*pool, *ref, *test, repeats=15, seed=1, source_threshold=0.9)
    t_ref = curve["reference"]["threshold"]
    nr, sl = rates(test[0], test[1], t_ref)
    assert sl == pytest.approx(0.05, abs=0.01) and curve["reference"]["noise_removed"] == nr
    assert curve["source"]["signal_lost"] > 0.2  # the carried-over threshold loses signal
    rows = {r["n"]: r for r in curve["sizes"]}
    assert not rows[100]["recovered"]  # 30 signal clusters cannot pin a 5 % quantile
    assert rows[10_000]["recovered"] and rows[10_000]["within_tolerance"] > 0.8
    assert curve["clusters_needed"] in (1000, 3000)
    spread = [rows[n]["abs_delta_signal_lost"]["hi"] for n in (100, 1000, 10_000)]
    assert spread == sorted(spread, reverse=True)  # fewer clusters, wider spread


def test_recalibration_marks_sizes_beyond_the_pool_and_needs_signal() -> None:
    rng = np.random.default_rng(2)
    pool, ref, test = _scores(500, rng), _scores(5000, rng), _scores(5000, rng)
    curve = recalibration_curve(*pool, *ref, *test, sizes=(100, 1000), repeats=5)
    assert [r["available"] for r in curve["sizes"]] == [True, False]
    from interp.core.errors import ClusterDataError

    with pytest.raises(ClusterDataError):
        recalibration_curve(*pool, ref[0], np.zeros_like(ref[1]), *test, sizes=(100,))

"""Metrics against scikit-learn, event-bootstrap intervals and the operating-point choice."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score

from interp.core.errors import ClusterDataError
from interp.evaluation.metrics import (
    METRIC_NAMES,
    choose_threshold,
    confusion_counts,
    evaluate_scores,
    roc_auc,
)


def _scores(n_events: int, per_event: int = 200, seed: int = 0, ties: bool = False):
    """Noisy scores: signal ~ Beta(5, 2), noise ~ Beta(2, 5); event-level offsets."""
    rng = np.random.default_rng(seed)
    n = n_events * per_event
    labels = (rng.random(n) < 0.26).astype(np.int8)
    ev = np.repeat(np.arange(n_events), per_event)
    s = np.where(labels == 1, rng.beta(5, 2, n), rng.beta(2, 5, n))
    s = np.clip(s + rng.normal(0, 0.05, n_events)[ev], 0, 1)
    if ties:
        s = np.round(s, 1)
    return s.astype(np.float32), labels, ev


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_confusion_and_accuracy_match_sklearn(threshold: float) -> None:
    s, y, ev = _scores(20)
    pred = (s >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    assert confusion_counts(s, y, threshold) == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    r = evaluate_scores(s, y, ev, threshold=threshold, n_boot=0)
    m = r["metrics"]
    assert r["confusion"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert m["accuracy"]["value"] == pytest.approx(accuracy_score(y, pred))
    assert m["noise_removed"]["value"] == pytest.approx(tn / (tn + fp))
    assert m["signal_lost"]["value"] == pytest.approx(fn / (fn + tp))
    assert m["precision"]["value"] == pytest.approx(tp / (tp + fp))
    assert m["balanced_accuracy"]["value"] == pytest.approx(0.5 * (tn / (tn + fp) + tp / (tp + fn)))
    assert m["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert m["accuracy"]["lo"] is None  # n_boot = 0: no interval


@pytest.mark.parametrize("ties", [False, True])
def test_auc_matches_sklearn_with_ties_and_weights(ties: bool) -> None:
    s, y, _ = _scores(10, ties=ties)
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    w = np.random.default_rng(1).integers(0, 4, s.size).astype(float)
    assert roc_auc(s, y, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)


@pytest.mark.parametrize(("ties", "chunk"), [(False, None), (True, None), (True, 60)])
def test_bootstrap_auc_replicates_equal_weighted_auc(ties: bool, chunk, monkeypatch) -> None:
    """Every replicate's AUC (the event-pair form) equals sklearn's AUC with the replicate's
    event multiplicities as cluster weights, also when the score groups come in many chunks;
    a replicate of noise-only events is NaN."""
    from interp.evaluation import metrics
    from interp.evaluation.metrics import _boot_auc, _bootstrap_weights

    if chunk is not None:
        monkeypatch.setattr(metrics, "_BOOT_CHUNK_ELEMENTS", chunk)  # 5 groups per chunk

    s, y, ev = _scores(12, per_event=150, ties=ties)
    y = np.where(ev == 0, 0, y).astype(np.int8)  # event 0 holds noise only
    noise_only = np.zeros((1, 12))
    noise_only[0, 0] = 2.0
    w = np.vstack([_bootstrap_weights(12, 40, seed=3), noise_only])
    got = _boot_auc(s, y, ev, w)
    for b in range(40):
        cw = w[b, ev]
        assert got[b] == pytest.approx(roc_auc_score(y, s, sample_weight=cw), abs=1e-12)
    assert np.isnan(got[-1])


def test_auc_single_class_is_none() -> None:
    r = evaluate_scores(np.array([0.2, 0.7]), np.array([0, 0]), np.array([0, 1]), n_boot=50)
    assert r["metrics"]["roc_auc"]["value"] is None
    assert r["metrics"]["signal_lost"]["value"] is None


def test_bootstrap_interval_contains_point_and_shrinks() -> None:
    widths = []
    for n_events in (8, 200):
        s, y, ev = _scores(n_events, seed=n_events)
        r = evaluate_scores(s, y, ev, n_boot=400, seed=3)
        assert r["ci_reliable"]
        for name in METRIC_NAMES:
            m = r["metrics"][name]
            assert m["lo"] <= m["value"] <= m["hi"], name
        widths.append(r["metrics"]["accuracy"]["hi"] - r["metrics"]["accuracy"]["lo"])
        auc_w = r["metrics"]["roc_auc"]["hi"] - r["metrics"]["roc_auc"]["lo"]
        assert auc_w > 0
    assert widths[1] < 0.5 * widths[0]
    json.dumps(r)  # plain JSON types


def test_bootstrap_is_seeded() -> None:
    s, y, ev = _scores(12)
    a = evaluate_scores(s, y, ev, n_boot=100, seed=7)
    b = evaluate_scores(s, y, ev, n_boot=100, seed=7)
    c = evaluate_scores(s, y, ev, n_boot=100, seed=8)
    assert a == b
    assert a != c


def test_few_events_flagged_unreliable() -> None:
    s, y, ev = _scores(2)
    r = evaluate_scores(s, y, ev, n_boot=100)
    assert not r["ci_reliable"]
    one = evaluate_scores(s, y, np.zeros_like(ev), n_boot=100)
    m = one["metrics"]["accuracy"]
    assert not one["ci_reliable"] and m["lo"] == pytest.approx(m["value"]) == m["hi"]


@pytest.mark.parametrize("bound", [0.0, 0.01, 0.05, 0.2])
def test_threshold_respects_signal_loss_and_is_maximal(bound: float) -> None:
    s, y, _ = _scores(30, ties=False)
    t = choose_threshold(s, y, bound)
    sig = s[y == 1]
    assert np.mean(sig < t) <= bound + 1e-12
    higher = np.min(sig[sig > t]) if (sig > t).any() else None
    if higher is not None:  # the next candidate threshold would lose too much signal
        assert np.mean(sig < higher) > bound
    # ties: still within the bound
    s2, y2, _ = _scores(30, ties=True)
    t2 = choose_threshold(s2, y2, bound)
    assert np.mean(s2[y2 == 1] < t2) <= bound + 1e-12


def test_threshold_errors() -> None:
    with pytest.raises(ClusterDataError, match="no signal"):
        choose_threshold(np.array([0.1, 0.2]), np.array([0, 0]))
    with pytest.raises(ValueError):
        choose_threshold(np.array([0.1]), np.array([1]), max_signal_loss=1.0)


def test_input_errors() -> None:
    with pytest.raises(ClusterDataError, match="same length"):
        evaluate_scores(np.zeros(3), np.zeros(2, int), np.zeros(3, int))
    with pytest.raises(ClusterDataError, match="no clusters"):
        evaluate_scores(np.zeros(0), np.zeros(0, int))
    with pytest.raises(ClusterDataError, match="labels"):
        evaluate_scores(np.zeros(2), np.array([0, 2]))


# ----------------------------------------------------------------------------------- headline
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_balanced_accuracy_matches_sklearn(threshold: float) -> None:
    from sklearn.metrics import balanced_accuracy_score

    s, y, ev = _scores(20, seed=3)
    r = evaluate_scores(s, y, ev, threshold, n_boot=0)
    want = balanced_accuracy_score(y, (s >= threshold).astype(int))
    assert r["metrics"]["balanced_accuracy"]["value"] == pytest.approx(want)


def test_published_confusion_matrix_is_balanced_accuracy() -> None:
    """The talk's split-conv matrix (2,000 + 2,000 clusters): 'Overall Accuracy 91,9 %' is the
    balanced accuracy; on a 74/26 mix the same rates give a different plain accuracy."""
    y = np.r_[np.zeros(2000), np.ones(2000)].astype(np.int8)
    s = np.r_[np.zeros(1816), np.ones(184), np.zeros(141), np.ones(1859)]
    m = evaluate_scores(s, y, n_boot=0)["metrics"]
    assert m["balanced_accuracy"]["value"] == pytest.approx(0.91875)
    assert m["accuracy"]["value"] == pytest.approx(0.91875)  # balanced set: the two agree
    keep = np.r_[np.arange(2000), 2000 + np.arange(703)]  # 2,000 noise : 703 signal = 74/26
    m74 = evaluate_scores(s[keep], y[keep], n_boot=0)["metrics"]
    assert m74["balanced_accuracy"]["value"] != pytest.approx(m74["accuracy"]["value"], abs=1e-3)


# ----------------------------------------------------------------------------------- seeds
def test_one_seed_list_equals_plain_call() -> None:
    s, y, ev = _scores(12, seed=4)
    a = evaluate_scores(s, y, ev, 0.5, n_boot=200, seed=1)
    b = evaluate_scores([s], y, ev, [0.5], n_boot=200, seed=1)
    assert a["metrics"] == b["metrics"] and b["seed_spread"]["balanced_accuracy"] is None


def test_seed_spread_widens_intervals_and_is_reported() -> None:
    s, y, ev = _scores(30, seed=5)
    # three "training seeds": the same model with a per-seed score shift
    seeds = [np.clip(s + d, 0, 1) for d in (-0.08, 0.0, 0.08)]
    one = evaluate_scores(seeds[1], y, ev, 0.5, n_boot=400, seed=2)
    many = evaluate_scores(seeds, y, ev, 0.5, n_boot=400, seed=2)
    per_seed = [evaluate_scores(x, y, ev, 0.5, n_boot=0)["metrics"] for x in seeds]
    vals = [m["balanced_accuracy"]["value"] for m in per_seed]
    ba = many["metrics"]["balanced_accuracy"]
    assert ba["value"] == pytest.approx(np.mean(vals))
    assert many["seed_spread"]["balanced_accuracy"] == pytest.approx(np.std(vals, ddof=1))
    assert many["seed_values"]["balanced_accuracy"] == pytest.approx(vals)
    w1 = one["metrics"]["balanced_accuracy"]["hi"] - one["metrics"]["balanced_accuracy"]["lo"]
    assert ba["hi"] - ba["lo"] > w1  # seed spread enters the interval
    assert many["n_seeds"] == 3 and "seed" in many["interval_method"]


# ----------------------------------------------------------------------------------- paired
def test_paired_difference_of_a_model_with_itself_is_zero() -> None:
    from interp.evaluation.metrics import paired_difference

    s, y, ev = _scores(25, seed=6)
    d = paired_difference(s, s, y, ev, n_boot=300)
    assert d["value"] == 0.0 and d["lo"] == 0.0 and d["hi"] == 0.0
    assert d["significant"] is False


def test_paired_interval_is_narrower_than_unpaired_and_detects_a_gap() -> None:
    """Two models sharing the event-level score offsets: pairing removes that shared
    variation, so a small real gap is significant paired but the unpaired intervals overlap."""
    from interp.evaluation.metrics import paired_difference

    s, y, ev = _scores(30, seed=7)
    rng = np.random.default_rng(1)
    better = np.clip(s + np.where(y == 1, 0.03, -0.03) + rng.normal(0, 0.01, s.size), 0, 1)
    d = paired_difference(better, s, y, ev, n_boot=500, seed=3)
    a = evaluate_scores(better, y, ev, n_boot=500, seed=3)["metrics"]["balanced_accuracy"]
    b = evaluate_scores(s, y, ev, n_boot=500, seed=3)["metrics"]["balanced_accuracy"]
    assert d["value"] == pytest.approx(a["value"] - b["value"])
    assert d["significant"] is True and d["lo"] > 0
    assert d["hi"] - d["lo"] < 0.5 * ((a["hi"] - a["lo"]) + (b["hi"] - b["lo"]))
    flipped = paired_difference(s, better, y, ev, n_boot=500, seed=3)
    assert flipped["value"] == pytest.approx(-d["value"]) and flipped["hi"] < 0


# ----------------------------------------------------------------------------------- truth
def test_rates_by_truth_per_kind_and_group() -> None:
    from interp.evaluation.metrics import rates_by_truth

    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1], np.int8)
    kind = np.array([1, 1, 6, 6, 2, 0, 0, 0, 0], np.int8)
    overlap = np.array([0, 0, 0, 0, 0, 0, 1, 1, 0], np.int8)
    dead = np.array([0, 0, 0, 0, 1, 0, 0, 0, 1], np.int8)
    s = np.array([0.1, 0.9, 0.8, 0.7, 0.2, 0.9, 0.1, 0.9, 0.2])
    r = rates_by_truth(s, y, {"noise_kind": kind, "overlap": overlap, "dead_pads": dead})
    nr, sl = r["noise_removed"], r["signal_lost"]
    assert nr["electronic"] == {"n": 2, "value": 0.5}
    assert nr["unreconstructed"] == {"n": 2, "value": 0.0}
    assert nr["crosstalk"] == {"n": 1, "value": 1.0} and nr["dead_pad"] == {"n": 1, "value": 1.0}
    assert nr["delta"] == {"n": 0, "value": None}
    assert sl["clean"] == {"n": 1, "value": 0.0}
    assert sl["overlapping"] == {"n": 2, "value": 0.5} and sl["dead_pad"] == {"n": 1, "value": 1.0}
    assert rates_by_truth(s, y, {}) is None  # user data without truth


def test_with_one_event_the_interval_is_the_seed_range() -> None:
    """No event-to-event variation to resample: the combined interval comes from the seed
    draws alone and spans the per-seed values."""
    s, y, _ = _scores(1, per_event=2000, seed=8)
    seeds = [np.clip(s + d, 0, 1) for d in (-0.1, 0.0, 0.1)]
    vals = [
        evaluate_scores(x, y, None, n_boot=0)["metrics"]["balanced_accuracy"]["value"]
        for x in seeds
    ]
    ba = evaluate_scores(seeds, y, None, n_boot=400, seed=0)["metrics"]["balanced_accuracy"]
    assert ba["lo"] == pytest.approx(min(vals)) and ba["hi"] == pytest.approx(max(vals))
    assert max(vals) - min(vals) > 0.01

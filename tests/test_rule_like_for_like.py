"""The distilled rule beside the perceptron at one threshold policy (issue 14 item 7)."""

from __future__ import annotations

import numpy as np
import pytest

from interp.evaluation.metrics import choose_threshold
from interp.explain.rule import decision_agreement, like_for_like


def _balanced(pred: np.ndarray, y: np.ndarray) -> float:
    y = y.astype(bool)
    return 0.5 * (np.mean(~pred[~y]) + np.mean(pred[y]))


def _scores(n: int, seed: int, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a rule-like score (log-odds scale, offset so 0.5 is a poor cut) and a
    perceptron-like P(signal) that is correlated with it."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    z = rng.normal(size=n) + 2.0 * y
    rule = z + shift  # a monotone offset: same ranking, cut 0.5 means nothing on this scale
    perceptron = 1.0 / (1.0 + np.exp(-(z + 0.5 * rng.normal(size=n))))
    return y, rule, perceptron


def test_both_operating_points_come_from_the_validation_policy() -> None:
    y_val, r_val, p_val = _scores(3000, 0, shift=3.0)
    y_te, r_te, p_te = _scores(3000, 1, shift=3.0)
    out = like_for_like(r_val, p_val, y_val, r_te, p_te, y_te, 0.05, n_boot=0)
    thr_r = choose_threshold(r_val, y_val, 0.05)
    thr_p = choose_threshold(p_val, y_val, 0.05)
    assert out["rule"]["threshold"] == thr_r
    assert out["perceptron"]["threshold"] == thr_p
    ba_r = _balanced(r_te >= thr_r, y_te)
    ba_p = _balanced(p_te >= thr_p, y_te)
    assert out["rule"]["balanced_accuracy"]["value"] == pytest.approx(ba_r)
    assert out["perceptron"]["balanced_accuracy"]["value"] == pytest.approx(ba_p)
    assert out["difference"]["value"] == pytest.approx(ba_r - ba_p)
    # the validation policy loses about max_signal_loss of the signal on test as well
    assert out["rule"]["signal_lost"]["value"] == pytest.approx(0.05, abs=0.03)
    # a rule cut at 0.5 (or at its training max-accuracy point) would give another number:
    # the policy matters here, so the comparison above is able to fail
    assert abs(_balanced(r_te >= 0.5, y_te) - ba_r) > 0.05
    a = out["agreement"]
    same = (r_te >= thr_r) == (p_te >= thr_p)
    assert a["agreement"] == pytest.approx(same.mean())
    assert sum(a["table"].values()) == a["n"] == len(y_te)


def test_score_scale_does_not_change_the_rule_decisions() -> None:
    """The policy depends on the order of the scores only: a monotone map of the rule's score
    (e.g. a sigmoid to put it on the perceptron's scale) gives the same numbers."""
    y_val, r_val, p_val = _scores(2000, 2, shift=-1.0)
    y_te, r_te, p_te = _scores(2000, 3, shift=-1.0)
    ev = np.repeat(np.arange(200), 10)
    a = like_for_like(r_val, p_val, y_val, r_te, p_te, y_te, 0.1, ev, n_boot=50)
    b = like_for_like(np.exp(r_val), p_val, y_val, np.exp(r_te), p_te, y_te, 0.1, ev, n_boot=50)
    assert a["rule"]["balanced_accuracy"] == b["rule"]["balanced_accuracy"]
    assert a["agreement"] == b["agreement"]
    lo, hi = a["difference"]["lo"], a["difference"]["hi"]
    assert lo <= a["difference"]["value"] <= hi


def test_decision_agreement_matches_cohens_kappa_by_hand() -> None:
    # 2 x 2: both signal 40, both noise 45, A only 5, B only 10 (n = 100)
    a = np.array([1] * 40 + [0] * 45 + [1] * 5 + [0] * 10, bool)
    b = np.array([1] * 40 + [0] * 45 + [0] * 5 + [1] * 10, bool)
    out = decision_agreement(a, b)
    assert out["table"] == {
        "both_signal": 40,
        "both_noise": 45,
        "a_signal_b_noise": 5,
        "a_noise_b_signal": 10,
    }
    po, pe = 0.85, 0.45 * 0.5 + 0.55 * 0.5
    assert out["agreement"] == pytest.approx(po)
    assert out["cohen_kappa"] == pytest.approx((po - pe) / (1 - pe))
    assert decision_agreement(np.ones(5, bool), np.ones(5, bool))["cohen_kappa"] is None
    with pytest.raises(ValueError, match="decision_agreement"):
        decision_agreement(np.ones(3, bool), np.ones(4, bool))

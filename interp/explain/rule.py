"""A readable cut distilled from the perceptron: ``sum_r c_r * S_r + c_0 > t`` over 3 regions.

Regions are fixed by the window geometry around the cluster maximum at (P // 2, T // 2):

* ``core``:  ``|dp| <= core_pads`` and ``|dt| <= core_times`` (the peak),
* ``cross``: the central pad row and time column outside the core (the cross arms),
* ``outer``: everything else.

``S_r`` is the *mean* preprocessed charge over region r, so coefficients are on the same scale
as the perceptron's per-pixel weights. Three ways to get the coefficients:

* ``project``: region means of the perceptron's weight-difference map (the least-squares
  projection of the map onto piecewise-constant region maps, times the region size);
  no refit at all - the rule *is* a coarse-grained perceptron.
* ``lstsq``: least-squares fit of the perceptron's logit difference (the teacher) on the
  region means plus an intercept, over the training inputs.
* ``logistic``: logistic regression of the labels on the region means (no teacher).

The threshold ``t`` of :func:`distil_rule` is chosen on training data to maximise accuracy.
:func:`like_for_like` compares the rule with the perceptron under the perceptron's own
policy instead: each gets its operating point on the *validation* split from
:func:`interp.evaluation.metrics.choose_threshold` (the highest cut with validation signal
loss within the matrix's ``max_signal_loss``), both are scored by balanced accuracy on the
test split, and their decisions on the test clusters are compared (agreement, Cohen's kappa,
the 2 x 2 table).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

REGIONS: tuple[str, ...] = ("core", "cross", "outer")


def region_masks(
    window: tuple[int, int], core_pads: int = 1, core_times: int = 2
) -> dict[str, np.ndarray]:
    """Boolean [P, T] masks of the three regions (disjoint, covering the window)."""
    P, T = window
    dp = np.abs(np.arange(P) - P // 2)[:, None]
    dt = np.abs(np.arange(T) - T // 2)[None, :]
    core = (dp <= core_pads) & (dt <= core_times)
    cross = ((dp == 0) | (dt == 0)) & ~core
    outer = ~core & ~cross
    return {"core": core, "cross": cross, "outer": outer}


def region_features(x: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
    """Mean preprocessed charge per region.

    Args:
        x: float [N, P, T] preprocessed inputs.
        masks: Output of :func:`region_masks`.

    Returns:
        float64 [N, 3] in :data:`REGIONS` order.
    """
    flat = np.asarray(x, np.float64).reshape(len(x), -1)
    cols = [flat[:, masks[r].ravel()].mean(axis=1) for r in REGIONS]
    return np.stack(cols, axis=1)


def max_accuracy_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Cut ``t`` maximising accuracy of ``score > t`` (ties at a midpoint between scores)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels).astype(bool)
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    # cutting after position k (k = 0..N): below -> noise, above -> signal
    correct = np.concatenate([[0], np.cumsum(~y)]) + np.concatenate([np.cumsum(y[::-1])[::-1], [0]])
    valid = np.r_[True, s[1:] != s[:-1], True]  # never cut between tied scores
    correct = np.where(valid, correct, -1)
    k = int(np.argmax(correct))
    if k == 0:
        return float(s[0] - 1.0)
    if k == len(s):
        return float(s[-1] + 1.0)
    return float(0.5 * (s[k - 1] + s[k]))


def rates(pred: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, noise removed (TNR) and signal lost (FNR) of boolean signal predictions."""
    pred = np.asarray(pred, bool)
    y = np.asarray(labels).astype(bool)
    return {
        "accuracy": float(np.mean(pred == y)),
        "noise_removed": float(np.mean(~pred[~y])) if (~y).any() else float("nan"),
        "signal_lost": float(np.mean(~pred[y])) if y.any() else float("nan"),
    }


@dataclasses.dataclass(frozen=True)
class Rule:
    """``signal if sum_r coef[r] * mean_r(x) + intercept > threshold``.

    Attributes:
        method: ``project``, ``lstsq`` or ``logistic``.
        coefficients: Region -> coefficient (per unit mean preprocessed charge).
        intercept: Constant term.
        threshold: Cut chosen on training data.
        masks: Region masks [P, T].
    """

    method: str
    coefficients: dict[str, float]
    intercept: float
    threshold: float
    masks: dict[str, np.ndarray]

    def score(self, x: np.ndarray) -> np.ndarray:
        """Rule score, float64 [N], for preprocessed inputs [N, P, T]."""
        c = np.array([self.coefficients[r] for r in REGIONS])
        return region_features(x, self.masks) @ c + self.intercept

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Boolean [N], True = signal."""
        return self.score(x) > self.threshold

    def text(self) -> str:
        """Human-readable form, e.g. ``2.1 x core - 0.8 x cross - 0.3 x outer > 0.05``."""
        parts = []
        for i, r in enumerate(REGIONS):
            c = self.coefficients[r]
            sign = "-" if c < 0 else ("" if i == 0 else "+")
            parts.append(f"{sign} {abs(c):.3g} x mean_{r}".strip())
        return " ".join(parts) + f" > {self.threshold - self.intercept:.3g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "coefficients": dict(self.coefficients),
            "intercept": float(self.intercept),
            "threshold": float(self.threshold),
            "text": self.text(),
            "region_sizes": {r: int(m.sum()) for r, m in self.masks.items()},
        }


def distil_rule(
    x_train: np.ndarray,
    y_train: np.ndarray,
    method: str = "lstsq",
    weight_diff: np.ndarray | None = None,
    bias_diff: float = 0.0,
    core_pads: int = 1,
    core_times: int = 2,
) -> Rule:
    """Fits a 3-coefficient rule.

    Args:
        x_train: float [N, P, T] preprocessed training inputs.
        y_train: int [N] labels (only used for the threshold, and for ``logistic``).
        method: ``project`` / ``lstsq`` need ``weight_diff``; ``logistic`` does not.
        weight_diff: Perceptron weight difference map [P, T] (signal minus noise neuron).
        bias_diff: Perceptron bias difference (signal minus noise).
        core_pads: Core half-width in pads.
        core_times: Core half-width in time bins.

    Returns:
        The :class:`Rule`.
    """
    x_train = np.asarray(x_train, np.float64)
    masks = region_masks(x_train.shape[1:], core_pads, core_times)
    feats = region_features(x_train, masks)
    if method in ("project", "lstsq") and weight_diff is None:
        raise ValueError(f"method '{method}' needs the perceptron weight_diff map")
    if method == "project":
        w = np.asarray(weight_diff, np.float64)
        # sum_i w_i x_i ~ sum_r mean_r(w) * sum_{i in r} x_i = sum_r (n_r mean_r(w)) mean_r(x)
        coef = np.array([w[masks[r]].mean() * masks[r].sum() for r in REGIONS])
        intercept = float(bias_diff)
    elif method == "lstsq":
        w = np.asarray(weight_diff, np.float64).ravel()
        teacher = x_train.reshape(len(x_train), -1) @ w + bias_diff
        a = np.concatenate([feats, np.ones((len(feats), 1))], axis=1)
        sol, *_ = np.linalg.lstsq(a, teacher, rcond=None)
        coef, intercept = sol[:3], float(sol[3])
    elif method == "logistic":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e4, max_iter=1000, class_weight="balanced")
        lr.fit(feats, np.asarray(y_train).astype(int))
        coef, intercept = lr.coef_[0], float(lr.intercept_[0])
    else:
        raise ValueError(f"unknown rule method '{method}'; known: project, lstsq, logistic")
    coefficients = {r: float(c) for r, c in zip(REGIONS, coef, strict=True)}
    provisional = Rule(method, coefficients, intercept, 0.0, masks)
    thr = max_accuracy_threshold(provisional.score(x_train), y_train)
    return dataclasses.replace(provisional, threshold=thr)


def decision_agreement(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """How often two classifiers make the same decision on the same clusters.

    Args:
        a, b: bool [N] decisions (True = signal) of classifiers A and B.

    Returns:
        ``{"n", "agreement", "cohen_kappa", "table"}``: the fraction of clusters with the same
        decision, Cohen's kappa (agreement beyond what the two signal rates give by chance;
        ``None`` when chance agreement is 1, i.e. both call every cluster the same class) and
        the 2 x 2 counts ``{"both_signal", "both_noise", "a_signal_b_noise",
        "a_noise_b_signal"}``.

    Raises:
        ValueError: If the lengths differ or there are no clusters.
    """
    a, b = np.asarray(a, bool).ravel(), np.asarray(b, bool).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"decision_agreement: decisions {a.shape} and {b.shape} (need same, > 0)")
    po = float(np.mean(a == b))
    pa, pb = float(a.mean()), float(b.mean())
    pe = pa * pb + (1.0 - pa) * (1.0 - pb)
    kappa = None if pe >= 1.0 else (po - pe) / (1.0 - pe)
    return {
        "n": int(a.size),
        "agreement": po,
        "cohen_kappa": kappa,
        "table": {
            "both_signal": int(np.sum(a & b)),
            "both_noise": int(np.sum(~a & ~b)),
            "a_signal_b_noise": int(np.sum(a & ~b)),
            "a_noise_b_signal": int(np.sum(~a & b)),
        },
    }


def like_for_like(
    rule_val: np.ndarray,
    perceptron_val: np.ndarray,
    y_val: np.ndarray,
    rule_test: np.ndarray,
    perceptron_test: np.ndarray,
    y_test: np.ndarray,
    max_signal_loss: float,
    event_ids: np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The rule beside the perceptron under one threshold policy and one metric.

    Both operating points come from :func:`interp.evaluation.metrics.choose_threshold` on
    the validation split (signal when ``score >= threshold``), the same call that sets the
    perceptron's operating point everywhere else; the rule's score is its own
    (:meth:`Rule.score`, log-odds-like), the perceptron's its P(signal). The threshold
    depends only on the order of the validation signal scores, so any monotone score scale
    gives the same decisions.

    Args:
        rule_val, perceptron_val: float [N_val] validation scores of rule and perceptron.
        y_val: int [N_val] validation labels.
        rule_test, perceptron_test: float [N] test scores, same clusters.
        y_test: int [N] test labels.
        max_signal_loss: The matrix's validation signal-loss bound (e.g. 0.05).
        event_ids: int [N] test event numbers (bootstrap unit; ``None``: one event).
        n_boot: Event-bootstrap replicates of the intervals (0: point values only).
        seed: Bootstrap seed.

    Returns:
        ``{"threshold_policy", "max_signal_loss", "rule", "perceptron", "difference",
        "agreement"}``: ``rule`` / ``perceptron`` hold ``threshold`` (validation operating
        point) and ``balanced_accuracy``, ``noise_removed``, ``signal_lost`` on the test
        split as ``{"value", "lo", "hi"}``; ``difference`` is the paired rule-minus-perceptron
        balanced accuracy (:func:`~interp.evaluation.metrics.paired_difference`);
        ``agreement`` is :func:`decision_agreement` of rule (A) and perceptron (B).
    """
    from interp.evaluation.metrics import choose_threshold, evaluate_scores, paired_difference

    thr_r = choose_threshold(rule_val, y_val, max_signal_loss)
    thr_p = choose_threshold(perceptron_val, y_val, max_signal_loss)
    out: dict[str, Any] = {
        "threshold_policy": "interp.evaluation.metrics.choose_threshold on validation "
        f"(signal lost <= {max_signal_loss:g}), signal when score >= threshold",
        "max_signal_loss": float(max_signal_loss),
    }
    keys = ("balanced_accuracy", "noise_removed", "signal_lost")
    for name, test, thr in (("rule", rule_test, thr_r), ("perceptron", perceptron_test, thr_p)):
        ev = evaluate_scores(test, y_test, event_ids, threshold=thr, n_boot=n_boot, seed=seed)
        out[name] = {"threshold": float(thr), **{k: ev["metrics"][k] for k in keys}}
    out["difference"] = paired_difference(
        rule_test, perceptron_test, y_test, event_ids, thr_r, thr_p, n_boot=n_boot, seed=seed
    )
    out["agreement"] = decision_agreement(
        np.asarray(rule_test) >= thr_r, np.asarray(perceptron_test) >= thr_p
    )
    return out

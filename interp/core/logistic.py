"""One-feature logistic regression by Newton's method (Platt scaling, the score heads).

Fits ``P(y = 1 | z) = sigmoid(a * z + b)`` by minimising the (optionally weighted)
cross-entropy against targets ``t`` in [0, 1]; every step is halved until the loss does not
rise, so the iteration never diverges. Used by :func:`interp.evaluation.calibration.fit_platt`
(Platt's smoothed targets) and :mod:`interp.backends.flax.score_head` (an autoencoder's score
head on the log reconstruction error, class-balanced weights).
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` in the stable tanh form, float64 like ``z``."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def smoothed_targets(labels: np.ndarray) -> np.ndarray:
    """Platt's targets: ``(N+ + 1) / (N+ + 2)`` for label 1, ``1 / (N- + 2)`` for label 0
    (float64 [N]), so a feature that separates the classes still gives finite parameters."""
    y = np.asarray(labels).ravel()
    n_pos, n_neg = int((y == 1).sum()), int((y != 1).sum())
    return np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))


def fit_logistic_1d(
    z: np.ndarray,
    t: np.ndarray,
    weights: np.ndarray | None = None,
    a0: float = 1.0,
    b0: float = 0.0,
    iterations: int = 100,
) -> tuple[float, float]:
    """``(a, b)`` minimising ``sum_i w_i [log(1 + exp(u_i)) - t_i u_i]``, ``u = a z + b``.

    Args:
        z: float [N] feature (finite).
        t: float [N] targets in [0, 1] (labels or :func:`smoothed_targets`).
        weights: float [N] per-sample weights (``None``: ones).
        a0: Starting slope.
        b0: Starting intercept.
        iterations: Newton steps at most (stops when a step is below 1e-10).

    Returns:
        Slope and intercept (floats, on the log-odds).
    """
    z = np.asarray(z, np.float64).ravel()
    t = np.asarray(t, np.float64).ravel()
    w = None if weights is None else np.asarray(weights, np.float64).ravel()

    def weighted(v: np.ndarray) -> np.ndarray:
        return v if w is None else w * v

    def loss(a: float, b: float) -> float:
        u = a * z + b
        return float(np.sum(weighted(np.logaddexp(0.0, u) - t * u)))

    a, b = float(a0), float(b0)
    design = np.stack([z, np.ones_like(z)], axis=1)
    current = loss(a, b)
    for _ in range(iterations):
        p = sigmoid(a * z + b)
        grad = design.T @ weighted(p - t)
        h = weighted(np.maximum(p * (1.0 - p), 1e-12))
        hess = design.T @ (design * h[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        for _ in range(40):  # step halving: the loss never rises
            trial = loss(a - float(step[0]), b - float(step[1]))
            if trial <= current:
                break
            step = 0.5 * step
        a, b, current = a - float(step[0]), b - float(step[1]), min(trial, current)
        if np.max(np.abs(step)) < 1e-10:
            break
    return a, b

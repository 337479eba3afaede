"""Reference baselines that need no training pipeline: scikit-learn logistic regression.

Used to check that the simulated task is as hard as the real one (a linear model reached
~89 % on real NA61/SHINE data) and, in tests, that the Flax perceptron matches its own model
family.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from interp.core.schema import ClusterSet
from interp.data.preprocess import fit_preprocessor


def logistic_baseline(
    train: ClusterSet,
    test: ClusterSet,
    preprocessing: str = "max",
    class_weight: str | None = None,
    max_iter: int = 2000,
) -> dict[str, Any]:
    """Fits ``LogisticRegression`` on flattened preprocessed windows of ``train``.

    Args:
        train: Training clusters.
        test: Test clusters (e.g. other events, or another chamber).
        preprocessing: See :mod:`interp.data.preprocess`; fitted on ``train`` only.
        class_weight: ``None`` or ``"balanced"``.
        max_iter: L-BFGS iterations.

    Returns:
        ``accuracy``, ``noise_removed`` (TNR), ``signal_lost`` (FNR), the weight map of the
        signal-vs-noise logit ``coef`` [P, T] and ``intercept``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    pre = fit_preprocessor(preprocessing, train.charge)
    x_tr = pre(train.charge).reshape(len(train), -1)
    x_te = pre(test.charge).reshape(len(test), -1)
    clf = LogisticRegression(max_iter=max_iter, class_weight=class_weight, C=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_tr, train.label)
    pred = clf.predict(x_te)
    y = test.label
    return {
        "accuracy": float(np.mean(pred == y)),
        "noise_removed": float(np.mean(pred[y == 0] == 0)),
        "signal_lost": float(np.mean(pred[y == 1] == 0)),
        "coef": clf.coef_.reshape(train.window_shape),
        "intercept": float(clf.intercept_[0]),
        "n_train": len(train),
        "n_test": len(test),
    }

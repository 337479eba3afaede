"""The objective-specific parts of a Flax training run, chosen by the model spec: the
training-cluster filter, the per-class loss weights, and the score-head fit of a
``"reconstruct"`` model (see :data:`models.contract.OBJECTIVES`).

The score head maps the module's score feature ``s`` (the log reconstruction error) to the
signal logit ``slope * s + intercept``. It is fitted after the reconstruction training on the
*validation* split only: a 1-D logistic regression of the label on ``s``
(:func:`interp.core.logistic.fit_logistic_1d`, Platt's smoothed targets) with class-balanced
weights ``N / (2 N_c)``, so P(signal) = 0.5 is the balanced operating point, as for the
supervised models trained with balanced class weights.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import numpy as np

from interp.core.errors import ClusterDataError
from interp.core.logistic import fit_logistic_1d, smoothed_targets
from interp.core.schema import ClusterSet

HEAD = "score_head"
"""Parameter subtree of the head: ``{"slope": (), "intercept": ()}``."""


def training_clusters(train: ClusterSet, train_classes: tuple[int, ...] | None) -> ClusterSet:
    """The clusters the objective trains on: those whose label is in ``train_classes``
    (``None``: all of ``train``).

    Raises:
        ClusterDataError: No training cluster of those classes.
    """
    if train_classes is None:
        return train
    keep = np.flatnonzero(np.isin(train.label, np.asarray(train_classes)))
    if keep.size == 0:
        raise ClusterDataError(
            "<train split>", "label", f"no training cluster of the classes {train_classes}"
        )
    return train.subset(keep)


def objective_weights(train_classes: tuple[int, ...] | None) -> np.ndarray:
    """float32 [2] loss weights per class of a ``"reconstruct"`` objective: 1 for the trained
    classes, 0 for the others (so the validation loss is the error on those classes only)."""
    classes = (0, 1) if train_classes is None else train_classes
    return np.isin(np.arange(2), np.asarray(classes)).astype(np.float32)


def score_features(module: nn.Module, params: Any, x: np.ndarray, batch: int = 4096) -> np.ndarray:
    """The module's ``score_feature`` float64 [N] of preprocessed windows x [N, P, T]."""
    fn = jax.jit(lambda p, v: module.apply({"params": p}, v, method="score_feature"))
    out = [np.asarray(fn(params, x[i : i + batch])) for i in range(0, len(x), batch)]
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def fit_score_head(
    module: nn.Module, params: Any, x_val: np.ndarray, y_val: np.ndarray
) -> tuple[Any, dict[str, float]]:
    """Parameters with the ``score_head`` fitted on the validation split (see the module
    docstring).

    Args:
        module: A ``"reconstruct"`` linen model.
        params: Its trained parameters (the head's values are replaced, nothing else).
        x_val: float32 [N, P, T] preprocessed validation windows.
        y_val: int [N] their labels.

    Returns:
        ``(params, {"slope", "intercept", "n_val"})``.

    Raises:
        ClusterDataError: The validation split lacks a class.
    """
    y = np.asarray(y_val).astype(np.int64)
    counts = np.bincount(y, minlength=2)[:2]
    if (counts == 0).any():
        raise ClusterDataError(
            "<val split>", "label", f"the score head needs both classes; counts {counts}"
        )
    s = score_features(module, params, x_val)
    weights = (len(y) / (2.0 * counts))[y]
    slope, intercept = fit_logistic_1d(s, smoothed_targets(y), weights, a0=-1.0, b0=0.0)
    host = jax.device_get(params)
    head = {
        "slope": np.asarray(slope, np.float32),
        "intercept": np.asarray(intercept, np.float32),
    }
    fitted = {**dict(host), HEAD: head}
    return fitted, {"slope": float(slope), "intercept": float(intercept), "n_val": len(y)}

"""Training a fold ensemble: k models on k-fold splits of the training events, saved as one.

:func:`train_fold_ensemble` cuts the training split into ``k`` event-grouped, stratified
folds (:func:`interp.data.folds.make_folds`), trains the model ``k`` times (fold ``i``: trained
on the other ``k - 1`` folds, validated, i.e. early-stopped, on fold ``i``) with the model's
own backend trainer, and saves an :class:`~interp.backends.ensemble.EnsembleClassifier` in
``workdir``::

    classifier.json     kind "ensemble" (weights, fold assignment, fold metrics)
    member_<i>/         fold i's model, as its trainer saved it
    oof_scores.npz      out-of-fold scores: every training cluster scored by the one member
                        that did not train on it (for choosing thresholds without test data)

Fold metrics (``classifier.json`` ``fold_metrics``): per fold the validation loss
(class-balanced cross-entropy of P(signal), the weighting's ``loss_i``) and the balanced
accuracy at P(signal) >= 0.5, with their mean and spread (sample standard deviation over
folds).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.classifier import get_trainer
from interp.backends.ensemble import DEFAULT_WEIGHTING, EnsembleClassifier, member_dir
from interp.core.errors import ClusterDataError
from interp.core.schema import ClusterSet
from interp.data.folds import DEFAULT_K, make_folds

OOF_FILE = "oof_scores.npz"
"""Out-of-fold scores: ``event_id`` int64 [N], ``label`` int8 [N], ``p_signal`` float32 [N],
``fold`` int64 [N] (the training split's clusters, in its order)."""


def balanced_log_loss(p: np.ndarray, label: np.ndarray, eps: float = 1e-7) -> float:
    """Class-balanced binary cross-entropy (nats): the mean of the two classes' mean losses.

    Args:
        p: float [N] P(signal).
        label: 0/1 [N].
    """
    p = np.clip(np.asarray(p, np.float64), eps, 1.0 - eps)
    y = np.asarray(label).astype(bool)
    parts = [
        -np.log(p[y]).mean() if y.any() else 0.0,
        -np.log1p(-p[~y]).mean() if (~y).any() else 0.0,
    ]
    return float(np.mean(parts))


def balanced_accuracy_at(p: np.ndarray, label: np.ndarray, threshold: float = 0.5) -> float:
    """Mean of signal and noise recall with signal called when ``p >= threshold``."""
    y = np.asarray(label).astype(bool)
    call = np.asarray(p) >= threshold
    tpr = call[y].mean() if y.any() else np.nan
    tnr = (~call[~y]).mean() if (~y).any() else np.nan
    return float(np.nanmean([tpr, tnr]))


def _spread(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0}


def train_fold_ensemble(
    model: str,
    train_set: ClusterSet,
    k: int = DEFAULT_K,
    config: Any = None,
    workdir: str | Path = "ensemble",
    seed: int = 0,
    weighting: str = DEFAULT_WEIGHTING,
    progress: bool = False,
) -> EnsembleClassifier:
    """Trains the ``k`` fold models of ``model`` and saves them as one ensemble classifier.

    Args:
        model: Model name (``models.model_spec``; any backend).
        train_set: The training split's clusters (one chamber); folds cut its events.
        k: Number of folds (>= 2).
        config: The backend's training config (``TrainConfig``/``XGBConfig``); ``None`` for
            the trainer's default.
        workdir: Ensemble folder (created; each member trains in ``member_<i>/``, where a
            Flax member resumes its own checkpoints).
        seed: Seed of the fold assignment.
        weighting: Member weighting (:data:`interp.backends.ensemble.WEIGHTINGS`).
        progress: Show the trainers' progress.

    Returns:
        The ensemble, with ``info["fold_metrics"]`` (see the module docstring) and
        ``info["train_seconds"]``.

    Raises:
        ClusterDataError: Fewer training events than folds, or a fold without one class.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    folds = make_folds(train_set.event_id, train_set.label, k, seed, source=train_set.chamber)
    trainer = get_trainer(model)
    oof = np.full(len(train_set), np.nan, np.float32)
    members, losses, bal = [], [], []
    t0 = time.perf_counter()
    for i, (tr, va) in enumerate(folds.indices()):
        val = train_set.subset(va)
        if np.unique(val.label).size < 2:
            raise ClusterDataError(
                train_set.chamber, "label", f"fold {i} of {k} holds one class only"
            )
        kw = {} if config is None else {"config": config}
        clf = trainer(train_set.subset(tr), val, workdir / member_dir(i), progress=progress, **kw)
        p = np.asarray(clf.predict_proba(val.charge), np.float32)
        oof[va] = p
        members.append(clf)
        losses.append(balanced_log_loss(p, val.label))
        bal.append(balanced_accuracy_at(p, val.label))
    seconds = time.perf_counter() - t0
    rows = [
        {"fold": i, "val_loss": losses[i], "val_balanced_accuracy": bal[i], **c}
        for i, c in enumerate(folds.counts(train_set.label))
    ]
    info = {
        "fold_metrics": {
            "folds": rows,
            "val_loss": _spread(losses),
            "val_balanced_accuracy": _spread(bal),
            "oof_balanced_accuracy": balanced_accuracy_at(oof, train_set.label),
        },
        "train_seconds": seconds,
        "oof_file": OOF_FILE,
    }
    ens = EnsembleClassifier(
        members, losses=losses, weighting=weighting, folds=folds.to_dict(), info=info
    )
    buf = workdir / OOF_FILE
    tmp = buf.with_name(buf.name + ".tmp.npz")
    np.savez(
        tmp,
        event_id=np.asarray(train_set.event_id, np.int64),
        label=np.asarray(train_set.label, np.int8),
        p_signal=oof,
        fold=folds.fold_of_cluster,
    )
    tmp.replace(buf)
    ens.save(workdir)
    return ens

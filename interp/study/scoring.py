"""Scoring a test split with a cell's classifiers and the metrics of those scores."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from interp.backends.classifier import (
    Classifier,
    check_window,
)
from interp.core.errors import (
    ClusterDataError,
)
from interp.core.schema import ClusterSet
from interp.evaluation.metrics import (
    choose_threshold,
    evaluate_scores,
    rates_by_truth,
)


@dataclasses.dataclass
class ScoredTest:
    """Scores of one model's training seeds on one test split.

    Attributes:
        test: The test split.
        scores: One float [N] P(signal) array per training seed.
        op_thresholds: Per seed, the operating point chosen on the training chamber's val.
        predict_seconds: Wall time of scoring the test split (all seeds).
    """

    test: ClusterSet
    scores: list[np.ndarray]
    op_thresholds: list[float]
    predict_seconds: float


def score_test(
    clfs: Sequence[Classifier],
    val: ClusterSet,
    test: ClusterSet,
    max_signal_loss: float = 0.05,
    val_scores: Sequence[np.ndarray] | None = None,
) -> ScoredTest:
    """Scores ``test`` with every seed's classifier and chooses each seed's operating point.

    Raises:
        ShapeMismatchError: Window of ``val``/``test`` differs from a classifier's.
        ClusterDataError: Empty split or no signal in ``val``.
    """
    for part, name in ((val, "val"), (test, "test")):
        if len(part) == 0:
            raise ClusterDataError(part.chamber, "charge", f"{name} split holds no clusters")
        for clf in clfs:
            check_window(clf, part)
    if val_scores is None:
        val_scores = [clf.predict_proba(val.charge) for clf in clfs]
    thresholds = [choose_threshold(v, val.label, max_signal_loss) for v in val_scores]
    t0 = time.perf_counter()
    scores = [np.asarray(clf.predict_proba(test.charge)) for clf in clfs]
    return ScoredTest(test, scores, thresholds, time.perf_counter() - t0)


def _mean_by_truth(scored: ScoredTest) -> dict[str, Any] | None:
    """:func:`interp.evaluation.metrics.rates_by_truth` at 0.5, averaged over the training seeds."""
    per_seed = [rates_by_truth(s, scored.test.label, scored.test.truth, 0.5) for s in scored.scores]
    if per_seed[0] is None:
        return None
    out = per_seed[0]
    for part in ("noise_removed", "signal_lost"):
        for group, v in out[part].items():
            vals = [r[part][group]["value"] for r in per_seed]
            v["value"] = None if vals[0] is None else float(np.mean(vals))
    return out


def evaluate_scored(
    scored: ScoredTest, n_boot: int = 1000, seed: int = 0, max_signal_loss: float = 0.05
) -> dict[str, Any]:
    """Metrics of one :class:`ScoredTest` at 0.5 and at the validation-chosen thresholds.

    Returns:
        See :func:`evaluate_one`.
    """
    from interp.core.published import CLUSTERS_PER_EVENT

    test = scored.test
    n_events = int(np.unique(test.event_id).size)
    n_seeds = len(scored.scores)
    at_half = evaluate_scores(scored.scores, test.label, test.event_id, 0.5, n_boot, seed)
    op = evaluate_scores(
        scored.scores, test.label, test.event_id, scored.op_thresholds, n_boot, seed
    )
    op["max_signal_loss"] = float(max_signal_loss)
    seconds = scored.predict_seconds / n_seeds  # one classifier's inference
    return {
        "test_chamber": test.chamber,
        "at_0.5": at_half,
        "operating_point": op,
        "by_truth": _mean_by_truth(scored),
        "predict_seconds": seconds,
        "seconds_per_event": seconds / n_events,
        "seconds_per_published_event": seconds / len(test) * CLUSTERS_PER_EVENT,
    }


def evaluate_one(
    clf: Classifier | Sequence[Classifier],
    val: ClusterSet,
    test: ClusterSet,
    n_boot: int = 1000,
    seed: int = 0,
    max_signal_loss: float = 0.05,
    val_scores: np.ndarray | Sequence[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Metrics of one classifier (or its training seeds) on one test set, at 0.5 and at a
    validation-chosen threshold.

    Args:
        clf: Trained classifier, or one per training seed (metrics are then seed means, and
            intervals combine event resampling with a seed draw per replicate).
        val: Validation split of the *training* chamber (chooses the operating point).
        test: Test split of the evaluated chamber.
        n_boot: Bootstrap replicates (events resampled) for the 95 % intervals.
        seed: Bootstrap seed.
        max_signal_loss: Signal-loss bound on validation for the operating point.
        val_scores: Precomputed P(signal) on ``val`` (one array per classifier).

    Returns:
        ``{"test_chamber", "at_0.5": metrics, "operating_point": metrics + "max_signal_loss",
        "by_truth", "predict_seconds", "seconds_per_event"}``; metrics as
        :func:`interp.evaluation.metrics.evaluate_scores` (headline: ``balanced_accuracy``);
        ``by_truth`` as :func:`interp.evaluation.metrics.rates_by_truth` (``None`` without simulator
        truth). ``seconds_per_event`` is one classifier's inference time per test event
        (scaled to the published 28,763.75 clusters per event in
        ``seconds_per_published_event``).

    Raises:
        ShapeMismatchError: Window of ``val``/``test`` differs from the classifier's.
        ClusterDataError: Empty test set or no signal in ``val``.
    """
    clfs = list(clf) if isinstance(clf, (list, tuple)) else [clf]
    if val_scores is not None and not isinstance(val_scores, (list, tuple)):
        val_scores = [val_scores]
    scored = score_test(clfs, val, test, max_signal_loss, val_scores)
    return evaluate_scored(scored, n_boot, seed, max_signal_loss)

"""k-fold cross-validation folds of a training split, grouped by event, stratified by class.

Clusters of one event share run conditions, so a fold never cuts an event: each fold is a set
of whole events. Events are dealt greedily (largest first, in a seeded random order) to the
fold whose signal and noise counts fall furthest below their targets (``1/k`` of each class),
as :func:`interp.data.splits.split_events` does for train/val/test; every event is in exactly
one fold, so every training event is validation exactly once.

Stratification: with ``E`` events of roughly equal size, each fold's signal fraction stays
within a few per cent of the whole split's (``tests/test_folds.py`` checks ±0.03 absolute on
60 simulated-like events, k = 3 and 5).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from interp.core.errors import ClusterDataError

DEFAULT_K = 5
"""Folds of a fold ensemble unless told otherwise (the issue's default)."""


@dataclasses.dataclass(frozen=True)
class Folds:
    """Event-grouped folds of one set of clusters.

    Attributes:
        k: Number of folds.
        seed: Seed of the event order.
        fold_of_event: Event id -> fold index (0..k-1), as int64 arrays ``events`` [E] and
            ``fold`` [E] (sorted by event id).
        fold_of_cluster: int64 [N] fold index of every cluster of the data cut.
    """

    k: int
    seed: int
    events: np.ndarray
    fold: np.ndarray
    fold_of_cluster: np.ndarray

    def indices(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per fold ``(train_idx, val_idx)``: int64 cluster indices into the data cut, the
        validation ones being the fold's clusters, the training ones all the others."""
        out = []
        for i in range(self.k):
            val = np.flatnonzero(self.fold_of_cluster == i)
            train = np.flatnonzero(self.fold_of_cluster != i)
            out.append((train, val))
        return out

    def counts(self, label: np.ndarray) -> list[dict[str, float]]:
        """Per fold ``{"events", "clusters", "signal", "signal_fraction"}`` (label 0/1 [N])."""
        label = np.asarray(label)
        rows = []
        for i in range(self.k):
            m = self.fold_of_cluster == i
            n = int(m.sum())
            s = int(label[m].sum())
            rows.append(
                {
                    "events": int((self.fold == i).sum()),
                    "clusters": n,
                    "signal": s,
                    "signal_fraction": s / n if n else float("nan"),
                }
            )
        return rows

    def to_dict(self) -> dict:
        """JSON form: ``{"k", "seed", "events": {fold: [event ids]}}``."""
        return {
            "k": self.k,
            "seed": self.seed,
            "events": {str(i): self.events[self.fold == i].tolist() for i in range(self.k)},
        }


def make_folds(
    event_id: np.ndarray,
    label: np.ndarray,
    k: int = DEFAULT_K,
    seed: int = 0,
    source: str | None = None,
) -> Folds:
    """Deals whole events to ``k`` folds, stratified by class, seeded and deterministic.

    Args:
        event_id: int [N] event id of every cluster (of the training split).
        label: 0/1 [N] labels (1 signal).
        k: Number of folds (>= 2).
        seed: Seed of the event order; the same seed and data give the same folds.
        source: Name of the data (for errors).

    Returns:
        The :class:`Folds`.

    Raises:
        ClusterDataError: Fewer events than folds, or ``k`` < 2.
    """
    event_id = np.asarray(event_id, np.int64)
    label = np.asarray(label).astype(np.int64)
    if int(k) < 2:
        raise ClusterDataError(source, "k", f"k-fold needs k >= 2, got {k}")
    events, inverse = np.unique(event_id, return_inverse=True)
    if events.size < k:
        raise ClusterDataError(
            source, "event_id", f"{events.size} event(s) cannot fill {k} folds (one event each)"
        )
    ev_counts = np.zeros((events.size, 2), np.int64)  # [E, (noise, signal)]
    np.add.at(ev_counts, (inverse, label), 1)
    target = ev_counts.sum(axis=0) / float(k)  # [2]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 4242]))
    order = rng.permutation(events.size)
    order = order[np.argsort(-ev_counts[order].sum(axis=1), kind="stable")]
    fold = np.full(events.size, -1, np.int64)
    have = np.zeros((k, 2))
    for f, ev in zip(rng.permutation(k), order[:k], strict=True):  # one event per fold first
        fold[ev] = f
        have[f] += ev_counts[ev]
    for ev in order[k:]:
        cost = ((have + ev_counts[ev] - target) ** 2).sum(axis=1) - ((have - target) ** 2).sum(
            axis=1
        )
        best = int(np.argmin(cost))
        fold[ev] = best
        have[best] += ev_counts[ev]
    return Folds(int(k), int(seed), events, fold, fold[inverse])

"""k-fold by event (interp.data.folds): disjoint, covering, stratified, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from interp.core.errors import ClusterDataError
from interp.data.folds import make_folds


def _columns(n_events: int = 60, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Events of 300-700 clusters with signal fractions 0.2-0.6 (a simulated-like mix)."""
    rng = np.random.default_rng(seed)
    ev, lab = [], []
    for e in range(n_events):
        n = int(rng.integers(300, 700))
        ev.append(np.full(n, 1000 + 3 * e))
        lab.append((rng.random(n) < rng.uniform(0.2, 0.6)).astype(np.int8))
    return np.concatenate(ev), np.concatenate(lab)


@pytest.mark.parametrize("k", [3, 5])
def test_folds_disjoint_covering_stratified(k: int) -> None:
    ev, lab = _columns()
    folds = make_folds(ev, lab, k=k, seed=0)
    seen = []
    for train, val in folds.indices():
        assert np.intersect1d(np.unique(ev[train]), np.unique(ev[val])).size == 0
        assert train.size + val.size == ev.size
        seen.append(np.unique(ev[val]))
    allv = np.concatenate(seen)
    assert allv.size == np.unique(ev).size  # every event validation exactly once
    assert np.array_equal(np.sort(allv), np.unique(ev))
    total = lab.mean()
    for row in folds.counts(lab):
        assert abs(row["signal_fraction"] - total) < 0.03
        assert abs(row["clusters"] - ev.size / k) < 0.05 * ev.size / k


def test_same_seed_same_folds_other_seed_other_folds() -> None:
    ev, lab = _columns()
    a, b = make_folds(ev, lab, 5, seed=3), make_folds(ev, lab, 5, seed=3)
    assert np.array_equal(a.fold_of_cluster, b.fold_of_cluster)
    c = make_folds(ev, lab, 5, seed=4)
    assert not np.array_equal(a.fold_of_cluster, c.fold_of_cluster)


def test_too_few_events_is_refused() -> None:
    ev, lab = _columns(n_events=2)
    with pytest.raises(ClusterDataError, match="cannot fill 3 folds"):
        make_folds(ev, lab, 3)

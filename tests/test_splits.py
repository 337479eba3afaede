"""Event-wise, stratified, reproducible splits."""

from __future__ import annotations

import numpy as np
import pytest

from interp.errors import ClusterDataError
from interp.schema import ClusterSet
from interp.splits import Splits, make_splits, splits_path_for


def _data(n_events: int = 40, seed: int = 0) -> ClusterSet:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(200, 400, n_events)
    event_id = np.repeat(np.arange(100, 100 + n_events), sizes)
    noise_frac = rng.uniform(0.6, 0.85, n_events)
    label = (rng.uniform(size=event_id.size) > np.repeat(noise_frac, sizes)).astype(np.int8)
    charge = np.zeros((event_id.size, 2, 2), np.float32)
    return ClusterSet(charge, label, event_id.astype(np.int64), "VTPC2")


def test_splits_are_disjoint_complete_and_stratified() -> None:
    data = _data()
    s = make_splits(data, (0.7, 0.15, 0.15), seed=3)
    all_events = np.concatenate([s.events[k] for k in ("train", "val", "test")])
    assert np.array_equal(np.sort(all_events), data.events())  # every event once
    parts = s.apply(data)
    assert sum(len(p) for p in parts.values()) == len(data)
    for name, frac in zip(("train", "val", "test"), (0.7, 0.15, 0.15), strict=True):
        assert len(parts[name]) / len(data) == pytest.approx(frac, abs=0.03)
        assert parts[name].noise_fraction == pytest.approx(data.noise_fraction, abs=0.02)
    assert not set(parts["train"].events()) & set(parts["test"].events())


def test_same_seed_same_splits_other_seed_differs() -> None:
    data = _data()
    a, b = make_splits(data, seed=1), make_splits(data, seed=1)
    c = make_splits(data, seed=2)
    assert all(np.array_equal(a.events[k], b.events[k]) for k in a.events)
    assert any(not np.array_equal(a.events[k], c.events[k]) for k in a.events)


def test_save_load_round_trip(tmp_path) -> None:
    data = _data()
    s = make_splits(data, seed=5)
    path = s.save(splits_path_for(tmp_path / "run.h5"))
    assert path.name == "run.splits.json"
    t = Splits.load(path)
    assert all(np.array_equal(s.events[k], t.events[k]) for k in s.events)
    assert t.counts == s.counts and t.seed == 5


def test_too_few_events_and_zero_fraction() -> None:
    data = _data(n_events=2)
    with pytest.raises(ClusterDataError, match="event_id"):
        make_splits(data, (0.7, 0.15, 0.15))
    s = make_splits(data, (0.5, 0.0, 0.5), seed=0)
    parts = s.apply(data)
    assert set(parts) == {"train", "test"}
    assert len(parts["train"].events()) == 1 == len(parts["test"].events())


def test_empty_split_is_a_clear_error() -> None:
    data = _data()
    s = make_splits(data, seed=0)
    other = data.select_events(s.events["train"])
    with pytest.raises(ClusterDataError, match="split 'val'"):
        s.apply(other)

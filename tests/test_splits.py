"""Event-wise, stratified, reproducible splits."""

from __future__ import annotations

import numpy as np
import pytest

from interp.core.errors import ClusterDataError
from interp.core.schema import ClusterSet
from interp.data.splits import Splits, make_splits, splits_path_for


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


# ------------------------------------------------------------------ validation on load
def _write_splits(path, events: dict[str, list[int]]) -> None:
    import json

    counts = {
        k: {"events": len(v), "clusters": 0, "signal": 0, "noise": 0} for k, v in events.items()
    }
    path.write_text(
        json.dumps({"seed": 0, "fractions": [0.7, 0.15, 0.15], "events": events, "counts": counts})
    )


@pytest.mark.parametrize(
    ("events", "match"),
    [
        ({"train": [0, 1, 2], "val": [2, 3], "test": [4, 5]}, r"both 'train' and 'val': 2"),
        (
            {"train": [0, 1], "val": [3], "test": [4, 5]},
            r"1 event\(s\) of the data in no split: 2$",
        ),
        ({"train": [0, 1, 2, 3], "val": [4], "test": [5, 97, 98]}, r"not in the data: 97, 98"),
    ],
    ids=["overlap", "missing", "unknown"],
)
def test_splits_file_is_checked_against_the_data(tmp_path, events, match) -> None:
    path = tmp_path / "mine.splits.json"
    _write_splits(path, events)
    ev = np.repeat(np.arange(6), 10)
    with pytest.raises(ClusterDataError, match=match) as info:
        Splits.load(path, ev)
    assert str(path) in str(info.value) and "events" in str(info.value)
    Splits.load(path)  # without data: only the format is checked


def test_good_splits_file_passes_and_lists_many_events_briefly(tmp_path) -> None:
    path = tmp_path / "ok.splits.json"
    _write_splits(path, {"train": [0, 1, 2, 3], "val": [4], "test": [5]})
    s = Splits.load(path, np.repeat(np.arange(6), 3))
    assert s.policy == "independent"
    _write_splits(path, {"train": list(range(4)), "val": [4], "test": [5]})
    with pytest.raises(ClusterDataError, match=r"\(\+95 more\)"):
        Splits.load(path, np.arange(106))


# ------------------------------------------------------------------ chambers sharing events
def _chamber(ev: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return ev, (rng.random(ev.size) < rng.uniform(0.1, 0.6)).astype(np.int8)


def test_shared_split_has_no_cross_chamber_leak() -> None:
    from interp.data.splits import check_no_leak, overlapping_groups, split_events, split_shared

    ev = np.repeat(np.arange(30), 50)
    cols = {"VTPC2": _chamber(ev, 1), "MTPCL": _chamber(ev[ev >= 5], 2)}
    ids = {c: e for c, (e, _) in cols.items()}
    assert overlapping_groups({**ids, "VTPC1": ev + 1000}) == [("VTPC2", "MTPCL")]
    assert overlapping_groups({**ids, "VTPC1": np.array([29])}) == [("VTPC2", "MTPCL", "VTPC1")]
    shared = split_shared(cols, seed=0)
    assert shared.policy == "shared" and shared.chambers == ("VTPC2", "MTPCL")
    events = {c: e for c, (e, _) in cols.items()}
    for c, (e, _) in cols.items():
        shared.check(e, c)
    check_no_leak({c: shared for c in cols}, events)
    for name in ("train", "val", "test"):  # whole events, union of both chambers
        assert shared.counts[name]["events"] == shared.events[name].size
    assert sum(shared.counts[k]["clusters"] for k in shared.counts) == ev.size + (ev >= 5).sum()
    # splitting each chamber on its own would leak for these data
    own = {c: split_events(e, y, seed=0) for c, (e, y) in cols.items()}
    with pytest.raises(ClusterDataError, match=r"train split of .* and the (val|test) split"):
        check_no_leak(own, events)


def test_shared_splits_round_trip(tmp_path) -> None:
    from interp.data.splits import split_shared

    ev = np.repeat(np.arange(12), 5)
    s = split_shared({"A": _chamber(ev, 0), "B": _chamber(ev, 1)}, seed=3)
    t = Splits.load(s.save(tmp_path / "s.json"))
    assert (t.policy, t.chambers, t.seed) == ("shared", ("A", "B"), 3)
    assert all(np.array_equal(s.events[k], t.events[k]) for k in s.events)

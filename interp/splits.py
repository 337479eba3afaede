"""Train/validation/test splits grouped by event and stratified by class.

Clusters of one event share run conditions (occupancy, gain, noise), so a split that cuts an
event leaks information; every split here is a set of whole events. Events are assigned
greedily (largest first, in a seeded random order) to the split whose signal and noise counts
fall furthest below their targets, which keeps both the split sizes and the class balance
close to the requested fractions (the idea of scikit-learn's ``StratifiedGroupKFold``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from interp.errors import ClusterDataError
from interp.schema import ClusterSet

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.7, 0.15, 0.15)


@dataclasses.dataclass(frozen=True)
class Splits:
    """Event ids per split.

    Attributes:
        events: Split name -> sorted int64 event ids.
        seed: Seed that produced the assignment.
        fractions: Requested (train, val, test) fractions of clusters.
        counts: Split name -> {"clusters", "signal", "noise", "events"} as assigned.
    """

    events: dict[str, np.ndarray]
    seed: int
    fractions: tuple[float, float, float]
    counts: dict[str, dict[str, int]]

    def apply(self, data: ClusterSet, allow_empty: bool = False) -> dict[str, ClusterSet]:
        """Cuts a cluster set into its splits.

        Raises:
            ClusterDataError: If a split with a non-zero fraction holds no clusters.
        """
        out = {}
        for name in SPLIT_NAMES:
            mask = np.isin(data.event_id, self.events[name])
            if not mask.any() and not allow_empty:
                if self.fractions[SPLIT_NAMES.index(name)] == 0:
                    continue
                raise ClusterDataError(
                    data.chamber, "event_id", f"split '{name}' holds no clusters of this data"
                )
            out[name] = data.subset(mask)
        return out

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "fractions": list(self.fractions),
            "events": {k: v.tolist() for k, v in self.events.items()},
            "counts": self.counts,
        }

    def save(self, path: str | Path) -> Path:
        """Writes the splits as JSON (atomically)."""
        from interp.fsutil import atomic_write_text

        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Splits:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            return cls(
                {k: np.asarray(d["events"][k], dtype=np.int64) for k in SPLIT_NAMES},
                int(d["seed"]),
                tuple(d["fractions"]),
                d["counts"],
            )
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ClusterDataError(str(path), None, f"cannot read splits: {exc}") from exc


def splits_path_for(data_path: str | Path) -> Path:
    """Where the splits of a cluster file are saved: ``run.h5`` -> ``run.splits.json``."""
    p = Path(data_path)
    return p.with_name(p.name.split(".")[0] + ".splits.json")


def make_splits(
    data: ClusterSet,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Splits:
    """Assigns whole events to train/val/test, stratified by class.

    Args:
        data: Labelled clusters (only ``event_id`` and ``label`` are used).
        fractions: Target fractions of clusters for (train, val, test); a zero fraction gives
            an empty split. Must sum to 1.
        seed: Seed of the event order; the same seed gives the same splits.

    Returns:
        The :class:`Splits`.

    Raises:
        ClusterDataError: If there are fewer events than non-empty splits.
    """
    return split_events(data.event_id, data.label, fractions, seed, source=data.chamber)


def split_events(
    event_id: np.ndarray,
    label: np.ndarray,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    source: str | None = None,
) -> Splits:
    """:func:`make_splits` on bare columns (for streamed files): int [N] ids and 0/1 labels."""
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or (fr < 0).any() or not np.isclose(fr.sum(), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1: {fractions}")
    events, inverse = np.unique(np.asarray(event_id), return_inverse=True)
    n_active = int((fr > 0).sum())
    if events.size < n_active:
        raise ClusterDataError(
            source,
            "event_id",
            f"{events.size} event(s) cannot fill {n_active} non-empty splits; "
            "simulate more events or set a split fraction to 0",
        )
    # per-event [noise, signal] counts
    ev_counts = np.zeros((events.size, 2), dtype=np.int64)
    np.add.at(ev_counts, (inverse, np.asarray(label).astype(np.int64)), 1)
    target = fr[:, None] * ev_counts.sum(axis=0)[None, :]  # [3 splits, 2 classes]

    rng = np.random.default_rng(seed)
    order = rng.permutation(events.size)
    order = order[np.argsort(-ev_counts[order].sum(axis=1), kind="stable")]
    assigned = np.full(events.size, -1)
    have = np.zeros((3, 2))
    active = np.flatnonzero(fr > 0)
    # seed every non-empty split with one event so none ends up empty
    for split, ev in zip(rng.permutation(active), order[:n_active], strict=True):
        assigned[ev] = split
        have[split] += ev_counts[ev]
    for ev in order[n_active:]:
        cost = [
            ((have[s] + ev_counts[ev] - target[s]) ** 2).sum() - ((have[s] - target[s]) ** 2).sum()
            for s in active
        ]
        best = int(active[int(np.argmin(cost))])
        assigned[ev] = best
        have[best] += ev_counts[ev]

    split_events = {name: np.sort(events[assigned == i]) for i, name in enumerate(SPLIT_NAMES)}
    counts = {
        name: {
            "events": int((assigned == i).sum()),
            "noise": int(have[i, 0]),
            "signal": int(have[i, 1]),
            "clusters": int(have[i].sum()),
        }
        for i, name in enumerate(SPLIT_NAMES)
    }
    return Splits(split_events, int(seed), tuple(float(f) for f in fr), counts)

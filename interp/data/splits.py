"""Train/validation/test splits grouped by event and stratified by class.

Clusters of one event share run conditions (occupancy, gain, noise), so a split that cuts an
event leaks information; every split here is a set of whole events. Events are assigned
greedily (largest first, in a seeded random order) to the split whose signal and noise counts
fall furthest below their targets, which keeps both the split sizes and the class balance
close to the requested fractions (the idea of scikit-learn's ``StratifiedGroupKFold``).

Chambers of one experiment see the same collisions, so their files share event ids. Splits
made per chamber would put a collision in the training split of one chamber and the test
split of another; :func:`split_shared` makes one assignment on the union of the chambers'
events instead (policy ``shared``), and :func:`check_no_leak` verifies any set of splits.
A splits file written by a user is checked against the data it cuts (:meth:`Splits.check`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from interp.core.errors import ClusterDataError
from interp.core.schema import ClusterSet

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.7, 0.15, 0.15)
POLICIES: tuple[str, ...] = ("independent", "shared")
"""``independent``: each chamber split on its own events; ``shared``: one assignment made on
the union of the event ids of chambers whose events overlap."""
_MAX_LISTED = 5


def _listed(ids: np.ndarray) -> str:
    """``"3, 7, 9 (+12 more)"`` for error messages."""
    ids = np.asarray(ids)
    head = ", ".join(str(int(i)) for i in ids[:_MAX_LISTED])
    return head + (f" (+{ids.size - _MAX_LISTED} more)" if ids.size > _MAX_LISTED else "")


@dataclasses.dataclass(frozen=True)
class Splits:
    """Event ids per split.

    Attributes:
        events: Split name -> sorted int64 event ids.
        seed: Seed that produced the assignment.
        fractions: Requested (train, val, test) fractions of clusters.
        counts: Split name -> {"clusters", "signal", "noise", "events"} as assigned.
        policy: ``independent`` or ``shared`` (see :data:`POLICIES`).
        chambers: Chambers whose union of events was split (``shared``), else empty.
    """

    events: dict[str, np.ndarray]
    seed: int
    fractions: tuple[float, float, float]
    counts: dict[str, dict[str, int]]
    policy: str = "independent"
    chambers: tuple[str, ...] = ()

    def check(self, event_id: np.ndarray, source: str | Path | None) -> None:
        """Checks these splits against the events of the data they cut.

        The splits must be disjoint, and every event of the data must lie in exactly one of
        them; a splits file naming events the data do not hold is refused too (it was made
        for other data).

        Args:
            event_id: int [N] event ids of the data.
            source: The splits file (named in the error).

        Raises:
            ClusterDataError: Overlapping splits, events in no split, or unknown events; the
                message names the file and the offending event ids.
        """
        for i, a in enumerate(SPLIT_NAMES):
            for b in SPLIT_NAMES[i + 1 :]:
                both = np.intersect1d(self.events[a], self.events[b])
                if both.size:
                    raise ClusterDataError(
                        source, "events", f"events in both '{a}' and '{b}': {_listed(both)}"
                    )
        data_events = np.unique(np.asarray(event_id))
        listed = np.concatenate([self.events[k] for k in SPLIT_NAMES])
        missing = np.setdiff1d(data_events, listed)
        if missing.size:
            raise ClusterDataError(
                source,
                "events",
                f"{missing.size} event(s) of the data in no split: {_listed(missing)}",
            )
        if self.policy == "independent":
            unknown = np.setdiff1d(listed, data_events)
            if unknown.size:
                raise ClusterDataError(
                    source,
                    "events",
                    f"{unknown.size} event(s) not in the data: "
                    f"{_listed(unknown)} (splits made for another file?)",
                )

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
            "policy": self.policy,
            "chambers": list(self.chambers),
        }

    def save(self, path: str | Path) -> Path:
        """Writes the splits as JSON (atomically)."""
        from interp.core.fsutil import atomic_write_text

        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path, event_id: np.ndarray | None = None) -> Splits:
        """Reads a splits file; with ``event_id``, also :meth:`check` it against that data.

        Raises:
            ClusterDataError: Unreadable file, or (with ``event_id``) splits that do not cut
                the data cleanly, naming the file and the offending events.
        """
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            policy = str(d.get("policy", "independent"))
            if policy not in POLICIES:
                raise KeyError(f"policy {policy!r} (known: {', '.join(POLICIES)})")
            splits = cls(
                {k: np.asarray(d["events"][k], dtype=np.int64).reshape(-1) for k in SPLIT_NAMES},
                int(d["seed"]),
                tuple(float(f) for f in d["fractions"]),
                d["counts"],
                policy,
                tuple(str(c) for c in d.get("chambers", ())),
            )
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ClusterDataError(str(path), None, f"cannot read splits: {exc}") from exc
        if event_id is not None:
            splits.check(event_id, path)
        return splits


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


def overlapping_groups(event_ids: Mapping[str, np.ndarray]) -> list[tuple[str, ...]]:
    """Groups of chambers linked by shared event ids (connected components, >= 2 members).

    Args:
        event_ids: Chamber -> int [N] event ids (repeats allowed).

    Returns:
        Groups in the order of ``event_ids``; chambers sharing no event with any other are
        left out.
    """
    names = list(event_ids)
    uniq = {c: np.unique(np.asarray(e)) for c, e in event_ids.items()}
    parent = {c: c for c in names}

    def root(c: str) -> str:
        while parent[c] != c:
            c = parent[c]
        return c

    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if np.intersect1d(uniq[a], uniq[b]).size:
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for c in names:
        groups.setdefault(root(c), []).append(c)
    return [tuple(g) for g in groups.values() if len(g) > 1]


def split_shared(
    columns: Mapping[str, tuple[np.ndarray, np.ndarray]],
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Splits:
    """One event assignment for several chambers that see the same collisions.

    The union of the chambers' clusters is split as one data set (:func:`split_events`:
    whole events, stratified by class over all chambers, seeded), so an event is in the same
    split in every chamber.

    Args:
        columns: Chamber -> (int [N] event ids, 0/1 [N] labels).
        fractions: Target (train, val, test) fractions of clusters.
        seed: Seed of the event order.

    Returns:
        :class:`Splits` with ``policy="shared"`` and ``chambers`` set; its ``events`` hold the
        union of the chambers' events.
    """
    ev = np.concatenate([np.asarray(e) for e, _ in columns.values()])
    lab = np.concatenate([np.asarray(y) for _, y in columns.values()])
    s = split_events(ev, lab, fractions, seed, source="+".join(columns))
    return dataclasses.replace(s, policy="shared", chambers=tuple(columns))


def check_no_leak(
    splits: Mapping[str, Splits],
    event_ids: Mapping[str, np.ndarray],
    sources: Mapping[str, str | Path] | None = None,
) -> None:
    """Refuses splits that put one event in training for one chamber and val/test for another.

    Args:
        splits: Chamber -> its splits.
        event_ids: Chamber -> int [N] event ids of its data (only events present count).
        sources: Chamber -> splits file (named in the error).

    Raises:
        ClusterDataError: A leaking event, naming both chambers, their splits files and the
            events.
    """
    sources = sources or {}
    present = {c: np.unique(np.asarray(e)) for c, e in event_ids.items()}
    for a in splits:
        train_a = np.intersect1d(splits[a].events["train"], present[a])
        for b in splits:
            if a == b:
                continue
            for name in ("val", "test"):
                held = np.intersect1d(splits[b].events[name], present[b])
                leak = np.intersect1d(train_a, held)
                if leak.size:
                    raise ClusterDataError(
                        f"{sources.get(a, a)} + {sources.get(b, b)}",
                        "events",
                        f"{leak.size} event(s) in the train split of {a} and the {name} split "
                        f"of {b}: {_listed(leak)}; the chambers share events, so their splits "
                        "must agree (delete the splits files to have shared ones made)",
                    )

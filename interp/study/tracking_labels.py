"""Labels from tracking, as in the real data: a cluster is signal when the track finder
attached it.

In the published data the labels come from the reconstruction, not from truth: real charge the
tracking does not attach (short stubs, merged or lost tracks, noise kind (f)) is labelled noise,
and noise that a track picked up is labelled signal. :func:`tracking_labels` makes such labels
for events with geometry; :func:`compare_label_sources` trains one model on each label source
(the same events, the same windows) and scores both against the truth labels of held-out
events; :func:`label_source_study` runs it on simulated events of one chamber.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.schema import NOISE_KINDS, ClusterSet
from interp.data.reconstruction.clusters import FoundClusters, find_clusters
from interp.data.reconstruction.tracks import FoundTracks, TrackFinderConfig, find_tracks
from interp.data.simulator.geometry import EventGeometry, simulate_geometry_event

LABEL_SOURCES: tuple[str, ...] = ("truth", "tracking")
"""Label sources compared: simulator truth and the track finder's attachment."""


def tracking_labels(found: FoundClusters, tracks: FoundTracks) -> np.ndarray:
    """int8 [N]: 1 for clusters attached to a found track, else 0."""
    label = np.zeros(len(found), dtype=np.int8)
    if tracks.clusters:
        label[np.concatenate(tracks.clusters)] = 1
    return label


def relabel(clusters: ClusterSet, label: np.ndarray) -> ClusterSet:
    """The same windows with other labels; truth columns are dropped (they describe truth)."""
    return ClusterSet(clusters.charge, label, clusters.event_id, clusters.chamber, {})


def label_agreement(found: FoundClusters, label: np.ndarray) -> dict[str, Any]:
    """How tracking labels differ from truth.

    Returns:
        ``{"signal_labelled_noise", "noise_labelled_signal", "agreement", "n",
        "labelled_signal": {kind: fraction of the truth kind labelled signal}}`` (kinds of
        :data:`~interp.core.schema.NOISE_KINDS`; ``None`` for a kind with no cluster).
    """
    truth = found.clusters.label == 1
    lab = label == 1
    kind = found.clusters.truth["noise_kind"]
    by_kind = {}
    for code, name in enumerate(NOISE_KINDS):
        sel = kind == code
        by_kind[name] = float(lab[sel].mean()) if sel.any() else None
    return {
        "signal_labelled_noise": float((truth & ~lab).sum() / max(truth.sum(), 1)),
        "noise_labelled_signal": float((~truth & lab).sum() / max((~truth).sum(), 1)),
        "agreement": float((truth == lab).mean()),
        "n": int(truth.size),
        "labelled_signal": by_kind,
    }


def score_against_truth(
    scores: np.ndarray, clusters: ClusterSet, threshold: float = 0.5
) -> dict[str, Any]:
    """A classifier's P(signal) scored against the simulator truth of ``clusters``.

    Args:
        scores: float [N], P(signal); a cluster is kept when ``score >= threshold``.
        clusters: Windows with truth labels and the ``noise_kind`` truth column.

    Returns:
        ``{"balanced_accuracy", "signal_lost", "noise_removed", "n",
        "correct_by_kind": {kind: fraction called right}}``: for ``signal`` the fraction kept,
        for each noise kind the fraction removed (``None`` for a kind with no cluster).
    """
    from interp.evaluation.metrics import confusion_counts

    c = confusion_counts(scores, clusters.label, threshold)
    kept = np.asarray(scores) >= threshold
    kind = clusters.truth["noise_kind"]
    by_kind = {}
    for code, name in enumerate(NOISE_KINDS):
        sel = kind == code
        right = kept[sel] if code == 0 else ~kept[sel]
        by_kind[name] = float(right.mean()) if sel.any() else None
    tnr = c["tn"] / max(c["tn"] + c["fp"], 1)
    tpr = c["tp"] / max(c["tp"] + c["fn"], 1)
    return {
        "balanced_accuracy": 0.5 * (tnr + tpr),
        "signal_lost": 1.0 - tpr,
        "noise_removed": tnr,
        "n": len(clusters),
        "correct_by_kind": by_kind,
    }


def compare_label_sources(
    found: Sequence[FoundClusters],
    labels: Sequence[np.ndarray],
    split: tuple[int, int, int],
    model: str,
    workdir: str | Path,
    profile: str = "smoke",
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Trains ``model`` on tracking labels and on truth labels; scores both against truth.

    Args:
        found: Clusters of ``sum(split)`` events, in order: training, validation, test.
        labels: Tracking labels of each event (int8 [N_e], :func:`tracking_labels`).
        split: Events (train, validation, test); the validation events carry the same label
            source as the training events (as a real-data study would have), the test events
            are scored against truth only.
        model: Registered model name (any model of :mod:`models`).
        workdir: Folder of the two trainings (``<workdir>/<source>``).
        profile: Training profile.
        seed: Training seed (same for both sources).

    Returns:
        ``{"model", "profile", "split", "label_agreement" (training events),
        "truth": {...}, "tracking": {...}}``, each source scored by :func:`score_against_truth`
        on the test events at threshold 0.5, with its ``train_seconds``.

    Raises:
        ValueError: ``split`` not three positive counts, or not matching the events.
    """
    from interp.study.training import train_one

    if len(split) != 3 or min(split) < 1:
        raise ValueError(f"label-source split: need 3 counts >= 1 (train, val, test), got {split}")
    if sum(split) != len(found) or len(labels) != len(found):
        raise ValueError(
            f"label-source split {split} needs {sum(split)} events, "
            f"got {len(found)} with {len(labels)} label arrays"
        )
    n_train, n_val, _ = split
    parts = {
        "train": range(n_train),
        "val": range(n_train, n_train + n_val),
        "test": range(n_train + n_val, len(found)),
    }
    test = ClusterSet.concatenate([found[i].clusters for i in parts["test"]])
    train_truth = [found[i] for i in parts["train"]]
    agree = label_agreement(
        _concat_found(train_truth), np.concatenate([labels[i] for i in parts["train"]])
    )
    out: dict[str, Any] = {
        "model": model,
        "profile": profile,
        "split": list(split),
        "label_agreement": agree,
    }
    for source in LABEL_SOURCES:

        def labelled(idx: range, source: str = source) -> ClusterSet:
            sets = [found[i].clusters for i in idx]
            if source == "tracking":
                sets = [relabel(c, labels[i]) for c, i in zip(sets, idx, strict=True)]
            else:
                sets = [relabel(c, c.label) for c in sets]
            return ClusterSet.concatenate(sets)

        chamber = found[0].clusters.chamber
        clf, info = train_one(
            model,
            chamber,
            labelled(parts["train"]),
            labelled(parts["val"]),
            Path(workdir) / source,
            profile=profile,
            seed=seed,
            progress=progress,
        )
        score = score_against_truth(clf.predict_proba(test.charge), test)
        score["train_seconds"] = info.get("train_seconds")
        out[source] = score
    return out


def label_source_study(
    chamber: str,
    workdir: str | Path,
    model: str,
    split: tuple[int, int, int],
    first_event: int,
    seed: int,
    profile: str = "smoke",
    tracker: TrackFinderConfig | None = None,
    geometry: EventGeometry | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """:func:`compare_label_sources` on ``sum(split)`` simulated events with geometry.

    Events ``first_event, first_event + 1, ...`` of ``seed`` are simulated, their clusters
    found, and tracking labels made by running the track finder on every cluster (no filter,
    as in the real reconstruction); the training seed is ``seed``.
    """
    found, labels = [], []
    for e in range(first_event, first_event + sum(split)):
        f = find_clusters(simulate_geometry_event(chamber, e, seed, geometry=geometry))
        found.append(f)
        labels.append(tracking_labels(f, find_tracks(f, config=tracker)))
    out = compare_label_sources(found, labels, split, model, workdir, profile, seed, progress)
    return {"chamber": chamber, "first_event": first_event, **out}


def _concat_found(parts: Sequence[FoundClusters]) -> FoundClusters:
    """Joins the cluster sets of several events (positions kept per event)."""
    first = parts[0]
    return FoundClusters(
        ClusterSet.concatenate([p.clusters for p in parts]),
        *(np.concatenate([getattr(p, k) for p in parts]) for k in
          ("row", "pad", "time", "track", "x_mm", "y_mm", "z_mm", "charge")),
    ) if len(parts) > 1 else first  # fmt: skip


__all__ = [
    "LABEL_SOURCES",
    "compare_label_sources",
    "label_agreement",
    "label_source_study",
    "relabel",
    "score_against_truth",
    "tracking_labels",
]

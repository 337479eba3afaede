"""Labels from tracking, as in the real data: a cluster is signal when the track finder
attached it.

In the published data the labels come from the reconstruction, not from truth: real charge the
tracking does not attach (short stubs, merged or lost tracks, noise kind (f)) is labelled noise,
and noise that a track picked up is labelled signal. :func:`tracking_labels` makes such labels
for events with geometry; :func:`compare_label_sources` trains one model on each label source
and scores both against the truth labels of held-out events.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.schema import ClusterSet
from interp.data.reconstruction.clusters import FoundClusters, find_clusters
from interp.data.reconstruction.tracks import FoundTracks, TrackFinderConfig, find_tracks
from interp.data.simulator.geometry import simulate_geometry_event


def tracking_labels(found: FoundClusters, tracks: FoundTracks) -> np.ndarray:
    """int8 [N]: 1 for clusters attached to a found track, else 0."""
    label = np.zeros(len(found), dtype=np.int8)
    if tracks.clusters:
        label[np.concatenate(tracks.clusters)] = 1
    return label


def relabel(clusters: ClusterSet, label: np.ndarray) -> ClusterSet:
    """The same windows with other labels; truth columns are dropped (they describe truth)."""
    return ClusterSet(clusters.charge, label, clusters.event_id, clusters.chamber, {})


def label_agreement(found: FoundClusters, label: np.ndarray) -> dict[str, float]:
    """How tracking labels differ from truth: signal labelled noise and noise labelled signal."""
    truth = found.clusters.label == 1
    lab = label == 1
    return {
        "signal_labelled_noise": float((truth & ~lab).sum() / max(truth.sum(), 1)),
        "noise_labelled_signal": float((~truth & lab).sum() / max((~truth).sum(), 1)),
        "agreement": float((truth == lab).mean()),
    }


def compare_label_sources(
    chamber: str,
    workdir: str | Path,
    model: str = "xgboost",
    events: Sequence[int] = (2000, 2001, 2002, 2003),
    seed: int = 16,
    profile: str = "smoke",
    tracker: TrackFinderConfig | None = None,
) -> dict[str, Any]:
    """Trains ``model`` on tracking labels and on truth labels; scores both against truth.

    The first events train, the second-to-last validates, the last tests.

    Returns:
        ``{"chamber", "model", "label_agreement" (train events), "truth": {...},
        "tracking": {...}}``, each with ``accuracy``, ``signal_lost`` and ``noise_removed``
        against the truth labels of the test event at threshold 0.5.
    """
    from interp.study.training import train_one

    if len(events) < 3:
        raise ValueError(f"need >= 3 events (train, val, test), got {len(events)}")
    found, trk = [], []
    for e in events:
        f = find_clusters(simulate_geometry_event(chamber, e, seed))
        found.append(f)
        trk.append(tracking_labels(f, find_tracks(f, config=tracker)))
    train_idx, val_idx, test_idx = list(range(len(events) - 2)), len(events) - 2, len(events) - 1
    test = found[test_idx].clusters
    agree = label_agreement(
        _concat_found([found[i] for i in train_idx]), np.concatenate([trk[i] for i in train_idx])
    )
    out: dict[str, Any] = {"chamber": chamber, "model": model, "label_agreement": agree}
    for source in ("truth", "tracking"):

        def labelled(i: int, source: str = source) -> ClusterSet:
            c = found[i].clusters
            return relabel(c, c.label if source == "truth" else trk[i])

        train = ClusterSet.concatenate([labelled(i) for i in train_idx])
        clf, _ = train_one(
            model, chamber, train, labelled(val_idx), Path(workdir) / source, profile=profile
        )
        pred = clf.predict_proba(test.charge) >= 0.5
        sig = test.label == 1
        out[source] = {
            "accuracy": float((pred == sig).mean()),
            "signal_lost": float((~pred & sig).sum() / max(sig.sum(), 1)),
            "noise_removed": float((~pred & ~sig).sum() / max((~sig).sum(), 1)),
        }
    return out


def _concat_found(parts: Sequence[FoundClusters]) -> FoundClusters:
    """Joins the cluster sets of several events (positions kept per event)."""
    first = parts[0]
    return FoundClusters(
        ClusterSet.concatenate([p.clusters for p in parts]),
        *(np.concatenate([getattr(p, k) for p in parts]) for k in
          ("row", "pad", "time", "track", "x_mm", "y_mm", "z_mm", "charge")),
    ) if len(parts) > 1 else first  # fmt: skip


__all__ = ["compare_label_sources", "label_agreement", "relabel", "tracking_labels"]

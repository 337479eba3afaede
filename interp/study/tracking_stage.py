"""Physics-impact study: what a classifier threshold does to the tracks.

For each chamber, events with geometry (:mod:`interp.data.simulator.geometry`) are simulated, their
clusters found (:mod:`interp.data.reconstruction.clusters`) and scored by every classifier trained
on that
chamber in a matrix stage folder. For each threshold on P(signal), the kept clusters are
tracked (:mod:`interp.data.reconstruction.tracks`) and the tracking is compared with the unfiltered
event: fraction of clusters removed, tracking efficiency (findable truth tracks found and
matched), fake and clone rates, momentum resolution (VTPC-2 only: MTPC-L has no field) and
track-finder CPU seconds per event. The proposed threshold is the highest one that keeps
>= ``keep_efficiency`` (99 %) of the unfiltered tracking efficiency; the lost-signal fraction
at that threshold is given against p_T, particle type and dE/dx.

Labels from tracking (:mod:`interp.study.tracking_labels`): per chamber, one model
(``TrackingConfig.label_model``) is trained on the tracking labels and on the truth labels of
the same events with geometry and both are scored against truth on held-out events.

Output: ``tracking.json`` (see :func:`run_tracking_study`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.fsutil import atomic_write_text
from interp.data.reconstruction.clusters import FoundClusters, find_clusters
from interp.data.reconstruction.tracks import (
    TrackFinderConfig,
    find_tracks,
    findable_tracks,
    match_tracks,
)
from interp.data.simulator.geometry import PARTICLES, simulate_geometry_event
from interp.study.tracking_labels import label_source_study

RESULT_FILE = "tracking.json"
PT_EDGES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4, 0.8, 1.6, 100.0)
DEDX_EDGES: tuple[float, ...] = (0.0, 1.1, 1.3, 1.6, 2.5, 100.0)


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    """What the tracking study runs.

    Attributes:
        n_events: Events with geometry per chamber.
        seed: Event seed (the generator of event ``e`` is ``[seed, e, 16]``).
        first_event: First event number (away from the matrix's window events).
        thresholds: Thresholds on P(signal); a cluster is kept when its score >= threshold.
        keep_efficiency: Fraction of the unfiltered efficiency a proposed threshold keeps.
        label_model: Model (any registered name) trained on tracking labels and on truth
            labels for the label-source comparison; ``None`` skips it.
        label_split: Events (train, validation, test) of the label-source comparison.
        label_first_event: Its first event number (apart from the tracking events).
        label_profile: Its training profile.
    """

    n_events: int = 5
    seed: int = 16
    first_event: int = 1000
    thresholds: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
    """Default grid (the full profile adds 0.0005-0.01: some models' scores of real tracks
    sit far below 0.02, so keeping 99 % of the efficiency needs very low thresholds)."""
    keep_efficiency: float = 0.99
    label_model: str | None = "mlp"
    label_split: tuple[int, int, int] = (4, 1, 3)
    label_first_event: int = 2000
    label_profile: str = "full"

    @classmethod
    def profile(cls, name: str) -> TrackingConfig:
        """``smoke`` (1 event, 4 thresholds), ``quick`` (3 events, 12 thresholds) or ``full``
        (20 events, 12 thresholds)."""
        if name == "smoke":
            return cls(
                n_events=1,
                thresholds=(0.02, 0.1, 0.3, 0.6),
                label_split=(1, 1, 1),
                label_profile="smoke",
            )
        if name == "quick":
            return cls(
                n_events=3,
                thresholds=(
                    *(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01),
                    *(0.02, 0.05, 0.1, 0.2, 0.35, 0.5),
                ),
                label_split=(2, 1, 2),
                label_profile="quick",
            )
        return cls(n_events=20, thresholds=(0.0005, 0.001, 0.005, 0.01, *cls.thresholds))


@dataclasses.dataclass
class _Event:
    found: FoundClusters
    findable: np.ndarray
    pt: np.ndarray  # per cluster, NaN without a track
    particle: np.ndarray  # per cluster, -1 without a track
    p_xz_truth: np.ndarray  # per truth track


def _prepare(chamber: str, cfg: TrackingConfig, tf: TrackFinderConfig) -> list[_Event]:
    out = []
    for e in range(cfg.first_event, cfg.first_event + cfg.n_events):
        ev = simulate_geometry_event(chamber, e, cfg.seed)
        fc = find_clusters(ev)
        has = fc.track >= 0
        pt = np.full(len(fc), np.nan)
        pt[has] = ev.tracks.pt[fc.track[has]]
        particle = np.full(len(fc), -1, dtype=np.int64)
        particle[has] = ev.tracks.particle[fc.track[has]]
        out.append(_Event(fc, findable_tracks(fc, tf.min_hits), pt, particle, ev.tracks.p_xz))
    return out


def _tracking(
    events: Sequence[_Event], keeps: Sequence[np.ndarray | None], tf: TrackFinderConfig
) -> dict[str, Any]:
    """Tracking metrics summed over events for one filter."""
    n_find = n_eff = n_found = n_fake = n_clone = n_matched = 0
    removed = total = 0
    cpu = 0.0
    dp = []
    for ev, keep in zip(events, keeps, strict=True):
        tr = find_tracks(ev.found, keep, tf)
        m = match_tracks(ev.found, tr, ev.findable, tf.match_fraction)
        n_find += m["n_findable"]
        n_eff += m["n_matched_findable"]
        n_found += m["n_found"]
        n_fake += m["n_fake"]
        n_clone += m["n_clone"]
        n_matched += int((m["truth"] >= 0).sum())
        cpu += tr.seconds
        total += len(ev.found)
        removed += 0 if keep is None else int((~keep).sum())
        ok = (m["truth"] >= 0) & np.isfinite(tr.p_xz)
        if ok.any():
            p_true = ev.p_xz_truth[m["truth"][ok]]
            dp.append((tr.p_xz[ok] - p_true) / p_true)
    dp_all = np.concatenate(dp) if dp else np.zeros(0)
    res = None
    if dp_all.size >= 5:
        res = float(1.4826 * np.median(np.abs(dp_all - np.median(dp_all))))
    return {
        "removed": removed / max(total, 1),
        "efficiency": n_eff / n_find if n_find else None,
        "fake_rate": n_fake / n_found if n_found else 0.0,
        "clone_rate": n_clone / max(n_matched, 1),
        "momentum_resolution": res,
        "cpu_seconds_per_event": cpu / len(events),
        "n_findable": n_find,
        "n_found": n_found,
    }


def _binned_loss(
    lost: np.ndarray, signal: np.ndarray, values: np.ndarray, edges: Sequence[float]
) -> list[dict[str, Any]]:
    out = []
    for lo, hi in itertools.pairwise(edges):
        sel = signal & (values >= lo) & (values < hi)
        n = int(sel.sum())
        out.append({"lo": lo, "hi": hi, "n": n, "lost": float(lost[sel].mean()) if n else None})
    return out


def lost_signal(events: Sequence[_Event], keeps: Sequence[np.ndarray]) -> dict[str, Any]:
    """Fraction of signal clusters a filter removes, overall and against p_T, particle, dE/dx."""
    sig = np.concatenate([e.found.clusters.label == 1 for e in events])
    lost = ~np.concatenate(list(keeps))
    pt = np.concatenate([e.pt for e in events])
    particle = np.concatenate([e.particle for e in events])
    dedx = np.concatenate([e.found.clusters.truth["dedx_scale"] for e in events])
    by_particle = {}
    for code, name in enumerate(PARTICLES):
        sel = sig & (particle == code)
        by_particle[name] = {
            "n": int(sel.sum()),
            "lost": float(lost[sel].mean()) if sel.any() else None,
        }
    return {
        "overall": float(lost[sig].mean()) if sig.any() else None,
        "pt": _binned_loss(lost, sig, pt, PT_EDGES),
        "particle": by_particle,
        "dedx": _binned_loss(lost, sig, dedx, DEDX_EDGES),
    }


def propose_threshold(
    curve: Sequence[Mapping[str, Any]], baseline_efficiency: float, keep: float
) -> dict[str, Any] | None:
    """The highest-removal point of ``curve`` with efficiency >= ``keep`` x the baseline."""
    ok = [
        c
        for c in curve
        if c["efficiency"] is not None and c["efficiency"] >= keep * baseline_efficiency
    ]
    if not ok:
        return None
    best = max(ok, key=lambda c: (c["removed"], -c["threshold"]))
    return {"threshold": best["threshold"], "removed": best["removed"], **best}


def run_tracking_study(
    classifiers: Mapping[str, Mapping[str, Callable[[np.ndarray], np.ndarray]]],
    out_dir: str | Path,
    config: TrackingConfig | None = None,
    tracker: TrackFinderConfig | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Runs the study and writes ``out_dir/tracking.json``.

    Args:
        classifiers: chamber -> model name -> ``predict_proba`` (float32 [N, P, T] ->
            P(signal) [N]); each model is applied in the chamber it was trained on.
        out_dir: Output folder (created).

    Returns:
        ``{"config", "tracker", "chambers": {chamber: {"n_clusters_per_event", "baseline",
        "truth_filter", "models": {model: {"curve": [...], "proposed", "lost_signal",
        "inference_seconds_per_event"}}, "label_sources"}}, "seconds"}``; ``label_sources``
        (absent when ``config.label_model`` is ``None``) is
        :func:`~interp.study.tracking_labels.label_source_study`'s result, trained in
        ``out_dir/labels/<chamber>``.
    """
    from tqdm.auto import tqdm

    cfg = config or TrackingConfig()
    tf = tracker or TrackFinderConfig()
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "config": dataclasses.asdict(cfg),
        "tracker": dataclasses.asdict(tf),
        "chambers": {},
    }
    for chamber, models in classifiers.items():
        events = _prepare(chamber, cfg, tf)
        base = _tracking(events, [None] * len(events), tf)
        truth = _tracking(events, [e.found.clusters.label == 1 for e in events], tf)
        kinds = np.concatenate([e.found.clusters.truth["noise_kind"] for e in events])
        entry: dict[str, Any] = {
            "n_events": len(events),
            "n_clusters_per_event": float(np.mean([len(e.found) for e in events])),
            "signal_fraction": float((kinds == 0).mean()),
            "noise_kinds": np.bincount(kinds, minlength=7).tolist(),
            "baseline": base,
            "truth_filter": truth,
            "models": {},
        }
        jobs = tqdm(models.items(), desc=f"tracking {chamber}", disable=None if progress else True)
        for model, predict in jobs:
            t1 = time.perf_counter()
            scores = [np.asarray(predict(e.found.clusters.charge)) for e in events]
            infer = (time.perf_counter() - t1) / len(events)
            curve = []
            for thr in cfg.thresholds:
                keeps = [s >= thr for s in scores]
                point = _tracking(events, keeps, tf)
                point["threshold"] = float(thr)
                point["lost_signal"] = lost_signal(events, keeps)["overall"]
                curve.append(point)
            proposed = None
            if base["efficiency"] is not None:
                proposed = propose_threshold(curve, base["efficiency"], cfg.keep_efficiency)
            at = proposed["threshold"] if proposed else 0.5
            loss = lost_signal(events, [s >= at for s in scores])
            loss["threshold"] = at
            entry["models"][model] = {
                "curve": curve,
                "proposed": proposed,
                "lost_signal": loss,
                "inference_seconds_per_event": infer,
            }
        if cfg.label_model is not None:
            entry["label_sources"] = label_source_study(
                chamber,
                out_dir / "labels" / chamber,
                cfg.label_model,
                cfg.label_split,
                cfg.label_first_event,
                cfg.seed,
                profile=cfg.label_profile,
                tracker=tf,
                progress=progress,
            )
        result["chambers"][chamber] = entry
        result["seconds"] = time.perf_counter() - t0
        atomic_write_text(out_dir / RESULT_FILE, json.dumps(result, indent=1))
    result["seconds"] = time.perf_counter() - t0
    atomic_write_text(out_dir / RESULT_FILE, json.dumps(result, indent=1))
    return result


def matrix_classifiers(
    matrix_folder: str | Path,
) -> dict[str, dict[str, Callable[[np.ndarray], np.ndarray]]]:
    """chamber -> model -> ``predict_proba`` of the classifiers a matrix stage trained."""
    from interp.backends.classifier import load_classifier

    folder = Path(matrix_folder)
    matrix = json.loads((folder / "matrix.json").read_text())
    out: dict[str, dict[str, Callable[[np.ndarray], np.ndarray]]] = {}
    for cell in matrix["cells"]:
        clf = load_classifier(folder / cell["run_dir"])
        out.setdefault(cell["train_chamber"], {})[cell["model"]] = clf.predict_proba
    return out


def run_tracking_stage(
    matrix_folder: str | Path, out_dir: str | Path, profile: str, progress: bool = False
) -> dict[str, Any]:
    """The ``tracking`` stage: :func:`run_tracking_study` on a matrix stage's classifiers."""
    return run_tracking_study(
        matrix_classifiers(matrix_folder),
        out_dir,
        TrackingConfig.profile(profile),
        progress=progress,
    )


__all__ = [
    "RESULT_FILE",
    "TrackingConfig",
    "lost_signal",
    "matrix_classifiers",
    "propose_threshold",
    "run_tracking_stage",
    "run_tracking_study",
]

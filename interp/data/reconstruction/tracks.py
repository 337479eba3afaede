"""Track finder (triplet seeds + road following with a helix/line fit) and truth matching.

Algorithm (a local tracking in the spirit of NA49/NA61's pad-row trackers):

1. Seeds, from the last pad row towards the first: every unused cluster ``a`` in row ``r``
   is paired with unused clusters ``b`` in row ``r - 1`` within ``seed_tan_x`` x
   ``seed_tan_y`` times the row pitch; the pair is extended to a triplet by the unused
   cluster of row ``r - 2`` nearest to the straight-line prediction ``2 b - a`` (within the road).
2. Road following towards row 0: the position in the next row is predicted from a fit to the
   last ``fit_hits`` clusters (parabola in x(z), the small-angle helix; line in y(z)); the
   nearest unused cluster within ``road_x_mm`` x ``road_y_mm`` is attached. Up to
   ``max_gap`` rows without a cluster are allowed.
3. A candidate with at least ``min_hits`` clusters becomes a track; its clusters are marked
   used. The track fit gives the curvature kappa = 2 c / (1 + b^2)^(3/2) of
   x = a + b z + c z^2 and p_xz = 0.3 B / |kappa| (GeV/c, T, m).

Matching: a track is matched to the truth track that owns >= ``match_fraction`` (70 %) of its
clusters, else it is a fake; a truth track is findable when the unfiltered event holds at least
``min_hits`` clusters of it; second and later tracks matched to one truth track are clones.
"""

from __future__ import annotations

import dataclasses
import time as _time
from bisect import bisect_left

import numpy as np

from interp.data.chambers import get_chamber
from interp.data.reconstruction.clusters import FoundClusters


@dataclasses.dataclass(frozen=True)
class TrackFinderConfig:
    """Track-finder parameters (mm unless named otherwise)."""

    seed_tan_x: float = 0.5
    seed_tan_y: float = 0.8
    road_x_mm: float = 6.0
    road_y_mm: float = 7.0
    max_gap: int = 3
    fit_hits: int = 10
    min_hits: int = 10
    match_fraction: float = 0.7


@dataclasses.dataclass
class FoundTracks:
    """Tracks found in one event.

    Attributes:
        clusters: list of int64 arrays, cluster indices of each track (into the event's
            :class:`FoundClusters`), ordered from the last row to the first.
        p_xz: float64 [K], fitted momentum in the bending plane (GeV/c; NaN without field).
        seconds: CPU seconds of the track finding.
    """

    clusters: list[np.ndarray]
    p_xz: np.ndarray
    seconds: float


def _fit_momentum(z: np.ndarray, x: np.ndarray, b_field_t: float) -> float:
    if b_field_t <= 0 or z.size < 5:
        return float("nan")
    zc = (z - z.mean()) * 1e-3
    c, b, _ = np.polyfit(zc, (x - x.mean()) * 1e-3, 2)
    kappa = 2 * c / (1 + b * b) ** 1.5
    return float(0.3 * b_field_t / max(abs(kappa), 1e-9))


def _predict(dz: list[float], vals: list[float], quadratic: bool) -> float:
    """Value at ``dz = 0`` of the least-squares line (or parabola) through (dz, vals).

    The closed form of ``np.polyval(np.polyfit(dz, vals, deg), 0)`` (normal equations by
    Cramer's rule) in plain floats: the road follower calls it once per row and coordinate,
    where NumPy's per-call overhead on 10 points dominated the track finder's time. The
    ``dz`` are distinct rows, so the systems are regular.
    """
    s0 = float(len(dz))
    s1 = s2 = t0 = t1 = 0.0
    s3 = s4 = t2 = 0.0
    for d, v in zip(dz, vals, strict=True):
        d2 = d * d
        s1 += d
        s2 += d2
        t0 += v
        t1 += v * d
        if quadratic:
            s3 += d2 * d
            s4 += d2 * d2
            t2 += v * d2
    if not quadratic:
        return (s2 * t0 - s1 * t1) / (s0 * s2 - s1 * s1)
    det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s2 * s3) + s2 * (s1 * s3 - s2 * s2)
    num = t0 * (s2 * s4 - s3 * s3) - s1 * (t1 * s4 - s3 * t2) + s2 * (t1 * s3 - s2 * t2)
    return num / det


def find_tracks(
    found: FoundClusters,
    keep: np.ndarray | None = None,
    config: TrackFinderConfig | None = None,
) -> FoundTracks:
    """Runs the track finder on the clusters of one event.

    Args:
        found: Clusters of the event.
        keep: bool [N], clusters the filter keeps (default all).
        config: Parameters.
    """
    cfg = config or TrackFinderConfig()
    t0 = _time.process_time()
    preset = get_chamber(found.clusters.chamber)
    n = len(found)
    # one byte per cluster, seen both as a NumPy array (seed pairing) and as a bytearray
    # (the road follower's scalar look-ups, ~10x faster than NumPy element access)
    used_bytes = bytearray(n)
    used = np.frombuffer(used_bytes, dtype=bool)
    if keep is not None:
        used[:] = ~np.asarray(keep, dtype=bool)
    x, y, row = found.x_mm, found.y_mm, found.row
    n_rows = int(row.max(initial=-1)) + 1
    pitch = preset.pad_length_mm
    # per-row cluster indices sorted by x (NumPy for the seeds, lists for the road)
    order = np.lexsort((x, row))
    starts = np.searchsorted(row[order], np.arange(n_rows + 1))
    rows = [order[starts[r] : starts[r + 1]] for r in range(n_rows)]
    xs = [x[idx] for idx in rows]
    rows_l = [idx.tolist() for idx in rows]
    xs_l = [v.tolist() for v in xs]
    ys_l = [y[idx].tolist() for idx in rows]
    x_l, y_l = x.tolist(), y.tolist()
    seed_dx, seed_dy = cfg.seed_tan_x * pitch, cfg.seed_tan_y * pitch

    def nearest(r: int, px: float, py: float, tx: float, ty: float) -> int:
        """Unused cluster of row ``r`` nearest to (px, py) in the road, or -1."""
        xr, yr, idx = xs_l[r], ys_l[r], rows_l[r]
        best, pick = float("inf"), -1
        for k in range(bisect_left(xr, px - tx), bisect_left(xr, px + tx)):
            c = idx[k]
            dy = yr[k] - py
            if used_bytes[c] or abs(dy) > ty:
                continue
            dx = (xr[k] - px) / tx
            d = dx * dx + (dy / ty) ** 2
            if d < best:
                best, pick = d, c
        return pick

    tracks: list[np.ndarray] = []
    momenta: list[float] = []
    for r in range(n_rows - 1, 1, -1):
        a_all = rows[r][~used[rows[r]]]
        if a_all.size == 0 or rows[r - 1].size == 0:
            continue
        # vectorised pairing a (row r) x b (row r - 1)
        lo = np.searchsorted(xs[r - 1], x[a_all] - seed_dx)
        hi = np.searchsorted(xs[r - 1], x[a_all] + seed_dx)
        cnt = hi - lo
        a_rep = np.repeat(a_all, cnt)
        b_pos = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
        b_rep = rows[r - 1][b_pos]
        ok = (np.abs(y[b_rep] - y[a_rep]) < seed_dy) & ~used[b_rep]
        a_rep, b_rep = a_rep[ok], b_rep[ok]
        # best pairs first: smallest angle
        pri = np.argsort(np.abs(x[b_rep] - x[a_rep]) + np.abs(y[b_rep] - y[a_rep]))
        for a, b in zip(a_rep[pri].tolist(), b_rep[pri].tolist(), strict=True):
            if used_bytes[a] or used_bytes[b]:
                continue
            c = nearest(
                r - 2, 2 * x_l[b] - x_l[a], 2 * y_l[b] - y_l[a], cfg.road_x_mm, cfg.road_y_mm
            )
            if c < 0:
                continue
            members = [a, b, c]
            zs = [r, r - 1, r - 2]
            mx = [x_l[a], x_l[b], x_l[c]]
            my = [y_l[a], y_l[b], y_l[c]]
            gap = 0
            for rr in range(r - 3, -1, -1):
                k = min(len(members), cfg.fit_hits)
                dz = [float(z - rr) for z in zs[-k:]]
                px = _predict(dz, mx[-k:], quadratic=k >= 5)
                py = _predict(dz, my[-k:], quadratic=False)
                widen = 1.0 + 0.5 * gap
                j = nearest(rr, px, py, cfg.road_x_mm * widen, cfg.road_y_mm * widen)
                if j < 0:
                    gap += 1
                    if gap > cfg.max_gap:
                        break
                    continue
                gap = 0
                members.append(j)
                zs.append(rr)
                mx.append(x_l[j])
                my.append(y_l[j])
                used_bytes[j] = 1  # provisional; released if the candidate is rejected
            mem = np.asarray(members, dtype=np.int64)
            if mem.size >= cfg.min_hits:
                used[mem] = True
                tracks.append(mem)
                momenta.append(_fit_momentum(np.asarray(zs) * pitch, x[mem], preset.b_field_t))
            else:
                used[mem[3:]] = False
    return FoundTracks(tracks, np.asarray(momenta, dtype=np.float64), _time.process_time() - t0)


def findable_tracks(found: FoundClusters, min_hits: int = 10) -> np.ndarray:
    """Truth track indices with at least ``min_hits`` signal clusters. int64 [F]."""
    ids, counts = np.unique(found.track[found.track >= 0], return_counts=True)
    return ids[counts >= min_hits]


def match_tracks(
    found: FoundClusters, tracks: FoundTracks, findable: np.ndarray, match_fraction: float = 0.7
) -> dict[str, object]:
    """Matches found tracks to truth tracks.

    Returns:
        ``{"n_findable", "n_found", "n_matched_findable", "n_fake", "n_clone",
        "efficiency", "fake_rate", "clone_rate", "truth": int64 [K] (matched truth track or
        -1), "found_truth": bool [F] (findable track found)}``.
    """
    truth = np.full(len(tracks.clusters), -1, dtype=np.int64)
    for i, mem in enumerate(tracks.clusters):
        ids = found.track[mem]
        ids = ids[ids >= 0]
        if ids.size == 0:
            continue
        vals, counts = np.unique(ids, return_counts=True)
        k = int(np.argmax(counts))
        if counts[k] >= match_fraction * mem.size:
            truth[i] = vals[k]
    matched = truth[truth >= 0]
    found_truth = np.isin(findable, matched)
    uniq = np.unique(matched)
    n_found = len(tracks.clusters)
    n_fake = int((truth < 0).sum())
    n_clone = int(matched.size - uniq.size)
    return {
        "n_findable": int(findable.size),
        "n_found": n_found,
        "n_matched_findable": int(found_truth.sum()),
        "n_fake": n_fake,
        "n_clone": n_clone,
        "efficiency": float(found_truth.mean()) if findable.size else float("nan"),
        "fake_rate": n_fake / n_found if n_found else 0.0,
        "clone_rate": n_clone / max(matched.size, 1),
        "truth": truth,
        "found_truth": found_truth,
    }


__all__ = [
    "FoundTracks",
    "TrackFinderConfig",
    "find_tracks",
    "findable_tracks",
    "match_tracks",
]

"""Cluster finder: local maxima over a threshold per pad row, windows centred on the maximum."""

from __future__ import annotations

import dataclasses

import numpy as np

from interp.core.schema import ClusterSet
from interp.data.chambers import get_chamber
from interp.data.simulator.geometry import L_TRACK, LAYER_KIND, GeometryEvent

PEAK_ABOVE_ZS: float = 2.0
"""Default cluster-finder threshold on the maximum: zero-suppression threshold + this (ADC)."""


@dataclasses.dataclass
class FoundClusters:
    """Clusters found in one event, with their positions and truth.

    Attributes:
        clusters: Schema windows (``ClusterSet``: charge float32 [N, P, T], label, event_id,
            truth ``noise_kind``, ``drift_length``, ``crossing_angle``, ``dip_angle``,
            ``dedx_scale``, ``overlap``, ``dead_pads``).
        row, pad, time: int64 [N], position of the maximum.
        track: int64 [N], truth track index (``-1``: no track-like source dominates).
        x_mm, y_mm, z_mm: float64 [N], charge-weighted 3x3 centroid in the chamber frame.
        charge: float64 [N], 3x3 summed charge (ADC).
    """

    clusters: ClusterSet
    row: np.ndarray
    pad: np.ndarray
    time: np.ndarray
    track: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    z_mm: np.ndarray
    charge: np.ndarray

    def __len__(self) -> int:
        return int(self.row.size)


def local_maxima(adc: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels >= ``threshold`` that are maxima of their 3x3 neighbourhood in a pad row.

    Ties (plateaus) are broken towards the lowest (pad, time): a pixel must be strictly larger
    than its neighbours before it in scan order and >= those after.

    Args:
        adc: float32 [R, P, T], digitised charge.

    Returns:
        (row, pad, time), int64 [N] each, in (row, pad, time) order.
    """
    r, p, t = adc.shape
    padded = np.full((r, p + 2, t + 2), -np.inf, dtype=np.float32)
    padded[:, 1:-1, 1:-1] = adc
    core = padded[:, 1:-1, 1:-1]
    ok = core >= threshold
    for dp in (-1, 0, 1):
        for dt in (-1, 0, 1):
            if dp == 0 and dt == 0:
                continue
            nb = padded[:, 1 + dp : 1 + dp + p, 1 + dt : 1 + dt + t]
            before = dp < 0 or (dp == 0 and dt < 0)
            ok &= core > nb if before else core >= nb
    return np.nonzero(ok)


def cut_windows(
    adc: np.ndarray, row: np.ndarray, pad: np.ndarray, time: np.ndarray, window: tuple[int, int]
) -> np.ndarray:
    """Windows of ``window`` (pads, time bins) centred on (pad, time), zero outside the row.

    The centre is at index ``(P // 2, T // 2)``, as in the window simulator.

    Returns:
        float32 [N, P, T].
    """
    wp, wt = window
    r, p, t = adc.shape
    padded = np.zeros((r, p + wp, t + wt), dtype=np.float32)
    padded[:, wp // 2 : wp // 2 + p, wt // 2 : wt // 2 + t] = adc
    views = np.lib.stride_tricks.sliding_window_view(padded, window, axis=(1, 2))
    return np.ascontiguousarray(views[row, pad, time])


def find_clusters(event: GeometryEvent, threshold: float | None = None) -> FoundClusters:
    """Finds the clusters of an event and gives each its truth.

    Truth: the source layer with the largest noise-free charge at the maximum decides the
    noise kind (none above 1 ADC: (a), an electronic fluctuation); a cluster whose dominant
    layer is the primary-track layer is signal and belongs to the nearest truth hit of that
    row (within 2 pads and 3 time bins; else it is a track tail and its kind is (d)).

    Args:
        threshold: Minimum ADC of the maximum; default the chamber's zero-suppression
            threshold + :data:`PEAK_ABOVE_ZS`.
    """
    preset = get_chamber(event.chamber)
    thr = preset.zs_threshold_adc + PEAK_ABOVE_ZS if threshold is None else threshold
    adc = event.adc
    row, pad, time = local_maxima(adc, thr)
    n = row.size
    charge = cut_windows(adc, row, pad, time, preset.window)

    # 3x3 centroid
    loc = cut_windows(adc, row, pad, time, (3, 3))
    q = loc.sum(axis=(1, 2)).astype(np.float64)
    qs = np.maximum(q, 1e-9)
    cp = pad + (loc.sum(axis=2) @ np.array([-1.0, 0.0, 1.0])) / qs
    ct = time + (loc.sum(axis=1) @ np.array([-1.0, 0.0, 1.0])) / qs

    src = event.sources[:, row, pad, time]  # [7, N]
    layer = src.argmax(axis=0)
    kind = np.asarray(LAYER_KIND, dtype=np.int8)[layer]
    kind[src.max(axis=0) < 1.0] = 1

    # nearest truth hit of a primary track in the same row
    hits, tracks = event.hits, event.tracks
    track = np.full(n, -1, dtype=np.int64)
    is_trk = np.flatnonzero(kind == 0)
    prim = ~tracks.stub[hits.track]
    order = np.lexsort((hits.pad[prim], hits.row[prim]))
    h_row, h_pad = hits.row[prim][order], hits.pad[prim][order]
    h_time, h_track = hits.time[prim][order], hits.track[prim][order]
    best = np.full(is_trk.size, np.inf)
    lo = np.searchsorted(h_row * 1e4 + h_pad, row[is_trk] * 1e4 + pad[is_trk] - 2.0)
    hi = np.searchsorted(h_row * 1e4 + h_pad, row[is_trk] * 1e4 + pad[is_trk] + 2.0)
    width = hi - lo
    for k in range(int(width.max(initial=0))):
        has = width > k
        j = lo[has] + k
        d = ((h_pad[j] - pad[is_trk][has]) / 2.0) ** 2 + (
            (h_time[j] - time[is_trk][has]) / 3.0
        ) ** 2
        closer = (d < best[has]) & (d <= 1.0)
        idx = np.flatnonzero(has)[closer]
        best[idx] = d[closer]
        track[is_trk[idx]] = h_track[j[closer]]
    kind[is_trk[track[is_trk] < 0]] = 4

    def column(values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan, dtype=np.float32)
        ok = track >= 0
        out[ok] = values
        return out

    hit_of = {}
    # per-track hit in the cluster's row: the hit table is (track, row) unique for primaries
    key = hits.track.astype(np.int64) * 100_000 + hits.row
    sorter = np.argsort(key)
    ok = track >= 0
    pos = sorter[np.searchsorted(key, track[ok] * 100_000 + row[ok], sorter=sorter)]
    hit_of["phi"] = hits.phi_deg[pos]
    hit_of["dip"] = np.rad2deg(np.arctan(hits.tan_dip[pos]))
    overlap = ((src[L_TRACK] > 0.2 * src.sum(axis=0)) & (kind != 0)).astype(
        np.int8
    )  # another track under a non-track maximum
    dead_cols = np.asarray(event.dead, dtype=np.int8)
    dead_win = cut_windows(
        dead_cols[:, :, None].astype(np.float32), row, pad, 0 * time, (preset.window[0], 1)
    )
    truth = {
        "noise_kind": kind,
        "drift_length": column(time[ok] * preset.mm_per_time_bin / 10.0),
        "crossing_angle": column(hit_of["phi"]),
        "dip_angle": column(hit_of["dip"]),
        "dedx_scale": column(tracks.dedx[track[ok]]),
        "overlap": overlap,
        "dead_pads": dead_win.reshape(n, -1).sum(axis=1).astype(np.int8),
    }
    clusters = ClusterSet(
        charge=charge,
        label=(kind == 0).astype(np.int8),
        event_id=np.full(n, event.event_id, dtype=np.int64),
        chamber=event.chamber,
        truth=truth,
    )
    return FoundClusters(
        clusters=clusters,
        row=row,
        pad=pad,
        time=time,
        track=track,
        x_mm=(cp + 0.5) * preset.pad_width_mm,
        y_mm=ct * preset.mm_per_time_bin,
        z_mm=(row + 0.5) * preset.pad_length_mm,
        charge=q,
    )


__all__ = ["FoundClusters", "cut_windows", "find_clusters", "local_maxima"]

"""One simulated event: cluster composition, canvases, cropping, truth columns."""

from __future__ import annotations

import numpy as np

from interp.core.adc import compact_adc
from interp.core.schema import ClusterSet
from interp.data.chambers import ChamberPreset
from interp.data.simulator import noise
from interp.data.simulator.electronics import correlated_noise, digitise
from interp.data.simulator.signal import Segments, deposit_segments

CHUNK: int = 16384
"""Clusters simulated together (bounds memory; results do not depend on the machine)."""

SIGNAL, ELECTRONIC, CROSSTALK, HOT_PAD, FRAGMENT, DELTA, UNRECONSTRUCTED = range(7)

_BLOCK_ORDER: tuple[int, ...] = (
    SIGNAL,
    UNRECONSTRUCTED,
    DELTA,
    FRAGMENT,
    ELECTRONIC,
    CROSSTALK,
    HOT_PAD,
)
"""Kinds in the order of the blocks simulated together (track-like kinds first)."""
_BLOCK_RANK = np.argsort(np.array(_BLOCK_ORDER))


def canvas_shape(preset: ChamberPreset) -> tuple[int, int]:
    """(pads, time bins) of the simulation canvas: window plus margins on both sides."""
    (p, t), (mp, mt) = preset.window, preset.canvas_margin
    return p + 2 * mp, t + 2 * mt


def draw_kinds(rng: np.random.Generator, n: int, preset: ChamberPreset) -> np.ndarray:
    """Noise-kind code per cluster (0 = signal), a fixed noise count in random order.

    Returns:
        int8 [n].
    """
    n_noise = round(n * preset.noise_fraction)
    noise_codes = rng.choice(np.arange(1, 7), size=n_noise, p=preset.noise_weights)
    kinds = np.concatenate([np.zeros(n - n_noise, dtype=np.int64), noise_codes])
    return rng.permutation(kinds).astype(np.int8)


def _dedx(rng: np.random.Generator, n: int, heavy_fraction: float, p: ChamberPreset):
    heavy = rng.random(n) < heavy_fraction
    return np.where(heavy, rng.uniform(*p.dedx_heavy_range, n), rng.uniform(*p.dedx_light_range, n))


MAX_CROSSING_DEG = 89.0
"""Largest |crossing angle| drawn: the path through a pad row grows as 1 / cos(phi)."""


def _line_angle(phi_deg: np.ndarray) -> np.ndarray:
    """Crossing angles as the direction of a line, in [-MAX_CROSSING_DEG, MAX_CROSSING_DEG].

    A track's direction is a line: phi and phi - 180 deg cross the pad row alike, so a draw
    beyond +-90 deg (wide angle spreads, e.g. ``angle_scale`` > 1 for unreconstructed tracks)
    is folded back into (-90, 90] deg instead of giving a negative path length. Only draws
    beyond 90 deg change, and each of those crashed its event before.
    """
    wide = np.abs(phi_deg) > 90.0
    folded = np.where(wide, np.mod(phi_deg + 90.0, 180.0) - 90.0, phi_deg)  # others bit-exact
    return np.clip(folded, -MAX_CROSSING_DEG, MAX_CROSSING_DEG)


def _tracks(
    rng: np.random.Generator,
    cluster: np.ndarray,
    centre: tuple[int, int],
    p: ChamberPreset,
    angle_scale: float = 1.0,
    heavy_fraction: float | None = None,
) -> Segments:
    """Ordinary track segments centred (with sub-bin jitter) on the canvas centre."""
    n = cluster.size
    heavy = p.dedx_heavy_fraction if heavy_fraction is None else heavy_fraction
    return Segments(
        cluster=cluster,
        x0=centre[0] + rng.uniform(-0.5, 0.5, n),
        t0=centre[1] + rng.uniform(-0.5, 0.5, n),
        phi_deg=_line_angle(angle_scale * p.crossing_angle_sigma_deg * rng.standard_normal(n)),
        tan_dip=angle_scale * p.dip_tan_sigma * rng.standard_normal(n),
        drift_cm=rng.uniform(0.0, p.drift_length_cm, n),
        dedx=_dedx(rng, n, heavy, p),
        row_fraction=np.ones(n),
    )


def _overlaps(
    rng: np.random.Generator, cluster: np.ndarray, centre: tuple[int, int], p: ChamberPreset
) -> tuple[Segments, np.ndarray]:
    """Second segments near the centre for a random subset of ``cluster``."""
    has = rng.random(cluster.size) < p.overlap_prob
    seg = _tracks(rng, cluster[has], centre, p)
    mp, mt = p.overlap_max_offset
    seg.x0 += rng.uniform(-mp, mp, seg.x0.size)
    seg.t0 += rng.uniform(-mt, mt, seg.t0.size)
    return seg, has


def _deltas(
    rng: np.random.Generator, cluster: np.ndarray, centre: tuple[int, int], p: ChamberPreset
) -> Segments:
    """(e) Elongated, high-charge segments along pads (large angle) or time (large dip)."""
    seg = _tracks(rng, cluster, centre, p)
    n = cluster.size
    along_pads = rng.random(n) < 0.5
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    seg.phi_deg = np.where(along_pads, sign * rng.uniform(*p.delta_angle_range_deg, n), 0.0)
    seg.tan_dip = np.where(along_pads, 0.0, sign * rng.uniform(*p.delta_dip_tan_range, n))
    seg.dedx = seg.dedx * p.delta_charge_scale
    # only the part of the segment that crosses the canvas is simulated
    canvas = canvas_shape(p)
    length = p.pad_length_mm
    dx = np.abs(length * np.tan(np.deg2rad(seg.phi_deg)) / p.pad_width_mm)
    dt = np.abs(length / np.cos(np.deg2rad(seg.phi_deg)) * seg.tan_dip / p.mm_per_time_bin)
    visible = np.minimum(
        (canvas[0] + 2) / np.maximum(dx, 1e-9), (canvas[1] + 4) / np.maximum(dt, 1e-9)
    )
    seg.row_fraction = np.minimum(1.0, visible)
    return seg


def _unreconstructed(
    rng: np.random.Generator, cluster: np.ndarray, centre: tuple[int, int], p: ChamberPreset
) -> Segments:
    """(f) Real tracks left unattached: softer, larger angles, often a partial row crossing."""
    seg = _tracks(rng, cluster, centre, p, p.unrec_angle_scale, p.unrec_heavy_fraction)
    partial = rng.random(cluster.size) < p.unrec_partial_prob
    seg.row_fraction = np.where(partial, rng.uniform(0.2, 0.7, cluster.size), 1.0)
    return seg


def _fragments(
    rng: np.random.Generator, cluster: np.ndarray, centre: tuple[int, int], p: ChamberPreset
) -> Segments:
    """(d) Parent deposits of large clusters placed at the window edge."""
    seg = _tracks(rng, cluster, centre, p)
    n = cluster.size
    half_p, half_t = p.window[0] // 2, p.window[1] // 2
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    along_pads = rng.random(n) < 0.6
    off_p = sign * rng.uniform(half_p - 1, half_p + 1, n)
    off_t = sign * rng.uniform(half_t - 2, half_t + 1, n)
    seg.x0 += np.where(along_pads, off_p, rng.uniform(-1.5, 1.5, n))
    seg.t0 += np.where(along_pads, rng.uniform(-2.0, 2.0, n), off_t)
    seg.dedx = rng.uniform(*p.fragment_dedx_range, n)
    return seg


def _crop_centres(
    canvas: np.ndarray, kinds: np.ndarray, window: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Canvas position of the maximum, admissible for a window extended by 1 on each side.

    Fragments (d) are centred on their own small maximum at the canvas centre (+-1), not on
    the large parent deposit.

    Returns:
        (pad int64 [N], time int64 [N]).
    """
    n, cp, ct = canvas.shape
    p0, t0 = window[0] // 2 + 1, window[1] // 2 + 1
    p1, t1 = cp - (window[0] + 2) + p0, ct - (window[1] + 2) + t0
    region = canvas[:, p0 : p1 + 1, t0 : t1 + 1]
    flat = region.reshape(n, -1).argmax(axis=1)
    pad, time = np.divmod(flat, region.shape[2])
    pad, time = pad + p0, time + t0
    frag = np.flatnonzero(kinds == FRAGMENT)
    if frag.size:
        local = canvas[frag, cp // 2 - 1 : cp // 2 + 2, ct // 2 - 1 : ct // 2 + 2]
        lp, lt = np.divmod(local.reshape(frag.size, -1).argmax(axis=1), 3)
        pad[frag], time[frag] = cp // 2 - 1 + lp, ct // 2 - 1 + lt
    return pad, time


def _take(
    canvas: np.ndarray, pad: np.ndarray, time: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Windows of ``shape`` (pads, time bins) centred at (pad, time). float32 [N, *shape]."""
    views = np.lib.stride_tricks.sliding_window_view(canvas, shape, axis=(1, 2))
    rows = np.arange(canvas.shape[0])
    return views[rows, pad - shape[0] // 2, time - shape[1] // 2]


def _refine(ext: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """Crops the noisy extended windows [N, P+2, T+2] on their maximum (+-1 of the centre)."""
    n = ext.shape[0]
    cp, ct = window[0] // 2 + 1, window[1] // 2 + 1
    local = ext[:, cp - 1 : cp + 2, ct - 1 : ct + 2].reshape(n, -1)
    # prefer the centre on ties, as a cluster finder scanning outwards would
    local = local + np.float32(1e-3) * (np.arange(9) == 4)
    dp, dt = np.divmod(local.argmax(axis=1), 3)
    return _take(ext, cp - 1 + dp, ct - 1 + dt, window)


def simulate_chunk(
    rng: np.random.Generator, kinds: np.ndarray, preset: ChamberPreset
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Windows and truth columns for clusters of the given noise kinds.

    Args:
        kinds: int8 [n], noise-kind codes (0 = signal).

    Returns:
        (charge [n, P, T] in ADC: uint8 when ``preset.adc_max`` <= 255, uint16 up to 65535
        (:func:`interp.core.adc.compact_adc`), truth columns of ``TRUTH_FIELDS`` each [n]).
    """
    n = kinds.size
    shape = canvas_shape(preset)
    centre = (shape[0] // 2, shape[1] // 2)
    # work in blocks of equal kind: track-like kinds first, then directly drawn noise
    order = np.argsort(_BLOCK_RANK[kinds], kind="stable")
    kinds_sorted = kinds[order]
    counts = np.bincount(kinds_sorted, minlength=7)
    block = {}
    start = 0
    for code in _BLOCK_ORDER:
        block[code] = np.arange(start, start + counts[code])
        start += counts[code]
    main = Segments.concatenate(
        [
            _tracks(rng, block[SIGNAL], centre, preset),
            _unreconstructed(rng, block[UNRECONSTRUCTED], centre, preset),
            _deltas(rng, block[DELTA], centre, preset),
            _fragments(rng, block[FRAGMENT], centre, preset),
        ]
    )
    n_track = main.cluster.size
    overlap_pool = np.concatenate([block[SIGNAL], block[UNRECONSTRUCTED]])
    extra, has_overlap = _overlaps(rng, overlap_pool, centre, preset)

    canvas = np.empty((n, *shape), dtype=np.float32)
    if n_track:
        segs = Segments.concatenate([main, extra])
        canvas[:n_track] = deposit_segments(rng, segs, n_track, shape, preset)
    for code, gen in (
        (ELECTRONIC, noise.electronic),
        (CROSSTALK, noise.crosstalk),
        (HOT_PAD, noise.hot_pad),
    ):
        if block[code].size:
            canvas[block[code][0] : block[code][-1] + 1] = gen(rng, block[code].size, shape, preset)
    if block[FRAGMENT].size:
        frag = slice(block[FRAGMENT][0], block[FRAGMENT][-1] + 1)
        canvas[frag] += noise.fragment_bump(rng, block[FRAGMENT].size, shape, preset)

    pad, time = _crop_centres(canvas, kinds_sorted, preset.window)
    ext_shape = (preset.window[0] + 2, preset.window[1] + 2)
    ext = _take(canvas, pad, time, ext_shape)
    ext += correlated_noise(rng, ext.shape, preset)
    digitise(ext, preset)
    charge = np.empty((n, *preset.window), dtype=np.float32)
    charge[order] = _refine(ext, preset.window)
    dead = noise.apply_dead_pads(rng, charge, preset)

    track_like = order[:n_track]
    overlapped = order[overlap_pool[has_overlap]]
    truth = _truth(n, main, track_like, overlapped, kinds)
    truth["dead_pads"] = dead
    return compact_adc(charge), truth  # the ADC's integers (uint8 for an 8-bit ADC)


def _truth(
    n: int, main: Segments, track_like: np.ndarray, overlapped: np.ndarray, kinds: np.ndarray
) -> dict[str, np.ndarray]:
    """Truth columns; track quantities from each cluster's main segment, NaN elsewhere."""

    def column(values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan, dtype=np.float32)
        out[track_like] = values
        return out

    overlap = np.zeros(n, dtype=np.int8)
    overlap[overlapped] = 1
    return {
        "noise_kind": kinds.astype(np.int8),
        "drift_length": column(main.drift_cm),
        "crossing_angle": column(main.phi_deg),
        "dip_angle": column(np.rad2deg(np.arctan(main.tan_dip))),
        "dedx_scale": column(main.dedx),
        "overlap": overlap,
    }


def simulate_event(
    preset: ChamberPreset, event_id: int, seed: int, n_clusters: int | None = None
) -> ClusterSet:
    """Simulates the clusters of one event.

    Deterministic in (seed, event_id): the generator is ``default_rng([seed, event_id])``.

    Args:
        preset: Chamber parameters.
        event_id: Event number (>= 0), stored in ``event_id``.
        seed: Run seed (>= 0).
        n_clusters: Clusters in the event; default ``preset.clusters_per_event``.

    Returns:
        ClusterSet with charge uint8 [N, P, T] (ADC; uint16 for a wider ADC), labels, event
        ids and all truth fields.
    """
    n = preset.clusters_per_event if n_clusters is None else int(n_clusters)
    if n < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n}")
    if event_id < 0 or seed < 0:
        raise ValueError(f"seed and event_id must be >= 0, got {seed}, {event_id}")
    rng = np.random.default_rng([seed, event_id])
    kinds = draw_kinds(rng, n, preset)
    charges, truths = [], []
    for start in range(0, n, CHUNK):
        charge, truth = simulate_chunk(rng, kinds[start : start + CHUNK], preset)
        charges.append(charge)
        truths.append(truth)
    truth = {k: np.concatenate([t[k] for t in truths]) for k in truths[0]}
    return ClusterSet(
        charge=np.concatenate(charges),
        label=(kinds == SIGNAL).astype(np.int8),
        event_id=np.full(n, event_id, dtype=np.int64),
        chamber=preset.name,
        truth=truth,
    )

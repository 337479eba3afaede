"""Data summaries (of cluster sets and, streamed, of whole files: :func:`inspect_files`, used by
``tpc-interp inspect`` and the data stage), so files of any size fit in memory."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from interp.core.schema import NOISE_KINDS, ClusterSet
from interp.data.features import occupancy, pad_rms, time_rms, total_charge

_CLASS_NAMES = {0: "noise", 1: "signal"}


@dataclasses.dataclass
class _Moments:
    """Running count / sum / sum of squares / max of one quantity."""

    n: int = 0
    s: float = 0.0
    s2: float = 0.0
    mx: float = -np.inf

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size:
            self.n += x.size
            self.s += float(x.sum())
            self.s2 += float((x**2).sum())
            self.mx = max(self.mx, float(x.max()))

    def result(self) -> dict[str, float]:
        if self.n == 0:
            return {"mean": float("nan"), "std": float("nan"), "max": float("nan")}
        mean = self.s / self.n
        return {
            "mean": mean,
            "std": float(np.sqrt(max(self.s2 / self.n - mean**2, 0.0))),
            "max": self.mx,
        }


class SummaryAccumulator:
    """Accumulates counts and charge statistics chunk by chunk.

    Per class (noise/signal): cluster count, peak ADC, total ADC, pad RMS (pads), time RMS
    (time bins), non-zero pixel fraction. Also clusters per event and per chamber, and counts
    per simulator noise kind when the truth column exists.
    """

    _QUANTITIES = ("peak_adc", "total_adc", "pad_rms", "time_rms", "occupancy")

    def __init__(self) -> None:
        self.per_chamber: Counter[str] = Counter()
        self.per_event: Counter[int] = Counter()
        self.per_kind: Counter[str] = Counter()
        self.per_class: Counter[str] = Counter()
        self.moments: dict[str, dict[str, _Moments]] = defaultdict(
            lambda: {q: _Moments() for q in self._QUANTITIES}
        )
        self.windows: set[tuple[int, int]] = set()

    def update(self, cs: ClusterSet) -> None:
        self.windows.add(cs.window_shape)
        self.per_chamber[cs.chamber] += len(cs)
        ev, cnt = np.unique(cs.event_id, return_counts=True)
        for e, c in zip(ev.tolist(), cnt.tolist(), strict=True):
            self.per_event[e] += c
        if "noise_kind" in cs.truth:
            k, c = np.unique(cs.truth["noise_kind"], return_counts=True)
            for kk, cc in zip(k.tolist(), c.tolist(), strict=True):
                self.per_kind[NOISE_KINDS[kk]] += cc
        flat = cs.charge.reshape(len(cs), -1)
        values = {
            "peak_adc": flat.max(axis=1),
            "total_adc": total_charge(cs.charge),
            "pad_rms": pad_rms(cs.charge),
            "time_rms": time_rms(cs.charge),
            "occupancy": occupancy(cs.charge),
        }
        for code, name in _CLASS_NAMES.items():
            mask = cs.label == code
            self.per_class[name] += int(mask.sum())
            for q, v in values.items():
                self.moments[name][q].update(v[mask])

    def result(self) -> dict[str, Any]:
        n = sum(self.per_class.values())
        per_event = np.array(list(self.per_event.values()) or [0])
        return {
            "clusters": n,
            "windows": sorted(self.windows),
            "per_class": dict(self.per_class),
            "noise_fraction": self.per_class["noise"] / n if n else float("nan"),
            "per_chamber": dict(self.per_chamber),
            "events": len(self.per_event),
            "clusters_per_event": {
                "min": int(per_event.min()),
                "median": float(np.median(per_event)),
                "max": int(per_event.max()),
            },
            "per_noise_kind": dict(self.per_kind),
            "charge": {
                cls: {q: m.result() for q, m in qs.items()} for cls, qs in self.moments.items()
            },
        }


def summarise(cs: ClusterSet) -> dict[str, Any]:
    """Summary of one in-memory set (see :class:`SummaryAccumulator`)."""
    acc = SummaryAccumulator()
    acc.update(cs)
    return acc.result()


def format_summary(s: dict[str, Any], title: str = "") -> str:
    """Plain-text rendering of :func:`summarise` output."""
    lines = [title] if title else []
    n = s["clusters"]
    lines.append(
        f"clusters: {n:,}   events: {s['events']:,}   windows (pads x time bins): "
        + ", ".join(f"{p}x{t}" for p, t in s["windows"])
    )
    lines.append(
        "per chamber: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s["per_chamber"].items()))
    )
    lines.append(
        f"per class: noise {s['per_class'].get('noise', 0):,} ({100 * s['noise_fraction']:.1f} %), "
        f"signal {s['per_class'].get('signal', 0):,}"
    )
    cpe = s["clusters_per_event"]
    lines.append(
        f"clusters per event: min {cpe['min']:,}  median {cpe['median']:,.0f}  max {cpe['max']:,}"
    )
    if s["per_noise_kind"]:
        lines.append("per noise kind:")
        for kind in NOISE_KINDS:
            if kind in s["per_noise_kind"]:
                c = s["per_noise_kind"][kind]
                lines.append(f"  {kind:<16s} {c:>10,}  {100 * c / n:5.1f} %")
    lines.append("charge statistics (mean +- std, max):")
    header = f"  {'class':<7s}" + "".join(f"{q:>22s}" for q in SummaryAccumulator._QUANTITIES)
    lines.append(header)
    for cls, qs in s["charge"].items():
        row = f"  {cls:<7s}"
        for q in SummaryAccumulator._QUANTITIES:
            m = qs[q]
            ok = np.isfinite(m["mean"])
            row += f"{m['mean']:>10.2f} +-{m['std']:>7.2f}  " if ok else " " * 22
        lines.append(row)
    lines.append("  units: ADC for peak/total, pads for pad_rms, time bins for time_rms")
    return "\n".join(lines)


def inspect_files(
    files: list[Path], chunk_size: int = 65536, progress: bool = True, **options
) -> dict:
    """Streams files chunk by chunk and returns their combined summary.

    ``options`` are the read options of :func:`interp.data.io.iter_clusters` (``chamber``,
    ``tree``, ``window``); every file is checked before the first is read.
    """
    from interp.data.io import count_clusters, iter_clusters

    acc = SummaryAccumulator()
    total = sum(count_clusters(f, **options) for f in files)
    with tqdm(
        total=total, desc="inspect", unit="cluster", disable=None if progress else True
    ) as bar:
        for f in files:
            for chunk in iter_clusters(f, chunk_size=chunk_size, **options):
                acc.update(chunk)
                bar.update(len(chunk))
    return acc.result()

"""Simulating a chamber event by event into one cluster file, with its event-wise splits.

Used by ``tpc-interp simulate`` and by the data stage of the studies
(:mod:`interp.study.data_stage`).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from interp.data.splits import DEFAULT_FRACTIONS, split_events, splits_path_for


def _file_charge_dtype(adc_max: int, first: np.dtype) -> np.dtype:
    """On-disk charge dtype of a simulated file: every event's charge must cast to it. The
    simulator's windows are integers in [0, adc_max] (uint8 for an 8-bit ADC, uint16 up to
    65535); anything else (a preset whose windows are not whole numbers) stays float32."""
    if first == np.uint8 and adc_max <= 255:
        return np.dtype(np.uint8)
    if first in (np.uint8, np.uint16) and adc_max <= 65535:
        return np.dtype(np.uint16)
    return np.dtype(np.float32)


def simulate_to_file(
    chamber: str,
    events: int,
    seed: int,
    out: Path,
    first_event: int = 0,
    clusters_per_event: int | None = None,
    fractions: tuple[float, float, float] | None = DEFAULT_FRACTIONS,
    split_seed: int = 0,
    progress: bool = True,
) -> dict:
    """Simulates ``events`` events of ``chamber`` event by event into ``out``.

    The file is written under a temporary name and renamed only when complete, so an
    interrupted run leaves nothing under ``out``. Splits (grouped by event) are saved beside
    the file when there are enough events.

    Returns:
        ``{"path", "clusters", "noise_fraction", "seconds", "splits"}``.
    """
    from interp.data.chambers import get_chamber
    from interp.data.io import ClusterWriter
    from interp.data.simulator import iter_events

    preset = get_chamber(chamber)
    t0 = time.perf_counter()
    labels, event_ids = [], []
    stream = iter_events(
        preset, events, seed, first_event=first_event, n_clusters=clusters_per_event
    )
    first = next(stream, None)
    if first is None:
        raise ValueError(f"events must be at least 1, got {events}")
    bar = tqdm(
        total=events,
        desc=f"simulate {preset.name}",
        unit="event",
        disable=None if progress else True,
    )
    with (
        bar,
        ClusterWriter(
            out,
            chamber=first.chamber,
            window=first.window_shape,
            truth_fields=tuple(first.truth),
            charge_dtype=_file_charge_dtype(preset.adc_max, first.charge.dtype),
        ) as writer,
    ):
        for ev in itertools.chain([first], stream):
            writer.write(ev)
            labels.append(ev.label)
            event_ids.append(ev.event_id)
            bar.update(1)
            bar.set_postfix(clusters=sum(len(x) for x in labels))
    label = np.concatenate(labels)
    event_id = np.concatenate(event_ids)
    result = {
        "path": str(out),
        "clusters": int(label.size),
        "noise_fraction": float(np.mean(label == 0)),
        "seconds": time.perf_counter() - t0,
        "splits": None,
    }
    if fractions is not None:
        n_active = sum(f > 0 for f in fractions)
        if np.unique(event_id).size >= n_active:
            splits = split_events(event_id, label, fractions, split_seed, source=str(out))
            result["splits"] = str(splits.save(splits_path_for(out)))
    return result

"""Physics-grounded simulator of labelled NA61/SHINE TPC cluster windows.

Recipe: ``/work/shared/reference/tpc-physics.md``; parameters: :mod:`interp.data.chambers`.
Modules, one job each: :mod:`~interp.data.simulator.ionisation` (primary ionisation, Fischle
cluster sizes), :mod:`~interp.data.simulator.signal` (track segments -> drifted, amplified charge on
pads and time bins), :mod:`~interp.data.simulator.electronics` (pad response, shaping, correlated
noise, digitisation), :mod:`~interp.data.simulator.noise` (noise kinds a-g),
:mod:`~interp.data.simulator.event` (one event: composition, cropping, truth).

How a window is made: every cluster is drawn on a canvas of (P + 10) x (T + 16) pads x time bins
(``canvas_margin``); track segments are ionised (Poisson primaries, Fischle cluster sizes),
diffused, amplified (Polya) and histogrammed on a half-pad x half-bin grid, then the pad response
and the shaper are applied as two matrix products. The window is centred on the noise-free
maximum (restricted to where a window fits on the canvas), correlated noise is added on a window
one pixel larger on each side, the result is digitised (round, zero-suppress, clip at 255) and
re-centred on the noisy maximum within +-1 pixel, as a cluster finder would.

Approximations made for speed (one 28,764-cluster event in ~0.55 s on 2 cores):

- each primary-ionisation cluster diffuses as one macro-charge with the single-electron
  diffusion (same mean profile, larger fluctuations than per-electron smearing);
- segments with more than ``signal.MAX_MACRO_CHARGES`` primaries (deltas, fragments, slow
  protons) use that many macro-charges, each with the summed mean and variance of the primaries
  it stands for;
- noise is simulated on the extended window only, so a higher pixel more than one pixel away
  from the noise-free maximum is not re-centred on: the window maximum is at the centre for
  ~99 % of signal clusters without an overlapping track, ~95 % of electronic-noise clusters
  and ~80-90 % of line-like noise (cross-talk, hot pads, deltas); fragments (d) are by design
  centred on their own small maximum with the large parent deposit at the window edge.

Results do not depend on the machine: the generator is ``default_rng([seed, event_id])`` and
clusters are processed in fixed blocks of ``event.CHUNK``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

from interp.core.schema import ClusterSet
from interp.data.chambers import ChamberPreset, get_chamber
from interp.data.simulator.event import simulate_event as _simulate_event


def simulate_event(
    preset: ChamberPreset | str, event_id: int, seed: int, n_clusters: int | None = None
) -> ClusterSet:
    """Simulates one event (see :func:`interp.data.simulator.event.simulate_event`).

    Args:
        preset: A :class:`ChamberPreset` or a registered chamber name.
        event_id: Event number (>= 0).
        seed: Run seed (>= 0); (seed, event_id) fixes the result.
        n_clusters: Clusters per event; default ``preset.clusters_per_event`` (28,764).

    Returns:
        ClusterSet: charge uint8 [N, P, T] ADC (8-bit), label int8 [N], event_id int64 [N], truth.
    """
    return _simulate_event(get_chamber(preset), event_id, seed, n_clusters)


def iter_events(
    preset: ChamberPreset | str,
    n_events: int,
    seed: int,
    first_event: int = 0,
    n_clusters: int | None = None,
) -> Iterator[ClusterSet]:
    """Yields events ``first_event .. first_event + n_events - 1`` one at a time."""
    chamber = get_chamber(preset)
    for event_id in range(first_event, first_event + n_events):
        yield _simulate_event(chamber, event_id, seed, n_clusters)


PARALLEL_MIN_CLUSTERS = 200_000
"""Below this many clusters in all, :func:`simulate` with ``workers=None`` stays in one process
(starting a worker costs ~1-2 s: the interpreter and numpy are imported afresh)."""


def default_workers(n_events: int, n_clusters: int) -> int:
    """Processes :func:`simulate` uses when not told: one per CPU core (at most 8 and at most
    one per event) for at least :data:`PARALLEL_MIN_CLUSTERS` clusters, else 1."""
    if n_events * n_clusters < PARALLEL_MIN_CLUSTERS:
        return 1
    return max(1, min(os.cpu_count() or 1, 8, n_events))


def simulate(
    preset: ChamberPreset | str,
    n_events: int,
    seed: int,
    first_event: int = 0,
    n_clusters: int | None = None,
    progress: bool = False,
    workers: int | None = None,
) -> ClusterSet:
    """Simulates ``n_events`` events and concatenates them into one ClusterSet.

    The result does not depend on ``workers``: event ``e`` is always drawn from
    ``default_rng([seed, e])`` and the events are concatenated in order.

    Args:
        progress: Show a tqdm progress bar over events.
        workers: Processes simulating blocks of events side by side (the simulator is
            single-threaded numpy: 2 processes on 2 cores take ~half the wall time); ``None``:
            :func:`default_workers`.
    """
    if n_events < 1:
        raise ValueError(f"n_events must be >= 1, got {n_events}")
    chamber = get_chamber(preset)
    per_event = chamber.clusters_per_event if n_clusters is None else int(n_clusters)
    n_workers = default_workers(n_events, per_event) if workers is None else int(workers)
    if n_workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if n_workers == 1:
        events = iter_events(chamber, n_events, seed, first_event, n_clusters)
        if progress:
            from tqdm import tqdm

            events = tqdm(events, total=n_events, desc=f"simulate {chamber.name}", disable=None)
        return ClusterSet.concatenate(list(events))
    return _simulate_parallel(chamber, n_events, seed, first_event, n_clusters, progress, n_workers)


def _simulate_parallel(
    chamber: ChamberPreset,
    n_events: int,
    seed: int,
    first_event: int,
    n_clusters: int | None,
    progress: bool,
    workers: int,
) -> ClusterSet:
    """:func:`simulate` in ``workers`` child processes (:mod:`.worker`), each simulating a
    contiguous block of events; the blocks are concatenated in event order."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from tqdm import tqdm

    from interp.data.simulator import worker

    bounds = [first_event + (n_events * i) // workers for i in range(workers + 1)]
    root = str(Path(__file__).resolve().parents[3])  # the folder holding the interp package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory(prefix="tpc-simulate-") as tmp:
        procs, outs = [], []
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            out = Path(tmp) / f"block{i}"
            spec = Path(tmp) / f"block{i}.json"
            spec.write_text(json.dumps({
                "preset": worker.preset_to_json(chamber), "first_event": lo,
                "n_events": hi - lo, "seed": seed, "n_clusters": n_clusters, "out": str(out),
            }))  # fmt: skip
            cmd = [sys.executable, "-m", "interp.data.simulator.worker", str(spec)]
            procs.append(subprocess.Popen(cmd, env=env))
            outs.append(out)
        desc = f"simulate {chamber.name} ({workers} processes)"
        with tqdm(
            total=workers, desc=desc, unit="block", disable=None if progress else True
        ) as bar:
            for i, proc in enumerate(procs):
                if proc.wait() != 0:
                    for p in procs:
                        p.kill()
                        p.wait()  # no zombies; the temporary folder is then removed whole
                    raise RuntimeError(
                        f"simulating {chamber.name} events {bounds[i]}-{bounds[i + 1] - 1}: "
                        f"worker process exited with code {proc.returncode}"
                    )
                bar.update(1)
        return ClusterSet.concatenate([worker.read_block(o) for o in outs])


__all__ = ["default_workers", "iter_events", "simulate", "simulate_event"]

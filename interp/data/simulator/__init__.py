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
        ClusterSet: charge float32 [N, P, T] ADC, label int8 [N], event_id int64 [N], truth.
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


def simulate(
    preset: ChamberPreset | str,
    n_events: int,
    seed: int,
    first_event: int = 0,
    n_clusters: int | None = None,
    progress: bool = False,
) -> ClusterSet:
    """Simulates ``n_events`` events and concatenates them into one ClusterSet.

    Args:
        progress: Show a tqdm progress bar over events.
    """
    if n_events < 1:
        raise ValueError(f"n_events must be >= 1, got {n_events}")
    events = iter_events(preset, n_events, seed, first_event, n_clusters)
    if progress:
        from tqdm import tqdm

        events = tqdm(
            events, total=n_events, desc=f"simulate {get_chamber(preset).name}", disable=None
        )
    return ClusterSet.concatenate(list(events))


__all__ = ["iter_events", "simulate", "simulate_event"]

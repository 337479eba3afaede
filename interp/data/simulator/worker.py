"""One block of simulated events in a child process (``python -m
interp.data.simulator.worker SPEC.json``), for :func:`interp.data.simulator.simulate` with
``workers > 1``.

The child is a fresh interpreter (no fork of a parent that may hold JAX's threads, and no
re-import of the caller's ``__main__``, so a user's script needs no ``__main__`` guard). It
reads a JSON spec ``{"preset": <ChamberPreset fields>, "first_event", "n_events", "seed",
"n_clusters", "out"}`` and writes each column of the block's :class:`ClusterSet` as
``out/<column>.npy`` (read back with ``allow_pickle=False``), then ``out/done``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.schema import ClusterSet
from interp.data.chambers import ChamberPreset

DONE_FILE = "done"


def preset_to_json(preset: ChamberPreset) -> dict[str, Any]:
    """The preset's fields as JSON (tuples become lists; :func:`preset_from_json` inverts)."""
    return dataclasses.asdict(preset)


def preset_from_json(d: dict[str, Any]) -> ChamberPreset:
    """Inverse of :func:`preset_to_json`."""
    return ChamberPreset(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def write_block(events: ClusterSet, out: Path) -> None:
    """Writes ``events``' columns as ``out/<column>.npy`` and the chamber to ``out/done``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, values in events.columns().items():
        np.save(out / f"{name}.npy", np.ascontiguousarray(values), allow_pickle=False)
    (out / DONE_FILE).write_text(json.dumps({"chamber": events.chamber}))


def read_block(out: Path) -> ClusterSet:
    """The :class:`ClusterSet` :func:`write_block` wrote (``allow_pickle=False``)."""
    chamber = json.loads((out / DONE_FILE).read_text())["chamber"]
    cols = {p.stem: np.load(p, allow_pickle=False) for p in sorted(out.glob("*.npy"))}
    core = ("charge", "label", "event_id")
    truth = {k: v for k, v in cols.items() if k not in core}
    return ClusterSet(cols["charge"], cols["label"], cols["event_id"], chamber, truth)


def main(spec_path: str) -> None:
    from interp.data.simulator.event import simulate_event

    spec = json.loads(Path(spec_path).read_text())
    preset = preset_from_json(spec["preset"])
    first, n = spec["first_event"], spec["n_events"]
    events = [
        simulate_event(preset, e, spec["seed"], spec["n_clusters"]) for e in range(first, first + n)
    ]
    write_block(ClusterSet.concatenate(events), Path(spec["out"]))


if __name__ == "__main__":
    main(sys.argv[1])

"""Simulator throughput: clusters per second and seconds per full event, per chamber preset.

Runs one warm-up event, then times ``--repeats`` full events (default 28,764 clusters each) and
reports the median wall time and the median process CPU time (CPU time counts every thread, so
it exceeds the wall time when BLAS runs multi-threaded). Writes
``benchmarks/results/simulator_throughput.json``.

Usage: ``python benchmarks/simulator_throughput.py [--repeats 5] [--chambers VTPC2 MTPCL]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from interp.data.chambers import get_chamber
from interp.data.simulator import simulate_event
from interp.report.provenance import machine as provenance_machine

RESULTS = Path(__file__).resolve().parent / "results" / "simulator_throughput.json"


def time_event(name: str, event_id: int, seed: int) -> tuple[float, float, int]:
    """(wall s, CPU s, clusters) of one full event."""
    wall, cpu = time.perf_counter(), time.process_time()
    cs = simulate_event(get_chamber(name), event_id, seed)
    return time.perf_counter() - wall, time.process_time() - cpu, len(cs)


def bench(name: str, repeats: int, seed: int) -> dict:
    """Median timing of ``repeats`` events after one warm-up event."""
    time_event(name, 10_000, seed)  # warm-up: caches, allocator, BLAS threads
    runs = [time_event(name, i, seed) for i in range(repeats)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    n = runs[0][2]
    return {
        "chamber": name,
        "clusters_per_event": n,
        "repeats": repeats,
        "s_per_event_median": wall,
        "s_per_event_all": [r[0] for r in runs],
        "cpu_s_per_event_median": cpu,
        "clusters_per_s": n / wall,
    }


def machine() -> dict:
    """Machine description stored with the results (the report's, plus numpy's version)."""
    return {**provenance_machine(), "numpy": np.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chambers", nargs="+", default=["VTPC2", "MTPCL"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error("--repeats must be >= 3")
    results = [bench(c, args.repeats, args.seed) for c in args.chambers]
    print(f"{'chamber':8s} {'clusters':>9s} {'s/event':>8s} {'CPU s':>7s} {'clusters/s':>11s}")
    for r in results:
        print(
            f"{r['chamber']:8s} {r['clusters_per_event']:9d} {r['s_per_event_median']:8.3f} "
            f"{r['cpu_s_per_event_median']:7.3f} {r['clusters_per_s']:11.0f}"
        )
    info = machine()
    load = (info["load_average_1_5_15min"] or [None])[0]
    print(f"cpus {info['cpu_count']} ({info['cpu_model']}), load {load}, numpy {info['numpy']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"machine": info, "results": results}, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

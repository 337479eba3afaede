"""Timing record of the full profile: ``tpc-interp reproduce all --profile full``, end to end.

Runs the README's study at the published event size (or reads a finished run's work
directory) and writes ``benchmarks/results/full_profile.{json,md}``: wall and CPU time, peak
resident memory of the study process, every stage's own wall time, the machine and the
commit (from the report's ``provenance.json``), the within-chamber and cross-chamber
balanced accuracy of every model, and how the validation loss
of every training run of the shared matrix moved epoch by epoch (``full_profile_epochs``
figure: plotly HTML + PNG/PDF).

Usage::

    python benchmarks/full_profile.py --workdir out_full            # run it, then record
    python benchmarks/full_profile.py --workdir out_full --no-run   # record a finished run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interp.core.fsutil import atomic_write_text  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMMAND = ("reproduce", "all", "--profile", "full")


def run_study(workdir: Path, png: bool) -> dict[str, Any]:
    """Runs the full study in a child process; its wall, CPU seconds and peak RSS."""
    cmd = [
        sys.executable,
        "-c",
        "from interp.cli import app; app()",
        *COMMAND,
        "--workdir",
        str(workdir),
    ]
    if not png:
        cmd.append("--no-png")
    print("running:", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, cwd=ROOT)
    wall = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "command": "tpc-interp "
        + " ".join(COMMAND)
        + f" --workdir {workdir}"
        + ("" if png else " --no-png"),
        "returncode": rc,
        "wall_seconds": wall,
        "cpu_seconds": use.ru_utime + use.ru_stime,
        # the largest of the processes waited for (the study process; the simulator's
        # worker processes are smaller), kilobytes on Linux
        "peak_rss_gb": use.ru_maxrss / 1024**2,
    }


def _stage_name(key: str, info: dict[str, Any]) -> str:
    chambers = (info.get("config") or {}).get("matrix", {}).get("chambers")
    return f"{key} ({', '.join(chambers)})" if chambers else key


def stage_times(prov: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per distinct stage folder (shared stages once), in run order."""
    rows, seen = [], set()
    for key, info in prov["stages"].items():
        folder = info.get("folder")
        if folder in seen:
            continue
        seen.add(folder)
        rows.append({"stage": _stage_name(key, info), "status": info.get("status"),
                     "seconds": info.get("seconds"), "folder": folder})  # fmt: skip
    return rows


def main_matrix(workdir: Path) -> Path:
    """The shared (VTPC2, MTPCL) matrix folder: the one with the most models."""
    best = None
    for m in sorted((workdir / "matrix").glob("*/matrix.json")):
        cfg = json.loads(m.read_text())["config"]
        if tuple(cfg["chambers"]) == ("VTPC2", "MTPCL"):
            if best is None or len(cfg["models"]) > best[0]:
                best = (len(cfg["models"]), m.parent)
    if best is None:
        raise SystemExit(f"{workdir}/matrix: no finished VTPC2/MTPCL matrix")
    return best[1]


def epoch_rows(matrix: Path) -> list[dict[str, Any]]:
    """Validation loss per epoch of every first-seed run (``runs/<model>/<chamber>``)."""
    rows = []
    for metrics in sorted(matrix.glob("runs/*/*/metrics.jsonl")):
        lines = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
        val = [r["val_loss"] for r in lines if r.get("val_loss") is not None]
        if not val:
            continue
        best = min(range(len(val)), key=val.__getitem__)
        rows.append({
            "model": metrics.parent.parent.name, "chamber": metrics.parent.name,
            "val_loss": val, "best_epoch": best + 1, "epochs": len(val),
            # share of the first-to-best drop of validation loss made in the last two epochs
            "last_two_share": _late_share(val),
        })  # fmt: skip
    return rows


def _late_share(val: list[float]) -> float | None:
    if len(val) < 3 or val[0] <= min(val):
        return None
    return (val[-3] - min(val[-2:])) / (val[0] - min(val))


def accuracy_rows(matrix: Path) -> list[dict[str, Any]]:
    """Balanced accuracy (threshold 0.5) of every cell with its interval and test chamber."""
    res = json.loads((matrix / "matrix.json").read_text())
    rows = []
    for cell in res["cells"]:
        for test, ev in cell["evaluations"].items():
            m = ev["at_0.5"]["metrics"]["balanced_accuracy"]
            rows.append({"model": cell["model"], "train": cell["train_chamber"], "test": test,
                         "metric": m,
                         "train_seconds": cell["run"].get("train_seconds"),
                         "n_train": cell["run"].get("n_train_clusters")})  # fmt: skip
    return rows


def epochs_figure(rows: list[dict[str, Any]]):
    import plotly.graph_objects as go

    fig = go.Figure()
    for r in rows:
        v0 = r["val_loss"][0]
        fig.add_trace(go.Scatter(
            x=list(range(1, len(r["val_loss"]) + 1)), y=[v / v0 for v in r["val_loss"]],
            mode="lines+markers", name=f"{r['model']} on {r['chamber']}",
        ))  # fmt: skip
    fig.update_layout(
        title="Full profile: validation loss per epoch (relative to epoch 1), 1-cycle schedule",
        xaxis_title="epoch", yaxis_title="validation loss / epoch-1 validation loss",
    )  # fmt: skip
    return fig


def markdown(rec: dict[str, Any]) -> str:
    from interp.core.formatting import with_ci

    run = rec.get("run") or {}
    lines = ["# Full profile: timing record", "",
             f"Command: `{run.get('command', rec['provenance_command'])}`  ",
             f"Commit: `{rec['commit']}`; machine: {rec['machine']}  ",
             f"Recorded {rec['created_utc']}", ""]  # fmt: skip
    if run:
        lines += [
            f"**Wall time {run['wall_seconds'] / 60:.1f} min** (aim: 60), CPU "
            f"{run['cpu_seconds'] / 60:.1f} min, peak RSS of the study process "
            f"{run['peak_rss_gb']:.2f} GB (aim: 8), return code {run['returncode']}.",
            "",
        ]
    lines += ["| stage | status | seconds |", "|---|---|---|"]
    lines += [f"| {s['stage']} | {s['status']} | {s['seconds']:.0f} |" for s in rec["stages"]
              if isinstance(s.get("seconds"), int | float)]  # fmt: skip
    lines += ["", "## Balanced accuracy at threshold 0.5 (the published metric)", "",
              "| model | trained on | tested on | balanced accuracy [95 % CI] | training s | "
              "training clusters |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rec["accuracy"]:
        ts = f"{r['train_seconds']:.0f}" if r["train_seconds"] is not None else "-"
        lines.append(f"| {r['model']} | {r['train']} | {r['test']} | {with_ci(r['metric'])} | "
                     f"{ts} | {r['n_train']:,} |")  # fmt: skip
    lines += ["", "## Validation loss per epoch (shared matrix, first seed)", "",
              "| model | chamber | epochs run | best epoch | share of the drop in the last "
              "2 epochs | validation loss per epoch |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rec["epochs"]:
        share = "-" if r["last_two_share"] is None else f"{100 * r['last_two_share']:.1f} %"
        vals = ", ".join(f"{v:.4f}" for v in r["val_loss"])
        lines.append(f"| {r['model']} | {r['chamber']} | {r['epochs']} | {r['best_epoch']} | "
                     f"{share} | {vals} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("out_full"))
    ap.add_argument("--no-run", action="store_true", help="record a finished run only")
    ap.add_argument("--no-png", action="store_true", help="pass --no-png to the study")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    run = None if args.no_run else run_study(args.workdir.resolve(), not args.no_png)
    prov_path = args.workdir / "report-all-full" / "provenance.json"
    if not prov_path.is_file():
        raise SystemExit(f"{prov_path}: no provenance record (did the study finish?)")
    prov = json.loads(prov_path.read_text())
    matrix = main_matrix(args.workdir)
    accuracy = accuracy_rows(matrix)
    rec = {
        "run": run,
        "provenance_command": prov.get("command"),
        "commit": prov.get("git_commit"),
        "created_utc": prov.get("created_utc"),
        "machine": prov.get("machine") or f"{platform.processor()} x{os.cpu_count()}",
        "stages": stage_times(prov),
        "accuracy": accuracy,
        "epochs": epoch_rows(matrix),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "full_profile.json", json.dumps(rec, indent=1, default=str))
    atomic_write_text(args.out / "full_profile.md", markdown(rec))
    from interp.plots.output import FigureWriter

    with FigureWriter(args.out, png=True) as fw:
        fw.write(epochs_figure(rec["epochs"]), "full_profile_epochs")
    print((args.out / "full_profile.md").read_text())


if __name__ == "__main__":
    main()

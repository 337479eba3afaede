"""The data part of the study: simulate every chamber, summarise it, draw it, fit a linear baseline.

Artefacts are cached in the work directory keyed by their parameters: a second run with the
same parameters re-reads the files instead of simulating again.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.fsutil import atomic_write_text
from interp.data.features import pad_rms


@dataclasses.dataclass(frozen=True)
class DataStudyConfig:
    """What to simulate.

    Attributes:
        chambers: Chamber preset names.
        events: Events per chamber.
        clusters_per_event: ``None`` for the preset default (28,764).
        seed: Simulation seed (chamber ``i`` uses ``seed + 1000 * i``).
        fractions: Event-wise train/val/test fractions.
        file_format: Extension of the cluster files.
    """

    chambers: tuple[str, ...] = ("VTPC2", "MTPCL")
    events: int = 4
    clusters_per_event: int | None = None
    seed: int = 1
    fractions: tuple[float, float, float] = (0.5, 0.25, 0.25)
    file_format: str = "h5"

    @classmethod
    def smoke(cls) -> DataStudyConfig:
        return cls(events=3, clusters_per_event=3000)

    @classmethod
    def quick(cls) -> DataStudyConfig:
        return cls()

    @classmethod
    def full(cls) -> DataStudyConfig:
        return cls(events=20, fractions=(0.7, 0.15, 0.15))

    @classmethod
    def profile(cls, name: str) -> DataStudyConfig:
        from interp.core.errors import UnknownNameError

        profiles = {"smoke": cls.smoke, "quick": cls.quick, "full": cls.full}
        if name not in profiles:
            raise UnknownNameError("profile", name, list(profiles))
        return profiles[name]()


def chamber_file(workdir: Path, chamber: str, cfg: DataStudyConfig) -> Path:
    return workdir / "data" / f"{chamber}.{cfg.file_format}"


def ensure_chamber_data(
    workdir: Path, chamber: str, seed: int, cfg: DataStudyConfig, progress: bool = True
) -> tuple[Path, bool]:
    """Simulates one chamber into the work directory unless an identical file exists.

    Returns:
        (path, reused).
    """
    from interp.data.simulate_file import simulate_to_file

    path = chamber_file(workdir, chamber, cfg)
    stamp = path.with_name(path.name + ".params.json")
    params = {
        "chamber": chamber,
        "events": cfg.events,
        "clusters_per_event": cfg.clusters_per_event,
        "seed": seed,
        "fractions": list(cfg.fractions),
    }
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == params:
        return path, True
    path.parent.mkdir(parents=True, exist_ok=True)
    simulate_to_file(
        chamber,
        cfg.events,
        seed,
        path,
        clusters_per_event=cfg.clusters_per_event,
        fractions=cfg.fractions,
        progress=progress,
    )
    atomic_write_text(stamp, json.dumps(params))
    return path, False


def run_data_study(
    workdir: str | Path, cfg: DataStudyConfig, png: bool = True, progress: bool = True
) -> dict[str, Any]:
    """Simulates, summarises, draws and checks every chamber; writes ``DATA_SUMMARY.md``.

    Returns:
        A JSON-serialisable summary (also saved as ``data_summary.json``).
    """
    from interp.data.io import read_clusters
    from interp.data.splits import Splits, splits_path_for
    from interp.data.summary import format_summary, inspect_files
    from interp.evaluation.baseline import logistic_baseline
    from interp.plots.clusters import example_clusters_figure
    from interp.plots.output import FigureWriter

    workdir = Path(workdir)
    t0 = time.perf_counter()
    report: dict[str, Any] = {"config": dataclasses.asdict(cfg), "chambers": {}}
    texts = []
    widths = {}
    with FigureWriter(workdir / "figures", png=png) as writer:
        for i, chamber in enumerate(cfg.chambers):
            path, reused = ensure_chamber_data(
                workdir, chamber, cfg.seed + 1000 * i, cfg, progress=progress
            )
            summary = inspect_files([path], progress=False)
            data = read_clusters(path)
            sig = data.label == 1
            widths[chamber] = float(np.nanmean(pad_rms(data.charge[sig])))
            parts = Splits.load(splits_path_for(path)).apply(data)
            lr = logistic_baseline(parts["train"], parts["test"])
            fig = example_clusters_figure(data, n_examples=4)
            html = writer.write(fig, f"example_clusters_{chamber}", width=1100, height=1400)
            report["chambers"][chamber] = {
                "file": str(path),
                "reused": reused,
                "summary": summary,
                "signal_pad_rms_mean": widths[chamber],
                "logistic_regression": {
                    k: lr[k]
                    for k in ("accuracy", "noise_removed", "signal_lost", "n_train", "n_test")
                },
                "figure": str(html),
            }
            texts.append(format_summary(summary, title=f"## {chamber} ({path})"))
            texts.append(
                f"logistic regression on max-normalised windows (train split -> test split): "
                f"accuracy {100 * lr['accuracy']:.1f} %, noise removed "
                f"{100 * lr['noise_removed']:.1f} %, signal lost {100 * lr['signal_lost']:.1f} %"
                f"  [published linear model: 89.3-89.4 %]"
            )
        report["png_skipped_reason"] = writer.png_skipped_reason
    if "VTPC2" in widths and "MTPCL" in widths:
        ratio = widths["MTPCL"] / widths["VTPC2"]
        report["pad_rms_ratio_MTPCL_over_VTPC2"] = ratio
        texts.append(
            f"signal pad RMS: MTPCL {widths['MTPCL']:.2f} pads / VTPC2 {widths['VTPC2']:.2f} "
            f"pads = {ratio:.2f}  [physics: ~1.3-1.8]"
        )
    report["seconds"] = time.perf_counter() - t0
    atomic_write_text(workdir / "data_summary.json", json.dumps(report, indent=1, default=list))
    text = "# Data summary\n\n```\n" + "\n\n".join(texts) + "\n```\n"
    if report["png_skipped_reason"]:
        text += f"\nNote: PNG figures not written: {report['png_skipped_reason']}\n"
    atomic_write_text(workdir / "DATA_SUMMARY.md", text)
    report["text"] = text
    return report

"""Report section ``data``: the simulated-data summary and its linear baseline (data stage)."""

from __future__ import annotations

import json
from typing import Any

from interp.core.formatting import pct
from interp.core.published import published_accuracy
from interp.report.sections import (
    CALIBRATION_NOTE,
    SECTIONS,
    Section,
    SectionInput,
    Table,
)


def data(inp: SectionInput) -> Section:
    """Simulated-data summary (data stage)."""
    title = "Simulated data"
    folder = inp.stages.get("data")
    if folder is None or not (folder / "data_summary.json").is_file():
        why = inp.missing.get("data", "the data stage has not run")
        return Section(title, missing=[f"No data summary: {why}."])
    rep: dict[str, Any] = json.loads((folder / "data_summary.json").read_text())
    rows = []
    for chamber, d in rep["chambers"].items():
        lr = d["logistic_regression"]
        bal = None
        if lr.get("noise_removed") is not None and lr.get("signal_lost") is not None:
            bal = 0.5 * (lr["noise_removed"] + 1.0 - lr["signal_lost"])
        rows.append(
            [
                chamber,
                f"{d['summary'].get('clusters', 'n/a')}",
                f"{d['signal_pad_rms_mean']:.2f}",
                pct(published_accuracy("perceptron", chamber, chamber)),
                pct(bal),
                pct(lr["noise_removed"]),
                pct(lr["signal_lost"]),
                pct(lr["accuracy"]),
            ]
        )
    return Section(
        title,
        "Both chambers simulated, summarised and fitted with a logistic-regression baseline. "
        "The baseline's agreement with the published perceptron figure is calibrated, not "
        "predicted (see below). Full text: "
        f"`{folder / 'DATA_SUMMARY.md'}`.\n\n" + CALIBRATION_NOTE,
        [
            Table(
                "Data and linear baseline",
                [
                    "chamber",
                    "clusters",
                    "signal pad RMS",
                    "published perceptron balanced acc.",
                    "LR balanced acc.",
                    "LR noise removed",
                    "LR signal lost",
                    "LR plain accuracy (secondary)",
                ],
                rows,
            )
        ],
        sorted((folder / "figures").glob("*.html")),
    )


SECTIONS["data"] = data

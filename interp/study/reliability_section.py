"""The explain stage's calibration figures: one reliability diagram per model and chamber.

For each trained cell (:mod:`interp.study.explain_stage`), the raw test-split ``p_signal``
of the training chamber is compared with its Platt and isotonic calibrations
(:mod:`interp.evaluation.calibration`): the stored ``calibration.json`` of the model folder,
or, for a folder trained before calibrations were stored, maps fitted here on the validation
split (not written into the run folder). Figure ``reliability_<model>_<chamber>``; numbers
into ``explain_summary.json`` under ``calibration``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interp.evaluation.calibration import (
    METHODS,
    calibration_metrics,
    fit_calibration,
    load_calibration,
)
from interp.plots.reliability import reliability_figure


def reliability_section(cell: Any, write: Callable[..., None], summary: dict[str, Any]) -> None:
    """Writes ``reliability_<tag>`` and ``summary["calibration"][tag]``.

    Args:
        cell: The explain stage's cell (``model``, ``chamber``, ``clf``, ``run_dir``,
            ``parts``, ``test_scores``, ``tag``).
        write: ``write(figure, name, width, height)``.
        summary: The explain summary (gets ``{"calibration": {tag: {"model", "chamber",
            "source", "signal_fraction", "n_val", "test": {"raw" | "platt" | "isotonic":
            {"ece", "brier"}}, "n_test"}}}``).
    """
    val = cell.parts[cell.chamber]["val"]
    cal, source = load_calibration(cell.run_dir), "calibration.json"
    if cal is None:
        if len(val) == 0 or val.label.min() == val.label.max():
            return
        cal = fit_calibration(cell.clf.predict_proba(val.charge), val.label, cell.chamber)
        source = "fitted by explain on the validation split (not stored)"
    raw, labels = cell.test_scores[cell.chamber], cell.parts[cell.chamber]["test"].label
    if len(labels) == 0:
        return
    curves = {"raw": (raw, labels)} | {m: (cal.apply(raw, m), labels) for m in METHODS}
    title = f"{cell.model} trained on {cell.chamber}: reliability on the test split"
    fig, _ = reliability_figure(curves, title)
    write(fig, f"reliability_{cell.tag}", 900, 750)
    summary.setdefault("calibration", {})[cell.tag] = {
        "model": cell.model,
        "chamber": cell.chamber,
        "source": source,
        "signal_fraction": cal.signal_fraction,
        "n_val": cal.n,
        "n_test": len(labels),
        "test": calibration_metrics(raw, labels, cal),
    }

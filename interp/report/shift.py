"""Report section ``shift``: domain shift and few-shot recalibration of every transfer.

Reads the ``shift`` entry and each cell's ``transfer`` entry of ``matrix.json``
(:func:`interp.study.matrix.run_matrix`); draws the figures of :mod:`interp.plots.shift`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.core.formatting import num, pts
from interp.report.sections import SECTIONS, Section, SectionInput, Table, _no_matrix, load_matrix


def _shift_table(key: str, shift: Mapping[str, Any]) -> Table:
    rows = []
    for f in shift["features"].values():
        for cls, v in f["classes"].items():
            means = [num(v["mean_train"], 3), num(v["mean_test"], 3)]
            rows.append([f["label"], cls, *means, num(v["ks"]), num(v["wasserstein_sd"])])
    return Table(
        f"Feature shift {key} ({shift['n_train']} / {shift['n_test']} clusters sampled from the "
        "training chamber's train split / the test chamber's test split)",
        ["feature", "class", "mean (train ch.)", "mean (test ch.)", "KS", "W1 / sd(train)"],
        rows,
    )


def _recal_table(key: str, cells: list[tuple[str, Mapping[str, Any]]]) -> Table:
    sizes = [r["n"] for r in cells[0][1]["sizes"]]
    rows = []
    for model, rc in cells:
        ref, src = rc["reference"], rc.get("source") or {}
        row = [
            model,
            f"{num(100 * src['noise_removed'], 1)} / {num(100 * src['signal_lost'], 1)}"
            if src
            else "n/a",
            f"{num(100 * ref['noise_removed'], 1)} / {num(100 * ref['signal_lost'], 1)}",
        ]
        for r in rc["sizes"]:
            if not r["available"] or not r.get("repeats"):
                row.append("n/a")
                continue
            nr, sl = r["delta_noise_removed"], r["delta_signal_lost"]
            row.append(
                f"{pts(nr['median'])} / {pts(sl['median'])} "
                f"(within 1 pt: {100 * (r['within_tolerance'] or 0):.0f} %)"
            )
        need = rc["clusters_needed"]
        row.append("not within the sizes tried" if need is None else str(need))
        rows.append(row)
    return Table(
        f"Few-shot recalibration {key}: noise removed / signal lost (%) with the threshold "
        "carried over and at the target's own operating point, then the median difference "
        "(points) when the threshold is chosen on n labelled target clusters, and the share of "
        "draws within 1 point on both",
        ["model", "carried over", "target's own", *[f"n = {n}" for n in sizes], "clusters needed"],
        rows,
    )


def shift(inp: SectionInput) -> Section:
    """Feature shift, transfer warnings and recalibration for every train -> test pair."""
    from interp.evaluation.transfer import pair_key, policy_line
    from interp.plots.shift import recalibration_figure, shift_figure
    from interp.report.figure_writer import write_figures

    title = "Domain shift and recalibration"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    if "shift" not in matrix:
        return Section(
            title, missing=["matrix.json has no shift diagnostics (made by an older version)"]
        )
    warnings, tables, figs = [], [], {}
    by_pair: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for cell in matrix["cells"]:
        for t, tr in cell.get("transfer", {}).items():
            key = pair_key(cell["train_chamber"], t)
            by_pair.setdefault(key, []).append((cell["model"], tr["recalibration"]))
            if tr.get("warning"):
                warnings.append([cell["model"], key, tr["warning"]])
    for key, sh in matrix["shift"].items():
        tables.append(_shift_table(key, sh))
        stem = f"{inp.study_name}_{key.replace('->', '_to_')}"
        figs[f"{stem}_shift"] = shift_figure(sh)
        if key in by_pair:
            tables.append(_recal_table(key, by_pair[key]))
            a, b = key.split("->")
            figs[f"{stem}_recalibration"] = recalibration_figure(dict(by_pair[key]), a, b)
    if warnings:
        tables.insert(0, Table("Transfer warnings", ["model", "transfer", "warning"], warnings))
    text = (
        policy_line(matrix)
        + " Per class, the physics features of the training chamber (train split) against the "
        "test chamber (test split): Kolmogorov-Smirnov statistic and 1-Wasserstein distance in "
        "units of the training spread. A transfer is flagged when its AUC is below 50 % "
        "(inverted) or its balanced accuracy at threshold 0.5 lies within 2 points of 50 % "
        "(useless)."
        + (
            f" **{len(warnings)} transfer(s) flagged, see the first table.**"
            if warnings
            else " No transfer is inverted or useless."
        )
    )
    source: Path = inp.stages["matrix"] / "matrix.json"
    return Section(title, text, tables, write_figures(figs, inp.figure_dir, inp.png, source))


SECTIONS.update({"shift": shift})

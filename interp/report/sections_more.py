"""Report sections for speed, explanations, generalisation and the data study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from interp.core.published import load_published, published_accuracy
from interp.report.sections import (
    CALIBRATION_NOTE,
    SECTIONS,
    Section,
    SectionInput,
    Table,
    _acc,
    _no_matrix,
    ci_note,
    diff,
    interval_text,
    load_matrix,
    pct,
    seed_spread,
    with_ci,
)

SPEED_BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "speed.json"


def _fmt_s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def speed(inp: SectionInput) -> Section:
    """Seconds per event: published CPU/GPU beside the toolkit's measured inference."""
    title = "Seconds per event"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    pub = load_published()
    rows = []
    for model in matrix["config"]["models"]:
        times = [
            ev["seconds_per_published_event"]
            for c in matrix["cells"]
            if c["model"] == model
            for ev in c["evaluations"].values()
        ]
        mine = min(times) if times else None
        p = pub["models"].get(model, {}).get("seconds_per_event", {})
        ratio = "n/a" if mine is None or p.get("cpu") is None else f"{mine / p['cpu']:.2g}"
        rows.append([model, _fmt_s(p.get("cpu")), _fmt_s(p.get("gpu")), _fmt_s(mine), ratio])
    hw = pub["hardware"]
    sec = Section(
        title,
        "Toolkit: wall time of `predict_proba` on a test split, scaled to the published "
        "28,763.75 clusters per event, best of the matrix cells (this machine's CPU, JAX/XGBoost, "
        "batch inference; no GPU). Published: "
        f"{hw['framework']} (2020) on CPU {hw['cpu']} and GPU {hw['gpu']}. Different hardware "
        "and framework: the ratio is a comparison of set-ups, not a benchmark of one code.",
        [
            Table(
                "Seconds per event",
                ["model", "published CPU s", "published GPU s", "toolkit CPU s", "toolkit/pub."],
                rows,
            )
        ],
    )
    bench_md = SPEED_BENCHMARK.with_suffix(".md")
    if bench_md.is_file():
        table, machine = _first_md_table(bench_md.read_text())
        if table is not None:
            table.caption = (
                "Dedicated benchmark (`benchmarks/speed.py`, committed result, not re-run by "
                "reproduce; median of repeats at 28,764 clusters per event)"
            )
            sec.tables.append(table)
        sec.text += f" Benchmark set-up: {machine} Full results: `{bench_md}`."
    elif SPEED_BENCHMARK.is_file():
        sec.text += f" The dedicated speed benchmark's results are in `{SPEED_BENCHMARK}`."
    else:
        sec.missing.append(
            "The dedicated speed benchmark (`benchmarks/speed.py`, per-model timing with "
            "repeats) has not produced `benchmarks/results/speed.json` in this checkout; "
            "the table uses the matrix's own inference timing instead."
        )
    return sec


def _first_md_table(text: str) -> tuple[Table | None, str]:
    """The first pipe table of a Markdown text and its first paragraph starting "Machine"."""
    lines = text.splitlines()
    machine = next((ln for ln in lines if ln.startswith("Machine")), "")
    block: list[str] = []
    for ln in lines:
        if ln.startswith("|"):
            block.append(ln)
        elif block:
            break
    if len(block) < 3:
        return None, machine
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in block]
    return Table("", cells[0], cells[2:]), machine


_KEY_FIGURES = ("weights_perceptron_chambers", "weights_perceptron_")


def _figure_order(path: Path) -> tuple[int, str]:
    name = path.stem
    for i, prefix in enumerate(_KEY_FIGURES):
        if name.startswith(prefix):
            return i, name
    return len(_KEY_FIGURES), name


def weights(inp: SectionInput) -> Section:
    """Perceptron weight maps, convolution kernels and attributions (explain stage)."""
    title = "Weight maps and attributions"
    folder = inp.stages.get("explain")
    if folder is None or not (folder / "figures" / "explain_summary.json").is_file():
        why = inp.missing.get("explain", "the explain stage has not run")
        return Section(title, missing=[f"No explanation figures: {why}."])
    figdir = folder / "figures"
    summary = json.loads((figdir / "explain_summary.json").read_text())
    rows = []
    for chamber, p in summary.get("perceptron", {}).items():
        rows.append(
            [
                chamber,
                f"{p.get('peak_signal_weight', float('nan')):.3g}",
                f"{p.get('peak_diff_weight', float('nan')):.3g}",
                str(p.get("peak_diff_position_pad_time")),
                *[
                    f"{p.get(f'mean_{r}_diff_weight', float('nan')):.3g}"
                    for r in ("core", "cross", "outer")
                ],
            ]
        )
    figures = sorted(
        (p for p in figdir.glob("*.html") if p.name != "index.html"), key=_figure_order
    )
    sec = Section(
        title,
        "Rendered from the saved classifiers of the matrix stage (nothing retrained): "
        "perceptron weight maps per training chamber and their difference, split-convolution "
        "kernels and branch contributions, saliency / integrated-gradient / occlusion maps, "
        "XGBoost SHAP, confusion matrices, ROC and score distributions. The talk shows the "
        "perceptron maps as pictures only; no published numbers to compare.",
        [
            Table(
                "Perceptron signal - noise weight map",
                [
                    "trained on",
                    "peak signal w.",
                    "peak diff. w.",
                    "peak (pad, time)",
                    "mean core",
                    "mean cross",
                    "mean outer",
                ],
                rows,
            )
        ],
        figures,
    )
    if summary.get("png_skipped_reason"):
        sec.missing.append(f"PNG figures: {summary['png_skipped_reason']}.")
    return sec


def generalisation(inp: SectionInput) -> Section:
    """Train x test accuracy over every chamber of the study, with the drop off-diagonal."""
    title = "Generalisation"
    matrix = load_matrix(inp)
    if matrix is None:
        return _no_matrix(title, inp)
    rows = []
    for cell in matrix["cells"]:
        c = cell["train_chamber"]
        own = _acc(cell["evaluations"][c])["value"]
        for t, ev in cell["evaluations"].items():
            acc = _acc(ev)
            pub = published_accuracy(cell["model"], c, t)
            rows.append(
                [
                    cell["model"],
                    c,
                    t,
                    pct(pub),
                    with_ci(acc),
                    diff(acc["value"], pub),
                    "-" if t == c else diff(acc["value"], own),
                    seed_spread(ev),
                ]
            )
    data = matrix.get("data", {})
    sizes = "; ".join(
        f"{c}: {d['splits']['train']['clusters']:,} train / {d['splits']['test']['clusters']:,} "
        "test clusters"
        for c, d in data.items()
    )
    return Section(
        title,
        "A study the talk left open: chambers with simulated presets beyond the published two "
        "(preset values marked as estimates in `experiments/presets/`). Published figures exist "
        "only for the 30A GeV VTPC2/MTPCL cells (they are balanced accuracies, the metric "
        "shown); 'diff. to within-chamber' is the change against the model's own "
        f"within-chamber balanced accuracy. Data: {sizes}."
        + interval_text(matrix)
        + ci_note(matrix),
        [
            Table(
                "Balanced accuracy at threshold 0.5 (%)",
                [
                    "model",
                    "trained on",
                    "tested on",
                    "published balanced acc.",
                    "toolkit balanced acc. [CI]",
                    "diff. to published",
                    "diff. to within-chamber",
                    "seed spread (sd, points)",
                ],
                rows,
            )
        ],
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


SECTIONS.update(
    {"speed": speed, "weights": weights, "generalisation": generalisation, "data": data}
)

"""Report section ``tracking``: does the noise filter keep the physics? (tracking stage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from interp.core.formatting import num, pct
from interp.core.schema import NOISE_KINDS
from interp.report.sections import SECTIONS, Section, SectionInput, Table
from interp.study.tracking_stage import RESULT_FILE


def curves_figure(result: dict[str, Any]) -> Any:
    """Efficiency, fake rate and CPU time vs clusters removed: one column per chamber, one
    line per model (plotly ``Figure``; subplot (row, col) = (quantity, chamber))."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    chambers = list(result["chambers"])
    fig = make_subplots(
        rows=3,
        cols=len(chambers),
        shared_xaxes=True,
        subplot_titles=[
            f"{c}: {q}" for q in ("efficiency", "fake rate", "CPU s") for c in chambers
        ],
    )
    for j, chamber in enumerate(chambers, start=1):
        for model, m in result["chambers"][chamber]["models"].items():
            xs = [p["removed"] for p in m["curve"]]
            for i, key in enumerate(("efficiency", "fake_rate", "cpu_seconds_per_event"), 1):
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=[p[key] for p in m["curve"]],
                        mode="lines+markers",
                        name=model,
                        legendgroup=model,
                        showlegend=(i == 1 and j == 1),
                    ),
                    row=i,
                    col=j,
                )
    fig.update_xaxes(title_text="fraction of clusters removed", row=3)
    fig.update_layout(title="Tracking vs clusters removed by the filter")
    return fig


def _figure(result: dict[str, Any], inp: SectionInput) -> Path | None:
    """:func:`curves_figure` written to the report's figure folder."""
    from interp.plots.output import FigureWriter

    fig = curves_figure(result)
    with FigureWriter(inp.figure_dir, png=inp.png) as w:
        return w.write(fig, f"{inp.study_name}_tracking", width=1100, height=900)


def _label_tables(result: dict[str, Any]) -> tuple[list[Table], str]:
    """Tables and one sentence for the label-source comparison (tracking vs truth labels)."""
    score_rows, agree_rows, said = [], [], []
    for chamber, c in result["chambers"].items():
        ls = c.get("label_sources")
        if not ls:
            continue
        a = ls["label_agreement"]
        agree_rows.append(
            [
                chamber,
                str(a["n"]),
                pct(a["signal_labelled_noise"]),
                pct(a["noise_labelled_signal"]),
                *(pct(a["labelled_signal"][k]) for k in NOISE_KINDS[1:]),
            ]
        )
        for source in ("truth", "tracking"):
            s = ls[source]
            score_rows.append(
                [
                    chamber,
                    ls["model"],
                    f"{source} labels",
                    pct(s["balanced_accuracy"]),
                    pct(s["signal_lost"]),
                    pct(s["noise_removed"]),
                    *(pct(s["correct_by_kind"][k]) for k in NOISE_KINDS),
                ]
            )
        t, k = ls["truth"], ls["tracking"]
        said.append(
            f"{chamber}: {pct(a['signal_labelled_noise'])} % of the signal clusters are labelled "
            f"noise and {pct(a['noise_labelled_signal'])} % of the noise clusters signal by the "
            f"tracking; the {ls['model']} trained on tracking labels reaches "
            f"{pct(k['balanced_accuracy'])} % balanced accuracy against truth (signal lost "
            f"{pct(k['signal_lost'])} %) vs {pct(t['balanced_accuracy'])} % "
            f"({pct(t['signal_lost'])} %) trained on truth labels"
        )
    if not score_rows:
        return [], ""
    first = next(c["label_sources"] for c in result["chambers"].values() if c.get("label_sources"))
    n_train, n_val, n_test = first["split"]
    text = (
        f" Labels from tracking: the same events with geometry are labelled by the track "
        f"finder (a cluster is signal when a found track attached it) and by truth; one model "
        f"per label source is trained on {n_train} event(s) (validated on {n_val}, same label "
        f"source) and scored against truth on {n_test} held-out event(s) at threshold 0.5. "
        + "; ".join(said)
        + "."
    )
    kinds = [f"{k} %" for k in NOISE_KINDS[1:]]
    tables = [
        Table(
            "Tracking labels vs truth (training events): signal labelled noise, noise labelled "
            "signal, and the fraction of each noise kind labelled signal",
            ["chamber", "clusters", "signal labelled noise %", "noise labelled signal %", *kinds],
            agree_rows,
        ),
        Table(
            "Trained on tracking labels vs on truth labels, scored against truth on held-out "
            "events (per kind: signal kept, noise removed)",
            [
                "chamber",
                "model",
                "trained on",
                "balanced acc %",
                "signal lost %",
                "noise removed %",
                *(f"{k} %" for k in NOISE_KINDS),
            ],
            score_rows,
        ),
    ]
    return tables, text


def tracking(inp: SectionInput) -> Section:
    """Tracking efficiency, fakes, clones, momentum resolution and time vs clusters removed."""
    title = "Physics impact: tracking with the filter"
    folder = inp.stages.get("tracking")
    if folder is None or not (folder / RESULT_FILE).is_file():
        why = inp.missing.get("tracking", "the tracking stage has not run")
        return Section(title, missing=[f"No tracking results: {why}."])
    result = json.loads((folder / RESULT_FILE).read_text())
    cfg = result["config"]
    curve_rows, prop_rows, pt_rows, part_rows, base_rows = [], [], [], [], []
    for chamber, c in result["chambers"].items():
        for name, b in (("no filter", c["baseline"]), ("truth filter", c["truth_filter"])):
            base_rows.append(
                [
                    chamber,
                    name,
                    f"{c['n_clusters_per_event']:.0f}",
                    pct(b["removed"]),
                    pct(b["efficiency"]),
                    pct(b["fake_rate"]),
                    pct(b["clone_rate"]),
                    pct(b["momentum_resolution"]),
                    num(b["cpu_seconds_per_event"], 2),
                ]
            )
        for model, m in c["models"].items():
            for p in m["curve"]:
                curve_rows.append(
                    [
                        chamber,
                        model,
                        f"{p['threshold']:g}",
                        pct(p["removed"]),
                        pct(p["lost_signal"]),
                        pct(p["efficiency"]),
                        pct(p["fake_rate"]),
                        pct(p["clone_rate"]),
                        pct(p["momentum_resolution"]),
                        num(p["cpu_seconds_per_event"], 2),
                    ]
                )
            pr = m["proposed"]
            eff0 = c["baseline"]["efficiency"]
            prop_rows.append(
                [
                    chamber,
                    model,
                    "none" if pr is None else f"{pr['threshold']:g}",
                    "n/a" if pr is None else pct(pr["removed"]),
                    "n/a" if pr is None else pct(pr["lost_signal"]),
                    "n/a" if pr is None or not eff0 else pct(pr["efficiency"] / eff0),
                    "n/a" if pr is None else pct(pr["fake_rate"]),
                ]
            )
            loss = m["lost_signal"]
            pt_rows.append(
                [chamber, model, f"{loss['threshold']:g}"] + [pct(b["lost"]) for b in loss["pt"]]
            )
            part_rows.append(
                [chamber, model, f"{loss['threshold']:g}"]
                + [pct(v["lost"]) for v in loss["particle"].values()]
                + [pct(b["lost"]) for b in loss["dedx"]]
            )
    first = next(iter(result["chambers"].values()), None)
    first_loss = (
        next(iter(first["models"].values()))["lost_signal"] if first and first["models"] else None
    )
    pt_head = [f"p_T {b['lo']:g}-{b['hi']:g}" for b in first_loss["pt"]] if first_loss else []
    part_head = (
        list(first_loss["particle"])
        + [f"dE/dx {b['lo']:g}-{b['hi']:g}" for b in first_loss["dedx"]]
        if first_loss
        else []
    )
    text = (
        f"{cfg['n_events']} simulated event(s) with geometry per chamber (seed {cfg['seed']}); "
        "clusters found as local maxima per pad row and scored by each classifier trained on "
        "that chamber; a cluster is kept when P(signal) >= threshold. Track finder: triplet "
        "seeds and road following with a parabola (helix) / line fit; a track is matched when "
        ">= 70 % of its clusters belong to one truth track; efficiency = findable truth "
        "tracks (>= 10 clusters) found / findable. Momentum resolution: robust sigma of "
        "(p_fit - p)/p in the bending plane (VTPC2; MTPC-L has no field). The proposed "
        f"threshold keeps >= {100 * cfg['keep_efficiency']:.0f} % of the unfiltered efficiency "
        "with the largest cluster reduction. CPU seconds are the track finder's process time "
        "on this machine (shared CPUs: compare within one run)."
    )
    spread = []
    for chamber, c in result["chambers"].items():
        eff, n = c["baseline"]["efficiency"], c["baseline"]["n_findable"]
        if eff is not None and n:
            err = (eff * (1 - eff) / n) ** 0.5
            spread.append(f"{chamber} {pct(eff)} +- {pct(err)} % of {n} tracks")
    if spread:
        text += (
            " Unfiltered efficiency with its binomial error: "
            + "; ".join(spread)
            + " - a 1 % efficiency loss is at the edge of what these events resolve."
        )
    label_tables, label_text = _label_tables(result)
    text += label_text
    sec = Section(
        title,
        text,
        [
            Table(
                "Reference points per chamber",
                [
                    "chamber",
                    "filter",
                    "clusters/event",
                    "removed %",
                    "efficiency %",
                    "fakes %",
                    "clones %",
                    "dp/p %",
                    "CPU s/event",
                ],
                base_rows,
            ),
            Table(
                "Proposed threshold per model and chamber",
                [
                    "chamber",
                    "model",
                    "threshold",
                    "clusters removed %",
                    "signal lost %",
                    "efficiency kept %",
                    "fakes %",
                ],
                prop_rows,
            ),
            Table(
                "Tracking vs threshold",
                [
                    "chamber",
                    "model",
                    "threshold",
                    "removed %",
                    "signal lost %",
                    "efficiency %",
                    "fakes %",
                    "clones %",
                    "dp/p %",
                    "CPU s/event",
                ],
                curve_rows,
            ),
            Table(
                "Signal clusters lost vs p_T (GeV/c) at the proposed threshold (0.5 where none), %",
                ["chamber", "model", "threshold", *pt_head],
                pt_rows,
            ),
            Table(
                "Signal clusters lost vs particle and dE/dx (x MIP) at the proposed threshold "
                "(0.5 where none), %",
                ["chamber", "model", "threshold", *part_head],
                part_rows,
            ),
            *label_tables,
        ],
    )
    try:
        fig = _figure(result, inp)
        if fig is not None:
            sec.figures.append(fig)
    except Exception as exc:  # figures are optional; the tables stand
        sec.missing.append(f"Tracking figure not drawn: {type(exc).__name__}: {exc}")
    return sec


SECTIONS["tracking"] = tracking

"""The tables of a matrix result (``matrix.json``) as text: ``matrix.md`` and the rows the
report's sections reuse (one definition of each table). Values in percent, formatted by
:mod:`interp.core.formatting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interp.core.formatting import pct, pipe_table, seed_spread, with_ci

KIND_COLUMNS: tuple[tuple[str, str], ...] = (
    ("electronic", "(a) electronic"),
    ("crosstalk", "(b) cross-talk"),
    ("hot_pad", "(c) hot pad"),
    ("fragment", "(d) fragment"),
    ("delta", "(e) delta"),
    ("unreconstructed", "(f) unreconstructed"),
    ("dead_pad", "(g) dead pad"),
)
"""Noise kinds of the per-kind table: truth key -> column label."""

SIGNAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("clean", "clean"),
    ("overlapping", "overlapping"),
    ("dead_pad", "dead pad"),
)


def per_kind_rows(result: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the per-noise-kind table (noise removed per kind, signal lost per group, %)."""
    rows = []
    for c in result["cells"]:
        for t, ev in c["evaluations"].items():
            bt = ev.get("by_truth")
            if bt is None:
                continue
            nr, sl = bt["noise_removed"], bt["signal_lost"]
            rows.append(
                [c["model"], c["train_chamber"], t]
                + [pct(nr.get(k, {}).get("value")) for k, _ in KIND_COLUMNS]
                + [pct(sl.get(k, {}).get("value")) for k, _ in SIGNAL_COLUMNS]
            )
    return rows


PER_KIND_HEADER: list[str] = [
    "model",
    "trained on",
    "tested on",
    *(f"NR {label}" for _, label in KIND_COLUMNS),
    *(f"SL {label}" for _, label in SIGNAL_COLUMNS),
]


def ceiling_rows(result: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the irreducible-error table (see :func:`ceiling_estimates`)."""
    return [
        [
            e["train_chamber"],
            e["test_chamber"],
            e["best_model"],
            pct(e["kind_f_fraction_of_noise"]),
            pct(e["kind_f_noise_removed_by_best"]),
            pct(e["balanced_accuracy_ceiling"]),
            pct(e["best_balanced_accuracy"]),
            f"{100 * e['best_gap_to_ceiling']:.1f}",
        ]
        for e in result.get("ceiling", [])
    ]


CEILING_HEADER: list[str] = [
    "trained on",
    "tested on",
    "best model",
    "(f) share of noise",
    "(f) removed by best",
    "balanced-acc. ceiling",
    "best balanced acc.",
    "gap (points)",
]


def paired_rows(result: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the paired-difference table (balanced accuracy A - B, points)."""
    rows = []
    for p in result.get("paired", []):
        v = "n/a" if p["value"] is None else f"{100 * p['value']:+.2f}"
        ci = "n/a" if p["lo"] is None else f"[{100 * p['lo']:+.2f}, {100 * p['hi']:+.2f}]"
        sig = {True: "yes", False: "no", None: "n/a"}[p["significant"]]
        rows.append([p["train_chamber"], p["test_chamber"], p["model_a"], p["model_b"], v, ci, sig])
    return rows


PAIRED_HEADER: list[str] = [
    "trained on",
    "tested on",
    "model A",
    "model B",
    "A - B (points)",
    "95 % paired interval",
    "significant at 95 %",
]


def run_notes(result: Mapping[str, Any]) -> list[str]:
    """One sentence per cell that was retrained because its training identity changed."""
    out = []
    for c in result["cells"]:
        for why in c["run"].get("retrained") or []:
            out.append(f"{c['model']} trained on {c['train_chamber']} was **retrained**: {why}.")
    return out


def matrix_markdown(result: Mapping[str, Any]) -> str:
    """Markdown tables of a :func:`run_matrix` result (percentages).

    Tables: balanced accuracy (the published metric) with intervals over test events and
    training seeds; toolkit versus published with plain accuracy as a secondary column;
    paired model differences; noise removed / signal lost at 0.5 and at the validation-chosen
    operating point; per-noise-kind rates and the irreducible-error estimate (simulated
    data); wall times with the number of training clusters and seeds.
    """
    from interp.core.published import citation, published_accuracy, published_rates
    from interp.evaluation.metrics import PUBLISHED_METRIC_NOTE

    cfg = result["config"]
    chambers = list(cfg["chambers"])
    cells = result["cells"]
    n_seeds = cfg.get("train_seeds", 1)
    unreliable = any(
        not e["at_0.5"]["ci_reliable"] for c in cells for e in c["evaluations"].values()
    )
    method = result.get("interval_method", "events resampled")
    lines = [
        "# Train-on-one-chamber / test-on-both matrix",
        "",
        f"Profile `{cfg['profile']}`, seed {cfg['seed']}, {n_seeds} training seed(s) per cell, "
        f"{cfg['n_boot']} bootstrap replicates; data: "
        + "; ".join(
            f"{c} {d['splits']['test']['events']} test events / "
            f"{d['splits']['test']['clusters']} test clusters, "
            f"{d.get('n_train_clusters', d['splits']['train']['clusters'])} training clusters "
            "for every model" + (" (simulated)" if d["simulated"] else f" ({d['path']})")
            for c, d in result["data"].items()
        )
        + ".",
        "",
        f"Values in %. Brackets: 95 % interval ({method})."
        + (" **Intervals from fewer than 3 events are unreliable.**" if unreliable else ""),
        "",
        PUBLISHED_METRIC_NOTE,
        "",
        *[x for n in run_notes(result) for x in (f"> {n}", "")],
        "## Balanced accuracy at threshold 0.5",
        "",
        *pipe_table(
            ["model", "trained on", *(f"test {c}" for c in chambers), "seed spread (sd, points)"],
            [
                [c["model"], c["train_chamber"]]
                + [
                    with_ci(c["evaluations"][t]["at_0.5"]["metrics"]["balanced_accuracy"])
                    for t in chambers
                ]
                + [seed_spread(c["evaluations"][c["train_chamber"]]["at_0.5"])]
                for c in cells
            ],
        ),
        "",
        "## Toolkit versus published",
        "",
        f"Published: {citation()}. Toolkit balanced accuracy at threshold 0.5 on this study's "
        "data (simulated unless a file is named above); difference = toolkit - published, in "
        "points. Plain accuracy (secondary, on the data's own noise/signal mix) is not the "
        "published metric. Published noise removed / signal lost are single figures per model.",
        "",
    ]
    rows = []
    for c in cells:
        rates = published_rates(c["model"])
        for t in chambers:
            ev = c["evaluations"][t]
            m = ev["at_0.5"]["metrics"]
            ba = m["balanced_accuracy"]
            pub = published_accuracy(c["model"], c["train_chamber"], t)
            diff = (
                "n/a" if pub is None or ba["value"] is None else f"{100 * (ba['value'] - pub):+.1f}"
            )
            pub_rates = "n/a"
            if t == c["train_chamber"] and rates["noise_removed"] is not None:
                where = rates["operating_chamber"] or "chamber not stated"
                pub_rates = f"{pct(rates['noise_removed'])} / {pct(rates['signal_lost'])} ({where})"

            def nr_sl(key: str, ev: Mapping[str, Any] = ev) -> str:
                m = ev[key]["metrics"]
                return f"{pct(m['noise_removed']['value'])} / {pct(m['signal_lost']['value'])}"

            row = [c["model"], c["train_chamber"], t, pct(pub), with_ci(ba), diff]
            row += [seed_spread(ev["at_0.5"]), with_ci(m["accuracy"]), pub_rates]
            rows.append([*row, nr_sl("at_0.5"), nr_sl("operating_point")])
    header = ["model", "trained on", "tested on", "published (balanced acc.)"]
    header += ["toolkit balanced acc.", "difference", "seed spread (sd, points)"]
    header += ["plain accuracy (secondary)", "published noise removed / signal lost"]
    lines += pipe_table([*header, "toolkit (0.5)", "toolkit (op. point)"], rows)

    if result.get("paired"):
        lines += [
            "",
            "## Paired model differences (balanced accuracy at 0.5)",
            "",
            "A - B on the same test clusters: every bootstrap replicate resamples the same "
            "events for both models"
            + (" and draws one training seed of each model independently" if n_seeds > 1 else "")
            + "; significant when the 95 % interval excludes 0.",
            "",
            *pipe_table(PAIRED_HEADER, paired_rows(result)),
        ]

    for key, title in (
        ("at_0.5", "Noise removed / signal lost at threshold 0.5"),
        (
            "operating_point",
            f"Noise removed / signal lost at the operating point (threshold chosen on the "
            f"training chamber's validation split for signal loss <= "
            f"{pct(cfg['max_signal_loss'], 0)} %)",
        ),
    ):
        rows = []
        for c in cells:
            ev = c["evaluations"]
            rows.append(
                [c["model"], c["train_chamber"], f"{ev[chambers[0]][key]['threshold']:.3f}"]
                + [
                    f"{with_ci(ev[t][key]['metrics']['noise_removed'])} / "
                    f"{with_ci(ev[t][key]['metrics']['signal_lost'])}"
                    for t in chambers
                ]
            )
        header = ["model", "trained on", "threshold"]
        header += [f"test {c}: noise removed / signal lost" for c in chambers]
        lines += ["", f"## {title}", "", *pipe_table(header, rows)]

    kind_rows = per_kind_rows(result)
    if kind_rows:
        lines += [
            "",
            "## Per noise kind (simulator truth, threshold 0.5)",
            "",
            "NR: noise removed per noise kind (a)-(g); SL: signal lost for clean, overlapping "
            "and dead-pad signal clusters (means over training seeds).",
            "",
            *pipe_table(PER_KIND_HEADER, kind_rows),
            "",
            "Irreducible part: kind (f) (real tracks labelled noise) scored as the best model "
            "scores it, every other cluster taken as classifiable.",
            "",
            *pipe_table(CEILING_HEADER, ceiling_rows(result)),
        ]
    else:
        lines += ["", "Per-noise-kind table: not available (the data have no truth columns)."]

    rows = []
    for c in cells:
        run = c["run"]
        ts = run["train_seconds"]
        state = "yes" if run["reused"] else ("retrained" if run.get("retrained") else "no")
        rows.append(
            [c["model"], c["train_chamber"], str(run.get("n_train_clusters", "n/a"))]
            + [str(len(run.get("seeds", [0]))), "n/a" if ts is None else f"{ts:.1f}"]
            + [state, f"{run['eval_seconds']:.1f}"]
            + [f"{c['evaluations'][t]['seconds_per_published_event']:.3f}" for t in chambers]
        )
    header = ["model", "trained on", "training clusters", "seeds", "train s (all seeds)"]
    header += ["reused", "evaluation s"]
    header += [f"inference s/event ({t})" for t in chambers]
    if result.get("techniques"):
        from interp.study.techniques import technique_lines

        lines += ["", *technique_lines(result)[:-1]]
    lines += [
        "",
        "## Wall time",
        "",
        "Training seconds are those of the original runs, summed over seeds (reused runs keep "
        "them). Inference is one classifier's `predict_proba` on the test split, scaled to "
        "28,763.75 clusters per event.",
        "",
        *pipe_table(header, rows),
    ]
    if "total_seconds" in result:
        lines += ["", f"Total wall time of this run: {result['total_seconds']:.1f} s."]
    return "\n".join(lines) + "\n"


def transfer_lines(result: Mapping[str, Any]) -> list[str]:
    """Split policy, warnings and recalibration lines of a ``matrix.json`` result."""
    from interp.evaluation.transfer import pair_key, recalibration_line

    pol = result.get("splits_policy", {})
    lines = [
        f"splits: {pol.get('policy', 'independent')}"
        + "".join(f"; shared by {', '.join(g)}" for g in pol.get("groups", []))
    ]
    for cell in result["cells"]:
        for t, tr in cell.get("transfer", {}).items():
            key = f"{cell['model']} {pair_key(cell['train_chamber'], t)}"
            if tr.get("warning"):
                lines.append(f"WARNING {key}: {tr['warning']}")
            lines.append(f"{key} {recalibration_line(tr['recalibration'])}")
    return lines

"""Report section ``weights``: perceptron weight maps, kernels and attributions (explain stage)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.core.formatting import NA, num, pct, pts, with_ci
from interp.report.sections import (
    SECTIONS,
    Section,
    SectionInput,
    Table,
)

_KEY_FIGURES = ("weights_perceptron_chambers", "weights_perceptron_")


def _figure_order(path: Path) -> tuple[int, str]:
    name = path.stem
    for i, prefix in enumerate(_KEY_FIGURES):
        if name.startswith(prefix):
            return i, name
    return len(_KEY_FIGURES), name


_RULE_HEADER = [
    "trained on",
    "rule",
    "tested on",
    "rule balanced acc. (%) [95 % CI]",
    "perceptron balanced acc. (%) [95 % CI]",
    "rule - perceptron (points) [95 % CI]",
    "same decision (%)",
    "Cohen's kappa",
    "both signal / both noise / rule only / perceptron only",
]


def rule_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the like-for-like table: each distilled rule beside the perceptron, both at
    their validation operating points (``explain_summary.json`` ``rules.*.like_for_like``)."""
    rows = []
    for chamber, entry in summary.get("rules", {}).items():
        for method, rule in entry.get("rules", {}).items():
            for t, lfl in rule.get("like_for_like", {}).items():
                d, a = lfl["difference"], lfl["agreement"]
                diff = pts(d["value"])
                if d.get("lo") is not None:
                    diff += f" [{pts(d['lo'])}, {pts(d['hi'])}]"
                tab = a["table"]
                counts = " / ".join(
                    str(tab[k])
                    for k in ("both_signal", "both_noise", "a_signal_b_noise", "a_noise_b_signal")
                )
                kappa = a.get("cohen_kappa")
                rows.append(
                    [
                        chamber,
                        method,
                        t,
                        with_ci(lfl["rule"]["balanced_accuracy"]),
                        with_ci(lfl["perceptron"]["balanced_accuracy"]),
                        diff,
                        pct(a["agreement"]),
                        NA if kappa is None else num(kappa),
                        counts,
                    ]
                )
    return rows


def _max_loss(summary: Mapping[str, Any]) -> float | None:
    for entry in summary.get("rules", {}).values():
        for rule in entry.get("rules", {}).values():
            for lfl in rule.get("like_for_like", {}).values():
                return float(lfl["max_signal_loss"])
    return None


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
    lfl_rows = rule_rows(summary)
    if lfl_rows:
        loss = _max_loss(summary)
        sec.tables.append(
            Table(
                "Distilled rule vs perceptron, like for like: each rule (3 region means of the "
                "preprocessed charge: core, cross arms, outer) and the perceptron get their "
                "operating point on the validation split by the same policy (highest cut with "
                f"validation signal lost <= {pct(loss, 0)} %), balanced accuracy on the test "
                "split, and the fraction of test clusters on which both decide alike (with "
                "Cohen's kappa and the 2 x 2 counts)",
                _RULE_HEADER,
                lfl_rows,
            )
        )
    else:
        sec.missing.append(
            "Distilled rule vs perceptron at one threshold policy: not in explain_summary.json "
            "(an explain stage written before it existed, or no perceptron)."
        )
    if summary.get("png_skipped_reason"):
        sec.missing.append(f"PNG figures: {summary['png_skipped_reason']}.")
    return sec


SECTIONS["weights"] = weights

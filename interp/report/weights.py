"""Report section ``weights``: perceptron weight maps, kernels and attributions (explain stage)."""

from __future__ import annotations

import json
from pathlib import Path

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


SECTIONS["weights"] = weights

"""Report section ``sanity``: attribution sanity checks of the explain stage.

Reads ``figures/sanity.json`` of the explain stage (:func:`interp.explain.sanity.write_sanity`)
and renders one table (method, model, chamber, rank correlation after randomising every
layer, deletion and insertion areas against random pixel orders, passed) and one table of
completeness gaps (integrated gradients, XGBoost SHAP). Nothing is recomputed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from interp.report.sections import SECTIONS, Section, SectionInput, Table

SANITY_FILE = "sanity.json"
"""Same name as :data:`interp.explain.sanity.SANITY_FILE` (kept here: reports only read JSON)."""


def _num(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _vs(r: Mapping[str, Any], kind: str) -> str:
    mine, rand = r.get(f"{kind}_auc"), r.get(f"{kind}_auc_random")
    return f"{_num(mine, 3)} vs {_num(rand, 3)}"


def sanity_rows(rows: list[Mapping[str, Any]]) -> list[list[str]]:
    """Table rows of the gradient methods: method, model, chamber, rho (|attr| / signed) after
    every layer is randomised, deletion and insertion AUC vs random, passed."""
    out = []
    for r in rows:
        if r.get("error"):
            err = [str(r.get("method")), r["model"], r["chamber"], "error", "", "", r["error"]]
            out.append(err)
            continue
        if "deletion_auc" not in r:
            continue  # completeness-only row (SHAP)
        rho = " / ".join(
            _num(r.get(f"randomisation_rho_{k}")) for k in ("abs", "signed", "abs_footprint")
        )
        passed = r.get("passed")
        out.append(
            [
                r["method"],
                r["model"],
                r["chamber"],
                rho,
                _vs(r, "deletion"),
                _vs(r, "insertion"),
                "n/a" if passed is None else ("yes" if passed else "**no (flagged)**"),
            ]
        )
    return out


def ig_nodes_text(c: Mapping[str, Any]) -> str:
    """The integrated-gradient nodes a completeness record states: ``"16 fixed"``, or for the
    adaptive rule ``"16 -> median 28, max 260 (cap 512)"``; ``""`` when it states none."""
    if "nodes_median" in c:
        capped = f", {c['capped']} capped" if c.get("capped") else ""
        return (
            f"{c['steps']} -> median {c['nodes_median']:g}, max {c['nodes_max']} "
            f"(cap {c['max_steps']}{capped})"
        )
    return f"{c['steps']} fixed" if "steps" in c else ""


def completeness_rows(rows: list[Mapping[str, Any]]) -> list[list[str]]:
    """Method, model, chamber, max |gap| (log-odds), tolerance, IG path nodes, passed."""
    out = []
    for r in rows:
        c = r.get("completeness")
        if not c:
            continue
        tol = f"rtol {c['rtol']:g}" if "rtol" in c else f"atol {c['atol']:g}"
        out.append(
            [
                r["method"],
                r["model"],
                r["chamber"],
                f"{c['max_abs_gap']:.2g}",
                tol,
                ig_nodes_text(c),
                "yes" if c["passed"] else "**no**",
            ]
        )
    return out


def sanity(inp: SectionInput) -> Section:
    """Attribution sanity checks (parameter randomisation, deletion / insertion, completeness)."""
    title = "Attribution sanity checks"
    folder = inp.stages.get("explain")
    path = None if folder is None else folder / "figures" / SANITY_FILE
    if path is None or not path.is_file():
        why = inp.missing.get("explain", "the explain stage wrote no sanity.json")
        return Section(title, missing=[f"No sanity checks: {why}."])
    rows = json.loads(path.read_text()).get("rows", [])
    first = next((r for r in rows if r.get("randomisation")), None)
    thr = first["randomisation"]["threshold"] if first else 0.5
    n = first.get("n_clusters") if first else None
    text = (
        "Do the attribution maps explain the model? **Randomisation** (Adebayo et al. 2018): "
        "layers re-initialised one by one from the output layer with the module's own "
        "initialiser; the Spearman rank correlation of the trained and the fully randomised "
        f"maps (mean over {n} test clusters of the training chamber), of the magnitudes over "
        "the cluster's own pixels and of the signed maps, must both stay below "
        f"{thr:g} in absolute value, else the method is flagged (its maps show the input or "
        "the architecture, not training). Magnitudes over the whole window are shown too; "
        "they do not enter the flag, because integrated gradients and occlusion are zero on "
        "empty pixels whatever the weights. "
        "**Deletion / insertion**: the most-attributed pixels (towards the predicted class) "
        "replaced by the preprocessed empty window (deletion) or put back onto it "
        "(insertion) in 20 steps; area under the predicted-class probability, against "
        "random pixel orders (lower deletion and higher insertion than random is better). "
        "**Completeness**: integrated gradients must sum to f(x) - f(baseline) within rtol x "
        "max(|f(x) - f(baseline)|, 1) per cluster; the adaptive rule bisects each cluster's "
        "path intervals where their own gap is largest (at the ReLU kinks) until the summed "
        "interval gaps are within it, so the nodes used per cluster are stated."
    )
    sec = Section(
        title,
        text,
        [
            Table(
                "Sanity checks per method and model",
                [
                    "method",
                    "model",
                    "chamber",
                    "rho, all layers random (abs. window / signed / abs. cluster pixels)",
                    "deletion AUC vs random",
                    "insertion AUC vs random",
                    "passed",
                ],
                sanity_rows(rows),
            ),
            Table(
                "Completeness: IG sums to f(x) - f(baseline), SHAP sums to the margin",
                [
                    "method",
                    "model",
                    "chamber",
                    "max abs gap (log-odds)",
                    "tolerance",
                    "IG path nodes (initial -> per cluster)",
                    "passed",
                ],
                completeness_rows(rows),
            ),
        ],
    )
    for r in rows:
        if r.get("error"):
            sec.missing.append(f"Sanity checks of {r['model']} on {r['chamber']}: {r['error']}.")
    return sec


SECTIONS["sanity"] = sanity

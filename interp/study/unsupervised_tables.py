"""Unsupervised versus supervised models of a matrix result (``matrix.json``): where a model
trained on reconstruction (objective ``"reconstruct"``, e.g. the autoencoder) beats or loses
to the class-supervised models of the same (train, test) cell, overall and per noise kind,
especially kind (f) (real tracks labelled noise: label noise a supervised model learns as
truth). Models are told apart by their spec's objective
(:data:`models.contract.OBJECTIVES`), never by name. All numbers at threshold 0.5, means
over training seeds, from the matrix's evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interp.core.formatting import pct
from interp.study.matrix_tables import KIND_COLUMNS

KIND_F = "unreconstructed"
"""Truth key of noise kind (f)."""


def objective_of(model: str) -> str | None:
    """The spec objective of a model name; ``None`` if the name no longer resolves."""
    import models

    return models.model_spec(model).objective if models.is_model(model) else None


def _metric(ev: Mapping[str, Any], key: str) -> float | None:
    return ev["at_0.5"]["metrics"].get(key, {}).get("value")


def _kind_rates(ev: Mapping[str, Any]) -> dict[str, float]:
    nr = (ev.get("by_truth") or {}).get("noise_removed") or {}
    return {k: nr[k]["value"] for k, _ in KIND_COLUMNS if nr.get(k, {}).get("value") is not None}


def comparisons(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per (unsupervised model, train chamber, test chamber) with a supervised model
    in the same cell.

    Returns:
        ``[{"model", "train_chamber", "test_chamber", "balanced_accuracy", "signal_lost",
        "best_supervised", "best_supervised_balanced_accuracy", "best_supervised_signal_lost",
        "kind_f", "kind_f_supervised" {model: rate}, "beats" [kinds], "loses" [kinds]}]``;
        ``beats``: kinds where it removes more noise than every supervised model,
        ``loses``: less than every one; rates are fractions (``kind_f`` ``None`` without
        truth).
    """
    objective = {c["model"]: objective_of(c["model"]) for c in result["cells"]}
    by_key = {(c["model"], c["train_chamber"]): c for c in result["cells"]}
    out = []
    for cell in result["cells"]:
        if objective[cell["model"]] != "reconstruct":
            continue
        for t, ev in cell["evaluations"].items():
            sup = {
                m: by_key[(m, cell["train_chamber"])]["evaluations"][t]
                for m, obj in objective.items()
                if obj == "classify" and (m, cell["train_chamber"]) in by_key
            }
            sup = {m: e for m, e in sup.items() if _metric(e, "balanced_accuracy") is not None}
            if not sup:
                continue
            best = max(sup, key=lambda m: _metric(sup[m], "balanced_accuracy"))
            mine = _kind_rates(ev)
            theirs = {m: _kind_rates(e) for m, e in sup.items()}
            kinds = [
                k for k, _ in KIND_COLUMNS if k in mine and all(k in r for r in theirs.values())
            ]
            out.append(
                {
                    "model": cell["model"],
                    "train_chamber": cell["train_chamber"],
                    "test_chamber": t,
                    "balanced_accuracy": _metric(ev, "balanced_accuracy"),
                    "signal_lost": _metric(ev, "signal_lost"),
                    "best_supervised": best,
                    "best_supervised_balanced_accuracy": _metric(sup[best], "balanced_accuracy"),
                    "best_supervised_signal_lost": _metric(sup[best], "signal_lost"),
                    "kind_f": mine.get(KIND_F),
                    "kind_f_supervised": {m: r[KIND_F] for m, r in theirs.items() if KIND_F in r},
                    "beats": [k for k in kinds if all(mine[k] > r[k] for r in theirs.values())],
                    "loses": [k for k in kinds if all(mine[k] < r[k] for r in theirs.values())],
                }
            )
    return out


_LABEL = dict(KIND_COLUMNS)


def _kinds(keys: list[str]) -> str:
    return ", ".join(_LABEL[k].split(" ")[0] for k in keys) or "none"


def comparison_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    """Rows of :data:`COMPARISON_HEADER` (percent)."""
    rows = []
    for e in entries:
        sup_f = e["kind_f_supervised"]
        rng = (
            f"{pct(min(sup_f.values()))}-{pct(max(sup_f.values()))}" if sup_f else "n/a"
        )  # fmt: skip
        rows.append(
            [
                e["model"],
                e["train_chamber"],
                e["test_chamber"],
                pct(e["balanced_accuracy"]),
                f"{pct(e['best_supervised_balanced_accuracy'])} ({e['best_supervised']})",
                pct(e["signal_lost"]),
                pct(e["best_supervised_signal_lost"]),
                pct(e["kind_f"]),
                rng,
                _kinds(e["beats"]),
                _kinds(e["loses"]),
            ]
        )
    return rows


COMPARISON_HEADER: list[str] = [
    "unsupervised model",
    "trained on",
    "tested on",
    "balanced acc.",
    "best supervised (model)",
    "SL",
    "SL best supervised",
    "NR (f)",
    "NR (f) supervised (min-max)",
    "removes more noise than every supervised model on",
    "removes less than every supervised model on",
]


def comparison_text(entries: list[dict[str, Any]]) -> str:
    """Sentences on the within-chamber entries (train = test chamber): the balanced accuracy
    beside the best supervised model's, and kind (f) beside the supervised range."""
    parts = []
    for e in entries:
        if e["train_chamber"] != e["test_chamber"]:
            continue
        gap = 100 * (e["balanced_accuracy"] - e["best_supervised_balanced_accuracy"])
        where = "below" if gap < 0 else "above"
        s = (
            f"{e['model']} on {e['train_chamber']}: balanced accuracy "
            f"{pct(e['balanced_accuracy'])} %, {abs(gap):.1f} points {where} the best supervised "
            f"model ({e['best_supervised']}, {pct(e['best_supervised_balanced_accuracy'])} %)"
        )
        sup_f = e["kind_f_supervised"]
        if e["kind_f"] is not None and sup_f:
            lo, hi = min(sup_f.values()), max(sup_f.values())
            verdict = (
                "more than every supervised model"
                if e["kind_f"] > hi
                else "less than every supervised model"
                if e["kind_f"] < lo
                else "within the supervised models' range"
            )
            s += (
                f"; on kind (f) it removes {pct(e['kind_f'])} % of the noise, {verdict} "
                f"({pct(lo)}-{pct(hi)} %), losing {pct(e['signal_lost'])} % of the signal "
                f"(best supervised: {pct(e['best_supervised_signal_lost'])} %)"
            )
        parts.append(s + ".")
    return " ".join(parts)

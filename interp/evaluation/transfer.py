"""Train -> test chamber diagnostics of a study: feature shift, warnings, recalibration.

Glue between the study's chamber data (:class:`interp.study.inputs.ChamberData`: ``parts`` with
``train``/``val``/``test`` cluster sets) and the computations in :mod:`interp.evaluation.shift` and
:mod:`interp.evaluation.recalibration`; used by ``evaluate``, ``matrix`` and ``train``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from interp.evaluation.recalibration import DEFAULT_SIZES, recalibration_curve
from interp.evaluation.shift import feature_shift

USELESS_MARGIN = 0.02
"""A balanced accuracy within this margin of 0.5 marks a useless transfer."""
POOL_CLUSTERS = 20_000
"""Target-train clusters scored for the recalibration draws (the largest size is 10k)."""


def policy_line(matrix: Mapping[str, Any]) -> str:
    """One sentence on the split policy recorded in ``matrix.json``."""
    pol = matrix.get("splits_policy") or {"policy": "independent", "groups": []}
    if pol["policy"] == "shared":
        groups = "; ".join(", ".join(g) for g in pol["groups"])
        return (
            f"Splits policy: **shared** ({groups} share event ids, so one event assignment was "
            "made on the union of their events: no collision is in one chamber's training split "
            "and another's test split)."
        )
    return "Splits policy: **independent** (no chambers share event ids; each is split on its own)."


def pair_key(train_chamber: str, test_chamber: str) -> str:
    """``"VTPC2->MTPCL"``: the key of a transfer in ``matrix.json``."""
    return f"{train_chamber}->{test_chamber}"


def transfer_warning(evaluation: Mapping[str, Any]) -> str | None:
    """One sentence when a transfer is inverted (AUC < 0.5) or useless (balanced accuracy at
    threshold 0.5 within 2 points of 50 %), else ``None``.

    Args:
        evaluation: One :func:`interp.study.scoring.evaluate_one` result.
    """
    m = evaluation["at_0.5"]["metrics"]
    auc = m.get("roc_auc", {}).get("value")
    bal = m.get("balanced_accuracy", {}).get("value")
    if auc is not None and auc < 0.5:
        return (
            f"inverted transfer: AUC {100 * auc:.1f} % < 50 % (the scores rank noise above signal)"
        )
    if bal is not None and abs(bal - 0.5) <= USELESS_MARGIN:
        acc = m.get("accuracy", {}).get("value")
        what = (
            "" if acc is None else f"; the accuracy {100 * acc:.1f} % only reflects the class mix"
        )
        return f"useless transfer: balanced accuracy {100 * bal:.1f} % at threshold 0.5{what}"
    return None


def study_shift(
    data: Mapping[str, Any], seed: int = 0, max_clusters: int = 20_000
) -> dict[str, dict[str, Any]]:
    """:func:`interp.evaluation.shift.feature_shift` of every ordered pair of different chambers
    (train
    split of the training chamber vs test split of the test chamber), keyed by
    :func:`pair_key`."""
    return {
        pair_key(a, b): feature_shift(
            data[a].parts["train"], data[b].parts["test"], max_clusters, seed=seed
        )
        for a in data
        for b in data
        if a != b
    }


def recalibrate(
    clf: Any,
    target: Any,
    evaluation: Mapping[str, Any] | None = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    repeats: int = 20,
    max_signal_loss: float = 0.05,
    seed: int = 0,
    test_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """:func:`interp.evaluation.recalibration.recalibration_curve` of a classifier on a target
    chamber.

    Draws come from the target's train split (at most :data:`POOL_CLUSTERS` scored), the
    reference threshold from its whole validation split, rates from its test split.

    Args:
        clf: Classifier (``predict_proba``).
        target: The target's :class:`~interp.study.inputs.ChamberData`.
        evaluation: The transfer's evaluation (its operating-point threshold is the
            "no recalibration" row).
        test_scores: ``clf``'s P(signal) float [N] of the target's test split when already
            computed (``None``: scored here).
    """
    rng = np.random.default_rng(seed)
    pool = target.parts["train"]
    if len(pool) > POOL_CLUSTERS:
        pool = pool.subset(np.sort(rng.choice(len(pool), POOL_CLUSTERS, replace=False)))
    val, test = target.parts["val"], target.parts["test"]
    src = None if evaluation is None else evaluation["operating_point"]["threshold"]
    return recalibration_curve(
        clf.predict_proba(pool.charge),
        pool.label,
        clf.predict_proba(val.charge),
        val.label,
        clf.predict_proba(test.charge) if test_scores is None else test_scores,
        test.label,
        sizes=sizes,
        repeats=repeats,
        max_signal_loss=max_signal_loss,
        seed=seed,
        source_threshold=src,
    )


def cell_transfer(
    clf: Any,
    train_chamber: str,
    data: Mapping[str, Any],
    evaluations: Mapping[str, Mapping[str, Any]],
    max_signal_loss: float = 0.05,
    seed: int = 0,
    test_scores: Mapping[str, np.ndarray] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per test chamber other than the training one: ``{"warning", "recalibration"}``;
    ``test_scores``: chamber -> ``clf``'s P(signal) of its test split, where already computed."""
    test_scores = test_scores or {}
    return {
        t: {
            "warning": transfer_warning(ev),
            "recalibration": recalibrate(
                clf,
                data[t],
                ev,
                max_signal_loss=max_signal_loss,
                seed=seed,
                test_scores=test_scores.get(t),
            ),
        }
        for t, ev in evaluations.items()
        if t != train_chamber
    }


def shift_summary_line(shift: Mapping[str, Any]) -> str:
    """``"shift VTPC2->MTPCL: largest KS pad_rms 0.41 (signal), ..."`` for the CLI."""
    parts = []
    for name, f in shift["features"].items():
        best = max(
            ((c, v) for c, v in f["classes"].items() if v["ks"] == v["ks"]),
            key=lambda cv: cv[1]["ks"],
            default=None,
        )
        if best is None:
            continue
        w = best[1]["wasserstein_sd"]
        ws = "n/a" if w is None else f"{w:.2f} sd"
        parts.append(f"{name} KS {best[1]['ks']:.2f} / W1 {ws} ({best[0]})")
    return f"shift {pair_key(shift['train_chamber'], shift['test_chamber'])}: " + "; ".join(parts)


def recalibration_line(recal: Mapping[str, Any]) -> str:
    """``"recalibration: 1000 labelled MTPCL clusters recover ..."`` for the CLI."""
    ref = recal["reference"]
    need = recal["clusters_needed"]
    head = (
        f"target's own operating point: noise removed {100 * ref['noise_removed']:.1f} %, "
        f"signal lost {100 * ref['signal_lost']:.1f} %"
    )
    if recal.get("source"):
        s = recal["source"]
        head += (
            f" (carried-over threshold: {100 * s['noise_removed']:.1f} % / "
            f"{100 * s['signal_lost']:.1f} %)"
        )
    tried = [r["n"] for r in recal["sizes"] if r["available"]]
    if need is None:
        tail = f"not recovered within 1 point with up to {max(tried) if tried else 0} clusters"
    else:
        tail = f"{need} labelled target clusters recover it within 1 point (median)"
    return f"recalibration: {head}; {tail}"

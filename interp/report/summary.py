"""The report's first section: headline table, findings computed from the stage results, and
the key figures grouped by question, each with a caption that carries its number.

Nothing here is hard-coded text with numbers: every number is read from ``matrix.json``
(:func:`interp.study.matrix.run_matrix`) or the explain stage's ``explain_summary.json``
(:mod:`interp.study.explain_stage`). Accuracies and rates are fractions in the JSON and printed in
percent (one decimal) or points (``+x.x``); weights are in units of the perceptron's input
(normalised charge) and printed with three significant digits.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from interp.core.formatting import pct, pts
from interp.core.published import published_rates
from interp.plots.reliability import reliability_caption
from interp.report.sections import (
    _ACC_HEADER,
    Table,
    _acc,
    _accuracy_rows,
)


@dataclasses.dataclass
class Finding:
    """One finding: a sentence (Markdown inline, numbers formatted from ``values``), the
    anchor of its evidence, and the numbers it states (fractions as in the JSON)."""

    key: str
    text: str
    anchor: str
    values: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class KeyFigure:
    """A figure shown inline: interactive HTML path and the caption saying what to read off."""

    path: Path
    caption: str


@dataclasses.dataclass
class Summary:
    """The summary section's content (rendered by :mod:`interp.report.markdown`/``html``)."""

    headline: Table | None
    findings: list[Finding]
    groups: list[tuple[str, list[KeyFigure]]]
    missing: list[str]


QUESTIONS: tuple[str, ...] = (
    "What do the models look at?",
    "Where do they fail?",
    "How do they transfer?",
)
"""Figure groups of the summary, in order."""


def _w(x: float) -> str:
    return f"{x:.3g}"


def _paired(matrix: Mapping[str, Any], c: str, t: str, a: str, b: str) -> dict[str, Any] | None:
    """The paired entry of ``a - b`` on (c -> t), sign-flipped when stored as ``b - a``."""
    for p in matrix.get("paired", []):
        if p["train_chamber"] != c or p["test_chamber"] != t:
            continue
        if (p["model_a"], p["model_b"]) == (a, b):
            return dict(p)
        if (p["model_a"], p["model_b"]) == (b, a):
            q = dict(p)
            for k in ("value", "lo", "hi"):
                q[k] = None if p[k] is None else -p[k]
            if q["lo"] is not None:
                q["lo"], q["hi"] = q["hi"], q["lo"]
            return q
    return None


def ordering(matrix: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per chamber, models by within-chamber balanced accuracy (best first), each with its
    paired difference to the next one: ``{chamber: [{"model", "value", "diff", "significant"}]}``
    (``diff``/``significant`` of the last model are ``None``)."""
    by_c: dict[str, list[tuple[str, float]]] = {}
    for cell in matrix["cells"]:
        c = cell["train_chamber"]
        v = _acc(cell["evaluations"][c])["value"]
        if v is not None:
            by_c.setdefault(c, []).append((cell["model"], v))
    out = {}
    for c, items in by_c.items():
        items.sort(key=lambda mv: -mv[1])
        rows = []
        for i, (m, v) in enumerate(items):
            row: dict[str, Any] = {"model": m, "value": v, "diff": None, "significant": None}
            if i + 1 < len(items):
                p = _paired(matrix, c, c, m, items[i + 1][0])
                if p is not None:
                    row["diff"], row["significant"] = p["value"], p["significant"]
            rows.append(row)
        out[c] = rows
    return out


def _ordering_finding(matrix: Mapping[str, Any], anchor: str) -> Finding:
    order = ordering(matrix)
    parts = []
    for c, rows in order.items():
        s = f"{rows[0]['model']} {pct(rows[0]['value'])} %"
        for prev, r in itertools.pairwise(rows):
            sig = {True: "significant", False: "not significant", None: "no paired test"}
            d = "n/a" if prev["diff"] is None else pts(prev["diff"])
            s += f" > ({d} points, {sig[prev['significant']]}) {r['model']} {pct(r['value'])} %"
        parts.append(f"{c}: {s}")
    return Finding(
        "ordering",
        "**Model ordering within each chamber** (balanced accuracy; paired difference to the "
        "next model, significant when its 95 % interval excludes 0): " + "; ".join(parts) + ".",
        anchor,
        {"ordering": order},
    )


def largest_drop(matrix: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cross-chamber cell with the largest fall of balanced accuracy against its own
    chamber: ``{"model", "train", "test", "own", "cross", "drop"}`` (fractions)."""
    best = None
    for cell in matrix["cells"]:
        c = cell["train_chamber"]
        own = _acc(cell["evaluations"][c])["value"]
        for t, ev in cell["evaluations"].items():
            v = _acc(ev)["value"]
            if t == c or own is None or v is None:
                continue
            if best is None or own - v > best["drop"]:
                best = {"model": cell["model"], "train": c, "test": t, "own": own, "cross": v,
                        "drop": own - v}  # fmt: skip
    return best


def _drop_finding(matrix: Mapping[str, Any], anchor: str) -> Finding | None:
    d = largest_drop(matrix)
    if d is None:
        return None
    return Finding(
        "largest_drop",
        f"**Largest cross-chamber drop:** {d['model']} trained on {d['train']} falls from "
        f"{pct(d['own'])} % on {d['train']} to {pct(d['cross'])} % on {d['test']} "
        f"({pts(-d['drop'])} points).",
        anchor,
        d,
    )


def operating_points(matrix: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per model with published rates, the within-chamber operating point on the published
    chamber (else the first): ``{"model", "chamber", "nr", "sl", "pub_nr", "pub_sl"}``."""
    out = []
    for model in matrix["config"]["models"]:
        pub = published_rates(model)
        if pub["noise_removed"] is None:
            continue
        cells = [c for c in matrix["cells"] if c["model"] == model]
        pick = [c for c in cells if c["train_chamber"] == pub["operating_chamber"]] or cells
        if not pick:
            continue
        cell = pick[0]
        m = cell["evaluations"][cell["train_chamber"]]["operating_point"]["metrics"]
        out.append(
            {
                "model": model,
                "chamber": cell["train_chamber"],
                "nr": m["noise_removed"]["value"],
                "sl": m["signal_lost"]["value"],
                "pub_nr": pub["noise_removed"],
                "pub_sl": pub["signal_lost"],
            }
        )
    return out


def _rates_finding(matrix: Mapping[str, Any], anchor: str) -> Finding | None:
    ops = operating_points(matrix)
    if not ops:
        return None
    loss = pct(matrix["config"]["max_signal_loss"], 0)
    parts = [
        f"{o['model']} ({o['chamber']}) {pct(o['nr'])} % / {pct(o['sl'])} % "
        f"(published {pct(o['pub_nr'])} / {pct(o['pub_sl'])})"
        for o in ops
    ]
    return Finding(
        "operating_point",
        f"**At the operating point** (validation threshold for signal loss <= {loss} %), "
        "noise removed / signal lost: " + "; ".join(parts) + ".",
        anchor,
        {"operating_points": ops},
    )


def _weights_finding(explain: Mapping[str, Any], anchor: str) -> Finding | None:
    per = explain.get("perceptron", {})
    if not per:
        return None
    vals = {
        c: {r: p.get(f"mean_{r}_diff_weight") for r in ("core", "cross", "outer")}
        for c, p in per.items()
    }
    parts = [
        f"{c}: cross {_w(v['cross'])}, core {_w(v['core'])}, outer {_w(v['outer'])}"
        for c, v in vals.items()
    ]
    neg = [c for c, v in vals.items() if v["cross"] is not None and v["cross"] < 0]
    verdict = (
        f"negative on the cross in {len(neg)} of {len(vals)} chamber(s)"
        if neg
        else "not negative on the cross in any chamber"
    )
    return Finding(
        "weights",
        "**Perceptron weight map** (mean signal - noise weight per unit of normalised charge, "
        f"by region): {'; '.join(parts)} ({verdict}).",
        anchor,
        {"weights": vals},
    )


def strongest_shift(matrix: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per train -> test pair, the feature and class with the largest KS statistic:
    ``{pair: {"feature", "class", "ks"}}``."""
    out = {}
    for key, sh in matrix.get("shift", {}).items():
        best = None
        for f in sh["features"].values():
            for cls, v in f["classes"].items():
                ks = v.get("ks")
                if ks is not None and ks == ks and (best is None or ks > best["ks"]):
                    best = {"feature": f["label"], "class": cls, "ks": ks}
        if best is not None:
            out[key] = best
    return out


def _shift_finding(matrix: Mapping[str, Any], anchor: str) -> Finding | None:
    s = strongest_shift(matrix)
    if not s:
        return None
    n_warn = sum(
        1 for c in matrix["cells"] for tr in c.get("transfer", {}).values() if tr.get("warning")
    )
    parts = [f"{k}: {v['feature']} of {v['class']} (KS {v['ks']:.2f})" for k, v in s.items()]
    return Finding(
        "shift",
        "**Largest feature shift between chambers**: "
        + "; ".join(parts)
        + f"; {n_warn} transfer(s) flagged inverted or useless.",
        anchor,
        {"shift": s, "warnings": n_warn},
    )


def recalibration(matrix: Mapping[str, Any]) -> dict[str, dict[str, int | None]]:
    """Labelled target clusters needed to recover the target's own operating point:
    ``{pair: {model: n or None}}`` (``None``: not within the sizes tried)."""
    from interp.evaluation.transfer import pair_key

    out: dict[str, dict[str, int | None]] = {}
    for cell in matrix["cells"]:
        for t, tr in cell.get("transfer", {}).items():
            key = pair_key(cell["train_chamber"], t)
            out.setdefault(key, {})[cell["model"]] = tr["recalibration"]["clusters_needed"]
    return out


def _recal_finding(matrix: Mapping[str, Any], anchor: str) -> Finding | None:
    r = recalibration(matrix)
    if not r:
        return None
    parts = []
    for key, by_model in r.items():
        ms = ", ".join(
            f"{m} {'not within the sizes tried' if n is None else n}" for m, n in by_model.items()
        )
        parts.append(f"{key}: {ms}")
    return Finding(
        "recalibration",
        "**Few-shot recalibration**, labelled target clusters needed to bring noise removed and "
        "signal lost within 1 point of the target's own operating point: " + "; ".join(parts) + ".",
        anchor,
        {"recalibration": r},
    )


def find_figure(figures: Sequence[Path], stem: str, suffix: bool = False) -> Path | None:
    """The first figure whose file stem is ``stem`` (or, with ``suffix``, ends with
    ``_<stem>``: report figures carry their study's name in front), or ``None``."""
    for f in figures:
        if f.stem == stem or (suffix and f.stem.endswith(f"_{stem}")):
            return f
    return None


def _attribution_key_figure(
    explain: Mapping[str, Any], figures: Sequence[Path]
) -> KeyFigure | None:
    """The mean attribution map per noise kind of the first method and model that passed the
    sanity checks (``explain_summary.json["sanity"]``), captioned with its check numbers."""
    for r in explain.get("sanity", []):
        if not r.get("passed") or r.get("deletion_auc") is None:
            continue
        m, c, method = r["model"], r["chamber"], r["method"]
        f = find_figure(figures, f"attr_{m}_{c}_on_{c}_{method}_kinds")
        if f is None:
            continue
        rho = r.get("randomisation_rho_abs_footprint", r.get("randomisation_rho_abs"))
        if rho is None:
            continue
        return KeyFigure(
            f,
            f"Mean {method.replace('_', ' ')} map per noise kind, {m} trained and tested on {c}: "
            "the pixels that push a cluster towards signal (positive, log-odds) or noise. "
            "The method passed the sanity checks: rank correlation with the map of a fully "
            f"randomised network {_w(rho)}, deletion area {_w(r['deletion_auc'])} against "
            f"{_w(r['deletion_auc_random'])} for random pixel orders.",
        )
    return None


def _key_figures(
    matrix: Mapping[str, Any] | None,
    explain: Mapping[str, Any] | None,
    figures: Sequence[Path],
) -> list[tuple[str, list[KeyFigure]]]:
    look: list[KeyFigure] = []
    fail: list[KeyFigure] = []
    move: list[KeyFigure] = []
    if explain:
        per = explain.get("perceptron", {})
        f = find_figure(figures, "weights_perceptron_chambers")
        if f is not None and per:
            vals = "; ".join(
                f"{c}: cross {_w(p['mean_cross_diff_weight'])}, core "
                f"{_w(p['mean_core_diff_weight'])}"
                for c, p in per.items()
            )
            look.append(
                KeyFigure(
                    f,
                    "Perceptron signal - noise weight maps per training chamber and their "
                    "difference. Read off the sign on the cross through the cluster centre "
                    f"against the core; mean weight per unit of normalised charge: {vals}.",
                )
            )
        for c, p in per.items():
            f = find_figure(figures, f"weights_perceptron_{c}")
            if f is not None:
                pos = p.get("peak_diff_position_pad_time")
                look.append(
                    KeyFigure(
                        f,
                        f"Perceptron weights trained on {c}: the largest signal - noise weight "
                        f"is {_w(p['peak_diff_weight'])} at (pad, time) {pos}; mean on the "
                        f"cross {_w(p['mean_cross_diff_weight'])}.",
                    )
                )
                break
        if (fig := _attribution_key_figure(explain, figures)) is not None:
            look.append(fig)
        for key, by_model in explain.get("physics", {}).items():
            c, _, t = key.partition("_on_")
            if c != t:
                continue
            f = find_figure(figures, f"physics_noise_removed_{key}")
            worst = _worst_kind(by_model)
            if f is not None and worst is not None:
                fail.append(
                    KeyFigure(
                        f,
                        f"Noise removed per noise kind at the operating point (trained and "
                        f"tested on {c}). Read off which kind survives: the lowest is "
                        f"{worst['model']} on kind {worst['kind']}, {pct(worst['value'])} % "
                        f"removed of {worst['n']} clusters.",
                    )
                )
                break
        for tag, cal in explain.get("calibration", {}).items():  # first reliability diagram
            if (f := find_figure(figures, f"reliability_{tag}")) is not None:
                fail.append(KeyFigure(f, reliability_caption(cal)))
                break
    if matrix is not None:
        order = ordering(matrix)
        f = find_figure(figures, "within_accuracy", suffix=True)
        if f is not None and order:
            best = "; ".join(
                f"{c}: {r[0]['model']} {pct(r[0]['value'])} %" for c, r in order.items()
            )
            fail.insert(
                0,
                KeyFigure(
                    f,
                    "Within-chamber balanced accuracy beside the published figures; best per "
                    f"chamber: {best}.",
                ),
            )
        d = largest_drop(matrix)
        f = find_figure(figures, "cross_accuracy", suffix=True)
        if f is not None and d is not None:
            move.append(
                KeyFigure(
                    f,
                    "Cross-chamber balanced accuracy beside the published figure. Largest drop: "
                    f"{d['model']} {d['train']} -> {d['test']}, {pts(-d['drop'])} points.",
                )
            )
        s = strongest_shift(matrix)
        r = recalibration(matrix)
        for key in s:
            stem = key.replace("->", "_to_")
            f = find_figure(figures, f"{stem}_shift", suffix=True)
            if f is not None:
                v = s[key]
                move.append(
                    KeyFigure(
                        f,
                        f"Feature shift {key} per class: the largest is {v['feature']} of "
                        f"{v['class']} clusters, KS {v['ks']:.2f}.",
                    )
                )
            f = find_figure(figures, f"{stem}_recalibration", suffix=True)
            if f is not None and key in r:
                ns = ", ".join(
                    f"{m} {'> sizes tried' if n is None else n}" for m, n in r[key].items()
                )
                move.append(
                    KeyFigure(
                        f,
                        f"Few-shot recalibration {key}: labelled target clusters needed to reach "
                        f"the target's own operating point within 1 point: {ns}.",
                    )
                )
            break
    return [(q, g) for q, g in zip(QUESTIONS, (look, fail, move), strict=True) if g]


def _worst_kind(by_model: Mapping[str, Any]) -> dict[str, Any] | None:
    """The (model, noise kind) with the lowest noise-removed rate in an explain physics entry
    (``{model: {"noise_removed": {kind: {"n", "removed", "rate"}}}}``)."""
    worst = None
    for model, b in by_model.items():
        nr = b.get("noise_removed") or {}
        for kind, v in nr.items():
            x = v.get("rate") if isinstance(v, Mapping) else None
            if isinstance(x, int | float) and (worst is None or x < worst["value"]):
                worst = {"model": model, "kind": kind, "value": float(x), "n": v.get("n")}
    return worst


def build_summary(
    runs: Sequence[tuple[Any, Mapping[str, Any]]],
    anchors: Mapping[str, str],
    figures: Sequence[Path],
) -> Summary:
    """The summary from the study runs.

    Args:
        runs: ``(study, {kind: StageResult})`` per study.
        anchors: Section name (``within_chamber``, ``cross_chamber``, ``rates``, ``paired``,
            ``weights``, ``shift``) -> HTML anchor of that section in this report.
        figures: Every figure of the report (HTML paths).
    """
    bad = ("missing", "failed")
    matrix = explain = None
    missing: list[str] = []
    for study, res in runs:
        for kind, r in res.items():
            if r.status in bad:
                missing.append(f"{study.name}/{kind} {r.status}: {r.reason or 'not run'}")
                continue
            if kind == "matrix" and matrix is None and (r.folder / "matrix.json").is_file():
                matrix = json.loads((r.folder / "matrix.json").read_text())
            f = r.folder / "figures" / "explain_summary.json"
            if kind == "explain" and explain is None and f.is_file():
                explain = json.loads(f.read_text())
    missing = sorted(set(missing))
    findings: list[Finding | None] = []
    headline = None
    if matrix is None:
        missing.append("no matrix results: no headline table, accuracy or transfer findings")
    else:
        headline = Table(
            "Headline: balanced accuracy (the published metric) beside the published figures",
            _ACC_HEADER,
            _accuracy_rows(matrix, True) + _accuracy_rows(matrix, False),
        )
        a = anchors.get
        findings += [
            _ordering_finding(matrix, a("paired") or a("within_chamber", "")),
            _drop_finding(matrix, a("cross_chamber", "")),
            _rates_finding(matrix, a("rates", "")),
        ]
    if explain is None:
        missing.append("no explain results: no weight-map finding")
    else:
        findings.append(_weights_finding(explain, anchors.get("weights", "")))
    if matrix is not None:
        findings += [
            _shift_finding(matrix, anchors.get("shift", "")),
            _recal_finding(matrix, anchors.get("shift", "")),
        ]
    return Summary(
        headline,
        [f for f in findings if f is not None],
        _key_figures(matrix, explain, figures),
        missing,
    )


__all__ = ["QUESTIONS", "Finding", "KeyFigure", "Summary", "build_summary"]

"""Report section ``finetune``: how many labelled clusters of a new chamber are needed.

Reads ``finetune.json`` of the study's ``finetune`` stage
(:func:`interp.study.finetune_stage.run_finetune`); draws :mod:`interp.plots.finetune`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.core.formatting import NA, pct, pts, with_ci
from interp.report.sections import SECTIONS, Section, SectionInput, Table

TITLE = "Transfer learning across chambers"
_KIND_LABEL = {"all": "all layers", "last": "output layer", "scratch": "from scratch"}


def load_finetune(inp: SectionInput) -> dict[str, Any] | None:
    """``finetune.json`` of the study's fine-tuning stage, or ``None``."""
    folder = inp.stages.get("finetune")
    if folder is None or not (folder / "finetune.json").is_file():
        return None
    return json.loads((folder / "finetune.json").read_text())


def _needed(n: int | None) -> str:
    return "not reached" if n is None else f"{n:,}"


def _curve_table(result: Mapping[str, Any]) -> Table:
    sizes = list(result["config"]["sizes"])
    rows = []
    for p in result["pairs"]:
        for kind, curve in p["curves"].items():
            by_n = {r["n"]: r for r in curve}
            cells = []
            for n in sizes:
                r = by_n.get(n)
                cells.append(with_ci(r["balanced_accuracy"]) if r and r["available"] else NA)
            label = _KIND_LABEL.get(kind, kind)
            if p.get("last_is_all") and kind == "last":
                label += " (= all layers)"
            rows.append([p["model"], f"{p['source']} -> {p['target']}", label, *cells])
    return Table(
        "Target test balanced accuracy (%) [95 % CI] after n labelled target clusters",
        ["model", "transfer", "training", *[f"n = {n:,}" for n in sizes]],
        rows,
    )


def _summary_table(result: Mapping[str, Any]) -> Table:
    rows = []
    for p in result["pairs"]:
        ind = p["in_domain"]["balanced_accuracy"]
        unch = p["unchanged"]["balanced_accuracy"]
        gap = None if None in (ind["value"], unch["value"]) else unch["value"] - ind["value"]
        need = p["clusters_needed"]
        rows.append(
            [
                p["model"],
                f"{p['source']} -> {p['target']}",
                with_ci(ind),
                with_ci(unch),
                pts(gap),
                _needed(need.get("all")),
                _needed(need.get("last")),
                _needed(need.get("scratch")),
            ]
        )
    return Table(
        "Labelled target clusters needed to come within "
        f"{100 * result['config']['tolerance']:.0f} point of the target's in-domain balanced "
        "accuracy (smallest n tried)",
        [
            "model",
            "transfer",
            "in-domain balanced acc. (%)",
            "source unchanged (%)",
            "unchanged - in-domain (points)",
            "n needed: all layers",
            "n needed: output layer",
            "n needed: from scratch",
        ],
        rows,
    )


def _text(result: Mapping[str, Any]) -> str:
    cfg, budget = result["config"], result["budget"]
    epochs = ", ".join(f"{int(n):,}: {e}" for n, e in budget["epochs"].items())
    skipped = "; ".join(f"{s['model']} ({s['reason']})" for s in result.get("skipped", []))
    return (
        "A model trained on one chamber (the matrix's first training seed) is fine-tuned with n "
        "labelled clusters of the other chamber, drawn by whole events from that chamber's "
        "train split, either every layer or only the output layer (the Dense layer producing "
        "the logits, found in the parameter tree); the same architecture is trained from "
        "scratch on the same n clusters with its own matrix settings (epochs, early stopping), "
        + (
            "its learning rate swept per run. "
            if cfg.get("scratch_lr_finder", True)
            else "at the learning rate the source model's LR sweep chose (no sweep per n). "
        )
        + "Validation (early stopping and the operating point, at most "
        f"{pct(cfg['max_signal_loss'], 0)} % of the validation signal lost) is drawn the same "
        "way from the target's val split, n x "
        f"{budget['val_ratio']:.3f} clusters (the study's val/train ratio). Balanced accuracy "
        "on the target's test split at that operating point; the source model unchanged keeps "
        "its own operating point, and so does the in-domain model (the target's own matrix "
        f"classifier, first seed). Intervals: 95 %, {cfg['n_boot']} bootstrap replicates of the "
        "test "
        f"events" + (f" and the {cfg['draws']} draws" if cfg["draws"] > 1 else "") + ". "
        f"Budget traded: n in {', '.join(f'{n:,}' for n in cfg['sizes'])}; {cfg['draws']} "
        f"draw(s) per n; fine-tuning epochs by n ({epochs}: at least "
        f"{cfg['min_sample_epochs']:,} samples x epochs, at most {cfg['max_epochs']}), batches "
        f"for at least {cfg['min_steps_per_epoch']} steps per epoch, peak learning rate "
        f"{cfg['lr_factor']:g} x the source model's. Stage time "
        f"{result.get('seconds', 0):.0f} s wall, {result.get('cpu_seconds', 0):.0f} s CPU."
        + (f" Not fine-tuned: {skipped}." if skipped else "")
    )


def finetune(inp: SectionInput) -> Section:
    """Fine-tuning curves, their table and the clusters needed, per model and direction."""
    from interp.plots.finetune import finetune_figure
    from interp.report.figure_writer import write_figures

    result = load_finetune(inp)
    if result is None:
        why = inp.missing.get("finetune", "the study has no finetune stage")
        return Section(TITLE, missing=[f"No fine-tuning results: {why}."])
    by_dir: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for p in result["pairs"]:
        by_dir.setdefault((p["source"], p["target"]), []).append(p)
    figs = {
        f"{inp.study_name}_finetune_{a}_to_{b}": finetune_figure(pairs, a, b)
        for (a, b), pairs in by_dir.items()
    }
    source: Path = inp.stages["finetune"] / "finetune.json"
    return Section(
        TITLE,
        _text(result),
        [_summary_table(result), _curve_table(result)],
        write_figures(figs, inp.figure_dir, inp.png, source),
    )


SECTIONS["finetune"] = finetune

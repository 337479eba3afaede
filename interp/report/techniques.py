"""Report section ``techniques``: fold ensembles and test-time augmentation.

Reads the ``techniques`` rows of the matrix stage's ``matrix.json``
(:func:`interp.study.techniques.technique_rows`) and renders the two tables defined once in
:mod:`interp.study.techniques`: the paired gains (ensemble and TTA against the single model,
with the TTA scoring cost and the pad-mirror symmetry check in words) and the fold spread (each
fold model's test balanced accuracy beside the single model's seed spread, and the
out-of-fold operating threshold). Nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from interp.report.sections import SECTIONS, Section, SectionInput, Table, ci_note, load_matrix
from interp.study.techniques import (
    GAIN_HEADER,
    GAIN_NOTE,
    SPREAD_HEADER,
    SPREAD_NOTE,
    gain_table,
    spread_table,
)


def profile_sentence(config: Mapping[str, Any]) -> str:
    """What the matrix ran: ``k = 3 folds and pad-mirror TTA for perceptron, split_conv``."""
    models = config.get("technique_models")
    models = config.get("models", []) if models is None else models
    parts = []
    if config.get("folds"):
        parts.append(f"a {config['folds']}-fold ensemble")
    if config.get("tta"):
        parts.append(f"{'+'.join(config['tta'])} TTA")
    return (
        f"This matrix ({config.get('profile')} profile) ran {' and '.join(parts)} for "
        f"{', '.join(models)} (the quick profile: k = 3 for the perceptron and the split "
        "convolution only, to stay cheap; the full profile: k = 5 for every Flax model)."
    )


def technique_seconds(rows: Sequence[Mapping[str, Any]]) -> float:
    """Wall seconds the technique rows cost in the run that made them (training included)."""
    return float(sum(r.get("seconds") or 0.0 for r in rows))


def techniques(inp: SectionInput) -> Section:
    """Fold spread, ensemble and TTA gains with paired intervals."""
    title = "Fold ensembles and test-time augmentation"
    matrix = load_matrix(inp)
    if matrix is None:
        why = inp.missing.get("matrix", "the matrix stage has not run")
        return Section(title, missing=[f"No matrix results: {why}."])
    rows = matrix.get("techniques") or []
    if not rows:
        return Section(
            title,
            missing=[
                "This matrix has no technique rows (MatrixConfig.folds / tta are off in "
                f"the {matrix['config'].get('profile')} profile; `tpc-interp matrix --folds K "
                "--tta pad-mirror` adds them)."
            ],
        )
    # one ensemble per (model, training chamber); its rows repeat its training seconds
    trained = {(r["model"], r["train_chamber"]): r["train_seconds"] for r in rows
               if r.get("train_seconds")}  # fmt: skip
    cost = (
        f" The rows cost {technique_seconds(rows):.0f} s of wall time in the run that made "
        f"them ({sum(trained.values()):.0f} s of it training the fold ensembles)."
        if trained
        else ""
    )
    tables = [Table("Paired gains over the single model", GAIN_HEADER, gain_table(rows))]
    spread = spread_table(rows)
    if spread:
        tables.append(Table("Fold spread and the out-of-fold threshold", SPREAD_HEADER, spread))
    text = f"{profile_sentence(matrix['config'])}{cost} {GAIN_NOTE} {SPREAD_NOTE}{ci_note(matrix)}"
    return Section(title, text, tables)


SECTIONS["techniques"] = techniques

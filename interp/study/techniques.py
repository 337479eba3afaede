"""Fold-ensemble and test-time-augmentation rows of the matrix (off by default).

With :attr:`MatrixConfig.folds` = k, every (model, training chamber) cell also trains a
k-fold ensemble (:func:`interp.backends.fold_training.train_fold_ensemble`, on the cell's
capped training split, in ``WORKDIR/ensembles/<model>/<chamber>``; reused when its training
identity is unchanged) and scores it on every test chamber; with :attr:`MatrixConfig.tta`
(e.g. ``("pad-mirror",)``) the cell's first-seed model is also scored with test-time
augmentation (:class:`interp.backends.tta.TTAClassifier`). Each row gets the balanced-accuracy
gain at threshold 0.5 with an event-bootstrap paired interval
(:func:`interp.evaluation.metrics.paired_difference`): the ensemble against the single model
(all its training seeds, so the interval holds their spread), TTA against the same model's
plain scores (seed 0 on both sides). TTA rows also carry the pad-mirror symmetry check of the
test split (:func:`interp.data.symmetry.pad_mirror_check`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from interp.backends.classifier import Classifier, load_classifier
from interp.core.names import name_folder
from interp.evaluation.metrics import paired_difference
from interp.study.config import MatrixConfig
from interp.study.inputs import ChamberData
from interp.study.scoring import ScoredTest, score_test

IDENTITY_FILE = "ensemble_identity.json"


def cell_ensemble(
    model: str, data: ChamberData, config: MatrixConfig, workdir: Path, progress: bool = False
) -> tuple[Classifier, float | None]:
    """The cell's k-fold ensemble, trained or reused; returns it and its training seconds."""
    from interp.backends.fold_training import train_fold_ensemble
    from interp.study.identity import data_fingerprint, to_jsonable
    from interp.study.training import cap_train_split, cell_overrides, make_train_config

    train = cap_train_split(data.parts["train"], config.max_train_clusters, config.seed)
    cfg = make_train_config(model, config.profile, cell_overrides(model, config), config.seed)
    run_dir = name_folder(Path(workdir) / "ensembles", model, data.chamber,
                          kinds=("model", "chamber"))  # fmt: skip
    identity = {
        "model": model,
        "k": int(config.folds or 0),
        "config": to_jsonable(cfg),
        "fingerprint": data_fingerprint(train, data.parts["val"]),
    }
    ident_path = run_dir / IDENTITY_FILE
    if ident_path.is_file() and (run_dir / "classifier.json").is_file():
        try:
            stored = json.loads(ident_path.read_text())
        except ValueError:
            stored = None
        if stored == json.loads(json.dumps(identity, default=str)):
            return load_classifier(run_dir), None
    t0 = time.perf_counter()
    ens = train_fold_ensemble(model, train, int(config.folds), cfg, run_dir, seed=config.seed,
                              progress=progress)  # fmt: skip
    seconds = time.perf_counter() - t0
    from interp.core.fsutil import atomic_write_text

    atomic_write_text(ident_path, json.dumps(identity, indent=1, default=str))
    return ens, seconds


def technique_rows(
    model: str,
    chamber: str,
    clfs: Sequence[Classifier],
    scored: Mapping[str, ScoredTest],
    data: Mapping[str, ChamberData],
    config: MatrixConfig,
    workdir: Path,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """The ensemble and TTA rows of one cell (see the module docstring).

    Args:
        model, chamber: The cell.
        clfs: The cell's classifiers, one per training seed.
        scored: Test chamber -> the cell's :class:`ScoredTest`.
        data: Chamber -> its data.
        config: Matrix settings (``folds``, ``tta``, ``n_boot``, ``seed``).
        workdir: Study folder.

    Returns:
        Rows ``{"model", "train_chamber", "test_chamber", "technique", "paired",
        "predict_seconds", ...}``.
    """
    rows: list[dict[str, Any]] = []
    val = data[chamber].parts["val"]
    variants: list[tuple[str, Classifier, list, dict[str, Any]]] = []
    if config.folds:
        ens, seconds = cell_ensemble(model, data[chamber], config, workdir, progress)
        extra = {"fold_metrics": ens.info.get("fold_metrics"),
                 "weights": [float(w) for w in ens.weights], "train_seconds": seconds}  # fmt: skip
        variants.append((f"ensemble (k = {config.folds})", ens, [], extra))
    if config.tta:
        from interp.backends.tta import TTAClassifier

        variants.append((f"TTA ({'+'.join(config.tta)})", TTAClassifier(clfs[0], config.tta),
                         [0], {}))  # fmt: skip
    for technique, clf, seeds, extra in variants:
        val_scores = [clf.predict_proba(val.charge)]
        for test_chamber, base in scored.items():
            sc = score_test([clf], val, base.test, config.max_signal_loss, val_scores)
            b = base.scores if not seeds else [base.scores[i] for i in seeds]
            d = paired_difference(sc.scores, b, base.test.label, base.test.event_id, 0.5, 0.5,
                                  "balanced_accuracy", config.n_boot, config.seed)  # fmt: skip
            row = {"model": model, "train_chamber": chamber, "test_chamber": test_chamber,
                   "technique": technique, "paired": d, "predict_seconds": sc.predict_seconds,
                   "plain_predict_seconds": base.predict_seconds / max(len(base.scores), 1),
                   "n_test": len(base.test), **extra}  # fmt: skip
            if technique.startswith("TTA"):
                from interp.data.symmetry import pad_mirror_check

                row["symmetry"] = pad_mirror_check(base.test, seed=config.seed)
            rows.append(row)
    return rows


def technique_lines(result: Mapping[str, Any]) -> list[str]:
    """Markdown section of the technique rows (empty when the matrix has none)."""
    rows = result.get("techniques") or []
    if not rows:
        return []
    from interp.core.formatting import pipe_table

    def pts(x: Any) -> str:
        return "n/a" if x is None else f"{100 * x:+.2f}"

    table = []
    for r in rows:
        d = r["paired"]
        fm = r.get("fold_metrics") or {}
        spread = fm.get("val_balanced_accuracy")
        note = (
            f"fold val bal. acc. {100 * spread['mean']:.2f} ± {100 * spread['std']:.2f}"
            if spread
            else ""
        )
        if "symmetry" in r and r["symmetry"].get("slope"):
            s = r["symmetry"]
            note = (f"symmetry KS D slope {s['slope']['ks_statistic']:.3f}, asym. "
                    f"{s['asymmetry']['ks_statistic']:.3f}: "
                    + ("symmetric" if s["symmetric"] else "NOT symmetric"))  # fmt: skip
        cost = r["predict_seconds"] / max(r["n_test"], 1) * 28_764
        base_cost = r["plain_predict_seconds"] / max(r["n_test"], 1) * 28_764
        table.append([r["model"], r["train_chamber"], r["test_chamber"], r["technique"],
                      f"{pts(d['value'])} [{pts(d['lo'])}, {pts(d['hi'])}]",
                      "yes" if d["significant"] else "no",
                      f"{cost:.3f} (plain {base_cost:.3f})", note])  # fmt: skip
    return [
        "## Fold ensembles and test-time augmentation",
        "",
        "Gain in balanced accuracy at threshold 0.5 over the single model (points), 95 % "
        "paired interval over test events (the ensemble against every training seed of the "
        "single model; TTA against the same seed-0 model's plain scores). Cost: seconds of "
        "scoring per 28,764-cluster event.",
        "",
        *pipe_table(
            ["Model", "Train", "Test", "Technique", "Gain", "Significant", "s / event", "Notes"],
            table,
        ),
        "",
    ]

"""Fold-ensemble and test-time-augmentation rows of the matrix.

With :attr:`MatrixConfig.folds` = k, every (model, training chamber) cell of a model in
:meth:`MatrixConfig.technique_cell_models` also trains a k-fold ensemble
(:func:`interp.backends.fold_training.train_fold_ensemble`, on the cell's capped training
split, in ``WORKDIR/ensembles/<model>/<chamber>``; reused when its training identity is
unchanged) and scores it on every test chamber; with :attr:`MatrixConfig.tta` (e.g.
``("pad-mirror",)``) the cell's first-seed model is also scored with test-time augmentation
(:class:`interp.backends.tta.TTAClassifier`). The quick profile turns both on for the
perceptron and the split convolution (k = 3), the full profile for every Flax model (k = 5).

Each row gets the balanced-accuracy gain at threshold 0.5 with an event-bootstrap paired
interval (:func:`interp.evaluation.metrics.paired_difference`): the ensemble against the
single model (all its training seeds, so the interval holds their spread), TTA against the
same model's plain scores (seed 0 on both sides). Ensemble rows also carry the fold spread
(each fold model's test balanced accuracy at 0.5 beside the single model's seed spread) and
the validation-free operating point: the threshold chosen on the out-of-fold scores of the
training split (``oof_scores.npz``; each training cluster scored by the one member that did
not train on it) under the matrix's signal-loss bound, with the test signal loss it gives;
neither validation nor test data choose it. TTA rows carry the pad-mirror symmetry check of
the test split (:func:`interp.data.symmetry.pad_mirror_check`) and the scoring cost.

:func:`spread_table` and :func:`gain_table` are the one definition of the two tables, used by
``matrix.md`` (:func:`technique_lines`) and the report section
(:mod:`interp.report.techniques`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.classifier import Classifier, load_classifier
from interp.core.names import name_folder
from interp.data.symmetry import symmetry_words
from interp.evaluation.metrics import choose_threshold, confusion_counts, paired_difference
from interp.study.config import MatrixConfig
from interp.study.inputs import ChamberData
from interp.study.scoring import ScoredTest

IDENTITY_FILE = "ensemble_identity.json"
PUBLISHED_CLUSTERS_PER_EVENT = 28_763.75
"""Clusters per published event: scoring seconds are scaled to it (as the speed table)."""


def ensemble_dir(workdir: Path, model: str, chamber: str) -> Path:
    """``WORKDIR/ensembles/<model>/<chamber>`` (names checked)."""
    return name_folder(Path(workdir) / "ensembles", model, chamber, kinds=("model", "chamber"))


def cell_ensemble(
    model: str, data: ChamberData, config: MatrixConfig, workdir: Path, progress: bool = False
) -> tuple[Classifier, float | None]:
    """The cell's k-fold ensemble, trained or reused; returns it and its training seconds
    (``None`` when reused)."""
    from interp.backends.fold_training import train_fold_ensemble
    from interp.study.identity import data_fingerprint, to_jsonable
    from interp.study.training import cap_train_split, cell_overrides, make_train_config

    train = cap_train_split(data.parts["train"], config.max_train_clusters, config.seed)
    cfg = make_train_config(model, config.profile, cell_overrides(model, config), config.seed)
    run_dir = ensemble_dir(workdir, model, data.chamber)
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


def _spread(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray(values, np.float64)
    return {"values": [float(x) for x in v], "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)) if v.size > 1 else None,
            "min": float(v.min()), "max": float(v.max())}  # fmt: skip


def oof_operating_point(ens_dir: Path, max_signal_loss: float) -> dict[str, Any] | None:
    """The threshold chosen on a fold ensemble's out-of-fold training scores.

    Returns:
        ``{"threshold", "n", "max_signal_loss"}``, or ``None`` without ``oof_scores.npz``.
    """
    from interp.backends.fold_training import OOF_FILE

    path = Path(ens_dir) / OOF_FILE
    if not path.is_file():
        return None
    with np.load(path) as z:
        p, y = np.asarray(z["p_signal"]), np.asarray(z["label"])
    ok = np.isfinite(p)
    thr = choose_threshold(p[ok], y[ok], max_signal_loss)
    return {"threshold": float(thr), "n": int(ok.sum()), "max_signal_loss": max_signal_loss}


def _rates_at(scores: np.ndarray, label: np.ndarray, threshold: float) -> dict[str, float]:
    c = confusion_counts(scores, label, threshold)
    return {"signal_lost": c["fn"] / max(c["fn"] + c["tp"], 1),
            "noise_removed": c["tn"] / max(c["tn"] + c["fp"], 1)}  # fmt: skip


def _gain_at_half(
    scores: np.ndarray, base_scores: Sequence[np.ndarray], test: Any, config: MatrixConfig
) -> dict[str, Any]:
    """Balanced-accuracy gain at threshold 0.5 of ``scores`` [N] over ``base_scores`` (one [N]
    array per training seed) on ``test``, with the event-bootstrap paired interval."""
    return paired_difference(
        [scores],
        list(base_scores),
        test.label,
        test.event_id,
        0.5,
        0.5,
        "balanced_accuracy",
        config.n_boot,
        config.seed,
    )


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
    """The ensemble and TTA rows of one cell (see the module docstring); ``[]`` for a model
    outside :meth:`MatrixConfig.technique_cell_models`.

    Args:
        model, chamber: The cell.
        clfs: The cell's classifiers, one per training seed.
        scored: Test chamber -> the cell's :class:`ScoredTest`.
        data: Chamber -> its data.
        config: Matrix settings (``folds``, ``tta``, ``n_boot``, ``seed``, ``max_signal_loss``).
        workdir: Study folder.

    Returns:
        Rows ``{"model", "train_chamber", "test_chamber", "technique", "paired",
        "predict_seconds", "plain_predict_seconds", "n_test", "seconds", ...}``; ensemble
        rows add ``fold_test_balanced_accuracy`` (per fold model, with mean / sd / min / max),
        ``seed_balanced_accuracy`` (the single model's seeds, likewise), ``oof_operating_point``
        (threshold and its test signal lost / noise removed), ``val_threshold``,
        ``fold_metrics``, ``weights``, ``train_seconds``; TTA rows add ``symmetry``.
        ``seconds`` is the wall time the row cost (the ensemble's training, when it trained,
        is counted on its first row).
    """
    from interp.backends.fold_training import balanced_accuracy_at

    if model not in config.technique_cell_models():
        return []
    rows: list[dict[str, Any]] = []
    val = data[chamber].parts["val"]
    base_row = {"model": model, "train_chamber": chamber}
    if config.folds:
        t0 = time.perf_counter()
        ens, train_seconds = cell_ensemble(model, data[chamber], config, workdir, progress)
        oof = oof_operating_point(ensemble_dir(workdir, model, chamber), config.max_signal_loss)
        val_thr = choose_threshold(ens.predict_proba(val.charge), val.label, config.max_signal_loss)
        extra = {
            "fold_metrics": ens.info.get("fold_metrics"),
            "train_seconds": train_seconds,
            "weights": [float(w) for w in ens.weights],
            "val_threshold": float(val_thr),
        }
        overhead = time.perf_counter() - t0
        for test_chamber, base in scored.items():
            t1 = time.perf_counter()
            test = base.test
            members = ens.member_proba(test.charge)  # [k, N]
            scores = (ens.weights @ members.astype(np.float64)).astype(np.float32)
            predict_seconds = time.perf_counter() - t1
            d = _gain_at_half(scores, base.scores, test, config)
            op = None
            if oof is not None:
                op = {
                    **oof,
                    **{
                        f"test_{k}": v
                        for k, v in _rates_at(scores, test.label, oof["threshold"]).items()
                    },
                }
            rows.append(
                {
                    **base_row,
                    "test_chamber": test_chamber,
                    "technique": f"ensemble (k = {config.folds})",
                    "paired": d,
                    "predict_seconds": predict_seconds,
                    "plain_predict_seconds": base.predict_seconds / max(len(base.scores), 1),
                    "n_test": len(test),
                    "fold_test_balanced_accuracy": _spread(
                        [balanced_accuracy_at(m, test.label) for m in members]
                    ),
                    "ensemble_test_balanced_accuracy": balanced_accuracy_at(scores, test.label),
                    "seed_balanced_accuracy": _spread(
                        [balanced_accuracy_at(s, test.label) for s in base.scores]
                    ),
                    "oof_operating_point": op,
                    **extra,
                    "seconds": time.perf_counter() - t1 + overhead,
                }
            )
            overhead = 0.0
    if config.tta:
        from interp.backends.tta import TTAClassifier
        from interp.data.symmetry import pad_mirror_check

        tta = TTAClassifier(clfs[0], config.tta)
        for test_chamber, base in scored.items():
            t1 = time.perf_counter()
            test = base.test
            scores = np.asarray(tta.predict_proba(test.charge))
            predict_seconds = time.perf_counter() - t1
            d = _gain_at_half(scores, [base.scores[0]], test, config)
            rows.append(
                {
                    **base_row,
                    "test_chamber": test_chamber,
                    "technique": f"TTA ({'+'.join(config.tta)})",
                    "paired": d,
                    "predict_seconds": predict_seconds,
                    "plain_predict_seconds": base.predict_seconds / max(len(base.scores), 1),
                    "n_test": len(test),
                    "symmetry": pad_mirror_check(test, seed=config.seed),
                    "seconds": time.perf_counter() - t1,
                }
            )
    return rows


def _pts(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:+.2f}"


def _pct_spread(s: Mapping[str, Any] | None) -> str:
    """``91.20 ± 0.40 (90.8-91.6)`` in percent; ``n/a`` without values."""
    if not s:
        return "n/a"
    sd = "n/a" if s.get("sd") is None else f"{100 * s['sd']:.2f}"
    return f"{100 * s['mean']:.2f} ± {sd} ({100 * s['min']:.2f}-{100 * s['max']:.2f})"


def per_event_seconds(seconds: float, n: int) -> float:
    """Scoring seconds of ``n`` clusters scaled to one published event (28,763.75 clusters)."""
    return seconds / max(int(n), 1) * PUBLISHED_CLUSTERS_PER_EVENT


SPREAD_HEADER = [
    "Model",
    "Train",
    "Test",
    "k",
    "Fold models' bal. acc. % (mean ± sd, min-max)",
    "Ensemble %",
    "Single model's seeds % (mean ± sd, min-max)",
    "OOF threshold",
    "Test signal lost / noise removed at it",
    "Val threshold",
]
GAIN_HEADER = [
    "Model",
    "Train",
    "Test",
    "Technique",
    "Gain (points) [95 % paired]",
    "Significant",
    "s / event (plain)",
    "Notes",
]


def spread_table(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Rows of :data:`SPREAD_HEADER`: one per ensemble row (fold spread, OOF threshold)."""
    out = []
    for r in rows:
        if "fold_test_balanced_accuracy" not in r:
            continue
        op = r.get("oof_operating_point")
        at = (
            "n/a"
            if not op
            else (f"{100 * op['test_signal_lost']:.1f} % / {100 * op['test_noise_removed']:.1f} %")
        )
        out.append(
            [
                r["model"],
                r["train_chamber"],
                r["test_chamber"],
                str(len(r["fold_test_balanced_accuracy"]["values"])),
                _pct_spread(r["fold_test_balanced_accuracy"]),
                f"{100 * r['ensemble_test_balanced_accuracy']:.2f}",
                _pct_spread(r.get("seed_balanced_accuracy")),
                "n/a" if not op else f"{op['threshold']:.3f}",
                at,
                f"{r['val_threshold']:.3f}",
            ]
        )
    return out


def gain_table(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Rows of :data:`GAIN_HEADER`: every technique row's paired gain and scoring cost."""
    out = []
    for r in rows:
        d = r["paired"]
        note = symmetry_words(r["symmetry"]) if "symmetry" in r else ""
        cost = per_event_seconds(r["predict_seconds"], r["n_test"])
        plain = per_event_seconds(r["plain_predict_seconds"], r["n_test"])
        out.append(
            [
                r["model"],
                r["train_chamber"],
                r["test_chamber"],
                r["technique"],
                f"{_pts(d['value'])} [{_pts(d['lo'])}, {_pts(d['hi'])}]",
                "yes" if d["significant"] else "no",
                f"{cost:.3f} ({plain:.3f})",
                note,
            ]
        )
    return out


GAIN_NOTE = (
    "Gain in balanced accuracy at threshold 0.5 over the single model (points), 95 % paired "
    "interval over test events (the ensemble against every training seed of the single model; "
    "TTA against the same seed-0 model's plain scores). s / event: seconds of scoring the test "
    "split, scaled to one 28,764-cluster event (TTA scores every window twice). Pad-mirror "
    "symmetry: two-sample KS tests of the test split's crossing-angle slope and pad asymmetry "
    "against their mirror images."
)
SPREAD_NOTE = (
    "Fold spread: each of the k fold models (trained on k-1 event folds of the cell's training "
    "clusters, early-stopped on the k-th) scored on the test split at threshold 0.5, beside the "
    "single model's training-seed spread. The ensemble's operating threshold is chosen on the "
    "out-of-fold scores of the training split (each training cluster scored by the fold model "
    "that did not train on it) under the matrix's signal-loss bound: neither validation nor "
    "test data choose it; the test signal lost and noise removed at it show how well it holds. "
    "The validation-chosen threshold (the single models' route) is beside it."
)


def technique_lines(result: Mapping[str, Any]) -> list[str]:
    """Markdown section of the technique rows (empty when the matrix has none)."""
    rows = result.get("techniques") or []
    if not rows:
        return []
    from interp.core.formatting import pipe_table

    lines = [
        "## Fold ensembles and test-time augmentation",
        "",
        GAIN_NOTE,
        "",
        *pipe_table(GAIN_HEADER, gain_table(rows)),
        "",
    ]
    spread = spread_table(rows)
    if spread:
        lines += [
            "### Fold spread and the out-of-fold threshold",
            "",
            SPREAD_NOTE,
            "",
            *pipe_table(SPREAD_HEADER, spread),
            "",
        ]
    return lines

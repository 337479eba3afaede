"""``tpc-interp train --folds K``: a fold ensemble trained, recorded and evaluated like a model.

The ensemble lives in ``WORKDIR/runs/<model>_folds<K>/<chamber>`` with the same run record
(``run.json``: profile, config, data fingerprint, splits) as a single model, so ``evaluate``,
``predict`` and ``export`` take its folder unchanged. Its k members train on the (capped)
training split cut into k event folds (:func:`interp.backends.fold_training.
train_fold_ensemble`); the operating point is chosen on the validation split, as for a single
model (the out-of-fold scores in ``oof_scores.npz`` are there to choose one without it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

Log = Callable[[str], None]


def ensemble_run_dir(workdir: Path, model: str, chamber: str, k: int) -> Path:
    """``WORKDIR/runs/<model>_folds<k>/<chamber>`` (names checked)."""
    from interp.core.names import name_folder

    return name_folder(Path(workdir) / "runs", f"{model}_folds{int(k)}", chamber,
                       kinds=("model", "chamber"))  # fmt: skip


def fold_spread_line(clf: Any) -> str:
    """``folds: k = 3, val balanced accuracy 91.2 % ± 0.4 (fold spread), ...``."""
    fm = clf.info.get("fold_metrics") or {}
    bal = fm.get("val_balanced_accuracy") or {}
    loss = fm.get("val_loss") or {}
    w = ", ".join(f"{x:.3f}" for x in clf.weights)
    return (
        f"folds: k = {len(clf.members)}, val balanced accuracy {100 * bal.get('mean', 0):.2f} % "
        f"± {100 * bal.get('std', 0):.2f} (fold std), val loss {loss.get('mean', 0):.4f} "
        f"± {loss.get('std', 0):.4f}; out-of-fold balanced accuracy "
        f"{100 * fm.get('oof_balanced_accuracy', 0):.2f} %; weights ({clf.weighting}) {w}"
    )


def train_ensemble_and_evaluate(
    model: str,
    train_on: str,
    eval_on: Iterable[str],
    data_files: Mapping[str, Path],
    profile: str,
    workdir: Path,
    n_boot: int,
    seed: int,
    k: int,
    rename_chamber: bool,
    png: bool,
    progress: bool,
    log: Log,
) -> Path:
    """Trains a k-fold ensemble of ``model`` on ``train_on`` and evaluates it on that chamber
    and ``eval_on`` (as :func:`interp.study.saved_runs.train_and_evaluate` does a model).

    Returns:
        The ensemble's run folder.
    """
    import time

    from interp.backends.classifier import get_trainer
    from interp.backends.fold_training import train_fold_ensemble
    from interp.core.fsutil import digests
    from interp.core.locking import workdir_lock
    from interp.core.run_record import write_run_record
    from interp.study.config import MatrixConfig
    from interp.study.identity import data_fingerprint, record_splits, to_jsonable
    from interp.study.inputs import check_inputs, load_study_data
    from interp.study.saved_runs import evaluate_and_save
    from interp.study.training import (
        _store_operating_point,
        cap_train_split,
        cell_overrides,
        make_train_config,
    )

    get_trainer(model)
    chambers = [train_on, *dict.fromkeys(c for c in eval_on if c != train_on)]
    cfg = MatrixConfig.from_profile(
        profile, models=(model,), chambers=tuple(chambers), n_boot=n_boot, seed=seed
    )
    check_inputs(chambers, data_files, rename_chamber=rename_chamber)
    with workdir_lock(workdir):
        d = load_study_data(
            chambers, cfg, workdir, data_files, progress=progress, rename_chamber=rename_chamber
        )
        data = d[train_on]
        train = cap_train_split(data.parts["train"], cfg.max_train_clusters, cfg.seed)
        tcfg = make_train_config(model, profile, cell_overrides(model, cfg), seed=seed)
        run_dir = ensemble_run_dir(workdir, model, train_on, k)
        t0 = time.perf_counter()
        clf = train_fold_ensemble(model, train, k, tcfg, run_dir, seed=seed, progress=progress)
        seconds = time.perf_counter() - t0
        write_run_record(
            run_dir,
            {
                "model": model,
                "chamber": train_on,
                "profile": profile,
                "config": {**to_jsonable(tcfg), "folds": int(k)},
                "train_seconds": seconds,
                "fingerprint": data_fingerprint(train, data.parts["val"]),
                "outputs": digests(run_dir, ["classifier.json"]),
            },
        )
        record_splits(run_dir, data)
        _store_operating_point(clf, data.parts["val"], run_dir)
        log(f"trained a {k}-fold ensemble of {model} on {train_on} ({seconds:.1f} s): {run_dir}")
        log(fold_spread_line(clf))
        evaluate_and_save(clf, d, train_on, chambers, cfg, run_dir, png, log)
    return run_dir

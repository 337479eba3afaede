"""The train-on-one-chamber / test-on-both study, as in the published NA61/SHINE analysis.

Layout of a study directory (``workdir``)::

    data/...                                  cached data and splits (:mod:`interp.study.inputs`)
    runs/<model>/<CHAMBER>/...                the cell's classifier, first training seed
                                              (:mod:`interp.study.training`)
    seeds/<model>/<CHAMBER>/seed<k>/...       further training seeds of the cell
    matrix.json, matrix.md                    results (tables: :mod:`interp.study.matrix_tables`)

Every cell of the matrix is one model trained on one chamber's *train* split (early stopping /
model selection on that chamber's *val* split) and evaluated on the *test* split of every
chamber: the diagonal is the within-chamber result, the off-diagonal the cross-chamber one.
The operating point (threshold) is chosen on the training chamber's validation split, as a
deployed model would be tuned, then applied unchanged to every test chamber.

Every model of a cell trains on the same clusters (one cap,
:attr:`~interp.study.config.MatrixConfig.max_train_clusters`) with
:attr:`~interp.study.config.MatrixConfig.train_seeds` training seeds; the headline metric is
balanced accuracy (the published one), with intervals over test events and seeds, and every
model pair of a cell gets a paired difference (:func:`paired_differences`).

Re-running a study reuses the cached data, the saved splits and every finished classifier
whose ``run.json`` records the same training identity
(:func:`interp.study.identity.training_identity`: model, profile, resolved config with
overrides and seed, data fingerprint), so an interrupted matrix continues where it stopped; a
cell whose identity changed is retrained and ``matrix.md`` says why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.classifier import (
    get_trainer,
)
from interp.core.errors import (
    ShapeMismatchError,
)
from interp.core.fsutil import (
    atomic_write_text,
)
from interp.core.locking import workdir_lock
from interp.core.schema import ClusterSet
from interp.evaluation.metrics import (
    SEED_METHOD,
    paired_difference,
)
from interp.study.config import MatrixConfig
from interp.study.inputs import ChamberData, check_inputs, load_study_data, split_policy
from interp.study.matrix_tables import matrix_markdown
from interp.study.score_cache import (
    classifier_fingerprint,
    save_scores,
    split_fingerprint,
    stored_or_scored,
)
from interp.study.scoring import ScoredTest, evaluate_scored, score_test
from interp.study.training import cap_train_split, seed_run_dir, train_cell


def _check_windows(data: Mapping[str, ChamberData]) -> None:
    windows = {c: d.window for c, d in data.items()}
    if len(set(windows.values())) > 1:
        raise ShapeMismatchError(
            "all chambers must share one window shape (pads, time bins) to cross-evaluate; got "
            + ", ".join(f"{c} {w}" for c, w in windows.items())
        )


def _check_models(models: Iterable[str]) -> None:
    for m in models:
        get_trainer(m)  # fail before any training starts


def run_matrix(
    config: MatrixConfig,
    workdir: str | Path,
    data_files: Mapping[str, str | Path] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    rename_chamber: bool = False,
) -> dict[str, Any]:
    """Trains every model on every chamber and evaluates it on every chamber's test split.

    Writes ``workdir/matrix.json`` (after every cell, so partial results survive) and
    ``workdir/matrix.md`` (tables, with the published numbers beside the toolkit's).

    Args:
        config: What to run.
        workdir: Study folder (created).
        data_files: Chamber -> cluster file; chambers not listed are simulated.
        progress: Show tqdm progress bars.
        log: Optional callback for one-line status messages.
        rename_chamber: Accept files whose chamber metadata differs from their key.

    Returns:
        The ``matrix.json`` content: ``{"config", "data", "cells": [...], "total_seconds"}``;
        each cell has ``model``, ``train_chamber``, ``run`` (wall times) and ``evaluations``
        keyed by test chamber.

    Raises:
        UnknownNameError: Unknown model or chamber (before anything is trained).
        ShapeMismatchError: Chambers with different window shapes.
        ClusterDataError: Bad data or empty splits.
    """
    _check_models(config.models)
    files = check_inputs(config.chambers, data_files, rename_chamber=rename_chamber)
    with workdir_lock(workdir, log=log):  # after the input checks: no folder made on bad input
        return _run_matrix(config, Path(workdir), files, progress, log, rename_chamber)


def _run_matrix(
    config: MatrixConfig,
    workdir: Path,
    files: Mapping[str, Path],
    progress: bool,
    log: Callable[[str], None] | None,
    rename_chamber: bool,
) -> dict[str, Any]:
    """:func:`run_matrix` on checked inputs, holding the work directory's lock."""
    from tqdm.auto import tqdm

    from interp.evaluation.transfer import cell_transfer, study_shift

    t_start = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"data: {', '.join(config.chambers)}")
    data = load_study_data(
        config.chambers, config, workdir, files, progress, rename_chamber=rename_chamber
    )
    _check_windows(data)

    result: dict[str, Any] = {
        "config": config.to_dict(),
        "data": {
            c: {
                "path": str(d.path),
                "simulated": d.simulated,
                "window": list(d.window),
                "splits": d.splits.counts,
                "n_train_clusters": len(
                    cap_train_split(d.parts["train"], config.max_train_clusters, config.seed)
                ),
            }
            for c, d in data.items()
        },
        "splits_policy": split_policy(data),
        "shift": study_shift(data, seed=config.seed),
        "interval_method": SEED_METHOD if config.train_seeds > 1 else "events resampled",
        "cells": [],
    }
    scored: dict[tuple[str, str, str], ScoredTest] = {}
    fingerprints: dict[int, str] = {}  # id(split) -> split_fingerprint, once per split
    jobs = [(m, c) for m in config.models for c in config.chambers]
    bar = tqdm(jobs, desc="matrix", disable=None if progress else True, unit="cell")
    for model, chamber in bar:
        bar.set_postfix_str(f"{model} on {chamber}")
        d = data[chamber]
        trained = [
            train_cell(model, d, config, workdir, progress, seed_index=i)
            for i in range(config.train_seeds)
        ]
        clfs = [clf for clf, _ in trained]
        runs = [run for _, run in trained]
        t0 = time.perf_counter()
        val = d.parts["val"]
        val_sha = _fingerprint(val, fingerprints)
        run_dirs = [seed_run_dir(workdir, model, chamber, i) for i in range(len(clfs))]
        clf_shas = [classifier_fingerprint(r) for r in run_dirs]
        val_scores = [  # stored by the training when it chose the operating point
            stored_or_scored(r, f"val_{chamber}", val, clf.predict_proba, val_sha, sha)
            for r, clf, sha in zip(run_dirs, clfs, clf_shas, strict=True)
        ]
        evaluations = {}
        for test_chamber in config.chambers:
            sc = score_test(
                clfs, d.parts["val"], data[test_chamber].parts["test"],
                config.max_signal_loss, val_scores,
            )  # fmt: skip
            scored[(model, chamber, test_chamber)] = sc
            evaluations[test_chamber] = evaluate_scored(
                sc, config.n_boot, config.seed, config.max_signal_loss
            )
        _keep_scores(
            run_dirs[0],
            clf_shas[0],
            {f"val_{chamber}": (d.parts["val"], val_scores[0])}
            | {
                f"test_{t}": (data[t].parts["test"], scored[(model, chamber, t)].scores[0])
                for t in config.chambers
            },
            fingerprints,
        )
        seconds = [r.get("train_seconds") for r in runs]
        cell = {
            "model": model,
            "train_chamber": chamber,
            "run_dir": str(Path("runs") / model / chamber),
            "run": {
                "reused": all(r["reused"] for r in runs),
                "retrained": [r["retrained"] for r in runs if r.get("retrained")],
                "train_seconds": None if None in seconds else float(sum(seconds)),
                "train_seconds_per_seed": seconds,
                "seeds": [config.seed + i for i in range(config.train_seeds)],
                "n_train_clusters": runs[0]["n_train_clusters"],
                "eval_seconds": time.perf_counter() - t0,
                "profile": runs[0].get("profile"),
                "config": runs[0].get("config"),
            },
            "evaluations": evaluations,
            "transfer": cell_transfer(
                clfs[0],
                chamber,
                data,
                evaluations,
                config.max_signal_loss,
                config.seed,
                {t: scored[(model, chamber, t)].scores[0] for t in config.chambers},
            ),
        }
        result["cells"].append(cell)
        if config.folds or config.tta:
            from interp.study.techniques import technique_rows

            mine = {t: scored[(model, chamber, t)] for t in config.chambers}
            result.setdefault("techniques", []).extend(
                technique_rows(model, chamber, clfs, mine, data, config, workdir, progress)
            )
        result["total_seconds"] = time.perf_counter() - t_start
        atomic_write_text(workdir / "matrix.json", json.dumps(result, indent=1))
        if log:
            ba = evaluations[chamber]["at_0.5"]["metrics"]["balanced_accuracy"]["value"]
            log(f"{model} trained on {chamber}: within-chamber balanced accuracy {ba:.4f}")
    result["paired"] = paired_differences(scored, config)
    result["ceiling"] = ceiling_estimates(result)
    result["total_seconds"] = time.perf_counter() - t_start
    atomic_write_text(workdir / "matrix.json", json.dumps(result, indent=1))
    atomic_write_text(workdir / "matrix.md", matrix_markdown(result))
    return result


def _keep_scores(
    run_dir: Path,
    clf_sha: str,
    named: Mapping[str, tuple[ClusterSet, np.ndarray]],
    fingerprints: dict[int, str],
) -> None:
    """Stores the first seed's scores in its run folder for the explain stage
    (:mod:`interp.study.score_cache`; ``clf_sha``: the folder's classifier fingerprint);
    ``fingerprints`` memoises the splits' fingerprints."""
    for name, (part, scores) in named.items():
        save_scores(run_dir, name, scores, _fingerprint(part, fingerprints), clf_sha)


def _fingerprint(part: ClusterSet, fingerprints: dict[int, str]) -> str:
    """:func:`split_fingerprint` of ``part``, memoised in ``fingerprints`` (by ``id``)."""
    if id(part) not in fingerprints:
        fingerprints[id(part)] = split_fingerprint(part)
    return fingerprints[id(part)]


def paired_differences(
    scored: Mapping[tuple[str, str, str], ScoredTest], config: MatrixConfig
) -> list[dict[str, Any]]:
    """Balanced-accuracy difference of every model pair within every (train, test) cell.

    Each entry: ``{"train_chamber", "test_chamber", "model_a", "model_b"}`` plus
    :func:`interp.evaluation.metrics.paired_difference` (A - B at threshold 0.5, same resampled
    events
    for both models, an independent seed draw per model and replicate).
    """
    out = []
    models = list(config.models)
    for c in config.chambers:
        for t in config.chambers:
            for i, a in enumerate(models):
                for b in models[i + 1 :]:
                    sa, sb = scored.get((a, c, t)), scored.get((b, c, t))
                    if sa is None or sb is None:
                        continue
                    d = paired_difference(
                        sa.scores, sb.scores, sa.test.label, sa.test.event_id,
                        0.5, 0.5, "balanced_accuracy", config.n_boot, config.seed,
                    )  # fmt: skip
                    out.append(
                        {"train_chamber": c, "test_chamber": t, "model_a": a, "model_b": b, **d}
                    )
    return out


def ceiling_estimates(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An estimate of the irreducible error per (train, test) cell from simulator truth.

    Kind (f) noise (real tracks labelled noise) is nearly inseparable by construction. Taking
    the best model's noise removed on kind (f) as the most any model gets there, and every
    other cluster as classifiable, the balanced-accuracy ceiling is
    ``(1 - q_f (1 - r_f) + 1) / 2`` with ``q_f`` the kind-(f) fraction of the test noise and
    ``r_f`` the best model's noise removed on (f). ``[]`` without truth columns.
    """
    best: dict[tuple[str, str], tuple[float, str, Mapping[str, Any]]] = {}
    for cell in result["cells"]:
        for t, ev in cell["evaluations"].items():
            bt = ev.get("by_truth")
            ba = ev["at_0.5"]["metrics"]["balanced_accuracy"]["value"]
            if bt is None or ba is None:
                continue
            key = (cell["train_chamber"], t)
            if key not in best or ba > best[key][0]:
                best[key] = (ba, cell["model"], bt)
    out = []
    for (c, t), (ba, model, bt) in best.items():
        nr = bt["noise_removed"]
        n_noise = sum(v["n"] for k, v in nr.items() if k != "dead_pad")
        f = nr.get("unreconstructed", {"n": 0, "value": None})
        if not n_noise or f["value"] is None:
            continue
        q_f = f["n"] / n_noise
        ceiling = 0.5 * (1.0 - q_f * (1.0 - f["value"]) + 1.0)
        out.append(
            {
                "train_chamber": c,
                "test_chamber": t,
                "best_model": model,
                "best_balanced_accuracy": ba,
                "kind_f_fraction_of_noise": q_f,
                "kind_f_noise_removed_by_best": f["value"],
                "balanced_accuracy_ceiling": ceiling,
                "best_gap_to_ceiling": ceiling - ba,
            }
        )
    return out

"""One model trained on one chamber and evaluated, or a saved run evaluated again: what the
``train`` and ``evaluate`` commands call.

Per test chamber this writes ``eval_<CHAMBER>.json`` into the run folder
(``WORKDIR/runs/<model>/<CHAMBER>``) and, for chambers other than the training one, the
feature shift and recalibration figures (``figures/shift_*.html``, ``figures/recalibration_*``).
One-line summaries go to ``log``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from interp.core.errors import TPCInterpError
from interp.core.formatting import with_ci
from interp.study.config import MatrixConfig
from interp.study.inputs import ChamberData

Log = Callable[[str], None]


def summary_line(chamber: str, ev: Mapping[str, Any]) -> str:
    """One line of an :func:`interp.study.scoring.evaluate_one` result (percent, 95 % CI)."""
    m = ev["at_0.5"]["metrics"]
    op = ev["operating_point"]
    mo = op["metrics"]

    def pct(x: Mapping[str, Any]) -> str:
        return with_ci(x, " %")

    return (
        f"test {chamber}: balanced accuracy {pct(m['balanced_accuracy'])} (the published "
        f"metric), noise removed {pct(m['noise_removed'])}, signal lost "
        f"{pct(m['signal_lost'])}, AUC {pct(m['roc_auc'])}, plain accuracy (secondary) "
        f"{pct(m['accuracy'])}; at threshold "
        f"{op['threshold']:.3f}: noise removed {pct(mo['noise_removed'])}, "
        f"signal lost {pct(mo['signal_lost'])}"
        + ("" if ev["at_0.5"]["ci_reliable"] else " (intervals unreliable: < 3 test events)")
    )


def evaluate_and_save(
    clf: Any,
    data: Mapping[str, ChamberData],
    train_chamber: str,
    chambers: Sequence[str],
    config: MatrixConfig,
    run_dir: Path,
    png: bool,
    log: Log,
    tag: str = "",
) -> None:
    """Evaluates on each chamber's test split; for other chambers than the training one also
    the feature shift, a warning for inverted/useless transfers and the recalibration curve
    (``eval_<CHAMBER><tag>.json``, ``figures/shift_*.html`` in the run folder)."""
    from interp.core.fsutil import atomic_write_text
    from interp.evaluation.shift import feature_shift
    from interp.evaluation.transfer import (
        pair_key,
        recalibrate,
        recalibration_line,
        shift_summary_line,
        transfer_warning,
    )
    from interp.plots.shift import recalibration_figure, shift_figure
    from interp.study.scoring import evaluate_one

    train_data = data[train_chamber]
    val_scores = clf.predict_proba(train_data.parts["val"].charge)
    figures = {}
    for chamber in chambers:
        ev = evaluate_one(
            clf,
            train_data.parts["val"],
            data[chamber].parts["test"],
            n_boot=config.n_boot,
            seed=config.seed,
            max_signal_loss=config.max_signal_loss,
            val_scores=val_scores,
        )
        lines = [summary_line(chamber, ev)]
        if chamber != train_chamber:
            shift = feature_shift(train_data.parts["train"], data[chamber].parts["test"])
            recal = recalibrate(
                clf, data[chamber], ev, max_signal_loss=config.max_signal_loss, seed=config.seed
            )
            warning = transfer_warning(ev)
            ev["transfer"] = {"warning": warning, "shift": shift, "recalibration": recal}
            lines += [shift_summary_line(shift), recalibration_line(recal)]
            if warning:
                lines.append(f"WARNING {pair_key(train_chamber, chamber)}: {warning}")
            key = f"{train_chamber}_to_{chamber}"
            figures[f"shift_{key}"] = shift_figure(shift)
            figures[f"recalibration_{key}"] = recalibration_figure(
                {clf.name: recal}, train_chamber, chamber
            )
        atomic_write_text(run_dir / f"eval_{chamber}{tag}.json", json.dumps(ev, indent=1))
        for line in lines:
            log(line)
    if figures:
        from interp.plots.output import FigureWriter

        with FigureWriter(run_dir / "figures", png=png) as w:
            for name, fig in figures.items():
                w.write(fig, name, width=1100, height=650)
        log(f"shift and recalibration figures: {run_dir / 'figures'}")


def train_and_evaluate(
    model: str,
    train_on: str,
    eval_on: Iterable[str],
    data_files: Mapping[str, Path],
    profile: str,
    workdir: Path,
    n_boot: int,
    seed: int,
    rename_chamber: bool,
    png: bool,
    progress: bool,
    log: Log,
) -> None:
    """Trains (or reuses) ``model`` on ``train_on`` and evaluates it on that chamber and on
    ``eval_on``; every input is checked before anything is trained or written.

    Raises:
        UnknownNameError, ClusterDataError, ShapeMismatchError: As
        :func:`interp.study.inputs.check_inputs` (and an unknown model, before any data load).
    """
    from interp.backends.classifier import get_trainer
    from interp.core.locking import workdir_lock
    from interp.study.inputs import check_inputs, load_study_data
    from interp.study.training import train_cell

    get_trainer(model)  # unknown model: fail before loading data
    chambers = [train_on, *dict.fromkeys(c for c in eval_on if c != train_on)]
    cfg = MatrixConfig.from_profile(
        profile, models=(model,), chambers=tuple(chambers), n_boot=n_boot, seed=seed
    )
    check_inputs(chambers, data_files, rename_chamber=rename_chamber)  # before the lock
    with workdir_lock(workdir):  # one writer: a second train/matrix/reproduce here refuses
        d = load_study_data(
            chambers, cfg, workdir, data_files, progress=progress, rename_chamber=rename_chamber
        )
        clf, run = train_cell(model, d[train_on], cfg, workdir, progress=progress)
        run_dir = workdir / "runs" / model / train_on
        how = "reused" if run["reused"] else "trained"
        secs = run.get("train_seconds", 0)
        log(f"{how} {model} on {train_on} ({secs:.1f} s): {run_dir}")
        chambers_line = ", ".join(run["splits"]["chambers"])
        log(
            f"splits: {run['splits']['policy']}"
            + (f" across {chambers_line}" if run["splits"]["chambers"] else "")
        )
        evaluate_and_save(clf, d, train_on, chambers, cfg, run_dir, png, log)


def evaluate_saved_run(
    run_dir: Path,
    on: Sequence[str],
    data_files: Mapping[str, Path],
    profile: str | None,
    workdir: Path | None,
    n_boot: int,
    seed: int | None,
    rename_chamber: bool,
    png: bool,
    progress: bool,
    log: Log,
    tta: str | None = None,
) -> None:
    """Evaluates the classifier saved in ``run_dir`` on the test split of the chambers ``on``
    (threshold chosen on the validation split of its training chamber).

    With ``tta`` (e.g. ``"pad-mirror"``, :mod:`interp.backends.tta`) the classifier is
    wrapped for test-time augmentation, the pad-mirror symmetry of each test split is logged
    and the results go to ``eval_<CHAMBER>_tta.json``.

    The data are the classifier's own (:func:`saved_run_data`).

    Raises:
        TPCInterpError: ``seed`` differs from the seed of the classifier's splits, or the run
            changed while this started.
        ClusterDataError: Data other than those the classifier was trained on.
    """
    from interp.backends.classifier import load_classifier

    clf = load_classifier(run_dir)
    if tta:
        from interp.backends.tta import TTAClassifier, parse_tta

        clf = TTAClassifier(clf, parse_tta(tta))
    with saved_run_data(
        run_dir, clf, on, data_files, profile, workdir, n_boot, seed, rename_chamber, progress
    ) as (d, cfg):
        if tta:
            from interp.data.symmetry import pad_mirror_check, symmetry_line

            for c in dict.fromkeys(on):
                log(symmetry_line(pad_mirror_check(d[c].parts["test"], seed=cfg.seed)))
        evaluate_and_save(
            clf, d, clf.train_chamber, list(dict.fromkeys(on)), cfg, run_dir, png, log,
            tag="_tta" if tta else "",
        )  # fmt: skip


@contextlib.contextmanager
def saved_run_data(
    run_dir: Path,
    clf: Any,
    on: Sequence[str],
    data_files: Mapping[str, Path],
    profile: str | None,
    workdir: Path | None,
    n_boot: int,
    seed: int | None,
    rename_chamber: bool,
    progress: bool,
) -> Iterator[tuple[dict[str, ChamberData], MatrixConfig]]:
    """The data of the classifier ``clf`` saved in ``run_dir``, with the run folder and the
    work directory locked while the caller uses them (``evaluate``, ``explain`` of a folder).

    The classifier's own splits (``splits.json`` and the seed and fractions of its run record)
    are always used; nothing is re-split and no splits file is written. ``profile`` and
    ``seed`` default to the run's own; ``workdir`` to ``WORKDIR`` of
    ``WORKDIR/runs/<model>/<chamber>`` (else ``out/study``).

    Yields:
        ``(chamber -> ChamberData for the training chamber and ``on``, the MatrixConfig used)``.

    Raises:
        TPCInterpError: ``seed`` differs from the seed of the classifier's splits, or the run
            changed while this started.
        ClusterDataError: Data other than those the classifier was trained on.
    """
    from interp.core.locking import owner_workdir, workdir_locks
    from interp.study.identity import check_fingerprint, recorded_splits
    from interp.study.inputs import check_inputs, load_study_data

    splits, info = recorded_splits(run_dir)
    if profile is None:
        profile = str(info.get("profile", "quick"))
    rec = info.get("splits") or {}
    rec_seed = (
        splits.seed if splits is not None else rec.get("seed", info.get("config", {}).get("seed"))
    )
    if seed is not None and rec_seed is not None and seed != rec_seed:
        raise TPCInterpError(
            f"{run_dir}: the classifier's splits were made with seed {rec_seed}, not {seed}; "
            "evaluate always uses the classifier's own splits (drop --seed)"
        )
    seed = int(rec_seed if rec_seed is not None else (seed or 0))
    if workdir is None:
        rd = run_dir.resolve()
        workdir = rd.parents[2] if rd.parent.parent.name == "runs" else Path("out/study")
    chambers = [clf.train_chamber, *dict.fromkeys(c for c in on if c != clf.train_chamber)]
    changes: dict[str, Any] = {"models": (clf.name,), "chambers": tuple(chambers)}
    changes.update(n_boot=n_boot, seed=seed)
    if splits is not None:
        changes["fractions"] = tuple(splits.fractions)
    elif rec.get("fractions"):
        changes["fractions"] = tuple(rec["fractions"])
    cfg = MatrixConfig.from_profile(profile, **changes)
    check_inputs(chambers, data_files, rename_chamber=rename_chamber, window=clf.window)
    # eval_<CH>.json and figures go into the run folder, cached data into the work directory:
    # a train/matrix/reproduce writing either holds its lock, and this refuses naming it
    with workdir_locks([workdir, owner_workdir(run_dir)]):
        if recorded_splits(run_dir)[1] != info:  # retrained between our read and the lock
            raise TPCInterpError(f"{run_dir}: the run changed while evaluate started; run again")
        d = load_study_data(
            chambers,
            cfg,
            workdir,
            data_files,
            progress=progress,
            rename_chamber=rename_chamber,
            fixed_splits=splits,
            save_splits=False,
        )
        check_fingerprint(run_dir, info, d[clf.train_chamber])
        yield d, cfg

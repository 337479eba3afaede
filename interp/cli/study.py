"""``train``, ``evaluate`` and ``matrix``: the train-on-one-chamber / test-on-both study.

Data come from ``--data CHAMBER=FILE`` (any cluster format) or, for chambers without a file,
from the simulator (cached in ``WORKDIR/data``). Runs live in ``WORKDIR/runs/<model>/<chamber>``
and are reused by later commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from interp.cli.app import app
from interp.core.errors import TPCInterpError
from interp.core.formatting import with_ci
from interp.core.names import check_name

DataOpt = Annotated[
    list[str] | None,
    typer.Option("--data", help="CHAMBER=FILE cluster file for a chamber (repeatable)"),
]
PROFILE_ENV = "TPC_INTERP_PROFILE"
"""Environment variable giving the default profile (as the notebooks read it)."""
ProfileOpt = Annotated[
    str,
    typer.Option(envvar=PROFILE_ENV, help="smoke | quick | full (data size and training)"),
]
WorkdirOpt = Annotated[Path, typer.Option(help="Study folder (data, runs, results are cached)")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars")]


def parse_data_files(items: list[str] | None) -> dict[str, Path]:
    """``["VTPC2=a.h5", ...]`` -> ``{"VTPC2": Path("a.h5")}``.

    Raises:
        TPCInterpError: On an item without ``=`` or a chamber given twice (a one-line error;
            ``typer.BadParameter`` would need ``click``'s formatting, absent with typer 0.29).
    """
    out: dict[str, Path] = {}
    for item in items or []:
        chamber, sep, file = item.partition("=")
        if not sep or not chamber.strip() or not file.strip():
            raise TPCInterpError(f"--data: expected CHAMBER=FILE, got {item!r}")
        if chamber.strip() in out:
            raise TPCInterpError(f"--data: chamber {chamber!r} given twice")
        check_name(chamber.strip(), "chamber", "--data")
        out[chamber.strip()] = Path(file.strip())
    return out


def _split_names(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _summary_line(chamber: str, ev: dict[str, Any]) -> str:
    m = ev["at_0.5"]["metrics"]
    op = ev["operating_point"]
    mo = op["metrics"]

    def pct(x: dict[str, Any]) -> str:
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


RenameOpt = Annotated[
    bool,
    typer.Option(
        "--rename-chamber",
        help="Accept a --data file whose own chamber metadata differs from its CHAMBER key",
    ),
]
PngOpt = Annotated[bool, typer.Option(help="Also write PNG figures (needs Chromium)")]


def _evaluate_and_save(
    clf: Any,
    data: dict[str, Any],
    train_chamber: str,
    chambers: list[str],
    config: Any,
    run_dir: Path,
    png: bool,
) -> None:
    """Evaluates on each chamber's test split; for other chambers than the training one also
    the feature shift, a warning for inverted/useless transfers and the recalibration curve
    (``eval_<CHAMBER>.json``, ``figures/shift_*.html`` in the run folder)."""
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
        lines = [_summary_line(chamber, ev)]
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
        atomic_write_text(run_dir / f"eval_{chamber}.json", json.dumps(ev, indent=1))
        for line in lines:
            typer.echo(line)
    if figures:
        from interp.plots.output import FigureWriter

        with FigureWriter(run_dir / "figures", png=png) as w:
            for name, fig in figures.items():
                w.write(fig, name, width=1100, height=650)
        typer.echo(f"shift and recalibration figures: {run_dir / 'figures'}")


@app.command()
def train(
    model: Annotated[str, typer.Option(help="perceptron | split_conv | resnet | xgboost")],
    train_on: Annotated[str, typer.Option("--train-on", help="Training chamber")],
    eval_on: Annotated[
        list[str] | None, typer.Option("--eval-on", help="Further test chamber (repeatable)")
    ] = None,
    data: DataOpt = None,
    profile: ProfileOpt = "quick",
    workdir: WorkdirOpt = Path("out/study"),
    n_boot: Annotated[int, typer.Option(min=0, help="Bootstrap replicates")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of data, splits, training")] = 0,
    rename_chamber: RenameOpt = False,
    png: PngOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Train one model on one chamber and evaluate it on that chamber (and --eval-on ones).

    Every input is checked (files, formats, chamber names, windows) before anything is
    trained or written. Chambers whose files share event ids get one shared split."""
    from interp.backends.classifier import get_trainer
    from interp.core.locking import workdir_lock
    from interp.study.config import MatrixConfig
    from interp.study.inputs import check_inputs, load_study_data
    from interp.study.training import train_cell

    check_name(model, "model", "--model")
    check_name(train_on, "chamber", "--train-on")
    for c in eval_on or []:
        check_name(c, "chamber", "--eval-on")
    get_trainer(model)  # unknown model: fail before loading data
    files = parse_data_files(data)
    chambers = [train_on, *dict.fromkeys(c for c in (eval_on or []) if c != train_on)]
    cfg = MatrixConfig.from_profile(
        profile, models=(model,), chambers=tuple(chambers), n_boot=n_boot, seed=seed
    )
    check_inputs(chambers, files, rename_chamber=rename_chamber)  # before the lock makes workdir
    with workdir_lock(workdir):  # one writer: a second train/matrix/reproduce here refuses
        d = load_study_data(
            chambers, cfg, workdir, files, progress=not quiet, rename_chamber=rename_chamber
        )
        clf, run = train_cell(model, d[train_on], cfg, workdir, progress=not quiet)
        run_dir = workdir / "runs" / model / train_on
        how = "reused" if run["reused"] else "trained"
        secs = run.get("train_seconds", 0)
        typer.echo(f"{how} {model} on {train_on} ({secs:.1f} s): {run_dir}")
        chambers_line = ", ".join(run["splits"]["chambers"])
        typer.echo(
            f"splits: {run['splits']['policy']}"
            + (f" across {chambers_line}" if run["splits"]["chambers"] else "")
        )
        _evaluate_and_save(clf, d, train_on, chambers, cfg, run_dir, png)


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="Folder of a trained classifier")],
    on: Annotated[list[str], typer.Option("--on", help="Test chamber (repeatable)")],
    data: DataOpt = None,
    profile: Annotated[
        str | None, typer.Option(help="smoke | quick | full; default: the run's own profile")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Study folder; default: inferred from WORKDIR/runs/MODEL/CHAMBER"),
    ] = None,
    n_boot: Annotated[int, typer.Option(min=0, help="Bootstrap replicates")] = 1000,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the simulated data and bootstrap; default: the run's own"),
    ] = None,
    rename_chamber: RenameOpt = False,
    png: PngOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Evaluate a trained classifier on the test split of chambers (threshold chosen on the
    validation split of its training chamber).

    The classifier's own splits (``splits.json`` and the seed and fractions of its
    ``run.json``) are always used; evaluate never re-splits and never writes a splits file.
    """
    from interp.backends.classifier import load_classifier
    from interp.core.locking import owner_workdir, workdir_locks
    from interp.study.config import MatrixConfig
    from interp.study.identity import check_fingerprint, recorded_splits
    from interp.study.inputs import check_inputs, load_study_data

    clf = load_classifier(run_dir)
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
    files = parse_data_files(data)
    chambers = [clf.train_chamber, *dict.fromkeys(c for c in on if c != clf.train_chamber)]
    changes: dict[str, Any] = {"models": (clf.name,), "chambers": tuple(chambers)}
    changes.update(n_boot=n_boot, seed=seed)
    if splits is not None:
        changes["fractions"] = tuple(splits.fractions)
    elif rec.get("fractions"):
        changes["fractions"] = tuple(rec["fractions"])
    cfg = MatrixConfig.from_profile(profile, **changes)
    check_inputs(chambers, files, rename_chamber=rename_chamber, window=clf.window)
    # eval_<CH>.json and figures go into the run folder, cached data into the work directory:
    # a train/matrix/reproduce writing either holds its lock, and this refuses naming it
    with workdir_locks([workdir, owner_workdir(run_dir)]):
        if recorded_splits(run_dir)[1] != info:  # retrained between our read and the lock
            raise TPCInterpError(f"{run_dir}: the run changed while evaluate started; run again")
        d = load_study_data(
            chambers,
            cfg,
            workdir,
            files,
            progress=not quiet,
            rename_chamber=rename_chamber,
            fixed_splits=splits,
            save_splits=False,
        )
        check_fingerprint(run_dir, info, d[clf.train_chamber])
        _evaluate_and_save(clf, d, clf.train_chamber, list(dict.fromkeys(on)), cfg, run_dir, png)


@app.command()
def matrix(
    profile: ProfileOpt = "quick",
    workdir: WorkdirOpt = Path("out/study"),
    data: DataOpt = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated models (default: all 4)")
    ] = None,
    chambers: Annotated[str | None, typer.Option(help="Comma-separated chambers")] = None,
    n_boot: Annotated[int | None, typer.Option(min=0, help="Bootstrap replicates")] = None,
    seed: Annotated[int, typer.Option(help="Seed of data, splits, training, bootstrap")] = 0,
    rename_chamber: RenameOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train every model on every chamber, test on every chamber; write matrix.json/.md."""
    from interp.core.profiles import check_profile
    from interp.study.config import MatrixConfig
    from interp.study.matrix import run_matrix

    check_profile(profile, "matrix profile")
    changes: dict[str, Any] = {"seed": seed}
    if (m := _split_names(models)) is not None:
        changes["models"] = m
    if (c := _split_names(chambers)) is not None:
        changes["chambers"] = c
    if n_boot is not None:
        changes["n_boot"] = n_boot
    try:
        cfg = MatrixConfig.from_profile(profile, **changes)
    except ValueError as exc:  # BadNameError is a TPCInterpError and passes unchanged
        raise TPCInterpError(f"--models/--chambers: {exc}") from None
    result = run_matrix(
        cfg,
        workdir,
        parse_data_files(data),
        progress=not quiet,
        log=None if quiet else typer.echo,
        rename_chamber=rename_chamber,
    )
    typer.echo((workdir / "matrix.md").read_text())
    for line in transfer_lines(result):
        typer.echo(line)
    typer.echo(f"matrix done in {result['total_seconds']:.1f} s: {workdir / 'matrix.json'}")


def transfer_lines(result: dict[str, Any]) -> list[str]:
    """Split policy, warnings and recalibration lines of a ``matrix.json`` result."""
    from interp.evaluation.transfer import pair_key, recalibration_line

    pol = result.get("splits_policy", {})
    lines = [
        f"splits: {pol.get('policy', 'independent')}"
        + "".join(f"; shared by {', '.join(g)}" for g in pol.get("groups", []))
    ]
    for cell in result["cells"]:
        for t, tr in cell.get("transfer", {}).items():
            key = f"{cell['model']} {pair_key(cell['train_chamber'], t)}"
            if tr.get("warning"):
                lines.append(f"WARNING {key}: {tr['warning']}")
            lines.append(f"{key} {recalibration_line(tr['recalibration'])}")
    return lines

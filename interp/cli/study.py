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
from interp.errors import TPCInterpError, UnknownNameError
from interp.names import check_name

DataOpt = Annotated[
    list[str] | None,
    typer.Option("--data", help="CHAMBER=FILE cluster file for a chamber (repeatable)"),
]
ProfileOpt = Annotated[str, typer.Option(help="smoke | quick | full (data size and training)")]
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
        v = x["value"]
        if v is None:
            return "n/a"
        if x["lo"] is None:
            return f"{100 * v:.1f} %"
        return f"{100 * v:.1f} % [{100 * x['lo']:.1f}, {100 * x['hi']:.1f}]"

    return (
        f"test {chamber}: accuracy {pct(m['accuracy'])}, noise removed {pct(m['noise_removed'])}, "
        f"signal lost {pct(m['signal_lost'])}, AUC {pct(m['roc_auc'])}; at threshold "
        f"{op['threshold']:.3f}: noise removed {pct(mo['noise_removed'])}, "
        f"signal lost {pct(mo['signal_lost'])}"
        + ("" if ev["at_0.5"]["ci_reliable"] else " (intervals unreliable: < 3 test events)")
    )


def _evaluate_and_save(
    clf: Any,
    train_data: Any,
    chambers: list[str],
    config: Any,
    workdir: Path,
    data_files: dict[str, Path],
    run_dir: Path,
    progress: bool,
) -> None:
    from interp.fsutil import atomic_write_text
    from interp.pipeline import evaluate_one, load_chamber_data

    val_scores = clf.predict_proba(train_data.parts["val"].charge)
    for chamber in chambers:
        test = (
            train_data
            if chamber == train_data.chamber
            else load_chamber_data(chamber, config, workdir, data_files, progress)
        )
        ev = evaluate_one(
            clf,
            train_data.parts["val"],
            test.parts["test"],
            n_boot=config.n_boot,
            seed=config.seed,
            max_signal_loss=config.max_signal_loss,
            val_scores=val_scores,
        )
        atomic_write_text(run_dir / f"eval_{chamber}.json", json.dumps(ev, indent=1))
        typer.echo(_summary_line(chamber, ev))


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
    quiet: QuietOpt = False,
) -> None:
    """Train one model on one chamber and evaluate it on that chamber (and --eval-on ones)."""
    from interp.classifier import get_trainer
    from interp.locking import workdir_lock
    from interp.pipeline import MatrixConfig, load_chamber_data, train_cell

    check_name(model, "model", "--model")
    check_name(train_on, "chamber", "--train-on")
    for c in eval_on or []:
        check_name(c, "chamber", "--eval-on")
    get_trainer(model)  # unknown model: fail before loading data
    files = parse_data_files(data)
    chambers = [train_on, *[c for c in (eval_on or []) if c != train_on]]
    cfg = MatrixConfig.from_profile(
        profile, models=(model,), chambers=tuple(chambers), n_boot=n_boot, seed=seed
    )
    with workdir_lock(workdir):  # one writer: a second train/matrix/reproduce here refuses
        d = load_chamber_data(train_on, cfg, workdir, files, progress=not quiet)
        clf, run = train_cell(model, d, cfg, workdir, progress=not quiet)
        run_dir = workdir / "runs" / model / train_on
        how = "reused" if run["reused"] else "trained"
        secs = run.get("train_seconds", 0)
        typer.echo(f"{how} {model} on {train_on} ({secs:.1f} s): {run_dir}")
        _evaluate_and_save(clf, d, chambers, cfg, workdir, files, run_dir, not quiet)


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
    seed: Annotated[int, typer.Option(help="Seed of data and splits")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """Evaluate a trained classifier on the test split of chambers (threshold chosen on the
    validation split of its training chamber)."""
    from interp.classifier import load_classifier
    from interp.pipeline import MatrixConfig, load_chamber_data

    clf = load_classifier(run_dir)
    if profile is None:
        run_file = run_dir / "run.json"
        info = json.loads(run_file.read_text()) if run_file.is_file() else {}
        profile = str(info.get("profile", "quick"))
    if workdir is None:
        rd = run_dir.resolve()
        workdir = rd.parents[2] if rd.parent.parent.name == "runs" else Path("out/study")
    files = parse_data_files(data)
    chambers = [clf.train_chamber, *[c for c in on if c != clf.train_chamber]]
    cfg = MatrixConfig.from_profile(
        profile, models=(clf.name,), chambers=tuple(chambers), n_boot=n_boot, seed=seed
    )
    d = load_chamber_data(clf.train_chamber, cfg, workdir, files, progress=not quiet)
    _evaluate_and_save(clf, d, list(on), cfg, workdir, files, run_dir, not quiet)


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
    quiet: QuietOpt = False,
) -> None:
    """Train every model on every chamber, test on every chamber; write matrix.json/.md."""
    from interp.pipeline import PROFILES, MatrixConfig, run_matrix

    if profile not in PROFILES:
        raise UnknownNameError("matrix profile", profile, PROFILES)
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
        cfg, workdir, parse_data_files(data), progress=not quiet, log=None if quiet else typer.echo
    )
    typer.echo((workdir / "matrix.md").read_text())
    typer.echo(f"matrix done in {result['total_seconds']:.1f} s: {workdir / 'matrix.json'}")

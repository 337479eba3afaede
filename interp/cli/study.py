"""``train``, ``evaluate`` and ``matrix``: the train-on-one-chamber / test-on-both study.

Data come from ``--data CHAMBER=FILE`` (any cluster format) or, for chambers without a file,
from the simulator (cached in ``WORKDIR/data``). Runs live in ``WORKDIR/runs/<model>/<chamber>``
and are reused by later commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from interp.cli.app import app
from interp.core.errors import TPCInterpError
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


RenameOpt = Annotated[
    bool,
    typer.Option(
        "--rename-chamber",
        help="Accept a --data file whose own chamber metadata differs from its CHAMBER key",
    ),
]
PngOpt = Annotated[bool, typer.Option(help="Also write PNG figures (needs Chromium)")]


MODEL_HELP = (
    "Model: a file of the models package (perceptron, split_conv, resnet, xgboost...), an "
    "external my_pkg.my_model:Model, or a tpc_interp.models entry point"
)


@app.command()
def train(
    model: Annotated[str, typer.Option(help=MODEL_HELP)],
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
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds",
            min=2,
            help="Train a K-fold ensemble (by event) into runs/MODEL_foldsK/CHAMBER instead",
        ),
    ] = None,
) -> None:
    """Train one model on one chamber and evaluate it on that chamber (and --eval-on ones).

    Every input is checked (files, formats, chamber names, windows) before anything is
    trained or written. Chambers whose files share event ids get one shared split. With
    --folds K the model trains K times on K event folds of the training split and the K
    models are saved as one ensemble classifier (evaluate/predict/export take its folder)."""
    from interp.study.saved_runs import train_and_evaluate

    check_name(model, "model", "--model")
    check_name(train_on, "chamber", "--train-on")
    for c in eval_on or []:
        check_name(c, "chamber", "--eval-on")
    if folds is not None:
        from interp.study.ensembles import train_ensemble_and_evaluate

        train_ensemble_and_evaluate(
            model, train_on, eval_on or [], parse_data_files(data), profile, workdir, n_boot,
            seed, folds, rename_chamber, png, progress=not quiet, log=typer.echo,
        )  # fmt: skip
        return
    train_and_evaluate(
        model,
        train_on,
        eval_on or [],
        parse_data_files(data),
        profile,
        workdir,
        n_boot,
        seed,
        rename_chamber,
        png,
        progress=not quiet,
        log=typer.echo,
    )


@app.command("evaluate")
def evaluate_command(
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
    tta: Annotated[
        str | None,
        typer.Option(
            help="pad-mirror: test-time augmentation (mean over each window and its mirror "
            "across pads); results in eval_CHAMBER_tta.json, the symmetry check is printed"
        ),
    ] = None,
) -> None:
    """Evaluate a trained classifier on the test split of chambers (threshold chosen on the
    validation split of its training chamber).

    The classifier's own splits (``splits.json`` and the seed and fractions of its
    ``run.json``) are always used; evaluate never re-splits and never writes a splits file.
    """
    from interp.study.saved_runs import evaluate_saved_run

    evaluate_saved_run(
        run_dir,
        on,
        parse_data_files(data),
        profile,
        workdir,
        n_boot,
        seed,
        rename_chamber,
        png,
        progress=not quiet,
        log=typer.echo,
        tta=tta,
    )


@app.command()
def matrix(
    profile: ProfileOpt = "quick",
    workdir: WorkdirOpt = Path("out/study"),
    data: DataOpt = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated models (default: the profile's)")
    ] = None,
    chambers: Annotated[str | None, typer.Option(help="Comma-separated chambers")] = None,
    n_boot: Annotated[int | None, typer.Option(min=0, help="Bootstrap replicates")] = None,
    seed: Annotated[int, typer.Option(help="Seed of data, splits, training, bootstrap")] = 0,
    rename_chamber: RenameOpt = False,
    quiet: QuietOpt = False,
    folds: Annotated[
        int | None,
        typer.Option("--folds", min=2, help="Also a K-fold ensemble row per cell (paired gain)"),
    ] = None,
    tta: Annotated[
        str | None,
        typer.Option(help="pad-mirror: also a test-time-augmentation row per cell (paired gain)"),
    ] = None,
) -> None:
    """Train every model on every chamber, test on every chamber; write matrix.json/.md."""
    from interp.core.profiles import check_profile
    from interp.study.config import MatrixConfig
    from interp.study.matrix import run_matrix
    from interp.study.matrix_tables import transfer_lines

    check_profile(profile, "matrix profile")
    changes: dict[str, Any] = {"seed": seed}
    if (m := _split_names(models)) is not None:
        changes["models"] = m
    if (c := _split_names(chambers)) is not None:
        changes["chambers"] = c
    if n_boot is not None:
        changes["n_boot"] = n_boot
    if folds is not None:
        changes["folds"] = folds
    if tta:
        from interp.backends.tta import parse_tta

        changes["tta"] = parse_tta(tta)
    if folds is not None or tta:
        changes["technique_models"] = None  # asked for: every model of --models gets the rows
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

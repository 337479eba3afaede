"""``reproduce``: run one study of ``experiments/`` (or all) and write the report."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from interp.cli.app import app
from interp.cli.study import DataOpt, RenameOpt, parse_data_files
from interp.core.names import check_name


@app.command()
def reproduce(
    study: Annotated[
        str, typer.Argument(help="Study name in experiments/, a path to a study .toml, or all")
    ] = "all",
    profile: Annotated[
        str, typer.Option(envvar="TPC_INTERP_PROFILE", help="smoke | quick | full")
    ] = "quick",
    workdir: Annotated[Path, typer.Option(help="Work directory (artefacts are cached)")] = Path(
        "out"
    ),
    data: DataOpt = None,
    png: Annotated[bool, typer.Option(help="Also write PNG + PDF figures")] = True,
    rename_chamber: RenameOpt = False,
    chambers: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated chambers of the studies' matrices instead of their own, "
            "e.g. VTPC2,NEWTPC with --data NEWTPC=FILE (a chamber of your own)"
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars")] = False,
    data_commands: Annotated[
        bool,
        typer.Option(
            "--data-commands",
            help="Only print the `tpc-interp simulate` commands that write the study's "
            "built-in data as files (pass them back with --data for the same numbers)",
        ),
    ] = False,
) -> None:
    """Run a study (or all) and write REPORT.md + index.html beside the published numbers.

    Stages run in WORKDIR/<stage>/<config hash> and are reused by later runs (a finished
    stage is not re-run; an interrupted one resumes). The report goes to
    WORKDIR/report-<STUDY>-<PROFILE>/.
    """
    from interp.core.locking import hold_workdir_lock
    from interp.core.profiles import check_profile
    from interp.report import build_report
    from interp.study.experiments import StageContext, failed_stages, load_studies, run_study
    from interp.study.study_inputs import check_study_inputs, simulate_lines

    check_profile(profile, "profile")
    t0 = time.perf_counter()
    files = parse_data_files(data)
    studies = load_studies(study)
    if chambers is not None:
        names = tuple(c.strip() for c in chambers.split(",") if c.strip())
        for c in names:
            check_name(c, "chamber", "--chambers")
        studies = [s.with_chambers(names) for s in studies]
    if data_commands:
        for name, line in simulate_lines(studies, profile):
            typer.echo(f"# {name}\n{line}")
        return
    check_study_inputs(studies, profile, files, rename_chamber)  # before any stage runs
    hold_workdir_lock(workdir)  # one writer per work directory: a second reproduce refuses
    runs = []
    for s in studies:
        ctx = StageContext(
            study=s,
            profile=profile,
            workdir=workdir,
            data_files=files,
            png=png,
            progress=not quiet,
            log=(lambda _m: None) if quiet else typer.echo,
            rename_chamber=rename_chamber,
        )
        runs.append((s, run_study(ctx)))
    label = Path(study).stem if study != "all" else "all"
    out_dir = workdir / f"report-{label}-{profile}"
    paths = build_report(
        runs,
        out_dir,
        profile,
        " ".join(["tpc-interp", *sys.argv[1:]]),
        time.perf_counter() - t0,
        png=png,
    )
    typer.echo(f"report: {paths['html']} and {paths['markdown']}")
    failures = failed_stages(runs)
    if failures:
        for f in failures:
            typer.echo(f"FAILED stage {f}", err=True)
        typer.echo(f"reproduce finished with {len(failures)} failed stage(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"reproduce done in {time.perf_counter() - t0:.1f} s")

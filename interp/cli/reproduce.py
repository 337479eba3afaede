"""``reproduce``: the README's main job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from interp.cli.app import app


@app.command()
def reproduce(
    profile: Annotated[str, typer.Option(help="smoke | quick | full")] = "quick",
    workdir: Annotated[Path, typer.Option(help="Work directory (artefacts are cached)")] = Path(
        "out"
    ),
    png: Annotated[bool, typer.Option(help="Also write PNG figures (needs Chromium)")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars")] = False,
) -> None:
    """Run the study on the embedded simulator: data of both chambers, summaries, figures.

    Artefacts go to WORKDIR/PROFILE; a second run reuses them.
    """
    from interp.datastudy import DataStudyConfig, run_data_study

    cfg = DataStudyConfig.profile(profile)
    report = run_data_study(workdir / profile, cfg, png=png, progress=not quiet)
    typer.echo(report["text"])
    typer.echo(f"data study done in {report['seconds']:.1f} s; see {workdir / profile}")

"""The Typer application shared by all command modules."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tpc-interp",
    help="Interpretable classification of TPC clusters (NA61/SHINE noise-cluster study).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"tpc-interp {version('tpc-interp')}")
        except PackageNotFoundError:  # a source tree that was never installed
            typer.echo("tpc-interp (not installed: no version metadata)")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit"
    ),
) -> None:
    """Interpretable classification of TPC clusters (NA61/SHINE noise-cluster study)."""

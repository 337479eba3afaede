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

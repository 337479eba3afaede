"""Command-line interface: ``tpc-interp COMMAND``.

Each module below registers its commands on the shared :data:`app`; user-facing errors
(:class:`~interp.errors.TPCInterpError`) are printed as one clear line with exit code 2
instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys

from interp.cli.app import app as _typer_app
from interp.errors import TPCInterpError

_COMMAND_MODULES = ("interp.cli.data", "interp.cli.study", "interp.cli.reproduce")

for _mod in _COMMAND_MODULES:
    try:
        importlib.import_module(_mod)
    except ModuleNotFoundError as exc:  # a command module still being written
        if exc.name != _mod:
            raise


def app() -> None:
    """Console-script entry point with clean error reporting."""
    try:
        _typer_app(standalone_mode=False)
    except TPCInterpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors etc.
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            print("aborted", file=sys.stderr)
            sys.exit(130)
        raise


__all__ = ["app"]

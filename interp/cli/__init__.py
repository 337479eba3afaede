"""Command-line interface: ``tpc-interp COMMAND``.

Each module below registers its commands on the shared :data:`app`; user-facing errors
(:class:`~interp.core.errors.TPCInterpError`) are printed as one clear line with exit code 2
instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys

from interp.cli.app import app as _typer_app
from interp.core.errors import TPCInterpError

_COMMAND_MODULES = (
    "interp.cli.data",
    "interp.cli.study",
    "interp.cli.explain",
    "interp.cli.predict",
    "interp.cli.export",
    "interp.cli.reproduce",
)

for _mod in _COMMAND_MODULES:
    try:
        importlib.import_module(_mod)
    except ModuleNotFoundError as exc:  # a command module still being written
        if exc.name != _mod:
            raise


def app() -> None:
    """Console-script entry point with clean error reporting.

    Usage errors are reported by Typer itself (exit code 2); the toolkit's own errors on bad
    input (:class:`~interp.core.errors.TPCInterpError`, missing or unwritable files) are printed as
    one line without a traceback, also with exit code 2.
    """
    try:
        _typer_app()
    except TPCInterpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # missing/unwritable files, full disk (ENOSPC, EDQUOT, EFBIG), EIO
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


__all__ = ["app"]

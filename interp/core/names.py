"""Names that become folder names: chambers and models.

A chamber name (``--train-on``, ``--data CHAMBER=FILE``, a preset's ``name``, a study's
``[matrix] chambers``) and a model name end up as folders of the work directory
(``runs/<model>/<chamber>``, ``data/<chamber>_...``), so they are checked in one place
against one safe pattern before anything is written:

* letters ``A-Z a-z``, digits, ``_``, ``-`` and ``+`` only (ASCII: ``VTPČ2`` is refused, so a
  name never depends on the file system's Unicode normalisation);
* 1 to :data:`MAX_NAME_LENGTH` characters;
* hence never empty, ``.``, ``..`` or a path with separators.

:func:`inside` checks that a path built from a name stays inside its root folder (a second
guard behind the pattern, e.g. against symbolic links planted in the work directory).
"""

from __future__ import annotations

import re
from pathlib import Path

from interp.core.errors import TPCInterpError

MAX_NAME_LENGTH = 64
"""Longest accepted chamber or model name (characters)."""

_SAFE = re.compile(r"[A-Za-z0-9_+\-]+")
ALLOWED = "letters A-Z/a-z, digits, '_', '-', '+'"
_EXTERNAL_MODEL = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)
"""A model named by ``module.path:attr`` (see ``models.registry``) is also a safe folder name."""


class BadNameError(TPCInterpError, ValueError):
    """A chamber or model name that cannot be used as a folder name."""


def check_name(name: object, kind: str = "chamber", source: str | None = None) -> str:
    """Returns ``name`` if it is a safe chamber/model name, else raises one clear error.

    Args:
        name: The name to check.
        kind: What it names (``"chamber"``, ``"model"``), for the message.
        source: Where it came from (an option such as ``--train-on``, a file), for the message.

    Raises:
        BadNameError: Not a string, empty, too long, or a character outside :data:`ALLOWED`.
    """
    where = f"{source}: " if source else ""
    if not isinstance(name, str):
        raise BadNameError(f"{where}{kind} name must be a string, got {name!r}")
    shown = name if len(name) <= 80 else f"{name[:40]}...({len(name)} characters)"
    if not name:
        raise BadNameError(f"{where}{kind} name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise BadNameError(
            f"{where}{kind} name {shown!r} is {len(name)} characters long; at most "
            f"{MAX_NAME_LENGTH} are allowed"
        )
    if kind == "model" and _EXTERNAL_MODEL.fullmatch(name):
        return name  # an external model, ``my_pkg.my_model:Model`` (no separator, never "..")
    if not _SAFE.fullmatch(name):
        bad = sorted({c for c in name if not _SAFE.fullmatch(c)})
        raise BadNameError(
            f"{where}{kind} name {shown!r} contains {''.join(bad)!r}; a {kind} name becomes a "
            f"folder name and may only use {ALLOWED}"
        )
    return name


def inside(root: str | Path, path: str | Path) -> Path:
    """Returns ``path`` if it resolves to ``root`` itself or below it, else raises.

    Both are resolved (symbolic links followed; missing parts are fine).

    Raises:
        BadNameError: ``path`` escapes ``root``.
    """
    root_r = Path(root).resolve()
    path_r = Path(path).resolve()
    if path_r != root_r and root_r not in path_r.parents:
        raise BadNameError(f"{path}: resolves to {path_r}, outside the work directory {root_r}")
    return Path(path)


def name_folder(root: str | Path, *names: str, kinds: tuple[str, ...] = ()) -> Path:
    """``root / names[0] / names[1] ...`` after checking every name and the result.

    Args:
        root: Folder the result must stay inside.
        names: Folder names (each checked with :func:`check_name`).
        kinds: What each name names (default ``"name"``), for the messages.

    Raises:
        BadNameError: A bad name, or a result outside ``root``.
    """
    path = Path(root)
    for i, name in enumerate(names):
        check_name(name, kinds[i] if i < len(kinds) else "name")
        path = path / name
    return inside(root, path)

"""The run record ``run.json`` of a trained classifier's run folder: one schema, one writer.

Schema (a JSON object; :data:`RUN_FIELDS`)::

    model          model name
    chamber        the run folder's chamber (the training chamber)
    profile        training profile (:mod:`interp.core.profiles`)
    config         the resolved trainer config (profile, overrides, seed)
    train_seconds  wall time of the original training (reuse keeps it)
    fingerprint    identity of the training data (chamber, window, counts, checksum)
    identity       the training identity, the run folder's cache key
    outputs        size and SHA-256 of every classifier file (written last: a finished run)
    splits         summary of the splits the classifier was trained with (optional)

The record is written last, atomically, once the classifier is saved, so a record with
``outputs`` marks a finished run. Readers take older or partial files as they are: a record
without ``outputs`` is *incomplete* (:func:`run_record_problem`), never an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.core.errors import ClusterDataError
from interp.core.fsutil import atomic_write_text

RUN_FILE = "run.json"
RUN_FIELDS: tuple[str, ...] = (
    "model",
    "chamber",
    "profile",
    "config",
    "train_seconds",
    "fingerprint",
    "identity",
    "outputs",
    "splits",
)
"""Every field a run record may hold (``splits`` is added after training)."""
FINISHED_FIELD = "outputs"
"""The field whose presence marks a finished run."""


def _check_fields(path: Path, fields: Mapping[str, Any]) -> None:
    unknown = sorted(set(fields) - set(RUN_FIELDS))
    if unknown:
        raise ValueError(f"{path}: run record field(s) {unknown} not in {list(RUN_FIELDS)}")


def write_run_record(run_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """Writes ``run_dir/run.json`` atomically (JSON, indent 1; non-JSON values as ``str``).

    Raises:
        ValueError: ``record`` holds a field outside :data:`RUN_FIELDS`, naming the file and
            the fields.
    """
    path = Path(run_dir) / RUN_FILE
    _check_fields(path, record)
    atomic_write_text(path, json.dumps(dict(record), indent=1, default=str))
    return path


def update_run_record(run_dir: str | Path, **fields: Any) -> bool:
    """Sets ``fields`` in an existing run record, keeping every other field (older records
    included); nothing is written when there is no record or nothing changes.

    Returns:
        Whether ``run.json`` was rewritten.

    Raises:
        ValueError: A field outside :data:`RUN_FIELDS`.
        ClusterDataError: An unreadable record (:func:`read_run_record`).
    """
    path = Path(run_dir) / RUN_FILE
    _check_fields(path, fields)
    info = read_run_record(run_dir)
    if not path.is_file() or all(info.get(k) == v for k, v in fields.items()):
        return False
    info.update(fields)
    atomic_write_text(path, json.dumps(info, indent=1, default=str))
    return True


def read_run_record(run_dir: str | Path) -> dict[str, Any]:
    """The run record of ``run_dir``; ``{}`` when there is none.

    Older records (fewer fields, or fields of older versions) are returned as they are.

    Raises:
        ClusterDataError: A ``run.json`` that is not readable JSON or not a JSON object.
    """
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClusterDataError(str(path), None, f"cannot read run record: {exc}") from exc
    if not isinstance(info, dict):
        raise ClusterDataError(str(path), None, "cannot read run record: not a JSON object")
    return info


def run_record_problem(run_dir: str | Path) -> str | None:
    """Why ``run_dir`` holds no finished run record (``None``: it does).

    Returns:
        ``None``, or a sentence naming ``run.json``: missing, unreadable, or incomplete (no
        :data:`FINISHED_FIELD`: the run was interrupted before it was recorded).
    """
    path = Path(run_dir) / RUN_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{RUN_FILE} is missing (the run was interrupted before it was recorded)"
    except (OSError, ValueError) as exc:
        return f"{RUN_FILE} is unreadable ({exc})"
    if not isinstance(info, dict) or FINISHED_FIELD not in info:
        return f"{RUN_FILE} is incomplete (the run was interrupted before it was recorded)"
    return None

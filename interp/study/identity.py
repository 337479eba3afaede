"""What a trained classifier depends on and whether its run folder can be reused.

A run folder ``runs/<model>/<CHAMBER>`` holds the classifier, its run record (``run.json``,
:mod:`interp.core.run_record`: training identity, provenance, time, file digests) and the
splits it was trained with (``splits.json``). :func:`training_identity` is the cache key; a
folder whose record holds another identity is cleared and trained again.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.classifier import (
    CLASSIFIER_FILE,
)
from interp.core.errors import (
    ClusterDataError,
)
from interp.core.fsutil import (
    folder_problems,
)
from interp.core.run_record import read_run_record, run_record_problem, update_run_record
from interp.core.schema import ClusterSet
from interp.data.splits import (
    Splits,
)
from interp.study.inputs import ChamberData

NOT_TRAINED = "not trained yet"  # the reuse check's reason for a run folder with no model

SPLITS_FILE = "splits.json"


def record_splits(run_dir: Path, data: ChamberData) -> dict[str, Any]:
    """Saves the splits a classifier was trained with into its run folder.

    Writes ``run_dir/splits.json`` (unless present: an existing model's splits are never
    overwritten) and a ``"splits"`` summary into ``run_dir/run.json``: ``seed``,
    ``fractions``, ``policy``, ``chambers`` and ``file``. ``evaluate`` uses exactly these.

    Returns:
        The summary.
    """
    path = run_dir / SPLITS_FILE
    if not path.is_file():
        data.splits.save(path)
    saved = Splits.load(path)
    summary = {
        "seed": saved.seed,
        "fractions": list(saved.fractions),
        "policy": saved.policy,
        "chambers": list(saved.chambers),
        "file": SPLITS_FILE,
    }
    update_run_record(run_dir, splits=summary)
    return summary


def recorded_splits(run_dir: str | Path) -> tuple[Splits, dict[str, Any]]:
    """The splits a classifier in ``run_dir`` was trained with, and its run record.

    Older runs without ``splits.json`` get splits re-made with the seed and fractions of
    their run record, in memory only; ``evaluate`` then checks them against the training
    fingerprint.

    Returns:
        ``(splits or None, run record)``; ``None`` when the run has no ``splits.json``.

    Raises:
        ClusterDataError: Unreadable run record or splits file.
    """
    run_dir = Path(run_dir)
    info = read_run_record(run_dir)
    path = run_dir / SPLITS_FILE
    return (Splits.load(path) if path.is_file() else None), info


def check_fingerprint(run_dir: str | Path, info: Mapping[str, Any], data: ChamberData) -> None:
    """Refuses to evaluate a classifier on data other than those it was trained on.

    Raises:
        ClusterDataError: The train/val splits of ``data`` differ from the run record's
            fingerprint.
    """
    fp = info.get("fingerprint")
    now = data_fingerprint(data.parts["train"], data.parts["val"])
    if fp is not None and fp != now:
        raise ClusterDataError(
            str(run_dir),
            "splits",
            f"the training data or splits differ from those this classifier was trained on "
            f"({fp} vs now {now}); evaluate never re-splits under a model: pass the files it "
            "was trained with",
        )


def data_fingerprint(train: ClusterSet, val: ClusterSet) -> dict[str, Any]:
    """Identity of a training set: cluster/event counts and a checksum of event ids/labels."""
    h = zlib.crc32(np.ascontiguousarray(train.event_id).tobytes())
    h = zlib.crc32(np.ascontiguousarray(train.label).tobytes(), h)
    h = zlib.crc32(np.ascontiguousarray(val.event_id).tobytes(), h)
    return {
        "chamber": train.chamber,
        "window": list(train.window_shape),
        "n_train": len(train),
        "n_val": len(val),
        "checksum": int(h),
    }


def to_jsonable(cfg: Any) -> Any:
    if hasattr(cfg, "to_dict"):
        return cfg.to_dict()
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    return cfg


def training_identity(
    model: str, profile: str, cfg: Any, fingerprint: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything a trained classifier depends on: the cache key of a run folder.

    The resolved config object holds the profile's values, every override and the seed; the
    fingerprint names the training data (see :func:`data_fingerprint`).
    """
    return json.loads(
        json.dumps(
            {
                "model": model,
                "profile": profile,
                "config": to_jsonable(cfg),
                "fingerprint": dict(fingerprint),
            },
            default=str,
        )
    )


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, Mapping):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _identity_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    """``None`` when equal, else a short sentence naming what changed."""
    if old is None:
        return "the run folder records no training identity (older run)"
    if old == new:
        return None
    fo, fn = _flat(old), _flat(new)
    changed = sorted(k for k in set(fo) | set(fn) if fo.get(k) != fn.get(k))
    data = [k for k in changed if k.startswith("fingerprint.")]
    rest = [f"{k} {fo.get(k)!r} -> {fn.get(k)!r}" for k in changed if k not in data]
    parts = (["training data changed"] if data else []) + rest
    text = "; ".join(parts)
    return text if len(text) <= 300 else text[:297] + "..."


def clear_run_dir(run_dir: Path) -> None:
    """Removes a stale run's files (classifier, checkpoints) so the trainer starts afresh."""
    import shutil

    for p in run_dir.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def reuse_problem(
    run_dir: Path, identity: Mapping[str, Any]
) -> tuple[str | None, bool, dict[str, Any]]:
    """Why the run in ``run_dir`` cannot be reused (``None``: it can), and its record.

    A finished run has ``classifier.json`` and a ``run.json`` holding the training identity
    (:func:`training_identity`) and the digests of the classifier's files. A record that is
    missing, unreadable or incomplete (a kill before it was written) or files changed since
    are reasons to train again (the Flax trainer resumes its checkpoints); a run made with
    another training identity is cleared first, so nothing of it is resumed.

    Returns:
        ``(reason, clear, record)``: ``reason`` ``None`` to reuse; ``clear`` whether the
        folder belongs to another training identity.
    """
    if not (run_dir / CLASSIFIER_FILE).is_file():
        return NOT_TRAINED, False, {}
    why = run_record_problem(run_dir)
    if why is not None:
        return why, False, {}
    info = read_run_record(run_dir)
    changed = _identity_changes(info.get("identity"), identity)
    if changed is not None:
        return changed, True, info
    problems = folder_problems(run_dir, info["outputs"])
    if problems:
        return "saved classifier changed since training (" + "; ".join(problems) + ")", False, info
    return None, False, info

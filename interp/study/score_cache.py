"""Scores a matrix stage computed, kept in the run folder so later stages need not recompute.

The matrix stage scores every cell's validation split and each chamber's test split with the
first seed's classifier; the explain stage needs exactly those scores again (operating point,
confusion cells, physics breakdowns). At the full profile that is ~1.3 M clusters per cell,
~40 s for the ResNet through ONNX Runtime. The matrix stage stores them as

    <run_dir>/scores/<split>_<chamber>.npy    float32 [N] P(signal), plain .npy (no pickle)
    <run_dir>/scores/<split>_<chamber>.json   {"n", "data_sha256", "classifier_sha256"}

and :func:`load_scores` returns them only when both fingerprints match: the split's charge
array (:func:`split_fingerprint`, its bytes, dtype and shape) and the classifier's files
(:func:`classifier_fingerprint`). Anything else (no file, another split, a retrained model,
a damaged file) is a miss, and the caller scores again; a cache never changes a result
beyond the backend's own rounding (the matrix scores with the classifier it trained, a
later stage with the one it loads).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from interp.core.fsutil import atomic_path, atomic_write_text, file_digest
from interp.core.schema import ClusterSet
from interp.study.identity import SPLITS_FILE

SCORES_DIR = "scores"
"""Sub-folder of a run folder holding the cached scores."""

_LOG_FILES = frozenset({"metrics.jsonl", "run.json", SPLITS_FILE})
"""Run-folder files that record the training, not the classifier (not fingerprinted)."""


def split_fingerprint(part: ClusterSet) -> str:
    """sha256 hex of one split's charge array [N, P, T] (bytes, dtype and shape)."""
    charge = np.ascontiguousarray(part.charge)
    h = hashlib.sha256(f"{charge.dtype.str}{charge.shape}".encode())
    h.update(memoryview(charge).cast("B"))
    return h.hexdigest()


def classifier_fingerprint(run_dir: str | Path) -> str:
    """sha256 hex over the names and bytes of the run folder's top-level files, except the
    training records (``metrics.jsonl``, ``run.json``, ``splits.json``): what
    :func:`load_classifier` reads and the operating point and calibration stored beside it."""
    h = hashlib.sha256()
    for path in sorted(Path(run_dir).iterdir()):
        if path.is_file() and path.name not in _LOG_FILES:
            h.update(f"{path.name}\0{file_digest(path)['sha256']}\0".encode())
    return h.hexdigest()


def _paths(run_dir: Path, name: str) -> tuple[Path, Path]:
    folder = run_dir / SCORES_DIR
    return folder / f"{name}.npy", folder / f"{name}.json"


def save_scores(
    run_dir: str | Path, name: str, scores: np.ndarray, data_sha256: str, classifier_sha256: str
) -> Path:
    """Writes ``scores`` (float32 [N]) as ``<run_dir>/scores/<name>.npy`` with its record
    (atomically, the record last); returns the ``.npy`` path."""
    run_dir = Path(run_dir)
    npy, meta = _paths(run_dir, name)
    npy.parent.mkdir(parents=True, exist_ok=True)
    values = np.ascontiguousarray(scores, dtype=np.float32).reshape(-1)
    with atomic_path(npy) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, values, allow_pickle=False)
    record = {
        "n": int(values.size),
        "data_sha256": data_sha256,
        "classifier_sha256": classifier_sha256,
    }
    atomic_write_text(meta, json.dumps(record, indent=1))
    return npy


def load_scores(
    run_dir: str | Path, name: str, data_sha256: str, classifier_sha256: str
) -> np.ndarray | None:
    """The scores :func:`save_scores` stored under ``name``, float32 [N], or ``None`` when
    there are none or either fingerprint (or the length) differs."""
    npy, meta = _paths(Path(run_dir), name)
    try:
        record = json.loads(meta.read_text())
        if (
            record.get("data_sha256") != data_sha256
            or record.get("classifier_sha256") != classifier_sha256
        ):
            return None
        values = np.load(npy, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if values.dtype != np.float32 or values.shape != (int(record.get("n", -1)),):
        return None
    return values


def stored_or_scored(
    run_dir: str | Path,
    name: str,
    part: ClusterSet,
    predict: Callable[[np.ndarray], np.ndarray],
    data_sha256: str,
    classifier_sha256: str,
) -> np.ndarray:
    """The stored scores of ``part`` under ``name`` if they match, else ``predict(part.charge)``
    (float32 [N] P(signal)); nothing is written."""
    kept = load_scores(run_dir, name, data_sha256, classifier_sha256)
    return np.asarray(predict(part.charge), np.float32) if kept is None else kept

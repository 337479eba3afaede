"""Streaming scoring of whole runs: one signal probability per cluster, bounded memory.

:func:`predict_files` reads cluster files of any supported format chunk by chunk
(:func:`interp.data.io.iter_clusters`), scores every chunk with a saved classifier and appends
the scores to a Parquet/HDF5/ROOT table written atomically (:class:`~interp.data.io.scores.
ScoreWriter`). Memory is bounded by the chunk size (one chunk of charge plus the model's
batch temporaries), not by the file size.

Output columns:

================== ======= =============================================================
column             dtype   meaning
================== ======= =============================================================
file_index         int32   position of the input file in the ``files`` list
event_id           int64   event number from the input
cluster_index      int64   index of the cluster within its event, in file order (counted
                           across chunks, restarting for each input file)
p_signal           float32 P(signal) in [0, 1] (the same number as ``predict_proba``;
                           with ``calibrated``, the calibrated probability)
p_signal_raw       float32 only with ``calibrated``: the raw P(signal) the threshold applies to
label              int8    the input label (0 noise, 1 signal), unless disabled
================== ======= =============================================================

``(file_index, event_id, cluster_index)`` identifies a cluster uniquely; for one input file
``(event_id, cluster_index)`` does. The file's JSON metadata
(:data:`interp.data.io.scores.META_KEY`)
holds the model, its inputs and ``threshold``, the model's validation operating point (call
signal when ``p_signal >= threshold``; ``null`` for a model never evaluated).

With ``calibrated="platt"`` or ``"isotonic"`` the ``p_signal`` column holds the probability
mapped through the model's validation calibration (:mod:`interp.evaluation.calibration`,
``calibration.json``): P(signal) under the training chamber's validation class mix. The
threshold stays defined on the raw score: the metadata say ``"threshold_applies_to":
"p_signal_raw"`` and the raw score is kept in its own column; ``calibration`` records the
method, the fitting split's chamber, size and signal fraction, and ``threshold_calibrated``,
the threshold's image under the map (for Platt with ``a > 0`` the same cut; for isotonic a
looser one where the map is flat).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.errors import ClusterDataError, ShapeMismatchError, TPCInterpError
from interp.data.io.scores import ScoreWriter, check_score_path

DEFAULT_CHUNK_SIZE = 65536
"""Clusters read and scored at a time (~58 MB of float32 11 x 20 windows)."""

SCORE_FIELDS: dict[str, np.dtype] = {
    "file_index": np.dtype(np.int32),
    "event_id": np.dtype(np.int64),
    "cluster_index": np.dtype(np.int64),
    "p_signal": np.dtype(np.float32),
    "label": np.dtype(np.int8),
}
"""Output columns and dtypes (``label`` is optional)."""


class EventCounter:
    """Running per-event cluster counters: the index of each cluster within its event."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}

    def __call__(self, event_id: np.ndarray) -> np.ndarray:
        """Indices (int64 [N]) of one chunk's clusters within their events, continuing the
        counts of earlier chunks; order within an event is file order."""
        event_id = np.asarray(event_id, np.int64)
        n = event_id.size
        if n == 0:
            return np.zeros(0, np.int64)
        uniq, inv = np.unique(event_id, return_inverse=True)
        counts = np.bincount(inv, minlength=uniq.size)
        starts = np.cumsum(counts) - counts
        order = np.argsort(inv, kind="stable")
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n, dtype=np.int64) - np.repeat(starts, counts)
        base = np.fromiter((self._next.get(int(u), 0) for u in uniq), np.int64, uniq.size)
        for u, b, c in zip(uniq.tolist(), base.tolist(), counts.tolist(), strict=True):
            self._next[u] = b + c
        return base[inv] + rank


def _load(classifier_dir: str | os.PathLike[str]) -> Any:
    from interp.backends.classifier import load_classifier

    path = Path(classifier_dir)
    if not path.is_dir():
        raise ClusterDataError(str(path), None, "model folder does not exist")
    try:
        return load_classifier(path)
    except TPCInterpError:
        raise
    except Exception as exc:  # corrupt weights etc.: one clear line, not a library traceback
        raise ClusterDataError(
            str(path), None, f"cannot load the classifier ({type(exc).__name__}: {exc})"
        ) from exc


def _calibration(classifier_dir: str | os.PathLike[str], method: str | None) -> Any:
    """The model folder's calibration for ``method`` (``None`` for raw scores)."""
    from interp.evaluation.calibration import CALIBRATION_FILE, METHODS, load_calibration

    if method is None:
        return None
    if method not in METHODS:
        raise ClusterDataError(str(classifier_dir), "calibrated", f"must be one of {METHODS}")
    cal = load_calibration(classifier_dir)
    if cal is None:
        raise ClusterDataError(
            str(Path(classifier_dir) / CALIBRATION_FILE),
            None,
            "no calibration stored with this model (models trained by `tpc-interp train` or "
            "`matrix` have one); score without --calibrated",
        )
    return cal


def calibration_meta(calibration: Any, method: str, threshold: float | None) -> dict[str, Any]:
    """Score-file metadata of a calibrated ``p_signal`` (see the module docstring)."""
    return {
        "p_signal": f"calibrated ({method}): P(signal) under the {calibration.split} class mix",
        "calibration": {
            "method": method,
            "split": calibration.split,
            "chamber": calibration.chamber,
            "n": calibration.n,
            "signal_fraction": calibration.signal_fraction,
            **calibration.map(method).to_dict(),
        },
        "threshold_applies_to": "p_signal_raw",
        "threshold_calibrated": calibration.map_threshold(threshold, method),
    }


def signal_scorer(
    clf: Any, devices: int | None = None, batch_size: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Function mapping raw charge float32 [N, P, T] to P(signal) float32 [N].

    Models with logits (Flax) get P(signal) as the logistic of the logit difference; others
    use ``predict_proba``.

    Args:
        clf: A loaded :class:`~interp.backends.classifier.Classifier`.
        devices: For Flax models, score data-parallel over this many local devices
            (:class:`~interp.backends.flax.mesh.ShardedScorer`); ``None`` for one device.
        batch_size: Clusters per forward pass; ``None`` lets the classifier pick its measured
            fastest chunk (e.g. 1024 for the split conv).
    """
    if devices is not None and getattr(clf, "kind", None) == "flax":
        from interp.backends.flax.mesh import ShardedScorer

        scorer = ShardedScorer(clf, devices=devices, batch_size=batch_size or 4096)
        logits: Callable[[np.ndarray], np.ndarray] | None = scorer.logits
    elif hasattr(clf, "logits"):
        logits = lambda x: clf.logits(x, batch_size)  # noqa: E731
    else:
        logits = None

    def score(charge: np.ndarray) -> np.ndarray:
        if logits is None:
            kw = {} if batch_size is None else {"batch_size": batch_size}
            return np.asarray(clf.predict_proba(charge, **kw), np.float32)
        z = logits(charge)
        d = (z[:, 1] - z[:, 0]).astype(np.float64)
        return (0.5 * (1.0 + np.tanh(0.5 * d))).astype(np.float32)

    return score


def _check_inputs(
    files: Sequence[Path],
    out: Path,
    window: tuple[int, int],
    name: str,
    read_options: Mapping[str, Any],
) -> int:
    from interp.data.io import read_info

    if not files:
        raise ClusterDataError(None, None, "no input files given")
    total = 0
    out_resolved = out.resolve()
    for f in files:
        if Path(f).resolve() == out_resolved:
            raise ClusterDataError(str(f), None, "the output file is also an input file")
        info = read_info(f, **read_options)
        if tuple(info["window"]) != tuple(window):
            raise ShapeMismatchError(
                f"{f}: windows {tuple(info['window'])} (pads, time bins) do not match model "
                f"'{name}', trained on {tuple(window)}"
            )
        total += int(info["n_clusters"])
    return total


def predict_files(
    classifier_dir: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = True,
    *,
    devices: int | None = None,
    batch_size: int | None = None,
    include_label: bool = True,
    overwrite: bool = True,
    read_options: Mapping[str, Any] | None = None,
    precision: str = "float32",
    calibrated: str | None = None,
    tta: str | None = None,
) -> dict[str, Any]:
    """Scores every cluster of ``files`` and writes the table to ``out`` atomically.

    Everything that can be checked up front is checked before any output is created: the
    output name and folder, the model, every input's format, metadata and window shape.
    Data errors found later (e.g. NaN charge in a chunk) abort the run and remove the
    temporary file, so ``out`` only ever holds a complete table.

    Args:
        classifier_dir: Folder of a saved classifier (``classifier.json``).
        files: Cluster files (``.npz``, ``.h5``/``.hdf5``, ``.parquet``, ``.root``).
        out: Output table (``.parquet``, ``.h5``/``.hdf5`` or ``.root``).
        chunk_size: Clusters read and scored at a time (memory bound).
        progress: Show a tqdm bar (clusters).
        devices: Data-parallel inference over this many local devices (Flax models).
        batch_size: Clusters per forward pass (``None``: the classifier's fastest chunk).
        include_label: Also write the input ``label`` column.
        overwrite: Replace an existing ``out``; if ``False`` an existing file is an error.
        read_options: ``chamber``/``tree``/``window`` keywords of
            :func:`interp.data.io.iter_clusters` for the inputs (files written by other software).
        precision: Inference precision of a Flax model
            (:attr:`~interp.backends.flax.classifier.FlaxClassifier.precision`: ``float32``,
            ``bfloat16``, ``float16`` or ``int8``); other models take ``float32`` only.
        calibrated: ``"platt"`` or ``"isotonic"``: write the calibrated ``p_signal`` (and
            the raw one as ``p_signal_raw``); ``None`` writes the raw score.
        tta: Test-time augmentation (:func:`interp.backends.tta.parse_tta`, e.g.
            ``"pad-mirror"``): ``p_signal`` is the mean over the window and its mirror
            (:class:`~interp.backends.tta.TTAClassifier`); the pad-mirror symmetry of each
            input's first chunk (:func:`interp.data.symmetry.pad_mirror_check`) goes into
            the metadata (``tta``) and the result (``symmetry``). The stored threshold is
            the plain model's. Not with ``devices`` or ``calibrated``.

    Returns:
        ``{"path", "clusters", "files", "seconds", "clusters_per_s", "model"}`` (and
        ``"symmetry"``, one check per input file, with ``tta``).

    Raises:
        ClusterDataError: Bad input file, model folder or chunk size (names file and field);
            ``calibrated`` given for a model folder without ``calibration.json``.
        ShapeMismatchError: Input windows differ from the model's.
        UnknownFormatError: Unsupported input or output extension.
        ClusterWriteError: The output cannot be written (folder missing or read-only, disk
            full); nothing is left under ``out``.
        WorkdirBusyError: Another process is writing ``out`` (its lock,
            :func:`interp.core.locking.output_lock`, is held for the whole run).
    """
    from tqdm.auto import tqdm

    from interp.core.locking import output_lock
    from interp.data.io import iter_clusters

    t0 = time.perf_counter()
    out_path = check_score_path(out)
    # one writer per output file: a second predict to it refuses, naming this process
    with output_lock(out_path):
        if not overwrite and out_path.exists():
            raise ClusterDataError(
                str(out_path), None, "exists (pass --overwrite, or overwrite=True, to replace it)"
            )
        if int(chunk_size) <= 0:
            raise ClusterDataError(
                str(out_path), None, f"chunk_size must be positive: {chunk_size}"
            )
        if batch_size is not None and int(batch_size) <= 0:
            raise ClusterDataError(
                str(out_path), None, f"batch_size must be positive: {batch_size}"
            )
        paths = [Path(f) for f in files]
        clf = _load(classifier_dir)
        if precision != "float32":
            from interp.backends.flax.classifier import INFERENCE_PRECISIONS

            if precision not in INFERENCE_PRECISIONS:
                raise ClusterDataError(
                    str(classifier_dir), "precision", f"must be one of {INFERENCE_PRECISIONS}"
                )
            if clf.kind != "flax" or devices is not None:
                raise ClusterDataError(
                    str(classifier_dir),
                    "precision",
                    f"'{precision}' applies to Flax models on one device only "
                    f"(model kind '{clf.kind}', devices {devices})",
                )
            clf.precision = precision
        calibration = _calibration(classifier_dir, calibrated)
        options = dict(read_options or {})
        total = _check_inputs(paths, out_path, tuple(clf.window), clf.name, options)
        symmetry = None
        if tta:
            clf, symmetry = _with_tta(clf, tta, classifier_dir, devices, calibrated, paths, options)
        score = signal_scorer(
            clf, devices=devices, batch_size=None if batch_size is None else int(batch_size)
        )
        fields = dict(SCORE_FIELDS)
        if calibration is not None:
            fields = {**dict(list(fields.items())[:4]), "p_signal_raw": np.dtype(np.float32),
                      **dict(list(fields.items())[4:])}  # fmt: skip
        if not include_label:
            fields.pop("label")
        meta = {
            "model": str(classifier_dir),
            "model_name": clf.name,
            "model_kind": clf.kind,
            "files": [str(p) for p in paths],
            "n_clusters": total,
            "columns": list(fields),
            "threshold": getattr(clf, "threshold", None),
        }
        if calibration is not None:
            meta.update(calibration_meta(calibration, calibrated, meta["threshold"]))
        if symmetry is not None:
            meta["tta"] = {"augmentations": list(clf.augmentations), "symmetry": symmetry,
                           "threshold": "the plain model's"}  # fmt: skip
        bar = tqdm(
            total=total,
            desc="predict",
            unit="cluster",
            unit_scale=True,
            disable=None if progress else True,
        )
        with bar, ScoreWriter(out_path, fields, meta) as writer:
            for i, path in enumerate(paths):
                counter = EventCounter()
                for chunk in iter_clusters(path, chunk_size=int(chunk_size), **options):
                    p = score(chunk.charge)
                    cols = {
                        "file_index": np.full(len(chunk), i, np.int32),
                        "event_id": chunk.event_id,
                        "cluster_index": counter(chunk.event_id),
                        "p_signal": p,
                        "label": chunk.label,
                    }
                    if calibration is not None:
                        cols |= {"p_signal": calibration.apply(p, calibrated), "p_signal_raw": p}
                    writer.write(cols)
    seconds = time.perf_counter() - t0
    return {
        "path": str(out_path),
        "clusters": total,
        "files": len(paths),
        "seconds": seconds,
        "clusters_per_s": total / max(seconds, 1e-9),
        "model": clf.name,
        **({"symmetry": symmetry} if symmetry is not None else {}),
    }


def _with_tta(
    clf: Any,
    tta: str,
    classifier_dir: Any,
    devices: int | None,
    calibrated: str | None,
    paths: Sequence[Path],
    options: Mapping[str, Any],
) -> tuple[Any, list[dict[str, Any]]]:
    """``clf`` wrapped for test-time augmentation and the symmetry check of each input's
    first chunk (see :func:`predict_files`)."""
    from interp.backends.tta import TTAClassifier, parse_tta
    from interp.data.io import iter_clusters
    from interp.data.symmetry import pad_mirror_check

    if devices is not None or calibrated is not None:
        raise ClusterDataError(
            str(classifier_dir), "tta", "test-time augmentation runs on one device, uncalibrated"
        )
    try:
        names = parse_tta(tta)
    except TPCInterpError as exc:
        raise ClusterDataError(str(classifier_dir), "tta", str(exc)) from exc
    checks = []
    for path in paths:
        chunks = iter_clusters(path, chunk_size=DEFAULT_CHUNK_SIZE, **options)
        first = next(chunks, None)
        chunks.close()
        if first is not None:
            checks.append({"file": str(path), **pad_mirror_check(first)})
    return TTAClassifier(clf, names), checks

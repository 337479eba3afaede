"""The one interface every trained model (Flax or XGBoost) offers the pipeline.

A trained classifier lives in a directory with a ``classifier.json`` that names its ``kind``;
:func:`load_classifier` dispatches on it through :data:`LOADERS`. Trainers are found by model
name through :func:`get_trainer`, so a new model family is one new module that registers a
trainer and a loader.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from interp.core.errors import ClusterDataError, UnknownNameError
from interp.core.schema import ClusterSet

CLASSIFIER_FILE = "classifier.json"
SAVED_FILES: tuple[str, ...] = (CLASSIFIER_FILE, "params.safetensors", "model.ubj")
"""Every file a saved classifier of a built-in kind may consist of (run records hash them)."""
OPERATING_POINT_FILE = "operating_point.json"
"""``{"threshold", "max_signal_loss", "val_clusters", "chamber"}``: the validation-chosen
operating point (:func:`interp.evaluation.metrics.choose_threshold`), written beside a trained
model."""


@runtime_checkable
class Classifier(Protocol):
    """A trained noise/signal classifier.

    Attributes:
        kind: Loader key (``"flax"`` or ``"xgboost"``).
        name: Model name (``"perceptron"``, ``"split_conv"``, ``"resnet"``, ``"xgboost"``).
        window: (pads, time bins) the model was trained on.
        train_chamber: Chamber of the training data.
        threshold: Validation operating point in P(signal) (``None`` if never evaluated);
            set by :func:`load_classifier` from ``operating_point.json``.
    """

    kind: str
    name: str
    window: tuple[int, int]
    train_chamber: str

    def predict_proba(self, charge: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Signal probability for raw windows.

        Args:
            charge: float32 [N, P, T], raw ADC (preprocessing is applied inside).
            batch_size: Clusters per forward pass.

        Returns:
            float32 [N], P(signal) in [0, 1].

        Raises:
            ShapeMismatchError: If (P, T) differs from :attr:`window`.
        """
        ...

    def save(self, directory: Path) -> None:
        """Writes the classifier (weights + JSON config, no pickle) atomically."""
        ...


TrainerFn = Callable[..., Classifier]
"""``trainer(train: ClusterSet, val: ClusterSet, workdir: Path, config: Any, **kw)``."""

LOADERS: dict[str, Callable[[Path], Classifier]] = {}
_TRAINERS: dict[str, TrainerFn] = {}
_TRAINER_RESOLVERS: list[Callable[[str], TrainerFn | None]] = []


def register_loader(kind: str) -> Callable[[Callable[[Path], Classifier]], Callable]:
    """Decorator registering the loader for classifiers of ``kind``."""

    def deco(fn: Callable[[Path], Classifier]) -> Callable[[Path], Classifier]:
        LOADERS[kind] = fn
        return fn

    return deco


def register_trainer(name: str) -> Callable[[TrainerFn], TrainerFn]:
    """Decorator registering a trainer for one model name."""

    def deco(fn: TrainerFn) -> TrainerFn:
        _TRAINERS[name] = fn
        return fn

    return deco


def register_trainer_resolver(fn: Callable[[str], TrainerFn | None]) -> None:
    """Registers a function mapping a family of names to a trainer (e.g. all Flax models)."""
    _TRAINER_RESOLVERS.append(fn)


def _import_builtin_backends() -> None:
    # Importing the backends registers their trainers and loaders.
    import interp.backends.flax.trainer
    import interp.backends.xgboost.classifier  # noqa: F401


def get_trainer(name: str) -> TrainerFn:
    """Trainer for a model name; raises :class:`UnknownNameError` listing known names."""
    _import_builtin_backends()
    if name in _TRAINERS:
        return _TRAINERS[name]
    for resolver in _TRAINER_RESOLVERS:
        fn = resolver(name)
        if fn is not None:
            return fn
    raise UnknownNameError("model", name, trainable_model_names())


def trainable_model_names() -> list[str]:
    """All names :func:`get_trainer` accepts (Flax registry plus XGBoost)."""
    _import_builtin_backends()
    import models

    return sorted(set(models.model_names()) | set(_TRAINERS))


def load_classifier(directory: str | Path) -> Classifier:
    """Loads a saved classifier of any kind from its directory."""
    _import_builtin_backends()
    directory = Path(directory)
    meta_path = directory / CLASSIFIER_FILE
    if not meta_path.is_file():
        raise ClusterDataError(str(meta_path), None, "no saved classifier here")
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text())
    except ValueError as exc:  # bad JSON, or bytes that are not UTF-8
        raise ClusterDataError(str(meta_path), None, f"corrupt JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise ClusterDataError(str(meta_path), None, "corrupt JSON: not an object")
    kind = meta.get("kind")
    if kind not in LOADERS:
        raise UnknownNameError("classifier kind", str(kind), list(LOADERS))
    clf = LOADERS[kind](directory)
    clf.threshold = read_operating_point(directory)
    return clf


def write_operating_point(
    directory: str | Path, threshold: float, max_signal_loss: float, val_clusters: int, chamber: str
) -> None:
    """Stores the validation operating point beside a saved classifier (atomically)."""
    from interp.core.fsutil import atomic_write_text

    record = {
        "threshold": float(threshold),
        "max_signal_loss": float(max_signal_loss),
        "val_clusters": int(val_clusters),
        "chamber": chamber,
    }
    atomic_write_text(Path(directory) / OPERATING_POINT_FILE, json.dumps(record, indent=1))


def read_operating_point(directory: str | Path) -> float | None:
    """The stored validation threshold (call signal when ``p_signal >= threshold``), or
    ``None`` for a model folder without one (saved before thresholds were stored)."""
    path = Path(directory) / OPERATING_POINT_FILE
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text())["threshold"]
        return float(value)
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterDataError(str(path), "threshold", f"unreadable ({exc})") from exc


def check_window(clf: Classifier, data: ClusterSet) -> None:
    """Raises a clear error if a data set's windows do not fit the classifier."""
    from interp.core.errors import ShapeMismatchError

    if tuple(data.window_shape) != tuple(clf.window):
        raise ShapeMismatchError(
            f"model '{clf.name}' was trained on {tuple(clf.window)} windows (pads, time bins) "
            f"but chamber {data.chamber} data has {data.window_shape}"
        )

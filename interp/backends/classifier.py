"""The one interface every trained model (Flax or XGBoost) offers the pipeline.

A trained classifier lives in a directory with a ``classifier.json`` that names its ``kind``
(its backend). Backends are found by name through the explicit table :data:`BACKEND_MODULES`
(resolved with ``importlib.import_module``, no registration side effects); a model's backend
is its spec's (``models.model_spec(name).backend``). Each backend module offers:

* ``trainer(name) -> TrainerFn``: the training function of one model name;
* ``load(directory) -> Classifier``: the loader of its saved classifiers;
* ``CONFIG_CLASS``: its training config dataclass (``smoke``/``quick``/``full`` profiles).
"""

from __future__ import annotations

import importlib
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
        kind: Backend (a key of :data:`BACKEND_MODULES`: ``"flax"`` or ``"xgboost"``).
        name: Model name (``models.model_spec(name)``: a file of the ``models`` package such
            as ``"resnet"``, or an external ``module:attr`` string or entry point name).
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

BACKEND_MODULES: dict[str, str] = {
    "flax": "interp.backends.flax.trainer",
    "xgboost": "interp.backends.xgboost.classifier",
    "ensemble": "interp.backends.ensemble",
    "tta": "interp.backends.tta",
}
"""Backend name (``classifier.json`` ``kind``, ``ModelSpec.backend``) -> its module.

``ensemble`` (a weighted mean of saved members, :mod:`interp.backends.ensemble`) and ``tta``
(test-time augmentation around a saved classifier, :mod:`interp.backends.tta`) are kinds of
saved classifiers only: no model spec names them as its backend."""


def backend_module(kind: str) -> Any:
    """The module of a backend (see :data:`BACKEND_MODULES`), imported on first use.

    Raises:
        UnknownNameError: Unknown backend.
    """
    if kind not in BACKEND_MODULES:
        raise UnknownNameError("classifier kind", str(kind), list(BACKEND_MODULES))
    return importlib.import_module(BACKEND_MODULES[kind])


def model_backend(name: str) -> Any:
    """The backend module that trains model ``name`` (from its spec)."""
    import models

    return backend_module(models.model_spec(name).backend)


def get_trainer(name: str) -> TrainerFn:
    """Trainer for a model name; raises :class:`UnknownNameError` listing known names."""
    return model_backend(name).trainer(name)


def train_config_class(name: str) -> type:
    """The training config dataclass of a model's backend (``TrainConfig``, ``XGBConfig``)."""
    return model_backend(name).CONFIG_CLASS


def load_classifier(directory: str | Path) -> Classifier:
    """Loads a saved classifier of any kind from its directory."""
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
    clf = backend_module(str(meta.get("kind"))).load(directory)
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

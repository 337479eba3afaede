"""Input preprocessing, fitted on the training chamber and saved with every model.

A :class:`Preprocessor` maps raw charge windows (ADC) to model inputs. It is part of the saved
model (its JSON form lives in the checkpoint's config), so a model trained on VTPC2 applies
VTPC2's scaling when it is evaluated on MTPCL: the cross-chamber test sees the domain shift
exactly as a deployed model would.

Methods (registry :data:`PREPROCESSORS`):

* ``max``: divide each cluster by its own maximum (shape only; no fitted state).
* ``log``: ``log1p(charge) / log1p(scale)``, ``scale`` fitted as the 99.9th percentile.
* ``standardise``: per-pixel ``(charge - mean) / std`` with mean/std fitted on training data.
* ``none``: ``charge / 255`` (the ADC range).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from interp.core.errors import ShapeMismatchError, UnknownNameError

_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class Preprocessor:
    """Fitted preprocessing of charge windows.

    Attributes:
        method: One of :data:`PREPROCESSORS`.
        window: (pads, time bins) the preprocessor was fitted on; inputs must match.
        scale: Scalar scale for ``log`` (ADC).
        mean: Per-pixel mean [P, T] (ADC) for ``standardise``.
        std: Per-pixel standard deviation [P, T] (ADC) for ``standardise``.
    """

    method: str
    window: tuple[int, int]
    scale: float = 1.0
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def __call__(self, charge: np.ndarray) -> np.ndarray:
        """Transforms raw windows.

        Args:
            charge: float [N, P, T], ADC.

        Returns:
            float32 [N, P, T] model inputs.

        Raises:
            ShapeMismatchError: If the window shape differs from the fitted one.
        """
        charge = np.asarray(charge, dtype=np.float32)
        if charge.ndim != 3 or tuple(charge.shape[1:]) != tuple(self.window):
            raise ShapeMismatchError(
                f"model expects windows of {tuple(self.window)} (pads, time bins), "
                f"got input of shape {charge.shape}"
            )
        return _APPLY[self.method](self, charge).astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "method": self.method,
            "window": list(self.window),
            "scale": float(self.scale),
            "mean": None if self.mean is None else self.mean.astype(float).tolist(),
            "std": None if self.std is None else self.std.astype(float).tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        """Inverse of :meth:`to_dict`."""
        method = d["method"]
        if method not in _APPLY:
            raise UnknownNameError("preprocessing", method, list(_APPLY))
        mean = None if d.get("mean") is None else np.asarray(d["mean"], np.float32)
        std = None if d.get("std") is None else np.asarray(d["std"], np.float32)
        return cls(method, tuple(d["window"]), float(d.get("scale", 1.0)), mean, std)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def _apply_max(p: Preprocessor, x: np.ndarray) -> np.ndarray:
    peak = x.reshape(x.shape[0], -1).max(axis=1)
    return x / np.maximum(peak, _EPS)[:, None, None]


def _apply_log(p: Preprocessor, x: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(x, 0.0)) / np.log1p(p.scale)


def _apply_standardise(p: Preprocessor, x: np.ndarray) -> np.ndarray:
    assert p.mean is not None and p.std is not None
    return (x - p.mean) / p.std


def _apply_none(p: Preprocessor, x: np.ndarray) -> np.ndarray:
    return x / 255.0


_APPLY: dict[str, Callable[[Preprocessor, np.ndarray], np.ndarray]] = {
    "max": _apply_max,
    "log": _apply_log,
    "standardise": _apply_standardise,
    "none": _apply_none,
}
PREPROCESSORS: tuple[str, ...] = tuple(_APPLY)


def fit_preprocessor(method: str, charge: np.ndarray) -> Preprocessor:
    """Fits preprocessing on training windows only.

    Args:
        method: One of :data:`PREPROCESSORS`.
        charge: float [N, P, T] training windows (ADC).

    Returns:
        The fitted :class:`Preprocessor`.
    """
    if method not in _APPLY:
        raise UnknownNameError("preprocessing", method, list(_APPLY))
    charge = np.asarray(charge, dtype=np.float32)
    window = (int(charge.shape[1]), int(charge.shape[2]))
    if method == "log":
        return Preprocessor(method, window, scale=float(max(np.percentile(charge, 99.9), 1.0)))
    if method == "standardise":
        mean = charge.mean(axis=0)
        std = np.maximum(charge.std(axis=0), 1e-3)
        return Preprocessor(method, window, mean=mean, std=std)
    return Preprocessor(method, window)

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

Each method is defined once, as data: a short list of elementary :class:`Step` ops with their
constants (:data:`STEPS`). The numpy form (:meth:`Preprocessor.__call__`) and the JAX form
(:func:`array_function` with ``jax.numpy``, used by ``interp.backends.flax.fast``) are the same
array-API code; the ONNX form (``interp.backends.onnx.preprocess``) renders each op as graph
nodes. ``tests/test_preprocess.py`` checks the three agree for every method.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from interp.core.errors import ShapeMismatchError, UnknownNameError


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
        out = apply_steps(np, method_steps(self.method), charge, constants(self))
        return out.astype(np.float32, copy=False)

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
        if method not in STEPS:
            raise UnknownNameError("preprocessing", method, list(STEPS))
        mean = None if d.get("mean") is None else np.asarray(d["mean"], np.float32)
        std = None if d.get("std") is None else np.asarray(d["std"], np.float32)
        return cls(method, tuple(d["window"]), float(d.get("scale", 1.0)), mean, std)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


EPS = 1e-6
"""Floor of a window's peak (ADC) under ``max`` preprocessing (an all-zero window gives 0)."""


@dataclasses.dataclass(frozen=True)
class Step:
    """One elementary op on windows [N, P, T]: ``x <- op(x, operand)``.

    Attributes:
        op: One of :data:`OPS`.
        operand: A literal (float), the name of a fitted constant (see :func:`constants`),
            or ``None`` for ops without one (``log1p``).
    """

    op: str
    operand: float | str | None = None


OPS: tuple[str, ...] = ("maximum", "log1p", "sub", "div", "div_by_peak")
"""Elementary ops: ``maximum(x, c)``, ``log1p(x)``, ``x - c``, ``x / c`` and
``x / maximum(max over (P, T) of x, c)`` (per window)."""

STEPS: dict[str, tuple[Step, ...]] = {
    "max": (Step("div_by_peak", EPS),),
    "log": (Step("maximum", 0.0), Step("log1p"), Step("div", "denom")),
    "standardise": (Step("sub", "mean"), Step("div", "std")),
    "none": (Step("div", 255.0),),
}
"""The one definition of every method: its steps, applied in order to float32 ADC windows.
The numpy (:meth:`Preprocessor.__call__`), JAX (:func:`array_function` with ``jax.numpy``,
``interp.backends.flax.fast``) and ONNX (``interp.backends.onnx.preprocess``) forms are all
rendered from it."""

PREPROCESSORS: tuple[str, ...] = tuple(STEPS)

_XP_OPS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "maximum": lambda xp, x, c: xp.maximum(x, c),
    "log1p": lambda xp, x, c: xp.log1p(x),
    "sub": lambda xp, x, c: x - c,
    "div": lambda xp, x, c: x / c,
    "div_by_peak": lambda xp, x, c: x / xp.maximum(xp.max(x, axis=(1, 2), keepdims=True), c),
}


def method_steps(method: str) -> tuple[Step, ...]:
    """The steps of ``method``.

    Raises:
        UnknownNameError: ``method`` is not in :data:`PREPROCESSORS`.
    """
    if method not in STEPS:
        raise UnknownNameError("preprocessing", method, list(STEPS))
    return STEPS[method]


def constants(pre: Preprocessor) -> dict[str, Any]:
    """Fitted constants named by ``pre``'s steps, at the precision numpy applies them.

    ``denom`` (``log``) is the float64 scalar ``log1p(scale)``; ``mean``/``std``
    (``standardise``) are float32 [P, T] ADC.
    """
    if pre.method == "log":
        return {"denom": np.log1p(pre.scale)}
    if pre.method == "standardise":
        assert pre.mean is not None and pre.std is not None
        return {"mean": pre.mean, "std": pre.std}
    return {}


def float32_constants(pre: Preprocessor | None) -> dict[str, np.ndarray]:
    """:func:`constants` as float32 arrays (what the JAX and ONNX forms use); ``{}`` for None."""
    if pre is None:
        return {}
    return {k: np.asarray(v, np.float32) for k, v in constants(pre).items()}


def apply_steps(xp: Any, steps: tuple[Step, ...], x: Any, consts: dict[str, Any]) -> Any:
    """Applies ``steps`` to ``x`` with the array namespace ``xp`` (numpy or jax.numpy).

    Args:
        xp: ``numpy`` or ``jax.numpy``.
        steps: From :data:`STEPS`.
        x: float32 [N, P, T] ADC.
        consts: Constants named by the steps (:func:`constants` / :func:`float32_constants`).

    Returns:
        [N, P, T] model inputs (float32, or float64 where a float64 constant enters).
    """
    for step in steps:
        operand = consts[step.operand] if isinstance(step.operand, str) else step.operand
        x = _XP_OPS[step.op](xp, x, operand)
    return x


def array_function(method: str | None, xp: Any) -> Callable[[Any, dict[str, Any]], Any]:
    """``fn(raw, consts) -> float32 inputs`` of ``method`` in the namespace ``xp``.

    Args:
        method: One of :data:`PREPROCESSORS`, or ``None`` (identity: only the float32 cast).
        xp: ``numpy`` or ``jax.numpy`` (traceable: no data-dependent Python control flow).

    Returns:
        ``fn(raw [N, P, T] any real dtype (ADC), float32_constants(pre)) -> float32 [N, P, T]``.

    Raises:
        UnknownNameError: Unknown method.
    """
    steps = () if method is None else method_steps(method)

    def fn(raw: Any, consts: dict[str, Any]) -> Any:
        return apply_steps(xp, steps, raw.astype(xp.float32), consts).astype(xp.float32)

    return fn


def fit_preprocessor(method: str, charge: np.ndarray) -> Preprocessor:
    """Fits preprocessing on training windows only.

    Args:
        method: One of :data:`PREPROCESSORS`.
        charge: float [N, P, T] training windows (ADC).

    Returns:
        The fitted :class:`Preprocessor`.
    """
    if method not in STEPS:
        raise UnknownNameError("preprocessing", method, list(STEPS))
    charge = np.asarray(charge, dtype=np.float32)
    window = (int(charge.shape[1]), int(charge.shape[2]))
    if method == "log":
        return Preprocessor(method, window, scale=float(max(np.percentile(charge, 99.9), 1.0)))
    if method == "standardise":
        mean = charge.mean(axis=0)
        std = np.maximum(charge.std(axis=0), 1e-3)
        return Preprocessor(method, window, mean=mean, std=std)
    return Preprocessor(method, window)

"""1-cycle schedules and the LR range finder (Smith 2015, 2018; fastai conventions).

The 1-cycle learning rate warms up with a cosine from ``peak / div_factor`` to ``peak`` over
``pct_start`` of the steps, then anneals to ``peak / (div_factor * final_div_factor)``; Adam's
beta1 moves the opposite way (``b1_max -> b1_min -> b1_max``).

The LR range finder trains from the initial weights for a few dozen steps while the learning
rate grows exponentially from ``min_lr`` to ``max_lr``, stops once a (bias-corrected)
exponential moving average of the loss diverges, and picks
``lr = (LR at the minimum of the centred moving average of the loss) / 10`` (the "min/10"
rule). The pick uses a centred (zero-lag) average: a causal EMA lags by ~1/(1-beta) steps,
which over a 100-step sweep of five decades moved the minimum by one to two decades.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

HYPER_FIELDS: tuple[str, ...] = (
    "lr_start",
    "lr_peak",
    "lr_end",
    "lr_warmup_steps",
    "lr_total_steps",
    "b1_max",
    "b1_min",
    "b1_up_steps",
    "b1_down_steps",
    "weight_decay",
)
"""Entries of a packed hyperparameter vector (:func:`one_cycle_hyper`), in order."""


def one_cycle_hyper(
    peak_lr: float,
    total_steps: int,
    weight_decay: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    b1_max: float = 0.95,
    b1_min: float = 0.85,
) -> np.ndarray:
    """The 1-cycle hyperparameters of one run packed as float32 [10] (:data:`HYPER_FIELDS`).

    A jit *argument* of the training step, not a constant folded into it: one compiled step
    serves every run of a model, whatever its learning rate, length or weight decay. The step
    boundaries are computed here in float64, as optax's ``cosine_onecycle_schedule`` does
    (``int(pct_start * total_steps)``), so the traced schedule (:func:`hyper_at`) matches it.

    Args:
        peak_lr: Peak learning rate.
        total_steps: Length of the cycle in optimiser steps (>= 1 is used).
        weight_decay: Decoupled weight decay (kernels only).
        pct_start: Warm-up fraction.
        div_factor: Initial LR = peak / div_factor.
        final_div_factor: Final LR = initial / final_div_factor.
        b1_max: Adam beta1 at both ends of the cycle.
        b1_min: beta1 at the LR peak.
    """
    total = max(int(total_steps), 1)
    up = max(round(pct_start * total), 1)  # beta1's own warm-up length
    values = (
        peak_lr / div_factor,
        peak_lr,
        peak_lr / (div_factor * final_div_factor),
        int(pct_start * total),
        total,
        b1_max,
        b1_min,
        up,
        max(total - up, 1),
        weight_decay,
    )
    return np.asarray(values, np.float32)


def constant_hyper(lr: float, weight_decay: float, b1: float = 0.9) -> np.ndarray:
    """A packed vector (:func:`one_cycle_hyper` layout) whose schedule is the constant ``lr``
    and ``b1`` (the LR range finder's steps)."""
    return np.asarray([lr, lr, lr, 0, 1, b1, b1, 1, 1, weight_decay], np.float32)


def _cosine(start: Any, end: Any, frac: Any) -> Any:
    return end + (start - end) / 2 * (jnp.cos(jnp.pi * frac) + 1)


def hyper_at(hyper: Any, count: Any) -> dict[str, Any]:
    """AdamW's ``learning_rate``, ``b1`` and ``weight_decay`` at optimiser step ``count``
    (traceable; float32 scalars).

    The learning rate warms up with a cosine from ``lr_start`` to ``lr_peak`` over
    ``lr_warmup_steps``, anneals to ``lr_end`` at ``lr_total_steps`` and stays there; beta1
    moves the opposite way, ``b1_max -> b1_min`` over ``b1_up_steps`` and back over
    ``b1_down_steps``.

    Args:
        hyper: float32 [10] from :func:`one_cycle_hyper` or :func:`constant_hyper`.
        count: Optimiser steps taken (int or float scalar).
    """
    h = dict(zip(HYPER_FIELDS, (hyper[i] for i in range(len(HYPER_FIELDS))), strict=True))
    c = jnp.asarray(count, jnp.float32)
    warm_n, total = h["lr_warmup_steps"], h["lr_total_steps"]
    warm = _cosine(h["lr_start"], h["lr_peak"], (c - 0.0) / jnp.maximum(warm_n, 1.0))
    anneal = _cosine(h["lr_peak"], h["lr_end"], (c - warm_n) / jnp.maximum(total - warm_n, 1.0))
    lr = jnp.where(c < warm_n, warm, jnp.where(c < total, anneal, h["lr_end"]))
    up, down = h["b1_up_steps"], h["b1_down_steps"]
    frac_up = jnp.clip(c / up, 0.0, 1.0)
    frac_down = jnp.clip((c - up) / down, 0.0, 1.0)
    b1_warm = h["b1_max"] + (h["b1_min"] - h["b1_max"]) * (1 - jnp.cos(jnp.pi * frac_up)) / 2
    b1_anneal = h["b1_min"] + (h["b1_max"] - h["b1_min"]) * (1 - jnp.cos(jnp.pi * frac_down)) / 2
    b1 = jnp.where(c < up, b1_warm, b1_anneal)
    return {"learning_rate": lr, "b1": b1, "weight_decay": h["weight_decay"]}


def one_cycle_lr(
    peak_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> optax.Schedule:
    """Cosine 1-cycle learning-rate schedule of ``total_steps`` steps (:func:`hyper_at`'s, equal
    to optax's ``cosine_onecycle_schedule`` within float32 rounding)."""
    hyper = jnp.asarray(
        one_cycle_hyper(peak_lr, total_steps, 0.0, pct_start, div_factor, final_div_factor)
    )
    return lambda count: hyper_at(hyper, count)["learning_rate"]


def one_cycle_b1(
    total_steps: int, pct_start: float = 0.3, b1_max: float = 0.95, b1_min: float = 0.85
) -> optax.Schedule:
    """Adam beta1 cycled inversely to the LR: cosine ``b1_max -> b1_min -> b1_max``
    (:func:`hyper_at`'s)."""
    hyper = jnp.asarray(
        one_cycle_hyper(1.0, total_steps, 0.0, pct_start, b1_max=b1_max, b1_min=b1_min)
    )
    return lambda count: hyper_at(hyper, count)["b1"]


@dataclasses.dataclass(frozen=True)
class LRFinderResult:
    """Outcome of an LR range test.

    Attributes:
        lr: Chosen learning rate (min/10 rule), inside ``[min_lr, max_lr]``.
        rule: How ``lr`` was chosen.
        lr_min_loss: LR at the minimum of the smoothed loss.
        lr_steepest: LR at the steepest descent of the smoothed loss vs log LR.
        min_lr: Lowest LR of the sweep.
        max_lr: Highest LR of the sweep.
        lrs: LR of each step taken.
        losses: Raw batch loss of each step (nats).
        smoothed: Bias-corrected exponentially smoothed loss of each step (stop criterion).
        centred: Centred moving average of ``losses`` (used to pick the LR).
        diverged: Whether the sweep stopped early on divergence.
    """

    lr: float
    rule: str
    lr_min_loss: float
    lr_steepest: float
    min_lr: float
    max_lr: float
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    centred: list[float]
    diverged: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def lr_sweep_values(min_lr: float, max_lr: float, num_steps: int) -> np.ndarray:
    """Exponentially spaced learning rates, float64 [num_steps], ``min_lr`` to ``max_lr``."""
    if num_steps == 1:
        return np.array([min_lr], dtype=np.float64)
    return np.geomspace(min_lr, max_lr, num_steps)


def centred_average(losses: np.ndarray, width: int | None = None) -> np.ndarray:
    """Zero-lag moving average (edge-padded) of a loss curve.

    Args:
        losses: float [S] raw losses; non-finite values are replaced by the largest finite one.
        width: Odd window length; default ``max(3, S // 10)`` made odd.

    Returns:
        float64 [S].
    """
    x = np.asarray(losses, dtype=np.float64)
    if x.size == 0:
        return x
    finite = np.isfinite(x)
    if not finite.any():
        return np.full_like(x, np.inf)
    x = np.where(finite, x, x[finite].max())
    w = width if width is not None else max(3, x.size // 10)
    w = min(w | 1, (x.size - 1) | 1 if x.size > 1 else 1)
    half = w // 2
    padded = np.pad(x, half, mode="edge")
    return np.convolve(padded, np.ones(w) / w, mode="valid")


def pick_learning_rate(
    lrs: np.ndarray, smoothed: np.ndarray, min_lr: float, max_lr: float
) -> tuple[float, float, float]:
    """Applies the min/10 rule to a sweep.

    Args:
        lrs: float [S] learning rates.
        smoothed: float [S] smoothed losses.
        min_lr: Sweep lower bound.
        max_lr: Sweep upper bound.

    Returns:
        ``(chosen, lr_at_min_loss, lr_at_steepest_descent)``; ``chosen`` in [min_lr, max_lr].
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    smoothed = np.asarray(smoothed, dtype=np.float64)
    finite = np.isfinite(smoothed)
    if not finite.any():
        return float(min_lr), float(min_lr), float(min_lr)
    masked = np.where(finite, smoothed, np.inf)
    i_min = int(np.argmin(masked))
    lr_min = float(lrs[i_min])
    if i_min >= 2:
        slope = np.gradient(masked[: i_min + 1], np.log(lrs[: i_min + 1]))
        lr_steep = float(lrs[int(np.argmin(slope))])
    else:
        lr_steep = lr_min
    chosen = float(np.clip(lr_min / 10.0, min_lr, max_lr))
    return chosen, lr_min, lr_steep


def find_learning_rate(
    step: Callable[[Any, float, int], tuple[Any, float]],
    state: Any,
    min_lr: float = 1e-5,
    max_lr: float = 1.0,
    num_steps: int = 100,
    beta: float = 0.9,
    diverge_factor: float = 4.0,
) -> LRFinderResult:
    """Runs an LR range test.

    Args:
        step: ``step(state, lr, i) -> (state, loss)``: one optimiser step on batch ``i`` at
            learning rate ``lr``; ``loss`` the batch loss before the update (nats).
        state: Initial training state (consumed).
        min_lr: First LR of the sweep.
        max_lr: Last LR of the sweep.
        num_steps: Number of steps (exponentially spaced LRs).
        beta: Smoothing factor of the loss EMA used for the stop criterion.
        diverge_factor: Stop once the EMA loss exceeds this multiple of its minimum.

    Returns:
        The :class:`LRFinderResult`.
    """
    lrs = lr_sweep_values(min_lr, max_lr, num_steps)
    taken: list[float] = []
    raw: list[float] = []
    smooth: list[float] = []
    avg, best, diverged = 0.0, math.inf, False
    for i, lr in enumerate(lrs):
        state, loss = step(state, float(lr), i)
        loss = float(loss)
        taken.append(float(lr))
        raw.append(loss)
        if not math.isfinite(loss):
            smooth.append(math.inf)
            diverged = True
            break
        avg = beta * avg + (1 - beta) * loss
        s = avg / (1 - beta ** (i + 1))
        smooth.append(s)
        best = min(best, s)
        if i > 5 and s > diverge_factor * best:
            diverged = True
            break
    centred = centred_average(np.array(raw))
    chosen, lr_min, lr_steep = pick_learning_rate(np.array(taken), centred, min_lr, max_lr)
    return LRFinderResult(
        lr=chosen,
        rule="min_loss/10",
        lr_min_loss=lr_min,
        lr_steepest=lr_steep,
        min_lr=float(min_lr),
        max_lr=float(max_lr),
        lrs=taken,
        losses=raw,
        smoothed=[s if math.isfinite(s) else None for s in smooth],  # type: ignore[misc]
        centred=[float(c) for c in centred],
        diverged=diverged,
    )

"""Input attributions in JAX: saliency, integrated gradients (chunked) and occlusion.

Every method works on a pure scalar-per-cluster function ``f(x) -> [B]`` of the *preprocessed*
input ``x`` [B, P, T]; for the classifiers ``f`` is the logit difference
``logit_signal - logit_noise`` (:func:`logit_diff_fn`), i.e. the log-odds of signal. Samples
are independent (no batch statistics), so the gradient of ``sum(f(x))`` is the per-cluster
input gradient.

All entry points take [N, P, T] numpy arrays, process them in fixed-size batches (the last one
zero-padded, so one shape is compiled) and return float32 numpy arrays [N, P, T].
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ScalarFn = Callable[[jax.Array], jax.Array]
"""``f(x [B, P, T]) -> [B]``, pure and jittable."""


@dataclasses.dataclass(frozen=True, eq=False)
class LogitDiff:
    """``f(x) = logits[:, 1] - logits[:, 0]`` (log-odds of signal) of a linen classifier.

    Callable like any :data:`ScalarFn`; the attribution kernels recognise it and pass the
    parameters as jit *arguments* (not baked-in constants), so one compilation serves every
    classifier with the same module config and XLA does not constant-fold the weights.

    Attributes:
        module: Unbound linen module mapping [B, P, T] -> logits [B, 2].
        params: Its parameter tree.
    """

    module: nn.Module
    params: Any

    def __call__(self, x: jax.Array) -> jax.Array:
        return _module_fn(self.module)(self.params, x)


def logit_diff_fn(module: nn.Module, params: Any) -> LogitDiff:
    """Pure logit difference ``f(x) -> [B]`` of a linen classifier (see :class:`LogitDiff`)."""
    return LogitDiff(module, params)


@functools.lru_cache(maxsize=32)
def _module_fn(module: nn.Module) -> Callable[[Any, jax.Array], jax.Array]:
    def g(params: Any, x: jax.Array) -> jax.Array:
        z = module.apply({"params": params}, x, train=False)
        return z[:, 1] - z[:, 0]

    return g


@functools.lru_cache(maxsize=64)
def _plain_fn(f: ScalarFn) -> Callable[[Any, jax.Array], jax.Array]:
    return lambda params, x: f(x)


def _pure(f: ScalarFn) -> tuple[Callable[[Any, jax.Array], jax.Array], Any]:
    """``(g, params)`` with ``f(x) == g(params, x)``; ``g`` is cached (stable jit key)."""
    if isinstance(f, LogitDiff):
        return _module_fn(f.module), f.params
    return _plain_fn(f), ()


def _batched(
    kernel: Callable[..., jax.Array],
    params: Any,
    x: np.ndarray,
    batch_size: int,
    *extra: np.ndarray,
) -> np.ndarray:
    """Runs ``kernel(params, xb, *extra_b)`` over fixed-size (zero-padded) batches."""
    x = np.asarray(x, np.float32)
    n = x.shape[0]
    if n == 0:
        return np.zeros_like(x)
    size = min(batch_size, n)
    out = []
    for start in range(0, n, size):
        stop = min(start + size, n)
        parts = [x[start:stop], *(np.asarray(e, np.float32)[start:stop] for e in extra)]
        pad = size - (stop - start)
        if pad:
            parts = [np.concatenate([p, np.zeros((pad, *p.shape[1:]), p.dtype)]) for p in parts]
        out.append(np.asarray(kernel(params, *parts))[: stop - start])
    return np.concatenate(out).astype(np.float32, copy=False)


def _sum_grad(g: Callable[[Any, jax.Array], jax.Array]) -> Callable[[Any, jax.Array], jax.Array]:
    return jax.grad(lambda p, x: jnp.sum(g(p, x)), argnums=1)


# ----------------------------------------------------------------------------- saliency
@functools.lru_cache(maxsize=64)
def _grad_kernel(g: Callable) -> Callable:
    return jax.jit(_sum_grad(g))


def saliency(f: ScalarFn, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Input gradient d f / d x.

    Args:
        f: Scalar-per-cluster function (e.g. :func:`logit_diff_fn`).
        x: float32 [N, P, T] preprocessed inputs.
        batch_size: Clusters per jitted call.

    Returns:
        float32 [N, P, T]; for a perceptron it equals the weight difference map for every x.
    """
    g, params = _pure(f)
    return _batched(_grad_kernel(g), params, x, batch_size)


@functools.lru_cache(maxsize=64)
def _eval_kernel(g: Callable) -> Callable:
    return jax.jit(g)


def evaluate(f: ScalarFn, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """``f(x)`` as float32 [N] (batched, jitted)."""
    g, params = _pure(f)
    kern = _eval_kernel(g)
    x = np.asarray(x, np.float32)
    res = [np.asarray(kern(params, x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return np.concatenate(res).astype(np.float32) if res else np.zeros(0, np.float32)


# ----------------------------------------------------------------------------- integrated grads
def ig_alphas(steps: int) -> np.ndarray:
    """Midpoint Riemann nodes ``(k + 0.5) / steps`` of the IG path integral, [steps]."""
    return ((np.arange(steps) + 0.5) / steps).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _ig_kernel(g: Callable, steps: int, chunk: int) -> Callable:
    if steps % chunk:
        raise ValueError(f"steps ({steps}) must be a multiple of chunk ({chunk})")
    alphas = jnp.asarray(ig_alphas(steps)).reshape(steps // chunk, chunk)
    grad = _sum_grad(g)

    def kernel(params: Any, x: jax.Array, baseline: jax.Array) -> jax.Array:
        delta = x - baseline

        def chunk_grad(a: jax.Array) -> jax.Array:  # a [chunk]
            path = baseline[None] + a[:, None, None, None] * delta[None]  # [c, B, P, T]
            gr = grad(params, path.reshape(-1, *x.shape[1:])).reshape(path.shape)
            return jnp.sum(gr, axis=0)

        # lax.map runs the chunks sequentially: memory ~ chunk * B * P * T, not steps * ...
        total = jnp.sum(jax.lax.map(chunk_grad, alphas), axis=0)
        return delta * total / steps

    return jax.jit(kernel)


def integrated_gradients(
    f: ScalarFn,
    x: np.ndarray,
    baseline: np.ndarray | None = None,
    steps: int = 64,
    chunk: int = 16,
    batch_size: int = 128,
) -> np.ndarray:
    """Integrated gradients along the straight path from ``baseline`` to ``x``.

    ``IG_i = (x_i - b_i) * (1/m) sum_k df/dx_i(b + alpha_k (x - b))`` with midpoint nodes
    ``alpha_k = (k + 0.5)/m``. Completeness: ``sum_i IG_i ~ f(x) - f(b)`` (exact as m -> inf;
    see :func:`completeness_gap`).

    Args:
        f: Scalar-per-cluster function.
        x: float32 [N, P, T] preprocessed inputs.
        baseline: float32 [N, P, T] or [P, T] baseline; default zeros (an empty window).
        steps: Path nodes m.
        chunk: Nodes evaluated together; memory grows with ``chunk * batch_size``, results do
            not depend on it (up to float rounding). Must divide ``steps``.
        batch_size: Clusters per jitted call.

    Returns:
        float32 [N, P, T] attributions (units of f, i.e. log-odds).
    """
    x = np.asarray(x, np.float32)
    if baseline is None:
        baseline = np.zeros_like(x)
    baseline = np.broadcast_to(np.asarray(baseline, np.float32), x.shape)
    g, params = _pure(f)
    kern = _ig_kernel(g, int(steps), int(min(chunk, steps)))
    return _batched(kern, params, x, batch_size, baseline)


def completeness_gap(
    f: ScalarFn, x: np.ndarray, ig: np.ndarray, baseline: np.ndarray | None = None
) -> np.ndarray:
    """Per-cluster ``sum(IG) - (f(x) - f(b))``, float32 [N] (log-odds)."""
    x = np.asarray(x, np.float32)
    b = np.zeros_like(x) if baseline is None else np.broadcast_to(baseline, x.shape)
    return ig.reshape(len(x), -1).sum(axis=1) - (evaluate(f, x) - evaluate(f, b))


# ----------------------------------------------------------------------------- occlusion
def occlusion_masks(
    window: tuple[int, int], patch: tuple[int, int] = (3, 3), stride: tuple[int, int] = (1, 1)
) -> np.ndarray:
    """All positions of a rectangular patch inside the window.

    Args:
        window: (P, T).
        patch: (pads, time bins) of the patch.
        stride: Step between positions.

    Returns:
        float32 [M, P, T] masks, 1 inside the patch.
    """
    P, T = window
    ph, pw = min(patch[0], P), min(patch[1], T)
    masks = []
    for i in range(0, P - ph + 1, stride[0]):
        for j in range(0, T - pw + 1, stride[1]):
            m = np.zeros((P, T), np.float32)
            m[i : i + ph, j : j + pw] = 1.0
            masks.append(m)
    return np.stack(masks)


@functools.lru_cache(maxsize=64)
def _occ_kernel(g: Callable, masks_key: bytes, shape: tuple[int, ...]) -> Callable:
    masks = jnp.asarray(np.frombuffer(masks_key, np.float32).reshape(shape))
    coverage = jnp.maximum(jnp.sum(masks, axis=0), 1.0)

    def kernel(params: Any, x: jax.Array, baseline: jax.Array) -> jax.Array:
        fx = g(params, x)

        def one(m: jax.Array) -> jax.Array:  # m [P, T] -> drop [B]
            return fx - g(params, x * (1.0 - m) + baseline * m)

        drops = jax.lax.map(one, masks)  # [M, B], sequential over patch positions
        return jnp.einsum("mb,mpt->bpt", drops, masks) / coverage

    return jax.jit(kernel)


def occlusion(
    f: ScalarFn,
    x: np.ndarray,
    patch: tuple[int, int] = (3, 3),
    stride: tuple[int, int] = (1, 1),
    baseline: np.ndarray | float = 0.0,
    batch_size: int = 256,
) -> np.ndarray:
    """Occlusion sensitivity: drop of ``f`` when a sliding patch is set to the baseline.

    Each pixel gets the mean drop ``f(x) - f(x with patch occluded)`` over all patch positions
    covering it; positive = the pixel's region supports signal.

    Args:
        f: Scalar-per-cluster function.
        x: float32 [N, P, T] preprocessed inputs.
        patch: Patch size (pads, time bins).
        stride: Patch step.
        baseline: Occlusion value, scalar or [N, P, T] (default 0 = no charge).
        batch_size: Clusters per jitted call.

    Returns:
        float32 [N, P, T] (log-odds).
    """
    x = np.asarray(x, np.float32)
    masks = occlusion_masks(x.shape[1:], patch, stride)
    g, params = _pure(f)
    kern = _occ_kernel(g, masks.tobytes(), masks.shape)
    b = np.broadcast_to(np.asarray(baseline, np.float32), x.shape)
    return _batched(kern, params, x, batch_size, b)


def attribution_maps(
    f: ScalarFn, x: np.ndarray, ig_steps: int, ig_chunk: int, occlusion_patch: int
) -> dict[str, np.ndarray]:
    """The three maps the explain stage draws, for preprocessed windows ``x`` float32
    [N, P, T]: ``saliency``, ``integrated_gradients`` (``ig_steps`` midpoint steps,
    ``ig_chunk`` per call) and ``occlusion`` (``occlusion_patch`` pixels square); each float32
    [N, P, T], in log-odds per unit of preprocessed charge (occlusion: log-odds)."""
    return {
        "saliency": saliency(f, x),
        "integrated_gradients": integrated_gradients(f, x, steps=ig_steps, chunk=ig_chunk),
        "occlusion": occlusion(f, x, patch=occlusion_patch),
    }


def completeness_record(f: ScalarFn, x: np.ndarray, ig: np.ndarray, steps: int) -> dict:
    """How far integrated gradients ``ig`` [N, P, T] (``steps`` steps, empty-window baseline)
    are from summing to ``f(x) - f(0)``: the largest and median absolute gap per cluster and
    the summed gap relative to the summed ``|f(x) - f(0)|`` (all in log-odds)."""
    gap = np.abs(completeness_gap(f, x, ig))
    dfx = np.abs(evaluate(f, x) - evaluate(f, np.zeros_like(x)))
    return {
        "steps": int(steps),
        "max_abs_gap_logodds": float(gap.max()),
        "median_abs_gap_logodds": float(np.median(gap)),
        "total_rel_gap": float(gap.sum() / max(dfx.sum(), 1e-12)),
    }


# ----------------------------------------------------------------------------- grouping
ATTRIBUTION_METHODS: tuple[str, ...] = ("integrated_gradients", "saliency", "occlusion")
"""Methods of :func:`attributions`."""


def attributions(
    clf: Any, charge: np.ndarray, method: str = "integrated_gradients", **options: Any
) -> np.ndarray:
    """Per-pixel attribution of the signal log-odds of a Flax classifier, for raw-ADC windows.

    The classifier's fitted preprocessing is applied inside; attributions are taken with
    respect to the preprocessed window the network sees (as the ``explain`` stage does), in
    log-odds (``logit_signal - logit_noise``). For integrated gradients (baseline: the empty
    window) each map sums to about ``f(x) - f(0)``.

    Args:
        clf: A Flax classifier (``module``, ``params``, ``preprocessor``, ``window``), e.g.
            ``interp.backends.classifier.load_classifier(run_dir)``.
        charge: float32 [N, P, T] raw ADC.
        method: One of :data:`ATTRIBUTION_METHODS`.
        **options: Keywords of the method (e.g. ``steps`` for :func:`integrated_gradients`,
            ``patch`` for :func:`occlusion`).

    Returns:
        float32 [N, P, T].

    Raises:
        UnknownNameError: Unknown ``method`` (lists the known ones).
        ShapeMismatchError: If (P, T) differs from the classifier's window.
        TPCInterpError: A classifier without a differentiable linen module (e.g. XGBoost).
    """
    from interp.core.errors import ShapeMismatchError, TPCInterpError, UnknownNameError

    if method not in ATTRIBUTION_METHODS:
        raise UnknownNameError("attribution method", method, list(ATTRIBUTION_METHODS))
    if getattr(clf, "module", None) is None:
        raise TPCInterpError(
            f"model '{getattr(clf, 'name', clf)}' has no differentiable module; gradient "
            "attributions need a Flax classifier"
        )
    charge = np.asarray(charge)
    window = tuple(clf.window)
    if charge.ndim != 3 or tuple(charge.shape[1:]) != window:
        raise ShapeMismatchError(
            f"model '{clf.name}' was trained on {window} windows (pads, time bins) but got "
            f"charge of shape {charge.shape}; expected [N, {window[0]}, {window[1]}]"
        )
    x = clf.preprocessor(charge)
    f = logit_diff_fn(clf.module, clf.params)
    fn = {"integrated_gradients": integrated_gradients, "saliency": saliency}.get(method)
    return np.asarray((fn or occlusion)(f, x, **options), np.float32)


def confusion_groups(
    labels: np.ndarray, scores: np.ndarray, threshold: float
) -> dict[str, np.ndarray]:
    """Indices of each confusion cell (signal = positive; called signal if score >= thr).

    Returns:
        ``{"TP", "FP", "FN", "TN"}`` -> int64 indices.
    """
    y = np.asarray(labels) == 1
    p = np.asarray(scores) >= threshold
    return {
        "TP": np.flatnonzero(y & p),
        "FP": np.flatnonzero(~y & p),
        "FN": np.flatnonzero(y & ~p),
        "TN": np.flatnonzero(~y & ~p),
    }


def noise_kind_groups(noise_kind: np.ndarray) -> dict[str, np.ndarray]:
    """Indices per simulator noise kind present (``signal`` for code 0)."""
    from interp.core.schema import NOISE_KINDS

    kinds = np.asarray(noise_kind)
    return {
        name: np.flatnonzero(kinds == code)
        for code, name in enumerate(NOISE_KINDS)
        if (kinds == code).any()
    }


def group_means(maps: np.ndarray, groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean map per group; empty groups are skipped.

    Args:
        maps: float [N, P, T].
        groups: Name -> indices.

    Returns:
        Name -> float32 [P, T].
    """
    return {k: maps[i].mean(axis=0).astype(np.float32) for k, i in groups.items() if i.size}


# ----------------------------------------------------------------------------- split conv
def split_conv_contributions(
    module: nn.Module, params: Any, x: np.ndarray, batch_size: int = 1024
) -> dict[str, np.ndarray]:
    """Per-branch contribution maps of the split convolution to the logit difference.

    The dense layer is linear in the concatenated features, so the logit difference splits
    exactly into ``pad`` + ``time`` maps plus the bias difference:
    ``f(x) = sum_pt pad[p, t] + sum_pt time[p, t] + (b1 - b0)``.

    Args:
        module: The ``split_conv`` linen module.
        params: Its params (``pad_conv``, ``time_conv``, ``dense``).
        x: float32 [N, P, T] preprocessed inputs.
        batch_size: Clusters per call.

    Returns:
        ``{"pad": [N, P, T], "time": [N, P, T], "bias": float32 scalar array}``.
    """
    kernel = np.asarray(params["dense"]["kernel"])  # [P*T*2F, 2]
    wd = kernel[:, 1] - kernel[:, 0]
    P, T = x.shape[1:]
    wd = wd.reshape(P, T, -1)  # channels: pad branch first, then time branch
    F = wd.shape[-1] // 2

    @jax.jit
    def run(p: Any, w: jax.Array, xb: jax.Array) -> jax.Array:
        _, state = module.apply({"params": p}, xb, train=False, mutable=["intermediates"])
        inter = state["intermediates"]
        pad = inter["pad_branch"][0]  # [B, P, T, F]
        time = inter["time_branch"][0]
        return jnp.stack(
            [jnp.sum(pad * w[..., :F], -1), jnp.sum(time * w[..., F:], -1)], axis=1
        )  # [B, 2, P, T]

    x = np.asarray(x, np.float32)
    out = np.concatenate(
        [np.asarray(run(params, wd, x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    )
    bias = np.asarray(params["dense"]["bias"])
    return {"pad": out[:, 0], "time": out[:, 1], "bias": np.float32(bias[1] - bias[0])}


METHODS: dict[str, Callable[..., np.ndarray]] = {
    "saliency": saliency,
    "integrated_gradients": integrated_gradients,
    "occlusion": occlusion,
}
"""Attribution methods by name, each ``method(f, x) -> [N, P, T]``."""

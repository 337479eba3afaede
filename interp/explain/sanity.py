"""Attribution sanity checks: parameter randomisation, deletion / insertion, completeness.

Do the attribution maps explain the *model*? Three checks, model-agnostic (a linen module +
params, or any ``g(params, x [B, P, T]) -> logit difference [B]``):

* **Model-parameter randomisation** (Adebayo et al., 2018, "Sanity checks for saliency
  maps"): the maps of the trained model against those of the same architecture whose layers
  are re-initialised one by one from the top (output layer first). Per cascade step the
  Spearman rank correlation between trained and randomised maps (of ``|attr|`` and of the
  signed map), per cluster, averaged over clusters. A method whose maps survive the
  randomisation of *every* layer (correlation above :data:`RANDOMISATION_RHO_MAX`) is flagged:
  it shows the input, not what the network learned.
* **Deletion / insertion curves** (Petsiuk et al., 2018, RISE): pixels ordered by attribution
  (most supporting the predicted class first) are replaced by the baseline step by step
  (deletion) or put back onto the baseline (insertion); the score is the model's probability
  of the class predicted for the intact cluster. Areas under the curves against the same with
  random pixel orders: a faithful method deletes below random and inserts above random.
* **Completeness**: integrated gradients sum to ``f(x) - f(baseline)``
  (:func:`interp.explain.attribution.completeness_gap`), XGBoost TreeSHAP values sum to the
  margin.

The baseline is the *preprocessed empty window*, the input the network sees for a cluster
with zero charge (:func:`empty_baseline`; 0 for the ``max``, ``log`` and ``none``
preprocessing, ``-mean / std`` per pixel for ``standardise``). Attributions and scores are in
log-odds of signal (``logit_signal - logit_noise``), probabilities in [0, 1].
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import rankdata

from interp.core.fsutil import atomic_write_text
from interp.explain import attribution as attr

log = logging.getLogger(__name__)

RANDOMISATION_RHO_MAX: float = 0.5
"""Flag threshold on the rank correlation after *all* layers are randomised.

A map of a network with no trained weight left carries no information about training; a
rank correlation above 0.5 with the trained map (more than half of its rank order survives)
means the method mostly reflects the input or the architecture (e.g. gradient x input
copies the charge pattern), so its pictures cannot be read as what the model learned. Both
the ``|attr|`` (over the cluster's own pixels) and the signed correlation must stay below it
(in absolute value)."""

CURVE_STEPS: int = 20
"""Deletion / insertion steps: ``k/CURVE_STEPS`` of the window's pixels, k = 0..steps."""

RANDOM_ORDERS: int = 3
"""Seeded random pixel orders averaged for the random-order reference areas."""

SANITY_CLUSTERS: int = 32
"""Test clusters (fixed seed) per model in the explain stage (fewer if the stage's
``attr_clusters`` is smaller). Occlusion of every cascade step dominates the cost: 32 clusters
keep a ResNet under ~20 s on 2 cores (measured; see the report of issue 14)."""

IG_COMPLETENESS_RTOL: float = attr.IG_RTOL
"""IG completeness: ``|sum(IG) - (f(x) - f(b))| <= rtol * max(|f(x) - f(b)|, 1)`` per cluster
(log-odds; :data:`interp.explain.attribution.IG_RTOL`). A fixed midpoint rule misses it on
trained ReLU networks (128 test clusters of a trained split conv / MLP / ResNet: 54 / 27 / 90
outside at 16 nodes, 10 / 7 / 38 at 64, 1 / 2 / 12 at 128); the explain stage's adaptive rule
(:func:`interp.explain.attribution.integrated_gradients_adaptive`) refines each cluster's path
until its summed local gap is within it, and the completeness row states the nodes used."""

SHAP_COMPLETENESS_ATOL: float = 1e-3
"""TreeSHAP completeness: ``|sum(contribs) - margin| <= atol`` (log-odds; float32 sums of
P*T + 1 terms)."""

GRADIENT_METHODS: tuple[str, ...] = ("saliency", "integrated_gradients", "occlusion")
"""Methods of :mod:`interp.explain.attribution` checked by default."""

_BASELINE_METHODS = ("integrated_gradients", "occlusion")
SANITY_FILE = "sanity.json"

ParamFn = Callable[[Any, jax.Array], jax.Array]
"""``g(params, x [B, P, T]) -> [B]`` logit difference, pure and jittable."""
Method = Callable[..., np.ndarray]
"""``method(f, x [N, P, T], **options) -> [N, P, T]`` (see ``attribution.METHODS``)."""


# ----------------------------------------------------------------------------- baseline
def empty_baseline(preprocessor: Any) -> np.ndarray:
    """The preprocessed empty window: float32 [P, T], what the model sees for zero charge.

    Args:
        preprocessor: A fitted :class:`interp.data.preprocess.Preprocessor` (``window``).
    """
    p, t = (int(v) for v in preprocessor.window)
    return np.asarray(preprocessor(np.zeros((1, p, t), np.float32))[0], np.float32)


# ----------------------------------------------------------------------------- randomisation
def layer_order(module: nn.Module, window: tuple[int, int]) -> list[str]:
    """Top-level submodule names of ``module`` in call order (input side first).

    Flax sorts the keys of a param tree, so the order is taken from the forward pass itself
    (``nn.intercept_methods`` on an abstract ``init``); no FLOPs are spent.
    """
    order: list[str] = []

    def record(next_fun: Callable, args: Any, kwargs: Any, context: Any) -> Any:
        path = context.module.path
        if path and path[0] not in order:
            order.append(path[0])
        return next_fun(*args, **kwargs)

    x = jax.ShapeDtypeStruct((1, *window), jnp.float32)
    with nn.intercept_methods(record):
        jax.eval_shape(lambda v: module.init(jax.random.key(0), v), x)
    return order


@functools.lru_cache(maxsize=16)
def reinit_params(module: nn.Module, window: tuple[int, int], seed: int = 0) -> dict[str, Any]:
    """Fresh parameters from the module's own ``init`` (``jax.random.key(seed)``).

    Cached per (module config, window, seed): compiling a ResNet's ``init`` takes ~15-25 s on
    2 cores, paid once per process. Callers must not modify the returned tree.

    Returns:
        Param tree (plain dicts of numpy arrays), top-level layers in call order
        (:func:`layer_order`).
    """
    x = jnp.zeros((1, *window), jnp.float32)
    fresh = jax.tree_util.tree_map(
        np.asarray, dict(jax.jit(module.init)(jax.random.key(seed), x)["params"])
    )
    order = [n for n in layer_order(module, window) if n in fresh]
    return {n: fresh[n] for n in [*order, *(k for k in fresh if k not in order)]}


def cascade_params(params: Mapping[str, Any], fresh: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Cascading randomisation from the top layer, one top-level layer per step.

    Layer order is ``fresh``'s (the call order, see :func:`reinit_params`), so it does not
    depend on how a checkpoint stored the trained tree. Step k has the k + 1 last layers
    re-initialised.

    Args:
        params: Trained param tree.
        fresh: Re-initialised tree of the same architecture (e.g. :func:`reinit_params`).

    Returns:
        ``[(layer randomised at this step, params), ...]``, output layer first; the last entry
        has every layer re-initialised.

    Raises:
        ValueError: If the trees' top-level layers differ (names both sets).
    """
    if set(params) != set(fresh):
        raise ValueError(
            f"cascade_params: trained layers {sorted(params)} differ from the re-initialised "
            f"architecture's {sorted(fresh)}"
        )
    current = dict(params)
    out = []
    for name in reversed(list(fresh)):
        current = {**current, name: fresh[name]}
        out.append((name, current))
    return out


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation per row (average ranks for ties).

    Args:
        a, b: [N, ...] maps; each row is flattened.

    Returns:
        float64 [N]; NaN where a row is constant (correlation undefined).
    """
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    ok = den > 0
    return np.where(ok, (ra * rb).sum(axis=1) / np.where(ok, den, 1.0), np.nan)


def spearman_rows_masked(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:func:`spearman_rows` over the pixels where ``mask`` [N, ...] is true, per row.

    Returns:
        float64 [N]; NaN where fewer than 3 pixels are selected or a row is constant.
    """
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    m = np.asarray(mask, bool).reshape(len(a), -1)
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        if m[i].sum() >= 3:
            out[i] = spearman_rows(a[i : i + 1, m[i]], b[i : i + 1, m[i]])[0]
    return out


def _mean_or_none(v: np.ndarray) -> float | None:
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def randomisation_check(
    trained: np.ndarray,
    randomised: Sequence[tuple[str, np.ndarray]],
    threshold: float = RANDOMISATION_RHO_MAX,
    footprint: np.ndarray | None = None,
) -> dict[str, Any]:
    """Rank correlation of trained vs randomised maps per cascade step.

    Args:
        trained: [N, P, T] maps of the trained model.
        randomised: ``[(layer, [N, P, T] maps), ...]`` in cascade order (see
            :func:`cascade_params`).
        threshold: Flag threshold (:data:`RANDOMISATION_RHO_MAX`).
        footprint: Optional bool [N, P, T], the cluster's pixels (``x != baseline``); adds
            ``rho_abs_footprint``, the ``|attr|`` correlation over those pixels only, which
            then replaces ``rho_abs`` in the flag: integrated gradients and occlusion are zero
            off the footprint by construction, which alone pushes the whole-window
            ``rho_abs`` towards 1 whatever the weights.

    Returns:
        ``{"steps": [{"layer", "rho_abs", "rho_signed"[, "rho_abs_footprint"]}], "rho_abs",
        "rho_signed"[, "rho_abs_footprint"]`` (after the last step), ``"threshold",
        "passed"}``; correlations are means over clusters of the
        per-cluster Spearman rho (``None`` if undefined for every cluster). ``passed`` is
        true iff both final correlations (``rho_abs_footprint`` for ``rho_abs`` when a
        footprint is given) are below ``threshold`` in absolute value.
    """
    steps = []
    for layer, m in randomised:
        step = {
            "layer": layer,
            "rho_abs": _mean_or_none(spearman_rows(np.abs(trained), np.abs(m))),
            "rho_signed": _mean_or_none(spearman_rows(trained, m)),
        }
        if footprint is not None:
            rho = spearman_rows_masked(np.abs(trained), np.abs(m), footprint)
            step["rho_abs_footprint"] = _mean_or_none(rho)
        steps.append(step)
    last = steps[-1] if steps else {"rho_abs": None, "rho_signed": None}
    # with a footprint, |attr| is compared where the maps can differ at all: off the cluster
    # integrated gradients and occlusion are zero for any weights, which says nothing
    rho_abs = last.get("rho_abs_footprint") if footprint is not None else last["rho_abs"]
    finals = [rho_abs, last["rho_signed"]]
    passed = all(r is not None and abs(r) < threshold for r in finals)
    out = {
        "steps": steps,
        "rho_abs": last["rho_abs"],
        "rho_signed": last["rho_signed"],
        "threshold": threshold,
        "passed": bool(passed),
    }
    if "rho_abs_footprint" in last:
        out["rho_abs_footprint"] = last["rho_abs_footprint"]
    return out


# ----------------------------------------------------------------------------- curves
def _class_probability(f: attr.ScalarFn, x: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """P(class predicted for the intact cluster), [S, N] for inputs [S, N, P, T]."""
    s, n = x.shape[:2]
    z = attr.evaluate(f, x.reshape(s * n, *x.shape[2:])).reshape(s, n).astype(np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * sign[None] * z))


def _curves(
    f: attr.ScalarFn,
    x: np.ndarray,
    baseline: np.ndarray,
    order: np.ndarray,
    sign: np.ndarray,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion scores [steps + 1, N] for per-cluster pixel orders [N, D]."""
    n, d = order.shape
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(d)[None].repeat(n, 0), axis=1)
    counts = np.rint(np.arange(steps + 1) * d / steps).astype(np.int64)
    moved = (rank[None] < counts[:, None, None]).reshape(steps + 1, *x.shape)  # [S, N, P, T]
    b = np.broadcast_to(baseline, x.shape)[None]
    deleted = np.where(moved, b, x[None]).astype(np.float32)
    inserted = np.where(moved, x[None], b).astype(np.float32)
    return _class_probability(f, deleted, sign), _class_probability(f, inserted, sign)


def _auc(curve: np.ndarray) -> np.ndarray:
    """Trapezoid area over the deleted fraction in [0, 1] per cluster: [S, N] -> [N]."""
    s = curve.shape[0] - 1
    return (curve[1:] + curve[:-1]).sum(axis=0) / (2.0 * s)


def _prepare(f: attr.ScalarFn, x: np.ndarray, baseline: np.ndarray | None) -> tuple:
    x = np.asarray(x, np.float32)
    b = np.zeros(x.shape[1:], np.float32) if baseline is None else np.asarray(baseline, np.float32)
    sign = np.where(attr.evaluate(f, x) >= 0, 1.0, -1.0)
    return x, b, sign


def random_reference(
    f: attr.ScalarFn,
    x: np.ndarray,
    baseline: np.ndarray | None = None,
    steps: int = CURVE_STEPS,
    random_orders: int = RANDOM_ORDERS,
    seed: int = 0,
) -> dict[str, Any]:
    """Deletion and insertion areas of random pixel orders (the reference of every method).

    Args: as :func:`deletion_insertion` (no attributions).

    Returns:
        ``{"deletion_auc_random", "insertion_auc_random", "random_orders"}``: means over
        clusters and over ``random_orders`` seeded orders (one independent order per cluster).
    """
    x, b, sign = _prepare(f, x, baseline)
    n, d = len(x), int(np.prod(x.shape[1:]))
    rng = np.random.default_rng(seed)
    rand = [
        _curves(f, x, b, np.argsort(rng.random((n, d)), axis=1), sign, steps)
        for _ in range(random_orders)
    ]
    return {
        "deletion_auc_random": float(np.mean([_auc(r[0]).mean() for r in rand])),
        "insertion_auc_random": float(np.mean([_auc(r[1]).mean() for r in rand])),
        "random_orders": int(random_orders),
    }


def deletion_insertion(
    f: attr.ScalarFn,
    x: np.ndarray,
    attributions: np.ndarray,
    baseline: np.ndarray | None = None,
    steps: int = CURVE_STEPS,
    random_orders: int = RANDOM_ORDERS,
    seed: int = 0,
    reference: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Deletion and insertion areas of an attribution ordering against random orders.

    Pixels are ranked by ``attr * sign(f(x))`` (most supporting the predicted class first;
    ties keep row-major order). Deletion replaces the first ``k/steps`` of them by the baseline,
    insertion starts from the baseline and puts them back; the score is the probability of the
    class predicted for the intact cluster.

    Args:
        f: Scalar-per-cluster logit difference.
        x: float32 [N, P, T] preprocessed inputs.
        attributions: [N, P, T] maps of ``f`` at ``x``.
        baseline: [P, T] or [N, P, T] value of a removed pixel (default 0; see
            :func:`empty_baseline`).
        steps: Curve steps (:data:`CURVE_STEPS`).
        random_orders: Random orders averaged for the reference (:data:`RANDOM_ORDERS`).
        seed: Seed of the random orders.
        reference: A :func:`random_reference` of the same ``f, x, baseline, steps`` (shared by
            the methods of one model); computed here if ``None``.

    Returns:
        ``{"deletion_auc", "deletion_auc_random", "insertion_auc", "insertion_auc_random"}``
        (means over clusters, probability x fraction), ``"deletion_curve"`` and
        ``"insertion_curve"`` (mean score per step, ``steps + 1`` values), ``"steps"``,
        ``"random_orders"``, ``"deletion_better_than_random"``,
        ``"insertion_better_than_random"``.
    """
    x, b, sign = _prepare(f, x, baseline)
    n, d = len(x), int(np.prod(x.shape[1:]))
    score = np.asarray(attributions, np.float64).reshape(n, d) * sign[:, None]
    dele, ins = _curves(f, x, b, np.argsort(-score, axis=1, kind="stable"), sign, steps)
    ref = reference or random_reference(f, x, b, steps, random_orders, seed)
    out = {
        "deletion_auc": float(_auc(dele).mean()),
        "deletion_auc_random": float(ref["deletion_auc_random"]),
        "insertion_auc": float(_auc(ins).mean()),
        "insertion_auc_random": float(ref["insertion_auc_random"]),
        "deletion_curve": [float(v) for v in dele.mean(axis=1)],
        "insertion_curve": [float(v) for v in ins.mean(axis=1)],
        "steps": int(steps),
        "random_orders": int(ref["random_orders"]),
    }
    out["deletion_better_than_random"] = out["deletion_auc"] < out["deletion_auc_random"]
    out["insertion_better_than_random"] = out["insertion_auc"] > out["insertion_auc_random"]
    return out


# ----------------------------------------------------------------------------- completeness
def ig_completeness(
    f: attr.ScalarFn,
    x: np.ndarray,
    ig: np.ndarray,
    baseline: np.ndarray | None = None,
    rtol: float = IG_COMPLETENESS_RTOL,
    steps: int | None = None,
    adaptive: attr.AdaptiveIG | None = None,
) -> dict[str, Any]:
    """Completeness of integrated gradients (``attribution.completeness_gap``), recomputed
    from ``f`` at ``x`` and the baseline (not taken from the IG run's bookkeeping).

    Args:
        f, x, ig: Function, float32 [N, P, T] inputs and their IG maps.
        baseline: [P, T] or [N, P, T] (default 0).
        rtol: Tolerance (:data:`IG_COMPLETENESS_RTOL`).
        steps: Nodes of the fixed rule the maps came from (stated in the result).
        adaptive: The adaptive run the maps came from (its nodes are stated instead).

    Returns:
        ``{"max_abs_gap", "median_abs_gap", "total_rel_gap", "rtol", "n_outside", "passed"}``
        (log-odds; ``passed``: every cluster within ``rtol * max(|f(x) - f(b)|, 1)``), plus
        ``steps`` when given and, for an adaptive run,
        :func:`interp.explain.attribution.ig_steps_record` (``steps`` initial, ``max_steps``,
        nodes per cluster, evaluations).
    """
    x = np.asarray(x, np.float32)
    b = np.zeros_like(x) if baseline is None else np.broadcast_to(baseline, x.shape)
    gap = np.abs(attr.completeness_gap(f, x, ig, b)).astype(np.float64)
    delta = attr.evaluate(f, x) - attr.evaluate(f, b)
    outside = int((gap > attr.completeness_tolerance(delta, rtol)).sum())
    out: dict[str, Any] = {
        "max_abs_gap": float(gap.max()) if gap.size else 0.0,
        "median_abs_gap": float(np.median(gap)) if gap.size else 0.0,
        "total_rel_gap": float(gap.sum() / max(np.abs(delta).sum(), 1e-12)),
        "rtol": rtol,
        "n_outside": outside,
        "passed": outside == 0,
    }
    if steps is not None:
        out["steps"] = int(steps)
    if adaptive is not None:
        out.update({k: v for k, v in attr.ig_steps_record(adaptive).items() if k != "rtol"})
    return out


def shap_completeness(
    contribs: np.ndarray, margin: np.ndarray, atol: float = SHAP_COMPLETENESS_ATOL
) -> dict[str, Any]:
    """TreeSHAP completeness: each row of ``contribs`` [N, F + 1] (bias last) sums to ``margin``
    [N] (log-odds).

    Returns:
        ``{"max_abs_gap", "atol", "passed"}``.
    """
    gap = np.abs(np.asarray(contribs, np.float64).sum(axis=1) - np.asarray(margin, np.float64))
    worst = float(gap.max()) if gap.size else 0.0
    return {"max_abs_gap": worst, "atol": atol, "passed": bool(worst <= atol)}


def xgboost_shap_completeness(clf: Any, charge: np.ndarray) -> dict[str, Any]:
    """:func:`shap_completeness` of an XGBoost classifier on raw windows [N, P, T] (ADC).

    Uses ``clf.pred_contribs`` and the booster's raw margin of ``clf.features``.
    """
    margin = clf.booster.inplace_predict(clf.features(charge), predict_type="margin")
    return shap_completeness(clf.pred_contribs(charge), np.asarray(margin))


# ----------------------------------------------------------------------------- table
def _scalar_fn(model: nn.Module | ParamFn, params: Any) -> attr.ScalarFn:
    if isinstance(model, nn.Module):
        return attr.logit_diff_fn(model, params)
    return functools.partial(model, params)


def _methods(methods: Sequence[str] | Mapping[str, Method]) -> dict[str, Method]:
    if isinstance(methods, Mapping):
        return dict(methods)
    unknown = [m for m in methods if m not in attr.METHODS]
    if unknown:
        raise ValueError(f"sanity_table: unknown methods {unknown}; known {list(attr.METHODS)}")
    return {m: attr.METHODS[m] for m in methods}


def sanity_table(
    model: nn.Module | ParamFn,
    params: Any,
    x: np.ndarray,
    methods: Sequence[str] | Mapping[str, Method] = GRADIENT_METHODS,
    *,
    baseline: np.ndarray | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    init: Callable[[int], Any] | None = None,
    seed: int = 0,
    steps: int = CURVE_STEPS,
    random_orders: int = RANDOM_ORDERS,
    threshold: float = RANDOMISATION_RHO_MAX,
) -> list[dict[str, Any]]:
    """All sanity checks of every method on one model.

    Args:
        model: Linen module ([B, P, T] -> logits [B, 2]) or ``g(params, x) -> [B]``.
        params: Trained parameters.
        x: float32 [N, P, T] preprocessed inputs.
        methods: Names in ``attribution.METHODS`` or ``{name: method(f, x, **opts)}``.
        baseline: [P, T] removed-pixel value (default 0); also passed to integrated gradients
            and occlusion of ``attribution.METHODS``.
        options: ``{method: keyword arguments}`` (e.g. ``{"integrated_gradients": {"steps":
            64}}``).
        init: ``init(seed) -> params`` for the randomisation; default the module's own
            ``init``. For a plain function without ``init`` the randomisation is skipped.
        seed: Seed of the re-initialisation and the random pixel orders.
        steps, random_orders: See :func:`deletion_insertion`.
        threshold: See :func:`randomisation_check`.

    Returns:
        JSON-serialisable rows, one per method: ``method``, ``randomisation`` (see
        :func:`randomisation_check`), ``randomisation_rho_abs`` / ``randomisation_rho_signed``
        (after all layers), ``passed``, the :func:`deletion_insertion` fields and, for
        integrated gradients, ``completeness`` (:func:`ig_completeness`).
    """
    x = np.asarray(x, np.float32)
    methods_d = _methods(methods)
    options = options or {}
    b = np.zeros(x.shape[1:], np.float32) if baseline is None else np.asarray(baseline, np.float32)
    f = _scalar_fn(model, params)

    def run(name: str, fn: Method, g: attr.ScalarFn) -> np.ndarray:
        kw = dict(options.get(name, {}))
        if name in _BASELINE_METHODS and fn is attr.METHODS.get(name):
            kw.setdefault("baseline", b)
        return np.asarray(fn(g, x, **kw), np.float32)

    def trained_maps(name: str, fn: Method) -> tuple[np.ndarray, dict[str, Any]]:
        """The trained model's maps and, for IG, what its completeness row states."""
        kw = dict(options.get(name, {}))
        if name != "integrated_gradients" or fn is not attr.METHODS.get(name):
            return run(name, fn, f), {}
        steps_, cap = int(kw.get("steps", 64)), kw.get("max_steps")
        if cap is None or int(cap) <= steps_:
            return run(name, fn, f), {"steps": steps_}
        res = attr.integrated_gradients_adaptive(
            f, x, b, steps_, int(cap), float(kw.get("rtol", attr.IG_RTOL))
        )
        return res.maps, {"adaptive": res}

    if init is not None:
        fresh = init(seed)
    elif isinstance(model, nn.Module):
        fresh = reinit_params(model, (int(x.shape[1]), int(x.shape[2])), int(seed))
    else:
        fresh = None
    cascade = cascade_params(params, fresh) if fresh is not None else []
    cascade_fns = [(layer, _scalar_fn(model, p)) for layer, p in cascade]
    reference = random_reference(f, x, b, steps, random_orders, seed)
    rows = []
    for name, fn in methods_d.items():
        maps, used = trained_maps(name, fn)
        row: dict[str, Any] = {"method": name, "n_clusters": len(x)}
        if cascade_fns:
            rand = randomisation_check(
                maps,
                [(layer, run(name, fn, g)) for layer, g in cascade_fns],
                threshold,
                footprint=x != b,
            )
            row.update(
                randomisation=rand,
                randomisation_rho_abs=rand["rho_abs"],
                randomisation_rho_signed=rand["rho_signed"],
                randomisation_rho_abs_footprint=rand.get("rho_abs_footprint"),
                passed=rand["passed"],
            )
        else:
            row.update(randomisation=None, passed=None)
        row.update(deletion_insertion(f, x, maps, b, steps, reference=reference))
        if name == "integrated_gradients":
            row["completeness"] = ig_completeness(f, x, maps, b, **used)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- explain stage
def _sample(n: int, k: int, seed: int) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def run_sanity_checks(cell: Any, config: Any) -> list[dict[str, Any]]:
    """Sanity rows of one explain-stage cell; failures become an ``error`` row, not raised.

    Args:
        cell: Has ``model``, ``chamber``, ``clf`` (a Flax classifier with ``module``,
            ``params``, ``preprocessor``, or one with ``pred_contribs``) and ``test(chamber)``
            -> :class:`~interp.core.schema.ClusterSet`. Clusters: the training chamber's test
            split, ``min(SANITY_CLUSTERS, config.attr_clusters)`` of them (seed
            ``config.seed``).
        config: Has ``attr_clusters``, ``ig_steps``, ``ig_chunk``, ``occlusion_patch``,
            ``seed`` and optionally ``ig_max_steps`` (an
            :class:`~interp.study.explain_stage.ExplainConfig`).

    Returns:
        Rows of :func:`sanity_table` (or one SHAP completeness row) with ``model``,
        ``chamber``, ``test_chamber`` and ``seconds`` added.
    """
    t0 = time.perf_counter()
    base = {"model": cell.model, "chamber": cell.chamber, "test_chamber": cell.chamber}
    clf = cell.clf
    try:
        test = cell.test(cell.chamber)
        k = min(SANITY_CLUSTERS, int(config.attr_clusters))
        sub = test.subset(_sample(len(test), k, int(config.seed)))
        if hasattr(clf, "module") and hasattr(clf, "params"):
            rows = sanity_table(
                clf.module,
                clf.params,
                clf.preprocessor(sub.charge),
                baseline=empty_baseline(clf.preprocessor),
                options={
                    "integrated_gradients": {
                        "steps": int(config.ig_steps),
                        "chunk": int(config.ig_chunk),
                        "max_steps": getattr(config, "ig_max_steps", None),
                    },
                    "occlusion": {"patch": tuple(config.occlusion_patch)},
                },
                seed=int(config.seed),
            )
        elif hasattr(clf, "pred_contribs"):
            rows = [
                {
                    "method": "shap",
                    "n_clusters": len(sub),
                    "completeness": xgboost_shap_completeness(clf, sub.charge),
                }
            ]
        else:
            rows = []
    except Exception as exc:  # reported in sanity.json and the report, never fatal
        log.warning("sanity checks of %s on %s failed: %s", cell.model, cell.chamber, exc)
        rows = [{"method": None, "error": f"{type(exc).__name__}: {exc}"}]
    seconds = time.perf_counter() - t0
    return [{**base, **r, "seconds": seconds} for r in rows]


def summary_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Compact rows for ``explain_summary.json`` (no curves, no per-step correlations)."""
    keys = (
        "model",
        "chamber",
        "method",
        "randomisation_rho_abs",
        "randomisation_rho_signed",
        "randomisation_rho_abs_footprint",
        "passed",
        "deletion_auc",
        "deletion_auc_random",
        "insertion_auc",
        "insertion_auc_random",
        "error",
    )
    out = []
    for r in rows:
        s = {k: r[k] for k in keys if k in r}
        if "completeness" in r:
            s["completeness_passed"] = r["completeness"]["passed"]
            s["completeness_max_abs_gap"] = r["completeness"]["max_abs_gap"]
            for k in ("steps", "max_steps", "nodes_median", "nodes_max"):
                if k in r["completeness"]:
                    s[f"completeness_{k}"] = r["completeness"][k]
        out.append(s)
    return out


def write_sanity(folder: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Writes ``rows`` to ``folder/sanity.json`` (atomically); returns the path."""
    path = Path(folder) / SANITY_FILE
    atomic_write_text(path, json.dumps({"rows": list(rows)}, indent=1))
    return path

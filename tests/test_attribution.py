"""Integrated gradients to a stated completeness tolerance (interp.explain.attribution)."""

from __future__ import annotations

import jax

jax.config.update("jax_disable_most_optimizations", True)

import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

import models  # noqa: E402
from interp.backends.flax.random_params import random_params  # noqa: E402
from interp.explain import attribution as attr  # noqa: E402
from interp.explain import sanity  # noqa: E402

WINDOW = (11, 20)


@pytest.fixture(scope="module")
def trained_mlp() -> tuple:
    """An MLP fitted (full-batch Adam, 150 steps, ~1 s) on 600 simulated VTPC2 clusters, and
    64 held-out preprocessed clusters: a trained ReLU network, whose logit difference has
    dozens of kinks along each IG path (a random one is nearly linear there)."""
    from interp.data.preprocess import fit_preprocessor
    from interp.data.simulator import simulate

    data = simulate("VTPC2", 1, seed=5, n_clusters=800)
    pre = fit_preprocessor("max", data.charge)
    x, y = pre(data.charge), data.label.astype(np.int32)
    module = models.get_model("mlp")
    params = random_params(module, WINDOW, seed=0)
    opt = optax.adam(3e-3)
    state = opt.init(params)

    def loss(p: dict) -> jax.Array:
        z = module.apply({"params": p}, x[:600])
        return optax.softmax_cross_entropy_with_integer_labels(z, y[:600]).mean()

    @jax.jit
    def step(p: dict, s: optax.OptState) -> tuple:
        u, s = opt.update(jax.grad(loss)(p), s)
        return optax.apply_updates(p, u), s

    for _ in range(150):
        params, state = step(params, state)
    f = attr.logit_diff_fn(module, jax.tree_util.tree_map(np.asarray, params))
    return f, x[600:664]


def test_quick_profile_ig_maps_meet_the_completeness_tolerance(trained_mlp) -> None:
    """The quick study's IG settings (experiments/weight_maps.toml) give maps within the
    stated tolerance on every cluster, by the explain stage's own path (attribution_maps and
    the sanity check); the fixed rule at the same initial steps does not."""
    from interp.study.experiments import load_study

    cfg = load_study("weight_maps").explain_config("quick")
    f, x = trained_mlp
    maps, record = attr.attribution_maps(
        f, x, cfg.ig_steps, cfg.ig_chunk, cfg.occlusion_patch, cfg.ig_max_steps
    )
    assert record["passed"] and record["n_outside"] == 0, record
    assert record["rtol"] == sanity.IG_COMPLETENESS_RTOL == attr.IG_RTOL
    assert record["adaptive"] and record["steps"] == cfg.ig_steps
    assert cfg.ig_steps <= record["nodes_min"] <= record["nodes_max"] <= record["max_steps"]
    check = sanity.ig_completeness(f, x, maps["integrated_gradients"])
    assert check["passed"], check
    # the same initial nodes without refinement miss it (why the quick profile refines)
    fixed = attr.integrated_gradients(f, x, steps=cfg.ig_steps, chunk=cfg.ig_chunk)
    assert not sanity.ig_completeness(f, x, fixed)["passed"]


def test_adaptive_ig_converges_to_the_integral_not_only_its_sum(trained_mlp) -> None:
    """Against a 4,096-node reference, the adaptive maps are closer per pixel than the
    16-node fixed rule, and their bookkeeping gap is the one recomputed from f."""
    f, x = trained_mlp
    x = x[:32]
    ref = attr.integrated_gradients(f, x, steps=4096, chunk=64)
    run = attr.integrated_gradients_adaptive(f, x, steps=16, max_steps=512)
    fixed = attr.integrated_gradients(f, x, steps=16, chunk=16)
    err_a = np.abs(run.maps - ref).reshape(len(x), -1).max(axis=1)
    err_f = np.abs(fixed - ref).reshape(len(x), -1).max(axis=1)
    assert err_a.max() < err_f.max() and np.median(err_a) < np.median(err_f), (err_a, err_f)
    assert run.converged.all() and (run.local_error <= run.tolerance).all()
    assert (np.abs(run.gap) <= run.local_error + 1e-9).all()
    np.testing.assert_allclose(run.gap, attr.completeness_gap(f, x, run.maps), atol=1e-4)
    np.testing.assert_array_equal(run.evaluations, 16 + 2 * (run.nodes - 16))
    assert (run.nodes > 16).any()  # refined where needed
    # a cluster left at the cap is reported, not hidden
    capped = attr.integrated_gradients_adaptive(f, x, steps=2, max_steps=3)
    assert (capped.nodes <= 3).all() and not capped.converged.all()
    assert attr.ig_steps_record(capped)["capped"] == int((~capped.converged).sum())


def test_adaptive_ig_of_a_linear_model_needs_no_refinement() -> None:
    module = models.get_model("perceptron")
    f = attr.logit_diff_fn(module, random_params(module, WINDOW, seed=3))
    x = np.random.default_rng(0).uniform(0, 1, (5, *WINDOW)).astype(np.float32)
    run = attr.integrated_gradients_adaptive(f, x, steps=4, max_steps=64)
    np.testing.assert_array_equal(run.nodes, 4)
    np.testing.assert_allclose(
        run.maps, attr.integrated_gradients(f, x, steps=4, chunk=4), atol=1e-5
    )
    assert attr.integrated_gradients_adaptive(f, x[:0], steps=4).maps.shape == (0, *WINDOW)


def test_sanity_row_and_report_state_the_nodes_used(trained_mlp) -> None:
    from interp.report.sanity_section import completeness_rows, ig_nodes_text

    f, x = trained_mlp
    rows = sanity.sanity_table(
        f.module,
        f.params,
        x[:16],
        ["integrated_gradients"],
        options={"integrated_gradients": {"steps": 8, "max_steps": 256}},
        random_orders=1,
    )
    c = rows[0]["completeness"]
    assert c["passed"] and c["steps"] == 8 and c["max_steps"] == 256, c
    assert 8 <= c["nodes_median"] <= c["nodes_max"] <= 256
    text = completeness_rows([{**rows[0], "model": "mlp", "chamber": "VTPC2"}])[0]
    assert text[5] == ig_nodes_text(c) and text[5].startswith("8 -> median ")
    assert ig_nodes_text({"steps": 16}) == "16 fixed"

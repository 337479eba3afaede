"""Attribution sanity checks (interp.explain.sanity): completeness, randomisation, deletion."""

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


def _inputs(n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, *WINDOW)).astype(np.float32)
    x[x < 0.6] = 0.0
    return x


@pytest.fixture(scope="module")
def trained_perceptron() -> tuple:
    """A perceptron fitted (full-batch Adam, 300 steps) on 600 simulated VTPC2 clusters."""
    from interp.data.preprocess import fit_preprocessor
    from interp.data.simulator import simulate

    data = simulate("VTPC2", 1, seed=5, n_clusters=600)
    pre = fit_preprocessor("max", data.charge)
    x, y = pre(data.charge), data.label.astype(np.int32)
    module = models.get_model("perceptron")
    params = random_params(module, WINDOW, seed=0)
    opt = optax.adam(0.05)
    state = opt.init(params)

    def loss(p: dict) -> jax.Array:
        z = module.apply({"params": p}, x)
        return optax.softmax_cross_entropy_with_integer_labels(z, y).mean()

    @jax.jit
    def step(p: dict, s: optax.OptState) -> tuple:
        g = jax.grad(loss)(p)
        u, s = opt.update(g, s)
        return optax.apply_updates(p, u), s

    for _ in range(300):
        params, state = step(params, state)
    return module, jax.tree_util.tree_map(np.asarray, params), x, pre


@pytest.mark.parametrize("name", ["split_conv", "resnet"])
def test_ig_completeness_within_tolerance(name: str) -> None:
    module = models.get_model(name)
    f = attr.logit_diff_fn(module, random_params(module, WINDOW, seed=1))
    x = _inputs(4)
    ig = attr.integrated_gradients(f, x, steps=64, chunk=16, batch_size=4)
    res = sanity.ig_completeness(f, x, ig)
    assert res["passed"], res
    assert res["max_abs_gap"] <= sanity.IG_COMPLETENESS_RTOL * 10
    # the check can fail: a map that does not sum to f(x) - f(0)
    assert not sanity.ig_completeness(f, x, ig * 0.5 + 0.01)["passed"]


def test_xgboost_shap_sums_to_margin(make_clusters) -> None:
    from interp.backends.xgboost.classifier import XGBConfig, train_xgboost

    sets = [make_clusters(400, seed=s) for s in (0, 1)]
    for s in sets:  # a learnable signal: charge in the centre pixel
        s.charge[:, 5, 10] = np.where(s.label == 1, 200.0, 0.0)
    clf = train_xgboost(sets[0], sets[1], config=XGBConfig.smoke())
    res = sanity.xgboost_shap_completeness(clf, sets[1].charge[:50])
    assert res["passed"], res
    contribs = clf.pred_contribs(sets[1].charge[:50])
    assert not sanity.shap_completeness(contribs, contribs.sum(axis=1) + 0.01)["passed"]


def test_perceptron_gradient_is_weight_map() -> None:
    module = models.get_model("perceptron")
    params = random_params(module, WINDOW, seed=3)
    grads = attr.saliency(attr.logit_diff_fn(module, params), _inputs(5))
    k = np.asarray(params["dense"]["kernel"])
    expected = (k[:, 1] - k[:, 0]).reshape(WINDOW)
    np.testing.assert_allclose(grads, np.broadcast_to(expected, grads.shape), rtol=0, atol=1e-6)


def test_cascade_is_top_layer_first_in_call_order() -> None:
    module = models.get_model("resnet")
    assert sanity.layer_order(module, WINDOW) == [
        "stem_conv",
        "res_block1",
        "res_block2",
        "res_block3",
        "dense",
    ]
    module = models.get_model("split_conv")
    trained = random_params(module, WINDOW, seed=1)
    fresh = random_params(module, WINDOW, seed=2)
    fresh = {k: fresh[k] for k in sanity.layer_order(module, WINDOW)}
    steps = sanity.cascade_params(trained, fresh)
    assert [s[0] for s in steps] == ["dense", "time_conv", "pad_conv"]
    first = steps[0][1]
    assert first["dense"] is fresh["dense"] and first["pad_conv"] is trained["pad_conv"]
    assert all(steps[-1][1][k] is fresh[k] for k in fresh)


def test_randomised_saliency_differs_and_input_copy_is_flagged(trained_perceptron) -> None:
    module, params, x, pre = trained_perceptron
    methods = {"saliency": attr.saliency, "input": lambda f, v: np.asarray(v)}
    rows = sanity.sanity_table(
        module, params, x[:32], methods, baseline=sanity.empty_baseline(pre), random_orders=2
    )
    by = {r["method"]: r for r in rows}
    sal, copy = by["saliency"], by["input"]
    assert sal["passed"], sal["randomisation"]
    assert abs(sal["randomisation_rho_abs"]) < sanity.RANDOMISATION_RHO_MAX
    assert [s["layer"] for s in sal["randomisation"]["steps"]] == ["dense"]
    # a method that ignores the parameters keeps its maps: flagged
    assert copy["randomisation_rho_abs"] == pytest.approx(1.0)
    assert not copy["passed"]
    import json

    json.dumps(rows)  # JSON-serialisable


def test_deletion_of_trained_perceptron_saliency_beats_random(trained_perceptron) -> None:
    module, params, x, pre = trained_perceptron
    f = attr.logit_diff_fn(module, params)
    xs = x[:64]
    res = sanity.deletion_insertion(f, xs, attr.saliency(f, xs), sanity.empty_baseline(pre))
    assert res["deletion_auc"] < res["deletion_auc_random"], res
    assert res["deletion_better_than_random"]
    assert len(res["deletion_curve"]) == sanity.CURVE_STEPS + 1
    # step 0 is the intact cluster: the predicted class has probability >= 0.5
    assert res["deletion_curve"][0] >= 0.5


def test_spearman_rows() -> None:
    a = np.arange(12.0).reshape(2, 6)
    np.testing.assert_allclose(sanity.spearman_rows(a, a**3), [1.0, 1.0])
    np.testing.assert_allclose(sanity.spearman_rows(a, -a), [-1.0, -1.0])
    assert np.isnan(sanity.spearman_rows(a, np.ones_like(a))).all()


def test_run_sanity_checks_rows_and_report_table(
    trained_perceptron, make_clusters, tmp_path
) -> None:
    import json
    from types import SimpleNamespace

    from interp.report.sanity_section import sanity as sanity_section
    from interp.report.sections import SectionInput

    module, params, _, pre = trained_perceptron
    test = make_clusters(40, seed=2)
    clf = SimpleNamespace(module=module, params=params, preprocessor=pre)
    cell = SimpleNamespace(model="perceptron", chamber="VTPC2", clf=clf, test=lambda c: test)
    cfg = SimpleNamespace(attr_clusters=16, ig_steps=8, ig_chunk=8, occlusion_patch=(3, 3), seed=0)
    rows = sanity.run_sanity_checks(cell, cfg)
    assert [r["method"] for r in rows] == list(sanity.GRADIENT_METHODS)
    assert all(r["n_clusters"] == 16 and r["model"] == "perceptron" for r in rows)
    broken = SimpleNamespace(model="resnet", chamber="VTPC2", clf=clf, test=None)
    err = sanity.run_sanity_checks(broken, cfg)  # a failure is a row, not an exception
    assert len(err) == 1 and "TypeError" in err[0]["error"]
    figs = tmp_path / "explain" / "figures"
    figs.mkdir(parents=True)
    sanity.write_sanity(figs, rows + err)
    assert json.loads((figs / "sanity.json").read_text())["rows"][0]["method"] == "saliency"
    assert {"passed", "deletion_auc"} <= set(sanity.summary_rows(rows)[0])
    sec = sanity_section(SectionInput("s", {"explain": tmp_path / "explain"}, {}, tmp_path))
    table = sec.tables[0]
    assert [r[0] for r in table.rows] == [*sanity.GRADIENT_METHODS, "None"]
    assert table.rows[0][-1] == "yes"  # the perceptron's saliency passes
    assert sec.tables[1].rows[0][0] == "integrated_gradients"
    assert sec.missing and "resnet" in sec.missing[0]


def test_randomisation_flag_reads_magnitudes_on_the_cluster_only() -> None:
    """Maps that are zero off the cluster for any weights (integrated gradients, occlusion)
    are judged on the cluster's pixels: unrelated values there pass, copies fail."""
    rng = np.random.default_rng(0)
    foot = np.zeros((16, 11, 20), bool)
    foot[:, 3:8, 6:14] = True
    trained = np.where(foot, rng.normal(size=foot.shape), 0.0)
    unrelated = np.where(foot, rng.normal(size=foot.shape), 0.0)
    assert not sanity.randomisation_check(trained, [("all", unrelated)])["passed"]
    assert sanity.randomisation_check(trained, [("all", unrelated)], footprint=foot)["passed"]
    copy = sanity.randomisation_check(trained, [("all", trained.copy())], footprint=foot)
    assert not copy["passed"]


def test_report_summary_shows_an_attribution_map_that_passed(tmp_path) -> None:
    """'What do the models look at?' gets the first attribution map whose method passed the
    sanity checks, with the check's numbers in the caption; a flagged method is skipped."""
    import json
    from types import SimpleNamespace

    from interp.report.summary import build_summary
    from interp.study.experiments import StageResult

    def row(method: str, passed: bool) -> dict:
        return {"model": "split_conv", "chamber": "VTPC2", "method": method, "passed": passed,
                "randomisation_rho_abs": 0.9, "randomisation_rho_abs_footprint": 0.12,
                "deletion_auc": 0.41, "deletion_auc_random": 0.77}  # fmt: skip

    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "explain_summary.json").write_text(
        json.dumps({"sanity": [row("occlusion", False), row("saliency", True)]})
    )
    run = StageResult("explain", "k", tmp_path, "done", 0.0, {})
    names = [f"attr_split_conv_VTPC2_on_VTPC2_{m}_kinds" for m in ("occlusion", "saliency")]
    figs = [tmp_path / "figures" / f"{n}.html" for n in names]
    summary = build_summary([(SimpleNamespace(name="s"), {"explain": run})], {}, figs)
    (kf,) = dict(summary.groups)["What do the models look at?"]
    assert kf.path == figs[1]
    assert "saliency" in kf.caption and "0.12" in kf.caption and "0.41 against 0.77" in kf.caption

"""Explanation figures (pure: arrays in, plotly figures out) and the ``explain`` report."""

from __future__ import annotations

import jax

jax.config.update("jax_disable_most_optimizations", True)

import json  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import pytest  # noqa: E402

from interp.plots import attribution as fattr  # noqa: E402
from interp.plots import confusion as fconf  # noqa: E402
from interp.plots import curves as fcurves  # noqa: E402
from interp.plots import physics as fphys  # noqa: E402
from interp.plots import weights as fw  # noqa: E402

WINDOW = (11, 20)
RNG = np.random.default_rng(0)


def _types(fig: go.Figure) -> list[str]:
    return [t.type for t in fig.data]


def test_perceptron_weight_figures() -> None:
    kernel = RNG.normal(size=(220, 2))
    fig = fw.perceptron_weights_figure(kernel, WINDOW)
    assert isinstance(fig, go.Figure) and _types(fig) == ["surface"] * 3
    np.testing.assert_allclose(
        np.asarray(fig.data[2].z), (kernel[:, 1] - kernel[:, 0]).reshape(WINDOW)
    )
    assert np.asarray(fig.data[0].z).shape == WINDOW  # pads x time bins
    twin = fw.perceptron_heatmap_figure(kernel, WINDOW)
    assert _types(twin) == ["heatmap"] * 3
    maps = {"VTPC2": RNG.normal(size=WINDOW), "MTPCL": RNG.normal(size=WINDOW)}
    comp = fw.chamber_comparison_figure(maps)
    assert _types(comp) == ["heatmap"] * 3
    assert _types(fw.chamber_comparison_figure(maps, three_d=True)) == ["surface"] * 3
    np.testing.assert_allclose(np.asarray(comp.data[2].z), maps["VTPC2"] - maps["MTPCL"])


def test_split_conv_figures() -> None:
    k = fw.split_conv_kernels_figure(RNG.normal(size=(10, 2, 1, 5)), RNG.normal(size=(2, 10, 1, 5)))
    assert _types(k) == ["heatmap"] * 10
    b = fw.branch_contributions_figure({"pad": np.ones(WINDOW), "time": -np.ones(WINDOW)})
    assert _types(b) == ["heatmap"] * 3


def test_attribution_and_shap_figures() -> None:
    maps = {k: RNG.normal(size=WINDOW) for k in ("TP", "FP", "FN", "TN")}
    fig = fattr.attribution_figure(
        maps, "integrated_gradients", "IG", counts=dict.fromkeys(maps, 3)
    )
    assert _types(fig) == ["heatmap"] * 4
    assert fig.data[0].colorbar.title.text.startswith("integrated gradients")
    three_d = fattr.attribution_figure(maps, "integrated_gradients", "IG", three_d=True)
    assert three_d.layout.scene.zaxis.title.text.startswith("integrated gradients")
    contribs = RNG.normal(size=(50, 221))
    shap = fattr.shap_figure(contribs, WINDOW)
    assert _types(shap) == ["heatmap"] * 2
    np.testing.assert_allclose(
        np.asarray(shap.data[1].z), np.abs(contribs[:, :-1]).mean(0).reshape(WINDOW)
    )


def test_confusion_matrix_layout() -> None:
    counts = {"tn": 1816, "fp": 184, "fn": 141, "tp": 1859}  # the talk's split-conv matrix
    m, pct = fconf.confusion_table(counts)
    assert m.tolist() == [[1816, 184], [141, 1859]]  # rows true noise/signal, cols predicted
    np.testing.assert_allclose(pct.sum(axis=1), 100.0)
    assert pct[0, 0] == pytest.approx(90.8)
    fig = fconf.confusion_figure(counts, "t")
    (hm,) = fig.data
    assert (
        hm.type == "heatmap"
        and list(hm.x) == ["noise", "signal"]
        and list(hm.y) == ["noise", "signal"]
    )
    assert (
        fig.layout.yaxis.title.text == "true label" and fig.layout.xaxis.title.text == "predicted"
    )
    assert "90.8 %" in hm.text[0][0] and "1,816" in hm.text[0][0]  # 2000 per row: 1 decimal


def test_curves() -> None:
    y = RNG.integers(0, 2, 500)
    s = np.clip(0.3 * y + RNG.uniform(0, 0.7, 500), 0, 1)
    r = fcurves.roc_points(s, y)
    assert r["tpr"][0] == 0 and r["tpr"][-1] == 1 and np.all(np.diff(r["fpr"]) >= 0)
    fig = fcurves.roc_figure({"test": (s, y)}, {"test": [("0.5", 0.5)]})
    assert _types(fig) == ["scatter"] * 6  # band, curve, operating point in each panel
    tc = fcurves.training_curves_figure({"train_loss": [1, 0.5], "val_accuracy": [0.8, 0.9]}, "t")
    assert len(tc.data) == 2
    dist, ks = fcurves.score_distribution_figure(s, y, s[::-1], y[::-1], "scores")
    assert _types(dist) == ["bar", "scatter", "bar", "scatter"]
    # reversed order, same multiset of scores per class: nothing to tell apart
    assert ks["signal"]["pvalue"] == pytest.approx(1.0) and ks["noise"]["statistic"] == 0.0
    _, ks_same = fcurves.score_distribution_figure(s, y, s, y, "same")
    assert ks_same["noise"]["pvalue"] == pytest.approx(1.0)
    from scipy import stats

    shifted = np.clip(s + 0.2 * (y == 1), 0, 1)  # only the signal scores move
    _, ks_shift = fcurves.score_distribution_figure(s, y, shifted, y, "shifted")
    want = stats.ks_2samp(s[y == 1], shifted[y == 1])
    assert ks_shift["signal"]["statistic"] == pytest.approx(want.statistic) and want.pvalue < 1e-6
    assert ks_shift["noise"]["pvalue"] == pytest.approx(1.0)


def test_physics_figures() -> None:
    b = {
        "crossing_angle": {
            "edges": [0.5, 1.5, 2.5],
            "centres": [1, 2],
            "rate": [0.1, 0.2],
            "error": [0.01, 0.01],
            "n": [10, 10],
            "lost": [1, 2],
            "label": "|crossing angle|",
            "unit": "deg",
        }
    }
    fig = fphys.signal_lost_figure({"perceptron": b, "resnet": b})
    assert _types(fig) == ["scatter", "scatter"]
    nr = {"electronic": {"n": 10, "removed": 9, "rate": 0.9, "error": 0.05}}
    bars = fphys.noise_removed_figure({"perceptron": nr})
    assert _types(bars) == ["bar"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from interp.study.config import MatrixConfig
    from interp.study.matrix import run_matrix

    workdir = tmp_path_factory.mktemp("explain_run")
    cfg = MatrixConfig.smoke(
        models=("perceptron", "split_conv", "xgboost"),
        n_events=4,
        clusters_per_event=150,
        n_boot=0,
        train_overrides={  # fixed learning rates skip the LR finder
            "perceptron": {"max_epochs": 1, "learning_rate": 1e-2},
            "split_conv": {"max_epochs": 1, "learning_rate": 1e-2},
        },
    )
    run_matrix(cfg, workdir, progress=False)
    return workdir


def _check_rule_like_for_like(workdir: Path, saved: dict[str, Any]) -> None:
    """Rule and perceptron operating points are the matrix's validation policy
    (``choose_threshold`` at ``max_signal_loss``), recomputed here from the saved artefacts."""
    from interp.backends.classifier import load_classifier
    from interp.evaluation.metrics import choose_threshold
    from interp.explain.rule import Rule, region_masks
    from interp.study.explain_stage import load_run_data

    matrix, parts = load_run_data(workdir)
    loss = float(matrix["config"].get("max_signal_loss", 0.05))
    clf = load_classifier(workdir / "runs" / "perceptron" / "VTPC2")
    val = parts["VTPC2"]["val"]
    x_val = clf.preprocessor(val.charge)
    thr_p = choose_threshold(clf.predict_proba(val.charge), val.label, loss)
    for method, rule in saved["rules"]["VTPC2"]["rules"].items():
        r = Rule(method, rule["coefficients"], rule["intercept"], 0.0, region_masks(clf.window))
        thr_r = choose_threshold(r.score(x_val), val.label, loss)
        for t, lfl in rule["like_for_like"].items():
            assert lfl["max_signal_loss"] == loss
            assert lfl["perceptron"]["threshold"] == pytest.approx(thr_p, rel=1e-6), (method, t)
            assert lfl["rule"]["threshold"] == pytest.approx(thr_r, rel=1e-6), (method, t)
            assert 0.0 <= lfl["agreement"]["agreement"] <= 1.0
            assert lfl["agreement"]["n"] == len(parts[t]["test"])


def test_explain_run_writes_figures_and_summary(tiny_run: Path, tmp_path: Path) -> None:
    from interp.study.explain_stage import SUMMARY_FILE, ExplainConfig, explain_run

    out = tmp_path / "explain"
    # same attribution sizes as the CLI test below, so its kernels are compiled once
    cfg = ExplainConfig(
        attr_clusters=8, ig_steps=4, ig_chunk=4, shap_clusters=20, train_clusters=300
    )
    summary = explain_run(tiny_run, out, png=False, config=cfg)
    names = {p.name for p in out.glob("*.html")}
    for c in ("VTPC2", "MTPCL"):
        assert f"weights_perceptron_{c}.html" in names
        assert f"weights_perceptron_{c}_3d.html" in names
        assert f"splitconv_kernels_{c}.html" in names
        for t in ("VTPC2", "MTPCL"):
            for m in ("perceptron", "split_conv", "xgboost"):
                assert f"confusion_{m}_{c}_on_{t}.html" in names
            assert f"shap_xgboost_{c}_on_{t}.html" in names
            assert f"splitconv_branches_{c}_on_{t}.html" in names
            assert f"physics_signal_lost_{c}_on_{t}.html" in names
            for method in ("saliency", "integrated_gradients", "occlusion"):
                assert f"attr_split_conv_{c}_on_{t}_{method}_cells.html" in names
        for m in ("perceptron", "split_conv", "xgboost"):
            assert {f"roc_{m}_{c}.html", f"scores_{m}_{c}.html", f"training_{m}_{c}.html"} <= names
    assert "weights_perceptron_chambers.html" in names
    assert (out / "plotly.min.js").is_file() and (out / "index.html").is_file()
    saved = json.loads((out / SUMMARY_FILE).read_text())
    assert saved["png_skipped_reason"] == "static image export disabled"
    p = saved["perceptron"]["VTPC2"]
    for key in ("peak_signal_weight", "mean_cross_diff_weight", "mean_outer_diff_weight"):
        assert np.isfinite(p[key])
    rule = saved["rules"]["VTPC2"]["rules"]["lstsq"]
    assert set(rule["coefficients"]) == {"core", "cross", "outer"}
    assert 0.0 <= rule["test"]["MTPCL"]["accuracy"] <= 1.0
    _check_rule_like_for_like(tiny_run, saved)
    assert 0.0 <= saved["ks"]["split_conv_VTPC2"]["signal"]["pvalue"] <= 1.0
    assert summary["figures"] == saved["figures"]


def test_cli_explain_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command is registered and forwards its options (explain_run itself is tested above)."""
    from typer.testing import CliRunner

    import interp.cli  # noqa: F401  (registers the commands)
    import interp.study.explain_stage as report
    from interp.cli.app import app

    calls: dict[str, Any] = {}

    def fake_explain_run(
        workdir: Path, out: Path, png: bool, config: Any, progress: Any
    ) -> dict[str, Any]:
        calls.update(workdir=workdir, out=out, png=png, config=config)
        progress("explain perceptron trained on VTPC2")
        return {"figures": ["a.html"], "png_skipped_reason": "PNG export disabled", "rules": {}}

    monkeypatch.setattr(report, "explain_run", fake_explain_run)
    out = tmp_path / "cli"
    args = [
        "explain",
        str(tiny_run),
        "--out",
        str(out),
        "--no-png",
        "--attr-clusters",
        "8",
        "--ig-steps",
        "4",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert calls["out"] == out and calls["png"] is False
    assert calls["config"].attr_clusters == 8 and calls["config"].ig_steps == 4
    assert "wrote 1 HTML, 0 PNG and 0 PDF" in res.output
    assert "static images skipped" in res.output


def test_matrix_stores_the_scores_explain_reads(tiny_run: Path) -> None:
    """Every first-seed run folder holds its val and test scores, fingerprinted, equal to what
    the saved classifier gives (the explain stage reads them instead of scoring again)."""
    from interp.backends.classifier import load_classifier
    from interp.study import score_cache as sc
    from interp.study.explain_stage import find_runs, load_run_data

    _, parts = load_run_data(tiny_run)
    runs = find_runs(tiny_run)
    assert {m for m, _, _ in runs} == {"perceptron", "split_conv", "xgboost"}
    for _model, chamber, run_dir in runs:
        clf, clf_sha = load_classifier(run_dir), sc.classifier_fingerprint(run_dir)
        wanted = [("val", chamber)] + [("test", t) for t in parts]
        for split, c in wanted:
            part = parts[c][split]
            kept = sc.load_scores(run_dir, f"{split}_{c}", sc.split_fingerprint(part), clf_sha)
            assert kept is not None, (run_dir, split, c)
            np.testing.assert_allclose(kept, clf.predict_proba(part.charge), atol=2e-6)

"""Fold ensembles (interp.backends.ensemble, fold_training, onnx.ensemble)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import models
from interp.backends.classifier import Classifier, load_classifier
from interp.backends.ensemble import EnsembleClassifier, ensemble_weights
from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.random_params import random_params
from interp.data.preprocess import fit_preprocessor


def _charge(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 30.0, (n, 11, 20)).round().astype(np.float32)
    x[x < 20] = 0.0
    return np.minimum(x, 255.0)


def _member(name: str, seed: int) -> FlaxClassifier:
    module = models.get_model(name)
    clf = FlaxClassifier(
        name, module, random_params(module, (11, 20), seed), fit_preprocessor("max", _charge(64)),
        "VTPC2",
    )  # fmt: skip
    clf.backend = "jax"
    return clf


def test_ensemble_of_identical_members_equals_the_member() -> None:
    m = _member("perceptron", 1)
    x = _charge(300, 1)
    for ens in (EnsembleClassifier([m, m, m], weighting="uniform"),
                EnsembleClassifier([m, m], losses=[0.3, 0.3])):  # fmt: skip
        np.testing.assert_allclose(ens.predict_proba(x), m.predict_proba(x), rtol=0, atol=1e-7)


def test_weights_are_normalised_reciprocal_losses() -> None:
    w = ensemble_weights([1.0, 2.0, 4.0], "reciprocal_loss", 3)
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w, np.array([4.0, 2.0, 1.0]) / 7.0)
    np.testing.assert_allclose(ensemble_weights(None, "uniform", 4), 0.25)
    a, b = _member("perceptron", 1), _member("perceptron", 2)
    ens = EnsembleClassifier([a, b], weights=[3.0, 1.0])
    assert ens.weights.sum() == pytest.approx(1.0)
    x = _charge(50, 2)
    want = 0.75 * a.predict_proba(x).astype(np.float64) + 0.25 * b.predict_proba(x)
    np.testing.assert_allclose(ens.predict_proba(x), want, atol=1e-7)
    with pytest.raises(ValueError, match="positive losses"):
        ensemble_weights([1.0, 0.0], "reciprocal_loss", 2)


def test_ensemble_log_odds_is_the_logit_of_its_probability_and_attributions_run() -> None:
    from interp.explain import attribution as attr
    from interp.study.explain_folder import attribution_target

    a, b = _member("perceptron", 1), _member("perceptron", 2)
    x = _charge(32, 4)
    ens = EnsembleClassifier([a, b], weights=[3.0, 1.0])
    f, pre, words = attribution_target(ens)
    assert "mean" in words and "mean" not in attribution_target(a)[2]  # a plain Flax member
    z = np.asarray(attr.evaluate(f, pre(x)), np.float64)
    p = ens.predict_proba(x).astype(np.float64)
    np.testing.assert_allclose(z, np.log(p) - np.log1p(-p), atol=2e-4)
    solo, _, _ = attribution_target(
        EnsembleClassifier([a], weighting="uniform")
    )  # one member: its logit difference
    np.testing.assert_allclose(attr.saliency(solo, pre(x)),
                               attr.saliency(attr.logit_diff_fn(a.module, a.params), pre(x)),
                               atol=1e-5)  # fmt: skip
    ig = attr.integrated_gradients(f, pre(x), steps=16, chunk=16)
    gap = np.abs(attr.completeness_gap(f, pre(x), ig))
    assert gap.max() < 0.05 * max(np.abs(z).max(), 1.0)
    maps = EnsembleClassifier([_member("perceptron", 1), _member("perceptron", 2)],
                              weights=[3.0, 1.0]).weight_map()  # fmt: skip
    want = 0.75 * _member("perceptron", 1).weight_map()["signal - noise"]
    want = want + 0.25 * _member("perceptron", 2).weight_map()["signal - noise"]
    np.testing.assert_allclose(maps["signal - noise"], want, atol=1e-12)


def test_folder_round_trip(tmp_path: Path) -> None:
    ens = EnsembleClassifier(
        [_member("perceptron", 1), _member("split_conv", 2)], losses=[0.4, 0.5],
        folds={"k": 2, "seed": 0, "events": {"0": [1], "1": [2]}},
    )  # fmt: skip
    ens.save(tmp_path / "ens")
    assert (tmp_path / "ens" / "member_0" / "classifier.json").is_file()
    back = load_classifier(tmp_path / "ens")
    assert back.kind == "ensemble" and back.name == "perceptron+split_conv"
    assert isinstance(back, Classifier)
    np.testing.assert_array_equal(back.weights, ens.weights)
    assert back.folds == ens.folds and back.losses == ens.losses
    for m in back.members:
        m.backend = "jax"
    x = _charge(200, 3)
    np.testing.assert_array_equal(back.predict_proba(x), ens.predict_proba(x))


def test_onnx_parity_with_the_jax_ensemble(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from interp.backends.onnx.ensemble import export_ensemble_onnx
    from interp.backends.onnx.runtime import OnnxClassifier

    ens = EnsembleClassifier(
        [_member("perceptron", 1), _member("split_conv", 2), _member("perceptron", 3)],
        losses=[0.3, 0.5, 0.4],
    )
    path = export_ensemble_onnx(ens, tmp_path / "ens.onnx")
    ort = OnnxClassifier(path)
    x = _charge(1024, 4)
    p_jax, p_ort = ens.predict_proba(x), ort.predict_proba(x)
    assert np.abs(p_jax - p_ort).max() <= 1e-5
    z = ort.logits(x)
    d = z[:, 1] - z[:, 0]
    np.testing.assert_allclose(1 / (1 + np.exp(-d)), np.clip(p_ort, 1e-7, 1 - 1e-7), atol=1e-5)


def test_fold_ensemble_trains_and_predict_writes_p_signal(tmp_path: Path, make_clusters) -> None:
    from interp.backends.flax.config import TrainConfig
    from interp.backends.fold_training import OOF_FILE, train_fold_ensemble
    from interp.data.io import write_clusters
    from interp.evaluation.predict import predict_files

    data = make_clusters(900, n_events=12, seed=5)
    cfg = TrainConfig.smoke(max_epochs=1, learning_rate=1e-3)
    ens = train_fold_ensemble("perceptron", data, k=3, config=cfg, workdir=tmp_path / "ens")
    oof = np.load(tmp_path / "ens" / OOF_FILE)
    assert np.isfinite(oof["p_signal"]).all() and oof["p_signal"].size == len(data)
    assert sorted(np.unique(oof["fold"]).tolist()) == [0, 1, 2]
    fm = ens.info["fold_metrics"]
    assert len(fm["folds"]) == 3 and fm["val_balanced_accuracy"]["std"] >= 0
    # each member scored out of fold: member i's predictions on fold i are the oof scores
    for i, m in enumerate(ens.members):
        sel = oof["fold"] == i
        np.testing.assert_allclose(m.predict_proba(data.charge[sel]), oof["p_signal"][sel])
    f = write_clusters(data, tmp_path / "run.h5")
    out = tmp_path / "scores.parquet"
    predict_files(tmp_path / "ens", [f], out, progress=False)
    import pyarrow.parquet as pq

    p = pq.read_table(out).column("p_signal").to_numpy()
    np.testing.assert_allclose(p, load_classifier(tmp_path / "ens").predict_proba(data.charge))


def test_cli_train_folds_then_evaluate_export_predict(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    import interp.cli  # noqa: F401  (registers all commands)
    from interp.cli.app import app

    runner, wd = CliRunner(), tmp_path / "study"
    common = ["--profile", "smoke", "--workdir", str(wd), "--no-png", "-q", "--n-boot", "20"]
    res = runner.invoke(app, ["train", "--model", "perceptron", "--train-on", "VTPC2",
                              "--folds", "2", *common])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "folds: k = 2" in res.output and "fold std" in res.output
    run = wd / "runs" / "perceptron_folds2" / "VTPC2"
    assert load_classifier(run).kind == "ensemble" and (run / "oof_scores.npz").is_file()
    res = runner.invoke(app, ["evaluate", str(run), "--on", "VTPC2", "--no-png", "-q",
                              "--n-boot", "20", "--tta", "pad-mirror"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "pad-mirror symmetry VTPC2" in res.output and (run / "eval_VTPC2_tta.json").is_file()
    res = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "e.onnx")])
    assert res.exit_code == 0, res.output
    assert "JAX ensemble" in res.output
    data = sorted((wd / "data").glob("*.npz"))[0]
    out = tmp_path / "s.parquet"
    res = runner.invoke(app, ["predict", str(run), str(data), "--out", str(out), "-q",
                              "--tta", "pad-mirror"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "pad-mirror symmetry" in res.output and out.is_file()
    res = runner.invoke(app, ["explain", str(run), "--no-png", "-q", "--out", str(tmp_path / "x")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "x" / "explain_summary.json").read_text())
    assert summary["kind"] == "ensemble" and "weights_perceptron_VTPC2.html" in summary["figures"]
    ens = load_classifier(run)
    mean = sum(
        w * m.weight_map()["signal - noise"] for w, m in zip(ens.weights, ens.members, strict=True)
    )
    assert summary["weight_map"]["peak_diff_weight"] == pytest.approx(float(mean.max()))


def test_matrix_technique_rows_off_by_default_and_on_with_folds_tta(tmp_path: Path) -> None:
    from interp.study.config import MatrixConfig
    from interp.study.matrix import run_matrix

    plain = MatrixConfig.smoke().to_dict()
    assert "folds" not in plain and "tta" not in plain  # the default keys (and caches) as before
    cfg = MatrixConfig.smoke(models=("perceptron", "xgboost"), chambers=("VTPC2",), folds=2,
                             tta=("pad-mirror",), n_boot=20,
                             technique_models=("perceptron",))  # fmt: skip
    result = run_matrix(cfg, tmp_path / "m", {}, progress=False)
    kinds = sorted(r["technique"] for r in result["techniques"])
    assert kinds == ["TTA (pad-mirror)", "ensemble (k = 2)"]  # none for xgboost
    assert {r["model"] for r in result["techniques"]} == {"perceptron"}
    ens = next(r for r in result["techniques"] if r["technique"].startswith("ensemble"))
    assert len(ens["fold_test_balanced_accuracy"]["values"]) == 2
    assert ens["seed_balanced_accuracy"]["values"] and ens["oof_operating_point"]["n"] > 0
    assert 0 < ens["oof_operating_point"]["threshold"] < 1 and ens["seconds"] > 0
    assert all(r["paired"]["value"] is not None for r in result["techniques"])
    md = (tmp_path / "m" / "matrix.md").read_text()
    assert "## Fold ensembles and test-time augmentation" in md and "out-of-fold" in md
    # the report section renders the same two tables (one definition) from matrix.json
    from interp.report.sections import SectionInput
    from interp.report.techniques import techniques
    from interp.study.techniques import gain_table, spread_table

    sec = techniques(SectionInput("t", {"matrix": tmp_path / "m"}, {}, tmp_path / "f"))
    assert [t.rows for t in sec.tables] == [gain_table(result["techniques"]),
                                            spread_table(result["techniques"])]  # fmt: skip
    tta = next(r for r in sec.tables[0].rows if r[3] == "TTA (pad-mirror)")
    assert "symmetric: D = " in tta[-1] and ", p = " in tta[-1]
    assert "perceptron" in sec.text and not sec.missing
    with pytest.raises(ValueError, match="folds"):
        MatrixConfig.smoke(folds=1)

"""The autoencoder (a ``"reconstruct"`` model): trained on signal clusters only, score head
fitted on the validation split only, signal reconstructed better than line-like noise, resume,
ONNX parity, the reconstruction figure, and the spec fields behind it."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import models
from interp.backends.classifier import load_classifier
from interp.backends.flax.config import TrainConfig
from interp.backends.flax.objective import (
    fit_score_head,
    objective_weights,
    score_features,
    training_clusters,
)
from interp.backends.flax.trainer import train_flax
from interp.core.errors import ClusterDataError
from interp.core.logistic import fit_logistic_1d, smoothed_targets
from interp.core.schema import ClusterSet
from models.contract import ModelSpec

NAME = "autoencoder"


def _config() -> TrainConfig:
    lr = models.model_spec(NAME).profile_overrides["smoke"]["learning_rate"]
    return TrainConfig.smoke(max_epochs=3, patience=3, learning_rate=lr, eval_batch_size=1024)


@pytest.fixture(scope="module")
def data() -> tuple[ClusterSet, ClusterSet]:
    """Simulated VTPC2: 1,500 train and 1,500 validation clusters (one event each)."""
    from interp.data.simulator import simulate

    both = simulate("VTPC2", 2, seed=5, n_clusters=1500)
    ids = both.events()
    return both.select_events([ids[0]]), both.select_events([ids[1]])


def _scrambled_noise(train: ClusterSet) -> ClusterSet:
    """``train`` with every noise cluster's charge replaced by random ADC."""
    charge = np.array(train.charge, copy=True)
    noise = train.label == 0
    rng = np.random.default_rng(1)
    charge[noise] = rng.uniform(0.0, 255.0, charge[noise].shape).astype(charge.dtype)
    return ClusterSet(charge, train.label, train.event_id, train.chamber, dict(train.truth))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> dict[str, object]:
    """The autoencoder trained twice: on the data, and with the train noise scrambled."""
    train, val = data
    root = tmp_path_factory.mktemp("ae")
    a = train_flax(NAME, train, val, root / "a", _config(), progress=False)
    b = train_flax(NAME, _scrambled_noise(train), val, root / "b", _config(), progress=False)
    return {"a": a, "b": b, "dir": root / "a"}


def _leaves(params) -> dict[str, np.ndarray]:
    from interp.backends.flax.classifier import flatten_params

    return flatten_params(params)


def test_trained_on_signal_clusters_only(data, trained) -> None:
    """Noise clusters of the train split never enter the reconstruction loss: scrambling them
    changes no parameter (bit for bit), and the run counts only the signal clusters."""
    train, _ = data
    a, b = trained["a"], trained["b"]
    pa, pb = _leaves(a.params), _leaves(b.params)
    assert pa.keys() == pb.keys()
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    assert a.info["n_train"] == int((train.label == 1).sum()) < len(train)
    assert a.info["class_weights"] == [0.0, 1.0]


def test_score_head_is_fitted_on_validation_only(data, trained) -> None:
    """The head is the class-balanced logistic fit of the validation labels on the validation
    log errors (recomputed here), not of any training cluster."""
    train, val = data
    clf = trained["a"]
    s = score_features(clf.module, clf.params, clf.preprocessor(val.charge))
    y = val.label.astype(np.int64)
    w = (len(y) / (2.0 * np.bincount(y, minlength=2)))[y]
    slope, intercept = fit_logistic_1d(s, smoothed_targets(y), w, a0=-1.0)
    head = clf.params["score_head"]
    assert float(head["slope"]) == pytest.approx(slope, rel=1e-6)
    assert float(head["intercept"]) == pytest.approx(intercept, rel=1e-6)
    assert clf.info["score_head"]["n_val"] == len(val)
    assert slope < 0  # trained on signal: a larger error means noise
    refit, _ = fit_score_head(clf.module, clf.params, clf.preprocessor(train.charge), train.label)
    assert float(refit["score_head"]["slope"]) != pytest.approx(slope, rel=1e-3)


def test_signal_reconstructs_better_than_line_noise(data, trained) -> None:
    """After a smoke training, signal clusters of the validation split have a lower median
    reconstruction error than cross-talk (b) and hot-pad (c) clusters (can fail)."""
    _, val = data
    clf = trained["a"]
    s = score_features(clf.module, clf.params, clf.preprocessor(val.charge))
    kinds = val.truth["noise_kind"]
    signal = np.median(s[kinds == 0])
    for code in (2, 3):
        assert (kinds == code).sum() >= 10
        assert signal < np.median(s[kinds == code]), code


def test_resume_of_a_finished_run_gives_the_same_classifier(data, trained) -> None:
    """A finished run folder trained again resumes (no epoch runs) and refits the same head."""
    train, val = data
    assert (trained["dir"] / "checkpoints" / "best").is_dir()
    again = train_flax(NAME, train, val, trained["dir"], _config(), progress=False)
    pa, pb = _leaves(trained["a"].params), _leaves(again.params)
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    loaded = load_classifier(trained["dir"])
    x = val.charge[:300]
    np.testing.assert_array_equal(loaded.predict_proba(x), trained["a"].predict_proba(x))


def test_onnx_parity_of_the_trained_autoencoder(data, trained) -> None:
    pytest.importorskip("onnxruntime")
    from interp.backends.onnx.export import build_onnx
    from interp.backends.onnx.runtime import OnnxClassifier

    _, val = data
    clf = trained["a"]
    ort = OnnxClassifier(build_onnx(clf).SerializeToString())
    x = val.charge[:257]
    ref = clf.logits(x)
    assert np.abs(ort.logits(x) - ref).max() <= 1e-5 * max(np.abs(ref).max(), 1.0)


def test_mean_reconstructions_figure(data, trained) -> None:
    from interp.explain.reconstruction import mean_reconstructions
    from interp.plots.reconstruction import reconstruction_figure

    _, val = data
    groups = mean_reconstructions(trained["a"], val)
    present = {int(k) for k in np.unique(val.truth["noise_kind"])}
    assert "signal" in groups and len([g for g in groups if g != "(g) dead pad"]) == len(present)
    assert sum(g["n"] for n, g in groups.items() if n != "(g) dead pad") == len(val)
    sig = groups["signal"]
    assert sig["input"].shape == sig["reconstruction"].shape == tuple(val.window_shape)
    assert sig["mean_error"] < groups["(b) crosstalk"]["mean_error"]
    fig = reconstruction_figure(groups, "t")
    assert len(fig.data) == 2 * len(groups)
    assert fig.data[0].colorbar.title.text  # a titled colour bar


def test_objective_helpers_and_spec_fields(data) -> None:
    train, _ = data
    np.testing.assert_array_equal(objective_weights((1,)), [0.0, 1.0])
    np.testing.assert_array_equal(objective_weights(None), [1.0, 1.0])
    assert set(training_clusters(train, (0,)).label) == {0}
    only_noise = train.subset(np.flatnonzero(train.label == 0))
    with pytest.raises(ClusterDataError, match="classes"):
        training_clusters(only_noise, (1,))
    spec = models.model_spec(NAME)
    assert (spec.objective, spec.train_classes, spec.reconstructions) == ("reconstruct", (1,), True)
    assert spec.has("reconstructions") and not spec.has("gradient_attributions")
    noise = models.model_spec("models.autoencoder:NOISE_SPEC")
    assert noise.train_classes == (0,) and noise.objective == "reconstruct"
    with pytest.raises(ValueError, match="objective"):
        ModelSpec(name="x", objective="cluster")
    with pytest.raises(ValueError, match="train_classes"):
        ModelSpec(name="x", objective="reconstruct", train_classes=(2,))
    with pytest.raises(ValueError, match="reconstructions"):
        ModelSpec(name="x", reconstructions=True)


def test_reconstruct_loss_is_the_mean_squared_error() -> None:
    """The training loss of the objective is the weighted mean of the per-cluster MSE of
    ``module.reconstruct``."""
    from interp.backends.flax.steps import loss_sums_fn

    module = models.get_model(NAME)
    x = jax.random.uniform(jax.random.key(0), (5, 11, 20))
    params = jax.jit(module.init)(jax.random.key(1), x)["params"]
    apply = jax.jit(module.apply, static_argnames="method")
    r = apply({"params": params}, x, method="reconstruct")
    e = np.mean(np.square(np.asarray(x - r)).reshape(5, -1), axis=1)
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.0], np.float32)
    sums = jax.jit(loss_sums_fn(module, False, objective="reconstruct"))
    total, norm = sums(params, x, np.zeros(5, np.int32), w, None)
    assert float(total) == pytest.approx(float((w * e).sum()), rel=1e-5)
    assert float(norm) == pytest.approx(4.0)
    s = apply({"params": params}, x, method="score_feature")
    assert np.asarray(s) == pytest.approx(np.log(e + 1e-6), rel=1e-5)
    with pytest.raises(ValueError, match="objective"):
        loss_sums_fn(module, False, objective="cluster")


def _cell(model: str, ba: float, sl: float, kinds: dict[str, float]) -> dict:
    ev = {
        "at_0.5": {"metrics": {"balanced_accuracy": {"value": ba}, "signal_lost": {"value": sl}}},
        "by_truth": {"noise_removed": {k: {"n": 10, "value": v} for k, v in kinds.items()}},
    }
    return {"model": model, "train_chamber": "VTPC2", "evaluations": {"VTPC2": ev}}


def test_report_compares_unsupervised_with_supervised_models() -> None:
    """The per-kind section's comparison picks models by spec objective and computes its
    numbers from the matrix result."""
    from interp.study.unsupervised_tables import comparison_rows, comparison_text, comparisons

    result = {
        "cells": [
            _cell("perceptron", 0.90, 0.04, {"crosstalk": 1.0, "unreconstructed": 0.15}),
            _cell("mlp", 0.93, 0.03, {"crosstalk": 0.99, "unreconstructed": 0.20}),
            _cell(NAME, 0.85, 0.18, {"crosstalk": 0.98, "unreconstructed": 0.40}),
        ]
    }
    (entry,) = comparisons(result)
    assert entry["model"] == NAME and entry["best_supervised"] == "mlp"
    assert entry["kind_f"] == 0.40 and entry["kind_f_supervised"] == {
        "perceptron": 0.15,
        "mlp": 0.20,
    }
    assert entry["beats"] == ["unreconstructed"] and entry["loses"] == ["crosstalk"]
    row = comparison_rows([entry])[0]
    assert row[3:5] == ["85.0", "93.0 (mlp)"] and row[7:11] == ["40.0", "15.0-20.0", "(f)", "(b)"]
    text = comparison_text([entry])
    assert "8.0 points below" in text and "more than every supervised model (15.0-20.0 %)" in text

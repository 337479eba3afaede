"""Transfer learning across chambers: draws, fine-tuning start, last-layer mode, the stage."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from interp.backends.flax.classifier import build_module
from interp.backends.flax.config import TrainConfig
from interp.backends.flax.finetune import fine_tune, output_layer, trainable_mask
from interp.backends.flax.trainer import train_flax
from interp.core.schema import ClusterSet
from interp.data.splits import split_events
from interp.study.finetune_stage import (
    FineTuneConfig,
    event_order,
    fine_tunable,
    labelled_draw,
    run_finetune,
)

FLAX_MODELS = [m for m in models.model_names() if fine_tunable(m)]
WINDOW = (11, 20)


def _parts(clusters: ClusterSet) -> dict[str, ClusterSet]:
    return split_events(clusters.event_id, clusters.label, seed=0).apply(clusters)


def test_draws_come_from_train_only_event_disjoint_from_test(make_clusters) -> None:
    parts = _parts(make_clusters(3000, n_events=30))
    test_events = set(parts["test"].event_id.tolist())
    train_events, val_events = set(parts["train"].event_id.tolist()), set(parts["val"].event_id)
    for n in (50, 400, len(parts["train"])):
        tr, va = labelled_draw(parts, n, 0.15 / 0.7, [0, 0, 7])
        assert len(tr) == n
        assert len(va) == min(len(parts["val"]), max(2, round(n * 0.15 / 0.7)))
        assert set(tr.event_id.tolist()) <= train_events
        assert set(va.event_id.tolist()) <= val_events
        assert not set(tr.event_id.tolist()) & test_events
        assert not set(va.event_id.tolist()) & test_events
    with pytest.raises(ValueError, match="train split holds"):
        labelled_draw(parts, len(parts["train"]) + 1, 0.2, [0])


def test_event_order_keeps_events_whole_and_draws_nested(make_clusters) -> None:
    data = make_clusters(1500, n_events=15)
    order = event_order(data, [3, 1])
    assert sorted(order.tolist()) == list(range(len(data)))
    events = data.event_id[order]
    changes = np.flatnonzero(np.diff(events)) + 1  # each event one contiguous run
    assert len(np.unique(events)) == len(changes) + 1
    assert np.array_equal(order, event_order(data, [3, 1]))
    assert not np.array_equal(order, event_order(data, [4, 1]))


@pytest.fixture
def source(make_clusters, tmp_path) -> tuple:
    """An MLP trained one epoch on synthetic VTPC2 clusters, and MTPCL target clusters."""
    a = make_clusters(600, window=WINDOW, chamber="VTPC2", n_events=6, seed=1)
    b = make_clusters(400, window=WINDOW, chamber="MTPCL", n_events=6, seed=2)
    cfg = TrainConfig.smoke(max_epochs=1, learning_rate=3e-3, batch_size=64)
    clf = train_flax("mlp", a.subset(np.arange(400)), a.subset(np.arange(400, 600)),
                     tmp_path / "src", config=cfg, progress=False)  # fmt: skip
    clf.backend = "jax"
    return clf, b.subset(np.arange(300)), b.subset(np.arange(300, 400)), cfg


def test_fine_tuning_starts_from_the_source_params(source, tmp_path) -> None:
    clf, tr, va, cfg = source
    frozen = jax.tree_util.tree_map(lambda _: False, clf.params)
    same = train_flax("mlp", tr, va, tmp_path / "a", config=cfg, progress=False,
                      init_params=clf.params, preprocessor=clf.preprocessor,
                      trainable=frozen)  # fmt: skip
    same.backend = "jax"
    assert np.array_equal(same.predict_proba(va.charge), clf.predict_proba(va.charge))
    moved = fine_tune(clf, tr, va, tmp_path / "b", "all", cfg.replace(learning_rate=1e-2))
    moved.backend = "jax"
    assert not np.allclose(moved.predict_proba(va.charge), clf.predict_proba(va.charge))
    assert moved.info["fine_tuned_from"] == "VTPC2" and moved.train_chamber == "MTPCL"


def test_last_layer_mode_changes_only_the_output_layer(source, tmp_path) -> None:
    clf, tr, va, cfg = source
    out = fine_tune(clf, tr, va, tmp_path, "last", cfg.replace(learning_rate=1e-2))
    head = output_layer(clf.params)
    flat_a = jax.tree_util.tree_flatten_with_path(clf.params)[0]
    flat_b = jax.tree_util.tree_leaves(out.params)
    changed = {
        jax.tree_util.keystr(p): not np.array_equal(np.asarray(x), np.asarray(y))
        for (p, x), y in zip(flat_a, flat_b, strict=True)
    }
    in_head = {k: k.startswith("".join(f"['{h}']" for h in head)) for k in changed}
    assert all(changed[k] for k in changed if in_head[k]), changed
    assert not any(changed[k] for k in changed if not in_head[k]), changed
    assert any(not v for v in in_head.values())  # the MLP has layers below its head


@pytest.mark.parametrize("model", FLAX_MODELS)
def test_output_layer_is_the_logits_dense_of_every_model(model) -> None:
    module = build_module(model, {})
    x = jnp.zeros((1, 16, 64))
    params = jax.eval_shape(lambda: module.init({"params": jax.random.key(0)}, x, train=False))
    params = params["params"]
    head = output_layer(params)
    node = params
    for h in head:
        node = node[h]
    assert node["kernel"].ndim == 2 and node["kernel"].shape[-1] == 2
    mask = trainable_mask(params, "last")
    assert any(jax.tree_util.tree_leaves(mask))
    assert all(jax.tree_util.tree_leaves(trainable_mask(params, "all")))
    assert fine_tunable(model)
    assert not fine_tunable("xgboost")


@pytest.mark.slow
def test_stage_is_deterministic_for_a_seed(tmp_path) -> None:
    from interp.study.config import MatrixConfig
    from interp.study.matrix import run_matrix

    mcfg = MatrixConfig.smoke(models=("perceptron",), n_events=6, clusters_per_event=200,
                              n_boot=20)  # fmt: skip
    run_matrix(mcfg, tmp_path / "m", progress=False)
    cfg = FineTuneConfig(models=("perceptron", "xgboost"), sizes=(40, 120), draws=1,
                         min_sample_epochs=100, max_epochs=2, n_boot=20)  # fmt: skip
    timing = ("seconds", "cpu_seconds")

    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k not in timing}
        if isinstance(d, list):
            return [strip(v) for v in d]
        return d

    one = run_finetune(tmp_path / "m", tmp_path / "f1", cfg)
    two = run_finetune(tmp_path / "m", tmp_path / "f2", cfg)
    assert strip(one) == strip(two)
    assert json.loads((tmp_path / "f1" / "finetune.json").read_text())["pairs"]
    assert one["skipped"][0]["model"] == "xgboost"
    assert {(p["source"], p["target"]) for p in one["pairs"]} == {
        ("VTPC2", "MTPCL"), ("MTPCL", "VTPC2")
    }  # fmt: skip
    for p in one["pairs"]:
        target = p["in_domain"]["balanced_accuracy"]["value"]
        for kind, rows in p["curves"].items():
            ok = [r["n"] for r in rows if r["balanced_accuracy"]["value"] >= target - 0.01]
            assert p["clusters_needed"][kind] == (ok[0] if ok else None)
    other = run_finetune(tmp_path / "m", tmp_path / "f3", FineTuneConfig(**{
        **{k: getattr(cfg, k) for k in cfg.__dataclass_fields__}, "seed": 1}))  # fmt: skip
    assert strip(other["pairs"]) != strip(one["pairs"])

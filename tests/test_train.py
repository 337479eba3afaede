"""Flax training: determinism, exact resume, LR finder, checkpoints, errors, baseline check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from interp.backends.classifier import Classifier, load_classifier
from interp.backends.flax.batching import epoch_batches
from interp.backends.flax.checkpoint import load_checkpoint, save_checkpoint
from interp.backends.flax.config import TrainConfig, profile
from interp.backends.flax.schedule import pick_learning_rate
from interp.backends.flax.steps import TrainState, make_optimizer
from interp.backends.flax.trainer import (
    METRICS_FILE,
    class_weights,
    run_lr_finder,
    train_flax,
)
from interp.core.errors import ClusterDataError, ShapeMismatchError, UnknownNameError
from interp.core.schema import ClusterSet

TIMING_KEYS = ("epoch_time_s", "train_time_s", "samples_per_s")


# --------------------------------------------------------------------------- tiny models
class _Perceptron(nn.Module):
    """Fallback logistic regression used until ``models`` provides its registry."""

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        return nn.Dense(2)(x.reshape(x.shape[0], -1))


class _TinyDropout(nn.Module):
    """Small MLP with dropout, to check that dropout keys are part of the saved state."""

    hidden: int = 16

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        h = nn.relu(nn.Dense(self.hidden)(x.reshape(x.shape[0], -1)))
        h = nn.Dropout(0.3, deterministic=not train)(h)
        return nn.Dense(2)(h)


@pytest.fixture(scope="module", autouse=True)
def registry() -> Iterator[None]:
    """Adds ``tiny_dropout`` (and a fallback ``perceptron``) on top of the real registry."""
    real_get = getattr(models, "get_model", None)
    real_names = getattr(models, "model_names", None)
    local: dict[str, type[nn.Module]] = {"tiny_dropout": _TinyDropout}
    if real_get is None:
        local["perceptron"] = _Perceptron

    def get_model(name: str, **config: Any) -> nn.Module:
        if name in local:
            return local[name](**config)
        if real_get is None:
            raise UnknownNameError("model", name, list(local))
        return real_get(name, **config)

    def model_names() -> list[str]:
        return sorted(set(local) | set(real_names() if real_names else []))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(models, "get_model", get_model, raising=False)
        mp.setattr(models, "model_names", model_names, raising=False)
        yield


@pytest.fixture(scope="module")
def events() -> tuple[ClusterSet, ClusterSet]:
    """Two simulated VTPC2 events of 6000 clusters each (train, test)."""
    from interp.data.simulator import simulate

    data = simulate("VTPC2", 2, seed=11, n_clusters=6000)
    ids = data.events()
    return data.select_events([ids[0]]), data.select_events([ids[1]])


@pytest.fixture(scope="module")
def small(events: tuple[ClusterSet, ClusterSet]) -> tuple[ClusterSet, ClusterSet]:
    """1000 train and 500 validation clusters."""
    tr, te = events
    return tr.subset(slice(0, 1000)), te.subset(slice(0, 500))


def _smoke(**changes: Any) -> TrainConfig:
    base = dict(batch_size=64, max_epochs=3, patience=3, lr_finder_steps=15, eval_batch_size=256)
    base.update(changes)
    return TrainConfig.smoke(**base)


def _metrics(workdir: Path) -> list[dict[str, Any]]:
    lines = (workdir / METRICS_FILE).read_text().splitlines()
    return [{k: v for k, v in json.loads(s).items() if k not in TIMING_KEYS} for s in lines]


def _assert_same_params(a: Any, b: Any) -> None:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _no_temp_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]


# --------------------------------------------------------------------------- config
def test_config_json_round_trip_and_profiles() -> None:
    for name in ("smoke", "quick", "full"):
        cfg = profile(name, seed=3)
        assert TrainConfig.from_json(cfg.to_json()) == cfg
        assert cfg.seed == 3
    with pytest.raises(UnknownNameError):
        profile("huge")
    with pytest.raises(ValueError, match="unknown TrainConfig"):
        TrainConfig.from_dict({"batch_sise": 3})
    with pytest.raises(UnknownNameError):
        TrainConfig(class_weight="inverse")


def test_epoch_batches_deterministic() -> None:
    a = epoch_batches(1000, 64, seed=1, epoch=3)
    np.testing.assert_array_equal(a, epoch_batches(1000, 64, seed=1, epoch=3))
    assert a.shape == (15, 64) and len(np.unique(a)) == a.size
    assert not np.array_equal(a, epoch_batches(1000, 64, seed=1, epoch=4))


def test_class_weights_balanced() -> None:
    w = class_weights(np.array([0, 0, 0, 1], np.int8), "balanced")
    np.testing.assert_allclose(w, [4 / 6, 2.0])
    with pytest.raises(ClusterDataError):
        class_weights(np.zeros(5, np.int8), "balanced")


# --------------------------------------------------------------------------- (a) determinism
def test_same_seed_identical(small: tuple[ClusterSet, ClusterSet], tmp_path: Path) -> None:
    tr, va = small
    cfg = _smoke()  # learning_rate None: the LR finder is part of the determinism check
    a = train_flax("tiny_dropout", tr, va, tmp_path / "a", cfg, progress=False)
    b = train_flax("tiny_dropout", tr, va, tmp_path / "b", cfg, progress=False)
    _assert_same_params(a.params, b.params)
    assert _metrics(tmp_path / "a") == _metrics(tmp_path / "b")
    assert len(_metrics(tmp_path / "a")) == cfg.max_epochs
    train_flax("tiny_dropout", tr, va, tmp_path / "c", cfg.replace(seed=1), progress=False)
    assert _metrics(tmp_path / "c") != _metrics(tmp_path / "a")


# --------------------------------------------------------------------------- (b) resume
class _KilledError(Exception):
    pass


def test_resume_equals_uninterrupted(small: tuple[ClusterSet, ClusterSet], tmp_path: Path) -> None:
    tr, va = small
    cfg = _smoke(max_epochs=4, patience=4)
    full = train_flax("tiny_dropout", tr, va, tmp_path / "full", cfg, progress=False)

    def kill_after_2(epoch: int, _metrics: dict[str, Any]) -> None:
        if epoch == 2:
            raise _KilledError

    with pytest.raises(_KilledError):
        train_flax(
            "tiny_dropout", tr, va, tmp_path / "cut", cfg, progress=False, callbacks=[kill_after_2]
        )
    assert len(_metrics(tmp_path / "cut")) == 2
    seen: list[int] = []
    resumed = train_flax(
        "tiny_dropout",
        tr,
        va,
        tmp_path / "cut",
        cfg,
        progress=False,
        callbacks=[lambda e, m: seen.append(e)],
    )
    assert seen == [3, 4]  # only the missing epochs ran
    _assert_same_params(full.params, resumed.params)
    assert _metrics(tmp_path / "full") == _metrics(tmp_path / "cut")

    # resuming a finished run only reloads; a changed config is refused
    again = train_flax("tiny_dropout", tr, va, tmp_path / "cut", cfg, progress=False)
    _assert_same_params(full.params, again.params)
    with pytest.raises(ValueError, match="weight_decay"):
        train_flax(
            "tiny_dropout", tr, va, tmp_path / "cut", cfg.replace(weight_decay=0.1), progress=False
        )


# --------------------------------------------------------------------------- (c) baseline
def test_perceptron_matches_logistic_regression(tmp_path: Path) -> None:
    """Same preprocessed data, same class weights: the perceptron reaches the LR baseline.

    Train on one simulated VTPC2 event (15,000 clusters), test on another (6,000). With this
    many clusters scikit-learn's default L2 penalty (C=1) and the nearly unregularised
    perceptron (tiny weight decay) reach the same test accuracy; with ~6,000 training
    clusters C=1 generalised ~0.5 points better than both the perceptron and C=1e4.
    """
    from sklearn.linear_model import LogisticRegression

    from interp.data.simulator import simulate

    tr = simulate("VTPC2", 1, seed=11, n_clusters=15_000)
    te = simulate("VTPC2", 1, seed=11, first_event=1, n_clusters=6_000)
    cfg = TrainConfig(
        batch_size=256,
        max_epochs=20,
        patience=20,
        weight_decay=1e-5,
        class_weight="balanced",
        preprocessing="max",
        eval_batch_size=4096,
        lr_finder_steps=60,
    )
    # validation = the training event: the best epoch is the one that best fits the
    # (weighted) training objective, as logistic regression does; the test event is unseen
    clf = train_flax("perceptron", tr, tr, tmp_path / "p", cfg, progress=False)
    acc_nn = float(np.mean((clf.predict_proba(te.charge) > 0.5) == te.label))

    pre = clf.preprocessor
    x_tr, x_te = pre(tr.charge).reshape(len(tr), -1), pre(te.charge).reshape(len(te), -1)
    acc_lr = {
        c: LogisticRegression(class_weight="balanced", C=c, max_iter=5000)
        .fit(x_tr, tr.label)
        .score(x_te, te.label)
        for c in (1.0, 1e4)
    }
    print(f"perceptron {acc_nn:.4f} logistic regression {acc_lr} (lr {clf.info['learning_rate']})")
    assert abs(acc_nn - acc_lr[1.0]) <= 0.005, (acc_nn, acc_lr)
    assert abs(acc_nn - acc_lr[1e4]) <= 0.005, (acc_nn, acc_lr)


# --------------------------------------------------------------------------- (d) windows
def test_window_mismatch_raises(
    small: tuple[ClusterSet, ClusterSet], make_clusters: Any, tmp_path: Path
) -> None:
    tr, va = small
    clf = train_flax("perceptron", tr, va, tmp_path, _smoke(max_epochs=1), progress=False)
    assert isinstance(clf, Classifier) and clf.window == (11, 20)
    other = make_clusters(50, window=(9, 16))
    for model in (clf, load_classifier(tmp_path)):
        with pytest.raises(ShapeMismatchError, match=r"\(11, 20\).*\(50, 9, 16\)"):
            model.predict_proba(other.charge)
    with pytest.raises(ShapeMismatchError, match="differ"):
        train_flax("perceptron", tr, other, tmp_path / "x", _smoke(), progress=False)


# --------------------------------------------------------------------------- (e) errors
def test_empty_split_and_unknown_model(
    small: tuple[ClusterSet, ClusterSet], tmp_path: Path
) -> None:
    tr, va = small
    with pytest.raises(ClusterDataError, match="val split is empty"):
        train_flax("perceptron", tr, va.subset(slice(0, 0)), tmp_path, _smoke(), progress=False)
    with pytest.raises(ClusterDataError, match="train split is empty"):
        train_flax("perceptron", tr.subset(slice(0, 0)), va, tmp_path, _smoke(), progress=False)
    with pytest.raises(UnknownNameError, match="no_such_model"):
        train_flax("no_such_model", tr, va, tmp_path, _smoke(), progress=False)
    from interp.backends.classifier import get_trainer

    with pytest.raises(UnknownNameError, match="no_such_model"):
        get_trainer("no_such_model")
    assert get_trainer("perceptron").func is train_flax


# --------------------------------------------------------------------------- (f) LR finder
def test_lr_finder_in_range(small: tuple[ClusterSet, ClusterSet]) -> None:
    tr, _ = small
    module = models.get_model("perceptron")
    x = jnp.asarray(tr.charge / np.maximum(tr.charge.max(axis=(1, 2)), 1e-6)[:, None, None])
    y = jnp.asarray(tr.label.astype(np.int32))
    w = jnp.asarray(class_weights(tr.label, "balanced")[tr.label])
    params = module.init(jax.random.key(0), x[:1])["params"]
    cfg = _smoke(lr_finder_steps=40, lr_finder_min=1e-4, lr_finder_max=10.0)
    res = run_lr_finder(module, params, x, y, w, cfg, jax.random.key_data(jax.random.key(1)))
    assert np.isfinite(res.lr) and cfg.lr_finder_min <= res.lr <= cfg.lr_finder_max
    assert 2 <= len(res.losses) <= 40 and res.lrs[0] == pytest.approx(1e-4)
    # the rule itself: min of a parabola in log LR at 1e-2 -> 1e-3
    lrs = np.geomspace(1e-5, 1.0, 51)
    chosen, lr_min, _ = pick_learning_rate(lrs, (np.log10(lrs) + 2) ** 2, 1e-5, 1.0)
    assert lr_min == pytest.approx(1e-2) and chosen == pytest.approx(1e-3)


# --------------------------------------------------------------------------- (g, h) files
def test_checkpoint_round_trip_exact(tmp_path: Path) -> None:
    module = _TinyDropout()
    params = jax.jit(module.init)(jax.random.key(0), jnp.ones((1, 11, 20)))["params"]
    tx = make_optimizer()
    init = jax.jit(tx.init)  # jitted: eager optax ops would each compile separately
    state = TrainState(
        step=jnp.asarray(7, jnp.int32),
        params=params,
        opt_state=init(params),
        rng=jax.random.key_data(jax.random.key(5)),
    )
    grads = jax.tree_util.tree_map(np.ones_like, params)
    _, opt_state = jax.jit(tx.update)(grads, state.opt_state, params)  # non-trivial moments
    state = state.replace(opt_state=opt_state)
    meta = {"epoch": 3, "best_val_loss": 0.123456789012345, "wait": 1}
    save_checkpoint(tmp_path / "ck", state, meta)
    template = TrainState(
        step=jnp.zeros((), jnp.int32),
        params=jax.tree_util.tree_map(np.zeros_like, params),
        opt_state=init(params),
        rng=np.zeros(2, np.uint32),
    )
    restored, meta2 = load_checkpoint(tmp_path / "ck", template)
    _assert_same_params(state, restored)
    assert meta2 == meta
    assert _no_temp_files(tmp_path) == []


def test_classifier_save_load_exact_no_temp_files(
    small: tuple[ClusterSet, ClusterSet], tmp_path: Path
) -> None:
    tr, va = small
    clf = train_flax("perceptron", tr, va, tmp_path / "run", _smoke(max_epochs=2), progress=False)
    clf.save(tmp_path / "copy")
    loaded = load_classifier(tmp_path / "copy")
    assert loaded.kind == "flax" and loaded.name == "perceptron"
    assert loaded.train_chamber == tr.chamber and loaded.window == clf.window
    _assert_same_params(clf.params, loaded.params)
    p = clf.predict_proba(va.charge, batch_size=128)
    assert p.dtype == np.float32 and p.shape == (len(va),)
    np.testing.assert_array_equal(p, loaded.predict_proba(va.charge, batch_size=128))
    meta = json.loads((tmp_path / "copy" / "classifier.json").read_text())
    for key in ("kind", "name", "model_config", "preprocessor", "window", "train_chamber"):
        assert key in meta
    assert meta["train_config"]["preprocessing"] == "max"
    assert _no_temp_files(tmp_path) == []
    assert (tmp_path / "run" / "checkpoints" / "best" / "state.msgpack").is_file()


def test_get_trainer_resolves_flax_models(
    small: tuple[ClusterSet, ClusterSet], tmp_path: Path
) -> None:
    from interp.backends.classifier import get_trainer

    trainer = get_trainer("perceptron")
    clf = trainer(small[0], small[1], tmp_path, config=_smoke(max_epochs=1), progress=False)
    assert clf.kind == "flax" and clf.name == "perceptron"
    assert json.loads((tmp_path / "classifier.json").read_text())["kind"] == "flax"
    with pytest.raises(UnknownNameError):
        get_trainer("no_such_model")


@pytest.fixture
def fast_compile() -> Iterator[None]:
    """Compile with most XLA optimisations off (compile time dominates these tiny runs)."""
    old = bool(jax.config.read("jax_disable_most_optimizations"))
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", old)


@pytest.mark.parametrize("name", ["split_conv", "resnet"])
def test_registered_models_train_and_reload(
    name: str, small: tuple[ClusterSet, ClusterSet], tmp_path: Path, fast_compile: None
) -> None:
    if name not in models.model_names():
        pytest.skip(f"model '{name}' not in the models registry yet")
    tr, va = small[0].subset(slice(0, 256)), small[1].subset(slice(0, 128))
    cfg = _smoke(max_epochs=1, learning_rate=1e-3, batch_size=32, eval_batch_size=128)
    clf = train_flax(name, tr, va, tmp_path, cfg, progress=False)
    p = clf.predict_proba(va.charge, batch_size=128)
    assert p.shape == (len(va),) and np.all((p >= 0) & (p <= 1))
    np.testing.assert_array_equal(p, load_classifier(tmp_path).predict_proba(va.charge, 128))


# --------------------------------------------------------------------------- compiled-step reuse
@pytest.mark.parametrize(("total", "pct"), [(1000, 0.3), (10, 0.7), (7, 0.3), (1, 0.3), (3, 0.1)])
def test_traced_one_cycle_matches_optax(total: int, pct: float) -> None:
    import optax

    from interp.backends.flax.schedule import one_cycle_b1, one_cycle_lr

    ours, ref = one_cycle_lr(1e-3, total, pct), optax.cosine_onecycle_schedule(total, 1e-3, pct)
    counts = jnp.arange(total + 3)
    got, want = np.asarray(jax.vmap(ours)(counts)), np.asarray(jax.vmap(ref)(counts))
    np.testing.assert_allclose(got, want, rtol=2e-6)
    b1 = one_cycle_b1(100, 0.3, 0.95, 0.85)
    assert [round(float(b1(c)), 6) for c in (0, 30, 100, 150)] == [0.95, 0.85, 0.95, 0.95]


def test_one_compiled_step_serves_runs_of_any_lr_and_size(
    small: tuple[ClusterSet, ClusterSet], tmp_path: Path
) -> None:
    """Two runs differing in learning rate and training size share one compiled train step
    (the schedule is a jit argument, the training rows are bucketed), and each still follows
    its own schedule."""
    from interp.backends.flax import step_cache
    from interp.backends.flax.schedule import one_cycle_lr

    tr, va = small
    step_cache.clear()
    runs = {"a": (tr, 1e-2), "b": (tr.subset(slice(0, 700)), 3e-3)}
    out = {}
    for name, (data, lr) in runs.items():
        cfg = _smoke(max_epochs=2, learning_rate=lr)
        out[name] = train_flax("perceptron", data, va, tmp_path / name, cfg, progress=False)
        spe = len(data) // cfg.batch_size
        got = [r["lr"] for r in _metrics(tmp_path / name)]
        want = [float(one_cycle_lr(lr, spe * 2, cfg.pct_start)(e * spe - 1)) for e in (1, 2)]
        assert got == pytest.approx(want, rel=1e-6)
    step = step_cache.train_step(models.get_model("perceptron"))
    assert step._cache_size() == 1  # one trace/compile for both runs
    la, lb = (jax.tree_util.tree_leaves(out[k].params) for k in "ab")
    assert any(not np.array_equal(a, b) for a, b in zip(la, lb, strict=True))


def test_padding_rows_carry_no_weight(small: tuple[ClusterSet, ClusterSet]) -> None:
    """A batch holding zero-weight padding rows gives the update of the batch without them."""
    from interp.backends.flax import step_cache
    from interp.backends.flax.chunking import pad_to
    from interp.backends.flax.schedule import one_cycle_hyper
    from interp.data.preprocess import fit_preprocessor

    tr, _ = small
    n = 200
    assert step_cache.padded_rows(n) == 1 << 15
    assert step_cache.padded_rows(40_000) == 40_960 and step_cache.padded_rows(40_959) == 40_960
    pre = fit_preprocessor("max", tr.charge)
    x = step_cache.padded_inputs(pre, tr.charge[:n], 1 << 15, chunk=64)
    np.testing.assert_array_equal(x[:n], pre(tr.charge[:n]))
    assert not x[n:].any()
    y = pad_to(tr.label[:n].astype(np.int32), len(x))
    w = pad_to(np.ones(n, np.float32), len(x))
    module = models.get_model("mlp")  # no dropout: rows at other batch positions are the same
    params = jax.jit(module.init)(jax.random.key(0), jnp.ones((1, 11, 20)))["params"]
    hyper = one_cycle_hyper(1e-2, 10, 1e-4)
    step = step_cache.train_step(module)

    def run(idx: np.ndarray) -> Any:
        state = TrainState(
            jnp.int32(0),
            jax.tree_util.tree_map(jnp.array, params),
            step_cache.optimizer_init()(params),
            np.zeros(2, np.uint32),
        )
        return step(state, x, y, w, idx.astype(np.int32), hyper)

    real = np.arange(32)
    a, la = run(np.concatenate([real, np.full(32, n)]))  # 32 padding rows in the batch
    b, lb = run(np.concatenate([real, real]))  # the same rows twice: the same weighted mean
    assert float(la) == pytest.approx(float(lb), rel=1e-6)
    pa, pb = jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)
    for u, v in zip(pa, pb, strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-7)

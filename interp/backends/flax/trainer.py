"""Training loop for the Flax models: :func:`train_flax`, resumable and deterministic.

Run directory layout (``workdir``)::

    lr_finder.json           the LR sweep and chosen LR (only when learning_rate is None)
    metrics.jsonl            one JSON line per epoch
    checkpoints/last/        state.msgpack + meta.json after every epoch (meta holds the run:
                             model, model config, train config, data fingerprint)
    checkpoints/best/        same, for the epoch with the lowest validation loss
    classifier.json          the final classifier (best epoch), see FlaxClassifier
    params.safetensors

Objective: the model spec's (:data:`models.contract.OBJECTIVES`). ``"classify"``: class-weighted
cross-entropy. ``"reconstruct"`` (the autoencoder): the reconstruction error on the training
clusters of the spec's ``train_classes`` only, early stopping on that error over the same
classes of the validation split, and afterwards the score head fitted on the validation split
(:mod:`interp.backends.flax.objective`); its ``metrics.jsonl`` has no accuracy columns.

Determinism: initialisation, dropout (folded from the step number), epoch order (from
(seed, epoch)) and the LR sweep are pure functions of the seed, so two runs with the same
inputs give bitwise-identical parameters and metrics (timings aside), and a run resumed from
``checkpoints/last`` continues exactly as if it had never stopped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from interp.backends.flax import step_cache
from interp.backends.flax.batching import LR_FINDER_STREAM, epoch_batches, steps_per_epoch
from interp.backends.flax.checkpoint import (
    STATE_FILE,
    read_checkpoint,
    restore_into,
    save_checkpoint,
)
from interp.backends.flax.chunking import bucket_size, chunks, pad_to
from interp.backends.flax.classifier import (
    FlaxClassifier,
    build_module,
    load_flax_classifier,
    resolved_model_config,
)
from interp.backends.flax.compile_cache import enable_compilation_cache
from interp.backends.flax.config import TrainConfig
from interp.backends.flax.objective import (
    fit_score_head,
    objective_weights,
    training_clusters,
)
from interp.backends.flax.schedule import (
    LRFinderResult,
    constant_hyper,
    find_learning_rate,
    hyper_at,
    one_cycle_hyper,
)
from interp.backends.flax.steps import TrainState
from interp.core.errors import ClusterDataError, ShapeMismatchError
from interp.core.fsutil import append_line, atomic_write_text, read_jsonl
from interp.core.schema import ClusterSet
from interp.data.preprocess import fit_preprocessor

METRICS_FILE = "metrics.jsonl"
LR_FINDER_FILE = "lr_finder.json"
CHECKPOINT_DIR = "checkpoints"

EpochCallback = Callable[[int, dict[str, Any]], None]
"""``callback(epoch, metrics)``, called after an epoch's checkpoint is on disk."""

__all__ = ["FlaxClassifier", "TrainConfig", "load_flax_classifier", "train_flax"]


# --------------------------------------------------------------------------- data helpers
def _check_splits(train: ClusterSet, val: ClusterSet) -> None:
    for split, data in (("train", train), ("val", val)):
        if data is None or len(data) == 0:
            raise ClusterDataError(f"<{split} split>", "charge", f"the {split} split is empty")
    if train.window_shape != val.window_shape:
        raise ShapeMismatchError(
            f"train windows {train.window_shape} and val windows {val.window_shape} "
            "(pads, time bins) differ"
        )


def class_weights(labels: np.ndarray, mode: str) -> np.ndarray:
    """Per-class loss weights from train label counts.

    Args:
        labels: int [N] train labels (0 noise, 1 signal).
        mode: ``"balanced"`` (``N / (2 * count_c)``, as scikit-learn) or ``"none"`` (ones).

    Returns:
        float32 [2].

    Raises:
        ClusterDataError: If ``balanced`` and a class is absent from the train split.
    """
    if mode == "none":
        return np.ones(2, np.float32)
    counts = np.bincount(np.asarray(labels, np.int64), minlength=2)[:2]
    if (counts == 0).any():
        raise ClusterDataError(
            "<train split>", "label", f"balanced class weights need both classes; counts {counts}"
        )
    return (counts.sum() / (2.0 * counts)).astype(np.float32)


def _fingerprint(*sets: ClusterSet) -> str:
    h = hashlib.blake2b(digest_size=16)
    for s in sets:
        h.update(np.ascontiguousarray(s.charge).tobytes())
        h.update(np.ascontiguousarray(s.label).tobytes())
        h.update(s.chamber.encode())
    return h.hexdigest()


def _subsample(train: ClusterSet, config: TrainConfig) -> ClusterSet:
    cap = config.max_train_clusters
    if cap is None or len(train) <= cap:
        return train
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 7919]))
    return train.subset(np.sort(rng.choice(len(train), size=cap, replace=False)))


def _model_spec(name: str, module: Any) -> Any:
    """The spec of ``name`` (:func:`models.model_spec`), else the one in ``module``'s file
    (:func:`models.spec_of`: a module built by a caller's own ``get_model``)."""
    import models

    return models.model_spec(name) if models.is_model(name) else models.spec_of(module)


def _host(tree: Any) -> Any:
    """Numpy copy of (possibly multi-process replicated) arrays."""
    from interp.backends.flax.mesh import to_host

    return to_host(tree)


# --------------------------------------------------------------------------- evaluation
def evaluate(
    eval_step: Callable[..., dict[str, jax.Array]],
    params: Any,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    batch_size: int,
    dp: Any = None,
) -> dict[str, float]:
    """Weighted loss and accuracies over a preprocessed split.

    Args:
        eval_step: From :func:`interp.backends.flax.steps.make_eval_step`.
        params: Model parameters.
        x: float32 [N, P, T] preprocessed windows.
        y: int32 [N] labels.
        weights: float32 [2] class weights (the validation loss uses the train weights).
        batch_size: Padded batch size.
        dp: Optional :class:`~interp.backends.flax.mesh.DataParallel`: batches are split over
            its devices (padded to a multiple of them), ``params`` must be replicated.

    Returns:
        ``loss`` (weighted mean loss of the eval step's objective: cross-entropy in nats, or
        the reconstruction error), ``accuracy``, ``balanced_accuracy``.
    """
    n = len(x)
    size = bucket_size(n, batch_size)
    if dp is not None:
        size = dp.round_up(size)
    place = dp.shard if dp is not None else (lambda a: a)
    totals: dict[str, float] = {}
    for start, stop in chunks(n, size):
        yb = y[start:stop]
        valid = pad_to(np.ones(stop - start, np.float32), size)
        sums = eval_step(
            params,
            place(pad_to(x[start:stop], size)),
            place(pad_to(yb, size)),
            place(pad_to(weights[yb], size)),
            place(valid),
        )
        host = jax.device_get(sums) if dp is None else _host(dp.sync(sums))
        for k, v in host.items():
            totals[k] = totals.get(k, 0.0) + float(v)
    recalls = [
        totals[f"correct_{c}"] / totals[f"count_{c}"]
        for c in ("noise", "signal")
        if totals[f"count_{c}"] > 0
    ]
    return {
        "loss": totals["loss"] / max(totals["weight"], 1e-12),
        "accuracy": totals["correct"] / max(totals["count"], 1.0),
        "balanced_accuracy": float(np.mean(recalls)),
    }


# --------------------------------------------------------------------------- LR finder
def run_lr_finder(
    module: Any,
    params: Any,
    x: jax.Array,
    y: jax.Array,
    w: jax.Array,
    config: TrainConfig,
    rng: jax.Array,
    progress: bool = False,
    dp: Any = None,
    objective: str = "classify",
    n: int | None = None,
) -> LRFinderResult:
    """LR range test from ``params`` (not modified) on the training arrays.

    Args:
        module: Linen model.
        params: Initial parameters (copied; the caller's tree stays valid).
        x: float32 [N, P, T] preprocessed train windows (on device).
        y: int32 [N] labels.
        w: float32 [N] per-sample class weights.
        config: Uses batch_size, weight_decay, seed and ``lr_finder_*``.
        rng: PRNG key data uint32 [2] for dropout.
        progress: Show a tqdm bar.
        dp: Optional :class:`~interp.backends.flax.mesh.DataParallel`; the sweep state is then
            replicated and each index batch split over its devices.
        objective: The loss swept (:func:`interp.backends.flax.steps.loss_sums_fn`).
        n: Training clusters (the first ``n`` rows of ``x``; the rest is zero-weight padding,
            :func:`interp.backends.flax.step_cache.padded_rows`). ``None``: all rows.

    The sweep runs the run's own compiled training step
    (:func:`interp.backends.flax.step_cache.train_step`) with a constant schedule per step
    (:func:`interp.backends.flax.schedule.constant_hyper`).

    Returns:
        The sweep and the chosen LR.
    """
    n = int(x.shape[0]) if n is None else int(n)
    # host round trip = fresh buffers without compiling anything (the sweep donates its state)
    if dp is not None:
        params, rng = _host((params, rng))
    params, rng = jax.tree_util.tree_map(lambda a: jnp.asarray(np.array(a)), (params, rng))
    state = TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=step_cache.optimizer_init()(params),
        rng=rng,
    )
    if dp is not None:
        state = dp.replicate(state)
    sweep = step_cache.train_step(module, objective)
    spe = steps_per_epoch(n, config.batch_size)
    cache: dict[int, np.ndarray] = {}
    bar = tqdm(
        total=config.lr_finder_steps,
        desc="LR finder",
        disable=None if progress else True,
        leave=False,
    )

    def step(state: TrainState, lr: float, i: int) -> tuple[TrainState, float]:
        ep = i // spe
        if ep not in cache:
            cache.clear()
            cache[ep] = epoch_batches(n, config.batch_size, config.seed, ep, LR_FINDER_STREAM)
        idx = cache[ep][i % spe]
        hyper = constant_hyper(lr, config.weight_decay)
        if dp is None:
            state, loss = sweep(state, x, y, w, idx, hyper)
            bar.update(1)
            return state, float(loss)
        state, loss = dp.sync(sweep(state, x, y, w, dp.shard(idx), dp.replicate(hyper)))
        bar.update(1)
        return state, float(_host(loss))

    try:
        return find_learning_rate(
            step,
            state,
            min_lr=config.lr_finder_min,
            max_lr=config.lr_finder_max,
            num_steps=config.lr_finder_steps,
        )
    finally:
        bar.close()


# --------------------------------------------------------------------------- resume helpers
def _read_metrics(path: Path) -> list[dict[str, Any]]:
    """Epoch records of ``metrics.jsonl``; a broken line (a killed writer's half line) is
    dropped with a message."""
    rows, bad = read_jsonl(path)
    keep = [r for r in rows if isinstance(r, dict) and isinstance(r.get("epoch"), int)]
    if bad or len(keep) != len(rows):
        tqdm.write(
            f"{path}: dropped {bad + len(rows) - len(keep)} broken line(s) "
            "(an interrupted write); resuming from the last checkpoint"
        )
    return keep


def _truncate_metrics(path: Path, last_epoch: int) -> None:
    keep = [r for r in _read_metrics(path) if r["epoch"] <= last_epoch]
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))


def _append_metrics(path: Path, record: dict[str, Any]) -> None:
    append_line(path, json.dumps(record, sort_keys=True))


def _check_resume(run: dict[str, Any], meta: dict[str, Any], ckpt: Path) -> None:
    old = meta.get("run", {})
    if old != run:
        diff = sorted(k for k in set(run) | set(old) if run.get(k) != old.get(k))
        detail = []
        if "train_config" in diff:
            a, b = old.get("train_config", {}), run["train_config"]
            detail = [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in b if a.get(k) != b.get(k)]
        raise ValueError(
            f"cannot resume from {ckpt}: the run differs in {diff} {detail}; use a new workdir "
            "or delete its checkpoints/ folder"
        )


def _given_params(params0: Any, given: Any) -> Any:
    """``given`` as device arrays after checking it has ``params0``'s structure and shapes."""
    want = jax.tree_util.tree_structure(params0)
    if jax.tree_util.tree_structure(given) != want:
        raise ShapeMismatchError(
            f"init_params: tree {jax.tree_util.tree_structure(given)} is not the module's {want}"
        )
    for a, b in zip(
        jax.tree_util.tree_leaves(params0), jax.tree_util.tree_leaves(given), strict=True
    ):
        if tuple(a.shape) != tuple(np.shape(b)):
            raise ShapeMismatchError(
                f"init_params: a leaf of shape {np.shape(b)} where the module has {tuple(a.shape)}"
            )
    return jax.tree_util.tree_map(lambda a, b: jnp.asarray(b, a.dtype), params0, given)


def _start_fingerprint(init_params: Any, trainable: Any) -> str:
    """Hash of a given start (parameters and frozen mask), so a resume checks it too."""
    h = hashlib.blake2b(digest_size=16)
    for leaf in jax.tree_util.tree_leaves(init_params):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    h.update(repr(jax.tree_util.tree_leaves(trainable)).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- training
@jax.jit
def _hyper_at(hyper: jax.Array, count: jax.Array) -> jax.Array:
    return hyper_at(hyper, count)["learning_rate"]


def _lr_at(hyper: np.ndarray, count: int) -> float:
    """The learning rate a run's schedule gave step ``count`` (one compiled program for all)."""
    return float(_hyper_at(hyper, np.int32(count)))


def train_flax(
    model_name: str,
    train: ClusterSet,
    val: ClusterSet,
    workdir: str | Path,
    config: TrainConfig | None = None,
    model_config: dict[str, Any] | None = None,
    progress: bool = True,
    callbacks: Iterable[EpochCallback] = (),
    devices: int | Sequence[Any] | None = None,
    init_params: Any = None,
    preprocessor: Any = None,
    trainable: Any = None,
) -> FlaxClassifier:
    """Trains (or resumes training of) a registered Flax model.

    Args:
        model_name: Name in ``models.model_names()``.
        train: Training clusters (preprocessing and class weights are fitted on these only).
        val: Validation clusters (early stopping on their weighted loss).
        workdir: Run directory (created); an existing ``checkpoints/last`` is resumed.
        config: Hyperparameters; ``None`` -> :meth:`TrainConfig.quick`.
        model_config: Keyword arguments for ``models.get_model``.
        progress: Show tqdm bars and a line per epoch.
        callbacks: Called as ``cb(epoch, metrics)`` after each epoch's checkpoint is written.
        devices: ``None`` (default): one device, as always. Otherwise data-parallel training
            over a ``("data",)`` mesh (:mod:`interp.backends.flax.mesh`): an int ``k`` uses the
            first ``k`` of ``jax.devices()`` (all processes' devices after
            :func:`~interp.backends.flax.mesh.initialize_distributed`), or pass the devices. Each
            batch is split over the devices (``P("data")``), parameters and optimiser state
            are replicated (``P()``); the batch size must be a multiple of the device count.
            Results equal the single-device run up to float rounding; checkpoints are the
            same files (written by process 0 only), so a run may resume on another count.
        init_params: Start from this parameter tree (e.g. another chamber's classifier, for
            fine-tuning) instead of the seeded initialisation; its structure and shapes must
            be the module's. With every leaf frozen (``trainable``) the run returns them unchanged.
        preprocessor: Use this fitted preprocessing (the one ``init_params`` was trained
            with) instead of fitting one on ``train``.
        trainable: A tree of bools shaped like the parameters: ``False`` leaves are frozen
            (their updates, weight decay included, are zero). ``None``: all trained.

    Returns:
        The classifier with the best-validation-loss parameters (also saved in ``workdir``).

    Raises:
        ClusterDataError: Empty split, or balanced weights with a class missing.
        ShapeMismatchError: Train and val windows differ.
        UnknownNameError: Unknown model name.
        ValueError: Resuming a workdir whose run (config, model, data) differs.
        ParallelConfigError: Bad ``devices`` or a batch size not divisible by them.
    """
    config = config if config is not None else TrainConfig.quick()
    dp = None
    if devices is not None:
        from interp.backends.flax.mesh import DataParallel

        dp = DataParallel(devices)
    primary = dp is None or dp.is_primary
    model_config = dict(model_config or {})
    _check_splits(train, val)
    module = build_module(model_name, model_config)
    model_config = resolved_model_config(module, model_config)  # defaults made explicit
    spec = _model_spec(model_name, module)  # the objective and its training classes
    train = _subsample(train, config)
    pre = (
        preprocessor
        if preprocessor is not None
        else fit_preprocessor(config.preprocessing, train.charge)
    )
    if spec.objective == "classify":
        cw = class_weights(train.label, config.class_weight)
    else:  # an unsupervised objective: its classes only, each cluster weight 1
        train = training_clusters(train, spec.train_classes)
        cw = objective_weights(spec.train_classes)
    enable_compilation_cache()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt_root = workdir / CHECKPOINT_DIR
    ckpt_root.mkdir(exist_ok=True)
    last_dir, best_dir = ckpt_root / "last", ckpt_root / "best"
    metrics_path = workdir / METRICS_FILE

    y_tr = train.label.astype(np.int32)
    place_all = dp.replicate if dp is not None else jax.device_put
    n = len(train)
    rows = step_cache.padded_rows(n)  # zero-weight padding rows: one compiled shape per bucket
    x_host = step_cache.padded_inputs(pre, train.charge, rows)
    x_all = place_all(x_host)
    y_all = place_all(pad_to(y_tr, rows))
    w_all = place_all(pad_to(cw[y_tr], rows))
    x_val, y_val = pre(val.charge), val.label.astype(np.int32)
    batch = min(config.batch_size, n)
    if dp is not None:
        dp.check_batch(batch)
    spe = steps_per_epoch(n, batch)
    total_steps = spe * config.max_epochs

    run = {
        "model": model_name,
        "model_config": model_config,
        "train_config": config.to_dict(),
        "data": _fingerprint(train, val),
        "train_chamber": train.chamber,
    }
    if init_params is not None or trainable is not None:
        run["start"] = _start_fingerprint(init_params, trainable)
    run = json.loads(json.dumps(run))  # the form it takes after a JSON round trip

    k_init, k_drop = jax.random.split(jax.random.key(config.seed))
    params0 = step_cache.init_params(module)(k_init, x_host[:1])
    if init_params is not None:
        params0 = _given_params(params0, init_params)
    rng_data = jax.random.key_data(k_drop)

    resume_meta: dict[str, Any] | None = None
    if (last_dir / STATE_FILE).is_file():
        raw_last, resume_meta = read_checkpoint(last_dir)
        _check_resume(run, resume_meta, last_dir)

    if config.learning_rate is not None:
        lr, lr_source = float(config.learning_rate), "config"
    elif resume_meta is not None:
        lr, lr_source = float(resume_meta["learning_rate"]), "lr_finder"
    else:
        found = run_lr_finder(
            module, params0, x_all, y_all, w_all, config, rng_data, progress, dp=dp,
            objective=spec.objective, n=n,
        )  # fmt: skip
        if primary:
            text = json.dumps(found.to_dict(), indent=1) + "\n"
            atomic_write_text(workdir / LR_FINDER_FILE, text)
        lr, lr_source = found.lr, "lr_finder"

    hyper_host = one_cycle_hyper(
        lr,
        total_steps,
        config.weight_decay,
        config.pct_start,
        config.div_factor,
        config.final_div_factor,
        config.b1_max,
        config.b1_min,
    )
    hyper = place_all(hyper_host)
    state = TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params0,
        opt_state=step_cache.optimizer_init(trainable)(params0),
        rng=rng_data,
    )
    es = {"epoch": 0, "best_val_loss": None, "best_epoch": 0, "wait": 0, "finished": False}
    if resume_meta is not None:
        if dp is None:
            state = jax.device_put(restore_into(state, raw_last))
        else:
            state = dp.replicate(restore_into(_host(state), raw_last))
        es = {k: resume_meta[k] for k in es}
        if primary:
            _truncate_metrics(metrics_path, es["epoch"])
    elif primary:  # fresh start: drop leftovers of a run that died before its first full epoch
        shutil.rmtree(best_dir, ignore_errors=True)
        atomic_write_text(metrics_path, "")
    if dp is not None:
        state = dp.replicate(state)

    train_step = step_cache.train_step(module, spec.objective, trainable)
    eval_step = step_cache.eval_step(module, spec.objective)
    callbacks = list(callbacks)

    epoch = int(es["epoch"])
    while not es["finished"] and epoch < config.max_epochs:
        epoch += 1
        t0 = time.perf_counter()
        losses = []
        bar = tqdm(
            epoch_batches(n, batch, config.seed, epoch),
            desc=f"{model_name} {epoch}/{config.max_epochs}",
            disable=None if progress else True,
            leave=False,
            unit="batch",
        )
        for idx in bar:
            if dp is None:
                state, loss = train_step(state, x_all, y_all, w_all, idx, hyper)
            else:
                state, loss = dp.sync(train_step(state, x_all, y_all, w_all, dp.shard(idx), hyper))
            losses.append(loss)
        host_losses = jax.device_get(losses) if dp is None else _host(losses)
        train_loss = float(np.mean(np.asarray(host_losses, np.float64)))
        t_train = time.perf_counter() - t0
        vm = evaluate(eval_step, state.params, x_val, y_val, cw, config.eval_batch_size, dp=dp)
        best = es["best_val_loss"]
        improved = bool(np.isfinite(vm["loss"])) and (
            best is None or vm["loss"] < best - config.min_delta
        )
        if improved:
            es.update(best_val_loss=vm["loss"], best_epoch=epoch, wait=0)
        else:
            es["wait"] += 1
        es["epoch"] = epoch
        es["finished"] = es["wait"] >= config.patience or epoch >= config.max_epochs
        step_now = int(state.step) if dp is None else int(_host(state.step))
        record = {
            "epoch": epoch,
            "step": step_now,
            "train_loss": train_loss,
            "val_loss": vm["loss"],
            "lr": float(_lr_at(hyper_host, max(step_now - 1, 0))),
            "improved": improved,
            "epoch_time_s": time.perf_counter() - t0,
            "train_time_s": t_train,
            "samples_per_s": spe * batch / max(t_train, 1e-9),
        }
        if spec.objective == "classify":  # a score head fitted after training has no accuracy yet
            record["val_accuracy"] = vm["accuracy"]
            record["val_balanced_accuracy"] = vm["balanced_accuracy"]
        meta = {**es, "run": run, "learning_rate": lr, "lr_source": lr_source}
        if primary:
            _append_metrics(metrics_path, record)
            saved = state if dp is None else _host(state)
            if improved:
                save_checkpoint(best_dir, saved, meta)
            save_checkpoint(last_dir, saved, meta)
        if progress:
            acc = record.get("val_accuracy")
            tqdm.write(
                f"[{model_name}] epoch {epoch}: train {train_loss:.4f} val {vm['loss']:.4f} "
                + (f"acc {acc:.4f} " if acc is not None else "")
                + f"lr {record['lr']:.2e} "
                f"{record['samples_per_s']:.0f} samples/s" + (" *" if improved else "")
            )
        for cb in callbacks:
            cb(epoch, record)

    if dp is not None:
        dp.barrier("tpc-interp-train-done")  # process 0 has written the best checkpoint
        state = _host(state)
    if (best_dir / STATE_FILE).is_file():
        raw_best, _ = read_checkpoint(best_dir)
        best_params = restore_into(state, raw_best).params
    else:  # every validation loss was NaN: keep the last parameters
        best_params = state.params
    head: dict[str, Any] = {}
    if spec.objective == "reconstruct":  # the score head, fitted on validation only
        best_params, fit = fit_score_head(module, best_params, x_val, y_val)
        head = {"score_head": fit}
    clf = FlaxClassifier(
        name=model_name,
        module=module,
        params=jax.device_get(best_params),
        preprocessor=pre,
        train_chamber=train.chamber,
        model_config=model_config,
        train_config=config.to_dict(),
        info={
            "best_epoch": es["best_epoch"],
            "best_val_loss": es["best_val_loss"],
            "epochs_run": es["epoch"],
            "learning_rate": lr,
            "lr_source": lr_source,
            "class_weights": [float(c) for c in cw],
            "n_train": n,
            "n_val": len(val),
            **head,
        },
    )
    if primary:
        clf.save(workdir)
    return clf


# --------------------------------------------------------------------------- backend contract
CONFIG_CLASS = TrainConfig
"""Training config of every Flax model (see :mod:`interp.backends.classifier`)."""


def trainer(name: str) -> Callable[..., FlaxClassifier]:
    """``fn(train, val, workdir, config=None, **kw)`` training Flax model ``name``."""
    return functools.partial(train_flax, name)


def load(directory: str | Path) -> FlaxClassifier:
    """Loads a saved Flax classifier (``kind`` ``"flax"``)."""
    return load_flax_classifier(directory)

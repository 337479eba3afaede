"""Training throughput of a Flax model at full-profile size on the default JAX device.

The full profile trains on ~2.0 M clusters (100 events x 28,764 clusters, 70 % training
split) at batch 256 for up to 40 epochs (``TrainConfig.full()``). This script puts a training
set of that size on the device (one simulated event tiled; speed does not depend on the
values), runs the trainer's own step (``interp.backends.flax.steps.make_train_step``, the
formulation
``formulation="auto"`` picks for the platform) for one epoch at each batch size, or until
``--budget-s`` seconds have passed, and reports samples/s, the epoch time and the time of
``TrainConfig.full().max_epochs`` epochs.

Usage::

    python benchmarks/train_throughput.py [--model resnet] [--clusters 2013480]
        [--batch 256 1024 4096] [--budget-s 60] [--out benchmarks/results/train_gpu.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from interp.backends.flax.config import TrainConfig  # noqa: E402
from interp.backends.flax.formulation import platform_formulation  # noqa: E402
from interp.backends.flax.platform import current_platform  # noqa: E402
from interp.backends.flax.random_params import random_params  # noqa: E402
from interp.backends.flax.schedule import one_cycle_hyper  # noqa: E402
from interp.backends.flax.steps import TrainState, make_optimizer, make_train_step  # noqa: E402
from interp.data.preprocess import fit_preprocessor  # noqa: E402

FULL_TRAIN_CLUSTERS = int(100 * 28_764 * 0.7)
"""Training clusters of the full profile (100 events of 28,764 clusters, 70 % split)."""


def time_training(
    name: str, x: jax.Array, y: jax.Array, batch: int, budget_s: float
) -> dict[str, Any]:
    """One epoch (or ``budget_s`` seconds) of the trainer's step at ``batch``."""
    module = models.get_model(name)
    n = int(x.shape[0])
    steps_epoch = n // batch
    tx = make_optimizer()
    hyper = jnp.asarray(one_cycle_hyper(1e-3, max(steps_epoch, 1), 1e-4))
    params = jax.tree_util.tree_map(jnp.asarray, random_params(module, (11, 20), 0))
    state = TrainState(
        step=jnp.int32(0),
        params=params,
        opt_state=tx.init(params),
        rng=jax.random.key_data(jax.random.key(0)),
    )
    step = make_train_step(module, tx, "auto")
    w = jnp.ones(n, jnp.float32)
    perm = jnp.asarray(np.random.default_rng(0).permutation(n).astype(np.int32))
    t = time.perf_counter()
    state, loss = step(state, x, y, w, perm[:batch], hyper)  # compile
    jax.block_until_ready(loss)
    compile_s = time.perf_counter() - t
    done, t0 = 0, time.perf_counter()
    with tqdm(total=steps_epoch, desc=f"{name} batch {batch}", unit="step") as bar:
        for i in range(steps_epoch):
            state, loss = step(state, x, y, w, perm[i * batch : (i + 1) * batch], hyper)
            done += 1
            if done % 50 == 0:
                jax.block_until_ready(loss)
                bar.update(50)
                if time.perf_counter() - t0 > budget_s:
                    break
        jax.block_until_ready(loss)
    seconds = time.perf_counter() - t0
    rate = done * batch / seconds
    epochs = TrainConfig.full().max_epochs
    return {
        "batch_size": batch,
        "steps_timed": done,
        "full_epoch_timed": done == steps_epoch,
        "seconds_timed": seconds,
        "compile_s": compile_s,
        "samples_per_s": rate,
        "epoch_s": n / rate,
        f"{epochs}_epochs_s": epochs * n / rate,
        "final_loss": float(loss),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet")
    ap.add_argument("--clusters", type=int, default=FULL_TRAIN_CLUSTERS)
    ap.add_argument("--batch", type=int, nargs="*", default=[256, 1024, 4096])
    ap.add_argument("--budget-s", type=float, default=60.0, help="per batch size")
    ap.add_argument("--out", type=Path, default=None, help="JSON record (default: print)")
    args = ap.parse_args()

    from interp.data.simulator import simulate

    ev = simulate("VTPC2", 1, 0)
    reps = -(-args.clusters // len(ev.label))
    pre = fit_preprocessor("max", ev.charge)
    x = jax.device_put(np.tile(pre(ev.charge), (reps, 1, 1))[: args.clusters])
    y = jax.device_put(np.tile(ev.label.astype(np.int32), reps)[: args.clusters])
    dev = jax.devices()[0]
    res: dict[str, Any] = {
        "model": args.model,
        "device": f"{dev.platform}: {dev.device_kind}",
        "formulation": platform_formulation(models.get_model(args.model), current_platform()),
        "jax": jax.__version__,
        "train_clusters": args.clusters,
        "runs": [time_training(args.model, x, y, b, args.budget_s) for b in args.batch],
    }
    text = json.dumps(res, indent=2)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Data-parallel training and inference over 2 fake CPU devices equal the 1-device run.

The sharded runs happen in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` so this test process keeps its single
device. The worker prints one JSON line with everything the assertions need.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from interp.backends.flax.mesh import ParallelConfigError, initialize_distributed

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys
import numpy as np
import jax
jax.config.update("jax_disable_most_optimizations", True)
from jax.sharding import PartitionSpec as P
from interp.backends.flax.mesh import DataParallel, ParallelConfigError, ShardedScorer
from interp.evaluation.predict import predict_files
from interp.data.io import write_clusters
from interp.data.simulator import simulate
from interp.backends.flax.config import TrainConfig
from interp.backends.flax.trainer import train_flax

out = {"devices": len(jax.devices())}
work = sys.argv[1]
data = simulate("VTPC2", 2, seed=11, n_clusters=600)
ids = data.events()
tr, va = data.select_events([ids[0]]), data.select_events([ids[1]])
cfg = TrainConfig.smoke(
    batch_size=64, max_epochs=3, patience=3, lr_finder_steps=10, eval_batch_size=100
)

def metrics(d):
    keep = ("epoch", "step", "train_loss", "val_loss", "val_accuracy", "lr")
    rows = [json.loads(s) for s in open(f"{work}/{d}/metrics.jsonl")]
    return [{k: r[k] for k in keep} for r in rows]

def leaves(clf):
    return [np.asarray(a).ravel().tolist() for a in jax.tree_util.tree_leaves(clf.params)]

# the LR finder runs too (learning_rate None), sharded like the epochs
one = train_flax("perceptron", tr, va, f"{work}/one", cfg, progress=False)
two = train_flax("perceptron", tr, va, f"{work}/two", cfg, progress=False, devices=2)
out["metrics_one"], out["metrics_two"] = metrics("one"), metrics("two")
out["params_one"], out["params_two"] = leaves(one), leaves(two)

dp = DataParallel(2)
x = dp.shard(np.zeros((8, 3), np.float32))
out["batch_shards"] = [list(s.data.shape) for s in x.addressable_shards]
out["batch_spec"] = list(x.sharding.spec)
out["replicated_shards"] = [
    list(s.data.shape) for s in dp.replicate(np.zeros((8, 3), np.float32)).addressable_shards
]
try:
    train_flax("perceptron", tr, va, f"{work}/bad", cfg.replace(batch_size=63), devices=2)
except ParallelConfigError as exc:
    out["bad_batch"] = str(exc)

# killed after epoch 1 on 2 devices, resumed on 1 device: same checkpoints, same result
class Stop(Exception):
    pass

def stop(epoch, _):
    if epoch == 1:
        raise Stop

try:
    train_flax("perceptron", tr, va, f"{work}/cut", cfg, progress=False, devices=2,
               callbacks=[stop])
except Stop:
    pass
train_flax("perceptron", tr, va, f"{work}/cut", cfg, progress=False)
out["metrics_cut"] = metrics("cut")

scorer = ShardedScorer(one, devices=2, batch_size=100)
out["proba_one"] = one.predict_proba(va.charge).tolist()
out["proba_two"] = scorer.predict_proba(va.charge).tolist()
src = write_clusters(va, f"{work}/va.parquet")
import pyarrow.parquet as pq
for name, dev in (("pred_one", None), ("pred_two", 2)):
    predict_files(f"{work}/one", [src], f"{work}/{name}.parquet", 250, False, devices=dev)
    out[name] = pq.read_table(f"{work}/{name}.parquet")["p_signal"].to_numpy().tolist()
print("RESULT " + json.dumps(out))
"""


MULTI_PROCESS = r"""
import json, sys
from interp.backends.flax.mesh import initialize_distributed
initialize_distributed(sys.argv[1], 2, int(sys.argv[2]))
import jax
jax.config.update("jax_disable_most_optimizations", True)
from interp.data.simulator import simulate
from interp.backends.flax.config import TrainConfig
from interp.backends.flax.trainer import train_flax
data = simulate("VTPC2", 2, seed=11, n_clusters=600)
ids = data.events()
cfg = TrainConfig.smoke(
    batch_size=64, max_epochs=3, patience=3, lr_finder_steps=10, eval_batch_size=100
)
train_flax("perceptron", data.select_events([ids[0]]), data.select_events([ids[1]]),
           sys.argv[3], cfg, progress=False, devices=jax.device_count())
print("RESULT " + json.dumps({"devices": jax.device_count(), "local": jax.local_device_count()}))
jax.distributed.shutdown()
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("sharding")
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    res = subprocess.run(
        [sys.executable, "-c", WORKER, str(work)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    line = next(s for s in res.stdout.splitlines() if s.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _close_metrics(a: list[dict], b: list[dict], tol: float = 1e-5) -> None:
    assert len(a) == len(b) > 0
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for k in ra:
            assert ra[k] == pytest.approx(rb[k], rel=tol, abs=tol), (k, ra, rb)


def test_two_devices_present_and_batches_split(result: dict) -> None:
    assert result["devices"] == 2
    assert result["batch_spec"] == ["data"]
    assert result["batch_shards"] == [[4, 3], [4, 3]]
    assert result["replicated_shards"] == [[8, 3], [8, 3]]


def test_data_parallel_training_matches_single_device(result: dict) -> None:
    _close_metrics(result["metrics_one"], result["metrics_two"])
    for a, b in zip(result["params_one"], result["params_two"], strict=True):
        assert a == pytest.approx(b, abs=1e-5)


def test_batch_must_divide_devices(result: dict) -> None:
    assert "not a multiple of the 2 devices" in result["bad_batch"]


def test_resume_on_other_device_count(result: dict) -> None:
    _close_metrics(result["metrics_one"], result["metrics_cut"])


def test_sharded_inference_matches(result: dict) -> None:
    assert result["proba_one"] == pytest.approx(result["proba_two"], abs=1e-6)
    assert result["pred_one"] == pytest.approx(result["pred_two"], abs=1e-6)
    assert len(result["pred_one"]) == 600


def test_initialize_distributed_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TPC_INTERP_COORDINATOR", "TPC_INTERP_NUM_PROCESSES", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    assert initialize_distributed() is False
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert initialize_distributed() is False  # one SLURM task: nothing to start


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"TPC_INTERP_COORDINATOR": "localhost:1234"}, "number of processes"),
        ({"TPC_INTERP_NUM_PROCESSES": "two"}, "not an integer"),
        (
            {
                "TPC_INTERP_COORDINATOR": "h:1",
                "TPC_INTERP_NUM_PROCESSES": "2",
                "TPC_INTERP_PROCESS_ID": "2",
            },
            "not in 0..1",
        ),
    ],
)
def test_initialize_distributed_bad_config(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], match: str
) -> None:
    for name in ("TPC_INTERP_COORDINATOR", "TPC_INTERP_NUM_PROCESSES", "TPC_INTERP_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ParallelConfigError, match=match):
        initialize_distributed()


def test_two_processes_match_single_device(result: dict, tmp_path: Path) -> None:
    """Two processes with one CPU device each, joined by jax.distributed (gloo)."""
    coordinator = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MULTI_PROCESS, coordinator, str(rank), str(tmp_path / "run")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outs = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise
        assert proc.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.split("RESULT ", 1)[1]))
    assert outs == [{"devices": 2, "local": 1}] * 2
    keep = ("epoch", "step", "train_loss", "val_loss", "val_accuracy", "lr")
    rows = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    _close_metrics(result["metrics_one"], [{k: r[k] for k in keep} for r in rows])
    assert (tmp_path / "run" / "classifier.json").is_file()  # written once, by process 0

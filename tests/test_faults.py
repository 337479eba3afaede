"""Faults: kill -9 during training/predict/simulate, disk full, unwritable output.

Each victim runs in its own process and is killed with SIGKILL at a point it announces (or
when its temporary file appears), so no Python clean-up code runs: only the atomic-rename
design keeps the final name clean, and only the per-epoch checkpoints make resume exact.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CLI_CODE
from forkserver import ForkServer

from interp.data.io import write_clusters

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import interp.cli; interp.cli.app()"]
TIMING = ("epoch_time_s", "train_time_s", "samples_per_s")

TRAIN = r"""
import sys
import time
import jax
jax.config.update("jax_disable_most_optimizations", True)
from interp.data.simulator import simulate
from interp.backends.flax.config import TrainConfig
from interp.backends.flax.trainer import train_flax

data = simulate("VTPC2", 2, seed=11, n_clusters=1500)
ids = data.events()
cfg = TrainConfig.smoke(batch_size=32, max_epochs=4, patience=4, lr_finder_steps=10,
                        eval_batch_size=256)

def announce(epoch, _):
    print(f"EPOCH {epoch}", flush=True)
    if epoch == 2:  # hold still so the kill lands here, however fast the epochs are
        time.sleep(3)

train_flax("perceptron", data.select_events([ids[0]]), data.select_events([ids[1]]),
           sys.argv[1], cfg, progress=False, callbacks=[announce])
print("DONE", flush=True)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "JAX_PLATFORMS": "cpu"}


def _spawn(args: list[str]) -> subprocess.Popen:
    """A child process from the repository root on CPU JAX, output captured as text."""
    pipe = subprocess.PIPE
    return subprocess.Popen(args, env=_env(), cwd=ROOT, stdout=pipe, stderr=pipe, text=True)


def _metrics(workdir: Path) -> list[dict]:
    rows = [json.loads(s) for s in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def _kill_when(proc: subprocess.Popen, ready: callable, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"victim ended early: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("victim never reached the kill point")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_kill9_during_training_then_resume(tmp_path: Path, cli_server: ForkServer) -> None:
    full, cut = tmp_path / "full", tmp_path / "cut"
    args = [sys.executable, "-c", TRAIN]
    reference = _spawn([*args, str(full)])  # runs alongside
    victim = _spawn([*args, str(cut)])
    lines: list[str] = []

    def after_epoch_2() -> bool:
        line = victim.stdout.readline()
        lines.append(line)
        return line.startswith("EPOCH 2")

    _kill_when(victim, after_epoch_2)  # killed somewhere in epoch 3 (or its checkpoint)
    assert 2 <= len(_metrics(cut)) < 4
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err[-2000:]
    resumed = cli_server.run(TRAIN, [str(cut)], timeout=300)  # a fresh (forked) process
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = _metrics(full), _metrics(cut)
    assert len(a) == len(b) == 4
    for ra, rb in zip(a, b, strict=True):
        for k in ra:
            assert ra[k] == pytest.approx(rb[k], rel=1e-6, abs=1e-7), k
    assert (
        json.loads((full / "classifier.json").read_text())["best_epoch"]
        == json.loads((cut / "classifier.json").read_text())["best_epoch"]
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from interp.backends.xgboost.classifier import XGBConfig, train_xgboost
    from interp.data.simulator import simulate

    data = simulate("VTPC2", 2, seed=2, n_clusters=400)
    ids = data.events()
    workdir = tmp_path_factory.mktemp("model")
    train_xgboost(
        data.select_events([ids[0]]), data.select_events([ids[1]]), workdir, XGBConfig.smoke()
    )
    return workdir


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from interp.core.schema import ClusterSet

    rng = np.random.default_rng(0)
    n = 12_000
    charge = np.where(rng.random((n, 11, 20)) < 0.7, 0, rng.integers(1, 200, (n, 11, 20)))
    cs = ClusterSet(
        charge.astype(np.float32),
        rng.integers(0, 2, n).astype(np.int8),
        np.repeat(np.arange(12), n // 12).astype(np.int64),
        "VTPC2",
    )
    return write_clusters(cs, tmp_path_factory.mktemp("big") / "run.h5")


def _temp_files(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.suffix == ".tmp"]


def test_kill9_during_predict_leaves_no_output(
    tmp_path: Path, model: Path, big_input: Path
) -> None:
    from interp.evaluation.predict import predict_files

    out = tmp_path / "scores.root"
    victim = _spawn(
        [
            *CLI,
            "predict",
            str(model),
            str(big_input),
            "--out",
            str(out),
            "--chunk-size",
            "50",
            "-q",
        ]
    )
    _kill_when(victim, lambda: bool(_temp_files(tmp_path, out.name)))
    assert not out.exists()
    # a clean re-run completes (in-process: the CLI path is the same function)
    predict_files(model, [big_input], out, progress=False)
    assert out.is_file()


def test_kill9_during_simulate_leaves_no_output(tmp_path: Path) -> None:
    out = tmp_path / "sim.h5"
    victim = _spawn(
        [
            *CLI,
            "simulate",
            "--events",
            "200",
            "--clusters-per-event",
            "2000",
            "--out",
            str(out),
            "-q",
        ]
    )
    _kill_when(victim, lambda: bool(_temp_files(tmp_path, out.name)))
    assert not out.exists()
    assert not any(p.name.startswith("sim.h5") for p in tmp_path.iterdir())


def test_disk_full_during_predict_gives_clear_error(
    tmp_path: Path, model: Path, big_input: Path, cli_server: ForkServer
) -> None:
    """A real write failure: the child's file-size limit makes every write past 8 KiB fail."""
    out = tmp_path / "out.parquet"
    args = ["predict", str(model), str(big_input), "--out", str(out), "-q", "--chunk-size", "1000"]
    res = cli_server.run(CLI_CODE, args, timeout=300, fsize_limit=8 * 1024)
    assert res.returncode == 2, res.stdout + res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert "error:" in res.stderr and str(out) in res.stderr
    assert "File too large" in res.stderr, res.stderr
    assert list(tmp_path.iterdir()) == []


def test_disk_full_during_simulate_gives_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from interp.cli.data import simulate_to_file
    from interp.data.io import ClusterWriteError, hdf5

    def full(self: object, columns: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(hdf5._Hdf5Sink, "append", full)
    out = tmp_path / "sim.h5"
    with pytest.raises(ClusterWriteError, match="No space left on device") as info:
        simulate_to_file("VTPC2", 3, 1, out, clusters_per_event=500, progress=False)
    assert str(out) in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["missing", "parent_is_file", "read_only"])
def test_unwritable_output_gives_clear_error(
    tmp_path: Path, model: Path, big_input: Path, where: str
) -> None:
    from interp.data.io import ClusterWriteError
    from interp.evaluation.predict import predict_files

    folder = tmp_path / "out"
    if where == "parent_is_file":
        folder.write_text("a file")
    elif where == "read_only":
        if os.geteuid() == 0:
            pytest.skip("root ignores directory permissions")
        folder.mkdir()
        folder.chmod(0o500)
    try:
        with pytest.raises(ClusterWriteError) as info:
            predict_files(model, [big_input], folder / "s.parquet", progress=False)
        assert str(folder / "s.parquet") in str(info.value)
        assert isinstance(info.value, OSError)
    finally:
        if where == "read_only":
            folder.chmod(0o700)

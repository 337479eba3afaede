"""Resume from any kill point: a training run killed right after each of its writes.

``TPC_INTERP_ABORT_AFTER_WRITES=k`` makes the process ``os._exit`` right after its k-th
completed write (:func:`interp.core.fsutil.count_write`: every atomic file and every log line), so
no clean-up code runs, as with ``kill -9``. For every k of a small perceptron run (cached
data, splits, run record, metrics lines, best/last checkpoints, the classifier, the
pipeline's run record; the data writes once, in the XGBoost case) and of an XGBoost run
(cached data included), the killed work directory is run again and must
finish with exactly the numbers of an uninterrupted run, leaving no temporary file.

The uninterrupted reference runs in a fresh interpreter; the killed and resumed runs are forked
children of preloaded processes (:mod:`forkserver`: one JAX start-up per worker, not per run).
Each child is still its own process killed by ``os._exit``, and the resumed run is a fresh
child that shares nothing with the killed one; their numbers must equal the fresh reference's.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from forkserver import ForkServer

from interp.core.fsutil import ABORT_ENV, ABORT_EXIT_CODE, TEMP_NAME, WRITE_LOG_ENV

ROOT = Path(__file__).resolve().parents[1]
TIMING = ("epoch_time_s", "train_time_s", "samples_per_s")

VICTIM = r"""
import json, sys
import jax
jax.config.update("jax_disable_most_optimizations", True)
from interp.core.fsutil import file_digest
from interp.study.config import MatrixConfig
from interp.study.scoring import evaluate_one
from interp.study.inputs import load_chamber_data
from interp.study.training import train_cell

model, workdir = sys.argv[1], sys.argv[2]
over = {"n_estimators": 5} if model == "xgboost" else {
    "max_epochs": 2, "learning_rate": 3e-3, "batch_size": 64}
cfg = MatrixConfig.smoke(models=(model,), chambers=("VTPC2",), n_events=3,
                         clusters_per_event=200, n_boot=0, train_overrides={model: over})
d = load_chamber_data("VTPC2", cfg, workdir)
clf, run = train_cell(model, d, cfg, workdir)
ev = evaluate_one(clf, d.parts["val"], d.parts["test"], n_boot=0)
weights = "model.ubj" if model == "xgboost" else "params.safetensors"
print("RESULT " + json.dumps({
    "accuracy": ev["at_0.5"]["metrics"]["accuracy"]["value"],
    "threshold": ev["operating_point"]["threshold"],
    "weights": file_digest(f"{workdir}/runs/{model}/VTPC2/{weights}")["sha256"],
}))
"""


PRELOAD = (
    "jax",
    "flax",
    "optax",
    "xgboost",
    "sklearn.isotonic",
    "models",
    "interp.backends.flax.trainer",
    "interp.evaluation.calibration",
    "interp.study.scoring",
    "interp.study.inputs",
    "interp.study.training",
    "interp.study.matrix",
    "interp.study.experiments",
)
"""What every victim imports: the fork servers import it once (no JAX runtime started)."""


def _env(abort_after: int | None, log: Path | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if abort_after is not None:
        env[ABORT_ENV] = str(abort_after)
    if log is not None:
        env[WRITE_LOG_ENV] = str(log)
    return env


def _base_env() -> dict[str, str]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    for name in (ABORT_ENV, WRITE_LOG_ENV):
        env.pop(name, None)
    return env


def _victim(code: str, argv: list[str], env: dict[str, str], server: ForkServer | None):
    """Runs a victim program: in a fresh interpreter, or forked from a preloaded ``server``."""
    if server is not None:
        return server.run(code, argv, env=env, timeout=300)
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        env={**_base_env(), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _run(
    model: str,
    workdir: Path,
    abort_after: int | None = None,
    log: Path | None = None,
    server: ForkServer | None = None,
):
    return _victim(VICTIM, [model, str(workdir)], _env(abort_after, log), server)


@contextmanager
def _servers(n: int = 2) -> Iterator[queue.Queue]:
    """``n`` fork servers (one per worker thread) in a queue: take one, run, put it back."""
    servers = [ForkServer(PRELOAD, _base_env(), ROOT) for _ in range(n)]
    pool: queue.Queue = queue.Queue()
    for server in servers:
        pool.put(server)
    try:
        yield pool
    finally:
        for server in servers:
            server.close()


def _parallel(fn, ks) -> list:
    """``[fn(k, server) for k in ks]``, two at a time, each on a free fork server."""
    with _servers(2) as free, ThreadPoolExecutor(max_workers=2) as threads:

        def one(k):
            server = free.get()
            try:
                return fn(k, server)
            finally:
                free.put(server)

        return list(threads.map(one, ks))


def _result(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def _metrics(workdir: Path, model: str) -> list[dict]:
    path = workdir / "runs" / model / "VTPC2" / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(s) for s in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def _kill_then_resume(
    model: str, base: Path, k: int, seed_dir: Path | None, server: ForkServer
) -> tuple:
    work = base / f"k{k}"
    if seed_dir is not None:  # start from the finished data of another run
        subprocess.run(["cp", "-a", str(seed_dir), str(work)], check=True)
    killed = _run(model, work, abort_after=k, server=server)
    resumed = _run(model, work, server=server)
    temps = [p for p in work.rglob("*") if TEMP_NAME.match(p.name)]
    return k, killed, resumed, temps, _metrics(work, model)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["perceptron", "xgboost"])
def test_kill_at_every_write_resumes_to_identical_numbers(tmp_path: Path, model: str) -> None:
    reference_dir = tmp_path / "reference"
    log = tmp_path / "writes.log"
    reference = _result(_run(model, reference_dir, log=log))
    writes = log.read_text().splitlines()
    assert writes, "the run made no counted write"
    seed_dir = None
    if model == "perceptron":  # the (cheaper) XGBoost case covers the data writes
        seed_dir = tmp_path / "data_only"
        (seed_dir / "data").mkdir(parents=True)
        for p in (reference_dir / "data").iterdir():
            (seed_dir / "data" / p.name).write_bytes(p.read_bytes())
        writes = [w for w in writes if "/data/" not in w]
    reference_metrics = _metrics(reference_dir, model)
    ks = range(1, len(writes) + 1)
    outcomes = _parallel(lambda k, srv: _kill_then_resume(model, tmp_path, k, seed_dir, srv), ks)
    for k, killed, resumed, temps, metrics in outcomes:
        where = writes[k - 1]
        assert killed.returncode == ABORT_EXIT_CODE, (k, where, killed.stderr[-2000:])
        assert _result(resumed) == reference, (k, where, resumed.stderr[-2000:])
        assert metrics == reference_metrics, (k, where)
        assert temps == [], (k, where)


# ------------------------------------------------------------------ stages published atomically
STAGE_VICTIM = r"""
import json, sys
from pathlib import Path
from interp.study.experiments import StageContext, load_study, run_stage
from interp.study.config import MatrixConfig
from interp.study.matrix import run_matrix

work = Path(sys.argv[1])
cfg = MatrixConfig.smoke(models=("xgboost",), chambers=("VTPC2",), n_events=3,
                         clusters_per_event=200, n_boot=0,
                         train_overrides={"xgboost": {"n_estimators": 5}})
ctx = StageContext(study=load_study("within_chamber"), profile="smoke", workdir=work,
                   data_files={}, png=False, progress=False, log=lambda m: None)
res = run_stage("matrix", ctx, {"cfg": cfg.to_dict()}, lambda f: run_matrix(cfg, f, {}))
matrix = json.loads((res.folder / "matrix.json").read_text())
def untimed(x):
    if isinstance(x, dict):
        return {k: untimed(v) for k, v in x.items() if "seconds" not in k}
    return [untimed(v) for v in x] if isinstance(x, list) else x
print("RESULT " + json.dumps(untimed([c["evaluations"] for c in matrix["cells"]])))
"""


def _run_stage_victim(
    work: Path,
    abort_after: int | None = None,
    log: Path | None = None,
    server: ForkServer | None = None,
):
    return _victim(STAGE_VICTIM, [str(work)], _env(abort_after, log), server)


def _visible_stages(work: Path) -> list[tuple[str, str | None]]:
    """``(name, why not intact)`` of every published ``matrix/<key>`` folder."""
    from interp.study.experiments import stage_record_problem

    root = work / "matrix"
    if not root.is_dir():
        return []
    return [
        (p.name, stage_record_problem(p)[0])
        for p in sorted(root.iterdir())
        if p.is_dir() and not p.name.startswith(".")
    ]


@pytest.mark.slow
def test_stage_killed_at_every_write_is_never_visible_half_done_and_resumes(
    tmp_path: Path,
) -> None:
    """A matrix stage (XGBoost on one chamber) killed after its first, two middle, last but
    one and last (``stage.json``, before the rename) writes: no
    ``matrix/<key>`` folder is visible until it is complete (its ``stage.json`` checks out),
    and the rerun resumes in the private ``.<key>.partial`` folder to identical numbers."""
    log = tmp_path / "writes.log"
    reference = _result(_run_stage_victim(tmp_path / "reference", log=log))
    writes = log.read_text().splitlines()
    assert writes[-1].endswith("/stage.json") and ".partial/" in writes[-1], writes[-3:]
    [(key, why)] = _visible_stages(tmp_path / "reference")
    assert why is None and not (tmp_path / "reference" / "matrix" / f".{key}.partial").exists()

    def kill_then_resume(k: int, server: ForkServer) -> tuple:
        work = tmp_path / f"k{k}"
        killed = _run_stage_victim(work, abort_after=k, server=server)
        visible = _visible_stages(work)
        partial = (work / "matrix" / f".{key}.partial").is_dir()
        resumed = _run_stage_victim(work, server=server)
        return k, killed, visible, partial, resumed, _visible_stages(work)

    n = len(writes)
    ks = sorted({1, n // 3, 2 * n // 3, n - 1, n})
    outcomes = _parallel(kill_then_resume, ks)
    for k, killed, visible, partial, resumed, after in outcomes:
        where = writes[k - 1]
        assert killed.returncode == ABORT_EXIT_CODE, (k, where, killed.stderr[-2000:])
        assert visible == [] and partial, (k, where, visible)  # even after stage.json
        assert _result(resumed) == reference, (k, where, resumed.stderr[-2000:])
        assert after == [(key, None)], (k, where, after)

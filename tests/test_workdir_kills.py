"""Resume from any kill point: a training run killed right after each of its writes.

``TPC_INTERP_ABORT_AFTER_WRITES=k`` makes the process ``os._exit`` right after its k-th
completed write (:func:`interp.fsutil.count_write`: every atomic file and every log line), so
no clean-up code runs, as with ``kill -9``. For every k of a small perceptron run (cached
data, splits, run record, metrics lines, best/last checkpoints, the classifier, the
pipeline's run record; the data writes once, in the XGBoost case) and of an XGBoost run
(cached data included), the killed work directory is run again and must
finish with exactly the numbers of an uninterrupted run, leaving no temporary file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from interp.fsutil import ABORT_ENV, ABORT_EXIT_CODE, TEMP_NAME, WRITE_LOG_ENV

ROOT = Path(__file__).resolve().parents[1]
TIMING = ("epoch_time_s", "train_time_s", "samples_per_s")

VICTIM = r"""
import json, sys
import jax
jax.config.update("jax_disable_most_optimizations", True)
from interp.fsutil import file_digest
from interp.pipeline import MatrixConfig, evaluate_one, load_chamber_data, train_cell

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


def _run(model: str, workdir: Path, abort_after: int | None = None, log: Path | None = None):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop(ABORT_ENV, None)
    if abort_after is not None:
        env[ABORT_ENV] = str(abort_after)
    if log is not None:
        env[WRITE_LOG_ENV] = str(log)
    return subprocess.run(
        [sys.executable, "-c", VICTIM, model, str(workdir)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


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


def _kill_then_resume(model: str, base: Path, k: int, seed_dir: Path | None) -> tuple:
    work = base / f"k{k}"
    if seed_dir is not None:  # start from the finished data of another run
        subprocess.run(["cp", "-a", str(seed_dir), str(work)], check=True)
    killed = _run(model, work, abort_after=k)
    resumed = _run(model, work)
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
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda k: _kill_then_resume(model, tmp_path, k, seed_dir), ks))
    for k, killed, resumed, temps, metrics in outcomes:
        where = writes[k - 1]
        assert killed.returncode == ABORT_EXIT_CODE, (k, where, killed.stderr[-2000:])
        assert _result(resumed) == reference, (k, where, resumed.stderr[-2000:])
        assert metrics == reference_metrics, (k, where)
        assert temps == [], (k, where)

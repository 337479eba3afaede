"""The work directory under hostile conditions: names, locks, corruption, full disks.

* hostile chamber/model names are refused where they enter, before anything is written;
* one writer per work directory (a second ``train``/``reproduce`` refuses with the holder's
  PID and host; a lock left by a killed process is taken over);
* every damaged file of the work directory (stage and run records, matrix results, cached
  data with its charge shuffled, metrics logs, boosters, the shared ``plotly.min.js``) is
  detected and recomputed, never a traceback;
* a full disk (a file-size limit in the child) in every cluster format, in ``predict`` and
  in ``train`` gives one ``error:`` line, exit code 2, nothing partial, and a work directory
  that resumes once space is back.
"""

from __future__ import annotations

import json
import logging
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
from test_cli_bad_inputs import run_cli

from interp.core.fsutil import TEMP_NAME
from interp.core.locking import LOCK_FILE, WorkdirBusyError, workdir_lock
from interp.core.names import BadNameError, check_name, inside, name_folder

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import interp.cli; interp.cli.app()"]
HOSTILE = [
    *("..", ".", "../x", "../../../../escaped", "a/b", "VT/PC2", "", "x" * 300, "VTPČ2"),
    *("a b", "a\\b", "~/x", "/abs", "x\n"),
]


def _env() -> dict[str, str]:
    return {**os.environ, "JAX_PLATFORMS": "cpu"}


# ------------------------------------------------------------------------------------ names
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(BadNameError) as info:
        check_name(name, "chamber", "--train-on")
    assert "\n" not in str(info.value) and "--train-on" in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("name", ["VTPC2", "MTPCL", "my_chamber-2", "C++", "x" * 64])
def test_safe_names_pass(name: str) -> None:
    assert check_name(name) == name


def test_paths_from_names_stay_inside(tmp_path: Path) -> None:
    assert name_folder(tmp_path, "resnet", "VTPC2") == tmp_path / "resnet" / "VTPC2"
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(BadNameError, match="outside the work directory"):
        inside(tmp_path, tmp_path / "link" / "x")


@pytest.mark.parametrize("name", ["..", "../x", "../../../../escaped", "a/b", "", "x" * 300])
@pytest.mark.parametrize("option", ["--train-on", "--data", "--model", "--eval-on"])
def test_cli_refuses_hostile_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, option: str
) -> None:
    work = tmp_path / "a" / "b" / "c" / "d" / "work"
    args = ["train", "--model", "perceptron", "--train-on", "VTPC2", "--profile", "smoke"]
    if option == "--data":
        args += ["--data", f"{name}=x.h5"]
    elif option == "--eval-on":
        args += ["--eval-on", name]
    elif option == "--model":
        args[2] = name
    else:
        args[4] = name
    code, out = run_cli([*args, "--workdir", str(work), "-q"], capsys)
    assert code == 2, out
    assert "Traceback" not in out and out.startswith("error:"), out
    assert len(out.strip().splitlines()) == 1, out
    assert not any(p.is_file() for p in tmp_path.parent.rglob("*escaped*"))
    assert not any(p.is_file() for p in tmp_path.rglob("*")), "something was written"


def test_study_and_preset_names_are_checked(tmp_path: Path) -> None:
    from interp.data.chambers import load_chamber_preset
    from interp.study.config import MatrixConfig

    with pytest.raises(BadNameError, match=r"MatrixConfig\.chambers"):
        MatrixConfig.smoke(chambers=("VTPC2", "../x"))
    with pytest.raises(BadNameError, match=r"MatrixConfig\.models"):
        MatrixConfig.smoke(models=("a/b",))
    preset = tmp_path / "p.toml"
    preset.write_text('name = "../../escaped"\nbase = "VTPC2"\n')
    with pytest.raises(BadNameError, match=r"p\.toml, field 'name'"):
        load_chamber_preset(preset)


# ------------------------------------------------------------------------------------ locks
HOLDER = r"""
import sys, time
from interp.core.locking import workdir_lock
with workdir_lock(sys.argv[1]):
    print("HELD", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(work: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(work), str(seconds)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "HELD"
    return proc


def test_second_writer_refuses_naming_the_holder(tmp_path: Path) -> None:
    proc = _holder(tmp_path, 60)
    try:
        with pytest.raises(WorkdirBusyError) as info, workdir_lock(tmp_path, wait=0):
            pass
        msg = str(info.value)
        assert f"PID {proc.pid}" in msg and "host" in msg and "since" in msg
    finally:
        proc.kill()
        proc.wait()


def test_second_writer_can_wait(tmp_path: Path) -> None:
    proc = _holder(tmp_path, 1.0)
    said: list[str] = []
    t0 = time.monotonic()
    with workdir_lock(tmp_path, wait=60, log=said.append):
        assert time.monotonic() - t0 > 0.3
    proc.wait()
    assert said and "waiting" in said[0] and str(proc.pid) in said[0]


def test_lock_of_a_killed_process_is_taken_over_and_its_temp_files_cleaned(
    tmp_path: Path,
) -> None:
    proc = _holder(tmp_path, 60)
    tmp = tmp_path / "runs" / "m" / ".eval_VTPC2.json.0123456789ab.tmp.json"
    tmp.parent.mkdir(parents=True)
    tmp.write_text("{half")
    keep = tmp_path / "runs" / "m" / "eval_VTPC2.json"
    keep.write_text("{}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    said: list[str] = []
    with workdir_lock(tmp_path, wait=0, log=said.append):
        record = json.loads((tmp_path / LOCK_FILE).read_text())
        assert record["pid"] == os.getpid()
    assert any(f"PID {proc.pid}" in m and "no longer running" in m for m in said), said
    assert not tmp.exists() and keep.exists()
    assert TEMP_NAME.match(tmp.name) and not TEMP_NAME.match(keep.name)


def test_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    with workdir_lock(tmp_path, wait=0), workdir_lock(tmp_path, wait=0):
        pass
    with workdir_lock(tmp_path, wait=0):
        pass


@pytest.mark.parametrize("command", ["train", "matrix", "reproduce"])
def test_commands_refuse_a_busy_workdir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    args = {
        "train": ["train", "--model", "xgboost", "--train-on", "VTPC2", "--profile", "smoke"],
        "matrix": ["matrix", "--profile", "smoke", "--models", "xgboost"],
        "reproduce": ["reproduce", "within_chamber", "--profile", "smoke", "--no-png"],
    }[command]
    proc = _holder(tmp_path, 60)
    try:
        code, out = run_cli([*args, "--workdir", str(tmp_path), "-q"], capsys)
    finally:
        proc.kill()
        proc.wait()
    assert code == 2, out
    assert out.startswith("error:") and f"PID {proc.pid}" in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]


OUTPUT_HOLDER = r"""
import sys, time
from interp.core.locking import output_lock
with output_lock(sys.argv[1]):
    print("HELD", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _busy_cli(holder: subprocess.Popen, args: list[str], capsys) -> str:
    try:
        code, out = run_cli(args, capsys)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2, out
    assert out.startswith("error:") and f"PID {holder.pid}" in out and "in use by" in out, out
    return out


def test_evaluate_refuses_a_busy_workdir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``evaluate`` writes ``eval_<CH>.json`` and figures into the run folder: while a
    train/matrix/reproduce holds the work directory it refuses, and the run folder is
    untouched."""
    _train_xgb(tmp_path)
    run_dir = tmp_path / "runs" / "xgboost" / "VTPC2"
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    args = ["evaluate", str(run_dir), "--on", "VTPC2", "--n-boot", "0", "--no-png", "-q"]
    _busy_cli(_holder(tmp_path, 60), args, capsys)
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before


def test_explain_refuses_a_busy_matrix_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``explain`` writes into RUN/explain (and may fill RUN's data cache): it refuses while
    a matrix holds RUN, before writing anything."""
    (tmp_path / "matrix.json").write_text("{}")
    out = _busy_cli(_holder(tmp_path, 60), ["explain", str(tmp_path), "--no-png"], capsys)
    assert str(tmp_path) in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE, "matrix.json"]


def test_predict_refuses_an_output_being_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two ``predict`` into one file: the second refuses naming the first (instead of
    replacing its table while the first reports it as its own); the lock file beside the
    output is removed when the first is done, and the output is then written."""
    from interp.core.locking import output_lock_path

    _cfg, d, _clf, _run = _train_xgb(tmp_path / "w")
    out = tmp_path / "scores.parquet"
    holder = subprocess.Popen(
        [sys.executable, "-c", OUTPUT_HOLDER, str(out), "60"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "HELD"
    model = tmp_path / "w" / "runs" / "xgboost" / "VTPC2"
    args = ["predict", str(model), str(d.path), "--out", str(out), "-q"]
    _busy_cli(holder, args, capsys)
    assert not out.exists()
    code, text = run_cli(args, capsys)
    assert code == 0 and out.is_file(), text
    assert not output_lock_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet", "w"]


def test_concurrent_train_with_two_seeds(tmp_path: Path, cli_server: ForkServer) -> None:
    """``train --seed 0`` and ``--seed 1`` into one folder: the second refuses, the first's
    printed numbers belong to the model left on disk.

    The first is held inside its lock at its first write: its write log
    (``TPC_INTERP_WRITE_LOG``) is a FIFO nobody reads until the second has tried.
    """
    from interp.core.fsutil import WRITE_LOG_ENV

    work = tmp_path / "work"
    fifo = tmp_path / "writes.fifo"
    os.mkfifo(fifo)
    base = ["train", "--model", "xgboost", "--train-on", "VTPC2", "--profile", "smoke"]
    base += ["--n-boot", "0", "--workdir", str(work), "-q"]
    first = subprocess.Popen(
        [*CLI, *base, "--seed", "0"],
        cwd=ROOT,
        env={**_env(), WRITE_LOG_ENV: str(fifo)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = work / LOCK_FILE
    deadline = time.monotonic() + 120
    while True:  # wait until the first holds the lock
        try:
            if json.loads(lock.read_text()).get("pid") == first.pid:
                break
        except (OSError, ValueError):
            pass
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    second = cli_server.run(CLI_CODE, [*base, "--seed", "1"], timeout=300)
    reader = os.open(fifo, os.O_RDWR)  # lets the first go on (its log lines fit the pipe)
    try:
        out, err = first.communicate(timeout=300)
    finally:
        os.close(reader)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 2, second.stderr
    assert "in use by PID" in second.stderr and "Traceback" not in second.stderr
    run = json.loads((work / "runs" / "xgboost" / "VTPC2" / "run.json").read_text())
    assert run["config"]["seed"] == 0
    ev = json.loads((work / "runs" / "xgboost" / "VTPC2" / "eval_VTPC2.json").read_text())
    bal = ev["at_0.5"]["metrics"]["balanced_accuracy"]["value"]
    assert f"balanced accuracy {100 * bal:.1f} %" in out  # the numbers of the model on disk


# ------------------------------------------------------------------------------ corruption
def _stage_ctx(tmp_path: Path, log: list[str]):
    from interp.study.experiments import StageContext, load_study

    return StageContext(
        study=load_study("within_chamber"),
        profile="smoke",
        workdir=tmp_path,
        data_files={},
        png=False,
        progress=False,
        log=log.append,
    )


def _damage_stage(folder: Path, how: str) -> None:
    marker = folder / "stage.json"
    if how == "stage_truncated":
        marker.write_text(marker.read_text()[:25])
    elif how == "stage_empty_object":
        marker.write_text("{}")
    elif how == "stage_binary":
        marker.write_bytes(b"\xff\xfe\x00garbage")
    elif how == "output_deleted":
        (folder / "matrix.json").unlink()
    elif how == "output_truncated":
        (folder / "matrix.json").write_text('{"cells": [')
    elif how == "output_edited":  # same size, other content
        text = (folder / "matrix.json").read_text()
        (folder / "matrix.json").write_text(text.replace("7", "8"))
    elif how == "nested_deleted":
        (folder / "sub" / "data_summary.json").unlink()


STAGE_DAMAGE = [
    "stage_truncated",
    "stage_empty_object",
    "stage_binary",
    "output_deleted",
    "output_truncated",
    "output_edited",
    "nested_deleted",
]


@pytest.mark.parametrize("how", STAGE_DAMAGE)
def test_damaged_stage_is_run_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    from interp.study.experiments import run_stage

    calls: list[Path] = []

    def body(folder: Path) -> None:
        calls.append(folder)
        (folder / "matrix.json").write_text(json.dumps({"cells": [7, 17, 27]}))
        (folder / "sub").mkdir(exist_ok=True)
        (folder / "sub" / "data_summary.json").write_text('{"n": 7}')

    log: list[str] = []
    ctx = _stage_ctx(tmp_path, log)
    first = run_stage("matrix", ctx, {"a": 1}, body)
    assert first.status == "done" and len(calls) == 1
    assert run_stage("matrix", ctx, {"a": 1}, body).status == "reused" and len(calls) == 1
    _damage_stage(first.folder, how)
    with caplog.at_level(logging.WARNING):
        again = run_stage("matrix", ctx, {"a": 1}, body)
    assert again.status == "done" and len(calls) == 2, how
    assert "running it again" in caplog.text
    assert json.loads((first.folder / "matrix.json").read_text()) == {"cells": [7, 17, 27]}
    assert run_stage("matrix", ctx, {"a": 1}, body).status == "reused"


def _smoke_chamber(work: Path):
    from interp.study.config import MatrixConfig
    from interp.study.inputs import load_chamber_data

    cfg = MatrixConfig.smoke(chambers=("VTPC2",), n_events=3, clusters_per_event=200)
    return cfg, load_chamber_data("VTPC2", cfg, work)


def test_cached_data_with_shuffled_charge_is_simulated_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from interp.study.inputs import load_chamber_data

    cfg, d = _smoke_chamber(tmp_path)
    with np.load(d.path) as z:
        cols = dict(z)
    original = cols["charge"].copy()
    cols["charge"] = original[np.random.default_rng(0).permutation(len(original))]
    np.savez(d.path, **cols)  # labels, ids and metadata unchanged
    with caplog.at_level(logging.WARNING):
        again = load_chamber_data("VTPC2", cfg, tmp_path)
    assert "simulating it again" in caplog.text and d.path.name in caplog.text
    with np.load(d.path) as z:
        np.testing.assert_array_equal(z["charge"], original)
    np.testing.assert_array_equal(again.parts["train"].charge, d.parts["train"].charge)


def _train_xgb(work: Path):
    import dataclasses

    from interp.study.training import train_cell

    cfg, d = _smoke_chamber(work)
    cfg = dataclasses.replace(cfg, train_overrides={"xgboost": {"n_estimators": 5}})
    clf, run = train_cell("xgboost", d, cfg, work)
    return cfg, d, clf, run


def _cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


RUN_DAMAGE = {
    "booster_truncated": lambda r: _cut(r / "model.ubj", 50),
    "booster_deleted": lambda r: (r / "model.ubj").unlink(),
    "classifier_truncated": lambda r: _cut(r / "classifier.json", 12),
    "run_record_empty_object": lambda r: (r / "run.json").write_text("{}"),
    "run_record_truncated": lambda r: _cut(r / "run.json", 12),
    "run_record_deleted": lambda r: (r / "run.json").unlink(),
    "run_record_of_the_trainer": lambda r: (r / "run.json").write_text('{"model": "x"}'),
}


@pytest.mark.parametrize("how", sorted(RUN_DAMAGE))
def test_damaged_run_is_trained_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    from interp.study.training import train_cell

    cfg, d, clf, _run = _train_xgb(tmp_path)
    ref = clf.predict_proba(d.parts["test"].charge)
    run_dir = tmp_path / "runs" / "xgboost" / "VTPC2"
    RUN_DAMAGE[how](run_dir)
    with caplog.at_level(logging.WARNING):
        clf2, run2 = train_cell("xgboost", d, cfg, tmp_path)
    assert not run2["reused"] and "training it again" in caplog.text, how
    np.testing.assert_array_equal(clf2.predict_proba(d.parts["test"].charge), ref)
    assert train_cell("xgboost", d, cfg, tmp_path)[1]["reused"]


def test_truncated_booster_gives_one_line_in_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--model", "xgboost", "--train-on", "VTPC2", "--profile", "smoke"]
    args += ["--n-boot", "0", "--workdir", str(tmp_path), "-q"]
    code, out = run_cli(args, capsys)
    assert code == 0, out
    booster = tmp_path / "runs" / "xgboost" / "VTPC2" / "model.ubj"
    booster.write_bytes(booster.read_bytes()[:100])
    code, again = run_cli(args, capsys)
    assert code == 0 and "Traceback" not in again, again
    assert again.splitlines()[-1] == out.splitlines()[-1]  # the same numbers
    from interp.backends.xgboost.classifier import XGBoostClassifier

    booster.write_bytes(booster.read_bytes()[:100])
    with pytest.raises(Exception, match="corrupt booster") as info:
        XGBoostClassifier.load(booster.parent)
    assert type(info.value).__name__ == "ClusterDataError"


def test_half_line_at_the_end_of_metrics_is_dropped_on_resume(tmp_path: Path) -> None:
    from interp.backends.flax.config import TrainConfig
    from interp.backends.flax.trainer import train_flax
    from interp.data.simulator import simulate

    data = simulate("VTPC2", 2, seed=3, n_clusters=300)
    ids = data.events()
    train, val = data.select_events([ids[0]]), data.select_events([ids[1]])
    cfg = TrainConfig.smoke(max_epochs=2, learning_rate=3e-3, batch_size=64)
    clf = train_flax("perceptron", train, val, tmp_path, cfg, progress=False)
    metrics = tmp_path / "metrics.jsonl"
    good = metrics.read_text()
    (tmp_path / "classifier.json").unlink()
    metrics.write_text(good + '{"epoch": 3, "train_lo')
    clf2 = train_flax("perceptron", train, val, tmp_path, cfg, progress=False)
    assert metrics.read_text() == good
    np.testing.assert_array_equal(clf2.predict_proba(val.charge), clf.predict_proba(val.charge))


@pytest.mark.parametrize("damage", ["zero_bytes", "truncated", "edited"])
def test_damaged_plotly_js_is_written_again(tmp_path: Path, damage: str) -> None:
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    from interp.plots.output import FigureWriter
    from interp.report.figure_writer import write_figures

    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    with FigureWriter(tmp_path, png=False) as w:
        w.write(fig, "a")
    js = tmp_path / "plotly.min.js"
    bundle = get_plotlyjs().encode()
    assert js.read_bytes() == bundle

    def hurt() -> None:
        if damage == "zero_bytes":
            js.write_bytes(b"")
        elif damage == "truncated":
            js.write_bytes(bundle[: len(bundle) // 2])
        else:
            js.write_bytes(bundle[:-1] + b"!")

    hurt()
    with FigureWriter(tmp_path, png=False) as w:
        w.write(fig, "b")
    assert js.read_bytes() == bundle
    hurt()  # the report keeps its fresh figures but must mend the shared bundle
    write_figures({"a": fig}, tmp_path, png=False, source=None)
    assert js.read_bytes() == bundle


# ------------------------------------------------------------------------------- full disk
def _cli_limited(
    server: ForkServer, args: list[str], nbytes: int | None
) -> subprocess.CompletedProcess:
    """``tpc-interp ARGS`` in a fresh child process whose writes fail past ``nbytes``."""
    # the JAX compilation cache is an optimisation that warns on a full disk; the test is
    # about the toolkit's own writes
    env = {"TPC_INTERP_JAX_CACHE": "off"}
    return server.run(CLI_CODE, args, env=env, timeout=300, fsize_limit=nbytes or None)


def _one_clean_error(res: subprocess.CompletedProcess) -> None:
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr and "Segmentation" not in res.stderr
    lines = [s for s in res.stderr.splitlines() if s.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr[-2000:]


@pytest.mark.parametrize("ext", ["npz", "h5", "parquet", "root"])
def test_full_disk_in_every_format(tmp_path: Path, ext: str, cli_server: ForkServer) -> None:
    """HDF5 used to print the error and then die with a segmentation fault (exit 139)."""
    out = tmp_path / f"sim.{ext}"
    args = ["simulate", "--chamber", "VTPC2", "--events", "3", "--seed", "1"]
    args += ["--clusters-per-event", "2000", "--out", str(out), "-q"]
    res = _cli_limited(cli_server, args, 100_000)
    _one_clean_error(res)
    assert str(out) in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_full_disk_in_predict_h5(tmp_path: Path, cli_server: ForkServer) -> None:
    """``predict`` writing .h5 used to print the error, then segfault (exit 139)."""
    from interp.backends.xgboost.classifier import XGBConfig, train_xgboost
    from interp.data.io import write_clusters
    from interp.data.simulator import simulate

    data = simulate("VTPC2", 2, seed=5, n_clusters=400)
    ids = data.events()
    model = tmp_path / "model"
    train_xgboost(
        data.select_events([ids[0]]), data.select_events([ids[1]]), model, XGBConfig.smoke()
    )
    src = write_clusters(simulate("VTPC2", 2, seed=6, n_clusters=8000), tmp_path / "in.npz")
    out = tmp_path / "o" / "scores.h5"
    out.parent.mkdir()
    res = _cli_limited(
        cli_server,
        ["predict", str(model), str(src), "--out", str(out), "-q"],
        20_000,
    )
    _one_clean_error(res)
    assert list(out.parent.iterdir()) == []


def test_full_disk_in_train_then_resume(tmp_path: Path, cli_server: ForkServer) -> None:
    """Data cached, then every write of ``train`` fails (limit 1 KB): one line, exit 2; with
    space back the same work directory finishes with the numbers of an undisturbed run."""
    args = ["train", "--model", "perceptron", "--train-on", "VTPC2", "--profile", "smoke"]
    args += ["--n-boot", "0", "-q"]
    ref = _cli_limited(cli_server, [*args, "--workdir", str(tmp_path / "ref")], None)
    assert ref.returncode == 0, ref.stderr[-2000:]
    work = tmp_path / "w"
    (work / "data").mkdir(parents=True)
    for p in (tmp_path / "ref" / "data").iterdir():
        (work / "data" / p.name).write_bytes(p.read_bytes())
    res = _cli_limited(cli_server, [*args, "--workdir", str(work)], 1000)
    _one_clean_error(res)
    assert not [p for p in work.rglob("*") if TEMP_NAME.match(p.name)]
    again = _cli_limited(cli_server, [*args, "--workdir", str(work)], None)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.splitlines()[-1] == ref.stdout.splitlines()[-1]


def test_full_disk_in_reproduce(tmp_path: Path, cli_server: ForkServer) -> None:
    res = _cli_limited(
        cli_server,
        [
            "reproduce",
            "within_chamber",
            "--profile",
            "smoke",
            "--no-png",
            "-q",
            "--workdir",
            str(tmp_path),
        ],
        1000,
    )
    _one_clean_error(res)

"""The train/evaluate matrix: smoke run of the whole matrix, reuse, CLI and input errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from interp.core.errors import (
    ClusterDataError,
    ShapeMismatchError,
    UnknownChamberError,
    UnknownNameError,
)
from interp.core.profiles import PROFILES
from interp.core.schema import ClusterSet
from interp.study.config import MatrixConfig, default_models
from interp.study.inputs import load_chamber_data
from interp.study.matrix import run_matrix
from interp.study.matrix_tables import matrix_markdown
from interp.study.scoring import evaluate_one
from interp.study.training import cell_overrides, make_train_config, train_one


def _available_models() -> tuple[str, ...]:
    """All four models if the Flax model registry is importable, else XGBoost only."""
    try:
        import models

        names = set(models.model_names())
    except (ImportError, AttributeError):
        return ("xgboost",)
    wanted = ("perceptron", "split_conv", "resnet")
    return (*[m for m in wanted if m in names], "xgboost")


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory) -> tuple[Path, dict, float, MatrixConfig]:
    """One smoke run of the full matrix (tiny simulated data, smoke training)."""
    import jax

    jax.config.update("jax_disable_most_optimizations", True)
    workdir = tmp_path_factory.mktemp("matrix")
    cfg = MatrixConfig.smoke(models=_available_models(), n_boot=100)
    t0 = time.process_time()  # CPU time: robust to other jobs on a shared machine
    result = run_matrix(cfg, workdir, progress=False)
    return workdir, result, time.process_time() - t0, cfg


def test_smoke_matrix_writes_results(smoke_dir) -> None:
    workdir, result, seconds, cfg = smoke_dir
    assert seconds < 120  # CPU seconds of the whole smoke matrix
    on_disk = json.loads((workdir / "matrix.json").read_text())
    assert on_disk["cells"] == json.loads(json.dumps(result["cells"]))
    assert len(result["cells"]) == len(cfg.models) * len(cfg.chambers)
    for cell in result["cells"]:
        assert not cell["run"]["reused"] and cell["run"]["train_seconds"] > 0
        assert cell["run"]["retrained"] == []  # a first training is no retraining
        assert set(cell["evaluations"]) == set(cfg.chambers)
        for t, ev in cell["evaluations"].items():
            m = ev["at_0.5"]["metrics"]
            c = ev["at_0.5"]["confusion"]
            ba = m["balanced_accuracy"]
            # the headline is the balanced accuracy of the confusion counts, inside its interval
            want = 0.5 * (c["tn"] / (c["tn"] + c["fp"]) + c["tp"] / (c["tp"] + c["fn"]))
            assert ba["value"] == pytest.approx(want)
            assert ba["lo"] <= ba["value"] <= ba["hi"]
            if t == cell["train_chamber"]:  # every model learns something within its chamber
                assert ba["value"] > 0.6, (cell["model"], ba)
            assert ev["seconds_per_event"] > 0
        assert (workdir / cell["run_dir"] / "classifier.json").is_file()
    # every model of a cell trained on the same number of clusters
    for chamber in cfg.chambers:
        sizes = {
            c["run"]["n_train_clusters"] for c in result["cells"] if c["train_chamber"] == chamber
        }
        assert sizes == {result["data"][chamber]["n_train_clusters"]}
    # a paired difference for every model pair in every (train, test) cell
    n_pairs = len(cfg.models) * (len(cfg.models) - 1) // 2
    assert len(result["paired"]) == n_pairs * len(cfg.chambers) ** 2
    # per-kind rates from simulator truth, consistent with the overall noise removed
    for cell in result["cells"]:
        ev = cell["evaluations"][cell["train_chamber"]]
        nr = ev["by_truth"]["noise_removed"]
        kinds = [k for k in nr if k != "dead_pad"]
        n = sum(nr[k]["n"] for k in kinds)
        pooled = sum(nr[k]["n"] * nr[k]["value"] for k in kinds if nr[k]["n"]) / n
        assert pooled == pytest.approx(ev["at_0.5"]["metrics"]["noise_removed"]["value"])
    _check_markdown_numbers((workdir / "matrix.md").read_text(), result)
    # data cached with splits beside it
    data_files = sorted(p.name for p in (workdir / "data").iterdir())
    assert any(n.endswith(".npz") for n in data_files)
    assert any(n.endswith(".splits.json") for n in data_files)


def _md_row(md: str, *first: str) -> list[str]:
    """Cells of the first pipe-table row of the toolkit-versus-published table starting so."""
    section = md.split("## Toolkit versus published", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[: len(first)] == list(first):
            return cells
    raise AssertionError(f"no row {first} in matrix.md")


def _check_markdown_numbers(md: str, result: dict) -> None:
    """matrix.md shows the matrix's balanced accuracy beside the published figure, and the
    difference column is toolkit - published (not printed constants, not plain accuracy)."""
    from interp.core.published import published_accuracy

    for cell in result["cells"]:
        for t, ev in cell["evaluations"].items():
            row = _md_row(md, cell["model"], cell["train_chamber"], t)
            ba = ev["at_0.5"]["metrics"]["balanced_accuracy"]["value"]
            assert row[4].split(" ")[0] == f"{100 * ba:.1f}"
            plain = ev["at_0.5"]["metrics"]["accuracy"]["value"]
            assert row[7].split(" ")[0] == f"{100 * plain:.1f}"
            pub = published_accuracy(cell["model"], cell["train_chamber"], t)
            if pub is None:
                assert row[3] == "n/a" and row[5] == "n/a"
            else:
                assert float(row[5]) == pytest.approx(100 * (ba - pub), abs=0.051)


def test_second_run_reuses_everything(smoke_dir) -> None:
    workdir, first, seconds, cfg = smoke_dir
    stamps = {p: p.stat().st_mtime_ns for p in (workdir / "runs").rglob("classifier.json")}
    t0 = time.process_time()
    again = run_matrix(cfg, workdir, progress=False)
    assert time.process_time() - t0 < max(30.0, 0.8 * seconds)
    assert all(c["run"]["reused"] for c in again["cells"])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing retrained
    for a, b in zip(first["cells"], again["cells"], strict=True):
        for ch in cfg.chambers:
            assert a["evaluations"][ch]["at_0.5"] == b["evaluations"][ch]["at_0.5"]


def test_changed_data_is_not_silently_reused(tmp_path, smoke_dir) -> None:
    import shutil

    workdir = tmp_path / "copy"
    shutil.copytree(smoke_dir[0], workdir)
    d = load_chamber_data("VTPC2", MatrixConfig.smoke(n_events=7), workdir)
    _, run = train_one("xgboost", "VTPC2", d.parts["train"], d.parts["val"], workdir, "smoke")
    assert not run["reused"] and "training data changed" in run["retrained"]


def test_changed_override_retrains_that_cell(tmp_path, smoke_dir) -> None:
    """A finished smoke work directory, one training override changed: that cell retrains
    (and matrix.md says why), every other cell is reused."""
    import dataclasses
    import shutil

    src, _, _, cfg = smoke_dir
    workdir = tmp_path / "copy"
    shutil.copytree(src, workdir)
    model = "xgboost"
    over = {**cfg.train_overrides, model: {"max_depth": 2}}
    again = run_matrix(dataclasses.replace(cfg, train_overrides=over), workdir, progress=False)
    for cell in again["cells"]:
        if cell["model"] == model:
            assert not cell["run"]["reused"]
            assert any("max_depth" in why for why in cell["run"]["retrained"])
            run = json.loads((workdir / cell["run_dir"] / "run.json").read_text())
            assert run["config"]["max_depth"] == 2
        else:
            assert cell["run"]["reused"], cell["model"]
    md = (workdir / "matrix.md").read_text()
    assert f"{model} trained on VTPC2 was **retrained**" in md and "max_depth" in md


def test_unknown_model_and_chamber(tmp_path) -> None:
    with pytest.raises(UnknownNameError, match="unknown model 'nope'"):
        run_matrix(MatrixConfig.smoke(models=("nope",)), tmp_path, progress=False)
    with pytest.raises(UnknownChamberError, match="VTPC9"):
        run_matrix(
            MatrixConfig.smoke(models=("xgboost",), chambers=("VTPC9",)), tmp_path, progress=False
        )
    with pytest.raises(UnknownNameError, match="profile"):
        MatrixConfig(profile="huge")
    assert not (tmp_path / "runs").exists()  # failed before training anything


def _write_synthetic(path: Path, window: tuple[int, int], n_events: int, chamber: str) -> Path:
    from interp.data.io import write_clusters

    rng = np.random.default_rng(0)
    n = 60 * n_events
    label = (rng.random(n) < 0.3).astype(np.int8)
    charge = rng.uniform(0, 40, (n, *window)).astype(np.float32)
    charge[label == 1, window[0] // 2, window[1] // 2] += 150  # a learnable signal
    ev = np.repeat(np.arange(n_events), 60).astype(np.int64)
    write_clusters(ClusterSet(charge, label, ev, chamber), path)
    return path


def test_window_mismatch_is_a_clear_error(tmp_path, smoke_dir) -> None:
    small = _write_synthetic(tmp_path / "mtpcl_small.npz", (9, 16), 6, "MTPCL")
    with pytest.raises(ShapeMismatchError, match=r"\(9, 16\)"):
        run_matrix(
            MatrixConfig.smoke(models=("xgboost",)),
            tmp_path / "w",
            data_files={"MTPCL": small},
            progress=False,
        )
    # a model trained on 11 x 20 windows given 9 x 16 ones
    from interp.backends.classifier import load_classifier

    workdir = smoke_dir[0]
    clf = load_classifier(workdir / "runs" / "xgboost" / "VTPC2")
    d = load_chamber_data("MTPCL", MatrixConfig.smoke(), tmp_path / "w", {"MTPCL": small})
    vtpc = load_chamber_data("VTPC2", MatrixConfig.smoke(), workdir)
    with pytest.raises(ShapeMismatchError, match="trained on"):
        evaluate_one(clf, vtpc.parts["val"], d.parts["test"], n_boot=0)


def test_user_files_and_empty_splits(tmp_path) -> None:
    files = {
        "VTPC2": _write_synthetic(tmp_path / "a.npz", (11, 20), 6, "VTPC2"),
        "MTPCL": _write_synthetic(tmp_path / "b.h5", (11, 20), 6, "somename"),
    }
    cfg = MatrixConfig.smoke(models=("xgboost",), n_boot=20)
    with pytest.raises(ClusterDataError, match="somename"):  # metadata disagrees with the key
        run_matrix(cfg, tmp_path / "w", files, progress=False)
    assert not (tmp_path / "w").exists()
    res = run_matrix(cfg, tmp_path / "w", files, progress=False, rename_chamber=True)
    assert not res["data"]["MTPCL"]["simulated"]
    acc = res["cells"][0]["evaluations"]["VTPC2"]["at_0.5"]["metrics"]["accuracy"]["value"]
    assert acc > 0.9
    # both files hold events 0-5: one shared split, cached in the work dir, not beside the files
    assert res["splits_policy"] == {"policy": "shared", "groups": [["VTPC2", "MTPCL"]]}
    assert len(list((tmp_path / "w" / "data").glob("shared-*.splits.json"))) == 1
    assert not (tmp_path / "b.splits.json").exists()
    # too few events for three splits
    two = _write_synthetic(tmp_path / "two.npz", (11, 20), 2, "VTPC2")
    with pytest.raises(ClusterDataError, match="event"):
        load_chamber_data("VTPC2", MatrixConfig.smoke(), tmp_path / "w2", {"VTPC2": two})
    # empty validation split
    d = load_chamber_data("VTPC2", MatrixConfig.smoke(), tmp_path / "w", files)
    empty = d.parts["val"].subset(np.zeros(len(d.parts["val"]), bool))
    with pytest.raises(ClusterDataError, match="no clusters"):
        train_one("xgboost", "VTPC2", d.parts["train"], empty, tmp_path / "w3", "smoke")
    with pytest.raises(UnknownNameError):
        train_one("nope", "VTPC2", d.parts["train"], d.parts["val"], tmp_path / "w3", "smoke")


def test_markdown_flags_unreliable_intervals(smoke_dir) -> None:
    _, result, _, _ = smoke_dir
    md = matrix_markdown(result)  # smoke test split holds 1 event per chamber
    assert "unreliable" in md


def test_cli_train_evaluate_matrix(tmp_path, smoke_dir) -> None:
    from typer.testing import CliRunner

    import interp.cli  # noqa: F401  (registers the commands)
    from interp.cli.app import app

    runner = CliRunner()
    wd = str(tmp_path / "cli")
    args = ["--profile", "smoke", "--workdir", wd, "--quiet", "--n-boot", "20"]
    r = runner.invoke(
        app, ["train", "--model", "xgboost", "--train-on", "VTPC2", "--eval-on", "MTPCL", *args]
    )
    assert r.exit_code == 0, r.output + repr(r.exception)
    assert "test MTPCL: balanced accuracy" in r.output
    run_dir = tmp_path / "cli" / "runs" / "xgboost" / "VTPC2"
    assert (run_dir / "eval_MTPCL.json").is_file()
    r = runner.invoke(app, ["evaluate", str(run_dir), "--on", "MTPCL", "-q"])  # profile: run's
    assert r.exit_code == 0, r.output + repr(r.exception)
    r = runner.invoke(app, ["matrix", "--models", "xgboost", *args])
    assert r.exit_code == 0, r.output + repr(r.exception)
    assert "| yes |" in r.output  # the VTPC2 run of `train` is reused
    r = runner.invoke(app, ["train", "--model", "nope", "--train-on", "VTPC2", *args])
    assert isinstance(r.exception, UnknownNameError)
    r = runner.invoke(app, ["matrix", "--data", "VTPC2", *args])
    assert "CHAMBER=FILE" in str(r.exception)


def test_profiles_build_valid_train_configs() -> None:
    from interp.backends.flax.config import TrainConfig
    from interp.backends.xgboost.classifier import XGBConfig

    for name in PROFILES:
        cfg = MatrixConfig.from_profile(name)
        assert cfg.models == default_models()  # every model file, in the specs' order
        assert cfg.models[0] == "perceptron" and cfg.models[-1] == "xgboost"
        for m in cfg.models:
            tc = make_train_config(m, cfg.profile, cell_overrides(m, cfg), seed=5)
            assert isinstance(tc, XGBConfig if m == "xgboost" else TrainConfig) and tc.seed == 5
    quick = MatrixConfig.quick()
    assert make_train_config("resnet", "quick", cell_overrides("resnet", quick)).max_epochs == 5
    smoke = MatrixConfig.smoke()
    assert (
        make_train_config("resnet", "smoke", cell_overrides("resnet", smoke)).learning_rate == 3e-3
    )
    assert quick.train_seeds >= 3 and MatrixConfig.full().train_seeds == 1
    with pytest.raises(ValueError, match="one cap"):
        MatrixConfig.smoke(train_overrides={"resnet": {"max_train_clusters": 10}})
    with pytest.raises(TypeError, match="no field"):
        make_train_config("xgboost", "smoke", {"max_epochs": 3})
    with pytest.raises(UnknownNameError):
        MatrixConfig.from_profile("huge")


def test_one_cap_for_every_model(tmp_path) -> None:
    """With a cap, every model (XGBoost too) and every training seed of a cell trains on the
    very same clusters: same count, same data fingerprint."""
    cfg = MatrixConfig.smoke(
        models=("perceptron", "xgboost"), chambers=("VTPC2",), max_train_clusters=500,
        train_seeds=2, n_boot=20,
    )  # fmt: skip
    res = run_matrix(cfg, tmp_path, progress=False)
    prints = set()
    for cell in res["cells"]:
        assert cell["run"]["n_train_clusters"] == 500 and cell["run"]["seeds"] == [0, 1]
        for i in range(2):
            run_dir = tmp_path / ("runs" if i == 0 else f"seeds/{cell['model']}/VTPC2/seed1")
            if i == 0:
                run_dir = run_dir / cell["model"] / "VTPC2"
            run = json.loads((run_dir / "run.json").read_text())
            assert run["config"]["seed"] == i
            prints.add(json.dumps(run["fingerprint"], sort_keys=True))
    assert len(prints) == 1 and json.loads(prints.pop())["n_train"] == 500
    assert res["cells"][0]["evaluations"]["VTPC2"]["at_0.5"]["n_seeds"] == 2

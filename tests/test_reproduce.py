"""``reproduce`` end to end on the smoke profile: report, caching, user files = simulator."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interp.cli import _typer_app as app
from interp.experiments import load_studies, load_study, simulate_command, study_names

runner = CliRunner()
CHAMBERS = ("VTPC2", "MTPCL")

STUDY = """
title = "Test study"
description = "Smoke-sized study for the test suite."
stages = ["matrix"]
sections = ["within_chamber", "cross_chamber", "rates", "xgboost", "speed"]
[profiles.smoke.matrix]
models = ["perceptron", "xgboost"]
n_boot = 50
"""


@pytest.fixture(scope="module")
def study_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("study") / "tiny.toml"
    path.write_text(STUDY)
    return path


def _reproduce(study_file: Path, work: Path, *extra: str):
    """``tpc-interp reproduce STUDY --profile smoke --workdir WORK --no-png -q EXTRA...``."""
    args = ["reproduce", str(study_file), "--profile", "smoke", "--workdir", str(work)]
    return runner.invoke(app, [*args, "--no-png", "-q", *extra])


@pytest.fixture(scope="module")
def builtin_run(study_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("work")
    res = _reproduce(study_file, work)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return work


def _matrix(work: Path) -> dict:
    (path,) = (work / "matrix").glob("*/matrix.json")
    return json.loads(path.read_text())


def _numbers(matrix: dict) -> dict:
    return {
        (c["model"], c["train_chamber"], t): (
            ev["at_0.5"]["metrics"],
            ev["operating_point"]["threshold"],
            ev["operating_point"]["metrics"],
        )
        for c in matrix["cells"]
        for t, ev in c["evaluations"].items()
    }


def test_every_study_config_loads() -> None:
    names = study_names()
    assert {"within_chamber", "cross_chamber", "beam_158", "third_chamber"} <= set(names)
    in_all = {s.name for s in load_studies("all")}
    opt_out = {n for n in names if not load_study(n).in_all}
    assert in_all == set(names) - opt_out and "tracking" in opt_out  # ~7 min: run by name
    for study in (load_study(n) for n in names):
        for profile in ("smoke", "quick", "full"):
            assert study.profile(profile).minutes is not None, (study.name, profile)
            if "matrix" in study.stages:
                study.register_presets()
                assert study.matrix_config(profile).profile == profile
    assert load_study("beam_158").matrix_config("quick").chambers[-1] == "MTPCL_158"


def test_report_numbers_are_the_matrix_numbers(builtin_run: Path) -> None:
    """Every within/cross-chamber row shows the matrix's balanced accuracy (the published
    metric), the published figure, their difference, and plain accuracy only as the secondary
    column, in REPORT.md and index.html."""
    from interp.published import published_accuracy

    out = builtin_run / "report-tiny-smoke"
    md = (out / "REPORT.md").read_text()
    html = (out / "index.html").read_text()
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[1] in CHAMBERS and cells[2] in CHAMBERS:
            rows[tuple(cells[:3])] = cells
    matrix = _matrix(builtin_run)
    n = 0
    for c in matrix["cells"]:
        for t, ev in c["evaluations"].items():
            row = rows[(c["model"], c["train_chamber"], t)]
            m = ev["at_0.5"]["metrics"]
            ba, plain = m["balanced_accuracy"]["value"], m["accuracy"]["value"]
            pub = published_accuracy(c["model"], c["train_chamber"], t)
            assert row[3] == ("n/a" if pub is None else f"{100 * pub:.1f}")
            assert row[4].split(" ")[0] == f"{100 * ba:.1f}"
            assert row[7].split(" ")[0] == f"{100 * plain:.1f}"
            if pub is not None:
                assert float(row[5]) == pytest.approx(100 * (ba - pub), abs=0.051)
                assert f"<td>{row[4]}</td>" in html
            n += 1
    assert n == len(matrix["cells"]) * len(CHAMBERS)
    assert "balanced accuracies" in md and "What the simulator was tuned to" in md
    assert "Provenance" in md and "Provenance" in html
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["packages"]["numpy"] != "not installed"
    assert prov["machine"]["cpu_count"] >= 1
    assert (out / "figures" / "tiny_within_accuracy.html").is_file()


def test_second_run_reuses_artefacts(builtin_run: Path, study_file: Path) -> None:
    before = _matrix(builtin_run)
    t0 = time.perf_counter()
    res = _reproduce(study_file, builtin_run)
    seconds = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    assert seconds < 15, seconds
    prov = json.loads((builtin_run / "report-tiny-smoke" / "provenance.json").read_text())
    assert prov["stages"]["tiny/matrix"]["status"] == "reused"
    assert _matrix(builtin_run) == before


# h5 repeats the whole study; the other formats only XGBoost (same data, same splits, less time)
@pytest.mark.parametrize(
    ("fmt", "models"),
    [("h5", None), ("parquet", "xgboost"), ("root", "xgboost"), ("npz", "xgboost")],
)
def test_simulate_files_give_same_numbers(
    fmt: str, models: str | None, builtin_run: Path, study_file: Path, tmp_path: Path
) -> None:
    if models is not None:
        text = study_file.read_text().replace('"perceptron", "xgboost"', f'"{models}"')
        study_file = tmp_path / "tiny.toml"
        study_file.write_text(text)
    cfg = load_study(study_file).matrix_config("smoke")
    data_args = []
    for chamber in CHAMBERS:
        out = tmp_path / f"{chamber}.{fmt}"
        res = runner.invoke(app, [*simulate_command(chamber, cfg, out), "-q"])
        assert res.exit_code == 0, res.output
        data_args += ["--data", f"{chamber}={out}"]
    work = tmp_path / "work"
    res = _reproduce(study_file, work, *data_args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    mine, ref = _matrix(work), _matrix(builtin_run)
    assert not any(d["simulated"] for d in mine["data"].values())
    for chamber in CHAMBERS:
        assert mine["data"][chamber]["splits"] == ref["data"][chamber]["splits"]
    ref_numbers = {k: v for k, v in _numbers(ref).items() if k[0] in cfg.models}
    assert _numbers(mine) == ref_numbers


def test_missing_stage_is_reported(builtin_run: Path, tmp_path: Path) -> None:
    from interp.experiments import StageResult
    from interp.report import build_report

    study = load_study("weight_maps")
    (folder,) = (builtin_run / "matrix").glob("*/")
    results = {
        "matrix": StageResult("matrix", folder.name, folder, "reused", 1.0, {}),
        "explain": StageResult("explain", "", tmp_path, "missing", 0.0, {}, "explain broke"),
    }
    paths = build_report([(study, results)], tmp_path / "rep", "smoke", "test", 0.0)
    md = paths["markdown"].read_text()
    assert "**Not produced:** No explanation figures: explain broke." in md
    assert "Not produced:</b> No explanation figures: explain broke." in paths["html"].read_text()


def test_failed_explain_stage_exits_nonzero_and_is_named(
    builtin_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import interp.explain.report as explain_report

    def broken(*args, **kwargs):
        raise RuntimeError("simulated explain crash")

    monkeypatch.setattr(explain_report, "explain_run", broken)
    text = STUDY.replace('stages = ["matrix"]', 'stages = ["matrix", "explain"]')
    text = text.replace('sections = ["within_chamber"', 'sections = ["weights", "within_chamber"')
    study = tmp_path / "tinyx.toml"
    study.write_text(text)
    res = _reproduce(study, builtin_run)  # matrix reused, explain fails
    assert res.exit_code == 1, res.output
    assert "FAILED stage tinyx/explain" in res.output
    md = (builtin_run / "report-tinyx-smoke" / "REPORT.md").read_text()
    head = md.split("Contents:", 1)[0]
    assert "FAILED STAGES (1)" in head and "tinyx/explain" in head
    assert "simulated explain crash" in head
    assert "Within-chamber accuracy" in md  # the tables are still there


def test_latest_matrix_pointer(builtin_run: Path) -> None:
    """``WORKDIR/matrix/latest.json`` names the study's matrix stage folder."""
    from interp.experiments import latest_matrix

    (path,) = (builtin_run / "matrix").glob("*/matrix.json")
    assert latest_matrix(builtin_run) == path.parent

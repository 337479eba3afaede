"""One run record, one profile table, one formatter, and the speed section's work-directory read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interp.core.errors import ClusterDataError, UnknownNameError
from interp.core.formatting import diff_pts, num, pct, pipe_table, pts, seed_spread, with_ci
from interp.core.profiles import PROFILES, check_profile
from interp.core.run_record import (
    RUN_FILE,
    read_run_record,
    run_record_problem,
    update_run_record,
    write_run_record,
)


def test_run_record_writer_refuses_fields_outside_the_schema(tmp_path: Path) -> None:
    write_run_record(tmp_path, {"model": "xgboost", "outputs": {}})
    assert read_run_record(tmp_path) == {"model": "xgboost", "outputs": {}}
    with pytest.raises(ValueError, match=r"run\.json.*\['model_config'\]"):
        write_run_record(tmp_path, {"model": "x", "model_config": {}})
    with pytest.raises(ValueError, match="bogus"):
        update_run_record(tmp_path, bogus=1)


def test_run_record_readers_tolerate_older_files(tmp_path: Path) -> None:
    assert read_run_record(tmp_path) == {}
    assert "missing" in run_record_problem(tmp_path)
    old = {"model": "perceptron", "retired_field": 3}  # an older version's record
    (tmp_path / RUN_FILE).write_text(json.dumps(old))
    assert read_run_record(tmp_path) == old
    assert "incomplete" in run_record_problem(tmp_path)
    assert update_run_record(tmp_path, splits={"seed": 0})
    assert read_run_record(tmp_path) == {**old, "splits": {"seed": 0}}
    assert not update_run_record(tmp_path, splits={"seed": 0})  # unchanged: not rewritten
    (tmp_path / RUN_FILE).write_text("[1, 2]")
    with pytest.raises(ClusterDataError, match="not a JSON object"):
        read_run_record(tmp_path)
    (tmp_path / RUN_FILE).write_text('{"model": ')
    assert "unreadable" in run_record_problem(tmp_path)


def test_every_profiled_config_has_every_profile() -> None:
    from interp.backends.flax.config import TrainConfig
    from interp.backends.xgboost.classifier import XGBConfig
    from interp.study.config import MatrixConfig
    from interp.study.experiments import load_studies

    for cls in (MatrixConfig, TrainConfig, XGBConfig):
        for name in PROFILES:
            assert callable(getattr(cls, name)), (cls, name)
    assert MatrixConfig.from_profile("quick").profile == "quick"
    for study in load_studies("all"):
        assert tuple(study.profiles) == PROFILES
    assert check_profile("smoke") == "smoke"
    with pytest.raises(UnknownNameError, match="training profile"):
        check_profile("medium", "training profile")
    with pytest.raises(UnknownNameError):
        MatrixConfig(profile="medium")


def test_formatting() -> None:
    m = {"value": 0.91234, "lo": 0.9, "hi": 0.925}
    assert with_ci(m) == "91.2 [90.0, 92.5]"
    assert with_ci(m, " %") == "91.2 % [90.0, 92.5]"
    assert with_ci({"value": 0.5, "lo": None, "hi": None}) == "50.0"
    assert with_ci({"value": None}) == pct(None) == pts(None) == num(float("nan")) == "n/a"
    assert pct(0.5, 0) == "50" and pts(-0.0123) == "-1.2" and diff_pts(0.9, 0.95) == "-5.0"
    assert seed_spread({"seed_spread": {"balanced_accuracy": 0.0042}, "n_seeds": 3}) == (
        "0.42 (3 seeds)"
    )
    assert seed_spread({}) == "n/a (1 seed)"
    assert pipe_table(["a", "b"], [["1", "2"]]) == ["| a | b |", "|---|---|", "| 1 | 2 |"]


def _speed_input(tmp_path: Path):
    from interp.report.sections import SectionInput

    stage = tmp_path / "work" / "matrix" / "abc123"
    stage.mkdir(parents=True)
    matrix = {
        "config": {"models": ["xgboost"]},
        "cells": [
            {"model": "xgboost", "evaluations": {"VTPC2": {"seconds_per_published_event": 0.25}}}
        ],
    }
    (stage / "matrix.json").write_text(json.dumps(matrix))
    return SectionInput("s", {"matrix": stage}, {}, tmp_path / "fig"), tmp_path / "work"


def test_speed_section_reads_the_benchmark_from_the_work_directory(tmp_path: Path) -> None:
    from interp.report.speed import BENCHMARK_DIR, BENCHMARK_FILE, speed

    inp, work = _speed_input(tmp_path)
    sec = speed(inp)
    assert len(sec.tables) == 1 and sec.tables[0].rows[0][3] == "0.25"
    assert not sec.missing and f"--out WORKDIR/{BENCHMARK_DIR}" in sec.text
    (work / BENCHMARK_DIR).mkdir()
    (work / BENCHMARK_DIR / BENCHMARK_FILE).write_text(
        "# Speed\n\nMachine: test box.\n\n| model | s/event |\n|---|---|\n| xgboost | 0.1 |\n"
    )
    sec = speed(inp)
    assert [t.rows for t in sec.tables[1:]] == [[["xgboost", "0.1"]]]
    assert "Machine: test box." in sec.text

"""The full-profile timing record (``benchmarks/full_profile.py``) read off a finished work
directory: stage rows, the main matrix, validation loss per epoch, the accuracy table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "full_bench", ROOT / "benchmarks" / "full_profile.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["full_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


def _metric(v: float) -> dict:
    return {"balanced_accuracy": {"value": v, "lo": v - 0.01, "hi": v + 0.01}}


def _workdir(tmp_path: Path) -> Path:
    w = tmp_path / "out"
    main = w / "matrix" / "aaa"
    other = w / "matrix" / "bbb"  # a generalisation matrix: other chambers, fewer models
    cells = [
        {"model": m, "train_chamber": c, "run": {"train_seconds": 10.0, "n_train_clusters": 300},
         "evaluations": {t: {"at_0.5": {"metrics": _metric(0.9)}} for t in ("VTPC2", "MTPCL")}}
        for m in ("perceptron", "resnet") for c in ("VTPC2", "MTPCL")
    ]  # fmt: skip
    for folder, chambers, models in ((main, ["VTPC2", "MTPCL"], ["perceptron", "resnet"]),
                                     (other, ["VTPC2", "VTPC1"], ["perceptron"])):  # fmt: skip
        folder.mkdir(parents=True)
        cfg = {"chambers": chambers, "models": models}
        (folder / "matrix.json").write_text(json.dumps({"config": cfg, "cells": cells}))
    run = main / "runs" / "resnet" / "VTPC2"
    run.mkdir(parents=True)
    losses = [0.30, 0.20, 0.15, 0.14, 0.139]
    run.joinpath("metrics.jsonl").write_text(
        "\n".join(json.dumps({"epoch": i + 1, "val_loss": v}) for i, v in enumerate(losses))
    )
    stages = {
        "within_chamber/matrix": {"folder": str(main), "status": "done", "seconds": 100.0,
                                  "config": {"matrix": {"chambers": ["VTPC2", "MTPCL"]}}},
        "cross_chamber/matrix": {"folder": str(main), "status": "reused", "seconds": 100.0},
        "third_chamber/matrix": {"folder": str(other), "status": "done", "seconds": 20.0,
                                 "config": {"matrix": {"chambers": ["VTPC2", "VTPC1"]}}},
    }  # fmt: skip
    rep = w / "report-all-full"
    rep.mkdir(parents=True)
    prov = {
        "command": "x",
        "git_commit": "abc",
        "created_utc": "t",
        "machine": {},
        "stages": stages,
    }
    (rep / "provenance.json").write_text(json.dumps(prov))
    return w


def test_record_of_a_finished_run(bench, tmp_path: Path) -> None:
    w = _workdir(tmp_path)
    matrix = bench.main_matrix(w)
    assert matrix.name == "aaa"  # the VTPC2/MTPCL matrix with the most models
    prov = json.loads((w / "report-all-full" / "provenance.json").read_text())
    rows = bench.stage_times(prov)
    assert [r["seconds"] for r in rows] == [100.0, 20.0]  # a shared stage counted once
    assert rows[1]["stage"] == "third_chamber/matrix (VTPC2, VTPC1)"
    (ep,) = bench.epoch_rows(matrix)
    assert (ep["model"], ep["chamber"], ep["epochs"], ep["best_epoch"]) == ("resnet", "VTPC2", 5, 5)
    # last two epochs: 0.15 -> 0.139 of the 0.30 -> 0.139 drop
    assert ep["last_two_share"] == pytest.approx(0.011 / 0.161)
    acc = bench.accuracy_rows(matrix)
    assert len(acc) == 8 and {r["test"] for r in acc} == {"VTPC2", "MTPCL"}
    md = bench.markdown({"run": None, "provenance_command": "x", "commit": "abc",
                         "created_utc": "t", "machine": {}, "stages": rows,
                         "accuracy": acc, "epochs": [ep]})  # fmt: skip
    assert "| resnet | VTPC2 | 5 | 5 | 6.8 % |" in md
    assert "90.0 [89.0, 91.0]" in md

"""The data commands end to end: simulate -> inspect -> split -> figures, and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import interp.cli  # noqa: F401  (registers all commands)
from interp.cli.app import app
from interp.data.io import read_clusters
from interp.data.splits import Splits, splits_path_for

runner = CliRunner()


@pytest.mark.parametrize("ext", ["h5", "parquet", "root", "npz"])
def test_simulate_inspect_split(tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"sim.{ext}"
    res = runner.invoke(
        app,
        [
            "simulate",
            "--chamber",
            "MTPCL",
            "--events",
            "3",
            "--seed",
            "4",
            "--clusters-per-event",
            "500",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    data = read_clusters(out)
    assert len(data) == 1500 and data.chamber == "MTPCL"
    assert sorted(data.events().tolist()) == [0, 1, 2]
    splits = Splits.load(splits_path_for(out))
    assert sum(c["clusters"] for c in splits.counts.values()) == 1500

    res = runner.invoke(app, ["inspect", str(out), "--json", "-q", "--chunk-size", "700"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["clusters"] == 1500
    assert summary["events"] == 3
    assert summary["per_class"]["noise"] == int((data.label == 0).sum())
    assert sum(summary["per_noise_kind"].values()) == 1500

    res = runner.invoke(app, ["inspect", str(out), "-q"])
    assert res.exit_code == 0 and "per noise kind" in res.output


def test_simulate_same_seed_same_file(tmp_path: Path) -> None:
    paths = []
    for name in ("a.h5", "b.h5"):
        out = tmp_path / name
        res = runner.invoke(
            app,
            [
                "simulate",
                "--events",
                "2",
                "--seed",
                "9",
                "--clusters-per-event",
                "400",
                "--out",
                str(out),
                "-q",
            ],
        )
        assert res.exit_code == 0, res.output
        paths.append(out)
    assert read_clusters(paths[0]).equals(read_clusters(paths[1]))


def test_figures_clusters_html(tmp_path: Path) -> None:
    out = tmp_path / "sim.h5"
    runner.invoke(
        app, ["simulate", "--events", "1", "--clusters-per-event", "800", "--out", str(out), "-q"]
    )
    res = runner.invoke(
        app, ["figures-clusters", str(out), "--out", str(tmp_path / "fig"), "--no-png"]
    )
    assert res.exit_code == 0, res.output
    html = tmp_path / "fig" / "example_clusters_VTPC2.html"
    assert html.exists() and (tmp_path / "fig" / "plotly.min.js").exists()
    text = html.read_text()
    assert "plotly.min.js" in text and "noise: hot_pad" in text


def _cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from interp.cli import app; sys.argv[0] = 'tpc-interp'; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_unknown_chamber_is_one_clear_line(tmp_path: Path) -> None:
    out = tmp_path / "x.h5"
    res = _cli("simulate", "--chamber", "TPC9", "--out", str(out), "-q")
    assert res.returncode == 2
    assert "unknown chamber 'TPC9'" in res.stderr and "VTPC2" in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_inspect_bad_file_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    res = _cli("inspect", str(bad), "-q")
    assert res.returncode == 2
    assert "broken.h5" in res.stderr and "Traceback" not in res.stderr


def test_user_preset_file(tmp_path: Path) -> None:
    preset = tmp_path / "mtpcr.json"
    preset.write_text(json.dumps({"name": "MTPCR", "base": "MTPCL"}))
    out = tmp_path / "r.h5"
    res = runner.invoke(
        app,
        [
            "simulate",
            "--chamber",
            "MTPCR",
            "--preset-file",
            str(preset),
            "--events",
            "1",
            "--clusters-per-event",
            "300",
            "--out",
            str(out),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert read_clusters(out).chamber == "MTPCR"
    assert np.isfinite(read_clusters(out).charge).all()

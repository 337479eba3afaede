"""A non-editable install works from another folder: the package carries what it reads.

The install is what the wheel holds: setuptools' ``build`` (``build_py``: the packages and
package data configured in ``pyproject.toml``) run on a copy of the sources, offline. (``pip
install --no-build-isolation --target`` would do the same but needs the ``wheel`` package and
setuptools >= 68, which the test environment may lack.) The installed copy then runs with
``PYTHONPATH`` = that folder only and the current folder elsewhere, so nothing of the checkout
(``experiments/``, ``interp/core/published.json``, git) can be found by accident.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "interp", "models", "experiments")
"""What an sdist of the project holds (the rest of the checkout is not installed)."""


def build_install(tmp: Path) -> Path:
    """Builds the installed tree (the wheel's content) of a copy of the sources; returns it."""
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    lib = tmp / "build"
    code = "import setuptools; setuptools.setup()"
    cmd = [sys.executable, "-c", code, "-q", "build", "--build-base", str(lib)]
    out = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return lib / "lib"


def run_installed(
    lib: Path, cwd: Path, *args: str, timeout: int = 900
) -> subprocess.CompletedProcess:
    """Runs ``python *args`` with only the installed copy on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TPC_INTERP")}
    env["PYTHONPATH"] = str(lib)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_install(tmp_path_factory.mktemp("install"))


def test_install_holds_the_package_data(installed: Path) -> None:
    names = {p.relative_to(installed).as_posix() for p in installed.rglob("*") if p.is_file()}
    studies = {p.name for p in (REPO / "experiments").glob("*.toml")}
    presets = {p.name for p in (REPO / "experiments" / "presets").glob("*.toml")}
    assert studies and presets
    assert {f"experiments/{s}" for s in studies} <= names
    assert {f"experiments/presets/{s}" for s in presets} <= names
    assert "interp/core/published.json" in names
    assert "models/__init__.py" in names and "interp/cli/__init__.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "notebooks/")) for n in names)


def test_installed_copy_reads_its_own_configs(installed: Path, tmp_path: Path) -> None:
    code = (
        "import json, experiments, interp, models\n"
        "from interp.report.provenance import source_checkout\n"
        "from interp.study.experiments import EXPERIMENTS_DIR, load_study, study_names\n"
        "s = load_study('beam_158')\n"
        "print(json.dumps({'files': [interp.__file__, models.__file__, experiments.__file__,"
        " str(EXPERIMENTS_DIR), str(s.path), *map(str, s.presets)],"
        " 'names': study_names(), 'checkout': str(source_checkout())}))\n"
    )
    out = run_installed(installed, tmp_path, "-c", code, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    root = installed.resolve()
    for f in info["files"]:
        assert Path(f).resolve().is_relative_to(root), f"{f} is not in the installed copy"
    assert "within_chamber" in info["names"] and "beam_158" in info["names"]
    assert len(info["files"]) > 6  # beam_158 registers presets shipped in experiments/presets
    assert info["checkout"] == "None"  # provenance does not take a git commit from elsewhere


@pytest.mark.slow
def test_installed_copy_reproduces_a_study_from_another_folder(
    installed: Path, tmp_path: Path
) -> None:
    """``reproduce within_chamber --profile smoke`` (``all`` takes ~7 min on 2 busy cores)."""
    cwd, work = tmp_path / "elsewhere", tmp_path / "work"
    cwd.mkdir()
    cli = "import interp.cli; interp.cli.app()"
    args = ("reproduce", "within_chamber", "--profile", "smoke", "--workdir", str(work))
    out = run_installed(installed, cwd, "-c", cli, *args)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-3000:])
    report = work / "report-within_chamber-smoke"
    assert (report / "index.html").is_file() and (report / "REPORT.md").is_file()
    prov = json.loads((report / "provenance.json").read_text())
    status = {k: v["status"] for k, v in prov["stages"].items()}
    assert status and set(status.values()) <= {"done", "reused"}, status
    assert prov["git_commit"] is None
    text = (report / "REPORT.md").read_text()
    assert "## Within-chamber accuracy" in text or "within_chamber" in text
    assert not list(cwd.iterdir()), "the run wrote into the current folder"

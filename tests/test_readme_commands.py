"""The README's command sequence (section "Command line") runs, line by line, in order, from
an empty folder, on the smoke profile (``TPC_INTERP_PROFILE=smoke``); the whole-study lines
(``matrix``, ``explain``, ``reproduce``) are skipped (their runs are tested elsewhere)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDY_COMMANDS = ("matrix", "explain", "reproduce")
"""Commands that run a whole study: minutes even on the smoke profile, so the test checks
their options parse (``--help`` is not enough: it ignores the rest) only by name."""


def readme_command_lines() -> list[str]:
    """The lines of the first ``bash`` block after the README heading "Command line"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Command line") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "README section 'Command line' has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_block_is_found() -> None:
    lines = readme_command_lines()
    assert lines[0].startswith("tpc-interp simulate") and len(lines) >= 10
    known = {"simulate", "inspect", "split", "figures-clusters", "train", "predict", "export"}
    used = {line.split()[1] for line in lines if line.startswith("tpc-interp ")}
    assert known <= used | set(STUDY_COMMANDS), used


@pytest.mark.slow
def test_readme_commands_run_in_order(tmp_path: Path) -> None:
    exe = shutil.which("tpc-interp", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("tpc-interp console script not installed")
    env = {
        **os.environ,
        "TPC_INTERP_PROFILE": "smoke",
        "JAX_PLATFORMS": "cpu",
        "PATH": f"{Path(exe).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    for line in readme_command_lines():
        if line.split()[:2][-1] in STUDY_COMMANDS:
            continue
        res = subprocess.run(
            ["bash", "-c", f"set -eo pipefail; {line}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, f"README line failed:\n{line}\n{res.stderr[-3000:]}"

"""The README's command sequence (section "Command line") runs, line by line, in order, from
an empty folder, on the smoke profile (``TPC_INTERP_PROFILE=smoke``); the whole-study lines
(``matrix``, ``explain``, ``reproduce``) are skipped (their runs are tested elsewhere). The
first line runs through the installed console script; the other plain ``tpc-interp ARGS`` lines
run its entry point (``interp.cli:app``) in forked children of one preloaded process
(:mod:`forkserver`), sparing a JAX start-up each; lines with shell syntax run in ``bash``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLI_CODE, CLI_PRELOAD
from forkserver import ForkServer

ROOT = Path(__file__).resolve().parents[1]
STUDY_COMMANDS = ("matrix", "explain", "reproduce")
"""Commands that run a whole study: minutes even on the smoke profile, so the test checks
their options parse (``--help`` is not enough: it ignores the rest) only by name."""


def plain_cli_words(line: str) -> list[str] | None:
    """The arguments of a ``tpc-interp ARGS  # comment`` line, or ``None`` when the line is
    anything else (another program, or shell syntax: pipes, redirections, ``;``, ``&&``)."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    words = list(lex)
    if not words or words[0] != "tpc-interp":
        return None
    if any(w and all(c in lex.punctuation_chars for c in w) for w in words):
        return None
    return words[1:]


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
    lines = [ln for ln in readme_command_lines() if ln.split()[:2][-1] not in STUDY_COMMANDS]
    with ForkServer(CLI_PRELOAD, env, ROOT) as server:
        for i, line in enumerate(lines):
            words = plain_cli_words(line)
            if i == 0 or words is None:  # the console script itself (first line); shell lines
                res = subprocess.run(
                    ["bash", "-c", f"set -eo pipefail; {line}"],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
            else:  # ``tpc-interp ARGS``: interp.cli:app in a fresh child of a preloaded process
                res = server.run(CLI_CODE, words, cwd=tmp_path, timeout=300)
            assert res.returncode == 0, f"README line failed:\n{line}\n{res.stderr[-3000:]}"

"""Provenance of a report: package versions, machine, seeds, configs, data sizes, wall time."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from interp.core.cpus import usable_cpus

PACKAGES: tuple[str, ...] = (
    "tpc-interp",
    "numpy",
    "scipy",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "xgboost",
    "xgboost-cpu",
    "scikit-learn",
    "plotly",
    "matplotlib",
    "h5py",
    "pyarrow",
    "uproot",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"not installed"`` otherwise)."""
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


# the instruction-set extensions that decide which CPU kernels XLA, ONNX Runtime and numpy pick
VECTOR_EXTENSIONS: tuple[str, ...] = (
    "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
    "amx_bf16", "amx_int8", "asimd", "sve",
)  # fmt: skip


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU's model name and vector extensions, read from ``/proc/cpuinfo`` (Linux).

    Timings from two hosts compare only when these match: the same "2 cores" can be a
    different microarchitecture from one VM to the next.

    Returns:
        ``{"cpu_model": str | None, "vector_extensions": [names in VECTOR_EXTENSIONS]}``;
        ``None`` and ``[]`` where the file is absent or holds no such lines.
    """
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return {"cpu_model": None, "vector_extensions": []}
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if model is None and key in ("model name", "cpu model"):
            model = value.strip() or None
        elif not flags and key in ("flags", "features"):
            flags = set(value.split())
    return {"cpu_model": model, "vector_extensions": [f for f in VECTOR_EXTENSIONS if f in flags]}


def machine() -> dict[str, Any]:
    """CPU count (and the ones this process may use), CPU model and vector extensions, load,
    platform, Python."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        **cpu_model(),
        "load_average_1_5_15min": load,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
    }


def source_checkout() -> Path | None:
    """The project checkout the running package comes from, or ``None`` when it is installed.

    A non-editable install (site-packages, ``pip install --target``) has no checkout beside it;
    a folder counts as the checkout only when it holds this project's ``pyproject.toml`` and
    ``.git``, so a venv or target folder inside some other repository is not mistaken for one.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / ".git").exists():
        return root
    return None


def git_commit(repo: Path | None) -> str | None:
    """``git rev-parse HEAD`` of ``repo`` plus ``-dirty`` if modified, or ``None`` (no repo,
    no git, not a repository)."""
    if repo is None:
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def collect(
    command: str, profile: str, stages: Mapping[str, Mapping[str, Any]], wall_seconds: float
) -> dict[str, Any]:
    """The provenance record.

    Args:
        command: The command line.
        profile: Profile name.
        stages: ``"<study>/<kind>"`` -> ``{"folder", "status", "seconds", "config", ...}``.
        wall_seconds: Wall time of this invocation.
    """
    return {
        "command": command,
        "profile": profile,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_seconds_this_run": wall_seconds,
        "git_commit": git_commit(source_checkout()),
        "machine": machine(),
        "packages": package_versions(),
        "stages": dict(stages),
    }


def _data_sizes(folder: Path) -> str:
    mpath = folder / "matrix.json"
    if not mpath.is_file():
        return ""
    data = json.loads(mpath.read_text()).get("data", {})
    return "; ".join(
        f"{c} "
        + "/".join(f"{s['clusters']:,}" for s in d["splits"].values())
        + " clusters (train/val/test)"
        + (" simulated" if d.get("simulated") else f" {d['path']}")
        for c, d in data.items()
    )


def _stage_total(stages: Mapping[str, Mapping[str, Any]]) -> float:
    folders = {s.get("folder"): s.get("seconds", 0.0) for s in stages.values() if s.get("folder")}
    return float(sum(folders.values()))


def provenance_md(prov: Mapping[str, Any]) -> str:
    """Provenance as Markdown."""
    m = prov["machine"]
    lines = [
        "## Provenance",
        "",
        f"- command: `{prov['command']}`",
        f"- profile: `{prov['profile']}`; created {prov['created_utc']}; wall time of the "
        f"stages' original runs {_stage_total(prov['stages']):.1f} s (shared stages once); "
        f"this invocation until the report {prov['wall_seconds_this_run']:.1f} s",
        f"- git commit: `{prov['git_commit'] or 'none (installed package, no checkout)'}`",
        f"- machine: {m['cpu_count']} CPUs ({m['usable_cpus']} usable), load average "
        f"{m['load_average_1_5_15min']}, {m['platform']}, {m['processor']}, Python {m['python']}",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in prov["packages"].items()),
        "",
        "| study / stage | status | wall time of the original run (s) | seeds | data | folder |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in prov["stages"].items():
        cfg = s.get("config", {})
        mc = cfg.get("matrix") or cfg.get("data") or {}
        seeds = f"seed {mc['seed']}" if "seed" in mc else ""
        if "explain" in cfg:
            seeds = f"sampling seed {cfg['explain'].get('seed')}"
        sizes = _data_sizes(Path(s["folder"])) if s.get("folder") else ""
        status = s["status"] + (f": {s['reason']}" if s.get("reason") else "")
        lines.append(
            f"| {name} | {status} | {s.get('seconds', 0):.1f} | {seeds} | {sizes} | "
            f"`{s.get('folder', '')}` |"
        )
    lines += [
        "",
        "Each stage folder holds `config.json` (the full config: training profile and "
        "overrides, bootstrap replicates, presets' values, data-file identities) and "
        "`stage.json`; `provenance.json` beside this report has everything above as JSON.",
    ]
    return "\n".join(lines) + "\n"

"""Checks and data commands over a selection of studies, before any stage runs (``reproduce``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def simulate_lines(studies: Sequence[Any], profile: str) -> list[tuple[str, str]]:
    """``(study name, tpc-interp simulate line)`` per (matrix settings, chamber), without
    repeats: the commands that write a study's built-in data as files (pass them back with
    ``--data`` for the same numbers)."""
    from interp.study.experiments import simulate_command

    seen = set()
    out = []
    for s in studies:
        if "matrix" not in s.stages:
            continue
        s.register_presets()
        cfg = s.matrix_config(profile)
        for chamber in cfg.chambers:
            args = simulate_command(chamber, cfg, f"{chamber}_{profile}.h5")
            line = " ".join(["tpc-interp", *args])
            if s.presets:
                line += " " + " ".join(f"--preset-file {p}" for p in s.presets)
            if line not in seen:
                seen.add(line)
                out.append((s.name, line))
    return out


def check_study_inputs(
    studies: Sequence[Any], profile: str, files: Mapping[str, Path], rename_chamber: bool
) -> None:
    """Checks every ``--data`` file against the studies before any stage runs.

    Each key must name a chamber of some study's matrix (exact spelling); each study's files
    must exist, be readable cluster files of that chamber and share the study's window.

    Raises:
        UnknownNameError, TPCInterpError, ClusterDataError, ShapeMismatchError: As
        :func:`interp.study.inputs.check_inputs`.
    """
    from interp.study.inputs import check_inputs, resolve_data_keys

    per_study = []
    used: list[str] = []
    for s in studies:
        if "matrix" not in s.stages:
            continue
        s.register_presets()
        chambers = list(s.matrix_config(profile).chambers)
        per_study.append(chambers)
        used += [c for c in chambers if c not in used]
    resolve_data_keys(used, files)  # unknown or mis-cased keys
    for chambers in per_study:
        mine = {c: f for c, f in files.items() if c in chambers}
        check_inputs(chambers, mine, rename_chamber=rename_chamber)

"""A study's inputs: checks of ``--data`` files and chambers, simulated data cached in the work
directory, and the leak-free event splits of every chamber.

Layout under the work directory::

    data/<CHAMBER>_<n_events>x<n_clusters>_s<seed>.npz   simulated clusters (cached)
    data/<CHAMBER>_....splits.json                       event splits of that file
    data/<stem>-<file key>.splits.json                   splits of a user file (path-keyed)
    data/shared-<key>.splits.json                        one split of chambers sharing events
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.errors import (
    ClusterDataError,
    ShapeMismatchError,
    TPCInterpError,
    UnknownNameError,
)
from interp.core.fsutil import (
    record_digest,
    recorded_digest_problem,
)
from interp.core.schema import ClusterSet
from interp.data.splits import (
    Splits,
    check_no_leak,
    make_splits,
    overlapping_groups,
    split_shared,
    splits_path_for,
)
from interp.study.config import MatrixConfig

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ChamberData:
    """One chamber's clusters and their event splits.

    Attributes:
        chamber: Chamber name.
        path: Cluster file the data came from.
        splits: Event ids per split.
        parts: ``{"train", "val", "test"}`` cluster sets.
        simulated: Whether the data were simulated by the pipeline.
        splits_path: Where the splits came from (a splits file or the pipeline's cache).
    """

    chamber: str
    path: Path
    splits: Splits
    parts: dict[str, ClusterSet]
    simulated: bool
    splits_path: Path | None = None

    @property
    def window(self) -> tuple[int, int]:
        return self.parts["train"].window_shape


# ----------------------------------------------------------------------------------- data
def chamber_seed(chamber: str, seed: int) -> int:
    return int(seed) * 1_000_003 + zlib.crc32(chamber.encode()) % 1_000_003


def _simulate(chamber: str, config: MatrixConfig, progress: bool) -> ClusterSet:
    try:
        from interp.data.simulator import simulate
    except ImportError as exc:
        raise ClusterDataError(
            None, None, f"the simulator is not available ({exc}); pass --data {chamber}=FILE"
        ) from exc
    return simulate(
        chamber,
        n_events=config.n_events,
        seed=chamber_seed(chamber, config.seed),
        n_clusters=config.clusters_per_event,
        progress=progress,
    )


def _check_chamber_name(chamber: str) -> None:
    try:
        from interp.data.chambers import get_chamber
    except ImportError:
        return
    get_chamber(chamber)  # raises UnknownChamberError listing the known chambers


def resolve_data_keys(
    chambers: Iterable[str], data_files: Mapping[str, str | Path] | None
) -> dict[str, Path]:
    """Checks that every ``--data`` key names a chamber in use; nothing is dropped silently.

    Keys must match exactly (a file is never substituted by the simulator, nor a chamber
    guessed); a key that differs only in case gets an error suggesting the right spelling.

    Returns:
        Chamber -> file.

    Raises:
        UnknownNameError: A key that names no chamber in use, listing the chambers in use.
        TPCInterpError: A key that differs from a chamber in use only in case.
    """
    chambers = list(chambers)
    folded = {c.casefold(): c for c in chambers}
    out: dict[str, Path] = {}
    for key, file in (data_files or {}).items():
        if key not in chambers:
            if key.casefold() in folded:
                right = folded[key.casefold()]
                raise TPCInterpError(
                    f"--data {key}={file}: no chamber {key!r} in use; chamber names are "
                    f"case-sensitive, did you mean --data {right}={file}?"
                )
            raise UnknownNameError("chamber in --data (not used by this command)", key, chambers)
        out[key] = Path(file)
    return out


def _file_info(path: Path, chamber: str) -> dict[str, Any]:
    """:func:`interp.data.io.read_info`; the study's chamber name serves files without one."""
    from interp.data.io import read_info

    return read_info(path, chamber=chamber)


def check_inputs(
    chambers: Iterable[str],
    data_files: Mapping[str, str | Path] | None = None,
    *,
    rename_chamber: bool = False,
    window: tuple[int, int] | None = None,
) -> dict[str, Path]:
    """Checks every input of a study before anything is trained or written.

    Checks that each ``--data`` key names a chamber in use (:func:`resolve_data_keys`), each
    file exists and is a readable cluster file whose chamber metadata agrees with its key
    (unless ``rename_chamber``), each chamber without a file has a simulator preset, and all
    chambers share one window shape (and ``window``, a classifier's, when given). Only file
    metadata is read, no charge data.

    Returns:
        Chamber -> file, keyed by the chambers' own spelling.

    Raises:
        UnknownNameError: Unknown ``--data`` key or chamber without preset.
        ClusterDataError: Missing or unreadable file, or a chamber that disagrees with its key.
        ShapeMismatchError: Different window shapes.
    """
    chambers = list(chambers)
    files = resolve_data_keys(chambers, data_files)
    windows: dict[str, tuple[int, int]] = {}
    for chamber in chambers:
        if chamber in files:
            info = _file_info(files[chamber], chamber)
            own = info.get("chamber")
            if own and str(own).casefold() != chamber.casefold() and not rename_chamber:
                raise ClusterDataError(
                    str(files[chamber]),
                    "chamber",
                    f"the file says chamber {own!r} but --data gives it as {chamber!r}; "
                    f"use --data {own}=FILE, or --rename-chamber to study it as {chamber}",
                )
            windows[chamber] = tuple(int(w) for w in info["window"])
        else:
            _check_chamber_name(chamber)
            try:
                from interp.data.chambers import get_chamber
            except ImportError:
                continue
            windows[chamber] = tuple(get_chamber(chamber).window)
    if len(set(windows.values())) > 1:
        raise ShapeMismatchError(
            "all chambers must share one window shape (pads, time bins) to cross-evaluate; got "
            + ", ".join(
                f"{c} {w}" + (f" ({files[c]})" if c in files else "") for c, w in windows.items()
            )
        )
    if window is not None:
        for c, w in windows.items():
            if w != tuple(window):
                where = f" ({files[c]})" if c in files else ""
                raise ShapeMismatchError(
                    f"{c}{where} has window {w}, the classifier expects {tuple(window)}"
                )
    return files


def _identity_key(path: Path) -> str:
    """8 hex digits naming a file by resolved path, size and modification time."""
    st = path.stat()
    text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return f"{zlib.crc32(text.encode()):08x}"


def _read_or_simulate(
    chamber: str, config: MatrixConfig, data_dir: Path, file: Path | None, progress: bool
) -> tuple[ClusterSet, Path, bool]:
    """``(clusters, path, simulated)`` of one chamber (simulated data cached in data_dir)."""
    from interp.data.io import read_clusters, write_clusters

    if file is not None:
        data = read_clusters(file, chamber=chamber)  # the key names a file without a chamber
        if data.chamber != chamber:
            data = dataclasses.replace(data, chamber=chamber)
        return data, file, False
    _check_chamber_name(chamber)
    cpe = config.clusters_per_event if config.clusters_per_event is not None else "default"
    path = data_dir / f"{chamber}_{config.n_events}x{cpe}_s{config.seed}.npz"
    stale = recorded_digest_problem(path) if path.is_file() else "absent"
    if stale is None:
        data = read_clusters(path)
    else:
        if stale != "absent":
            log.warning("%s: %s; simulating it again", path, stale)
        data = _simulate(chamber, config, progress)
        write_clusters(data, path)
        record_digest(path)
    return data, path, True


def _independent_by_construction(data: ClusterSet, simulated: bool) -> bool:
    """Simulated chambers are drawn event by event with their own seeds: equal event numbers
    there are not the same collision (files written by the simulator carry its truth)."""
    return simulated or "noise_kind" in data.truth


def _cached_splits(path: Path, config: MatrixConfig, policy: str, chambers: tuple[str, ...]):
    """Splits cached by the pipeline at ``path`` if they have the config's seed, fractions,
    policy and chamber group, else ``None``."""
    if not path.is_file():
        return None
    s = Splits.load(path)
    same = s.seed == config.seed and np.allclose(s.fractions, config.fractions)
    if same and s.policy == policy and tuple(s.chambers) == tuple(chambers):
        return s
    return None


def load_study_data(
    chambers: Iterable[str],
    config: MatrixConfig,
    workdir: str | Path,
    data_files: Mapping[str, str | Path] | None = None,
    progress: bool = False,
    *,
    rename_chamber: bool = False,
    fixed_splits: Splits | None = None,
    save_splits: bool = True,
) -> dict[str, ChamberData]:
    """Loads every chamber of a study and splits them by event, leak-free across chambers.

    All inputs are checked first (:func:`check_inputs`); nothing is written before that.
    A user file (``data_files[chamber]``) is read as is, the study's chamber name being the
    key. Simulated data are written to ``workdir/data/<CHAMBER>_<events>x<clusters>_s<seed>
    .npz`` and reused by later runs with the same settings.

    Splits: a splits file beside a user's data file (``splits_path_for(file)``) is used after
    checking it against the data (:meth:`Splits.check`). When chambers from user files share
    event ids (the same collisions seen by several chambers), one assignment is made on the
    union of their events (policy ``shared``, :func:`interp.data.splits.split_shared`) and cached
    in ``workdir/data/shared-<key>.splits.json``; per-file splits files of such chambers must
    agree (:func:`interp.data.splits.check_no_leak`). Other chambers are split on their own
    (``independent``), cached in ``workdir/data`` under a name keyed by the file's resolved
    path, size and mtime (two ``clusters.h5`` in different folders never share splits).
    Simulated chambers are independent by construction.

    Args:
        chambers: Chambers of the study.
        config: Seed, fractions and (for simulated chambers) data size.
        workdir: Study folder.
        data_files: Chamber -> file (keys matched as in :func:`resolve_data_keys`).
        progress: Show progress bars.
        rename_chamber: Accept a file whose chamber metadata differs from its key.
        fixed_splits: Splits to use for every chamber whose events they cover (a trained
            classifier's recorded splits, for ``evaluate``); never re-made.
        save_splits: Write newly made splits to the cache (``False``: keep them in memory,
            never touching a splits file).

    Returns:
        Chamber -> :class:`ChamberData`, in the order of ``chambers``.

    Raises:
        UnknownNameError, ClusterDataError, ShapeMismatchError: See :func:`check_inputs`;
        also unreadable data, bad splits files, too few events or an empty split.
    """
    chambers = list(chambers)
    files = check_inputs(chambers, data_files, rename_chamber=rename_chamber)
    workdir = Path(workdir)
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    loaded = {c: _read_or_simulate(c, config, data_dir, files.get(c), progress) for c in chambers}
    events = {c: d.event_id for c, (d, _, _) in loaded.items()}

    splits: dict[str, Splits] = {}
    where: dict[str, Path] = {}
    for c, (data, path, simulated) in loaded.items():
        own = splits_path_for(path)
        if not simulated and own.is_file():
            splits[c] = Splits.load(own, data.event_id)
            where[c] = own
    if fixed_splits is not None:
        fixed_events = np.concatenate([fixed_splits.events[k] for k in ("train", "val", "test")])
        for c in chambers:
            if c in fixed_splits.chambers or np.isin(events[c], fixed_events).any():
                fixed_splits.check(events[c], f"{c}: the classifier's recorded splits")
                splits[c] = fixed_splits
                where[c] = Path("<recorded splits>")

    real = {
        c: events[c]
        for c, (d, _, sim) in loaded.items()
        if not _independent_by_construction(d, sim)
    }
    groups = overlapping_groups(real)
    for group in groups:
        have = [c for c in group if c in splits]
        if have and len(have) < len(group):
            lone = next(c for c in group if c not in splits)
            raise ClusterDataError(
                str(loaded[lone][1]),
                "event_id",
                f"{lone} shares events with {', '.join(have)}, whose splits are fixed "
                f"({', '.join(str(where[c]) for c in have)}); give a splits file for every "
                "chamber that shares events, or for none",
            )
        if have:
            check_no_leak({c: splits[c] for c in group}, events, where)
            continue
        ids = "|".join(f"{c}={_identity_key(loaded[c][1])}" for c in group)
        cache = data_dir / f"shared-{zlib.crc32(ids.encode()):08x}.splits.json"
        s = _cached_splits(cache, config, "shared", group)
        if s is None:
            s = split_shared(
                {c: (loaded[c][0].event_id, loaded[c][0].label) for c in group},
                config.fractions,
                config.seed,
            )
            if save_splits:
                s.save(cache)
        for c in group:
            splits[c], where[c] = s, cache

    out: dict[str, ChamberData] = {}
    for c, (data, path, simulated) in loaded.items():
        if c not in splits:
            if simulated:
                cache = splits_path_for(path)
            else:
                cache = data_dir / f"{path.name.split('.')[0]}-{_identity_key(path)}.splits.json"
            s = _cached_splits(cache, config, "independent", ())
            if s is None:
                s = make_splits(data, config.fractions, config.seed)
                if save_splits:
                    s.save(cache)
            splits[c], where[c] = s, cache
        parts = splits[c].apply(data)
        for name in ("train", "val", "test"):
            if name not in parts or len(parts[name]) == 0:
                raise ClusterDataError(str(path), "event_id", f"split '{name}' holds no clusters")
        out[c] = ChamberData(c, path, splits[c], parts, simulated, where[c])
    return out


def load_chamber_data(
    chamber: str,
    config: MatrixConfig,
    workdir: str | Path,
    data_files: Mapping[str, str | Path] | None = None,
    progress: bool = False,
) -> ChamberData:
    """One chamber of :func:`load_study_data` on its own (``independent`` splits, or those of
    a splits file beside the user's data file); ``data_files`` may name other chambers, which
    are ignored here."""
    files = {k: v for k, v in (data_files or {}).items() if k == chamber}
    return load_study_data([chamber], config, workdir, files, progress)[chamber]


def split_policy(data: Mapping[str, ChamberData]) -> dict[str, Any]:
    """What ``matrix.json`` and run records say about the splits of a study.

    Returns:
        ``{"policy": "shared" | "independent", "groups": [[chambers sharing one split], ...]}``;
        ``shared`` when any chambers' events overlapped.
    """
    groups = []
    for d in data.values():
        g = list(d.splits.chambers)
        if d.splits.policy == "shared" and g not in groups:
            groups.append(g)
    return {"policy": "shared" if groups else "independent", "groups": groups}

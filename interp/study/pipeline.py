"""The train-on-one-chamber / test-on-both study, as in the published NA61/SHINE analysis.

Layout of a study directory (``workdir``)::

    data/<CHAMBER>_<n_events>x<n_clusters>_s<seed>.npz   simulated clusters (cached)
    data/<CHAMBER>_....splits.json                       event splits of that file
    data/<stem>-<file key>.splits.json                   splits of a user file (path-keyed)
    data/shared-<key>.splits.json                        one split of chambers sharing events
    runs/<model>/<CHAMBER>/classifier.json ...           the cell's classifier (first seed)
    runs/<model>/<CHAMBER>/run.json                      training identity, provenance, time
    runs/<model>/<CHAMBER>/splits.json                   the splits it was trained with
    seeds/<model>/<CHAMBER>/seed<k>/...                  further training seeds of the cell
    matrix.json, matrix.md                               results

Every cell of the matrix is one model trained on one chamber's *train* split (early stopping /
model selection on that chamber's *val* split) and evaluated on the *test* split of every
chamber: the diagonal is the within-chamber result, the off-diagonal the cross-chamber one.
The operating point (threshold) is chosen on the training chamber's validation split, as a
deployed model would be tuned, then applied unchanged to every test chamber.

Every model of a cell trains on the same clusters (one cap, :attr:`MatrixConfig.max_train_clusters`)
with :attr:`MatrixConfig.train_seeds` training seeds; the headline metric is balanced accuracy
(the published one), with intervals over test events and seeds, and every model pair of a cell
gets a paired difference (:func:`paired_differences`).

Re-running a study reuses the cached data, the saved splits and every finished classifier whose
``run.json`` records the same training identity (:func:`training_identity`: model, profile,
resolved config with overrides and seed, data fingerprint), so an interrupted matrix continues
where it stopped; a cell whose identity changed is retrained and ``matrix.md`` says why.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.classifier import (
    CLASSIFIER_FILE,
    Classifier,
    check_window,
    get_trainer,
    load_classifier,
)
from interp.core.errors import (
    ClusterDataError,
    ShapeMismatchError,
    TPCInterpError,
    UnknownNameError,
)
from interp.core.fsutil import (
    atomic_write_text,
    folder_problems,
    record_digest,
    recorded_digest_problem,
)
from interp.core.locking import workdir_lock
from interp.core.names import check_name, name_folder
from interp.core.schema import ClusterSet
from interp.data.splits import (
    DEFAULT_FRACTIONS,
    Splits,
    check_no_leak,
    make_splits,
    overlapping_groups,
    split_shared,
    splits_path_for,
)
from interp.evaluation.metrics import (
    SEED_METHOD,
    choose_threshold,
    evaluate_scores,
    paired_difference,
    rates_by_truth,
)

PROFILES: tuple[str, ...] = ("smoke", "quick", "full")
DEFAULT_MODELS: tuple[str, ...] = ("perceptron", "split_conv", "resnet", "xgboost")
DEFAULT_CHAMBERS: tuple[str, ...] = ("VTPC2", "MTPCL")
RUN_FILE = "run.json"
NOT_TRAINED = "not trained yet"  # the reuse check's reason for a run folder with no model
MAX_SIGNAL_LOSS = 0.05
"""Default validation signal-loss bound of the operating point (stored with each model)."""
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class MatrixConfig:
    """What to train and evaluate.

    Attributes:
        models: Model names (see :func:`interp.backends.classifier.trainable_model_names`).
        chambers: Chambers; each is a training and a test chamber.
        n_events: Simulated events per chamber (ignored for user data files).
        clusters_per_event: Simulated clusters per event; ``None`` is the chamber preset's
            default (28,764, the published average).
        fractions: (train, val, test) fractions of clusters, split by whole events.
        seed: Seed of simulation, splits, training and bootstrap.
        profile: Training profile name (``smoke``, ``quick``, ``full``) passed to every
            model's config class.
        train_overrides: Model name -> config fields to change on top of the profile, e.g.
            ``{"resnet": {"max_epochs": 3}}``.
        n_boot: Bootstrap replicates for the confidence intervals (0 disables them).
        max_signal_loss: Signal-loss bound of the validation-chosen operating point.
        train_seeds: Training seeds per cell (``seed``, ``seed + 1``, ...); intervals combine
            event resampling with a random seed draw per replicate
            (:func:`interp.evaluation.metrics.evaluate_scores`), and the seed spread is reported
            alone.
        max_train_clusters: One cap for every model of the matrix (``None``: all training
            clusters). The subset is drawn once per chamber with ``seed``, so every model and
            every training seed of a cell trains on the very same clusters; the Flax
            profiles' own caps are switched off in the matrix.
    """

    models: tuple[str, ...] = DEFAULT_MODELS
    chambers: tuple[str, ...] = DEFAULT_CHAMBERS
    n_events: int = 100
    clusters_per_event: int | None = None
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    seed: int = 0
    profile: str = "full"
    train_overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    n_boot: int = 1000
    max_signal_loss: float = MAX_SIGNAL_LOSS
    train_seeds: int = 1
    max_train_clusters: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "chambers", tuple(self.chambers))
        if self.profile not in PROFILES:
            raise UnknownNameError("training profile", self.profile, PROFILES)
        if not self.models or not self.chambers:
            raise ValueError("MatrixConfig needs at least one model and one chamber")
        for field, values in (("models", self.models), ("chambers", self.chambers)):
            for v in values:
                check_name(v, field[:-1], f"MatrixConfig.{field}")
            if len(set(values)) != len(values):
                raise ValueError(f"MatrixConfig.{field} has duplicates: {values}")
        if self.n_events < 3:
            raise ValueError(f"n_events must be >= 3 (one per split), got {self.n_events}")
        if self.train_seeds < 1:
            raise ValueError(f"train_seeds must be >= 1, got {self.train_seeds}")
        if self.max_train_clusters is not None and self.max_train_clusters < 1:
            raise ValueError(f"max_train_clusters must be >= 1, got {self.max_train_clusters}")
        capped = sorted(m for m, o in self.train_overrides.items() if "max_train_clusters" in o)
        if capped:
            raise ValueError(
                f"train_overrides of {capped} set max_train_clusters: a per-model cap makes "
                "models train on different clusters; use one cap for every model "
                "(MatrixConfig.max_train_clusters)"
            )

    @classmethod
    def smoke(cls, **changes: Any) -> MatrixConfig:
        """Tiny: 6 events x 300 clusters per chamber, smoke training, 200 bootstraps.

        The Flax models use a fixed learning rate (no LR range finder) to save seconds.
        """
        fixed_lr = {"learning_rate": 3e-3}
        base = cls(
            n_events=6,
            clusters_per_event=300,
            profile="smoke",
            n_boot=200,
            train_overrides={m: fixed_lr for m in ("perceptron", "split_conv", "resnet")},
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def quick(cls, **changes: Any) -> MatrixConfig:
        """The whole 4-model x 2 x 2 matrix, 3 training seeds, in ~10 minutes on 2 CPU cores.

        140 events x 500 clusters per chamber (70k clusters; ~49k train / 10.5k val / 10.5k
        test in ~98 / 21 / 21 events), so that every test split holds at least 20 events.
        Every model trains on the same 15,000 clusters of each chamber (one cap), with 3
        training seeds; quick training profile (at most 8 epochs), the split convolution
        capped at 6 epochs and the ResNet at 5. Traded for the seeds and the 20 test events:
        fewer clusters per event (500 instead of 2,250) and fewer training clusters (15k for
        every model, instead of ~63k for the perceptron and XGBoost, 40k for the split conv
        and 30k for the ResNet). Estimated from one timed seed of every model on VTPC2
        (2026-12-01, 2-core VM shared with other jobs, load average ~9, 15k clusters: 4 / 18 /
        5 / 31 s CPU for perceptron / XGBoost / split conv / ResNet, 57 s in all): ~6 CPU
        minutes for the 24 trainings (2 chambers x 4 models x 3 seeds), ~4-6 minutes of wall
        time for the matrix on an idle 2-core machine (not timed as a whole).
        """
        base = cls(
            n_events=140,
            clusters_per_event=500,
            profile="quick",
            train_seeds=3,
            max_train_clusters=15_000,
            train_overrides={"split_conv": {"max_epochs": 6}, "resnet": {"max_epochs": 5}},
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def full(cls, **changes: Any) -> MatrixConfig:
        """100 events x 28,764 clusters per chamber (2.9 M clusters each), full profile,
        5 training seeds, every training cluster used by every model."""
        return dataclasses.replace(cls(train_seeds=5), **changes)

    @classmethod
    def from_profile(cls, name: str, **changes: Any) -> MatrixConfig:
        """:meth:`smoke`, :meth:`quick` or :meth:`full` by name."""
        if name not in PROFILES:
            raise UnknownNameError("matrix profile", name, PROFILES)
        return getattr(cls, name)(**changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["train_overrides"] = {k: dict(v) for k, v in self.train_overrides.items()}
        return d


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
def _chamber_seed(chamber: str, seed: int) -> int:
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
        seed=_chamber_seed(chamber, config.seed),
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


SPLITS_FILE = "splits.json"


def record_splits(run_dir: Path, data: ChamberData) -> dict[str, Any]:
    """Saves the splits a classifier was trained with into its run folder.

    Writes ``run_dir/splits.json`` (unless present: an existing model's splits are never
    overwritten) and a ``"splits"`` summary into ``run_dir/run.json``: ``seed``,
    ``fractions``, ``policy``, ``chambers`` and ``file``. ``evaluate`` uses exactly these.

    Returns:
        The summary.
    """
    path = run_dir / SPLITS_FILE
    if not path.is_file():
        data.splits.save(path)
    saved = Splits.load(path)
    summary = {
        "seed": saved.seed,
        "fractions": list(saved.fractions),
        "policy": saved.policy,
        "chambers": list(saved.chambers),
        "file": SPLITS_FILE,
    }
    run_path = run_dir / RUN_FILE
    if run_path.is_file():
        info = json.loads(run_path.read_text())
        if info.get("splits") != summary:
            info["splits"] = summary
            atomic_write_text(run_path, json.dumps(info, indent=1))
    return summary


def recorded_splits(run_dir: str | Path) -> tuple[Splits, dict[str, Any]]:
    """The splits a classifier in ``run_dir`` was trained with, and its run record.

    Older runs without ``splits.json`` get splits re-made with the seed and fractions of
    their run record, in memory only; ``evaluate`` then checks them against the training
    fingerprint.

    Returns:
        ``(splits or None, run record)``; ``None`` when the run has no ``splits.json``.

    Raises:
        ClusterDataError: Unreadable run record or splits file.
    """
    run_dir = Path(run_dir)
    info: dict[str, Any] = {}
    run_path = run_dir / RUN_FILE
    if run_path.is_file():
        try:
            info = json.loads(run_path.read_text())
        except json.JSONDecodeError as exc:
            raise ClusterDataError(str(run_path), None, f"cannot read run record: {exc}") from exc
    path = run_dir / SPLITS_FILE
    return (Splits.load(path) if path.is_file() else None), info


def check_fingerprint(run_dir: str | Path, info: Mapping[str, Any], data: ChamberData) -> None:
    """Refuses to evaluate a classifier on data other than those it was trained on.

    Raises:
        ClusterDataError: The train/val splits of ``data`` differ from the run record's
            fingerprint.
    """
    fp = info.get("fingerprint")
    now = _fingerprint(data.parts["train"], data.parts["val"])
    if fp is not None and fp != now:
        raise ClusterDataError(
            str(run_dir),
            "splits",
            f"the training data or splits differ from those this classifier was trained on "
            f"({fp} vs now {now}); evaluate never re-splits under a model: pass the files it "
            "was trained with",
        )


# ----------------------------------------------------------------------------------- training
def make_train_config(
    model: str, profile: str, overrides: Mapping[str, Any] | None = None, seed: int | None = None
) -> Any:
    """The config object of a model's trainer for a profile name.

    XGBoost uses :class:`interp.backends.xgboost.classifier.XGBConfig`; every Flax model uses
    :class:`interp.backends.flax.config.TrainConfig`.

    Raises:
        UnknownNameError: Unknown profile.
        TypeError: An override names a field the config class does not have.
    """
    if profile not in PROFILES:
        raise UnknownNameError("training profile", profile, PROFILES)
    cls: type
    if model == "xgboost":
        from interp.backends.xgboost.classifier import XGBConfig

        cls = XGBConfig
    else:
        from interp.backends.flax.config import TrainConfig

        cls = TrainConfig
    cfg = getattr(cls, profile)()
    changes = dict(overrides or {})
    if seed is not None:
        changes.setdefault("seed", seed)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {unknown}; known: {sorted(known)}")
    return dataclasses.replace(cfg, **changes)


def _fingerprint(train: ClusterSet, val: ClusterSet) -> dict[str, Any]:
    """Identity of a training set: cluster/event counts and a checksum of event ids/labels."""
    h = zlib.crc32(np.ascontiguousarray(train.event_id).tobytes())
    h = zlib.crc32(np.ascontiguousarray(train.label).tobytes(), h)
    h = zlib.crc32(np.ascontiguousarray(val.event_id).tobytes(), h)
    return {
        "chamber": train.chamber,
        "window": list(train.window_shape),
        "n_train": len(train),
        "n_val": len(val),
        "checksum": int(h),
    }


def _to_jsonable(cfg: Any) -> Any:
    if hasattr(cfg, "to_dict"):
        return cfg.to_dict()
    if dataclasses.is_dataclass(cfg):
        return dataclasses.asdict(cfg)
    return cfg


def training_identity(
    model: str, profile: str, cfg: Any, fingerprint: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything a trained classifier depends on: the cache key of a run folder.

    The resolved config object holds the profile's values, every override and the seed; the
    fingerprint names the training data (see :func:`_fingerprint`).
    """
    return json.loads(
        json.dumps(
            {
                "model": model,
                "profile": profile,
                "config": _to_jsonable(cfg),
                "fingerprint": dict(fingerprint),
            },
            default=str,
        )
    )


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, Mapping):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _identity_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    """``None`` when equal, else a short sentence naming what changed."""
    if old is None:
        return "the run folder records no training identity (older run)"
    if old == new:
        return None
    fo, fn = _flat(old), _flat(new)
    changed = sorted(k for k in set(fo) | set(fn) if fo.get(k) != fn.get(k))
    data = [k for k in changed if k.startswith("fingerprint.")]
    rest = [f"{k} {fo.get(k)!r} -> {fn.get(k)!r}" for k in changed if k not in data]
    parts = (["training data changed"] if data else []) + rest
    text = "; ".join(parts)
    return text if len(text) <= 300 else text[:297] + "..."


def _reuse_check(run_dir: Path, identity: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Whether ``run_dir`` holds a finished classifier of exactly ``identity``.

    Returns:
        ``(True, None)`` to reuse; ``(False, None)`` when nothing finished is there;
        ``(False, reason)`` when a finished run was made with another training identity.
    """
    run_path = run_dir / RUN_FILE
    if not ((run_dir / CLASSIFIER_FILE).is_file() and run_path.is_file()):
        return False, None
    try:
        info = json.loads(run_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return False, f"unreadable {RUN_FILE} ({exc})"
    why = _identity_changes(info.get("identity"), identity)
    return why is None, why


def _clear_run_dir(run_dir: Path) -> None:
    """Removes a stale run's files (classifier, checkpoints) so the trainer starts afresh."""
    import shutil

    for p in run_dir.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def train_one(
    model: str,
    chamber: str,
    train: ClusterSet,
    val: ClusterSet,
    workdir: str | Path,
    profile: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    seed: int = 0,
    progress: bool = False,
    run_dir: str | Path | None = None,
) -> tuple[Classifier, dict[str, Any]]:
    """Trains one model on one chamber, or reuses the finished classifier in its run folder.

    The run folder is ``run_dir`` (default ``workdir/runs/<model>/<chamber>``). A finished
    classifier (``classifier.json`` present) is reused only if its ``run.json`` records the
    same training identity (:func:`training_identity`: model, profile, resolved config with
    every override and the seed, data fingerprint). Otherwise the folder is cleared and the
    model retrained, and ``run_info["retrained"]`` says what changed. Flax and XGBoost go
    through the same :func:`~interp.backends.classifier.get_trainer` call; the Flax trainer resumes
    its
    own checkpoints in the run folder.

    Returns:
        ``(classifier, run_info)`` where ``run_info`` holds ``train_seconds`` (of the original
        training), ``reused``, ``retrained`` (reason or ``None``), ``identity`` and the data
        fingerprint.

    Raises:
        UnknownNameError: Unknown model name.
        ClusterDataError: Empty split.
        ShapeMismatchError: A reused classifier whose window differs from the data's.
        TypeError: An override names a field the model's config class does not have.
    """
    trainer = get_trainer(model)  # raises UnknownNameError listing the known models
    for name, part in (("train", train), ("val", val)):
        if len(part) == 0:
            raise ClusterDataError(chamber, "charge", f"{name} split holds no clusters")
    if run_dir is None:
        run_dir = name_folder(Path(workdir) / "runs", model, chamber, kinds=("model", "chamber"))
    with workdir_lock(workdir):
        return _train_or_reuse(
            model, chamber, trainer, train, val, Path(run_dir), profile, overrides, seed, progress
        )


def _reuse_problem(
    run_dir: Path, identity: Mapping[str, Any]
) -> tuple[str | None, bool, dict[str, Any]]:
    """Why the run in ``run_dir`` cannot be reused (``None``: it can), and its record.

    A finished run has ``classifier.json`` and a ``run.json`` holding the training identity
    (:func:`training_identity`) and the digests of the classifier's files. A record that is
    missing, unreadable or incomplete (a kill before it was written) or files changed since
    are reasons to train again (the Flax trainer resumes its checkpoints); a run made with
    another training identity is cleared first, so nothing of it is resumed.

    Returns:
        ``(reason, clear, record)``: ``reason`` ``None`` to reuse; ``clear`` whether the
        folder belongs to another training identity.
    """
    if not (run_dir / CLASSIFIER_FILE).is_file():
        return NOT_TRAINED, False, {}
    try:
        info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{RUN_FILE} is missing (the run was interrupted before it was recorded)", False, {}
    except (OSError, ValueError) as exc:
        return f"{RUN_FILE} is unreadable ({exc})", False, {}
    if not isinstance(info, dict) or "outputs" not in info:
        why = f"{RUN_FILE} is incomplete (the run was interrupted before it was recorded)"
        return why, False, {}
    changed = _identity_changes(info.get("identity"), identity)
    if changed is not None:
        return changed, True, info
    problems = folder_problems(run_dir, info["outputs"])
    if problems:
        return "saved classifier changed since training (" + "; ".join(problems) + ")", False, info
    return None, False, info


def _train_or_reuse(
    model: str,
    chamber: str,
    trainer: Any,
    train: ClusterSet,
    val: ClusterSet,
    run_dir: Path,
    profile: str,
    overrides: Mapping[str, Any] | None,
    seed: int,
    progress: bool,
) -> tuple[Classifier, dict[str, Any]]:
    from interp.backends.classifier import SAVED_FILES
    from interp.core.fsutil import digests

    run_dir.mkdir(parents=True, exist_ok=True)
    fp = _fingerprint(train, val)
    cfg = make_train_config(model, profile, overrides, seed=seed)
    identity = training_identity(model, profile, cfg, fp)
    why, clear, info = _reuse_problem(run_dir, identity)
    if why is None:
        try:
            clf = load_classifier(run_dir)
        except (ClusterDataError, UnknownNameError) as exc:
            why = f"saved classifier cannot be loaded ({exc})"
        else:
            check_window(clf, train)
            _store_operating_point(clf, val, run_dir)
            return clf, {**info, "reused": True, "retrained": None}
    if why != NOT_TRAINED:
        log.warning("%s: %s; training it again", run_dir, why)
    if clear:
        _clear_run_dir(run_dir)

    t0 = time.perf_counter()
    clf = trainer(train, val, run_dir, config=cfg, progress=progress)
    seconds = time.perf_counter() - t0
    if not (run_dir / CLASSIFIER_FILE).is_file():
        clf.save(run_dir)
    info = {
        "model": model,
        "chamber": run_dir.name,
        "profile": profile,
        "config": _to_jsonable(cfg),
        "train_seconds": seconds,
        "fingerprint": fp,
        "identity": identity,
        "outputs": digests(run_dir, [f for f in SAVED_FILES if (run_dir / f).is_file()]),
    }
    atomic_write_text(run_dir / RUN_FILE, json.dumps(info, indent=1, default=str))
    _store_operating_point(clf, val, run_dir)
    return clf, {**info, "reused": False, "retrained": None if why == NOT_TRAINED else why}


def _store_operating_point(clf: Classifier, val: ClusterSet, run_dir: Path) -> None:
    """Chooses the validation operating point (default signal-loss bound) once and stores it
    in the model folder (``operating_point.json``) and on ``clf.threshold``; fits the
    validation calibrations once (``calibration.json``)."""
    from interp.backends.classifier import read_operating_point, write_operating_point
    from interp.evaluation.calibration import store_calibration

    threshold, scores = read_operating_point(run_dir), None
    if threshold is None and len(val) and np.any(val.label == 1):
        scores = clf.predict_proba(val.charge)
        threshold = choose_threshold(scores, val.label, MAX_SIGNAL_LOSS)
        write_operating_point(run_dir, threshold, MAX_SIGNAL_LOSS, len(val), val.chamber)
    clf.threshold = threshold
    store_calibration(run_dir, clf, val, scores)  # Platt + isotonic on val (calibration.json)


def cap_train_split(train: ClusterSet, cap: int | None, seed: int) -> ClusterSet:
    """The matrix's common training subset: at most ``cap`` clusters, drawn with ``seed``.

    The same (train split, cap, seed) always gives the same clusters, so every model and every
    training seed of a cell sees the same data. Events are not kept whole (clusters are the
    training unit; the event structure matters for the test intervals only).
    """
    if cap is None or len(train) <= cap:
        return train
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 104_729]))
    return train.subset(np.sort(rng.choice(len(train), size=cap, replace=False)))


def cell_overrides(model: str, config: MatrixConfig) -> dict[str, Any]:
    """Training overrides of a model in the matrix: the config's own, and the Flax profiles'
    cluster cap switched off (the matrix applies :attr:`MatrixConfig.max_train_clusters`)."""
    out = dict(config.train_overrides.get(model) or {})
    if model != "xgboost":
        out["max_train_clusters"] = None
    return out


def seed_run_dir(workdir: str | Path, model: str, chamber: str, index: int) -> Path:
    """Run folder of the ``index``-th training seed of a cell.

    The first seed keeps ``runs/<model>/<chamber>`` (read by the explain stage and the CLI);
    further seeds live in ``seeds/<model>/<chamber>/seed<index>``.
    """
    kinds = ("model", "chamber")
    if index == 0:
        return name_folder(Path(workdir) / "runs", model, chamber, kinds=kinds)
    return name_folder(Path(workdir) / "seeds", model, chamber, f"seed{index}", kinds=kinds)


def train_cell(
    model: str,
    data: ChamberData,
    config: MatrixConfig,
    workdir: str | Path,
    progress: bool = False,
    seed_index: int = 0,
) -> tuple[Classifier, dict[str, Any]]:
    """:func:`train_one` on a chamber's (capped) train split and val split with a matrix
    config's settings: profile, per-model overrides, training seed ``config.seed +
    seed_index``, common cluster cap; the splits are recorded with the run
    (:func:`record_splits`)."""
    train = cap_train_split(data.parts["train"], config.max_train_clusters, config.seed)
    run_dir = seed_run_dir(workdir, model, data.chamber, seed_index)
    clf, run = train_one(
        model,
        data.chamber,
        train,
        data.parts["val"],
        workdir,
        profile=config.profile,
        overrides=cell_overrides(model, config),
        seed=config.seed + seed_index,
        progress=progress,
        run_dir=run_dir,
    )
    run["splits"] = record_splits(run_dir, data)
    return clf, {**run, "n_train_clusters": len(train)}


# ----------------------------------------------------------------------------------- evaluation
@dataclasses.dataclass
class ScoredTest:
    """Scores of one model's training seeds on one test split.

    Attributes:
        test: The test split.
        scores: One float [N] P(signal) array per training seed.
        op_thresholds: Per seed, the operating point chosen on the training chamber's val.
        predict_seconds: Wall time of scoring the test split (all seeds).
    """

    test: ClusterSet
    scores: list[np.ndarray]
    op_thresholds: list[float]
    predict_seconds: float


def score_test(
    clfs: Sequence[Classifier],
    val: ClusterSet,
    test: ClusterSet,
    max_signal_loss: float = 0.05,
    val_scores: Sequence[np.ndarray] | None = None,
) -> ScoredTest:
    """Scores ``test`` with every seed's classifier and chooses each seed's operating point.

    Raises:
        ShapeMismatchError: Window of ``val``/``test`` differs from a classifier's.
        ClusterDataError: Empty split or no signal in ``val``.
    """
    for part, name in ((val, "val"), (test, "test")):
        if len(part) == 0:
            raise ClusterDataError(part.chamber, "charge", f"{name} split holds no clusters")
        for clf in clfs:
            check_window(clf, part)
    if val_scores is None:
        val_scores = [clf.predict_proba(val.charge) for clf in clfs]
    thresholds = [choose_threshold(v, val.label, max_signal_loss) for v in val_scores]
    t0 = time.perf_counter()
    scores = [np.asarray(clf.predict_proba(test.charge)) for clf in clfs]
    return ScoredTest(test, scores, thresholds, time.perf_counter() - t0)


def _mean_by_truth(scored: ScoredTest) -> dict[str, Any] | None:
    """:func:`interp.evaluation.metrics.rates_by_truth` at 0.5, averaged over the training seeds."""
    per_seed = [rates_by_truth(s, scored.test.label, scored.test.truth, 0.5) for s in scored.scores]
    if per_seed[0] is None:
        return None
    out = per_seed[0]
    for part in ("noise_removed", "signal_lost"):
        for group, v in out[part].items():
            vals = [r[part][group]["value"] for r in per_seed]
            v["value"] = None if vals[0] is None else float(np.mean(vals))
    return out


def evaluate_scored(
    scored: ScoredTest, n_boot: int = 1000, seed: int = 0, max_signal_loss: float = 0.05
) -> dict[str, Any]:
    """Metrics of one :class:`ScoredTest` at 0.5 and at the validation-chosen thresholds.

    Returns:
        See :func:`evaluate_one`.
    """
    from interp.core.published import CLUSTERS_PER_EVENT

    test = scored.test
    n_events = int(np.unique(test.event_id).size)
    n_seeds = len(scored.scores)
    at_half = evaluate_scores(scored.scores, test.label, test.event_id, 0.5, n_boot, seed)
    op = evaluate_scores(
        scored.scores, test.label, test.event_id, scored.op_thresholds, n_boot, seed
    )
    op["max_signal_loss"] = float(max_signal_loss)
    seconds = scored.predict_seconds / n_seeds  # one classifier's inference
    return {
        "test_chamber": test.chamber,
        "at_0.5": at_half,
        "operating_point": op,
        "by_truth": _mean_by_truth(scored),
        "predict_seconds": seconds,
        "seconds_per_event": seconds / n_events,
        "seconds_per_published_event": seconds / len(test) * CLUSTERS_PER_EVENT,
    }


def evaluate_one(
    clf: Classifier | Sequence[Classifier],
    val: ClusterSet,
    test: ClusterSet,
    n_boot: int = 1000,
    seed: int = 0,
    max_signal_loss: float = 0.05,
    val_scores: np.ndarray | Sequence[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Metrics of one classifier (or its training seeds) on one test set, at 0.5 and at a
    validation-chosen threshold.

    Args:
        clf: Trained classifier, or one per training seed (metrics are then seed means, and
            intervals combine event resampling with a seed draw per replicate).
        val: Validation split of the *training* chamber (chooses the operating point).
        test: Test split of the evaluated chamber.
        n_boot: Bootstrap replicates (events resampled) for the 95 % intervals.
        seed: Bootstrap seed.
        max_signal_loss: Signal-loss bound on validation for the operating point.
        val_scores: Precomputed P(signal) on ``val`` (one array per classifier).

    Returns:
        ``{"test_chamber", "at_0.5": metrics, "operating_point": metrics + "max_signal_loss",
        "by_truth", "predict_seconds", "seconds_per_event"}``; metrics as
        :func:`interp.evaluation.metrics.evaluate_scores` (headline: ``balanced_accuracy``);
        ``by_truth`` as :func:`interp.evaluation.metrics.rates_by_truth` (``None`` without simulator
        truth). ``seconds_per_event`` is one classifier's inference time per test event
        (scaled to the published 28,763.75 clusters per event in
        ``seconds_per_published_event``).

    Raises:
        ShapeMismatchError: Window of ``val``/``test`` differs from the classifier's.
        ClusterDataError: Empty test set or no signal in ``val``.
    """
    clfs = list(clf) if isinstance(clf, (list, tuple)) else [clf]
    if val_scores is not None and not isinstance(val_scores, (list, tuple)):
        val_scores = [val_scores]
    scored = score_test(clfs, val, test, max_signal_loss, val_scores)
    return evaluate_scored(scored, n_boot, seed, max_signal_loss)


# ----------------------------------------------------------------------------------- matrix
def _check_windows(data: Mapping[str, ChamberData]) -> None:
    windows = {c: d.window for c, d in data.items()}
    if len(set(windows.values())) > 1:
        raise ShapeMismatchError(
            "all chambers must share one window shape (pads, time bins) to cross-evaluate; got "
            + ", ".join(f"{c} {w}" for c, w in windows.items())
        )


def _check_models(models: Iterable[str]) -> None:
    for m in models:
        get_trainer(m)  # fail before any training starts


def run_matrix(
    config: MatrixConfig,
    workdir: str | Path,
    data_files: Mapping[str, str | Path] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    rename_chamber: bool = False,
) -> dict[str, Any]:
    """Trains every model on every chamber and evaluates it on every chamber's test split.

    Writes ``workdir/matrix.json`` (after every cell, so partial results survive) and
    ``workdir/matrix.md`` (tables, with the published numbers beside the toolkit's).

    Args:
        config: What to run.
        workdir: Study folder (created).
        data_files: Chamber -> cluster file; chambers not listed are simulated.
        progress: Show tqdm progress bars.
        log: Optional callback for one-line status messages.
        rename_chamber: Accept files whose chamber metadata differs from their key.

    Returns:
        The ``matrix.json`` content: ``{"config", "data", "cells": [...], "total_seconds"}``;
        each cell has ``model``, ``train_chamber``, ``run`` (wall times) and ``evaluations``
        keyed by test chamber.

    Raises:
        UnknownNameError: Unknown model or chamber (before anything is trained).
        ShapeMismatchError: Chambers with different window shapes.
        ClusterDataError: Bad data or empty splits.
    """
    _check_models(config.models)
    files = check_inputs(config.chambers, data_files, rename_chamber=rename_chamber)
    with workdir_lock(workdir, log=log):  # after the input checks: no folder made on bad input
        return _run_matrix(config, Path(workdir), files, progress, log, rename_chamber)


def _run_matrix(
    config: MatrixConfig,
    workdir: Path,
    files: Mapping[str, Path],
    progress: bool,
    log: Callable[[str], None] | None,
    rename_chamber: bool,
) -> dict[str, Any]:
    """:func:`run_matrix` on checked inputs, holding the work directory's lock."""
    from tqdm.auto import tqdm

    from interp.evaluation.transfer import cell_transfer, study_shift

    t_start = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"data: {', '.join(config.chambers)}")
    data = load_study_data(
        config.chambers, config, workdir, files, progress, rename_chamber=rename_chamber
    )
    _check_windows(data)

    result: dict[str, Any] = {
        "config": config.to_dict(),
        "data": {
            c: {
                "path": str(d.path),
                "simulated": d.simulated,
                "window": list(d.window),
                "splits": d.splits.counts,
                "n_train_clusters": len(
                    cap_train_split(d.parts["train"], config.max_train_clusters, config.seed)
                ),
            }
            for c, d in data.items()
        },
        "splits_policy": split_policy(data),
        "shift": study_shift(data, seed=config.seed),
        "interval_method": SEED_METHOD if config.train_seeds > 1 else "events resampled",
        "cells": [],
    }
    scored: dict[tuple[str, str, str], ScoredTest] = {}
    jobs = [(m, c) for m in config.models for c in config.chambers]
    bar = tqdm(jobs, desc="matrix", disable=None if progress else True, unit="cell")
    for model, chamber in bar:
        bar.set_postfix_str(f"{model} on {chamber}")
        d = data[chamber]
        trained = [
            train_cell(model, d, config, workdir, progress, seed_index=i)
            for i in range(config.train_seeds)
        ]
        clfs = [clf for clf, _ in trained]
        runs = [run for _, run in trained]
        t0 = time.perf_counter()
        val_scores = [clf.predict_proba(d.parts["val"].charge) for clf in clfs]
        evaluations = {}
        for test_chamber in config.chambers:
            sc = score_test(
                clfs, d.parts["val"], data[test_chamber].parts["test"],
                config.max_signal_loss, val_scores,
            )  # fmt: skip
            scored[(model, chamber, test_chamber)] = sc
            evaluations[test_chamber] = evaluate_scored(
                sc, config.n_boot, config.seed, config.max_signal_loss
            )
        seconds = [r.get("train_seconds") for r in runs]
        cell = {
            "model": model,
            "train_chamber": chamber,
            "run_dir": str(Path("runs") / model / chamber),
            "run": {
                "reused": all(r["reused"] for r in runs),
                "retrained": [r["retrained"] for r in runs if r.get("retrained")],
                "train_seconds": None if None in seconds else float(sum(seconds)),
                "train_seconds_per_seed": seconds,
                "seeds": [config.seed + i for i in range(config.train_seeds)],
                "n_train_clusters": runs[0]["n_train_clusters"],
                "eval_seconds": time.perf_counter() - t0,
                "profile": runs[0].get("profile"),
                "config": runs[0].get("config"),
            },
            "evaluations": evaluations,
            "transfer": cell_transfer(
                clfs[0], chamber, data, evaluations, config.max_signal_loss, config.seed
            ),
        }
        result["cells"].append(cell)
        result["total_seconds"] = time.perf_counter() - t_start
        atomic_write_text(workdir / "matrix.json", json.dumps(result, indent=1))
        if log:
            ba = evaluations[chamber]["at_0.5"]["metrics"]["balanced_accuracy"]["value"]
            log(f"{model} trained on {chamber}: within-chamber balanced accuracy {ba:.4f}")
    result["paired"] = paired_differences(scored, config)
    result["ceiling"] = ceiling_estimates(result)
    result["total_seconds"] = time.perf_counter() - t_start
    atomic_write_text(workdir / "matrix.json", json.dumps(result, indent=1))
    atomic_write_text(workdir / "matrix.md", matrix_markdown(result))
    return result


def paired_differences(
    scored: Mapping[tuple[str, str, str], ScoredTest], config: MatrixConfig
) -> list[dict[str, Any]]:
    """Balanced-accuracy difference of every model pair within every (train, test) cell.

    Each entry: ``{"train_chamber", "test_chamber", "model_a", "model_b"}`` plus
    :func:`interp.evaluation.metrics.paired_difference` (A - B at threshold 0.5, same resampled
    events
    for both models, an independent seed draw per model and replicate).
    """
    out = []
    models = list(config.models)
    for c in config.chambers:
        for t in config.chambers:
            for i, a in enumerate(models):
                for b in models[i + 1 :]:
                    sa, sb = scored.get((a, c, t)), scored.get((b, c, t))
                    if sa is None or sb is None:
                        continue
                    d = paired_difference(
                        sa.scores, sb.scores, sa.test.label, sa.test.event_id,
                        0.5, 0.5, "balanced_accuracy", config.n_boot, config.seed,
                    )  # fmt: skip
                    out.append(
                        {"train_chamber": c, "test_chamber": t, "model_a": a, "model_b": b, **d}
                    )
    return out


def ceiling_estimates(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An estimate of the irreducible error per (train, test) cell from simulator truth.

    Kind (f) noise (real tracks labelled noise) is nearly inseparable by construction. Taking
    the best model's noise removed on kind (f) as the most any model gets there, and every
    other cluster as classifiable, the balanced-accuracy ceiling is
    ``(1 - q_f (1 - r_f) + 1) / 2`` with ``q_f`` the kind-(f) fraction of the test noise and
    ``r_f`` the best model's noise removed on (f). ``[]`` without truth columns.
    """
    best: dict[tuple[str, str], tuple[float, str, Mapping[str, Any]]] = {}
    for cell in result["cells"]:
        for t, ev in cell["evaluations"].items():
            bt = ev.get("by_truth")
            ba = ev["at_0.5"]["metrics"]["balanced_accuracy"]["value"]
            if bt is None or ba is None:
                continue
            key = (cell["train_chamber"], t)
            if key not in best or ba > best[key][0]:
                best[key] = (ba, cell["model"], bt)
    out = []
    for (c, t), (ba, model, bt) in best.items():
        nr = bt["noise_removed"]
        n_noise = sum(v["n"] for k, v in nr.items() if k != "dead_pad")
        f = nr.get("unreconstructed", {"n": 0, "value": None})
        if not n_noise or f["value"] is None:
            continue
        q_f = f["n"] / n_noise
        ceiling = 0.5 * (1.0 - q_f * (1.0 - f["value"]) + 1.0)
        out.append(
            {
                "train_chamber": c,
                "test_chamber": t,
                "best_model": model,
                "best_balanced_accuracy": ba,
                "kind_f_fraction_of_noise": q_f,
                "kind_f_noise_removed_by_best": f["value"],
                "balanced_accuracy_ceiling": ceiling,
                "best_gap_to_ceiling": ceiling - ba,
            }
        )
    return out


# ----------------------------------------------------------------------------------- report
def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}"


def _ci(m: Mapping[str, Any]) -> str:
    if m["value"] is None:
        return "n/a"
    if m["lo"] is None:
        return f"{_pct(m['value'])}"
    return f"{_pct(m['value'])} [{_pct(m['lo'])}, {_pct(m['hi'])}]"


def _spread_pts(ev_part: Mapping[str, Any], metric: str = "balanced_accuracy") -> str:
    sd = ev_part.get("seed_spread", {}).get(metric)
    n = ev_part.get("n_seeds", 1)
    return f"n/a ({n} seed)" if sd is None else f"{100 * sd:.2f} ({n} seeds)"


KIND_COLUMNS: tuple[tuple[str, str], ...] = (
    ("electronic", "(a) electronic"),
    ("crosstalk", "(b) cross-talk"),
    ("hot_pad", "(c) hot pad"),
    ("fragment", "(d) fragment"),
    ("delta", "(e) delta"),
    ("unreconstructed", "(f) unreconstructed"),
    ("dead_pad", "(g) dead pad"),
)
"""Noise kinds of the per-kind table: truth key -> column label."""

SIGNAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("clean", "clean"),
    ("overlapping", "overlapping"),
    ("dead_pad", "dead pad"),
)


def per_kind_rows(result: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the per-noise-kind table (noise removed per kind, signal lost per group, %)."""
    rows = []
    for c in result["cells"]:
        for t, ev in c["evaluations"].items():
            bt = ev.get("by_truth")
            if bt is None:
                continue
            nr, sl = bt["noise_removed"], bt["signal_lost"]
            rows.append(
                [c["model"], c["train_chamber"], t]
                + [_pct(nr.get(k, {}).get("value")) for k, _ in KIND_COLUMNS]
                + [_pct(sl.get(k, {}).get("value")) for k, _ in SIGNAL_COLUMNS]
            )
    return rows


PER_KIND_HEADER: list[str] = [
    "model",
    "trained on",
    "tested on",
    *(f"NR {label}" for _, label in KIND_COLUMNS),
    *(f"SL {label}" for _, label in SIGNAL_COLUMNS),
]


def ceiling_rows(result: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the irreducible-error table (see :func:`ceiling_estimates`)."""
    return [
        [
            e["train_chamber"],
            e["test_chamber"],
            e["best_model"],
            _pct(e["kind_f_fraction_of_noise"]),
            _pct(e["kind_f_noise_removed_by_best"]),
            _pct(e["balanced_accuracy_ceiling"]),
            _pct(e["best_balanced_accuracy"]),
            f"{100 * e['best_gap_to_ceiling']:.1f}",
        ]
        for e in result.get("ceiling", [])
    ]


CEILING_HEADER: list[str] = [
    "trained on",
    "tested on",
    "best model",
    "(f) share of noise",
    "(f) removed by best",
    "balanced-acc. ceiling",
    "best balanced acc.",
    "gap (points)",
]


def paired_rows(result: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the paired-difference table (balanced accuracy A - B, points)."""
    rows = []
    for p in result.get("paired", []):
        v = "n/a" if p["value"] is None else f"{100 * p['value']:+.2f}"
        ci = "n/a" if p["lo"] is None else f"[{100 * p['lo']:+.2f}, {100 * p['hi']:+.2f}]"
        sig = {True: "yes", False: "no", None: "n/a"}[p["significant"]]
        rows.append([p["train_chamber"], p["test_chamber"], p["model_a"], p["model_b"], v, ci, sig])
    return rows


PAIRED_HEADER: list[str] = [
    "trained on",
    "tested on",
    "model A",
    "model B",
    "A - B (points)",
    "95 % paired interval",
    "significant at 95 %",
]


def run_notes(result: Mapping[str, Any]) -> list[str]:
    """One sentence per cell that was retrained because its training identity changed."""
    out = []
    for c in result["cells"]:
        for why in c["run"].get("retrained") or []:
            out.append(f"{c['model']} trained on {c['train_chamber']} was **retrained**: {why}.")
    return out


def matrix_markdown(result: Mapping[str, Any]) -> str:
    """Markdown tables of a :func:`run_matrix` result (percentages).

    Tables: balanced accuracy (the published metric) with intervals over test events and
    training seeds; toolkit versus published with plain accuracy as a secondary column;
    paired model differences; noise removed / signal lost at 0.5 and at the validation-chosen
    operating point; per-noise-kind rates and the irreducible-error estimate (simulated
    data); wall times with the number of training clusters and seeds.
    """
    from interp.core.published import citation, published_accuracy, published_rates
    from interp.evaluation.metrics import PUBLISHED_METRIC_NOTE
    from interp.report.markdown import pipe_table

    cfg = result["config"]
    chambers = list(cfg["chambers"])
    cells = result["cells"]
    n_seeds = cfg.get("train_seeds", 1)
    unreliable = any(
        not e["at_0.5"]["ci_reliable"] for c in cells for e in c["evaluations"].values()
    )
    method = result.get("interval_method", "events resampled")
    lines = [
        "# Train-on-one-chamber / test-on-both matrix",
        "",
        f"Profile `{cfg['profile']}`, seed {cfg['seed']}, {n_seeds} training seed(s) per cell, "
        f"{cfg['n_boot']} bootstrap replicates; data: "
        + "; ".join(
            f"{c} {d['splits']['test']['events']} test events / "
            f"{d['splits']['test']['clusters']} test clusters, "
            f"{d.get('n_train_clusters', d['splits']['train']['clusters'])} training clusters "
            "for every model" + (" (simulated)" if d["simulated"] else f" ({d['path']})")
            for c, d in result["data"].items()
        )
        + ".",
        "",
        f"Values in %. Brackets: 95 % interval ({method})."
        + (" **Intervals from fewer than 3 events are unreliable.**" if unreliable else ""),
        "",
        PUBLISHED_METRIC_NOTE,
        "",
        *[x for n in run_notes(result) for x in (f"> {n}", "")],
        "## Balanced accuracy at threshold 0.5",
        "",
        *pipe_table(
            ["model", "trained on", *(f"test {c}" for c in chambers), "seed spread (sd, points)"],
            [
                [c["model"], c["train_chamber"]]
                + [
                    _ci(c["evaluations"][t]["at_0.5"]["metrics"]["balanced_accuracy"])
                    for t in chambers
                ]
                + [_spread_pts(c["evaluations"][c["train_chamber"]]["at_0.5"])]
                for c in cells
            ],
        ),
        "",
        "## Toolkit versus published",
        "",
        f"Published: {citation()}. Toolkit balanced accuracy at threshold 0.5 on this study's "
        "data (simulated unless a file is named above); difference = toolkit - published, in "
        "points. Plain accuracy (secondary, on the data's own noise/signal mix) is not the "
        "published metric. Published noise removed / signal lost are single figures per model.",
        "",
    ]
    rows = []
    for c in cells:
        rates = published_rates(c["model"])
        for t in chambers:
            ev = c["evaluations"][t]
            m = ev["at_0.5"]["metrics"]
            ba = m["balanced_accuracy"]
            pub = published_accuracy(c["model"], c["train_chamber"], t)
            diff = (
                "n/a" if pub is None or ba["value"] is None else f"{100 * (ba['value'] - pub):+.1f}"
            )
            pub_rates = "n/a"
            if t == c["train_chamber"] and rates["noise_removed"] is not None:
                where = rates["operating_chamber"] or "chamber not stated"
                pub_rates = (
                    f"{_pct(rates['noise_removed'])} / {_pct(rates['signal_lost'])} ({where})"
                )

            def nr_sl(key: str, ev: Mapping[str, Any] = ev) -> str:
                m = ev[key]["metrics"]
                return f"{_pct(m['noise_removed']['value'])} / {_pct(m['signal_lost']['value'])}"

            row = [c["model"], c["train_chamber"], t, _pct(pub), _ci(ba), diff]
            row += [_spread_pts(ev["at_0.5"]), _ci(m["accuracy"]), pub_rates]
            rows.append([*row, nr_sl("at_0.5"), nr_sl("operating_point")])
    header = ["model", "trained on", "tested on", "published (balanced acc.)"]
    header += ["toolkit balanced acc.", "difference", "seed spread (sd, points)"]
    header += ["plain accuracy (secondary)", "published noise removed / signal lost"]
    lines += pipe_table([*header, "toolkit (0.5)", "toolkit (op. point)"], rows)

    if result.get("paired"):
        lines += [
            "",
            "## Paired model differences (balanced accuracy at 0.5)",
            "",
            "A - B on the same test clusters: every bootstrap replicate resamples the same "
            "events for both models"
            + (" and draws one training seed of each model independently" if n_seeds > 1 else "")
            + "; significant when the 95 % interval excludes 0.",
            "",
            *pipe_table(PAIRED_HEADER, paired_rows(result)),
        ]

    for key, title in (
        ("at_0.5", "Noise removed / signal lost at threshold 0.5"),
        (
            "operating_point",
            f"Noise removed / signal lost at the operating point (threshold chosen on the "
            f"training chamber's validation split for signal loss <= "
            f"{_pct(cfg['max_signal_loss'], 0)} %)",
        ),
    ):
        rows = []
        for c in cells:
            ev = c["evaluations"]
            rows.append(
                [c["model"], c["train_chamber"], f"{ev[chambers[0]][key]['threshold']:.3f}"]
                + [
                    f"{_ci(ev[t][key]['metrics']['noise_removed'])} / "
                    f"{_ci(ev[t][key]['metrics']['signal_lost'])}"
                    for t in chambers
                ]
            )
        header = ["model", "trained on", "threshold"]
        header += [f"test {c}: noise removed / signal lost" for c in chambers]
        lines += ["", f"## {title}", "", *pipe_table(header, rows)]

    kind_rows = per_kind_rows(result)
    if kind_rows:
        lines += [
            "",
            "## Per noise kind (simulator truth, threshold 0.5)",
            "",
            "NR: noise removed per noise kind (a)-(g); SL: signal lost for clean, overlapping "
            "and dead-pad signal clusters (means over training seeds).",
            "",
            *pipe_table(PER_KIND_HEADER, kind_rows),
            "",
            "Irreducible part: kind (f) (real tracks labelled noise) scored as the best model "
            "scores it, every other cluster taken as classifiable.",
            "",
            *pipe_table(CEILING_HEADER, ceiling_rows(result)),
        ]
    else:
        lines += ["", "Per-noise-kind table: not available (the data have no truth columns)."]

    rows = []
    for c in cells:
        run = c["run"]
        ts = run["train_seconds"]
        state = "yes" if run["reused"] else ("retrained" if run.get("retrained") else "no")
        rows.append(
            [c["model"], c["train_chamber"], str(run.get("n_train_clusters", "n/a"))]
            + [str(len(run.get("seeds", [0]))), "n/a" if ts is None else f"{ts:.1f}"]
            + [state, f"{run['eval_seconds']:.1f}"]
            + [f"{c['evaluations'][t]['seconds_per_published_event']:.3f}" for t in chambers]
        )
    header = ["model", "trained on", "training clusters", "seeds", "train s (all seeds)"]
    header += ["reused", "evaluation s"]
    header += [f"inference s/event ({t})" for t in chambers]
    lines += [
        "",
        "## Wall time",
        "",
        "Training seconds are those of the original runs, summed over seeds (reused runs keep "
        "them). Inference is one classifier's `predict_proba` on the test split, scaled to "
        "28,763.75 clusters per event.",
        "",
        *pipe_table(header, rows),
    ]
    if "total_seconds" in result:
        lines += ["", f"Total wall time of this run: {result['total_seconds']:.1f} s."]
    return "\n".join(lines) + "\n"

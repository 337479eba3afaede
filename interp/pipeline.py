"""The train-on-one-chamber / test-on-both study, as in the published NA61/SHINE analysis.

Layout of a study directory (``workdir``)::

    data/<CHAMBER>_<n_events>x<n_clusters>_s<seed>.npz   simulated clusters (cached)
    data/<CHAMBER>_....splits.json                       event splits of that file
    runs/<model>/<CHAMBER>/classifier.json ...           one trained classifier per cell
    runs/<model>/<CHAMBER>/run.json                      training provenance and wall time
    matrix.json, matrix.md                               results

Every cell of the matrix is one model trained on one chamber's *train* split (early stopping /
model selection on that chamber's *val* split) and evaluated on the *test* split of every
chamber: the diagonal is the within-chamber result, the off-diagonal the cross-chamber one.
The operating point (threshold) is chosen on the training chamber's validation split, as a
deployed model would be tuned, then applied unchanged to every test chamber.

Re-running a study reuses the cached data, the saved splits and every finished classifier
(``classifier.json`` present), so an interrupted matrix continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.classifier import (
    CLASSIFIER_FILE,
    Classifier,
    check_window,
    get_trainer,
    load_classifier,
)
from interp.errors import ClusterDataError, ShapeMismatchError, UnknownNameError
from interp.fsutil import (
    atomic_write_text,
    folder_problems,
    record_digest,
    recorded_digest_problem,
)
from interp.locking import workdir_lock
from interp.metrics import choose_threshold, evaluate_scores
from interp.names import check_name, name_folder
from interp.schema import ClusterSet
from interp.splits import DEFAULT_FRACTIONS, Splits, make_splits, splits_path_for

PROFILES: tuple[str, ...] = ("smoke", "quick", "full")
DEFAULT_MODELS: tuple[str, ...] = ("perceptron", "split_conv", "resnet", "xgboost")
DEFAULT_CHAMBERS: tuple[str, ...] = ("VTPC2", "MTPCL")
RUN_FILE = "run.json"
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class MatrixConfig:
    """What to train and evaluate.

    Attributes:
        models: Model names (see :func:`interp.classifier.trainable_model_names`).
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
    max_signal_loss: float = 0.05

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
        """The whole 4-model x 2 x 2 matrix in well under 20 minutes on 2 CPU cores.

        40 events x 2,250 clusters per chamber (90k clusters; ~63k train / 13.5k val /
        13.5k test in ~28 / 6 / 6 events); quick training profile (at most 8 epochs) with the
        split convolution capped at 6 epochs on 40k clusters and the ResNet at 5 epochs on
        30k clusters. Measured (2026-11, 2 shared vCPUs): the smaller 30 x 2,000 variant with
        3 ResNet epochs on 20k clusters took 3.6 minutes in total.
        """
        base = cls(
            n_events=40,
            clusters_per_event=2250,
            profile="quick",
            train_overrides={
                "split_conv": {"max_epochs": 6, "max_train_clusters": 40_000},
                "resnet": {"max_epochs": 5, "max_train_clusters": 30_000},
            },
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def full(cls, **changes: Any) -> MatrixConfig:
        """100 events x 28,764 clusters per chamber (2.9 M clusters each), full profile."""
        return dataclasses.replace(cls(), **changes)

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
    """

    chamber: str
    path: Path
    splits: Splits
    parts: dict[str, ClusterSet]
    simulated: bool

    @property
    def window(self) -> tuple[int, int]:
        return self.parts["train"].window_shape


# ----------------------------------------------------------------------------------- data
def _chamber_seed(chamber: str, seed: int) -> int:
    return int(seed) * 1_000_003 + zlib.crc32(chamber.encode()) % 1_000_003


def _simulate(chamber: str, config: MatrixConfig, progress: bool) -> ClusterSet:
    try:
        from interp.simulator import simulate
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
        from interp.chambers import get_chamber
    except ImportError:
        return
    get_chamber(chamber)  # raises UnknownChamberError listing the known chambers


def load_chamber_data(
    chamber: str,
    config: MatrixConfig,
    workdir: str | Path,
    data_files: Mapping[str, str | Path] | None = None,
    progress: bool = False,
) -> ChamberData:
    """Loads (or simulates and caches) one chamber's clusters and splits them by event.

    A user file (``data_files[chamber]``) is read as is; the chamber name of the study is the
    dictionary key. Its splits are taken from ``splits_path_for(file)`` if that exists (splits
    the user made), otherwise made with the config seed and saved to ``workdir/data``.
    Simulated data are written to ``workdir/data/<CHAMBER>_<events>x<clusters>_s<seed>.npz``
    with the splits beside it, and reused by later runs with the same settings.

    Raises:
        UnknownChamberError: A simulated chamber that has no preset.
        ClusterDataError: Unreadable file, too few events, or an empty split.
    """
    from interp.io import read_clusters, write_clusters

    workdir = Path(workdir)
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    user = (data_files or {}).get(chamber)
    if user is not None:
        path = Path(user)
        data = read_clusters(path)
        if data.chamber != chamber:
            data = dataclasses.replace(data, chamber=chamber)
        own_splits = splits_path_for(path)
        user_splits = own_splits.is_file()
        splits_path = own_splits if user_splits else data_dir / own_splits.name
        simulated = False
    else:
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
        splits_path = splits_path_for(path)
        user_splits = False
        simulated = True

    splits = _load_or_make_splits(data, splits_path, config, user_made=user_splits)
    parts = splits.apply(data)
    for name in ("train", "val", "test"):
        if name not in parts or len(parts[name]) == 0:
            raise ClusterDataError(str(path), "event_id", f"split '{name}' holds no clusters")
    return ChamberData(chamber, path, splits, parts, simulated)


def _load_or_make_splits(
    data: ClusterSet, path: Path, config: MatrixConfig, user_made: bool
) -> Splits:
    """Splits saved at ``path`` if usable, else new ones (saved there).

    A splits file made by the user (beside their data file) is always used; one made by the
    pipeline is reused only if it has the config's seed and fractions.
    """
    if path.is_file():
        splits = Splits.load(path)
        if user_made or (
            splits.seed == config.seed and np.allclose(splits.fractions, config.fractions)
        ):
            return splits
    splits = make_splits(data, config.fractions, config.seed)
    splits.save(path)
    return splits


# ----------------------------------------------------------------------------------- training
def make_train_config(
    model: str, profile: str, overrides: Mapping[str, Any] | None = None, seed: int | None = None
) -> Any:
    """The config object of a model's trainer for a profile name.

    XGBoost uses :class:`interp.train.xgb.XGBConfig`; every Flax model uses
    :class:`interp.train.config.TrainConfig`.

    Raises:
        UnknownNameError: Unknown profile.
        TypeError: An override names a field the config class does not have.
    """
    if profile not in PROFILES:
        raise UnknownNameError("training profile", profile, PROFILES)
    cls: type
    if model == "xgboost":
        from interp.train.xgb import XGBConfig

        cls = XGBConfig
    else:
        from interp.train.config import TrainConfig

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
) -> tuple[Classifier, dict[str, Any]]:
    """Trains one model on one chamber, or reuses the finished classifier in its run folder.

    The run folder is ``workdir/runs/<model>/<chamber>``. A finished classifier
    (``classifier.json`` present) is loaded instead of retrained, after checking that it was
    trained on the same data (``run.json`` fingerprint). Flax and XGBoost go through the same
    :func:`~interp.classifier.get_trainer` call; the Flax trainer resumes its own checkpoints
    in the run folder.

    Returns:
        ``(classifier, run_info)`` where ``run_info`` holds ``train_seconds`` (of the original
        training), ``reused`` and the data fingerprint.

    Raises:
        UnknownNameError: Unknown model name.
        ClusterDataError: Empty split, or a reused run trained on different data.
        ShapeMismatchError: A reused classifier whose window differs from the data's.
    """
    trainer = get_trainer(model)  # raises UnknownNameError listing the known models
    for name, part in (("train", train), ("val", val)):
        if len(part) == 0:
            raise ClusterDataError(chamber, "charge", f"{name} split holds no clusters")
    run_dir = name_folder(Path(workdir) / "runs", model, chamber, kinds=("model", "chamber"))
    with workdir_lock(workdir):
        return _train_or_reuse(
            model, trainer, train, val, run_dir, profile, overrides, seed, progress
        )


def _reuse_problem(run_dir: Path, fp: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Why the run in ``run_dir`` cannot be reused (``None``: it can), and its record.

    A finished run has ``classifier.json`` and a ``run.json`` holding the data fingerprint and
    the digests of the classifier's files; anything missing, unreadable or changed is a reason
    to train again (the Flax trainer resumes its checkpoints). A fingerprint of *other* data
    raises instead: the user's data changed under a finished run.

    Raises:
        ClusterDataError: The run was trained on different data.
    """
    if not (run_dir / CLASSIFIER_FILE).is_file():
        return "not trained yet", {}
    try:
        info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{RUN_FILE} is missing (the run was interrupted before it was recorded)", {}
    except (OSError, ValueError) as exc:
        return f"{RUN_FILE} is unreadable ({exc})", {}
    if not isinstance(info, dict) or "fingerprint" not in info or "outputs" not in info:
        return f"{RUN_FILE} is incomplete (the run was interrupted before it was recorded)", {}
    if info["fingerprint"] != fp:
        raise ClusterDataError(
            str(run_dir),
            None,
            f"existing classifier was trained on different data ({info.get('fingerprint')} "
            f"vs now {fp}); use a new --workdir or delete this run folder",
        )
    problems = folder_problems(run_dir, info["outputs"])
    if problems:
        return "saved classifier changed since training (" + "; ".join(problems) + ")", info
    return None, info


def _train_or_reuse(
    model: str,
    trainer: Any,
    train: ClusterSet,
    val: ClusterSet,
    run_dir: Path,
    profile: str,
    overrides: Mapping[str, Any] | None,
    seed: int,
    progress: bool,
) -> tuple[Classifier, dict[str, Any]]:
    from interp.classifier import SAVED_FILES
    from interp.fsutil import digests

    run_dir.mkdir(parents=True, exist_ok=True)
    fp = _fingerprint(train, val)
    run_path = run_dir / RUN_FILE
    why, info = _reuse_problem(run_dir, fp)
    if why is None:
        try:
            clf = load_classifier(run_dir)
        except (ClusterDataError, UnknownNameError) as exc:
            why = f"saved classifier cannot be loaded ({exc})"
        else:
            check_window(clf, train)
            return clf, {**info, "reused": True}
    if why != "not trained yet":
        log.warning("%s: %s; training it again", run_dir, why)

    cfg = make_train_config(model, profile, overrides, seed=seed)
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
        "outputs": digests(run_dir, [f for f in SAVED_FILES if (run_dir / f).is_file()]),
    }
    atomic_write_text(run_path, json.dumps(info, indent=1))
    return clf, {**info, "reused": False}


def train_cell(
    model: str,
    data: ChamberData,
    config: MatrixConfig,
    workdir: str | Path,
    progress: bool = False,
) -> tuple[Classifier, dict[str, Any]]:
    """:func:`train_one` on a chamber's train/val splits with a matrix config's settings
    (profile, per-model overrides, seed)."""
    return train_one(
        model,
        data.chamber,
        data.parts["train"],
        data.parts["val"],
        workdir,
        profile=config.profile,
        overrides=config.train_overrides.get(model),
        seed=config.seed,
        progress=progress,
    )


# ----------------------------------------------------------------------------------- evaluation
def evaluate_one(
    clf: Classifier,
    val: ClusterSet,
    test: ClusterSet,
    n_boot: int = 1000,
    seed: int = 0,
    max_signal_loss: float = 0.05,
    val_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics of one classifier on one test set, at 0.5 and at a validation-chosen threshold.

    Args:
        clf: Trained classifier.
        val: Validation split of the *training* chamber (chooses the operating point).
        test: Test split of the evaluated chamber.
        n_boot: Bootstrap replicates (events resampled) for the 95 % intervals.
        seed: Bootstrap seed.
        max_signal_loss: Signal-loss bound on validation for the operating point.
        val_scores: Precomputed P(signal) on ``val`` (skips one inference pass).

    Returns:
        ``{"test_chamber", "at_0.5": metrics, "operating_point": metrics + "max_signal_loss",
        "predict_seconds", "seconds_per_event"}``; metrics as
        :func:`interp.metrics.evaluate_scores`. ``seconds_per_event`` is the inference time
        per test event (scaled to the published 28,763.75 clusters per event in
        ``seconds_per_published_event``).

    Raises:
        ShapeMismatchError: Window of ``val``/``test`` differs from the classifier's.
        ClusterDataError: Empty test set or no signal in ``val``.
    """
    from interp.published import CLUSTERS_PER_EVENT

    for part, name in ((val, "val"), (test, "test")):
        if len(part) == 0:
            raise ClusterDataError(part.chamber, "charge", f"{name} split holds no clusters")
        check_window(clf, part)
    if val_scores is None:
        val_scores = clf.predict_proba(val.charge)
    threshold = choose_threshold(val_scores, val.label, max_signal_loss)
    t0 = time.perf_counter()
    scores = clf.predict_proba(test.charge)
    seconds = time.perf_counter() - t0
    n_events = int(np.unique(test.event_id).size)
    at_half = evaluate_scores(scores, test.label, test.event_id, 0.5, n_boot, seed)
    op = evaluate_scores(scores, test.label, test.event_id, threshold, n_boot, seed)
    op["max_signal_loss"] = float(max_signal_loss)
    return {
        "test_chamber": test.chamber,
        "at_0.5": at_half,
        "operating_point": op,
        "predict_seconds": seconds,
        "seconds_per_event": seconds / n_events,
        "seconds_per_published_event": seconds / len(test) * CLUSTERS_PER_EVENT,
    }


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
) -> dict[str, Any]:
    """:func:`_run_matrix` holding ``workdir``'s lock (a second writer refuses)."""
    with workdir_lock(workdir, log=log):
        return _run_matrix(config, workdir, data_files, progress, log)


def _run_matrix(
    config: MatrixConfig,
    workdir: str | Path,
    data_files: Mapping[str, str | Path] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
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

    Returns:
        The ``matrix.json`` content: ``{"config", "data", "cells": [...], "total_seconds"}``;
        each cell has ``model``, ``train_chamber``, ``run`` (wall times) and ``evaluations``
        keyed by test chamber.

    Raises:
        UnknownNameError: Unknown model or chamber (before anything is trained).
        ShapeMismatchError: Chambers with different window shapes.
        ClusterDataError: Bad data or empty splits.
    """
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    unknown_files = sorted(set(data_files or {}) - set(config.chambers))
    if unknown_files:
        raise UnknownNameError("chamber in --data", unknown_files[0], list(config.chambers))
    _check_models(config.models)
    for c in config.chambers:
        if c not in (data_files or {}):
            _check_chamber_name(c)

    data: dict[str, ChamberData] = {}
    for chamber in config.chambers:
        if log:
            log(f"data: {chamber}")
        data[chamber] = load_chamber_data(chamber, config, workdir, data_files, progress)
    _check_windows(data)

    result: dict[str, Any] = {
        "config": config.to_dict(),
        "data": {
            c: {
                "path": str(d.path),
                "simulated": d.simulated,
                "window": list(d.window),
                "splits": d.splits.counts,
            }
            for c, d in data.items()
        },
        "cells": [],
    }
    jobs = [(m, c) for m in config.models for c in config.chambers]
    bar = tqdm(jobs, desc="matrix", disable=not progress, unit="cell")
    for model, chamber in bar:
        bar.set_postfix_str(f"{model} on {chamber}")
        d = data[chamber]
        clf, run = train_cell(model, d, config, workdir, progress)
        t0 = time.perf_counter()
        val_scores = clf.predict_proba(d.parts["val"].charge)
        evaluations = {
            test_chamber: evaluate_one(
                clf,
                d.parts["val"],
                data[test_chamber].parts["test"],
                n_boot=config.n_boot,
                seed=config.seed,
                max_signal_loss=config.max_signal_loss,
                val_scores=val_scores,
            )
            for test_chamber in config.chambers
        }
        cell = {
            "model": model,
            "train_chamber": chamber,
            "run_dir": str(Path("runs") / model / chamber),
            "run": {
                "reused": run["reused"],
                "train_seconds": run.get("train_seconds"),
                "eval_seconds": time.perf_counter() - t0,
                "profile": run.get("profile"),
                "config": run.get("config"),
            },
            "evaluations": evaluations,
        }
        result["cells"].append(cell)
        result["total_seconds"] = time.perf_counter() - t_start
        atomic_write_text(workdir / "matrix.json", json.dumps(result, indent=1))
        if log:
            acc = evaluations[chamber]["at_0.5"]["metrics"]["accuracy"]["value"]
            log(f"{model} trained on {chamber}: within-chamber accuracy {acc:.4f}")
    result["total_seconds"] = time.perf_counter() - t_start
    atomic_write_text(workdir / "matrix.json", json.dumps(result, indent=1))
    atomic_write_text(workdir / "matrix.md", matrix_markdown(result))
    return result


# ----------------------------------------------------------------------------------- report
def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}"


def _ci(m: Mapping[str, Any]) -> str:
    if m["value"] is None:
        return "n/a"
    if m["lo"] is None:
        return f"{_pct(m['value'])}"
    return f"{_pct(m['value'])} [{_pct(m['lo'])}, {_pct(m['hi'])}]"


def matrix_markdown(result: Mapping[str, Any]) -> str:
    """Markdown tables of a :func:`run_matrix` result (percentages).

    Tables: accuracy with 95 % event-bootstrap intervals; noise removed / signal lost at 0.5
    and at the validation-chosen operating point; toolkit versus published numbers; wall
    times.
    """
    from interp.published import citation, published_accuracy, published_rates
    from interp.report.markdown import pipe_table

    cfg = result["config"]
    chambers = list(cfg["chambers"])
    cells = result["cells"]
    unreliable = any(
        not e["at_0.5"]["ci_reliable"] for c in cells for e in c["evaluations"].values()
    )
    lines = [
        "# Train-on-one-chamber / test-on-both matrix",
        "",
        f"Profile `{cfg['profile']}`, seed {cfg['seed']}, {cfg['n_boot']} event-bootstrap "
        f"replicates; data: "
        + "; ".join(
            f"{c} {d['splits']['test']['events']} test events / "
            f"{d['splits']['test']['clusters']} test clusters"
            + (" (simulated)" if d["simulated"] else f" ({d['path']})")
            for c, d in result["data"].items()
        )
        + ".",
        "",
        "Values in %. Brackets: 95 % interval from resampling test events."
        + (" **Intervals from fewer than 3 events are unreliable.**" if unreliable else ""),
        "",
        "## Accuracy at threshold 0.5",
        "",
        *pipe_table(
            ["model", "trained on", *(f"test {c}" for c in chambers)],
            [
                [c["model"], c["train_chamber"]]
                + [_ci(c["evaluations"][t]["at_0.5"]["metrics"]["accuracy"]) for t in chambers]
                for c in cells
            ],
        ),
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

    lines += [
        "",
        "## Toolkit versus published",
        "",
        f"Published: {citation()}. Toolkit accuracy at threshold 0.5 on this study's data "
        "(simulated unless a file is named above); difference = toolkit - published, in "
        "points. Published noise removed / signal lost are single figures per model.",
        "",
    ]
    rows = []
    for c in cells:
        rates = published_rates(c["model"])
        for t in chambers:
            ev = c["evaluations"][t]
            acc = ev["at_0.5"]["metrics"]["accuracy"]["value"]
            pub = published_accuracy(c["model"], c["train_chamber"], t)
            diff = "n/a" if pub is None or acc is None else f"{100 * (acc - pub):+.1f}"
            pub_rates = "n/a"
            if t == c["train_chamber"] and rates["noise_removed"] is not None:
                where = rates["operating_chamber"] or "chamber not stated"
                pub_rates = (
                    f"{_pct(rates['noise_removed'])} / {_pct(rates['signal_lost'])} ({where})"
                )

            def nr_sl(key: str, ev: Mapping[str, Any] = ev) -> str:
                m = ev[key]["metrics"]
                return f"{_pct(m['noise_removed']['value'])} / {_pct(m['signal_lost']['value'])}"

            row = [c["model"], c["train_chamber"], t, _pct(pub), _pct(acc), diff, pub_rates]
            rows.append([*row, nr_sl("at_0.5"), nr_sl("operating_point")])
    header = ["model", "trained on", "tested on", "published acc.", "toolkit acc."]
    header += ["difference", "published noise removed / signal lost", "toolkit (0.5)"]
    lines += pipe_table([*header, "toolkit (op. point)"], rows)

    rows = []
    for c in cells:
        run = c["run"]
        ts = run["train_seconds"]
        rows.append(
            [c["model"], c["train_chamber"], "n/a" if ts is None else f"{ts:.1f}"]
            + ["yes" if run["reused"] else "no", f"{run['eval_seconds']:.1f}"]
            + [f"{c['evaluations'][t]['seconds_per_published_event']:.3f}" for t in chambers]
        )
    header = ["model", "trained on", "train s", "reused", "evaluation s"]
    header += [f"inference s/event ({t})" for t in chambers]
    lines += [
        "",
        "## Wall time",
        "",
        "Training seconds are those of the original run (reused runs keep them). Inference is "
        "`predict_proba` on the test split, scaled to 28,763.75 clusters per event.",
        "",
        *pipe_table(header, rows),
    ]
    if "total_seconds" in result:
        lines += ["", f"Total wall time of this run: {result['total_seconds']:.1f} s."]
    return "\n".join(lines) + "\n"

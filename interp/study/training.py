"""Training dispatch: a model's trainer config for a profile, one training (or reuse) of a
model on a chamber, and the matrix cell's training seeds.

Layout under the work directory::

    runs/<model>/<CHAMBER>/classifier.json ...           the cell's classifier (first seed)
    runs/<model>/<CHAMBER>/run.json                      training identity, provenance, time
    runs/<model>/<CHAMBER>/splits.json                   the splits it was trained with
    seeds/<model>/<CHAMBER>/seed<k>/...                  further training seeds of the cell
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.classifier import (
    CLASSIFIER_FILE,
    Classifier,
    check_window,
    get_trainer,
    load_classifier,
    train_config_class,
)
from interp.core.errors import (
    ClusterDataError,
    UnknownNameError,
)
from interp.core.locking import workdir_lock
from interp.core.names import name_folder
from interp.core.profiles import PROFILES
from interp.core.run_record import write_run_record
from interp.core.schema import ClusterSet
from interp.evaluation.metrics import (
    choose_threshold,
)
from interp.study.config import MAX_SIGNAL_LOSS, MatrixConfig
from interp.study.identity import (
    NOT_TRAINED,
    clear_run_dir,
    data_fingerprint,
    record_splits,
    reuse_problem,
    to_jsonable,
    training_identity,
)
from interp.study.inputs import ChamberData

log = logging.getLogger(__name__)


def make_train_config(
    model: str, profile: str, overrides: Mapping[str, Any] | None = None, seed: int | None = None
) -> Any:
    """The config object of a model's trainer for a profile name.

    The class is the model's backend's (:func:`interp.backends.classifier.train_config_class`:
    ``XGBConfig`` for XGBoost, ``TrainConfig`` for every Flax model).

    Raises:
        UnknownNameError: Unknown profile or model.
        TypeError: An override names a field the config class does not have.
    """
    if profile not in PROFILES:
        raise UnknownNameError("training profile", profile, PROFILES)
    cls: type = train_config_class(model)
    cfg = getattr(cls, profile)()
    changes = dict(overrides or {})
    if seed is not None:
        changes.setdefault("seed", seed)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {unknown}; known: {sorted(known)}")
    return dataclasses.replace(cfg, **changes)


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
    fp = data_fingerprint(train, val)
    cfg = make_train_config(model, profile, overrides, seed=seed)
    identity = training_identity(model, profile, cfg, fp)
    why, clear, info = reuse_problem(run_dir, identity)
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
        clear_run_dir(run_dir)

    t0 = time.perf_counter()
    clf = trainer(train, val, run_dir, config=cfg, progress=progress)
    seconds = time.perf_counter() - t0
    if not (run_dir / CLASSIFIER_FILE).is_file():
        clf.save(run_dir)
    info = {
        "model": model,
        "chamber": run_dir.name,
        "profile": profile,
        "config": to_jsonable(cfg),
        "train_seconds": seconds,
        "fingerprint": fp,
        "identity": identity,
        "outputs": digests(run_dir, [f for f in SAVED_FILES if (run_dir / f).is_file()]),
    }
    write_run_record(run_dir, info)
    _store_operating_point(clf, val, run_dir)
    return clf, {**info, "reused": False, "retrained": None if why == NOT_TRAINED else why}


def _store_operating_point(clf: Classifier, val: ClusterSet, run_dir: Path) -> None:
    """Chooses the validation operating point (default signal-loss bound) once and stores it
    in the model folder (``operating_point.json``) and on ``clf.threshold``; fits the
    validation calibrations once (``calibration.json``). Validation scores computed here are
    kept in the folder's score cache as ``val_<chamber>`` (:mod:`interp.study.score_cache`),
    where the matrix reads them instead of scoring the split again."""
    from interp.backends.classifier import read_operating_point, write_operating_point
    from interp.evaluation.calibration import store_calibration
    from interp.study.score_cache import classifier_fingerprint, save_scores, split_fingerprint

    threshold, scores = read_operating_point(run_dir), None
    if threshold is None and len(val) and np.any(val.label == 1):
        scores = clf.predict_proba(val.charge)
        threshold = choose_threshold(scores, val.label, MAX_SIGNAL_LOSS)
        write_operating_point(run_dir, threshold, MAX_SIGNAL_LOSS, len(val), val.chamber)
    clf.threshold = threshold
    store_calibration(run_dir, clf, val, scores)  # Platt + isotonic on val (calibration.json)
    if scores is not None:  # fingerprinted after the last file of the classifier is written
        sha = classifier_fingerprint(run_dir)
        save_scores(run_dir, f"val_{val.chamber}", scores, split_fingerprint(val), sha)


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
    """Training overrides of a model in the matrix: the model spec's for the profile
    (:attr:`models.contract.ModelSpec.profile_overrides`), the config's own on top, and the
    Flax profiles' cluster cap switched off (the matrix applies
    :attr:`MatrixConfig.max_train_clusters`)."""
    import models

    out = dict(models.model_spec(model).profile_overrides.get(config.profile) or {})
    out.update(config.train_overrides.get(model) or {})
    if "max_train_clusters" in {f.name for f in dataclasses.fields(train_config_class(model))}:
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

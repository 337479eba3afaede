"""Gradient-boosted trees (XGBoost) on the flattened, preprocessed charge window.

A strong, fast, non-neural baseline that shares the pipeline with the Flax models: the same
:class:`~interp.data.preprocess.Preprocessor` (fitted on the training chamber, saved with the
model),
the same :class:`~interp.backends.classifier.Classifier` protocol, and native (pickle-free) storage:

``model.ubj``        the booster (XGBoost universal binary JSON), cut at the best iteration
``classifier.json``  ``{"kind": "xgboost", "name", "preprocessor", "window", "train_chamber",
                     "config", "best_iteration", "n_features", "history"}``; written last, so
                     its presence marks a finished model.

Features are the P*T preprocessed pixels in row-major (pad, time) order, so
:meth:`XGBoostClassifier.pred_contribs` returns per-pixel SHAP values that reshape to the
window.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from interp.backends.classifier import CLASSIFIER_FILE
from interp.core.errors import ClusterDataError, UnknownNameError
from interp.core.fsutil import atomic_write_bytes, atomic_write_text, digest_problem, file_digest
from interp.core.schema import ClusterSet
from interp.data.preprocess import Preprocessor, fit_preprocessor

MODEL_FILE = "model.ubj"
KIND = "xgboost"
CLASS_WEIGHTS: tuple[str, ...] = ("balanced", "none")


@dataclasses.dataclass(frozen=True)
class XGBConfig:
    """Hyper-parameters of the XGBoost baseline.

    Attributes:
        n_estimators: Maximum number of boosting rounds.
        max_depth: Maximum tree depth.
        learning_rate: Shrinkage (eta).
        early_stopping_rounds: Stop when validation log-loss has not improved for this many
            rounds; the saved model keeps the trees up to the best round.
        tree_method: XGBoost tree method (``"hist"``).
        n_jobs: CPU threads.
        seed: Random seed (training is deterministic for a seed).
        preprocessing: One of :data:`interp.data.preprocess.PREPROCESSORS`.
        class_weight: ``"balanced"`` (sample weights N / (2 N_class), in training and in the
            early-stopping loss) or ``"none"``. Balanced weights calibrate P(signal) to a 50/50
            prior, so threshold 0.5 trades accuracy for balanced accuracy.
        min_child_weight: Minimum hessian weight in a leaf.
        subsample: Row subsampling per tree (1.0 keeps training fully deterministic).
        colsample_bytree: Column subsampling per tree.
    """

    n_estimators: int = 400
    max_depth: int = 6
    learning_rate: float = 0.1
    early_stopping_rounds: int = 30
    tree_method: str = "hist"
    n_jobs: int = 2
    seed: int = 0
    preprocessing: str = "max"
    class_weight: str = "balanced"
    min_child_weight: float = 1.0
    subsample: float = 1.0
    colsample_bytree: float = 1.0

    @classmethod
    def smoke(cls) -> XGBConfig:
        """Seconds: for tests."""
        return cls(n_estimators=20, max_depth=3, learning_rate=0.3, early_stopping_rounds=5)

    @classmethod
    def quick(cls) -> XGBConfig:
        """About a minute on 2 cores for ~50k clusters."""
        return cls(n_estimators=300, max_depth=6, learning_rate=0.1, early_stopping_rounds=20)

    @classmethod
    def full(cls) -> XGBConfig:
        """The full study's setting: at most 400 trees of depth 8, early stopping after 20
        rounds. ``hist`` on 300k x 220 training clusters takes ~0.25 s per tree on 2 CPU
        cores (2026-12-02), so at most ~100 s per chamber."""
        return cls(n_estimators=400, max_depth=8, learning_rate=0.1, early_stopping_rounds=20)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _params(cfg: XGBConfig) -> dict[str, Any]:
    return {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": cfg.tree_method,
        "max_depth": cfg.max_depth,
        "eta": cfg.learning_rate,
        "min_child_weight": cfg.min_child_weight,
        "subsample": cfg.subsample,
        "colsample_bytree": cfg.colsample_bytree,
        "nthread": cfg.n_jobs,
        "seed": cfg.seed,
    }


def _sample_weights(labels: np.ndarray, mode: str) -> np.ndarray | None:
    if mode == "none":
        return None
    counts = np.bincount(labels.astype(np.int64), minlength=2).astype(np.float64)
    w_class = np.where(counts > 0, labels.size / (2.0 * np.maximum(counts, 1.0)), 0.0)
    return w_class[labels.astype(np.int64)].astype(np.float32)


@dataclasses.dataclass
class XGBoostClassifier:
    """A trained XGBoost noise/signal classifier (see
    :class:`interp.backends.classifier.Classifier`).

    Attributes:
        booster: The XGBoost booster (trees up to the best iteration).
        preprocessor: Preprocessing fitted on the training chamber.
        train_chamber: Chamber of the training data.
        config: Training configuration.
        best_iteration: Index of the best boosting round (0-based).
        history: Per-round training/validation log-loss.
    """

    booster: xgb.Booster
    preprocessor: Preprocessor
    train_chamber: str
    config: XGBConfig
    best_iteration: int
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    kind: str = KIND
    name: str = "xgboost"
    threshold: float | None = None

    @property
    def window(self) -> tuple[int, int]:
        """(pads, time bins) the model was trained on."""
        return tuple(self.preprocessor.window)  # type: ignore[return-value]

    def features(self, charge: np.ndarray) -> np.ndarray:
        """Flattened model inputs.

        Args:
            charge: float [N, P, T] raw ADC.

        Returns:
            float32 [N, P*T], preprocessed, row-major (pad, time).

        Raises:
            ShapeMismatchError: If (P, T) differs from :attr:`window`.
        """
        x = self.preprocessor(charge)
        return x.reshape(x.shape[0], -1)

    def predict_proba(self, charge: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """P(signal), float32 [N], for raw windows float [N, P, T] (ADC)."""
        charge = np.asarray(charge)
        out = np.empty(charge.shape[0], dtype=np.float32)
        for i in range(0, charge.shape[0], batch_size):
            x = self.features(charge[i : i + batch_size])
            out[i : i + batch_size] = self.booster.inplace_predict(x)
        if charge.shape[0] == 0:
            self.features(charge)  # still validate the window shape
        return out

    def pred_contribs(self, charge: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP contributions to the log-odds of signal.

        Args:
            charge: float [N, P, T] raw ADC.

        Returns:
            float32 [N, P*T + 1]: one column per pixel (row-major pad, time) and the bias last;
            each row sums to the model's log-odds.
        """
        dm = xgb.DMatrix(self.features(charge), nthread=self.config.n_jobs)
        return self.booster.predict(dm, pred_contribs=True).astype(np.float32)

    def metadata(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "name": self.name,
            "preprocessor": self.preprocessor.to_dict(),
            "window": list(self.window),
            "train_chamber": self.train_chamber,
            "config": self.config.to_dict(),
            "best_iteration": int(self.best_iteration),
            "n_features": int(self.window[0] * self.window[1]),
            "xgboost_version": xgb.__version__,
            "history": self.history,
        }

    def save(self, directory: str | Path) -> None:
        """Writes ``model.ubj`` then ``classifier.json`` (each atomically) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        raw = bytes(self.booster.save_raw("ubj"))
        atomic_write_bytes(directory / MODEL_FILE, raw)
        meta = {**self.metadata(), "booster_digest": file_digest(directory / MODEL_FILE)}
        atomic_write_text(directory / CLASSIFIER_FILE, json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> XGBoostClassifier:
        """Inverse of :meth:`save`.

        Raises:
            ClusterDataError: If a file is missing or not an XGBoost classifier.
        """
        directory = Path(directory)
        meta_path = directory / CLASSIFIER_FILE
        model_path = directory / MODEL_FILE
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or bytes that are not UTF-8
            raise ClusterDataError(str(meta_path), None, f"cannot read: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("kind") != KIND:
            raise ClusterDataError(str(meta_path), "kind", f"not an XGBoost model: {meta}")
        if not model_path.is_file():
            raise ClusterDataError(str(model_path), None, "booster file is missing")
        known = {f.name for f in dataclasses.fields(XGBConfig)}
        booster = xgb.Booster()
        try:
            config = XGBConfig(**{k: v for k, v in meta["config"].items() if k in known})
            pre = Preprocessor.from_dict(meta["preprocessor"])
            best_iteration = int(meta["best_iteration"])
            train_chamber = str(meta["train_chamber"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ClusterDataError(str(meta_path), None, f"incomplete classifier: {exc!r}") from exc
        # XGBoost can allocate tens of GB for a truncated UBJSON file: check it first
        why = (
            digest_problem(model_path, meta["booster_digest"]) if "booster_digest" in meta else None
        )
        if why is not None:
            raise ClusterDataError(str(model_path), None, f"corrupt booster: {why}")
        try:
            booster.load_model(bytearray(model_path.read_bytes()))
        except (xgb.core.XGBoostError, UnicodeDecodeError, ValueError, OSError) as exc:
            # a truncated UBJSON file can fail inside XGBoost's Python layer as well
            raise ClusterDataError(str(model_path), None, f"corrupt booster: {exc}") from exc
        booster.set_param({"nthread": config.n_jobs})
        return cls(
            booster=booster,
            preprocessor=pre,
            train_chamber=train_chamber,
            config=config,
            best_iteration=best_iteration,
            history=meta.get("history", {}),
            name=str(meta.get("name", "xgboost")),
        )


def load_xgboost(directory: Path) -> XGBoostClassifier:
    """Loader registered for ``kind == "xgboost"``."""
    return XGBoostClassifier.load(directory)


def _check_sets(train: ClusterSet, val: ClusterSet) -> None:
    from interp.core.errors import ShapeMismatchError

    for name, part in (("train", train), ("val", val)):
        if len(part) == 0:
            raise ClusterDataError(part.chamber, "charge", f"{name} split holds no clusters")
        if np.unique(part.label).size < 2:
            raise ClusterDataError(
                part.chamber, "label", f"{name} split holds only one class; need noise and signal"
            )
    if train.window_shape != val.window_shape:
        raise ShapeMismatchError(
            f"train windows {train.window_shape} and validation windows {val.window_shape} differ"
        )


def resolve_config(
    config: XGBConfig | None, overrides: dict[str, Any], train: ClusterSet, val: ClusterSet
) -> XGBConfig:
    """Config with overrides applied (``progress`` ignored), checked against the splits."""
    overrides.pop("progress", None)
    cfg = dataclasses.replace(config or XGBConfig(), **overrides)
    if cfg.class_weight not in CLASS_WEIGHTS:
        raise UnknownNameError("class weighting", cfg.class_weight, list(CLASS_WEIGHTS))
    _check_sets(train, val)
    return cfg


def train_xgboost(
    train: ClusterSet,
    val: ClusterSet,
    workdir: str | Path | None = None,
    config: XGBConfig | None = None,
    **overrides: Any,
) -> XGBoostClassifier:
    """Trains the XGBoost baseline with early stopping on the validation split.

    Args:
        train: Training clusters (one chamber).
        val: Validation clusters (early stopping).
        workdir: If given, the finished classifier is saved there.
        config: Hyper-parameters (default :class:`XGBConfig`).
        **overrides: Replace single config fields, e.g. ``n_estimators=50``. ``progress`` is
            accepted and ignored (XGBoost trains in one call).

    Returns:
        The trained :class:`XGBoostClassifier`.

    Raises:
        ClusterDataError: On an empty split or a split with one class.
        ShapeMismatchError: If train and validation windows differ.
        UnknownNameError: On an unknown preprocessing or class weighting.
        TypeError: On an unknown override name.
    """
    cfg = resolve_config(config, overrides, train, val)
    pre = fit_preprocessor(cfg.preprocessing, train.charge)

    def dmatrix(part: ClusterSet) -> xgb.DMatrix:
        x = pre(part.charge).reshape(len(part), -1)
        return xgb.DMatrix(
            x,
            label=part.label.astype(np.float32),
            weight=_sample_weights(part.label, cfg.class_weight),
            nthread=cfg.n_jobs,
        )

    dtrain, dval = dmatrix(train), dmatrix(val)
    evals_result: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        _params(cfg),
        dtrain,
        num_boost_round=cfg.n_estimators,
        evals=[(dtrain, "train"), (dval, "val")],
        early_stopping_rounds=cfg.early_stopping_rounds,
        evals_result=evals_result,
        verbose_eval=False,
    )
    return finish_training(booster, pre, train.chamber, cfg, evals_result, workdir)


def finish_training(
    booster: xgb.Booster,
    pre: Preprocessor,
    train_chamber: str,
    cfg: XGBConfig,
    evals_result: dict[str, dict[str, list[float]]],
    workdir: str | Path | None,
) -> XGBoostClassifier:
    """Keeps the trees up to the best validation round, wraps and (optionally) saves them."""
    best = int(getattr(booster, "best_iteration", booster.num_boosted_rounds() - 1))
    booster = booster[: best + 1]
    booster.set_param({"nthread": cfg.n_jobs})
    clf = XGBoostClassifier(
        booster=booster,
        preprocessor=pre,
        train_chamber=train_chamber,
        config=cfg,
        best_iteration=best,
        history={k: [float(v) for v in d["logloss"]] for k, d in evals_result.items()},
    )
    if workdir is not None:
        clf.save(Path(workdir))
    return clf


# --------------------------------------------------------------------------- backend contract
CONFIG_CLASS = XGBConfig
"""Training config of XGBoost models (see :mod:`interp.backends.classifier`)."""


def trainer(name: str) -> Any:
    """The training function of an XGBoost model (:func:`train_xgboost`)."""
    del name
    return train_xgboost


def load(directory: str | Path) -> XGBoostClassifier:
    """Loads a saved XGBoost classifier (``kind`` ``"xgboost"``)."""
    return load_xgboost(Path(directory))

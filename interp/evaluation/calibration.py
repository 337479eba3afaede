"""Calibrated signal probabilities: Platt and isotonic maps fitted on the validation split.

The models are trained with balanced class weights, so the raw ``p_signal`` is a score under
a 50/50 class prior, not the probability that a cluster of the training chamber is signal.
A calibration fitted on the training chamber's validation split maps it to a probability
under that split's class mix (the ``signal_fraction`` stored with it):

- **Platt**: ``p = 1 / (1 + exp(-(a * logit(p_raw) + b)))``, two numbers, a logistic
  regression of the labels on the raw logit (Platt's smoothed targets, so a perfectly
  separated split still gives finite parameters).
- **Isotonic**: a monotone non-decreasing map fitted by pool-adjacent-violators
  (:class:`sklearn.isotonic.IsotonicRegression`), stored as its breakpoints ``x`` / ``y``
  (JSON, no pickle) and applied by linear interpolation between them, constant outside
  (what sklearn's ``predict`` does with ``out_of_bounds="clip"``).

Both are stored beside the model as ``calibration.json`` (:data:`CALIBRATION_FILE`). The
operating threshold (``operating_point.json``) stays defined on the *raw* ``p_signal``;
:meth:`Calibration.map_threshold` gives its image under a calibration (for Platt with
``a > 0`` the cut ``p_cal >= image`` selects exactly the same clusters; for isotonic, whose
map has flat steps, it may select more).

Also here: the expected calibration error, the Brier score and the reliability bins they and
the reliability diagram (:mod:`interp.plots.reliability`) are computed from.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.errors import ClusterDataError
from interp.core.logistic import fit_logistic_1d, smoothed_targets

CALIBRATION_FILE = "calibration.json"
"""Calibration record beside a saved classifier (see :meth:`Calibration.to_dict`)."""
METHODS: tuple[str, ...] = ("platt", "isotonic")
"""Calibration methods, the names ``--calibrated`` and :func:`calibrated_proba` accept."""
EPS = 1e-7
"""Raw probabilities are clipped to ``[EPS, 1 - EPS]`` before the logit (float32 saturates)."""
DEFAULT_BINS = 10
"""Equal-width probability bins of the ECE and the reliability diagram."""
FORMAT_VERSION = 1


def logit(p: np.ndarray) -> np.ndarray:
    """``log(p / (1 - p))`` float64 [N] of probabilities clipped to ``[EPS, 1 - EPS]``."""
    p = np.clip(np.asarray(p, np.float64), EPS, 1.0 - EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _check(scores: Any, labels: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ClusterDataError(source, "labels", f"{y.size} labels for {s.size} scores")
    if not np.all(np.isfinite(s)):
        raise ClusterDataError(source, "p_signal", "non-finite scores")
    if not np.isin(y, (0, 1)).all():
        raise ClusterDataError(source, "labels", "labels must be 0 (noise) or 1 (signal)")
    return s, y.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class Platt:
    """``p = sigmoid(a * logit(p_raw) + b)`` (``a``, ``b`` dimensionless, on the log-odds)."""

    a: float
    b: float

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """Calibrated float64 [N] of raw probabilities [N]."""
        return _sigmoid(self.a * logit(p) + self.b)

    def to_dict(self) -> dict[str, float]:
        return {"a": float(self.a), "b": float(self.b)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Platt:
        return cls(float(d["a"]), float(d["b"]))


@dataclasses.dataclass(frozen=True)
class Isotonic:
    """Monotone map through breakpoints ``(x[i], y[i])``, linear between them, constant
    outside; ``x`` strictly increasing raw probabilities, ``y`` non-decreasing in [0, 1]."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """Calibrated float64 [N] of raw probabilities [N]."""
        return np.interp(np.asarray(p, np.float64), self.x, self.y)

    def to_dict(self) -> dict[str, list[float]]:
        return {"x": [float(v) for v in self.x], "y": [float(v) for v in self.y]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Isotonic:
        x, y = tuple(float(v) for v in d["x"]), tuple(float(v) for v in d["y"])
        if len(x) != len(y) or not x:
            raise ValueError(f"x and y need the same non-zero length ({len(x)}, {len(y)})")
        if np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0):
            raise ValueError("breakpoints are not monotone")
        return cls(x, y)


def fit_platt(scores: np.ndarray, labels: np.ndarray, iterations: int = 100) -> Platt:
    """Platt scaling of raw P(signal) [N] against 0/1 labels [N] (Newton's method,
    :func:`interp.core.logistic.fit_logistic_1d` on the raw logit).

    Targets are Platt's smoothed ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``, so a split the
    scores separate perfectly still gives finite ``a`` and ``b``.
    """
    s, y = _check(scores, labels, "platt")
    return Platt(*fit_logistic_1d(logit(s), smoothed_targets(y), iterations=iterations))


def fit_isotonic(scores: np.ndarray, labels: np.ndarray) -> Isotonic:
    """Isotonic regression of 0/1 labels [N] on raw P(signal) [N], as breakpoints."""
    from sklearn.isotonic import IsotonicRegression

    s, y = _check(scores, labels, "isotonic")
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(s, y.astype(np.float64))
    return Isotonic(
        tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in iso.y_thresholds_)
    )


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Both calibrations of one model and the split they were fitted on.

    Attributes:
        platt: The Platt map.
        isotonic: The isotonic map.
        chamber: Chamber of the fitting split (the training chamber).
        n: Clusters in the fitting split.
        signal_fraction: Signal share of the fitting split: the class prior the calibrated
            ``p_signal`` refers to.
        split: Name of the fitting split (``"validation"``).
    """

    platt: Platt
    isotonic: Isotonic
    chamber: str
    n: int
    signal_fraction: float
    split: str = "validation"

    def apply(self, p: np.ndarray, method: str) -> np.ndarray:
        """Calibrated P(signal) float32 [N] of raw P(signal) [N] by ``method``."""
        return np.asarray(self.map(method)(p), np.float32)

    def map(self, method: str) -> Platt | Isotonic:
        """The map of one method (:data:`METHODS`)."""
        if method == "platt":
            return self.platt
        if method == "isotonic":
            return self.isotonic
        raise ClusterDataError(None, "calibration", f"unknown method {method!r}: one of {METHODS}")

    def map_threshold(self, threshold: float | None, method: str) -> float | None:
        """The image of a raw-``p_signal`` threshold under ``method`` (``None`` stays)."""
        if threshold is None:
            return None
        return float(self.map(method)(np.array([threshold]))[0])

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of ``calibration.json``."""
        return {
            "format_version": FORMAT_VERSION,
            "input": "raw p_signal (balanced class weights: a score under a 50/50 prior)",
            "output": f"P(signal) under the {self.split} split's class mix",
            "split": self.split,
            "chamber": self.chamber,
            "n": int(self.n),
            "signal_fraction": float(self.signal_fraction),
            "threshold": "operating_point.json's threshold applies to the raw p_signal",
            "platt": {**self.platt.to_dict(), "formula": "sigmoid(a * logit(p_raw) + b)"},
            "isotonic": {
                **self.isotonic.to_dict(),
                "interpolation": "linear between breakpoints, constant outside",
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        return cls(
            platt=Platt.from_dict(d["platt"]),
            isotonic=Isotonic.from_dict(d["isotonic"]),
            chamber=str(d["chamber"]),
            n=int(d["n"]),
            signal_fraction=float(d["signal_fraction"]),
            split=str(d.get("split", "validation")),
        )

    def save(self, directory: str | Path) -> Path:
        """Writes ``directory/calibration.json`` atomically; returns its path."""
        from interp.core.fsutil import atomic_write_text

        path = Path(directory) / CALIBRATION_FILE
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))
        return path


def fit_calibration(
    scores: np.ndarray, labels: np.ndarray, chamber: str, split: str = "validation"
) -> Calibration:
    """Platt and isotonic maps of raw P(signal) [N] fitted against 0/1 labels [N].

    Raises:
        ClusterDataError: Fewer than one cluster of each class (nothing to calibrate to).
    """
    s, y = _check(scores, labels, f"{chamber} {split}")
    if y.sum() == 0 or y.sum() == y.size:
        raise ClusterDataError(f"{chamber} {split}", "label", "needs noise and signal clusters")
    return Calibration(
        fit_platt(s, y), fit_isotonic(s, y), chamber, int(y.size), float(y.mean()), split
    )


def load_calibration(directory: str | Path) -> Calibration | None:
    """The calibration stored beside a classifier, or ``None`` for a folder without one.

    Raises:
        ClusterDataError: The file exists but is unreadable (names the file and the field).
    """
    path = Path(directory) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        return Calibration.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterDataError(str(path), None, f"unreadable calibration ({exc})") from exc


def store_calibration(
    directory: str | Path, clf: Any, val: Any, scores: np.ndarray | None = None
) -> Calibration | None:
    """Fits both calibrations on a validation split and stores them beside the model, unless
    the folder already has them (a reused model keeps its file).

    Args:
        directory: The model folder.
        clf: The classifier (``predict_proba`` on raw ADC), used when ``scores`` is ``None``.
        val: The validation :class:`~interp.core.schema.ClusterSet` (training chamber).
        scores: Raw P(signal) float [N] of ``val`` if already computed.

    Returns:
        The stored calibration, or ``None`` when ``val`` lacks one of the classes.
    """
    existing = load_calibration(directory)
    if existing is not None:
        return existing
    labels = np.asarray(val.label)
    if labels.size == 0 or labels.min() == labels.max():
        return None
    if scores is None:
        scores = clf.predict_proba(val.charge)
    cal = fit_calibration(scores, labels, val.chamber)
    cal.save(directory)
    return cal


def calibrated_proba(
    clf: Any,
    charge: np.ndarray,
    calibration: Calibration | str | Path,
    method: str = "isotonic",
) -> np.ndarray:
    """Calibrated P(signal) float32 [N] of raw ADC windows float32 [N, P, T].

    Args:
        clf: A loaded classifier (:func:`interp.backends.classifier.load_classifier`).
        charge: Raw ADC, as for ``clf.predict_proba``.
        calibration: A :class:`Calibration` or the model folder holding ``calibration.json``.
        method: ``"platt"`` or ``"isotonic"``.

    Raises:
        ClusterDataError: The folder has no calibration, or ``method`` is unknown.
    """
    if not isinstance(calibration, Calibration):
        folder = Path(calibration)
        cal = load_calibration(folder)
        if cal is None:
            raise ClusterDataError(
                str(folder / CALIBRATION_FILE),
                None,
                "no calibration stored (train the model with `tpc-interp train` or `matrix`)",
            )
        calibration = cal
    calibration.map(method)  # an unknown method fails before the forward pass
    return calibration.apply(clf.predict_proba(charge), method)


def reliability_bins(
    scores: np.ndarray, labels: np.ndarray, n_bins: int = DEFAULT_BINS
) -> dict[str, np.ndarray]:
    """Equal-width bins of predicted P(signal) on [0, 1] (the last bin includes 1).

    Returns:
        ``{"edges"}`` float [n_bins + 1] and per bin [n_bins]: ``"n"`` clusters (int),
        ``"k"`` signal clusters (int), ``"mean_p"`` mean predicted P(signal) and
        ``"fraction"`` observed signal fraction ``k / n`` (NaN in empty bins).
    """
    s, y = _check(scores, labels, "reliability")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(idx, minlength=n_bins)
    k = np.bincount(idx, weights=y, minlength=n_bins).astype(np.int64)
    psum = np.bincount(idx, weights=s, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(n > 0, psum / n, np.nan)
        frac = np.where(n > 0, k / n, np.nan)
    return {"edges": edges, "n": n, "k": k, "mean_p": mean_p, "fraction": frac}


def expected_calibration_error(
    scores: np.ndarray, labels: np.ndarray, n_bins: int = DEFAULT_BINS
) -> float:
    """``sum_b (n_b / N) |fraction_b - mean_p_b|`` over :func:`reliability_bins`."""
    b = reliability_bins(scores, labels, n_bins)
    ok = b["n"] > 0
    gap = np.abs(b["fraction"][ok] - b["mean_p"][ok])
    return float(np.sum(b["n"][ok] * gap) / max(int(b["n"].sum()), 1))


def brier_score(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared difference between predicted P(signal) and the 0/1 label."""
    s, y = _check(scores, labels, "brier")
    return float(np.mean((s - y) ** 2)) if s.size else float("nan")


def calibration_metrics(
    scores: np.ndarray, labels: np.ndarray, calibration: Calibration, n_bins: int = DEFAULT_BINS
) -> dict[str, dict[str, float]]:
    """``{"raw" | "platt" | "isotonic": {"ece", "brier"}}`` of raw scores [N] on labels [N]."""
    out = {"raw": np.asarray(scores, np.float64)}
    out |= {m: calibration.apply(scores, m).astype(np.float64) for m in METHODS}
    return {
        k: {"ece": expected_calibration_error(p, labels, n_bins), "brier": brier_score(p, labels)}
        for k, p in out.items()
    }


__all__ = [
    "CALIBRATION_FILE",
    "METHODS",
    "Calibration",
    "Isotonic",
    "Platt",
    "brier_score",
    "calibrated_proba",
    "calibration_metrics",
    "expected_calibration_error",
    "fit_calibration",
    "fit_isotonic",
    "fit_platt",
    "load_calibration",
    "reliability_bins",
    "store_calibration",
]

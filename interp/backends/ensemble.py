"""A weighted ensemble of saved classifiers of any backend, saved and loaded as one classifier.

A fold ensemble (:func:`interp.backends.fold_training.train_fold_ensemble`) holds the ``k``
models of a k-fold run; its P(signal) is the weighted mean of the members' P(signal)::

    p(x) = sum_i w_i p_i(x),   sum_i w_i = 1.

Weightings (:data:`WEIGHTINGS`): ``"reciprocal_loss"`` (the default; LUMIN's reciprocal-metric
weighting, ``w_i ∝ 1 / loss_i`` with ``loss_i`` the member's class-balanced validation
cross-entropy on its own fold) or ``"uniform"`` (``w_i = 1/k``). With nearly equal fold losses
the two are nearly the same; a fold whose model trained badly counts less.

Folder layout (no pickle)::

    classifier.json     {"kind": "ensemble", "name", "window", "train_chamber", "members":
                         ["member_0", ...], "weights", "losses", "weighting", "folds", ...}
    member_<i>/         each member's own saved folder (any kind, read by load_classifier)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.classifier import CLASSIFIER_FILE, Classifier, load_classifier
from interp.core.errors import ClusterDataError, ShapeMismatchError, TPCInterpError
from interp.core.fsutil import atomic_write_text

KIND = "ensemble"
WEIGHTINGS: tuple[str, ...] = ("reciprocal_loss", "uniform")
DEFAULT_WEIGHTING = "reciprocal_loss"


def member_dir(i: int) -> str:
    """Folder name of the ``i``-th member inside an ensemble folder: ``member_<i>``."""
    return f"member_{int(i)}"


def ensemble_weights(losses: Sequence[float] | None, weighting: str, k: int) -> np.ndarray:
    """Normalised member weights.

    Args:
        losses: Validation loss per member (> 0), needed for ``reciprocal_loss``.
        weighting: One of :data:`WEIGHTINGS`.
        k: Number of members.

    Returns:
        float64 [k], non-negative, summing to 1.

    Raises:
        ValueError: Unknown weighting, or losses missing / not positive and finite.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"ensemble weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if weighting == "uniform":
        return np.full(int(k), 1.0 / int(k))
    loss = np.asarray(losses if losses is not None else [], np.float64)
    if loss.shape != (int(k),) or not np.all(np.isfinite(loss)) or np.any(loss <= 0):
        raise ValueError(f"reciprocal_loss weighting needs {k} positive losses, got {losses}")
    w = 1.0 / loss
    return w / w.sum()


class EnsembleClassifier:
    """Weighted mean of member classifiers (implements ``Classifier``).

    Attributes:
        kind: ``"ensemble"``.
        members: The member classifiers (any backend; same window and training chamber).
        weights: float64 [k], summing to 1.
        losses: Validation loss per member (or ``None``).
        weighting: How :attr:`weights` were made (:data:`WEIGHTINGS`, or ``"given"``).
        folds: JSON fold assignment (``interp.data.folds.Folds.to_dict``) or ``{}``.
        info: Further JSON facts (fold metrics, ...).
    """

    kind = KIND
    threshold: float | None = None

    def __init__(
        self,
        members: Sequence[Classifier],
        weights: Sequence[float] | None = None,
        losses: Sequence[float] | None = None,
        weighting: str = DEFAULT_WEIGHTING,
        folds: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)
        windows = {tuple(m.window) for m in self.members}
        chambers = {m.train_chamber for m in self.members}
        if len(windows) != 1 or len(chambers) != 1:
            raise ShapeMismatchError(
                f"ensemble members differ in window {sorted(windows)} or training chamber "
                f"{sorted(chambers)}"
            )
        k = len(self.members)
        self.losses = None if losses is None else [float(x) for x in losses]
        if weights is None:
            self.weights = ensemble_weights(self.losses, weighting, k)
            self.weighting = weighting
        else:
            w = np.asarray(weights, np.float64)
            if w.shape != (k,) or np.any(w < 0) or not w.sum() > 0:
                raise ValueError(f"ensemble weights must be {k} non-negative numbers: {weights}")
            self.weights = w / w.sum()
            self.weighting = "given"
        self.folds = dict(folds or {})
        self.info = dict(info or {})

    @property
    def name(self) -> str:
        """The members' model name (``"a+b"`` for members of different models)."""
        return "+".join(dict.fromkeys(m.name for m in self.members))

    @property
    def window(self) -> tuple[int, int]:
        """(pads, time bins) of the members."""
        w = self.members[0].window
        return (int(w[0]), int(w[1]))

    @property
    def train_chamber(self) -> str:
        return self.members[0].train_chamber

    def member_proba(self, charge: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Each member's P(signal): float32 [k, N] for raw windows float [N, P, T] (ADC)."""
        charge = np.asarray(charge)
        if charge.ndim != 3 or tuple(charge.shape[1:]) != self.window:
            raise ShapeMismatchError(
                f"ensemble of '{self.name}' was trained on {self.window} windows (pads, time "
                f"bins) but got charge of shape {charge.shape}"
            )
        kw = {} if batch_size is None else {"batch_size": int(batch_size)}
        return np.stack(
            [np.asarray(m.predict_proba(charge, **kw), np.float32) for m in self.members]
        )

    def predict_proba(self, charge: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """P(signal), float32 [N]: the weighted mean of the members' (see module docstring)."""
        p = self.member_proba(charge, batch_size).astype(np.float64)
        return (self.weights @ p).astype(np.float32)

    def _flax_members(self, what: str) -> list[Any]:
        """The members, each checked to have a linen module and parameters (Flax)."""
        for i, m in enumerate(self.members):
            if getattr(m, "module", None) is None or getattr(m, "params", None) is None:
                raise TPCInterpError(
                    f"ensemble member {member_dir(i)} ('{m.name}', kind {m.kind}) has no "
                    f"differentiable module: {what} needs Flax members"
                )
        return self.members

    @property
    def preprocessor(self) -> Any:
        """The members' shared fitted preprocessing (raw ADC -> model inputs).

        Raises:
            TPCInterpError: Members without one, or with different fitted constants (then
                no single input space holds every member's attributions).
        """
        members = self._flax_members("a shared input space")
        first = members[0].preprocessor.to_dict()
        for i, m in enumerate(members[1:], 1):
            if m.preprocessor.to_dict() != first:
                raise TPCInterpError(
                    f"ensemble member {member_dir(i)} has other fitted preprocessing "
                    f"(field 'preprocessor') than {member_dir(0)}: no shared input space"
                )
        return members[0].preprocessor

    def log_odds_fn(self) -> Callable[[Any], Any]:
        """The ensemble's log-odds of signal as a pure JAX function of preprocessed inputs.

        ``f(x) = log p(x) - log(1 - p(x))`` with ``p = sum_i w_i sigmoid(d_i(x))`` the
        ensemble's P(signal) (:meth:`predict_proba`) and ``d_i`` member ``i``'s logit
        difference; computed stably as ``logsumexp_i(log w_i + log sigmoid(d_i)) -
        logsumexp_i(log w_i + log sigmoid(-d_i))``. With one member (or identical members)
        it is that member's logit difference. Gradient attributions of the ensemble
        (:mod:`interp.explain.attribution`) take it with :attr:`preprocessor`'s inputs.

        Returns:
            ``f(x float32 [B, P, T]) -> float32 [B]``.

        Raises:
            TPCInterpError: A member that is not a Flax classifier.
        """
        import jax
        import jax.numpy as jnp

        members = self._flax_members("gradient attributions")
        parts = [(m.module, m.params) for m in members]
        log_w = jnp.log(jnp.asarray(np.maximum(self.weights, 1e-300), jnp.float32))

        def f(x: Any) -> Any:
            z = jnp.stack([mod.apply({"params": p}, x, train=False) for mod, p in parts])
            d = z[..., 1] - z[..., 0]  # [k, B]
            lw = log_w[:, None]
            sig = jax.scipy.special.logsumexp(lw + jax.nn.log_sigmoid(d), axis=0)
            noi = jax.scipy.special.logsumexp(lw + jax.nn.log_sigmoid(-d), axis=0)
            return sig - noi

        return f

    def weight_map(self) -> dict[str, np.ndarray]:
        """The weighted mean of the members' weight maps (linear members, e.g. perceptrons).

        ``sum_i w_i W_i``: exactly the weights of the ensemble that averages the members'
        *logits*; the probability average (:meth:`predict_proba`) is not linear, and this map
        describes it where the members agree (fold models of one model nearly do).

        Returns:
            ``{"noise neuron", "signal neuron", "signal - noise"}`` -> float64 [P, T].

        Raises:
            TPCInterpError: A member without a weight map.
        """
        maps = [m.weight_map() for m in self._flax_members("a weight map")]
        return {k: sum(w * mp[k] for w, mp in zip(self.weights, maps, strict=True))
                for k in maps[0]}  # fmt: skip

    def metadata(self) -> dict[str, Any]:
        """The ``classifier.json`` content."""
        return {
            "kind": KIND,
            "name": self.name,
            "window": list(self.window),
            "train_chamber": self.train_chamber,
            "members": [member_dir(i) for i in range(len(self.members))],
            "member_kinds": [m.kind for m in self.members],
            "weights": [float(w) for w in self.weights],
            "losses": self.losses,
            "weighting": self.weighting,
            "folds": self.folds,
            **{k: v for k, v in self.info.items() if k not in ("kind", "name", "members")},
        }

    def save(self, directory: str | Path) -> None:
        """Writes every member to ``member_<i>/`` then ``classifier.json`` (atomically)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for i, m in enumerate(self.members):
            m.save(directory / member_dir(i))
        text = json.dumps(self.metadata(), indent=2, sort_keys=True) + "\n"
        atomic_write_text(directory / CLASSIFIER_FILE, text)


_OWN_KEYS = ("kind", "name", "window", "train_chamber", "members", "member_kinds", "weights")
_OWN_KEYS += ("losses", "weighting", "folds")


def load(directory: str | Path) -> EnsembleClassifier:
    """Loads an ensemble folder (``kind`` ``"ensemble"``); members via ``load_classifier``.

    Raises:
        ClusterDataError: Unreadable ``classifier.json``, missing members or bad weights
            (naming the file and the field).
    """
    directory = Path(directory)
    path = directory / CLASSIFIER_FILE
    try:
        meta = json.loads(path.read_text())
        names = [str(n) for n in meta["members"]]
        weights = [float(w) for w in meta["weights"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClusterDataError(str(path), "members", f"cannot read ensemble: {exc}") from exc
    if len(names) != len(weights) or not names:
        raise ClusterDataError(
            str(path), "weights", f"{len(weights)} weights, {len(names)} members"
        )
    members = []
    for n in names:
        if "/" in n or "\\" in n or n.startswith("."):
            raise ClusterDataError(str(path), "members", f"member folder {n!r} is not a plain name")
        members.append(load_classifier(directory / n))
    try:
        ens = EnsembleClassifier(
            members,
            weights=weights,
            losses=meta.get("losses"),
            folds=meta.get("folds"),
            info={k: v for k, v in meta.items() if k not in _OWN_KEYS},
        )
    except (ValueError, ShapeMismatchError) as exc:
        raise ClusterDataError(str(path), "weights", str(exc)) from exc
    ens.weighting = str(meta.get("weighting", "given"))
    return ens


def trainer(name: str) -> Any:
    """Ensembles are not a model: they are made by ``train_fold_ensemble``."""
    raise TPCInterpError(
        f"'{name}': ensembles are trained with interp.backends.fold_training.train_fold_ensemble "
        "(tpc-interp train --folds K), not as a model of their own"
    )


CONFIG_CLASS = None
"""Ensembles have no training config of their own (their members' backends do)."""

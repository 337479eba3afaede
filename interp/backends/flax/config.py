"""Training configuration for the Flax trainer (frozen, JSON round-trippable).

Profiles: :meth:`TrainConfig.smoke` (seconds, for tests and CI), :meth:`TrainConfig.quick`
(minutes on a 2-core CPU, the default of :func:`interp.backends.classifier.get_trainer` trainers)
and
:meth:`TrainConfig.full` (the paper-quality run). :func:`profile` looks them up by name.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from interp.core.errors import UnknownNameError
from interp.core.profiles import PROFILES

CLASS_WEIGHTS: tuple[str, ...] = ("balanced", "none")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one Flax training run.

    Attributes:
        batch_size: Training clusters per optimiser step (clipped to the train-set size).
        max_epochs: Upper bound on epochs; also sets the length of the 1-cycle schedule.
        patience: Early stopping: stop after this many epochs without a validation-loss
            improvement larger than ``min_delta``.
        learning_rate: Peak learning rate of the 1-cycle schedule; ``None`` runs the LR range
            finder (``lr_finder_*``) and uses the learning rate it picks.
        weight_decay: Decoupled (AdamW) weight decay, applied to kernels only (not biases).
        pct_start: Fraction of the steps spent warming up to the peak learning rate.
        div_factor: Initial LR = peak / ``div_factor``.
        final_div_factor: Final LR = initial LR / ``final_div_factor``.
        b1_max: Adam beta1 at the start and end of the cycle (cycled inversely to the LR).
        b1_min: Adam beta1 at the LR peak.
        class_weight: ``"balanced"`` (weight n / (2 n_class) from train label counts) or
            ``"none"``.
        preprocessing: Method of :func:`interp.data.preprocess.fit_preprocessor`, fitted on train.
        seed: Seeds initialisation, epoch shuffling, dropout and train subsampling.
        eval_batch_size: Clusters per forward pass in validation.
        max_train_clusters: Optional cap; a seeded random subset of the train split is used.
        min_delta: Minimum validation-loss decrease that counts as an improvement.
        lr_finder_steps: Steps of the exponential LR sweep.
        lr_finder_min: Lowest LR of the sweep.
        lr_finder_max: Highest LR of the sweep.
    """

    batch_size: int = 256
    max_epochs: int = 20
    patience: int = 4
    learning_rate: float | None = None
    weight_decay: float = 1e-4
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    b1_max: float = 0.95
    b1_min: float = 0.85
    class_weight: str = "balanced"
    preprocessing: str = "max"
    seed: int = 0
    eval_batch_size: int = 4096
    max_train_clusters: int | None = None
    min_delta: float = 0.0
    lr_finder_steps: int = 100
    lr_finder_min: float = 1e-5
    lr_finder_max: float = 1.0

    def __post_init__(self) -> None:
        positive = ("batch_size", "max_epochs", "eval_batch_size", "lr_finder_steps")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.patience < 1:
            raise ValueError(f"TrainConfig.patience must be >= 1, got {self.patience}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"TrainConfig.learning_rate must be > 0, got {self.learning_rate}")
        if not 0.0 < self.pct_start < 1.0:
            raise ValueError(f"TrainConfig.pct_start must be in (0, 1), got {self.pct_start}")
        if self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 < self.lr_finder_min < self.lr_finder_max:
            raise ValueError("TrainConfig needs 0 < lr_finder_min < lr_finder_max")
        if self.class_weight not in CLASS_WEIGHTS:
            raise UnknownNameError("class weighting", self.class_weight, CLASS_WEIGHTS)
        if self.max_train_clusters is not None and self.max_train_clusters < 1:
            raise ValueError("TrainConfig.max_train_clusters must be >= 1 or None")

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (all fields)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (typos must not pass)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> TrainConfig:
        """Copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # ----------------------------------------------------------------- profiles
    @classmethod
    def smoke(cls, **changes: Any) -> TrainConfig:
        """Tiny run for tests/CI: a few seconds on 2 CPU cores."""
        base = cls(
            batch_size=64,
            max_epochs=2,
            patience=2,
            eval_batch_size=512,
            max_train_clusters=2048,
            lr_finder_steps=20,
        )
        return base.replace(**changes)

    @classmethod
    def quick(cls, **changes: Any) -> TrainConfig:
        """Minutes on 2 CPU cores: capped train set, short schedule."""
        base = cls(batch_size=256, max_epochs=8, patience=3, max_train_clusters=100_000)
        return base.replace(**changes)

    @classmethod
    def full(cls, **changes: Any) -> TrainConfig:
        """The published-size run: every training cluster it is given (the matrix caps them,
        :data:`interp.study.config.FULL_TRAIN_CLUSTERS`), at most 8 epochs of the 1-cycle
        schedule with early stopping on validation loss (patience 3)."""
        base = cls(batch_size=256, max_epochs=8, patience=3, lr_finder_steps=100)
        return base.replace(**changes)


def profile(name: str, **changes: Any) -> TrainConfig:
    """A named profile (``smoke``, ``quick``, ``full``), optionally with fields changed.

    Raises:
        UnknownNameError: For an unknown profile name.
    """
    if name not in PROFILES:
        raise UnknownNameError("training profile", name, PROFILES)
    return getattr(TrainConfig, name)(**changes)

"""What a matrix study runs: :class:`MatrixConfig` and its ``smoke``/``quick``/``full``
profiles (names from :mod:`interp.core.profiles`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from interp.core.names import check_name
from interp.core.profiles import check_profile
from interp.data.splits import (
    DEFAULT_FRACTIONS,
)

DEFAULT_CHAMBERS: tuple[str, ...] = ("VTPC2", "MTPCL")
MAX_SIGNAL_LOSS = 0.05
"""Default validation signal-loss bound of the operating point (stored with each model)."""
TECHNIQUE_FIELDS: tuple[str, ...] = ("folds", "tta", "technique_models")
"""The :class:`MatrixConfig` fields of the fold-ensemble / TTA rows (no single model uses them)."""
TECHNIQUE_MODELS: tuple[str, ...] = ("perceptron", "split_conv")
"""Models given ensemble / TTA rows in the quick and full profiles (the two cheapest Flax
models: a k-fold ensemble costs k trainings of each)."""
FULL_TRAIN_CLUSTERS = 300_000
"""The full profile's one training cap per chamber (of ~2.0 M training clusters): what fits
the study in an hour on 2 CPU cores, every model on the very same clusters."""


def default_models() -> tuple[str, ...]:
    """Every built-in model (a file of the ``models`` package), in the order their specs
    declare (:attr:`models.contract.ModelSpec.order`, ties by name): a new model file enters
    every study that does not list its models."""
    import models

    return tuple(sorted(models.model_names(), key=lambda n: (models.model_spec(n).order, n)))


def flax_models() -> tuple[str, ...]:
    """The built-in models of the Flax backend (spec ``backend``), in :func:`default_models`
    order."""
    import models

    return tuple(m for m in default_models() if models.model_spec(m).backend == "flax")


@dataclasses.dataclass(frozen=True)
class MatrixConfig:
    """What to train and evaluate.

    Attributes:
        models: Model names (default: :func:`default_models`).
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
        folds: ``k`` adds a k-fold ensemble row per cell (:mod:`interp.study.techniques`);
            ``None`` (default, every profile) adds none.
        tta: Test-time augmentations (e.g. ``("pad-mirror",)``, :data:`interp.backends.tta.
            OFFERED`) of a TTA row per cell; ``()`` (default) adds none.
        technique_models: The models whose cells get the ensemble / TTA rows (``None``: every
            model of the matrix; ``()``: none). The quick profile takes a cheap subset.

    The technique fields (:data:`TECHNIQUE_FIELDS`) change no single-model run: they are left
    out of :meth:`single_model_dict`, the matrix stage's folder key, so switching them on
    re-enters a finished matrix (every classifier reused) instead of starting a new one.
    """

    models: tuple[str, ...] = dataclasses.field(default_factory=default_models)
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
    folds: int | None = None
    tta: tuple[str, ...] = ()
    technique_models: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "tta", tuple(self.tta))
        if self.technique_models is not None:
            object.__setattr__(self, "technique_models", tuple(self.technique_models))
            for v in self.technique_models:
                check_name(v, "model", "MatrixConfig.technique_models")
        if self.folds is not None and int(self.folds) < 2:
            raise ValueError(f"folds must be >= 2 or None, got {self.folds}")
        if self.tta:
            from interp.backends.tta import parse_tta

            parse_tta(",".join(self.tta))
        object.__setattr__(self, "chambers", tuple(self.chambers))
        check_profile(self.profile, "training profile")
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

    @property
    def techniques_on(self) -> bool:
        """Whether any cell gets technique rows (folds or TTA, and a model to apply them to)."""
        return bool(self.folds or self.tta) and bool(self.technique_cell_models())

    def technique_cell_models(self) -> tuple[str, ...]:
        """The matrix models whose cells get ensemble / TTA rows (in matrix order)."""
        if not (self.folds or self.tta):
            return ()
        if self.technique_models is None:
            return self.models
        return tuple(m for m in self.models if m in self.technique_models)

    @classmethod
    def smoke(cls, **changes: Any) -> MatrixConfig:
        """Tiny: 6 events x 300 clusters per chamber, smoke training, 200 bootstraps.

        The Flax models' specs fix the learning rate in smoke (no LR range finder: seconds
        saved; :attr:`models.contract.ModelSpec.profile_overrides`).
        """
        base = cls(n_events=6, clusters_per_event=300, profile="smoke", n_boot=200)
        return dataclasses.replace(base, **changes)

    @classmethod
    def quick(cls, **changes: Any) -> MatrixConfig:
        """Every model x 2 x 2 chambers, 3 training seeds, ~10 minutes on 2 CPU cores.

        140 events x 500 clusters per chamber (70k clusters; ~49k train / 10.5k val / 10.5k
        test in ~98 / 21 / 21 events), so that every test split holds at least 20 events.
        Every model trains on the same 15,000 clusters of each chamber (one cap), with 3
        training seeds; quick training profile (at most 8 epochs; the split convolution's
        spec caps it at 6 epochs and the ResNet's at 5). Traded for the seeds and the 20 test
        events: fewer clusters per event (500 instead of 2,250) and fewer training clusters
        (15k for every model, instead of ~63k for the perceptron and XGBoost, 40k for the split conv
        and 30k for the ResNet). Estimated from one timed seed of every model on VTPC2
        (2026-12-01, 2-core VM shared with other jobs, load average ~9, 15k clusters: 4 / 18 /
        5 / 31 s CPU for perceptron / XGBoost / split conv / ResNet, 57 s in all): ~6 CPU
        minutes for the 24 trainings (2 chambers x 4 models x 3 seeds), ~4-6 minutes of wall
        time for the matrix on an idle 2-core machine (not timed as a whole).

        Techniques: a 3-fold ensemble and pad-mirror TTA for the perceptron and the split
        convolution only (:data:`TECHNIQUE_MODELS`; the full profile too).
        """
        base = cls(
            n_events=140,
            clusters_per_event=500,
            profile="quick",
            train_seeds=3,
            max_train_clusters=15_000,
            folds=3,
            tta=("pad-mirror",),
            technique_models=TECHNIQUE_MODELS,
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def full(cls, **changes: Any) -> MatrixConfig:
        """The published event size: 100 events x 28,764 clusters per chamber (2.9 M clusters
        each; ~2.0 M train / 431k val / 431k test clusters in 70 / 15 / 15 events), every test
        cluster scored, 1,000 bootstrap replicates.

        Sized for an hour on 2 CPU cores; timed end to end at 32 minutes for this matrix and
        86 for ``reproduce all`` (timing record: ``experiments/README.md``): one training seed,
        and every model trains on the same :data:`FULL_TRAIN_CLUSTERS` clusters of each chamber
        (20 times the quick profile's 15k; the ResNet's 4 epochs at batch
        1,024 took 5.3-5.9 minutes per chamber); full training profile (at most 8 epochs,
        early stopping on validation loss). Techniques: a 3-fold ensemble (as in quick; each
        fold model trains on 2/3 of the cap) and pad-mirror TTA for the perceptron and the
        split convolution (:data:`TECHNIQUE_MODELS`).
        """
        base = cls(
            train_seeds=1,
            max_train_clusters=FULL_TRAIN_CLUSTERS,
            folds=3,
            tta=("pad-mirror",),
            technique_models=TECHNIQUE_MODELS,
        )
        return dataclasses.replace(base, **changes)

    @classmethod
    def from_profile(cls, name: str, **changes: Any) -> MatrixConfig:
        """:meth:`smoke`, :meth:`quick` or :meth:`full` by name."""
        check_profile(name, "matrix profile")
        return getattr(cls, name)(**changes)

    def technique_dict(self) -> dict[str, Any]:
        """The technique fields (:data:`TECHNIQUE_FIELDS`) as JSON; ``{}`` when none is on."""
        if not self.techniques_on:
            return {}
        tm = self.technique_models
        return {"folds": self.folds, "tta": list(self.tta),
                "technique_models": None if tm is None else list(tm)}  # fmt: skip

    def single_model_dict(self) -> dict[str, Any]:
        """What the single-model runs and their evaluations depend on: :meth:`to_dict` less
        the technique fields (the matrix stage's folder key)."""
        d = dataclasses.asdict(self)
        for f in TECHNIQUE_FIELDS:
            d.pop(f)
        d["train_overrides"] = {k: dict(v) for k, v in self.train_overrides.items()}
        return d

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON (``matrix.json``); techniques switched off leave it as before
        (no technique keys)."""
        return {**self.single_model_dict(), **self.technique_dict()}

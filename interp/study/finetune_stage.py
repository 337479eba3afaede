"""Transfer learning across chambers: how many labelled clusters of a new chamber are needed.

For every fine-tunable model (a Flax model of the matrix) and every ordered chamber pair
(A, B), the matrix stage's first-seed classifier of the cell (model, A) is

* fine-tuned on ``n`` labelled clusters of B, every layer (``all``) or only the output layer
  (``last``, :func:`interp.backends.flax.finetune.output_layer`),
* compared with the same architecture trained from scratch on the same ``n`` clusters
  (``scratch``: the model's own matrix training settings), with A's model unchanged
  (``unchanged``: A's operating point carried over) and with B's own matrix classifier
  (``in-domain``, first seed, B's operating point).

The ``n`` clusters are drawn from B's *train* split by whole events (events in a seeded random
order, the last one cut to reach ``n``; the draws are nested: the 1k draw holds the 300 one);
the validation clusters (early stopping and the operating point, highest threshold with at most
5 % of the validation signal lost) are drawn the same way from B's *val* split, in the study's
val/train size ratio (``n`` x 0.15 / 0.70). Every curve point is B's balanced accuracy on B's
*test* split at that validation operating point, with a 95 % interval over B's test events
(and over the draws, which enter like training seeds,
:func:`interp.evaluation.metrics.evaluate_scores`). XGBoost is left out (no gradient
fine-tuning; continued boosting is another technique).

Output: ``finetune.json`` (see :func:`run_finetune`).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from interp.core.fsutil import atomic_write_text
from interp.core.schema import ClusterSet

RESULT_FILE = "finetune.json"
CURVES: tuple[str, ...] = ("all", "last", "scratch")
"""Curve kinds: fine-tuned every layer, fine-tuned the output layer, trained from scratch."""


@dataclasses.dataclass(frozen=True)
class FineTuneConfig:
    """What the fine-tuning stage runs.

    Attributes:
        models: Models to fine-tune (those of the matrix with a Flax backend are kept).
        sizes: Labelled clusters of the new chamber, ``n``.
        draws: Independent event draws per ``n`` (nested over ``n`` within a draw).
        min_sample_epochs: Fine-tuning epochs are ``ceil(min_sample_epochs / n)``, so a run
            sees at least this many samples, between 1 and ``max_epochs``.
        max_epochs: Cap on fine-tuning epochs.
        min_steps_per_epoch: Fine-tuning batches are small enough for this many optimiser
            steps per epoch (at most the model's own batch size, at least 16 clusters).
        lr_factor: Fine-tuning peak learning rate = the source model's own (its LR finder's)
            times this.
        scratch_lr_finder: Whether each from-scratch run sweeps its own learning rate (its
            profile's setting); ``False`` uses the rate the source model's run chose (the LR
            sweep costs as much as training at small ``n``).
        n_boot: Bootstrap replicates (test events) of the intervals.
        tolerance: "Within 1 point" of the in-domain balanced accuracy (a fraction).
        max_signal_loss: Validation signal-loss bound of the operating point.
        seed: Seed of the draws, the training runs and the bootstrap.
    """

    models: tuple[str, ...] = ("perceptron", "split_conv", "resnet", "mlp")
    sizes: tuple[int, ...] = (300, 1000, 3000, 10_000, 30_000)
    draws: int = 3
    min_sample_epochs: int = 2000
    max_epochs: int = 8
    min_steps_per_epoch: int = 8
    lr_factor: float = 0.1
    scratch_lr_finder: bool = True
    n_boot: int = 1000
    tolerance: float = 0.01
    max_signal_loss: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        if not self.sizes or min(self.sizes) < 2 or list(self.sizes) != sorted(set(self.sizes)):
            raise ValueError(f"FineTuneConfig.sizes must be increasing, >= 2: {self.sizes}")
        for name in ("draws", "min_sample_epochs", "max_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"FineTuneConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr_factor > 0:
            raise ValueError(f"FineTuneConfig.lr_factor must be > 0, got {self.lr_factor}")

    @classmethod
    def profile(cls, name: str) -> FineTuneConfig:
        """``smoke`` (the MLP only: all three curves, seconds; n = 100, 300; one draw, 2 epochs
        at most, 100 bootstraps), ``quick``
        (n = 300, 1k, 3k, 10k; one draw; perceptron, split conv, ResNet; 200 bootstraps) or
        ``full`` (n up to 30k, 2 draws, perceptron, split conv and MLP, 1,000 bootstraps);
        every profile trains from scratch at the source run's learning rate (an LR sweep per
        run would cost as much as the run at small n; ``scratch_lr_finder=True`` turns it on).

        The full profile leaves the ResNet out: its 60 curve points each score the 431k test
        clusters of the new chamber, 1,336 of the stage's 1,810 s (74 %) in the timed full
        profile of 2026-12-03 (``experiments/README.md``); its curves are in the
        quick profile, and ``FineTuneConfig(models=(..., "resnet"))`` puts them back."""
        from interp.core.profiles import check_profile

        check_profile(name, "fine-tuning profile")
        if name == "smoke":
            return cls(
                models=("mlp",),
                sizes=(100, 300),
                draws=1,
                min_sample_epochs=200,
                max_epochs=2,
                scratch_lr_finder=False,
                n_boot=100,
            )
        if name == "quick":
            return cls(
                models=("perceptron", "split_conv", "resnet"),
                sizes=(300, 1000, 3000, 10_000),
                draws=1,
                scratch_lr_finder=False,
                n_boot=200,
            )
        return cls(models=("perceptron", "split_conv", "mlp"), draws=2, scratch_lr_finder=False)


def fine_tunable(model: str) -> bool:
    """Whether a model fine-tunes by gradient steps on labels: a Flax backend and the
    classification objective (an autoencoder's logits come from a fitted score head, not a
    trained output layer)."""
    import models

    spec = models.model_spec(model)
    return spec.backend == "flax" and spec.objective == "classify"


def event_order(data: ClusterSet, seed: Sequence[int]) -> np.ndarray:
    """Every cluster of ``data`` in a random order that keeps events whole.

    Events come in a random order (``seed``), each event's clusters shuffled among themselves;
    the draw of ``n`` clusters is the first ``n`` (so draws are nested in ``n``, and only the
    last event of a draw is cut).

    Returns:
        int64 [len(data)] indices into ``data``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(s) for s in seed]))
    events = rng.permutation(np.unique(data.event_id))
    order = [rng.permutation(np.flatnonzero(data.event_id == e)) for e in events]
    return np.concatenate(order).astype(np.int64) if order else np.zeros(0, np.int64)


def labelled_draw(
    parts: Mapping[str, ClusterSet],
    n: int,
    val_ratio: float,
    seed: Sequence[int],
) -> tuple[ClusterSet, ClusterSet]:
    """The ``n`` labelled clusters of a new chamber and their validation clusters.

    Args:
        parts: The chamber's ``{"train", "val", "test"}`` splits; ``n`` clusters come from
            ``train`` and ``max(2, round(n * val_ratio))`` (at most all) from ``val``, both by
            :func:`event_order` (the test split is never touched).
        n: Labelled training clusters (at most the train split's size).
        val_ratio: Validation clusters per training cluster.
        seed: Seed of the draw (the train and val orders use ``[*seed, 1]`` and ``[*seed, 2]``).

    Returns:
        ``(train subset, val subset)`` in the splits' own cluster order.

    Raises:
        ValueError: ``n`` larger than the train split.
    """
    train, val = parts["train"], parts["val"]
    if n > len(train):
        raise ValueError(f"{train.chamber}: {n} clusters asked, the train split holds {len(train)}")
    n_val = val_size(n, val_ratio)
    tr = event_order(train, [*seed, 1])[:n]
    va = event_order(val, [*seed, 2])[:n_val]
    return train.subset(np.sort(tr)), val.subset(np.sort(va))


def val_size(n: int, val_ratio: float) -> int:
    """Validation clusters drawn beside ``n`` training clusters (at least 2)."""
    return max(2, round(n * val_ratio))


def _chamber_stream(chamber: str) -> int:
    return zlib.crc32(chamber.encode())


@dataclasses.dataclass
class _Scored:
    scores: list[np.ndarray] = dataclasses.field(default_factory=list)
    thresholds: list[float] = dataclasses.field(default_factory=list)
    epochs: list[int] = dataclasses.field(default_factory=list)
    n_val: int = 0
    cpu_seconds: float = 0.0


def _jax_scores(clf: Any, charge: np.ndarray) -> np.ndarray:
    """P(signal) with the JAX backend (every model of the stage scored the same way)."""
    if hasattr(clf, "backend"):
        clf.backend = "jax"
    return np.asarray(clf.predict_proba(charge))


def _metric(s: _Scored, test: ClusterSet, config: FineTuneConfig) -> dict[str, Any]:
    from interp.evaluation.metrics import evaluate_scores

    ev = evaluate_scores(
        s.scores, test.label, test.event_id, s.thresholds, config.n_boot, config.seed
    )
    return {
        "balanced_accuracy": ev["metrics"]["balanced_accuracy"],
        "thresholds": [float(t) for t in s.thresholds],
        "interval_method": ev.get("interval_method"),
        "n_events": ev.get("n_events"),
    }


def run_finetune(
    matrix_folder: str | Path,
    out_dir: str | Path,
    config: FineTuneConfig,
    progress: bool = False,
) -> dict[str, Any]:
    """The fine-tuning curves of every fine-tunable model and ordered chamber pair.

    Args:
        matrix_folder: A finished matrix stage folder (``matrix.json``, ``runs/``, ``data/``).
        out_dir: Where ``finetune.json`` is written (created).
        config: What to run.
        progress: Show training progress bars.

    Returns:
        The ``finetune.json`` content: ``{"config", "budget", "skipped", "pairs": [{"model",
        "source", "target", "in_domain", "unchanged", "curves": {kind: [{"n", "available",
        "n_val", "epochs", "balanced_accuracy": {"value", "lo", "hi"}, "thresholds",
        "cpu_seconds"}]}, "clusters_needed": {kind: n or None}}], "seconds", "cpu_seconds"}``.
        ``clusters_needed`` is the smallest ``n`` whose balanced accuracy is at least the
        in-domain one minus ``tolerance`` (``None``: not reached within ``sizes``).

    Raises:
        ClusterDataError: No ``matrix.json`` in ``matrix_folder``.
    """
    from interp.backends.classifier import load_classifier
    from interp.backends.flax.config import TrainConfig
    from interp.study.explain_stage import load_run_data

    t0, c0 = time.perf_counter(), time.process_time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(matrix_folder)
    matrix, parts = load_run_data(folder)
    fractions = matrix["config"]["fractions"]
    val_ratio = float(fractions[1]) / float(fractions[0])
    cells = {(c["model"], c["train_chamber"]): c for c in matrix["cells"]}
    chambers = list(matrix["config"]["chambers"])
    models_run, skipped = [], []
    for m in config.models:
        if not any(k[0] == m for k in cells):
            skipped.append({"model": m, "reason": "not in the matrix"})
        elif not fine_tunable(m):
            skipped.append({"model": m, "reason": "not a Flax classifier"})
        else:
            models_run.append(m)
    result: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        "budget": {
            "sizes": list(config.sizes),
            "draws": config.draws,
            "epochs": {str(n): fine_tune_epochs_for(n, config) for n in config.sizes},
            "lr_factor": config.lr_factor,
            "val_ratio": val_ratio,
            "validation": "drawn by events from the target's val split, n x val/train fractions",
        },
        "skipped": skipped,
        "pairs": [],
    }
    pairs = [(a, b) for a in chambers for b in chambers if a != b]
    with tempfile.TemporaryDirectory(prefix="tpc-finetune-") as tmp:
        for model in models_run:
            for a, b in pairs:
                if (model, a) not in cells or (model, b) not in cells:
                    continue
                clf_a = load_classifier(folder / cells[(model, a)]["run_dir"])
                clf_b = load_classifier(folder / cells[(model, b)]["run_dir"])
                own = TrainConfig.from_dict(dict(cells[(model, a)]["run"]["config"]))
                entry = _pair(
                    model, a, b, clf_a, clf_b, own, parts[a], parts[b], val_ratio, config,
                    Path(tmp) / f"{model}_{a}_{b}", progress,
                )  # fmt: skip
                result["pairs"].append(entry)
                result["seconds"] = time.perf_counter() - t0
                result["cpu_seconds"] = time.process_time() - c0
                atomic_write_text(out_dir / RESULT_FILE, json.dumps(result, indent=1))
    result["seconds"] = time.perf_counter() - t0
    result["cpu_seconds"] = time.process_time() - c0
    atomic_write_text(out_dir / RESULT_FILE, json.dumps(result, indent=1))
    return result


def fine_tune_batch(n: int, batch_size: int, config: FineTuneConfig) -> int:
    """Fine-tuning batch size at ``n`` clusters: at most the model's own ``batch_size``, small
    enough for ``min_steps_per_epoch`` optimiser steps per epoch, at least 16."""
    return int(max(16, min(batch_size, n // config.min_steps_per_epoch)))


def fine_tune_epochs_for(n: int, config: FineTuneConfig) -> int:
    """Fine-tuning epochs at ``n`` labelled clusters under ``config``."""
    from interp.backends.flax.finetune import fine_tune_epochs

    return fine_tune_epochs(n, config.min_sample_epochs, config.max_epochs)


def _pair(
    model: str,
    a: str,
    b: str,
    clf_a: Any,
    clf_b: Any,
    own: Any,
    parts_a: Mapping[str, ClusterSet],
    parts_b: Mapping[str, ClusterSet],
    val_ratio: float,
    config: FineTuneConfig,
    tmp: Path,
    progress: bool,
) -> dict[str, Any]:
    """One (model, A -> B) entry of :func:`run_finetune`."""
    import jax

    from interp.backends.flax.finetune import fine_tune, trainable_mask
    from interp.backends.flax.trainer import train_flax
    from interp.evaluation.metrics import choose_threshold

    test, train_b, val_b = parts_b["test"], parts_b["train"], parts_b["val"]

    def carried(clf: Any, val: ClusterSet) -> dict[str, Any]:
        th = clf.threshold
        if th is None:
            th = choose_threshold(_jax_scores(clf, val.charge), val.label, config.max_signal_loss)
        return _metric(_Scored([_jax_scores(clf, test.charge)], [float(th)]), test, config)

    in_domain = carried(clf_b, val_b)
    unchanged = carried(clf_a, parts_a["val"])
    last_is_all = all(jax.tree_util.tree_leaves(trainable_mask(clf_a.params, "last")))
    source_lr = float(clf_a.info.get("learning_rate") or own.learning_rate or 1e-3)
    lr = source_lr * config.lr_factor
    scored: dict[str, dict[int, _Scored]] = {k: {} for k in CURVES}
    for d in range(config.draws):
        for n in config.sizes:
            if n > len(train_b):
                continue
            tr, va = labelled_draw(parts_b, n, val_ratio, [config.seed, d, _chamber_stream(b)])
            epochs = fine_tune_epochs_for(n, config)
            seed = config.seed + d
            ft_cfg = own.replace(
                max_epochs=epochs,
                learning_rate=lr,
                max_train_clusters=None,
                seed=seed,
                batch_size=fine_tune_batch(n, own.batch_size, config),
            )
            sc_cfg = own.replace(max_train_clusters=None, seed=seed)
            if not config.scratch_lr_finder:
                sc_cfg = sc_cfg.replace(learning_rate=source_lr)
            for kind in CURVES:
                if kind == "last" and last_is_all:
                    continue  # the output layer is the whole model: same run as "all"
                c0 = time.process_time()
                run_dir = tmp / f"{kind}_{n}_{d}"
                if kind == "scratch":
                    clf = train_flax(
                        model, tr, va, run_dir, config=sc_cfg,
                        model_config=clf_a.model_config, progress=progress,
                    )  # fmt: skip
                    ep = int(clf.info.get("epochs_run", sc_cfg.max_epochs))
                else:
                    clf = fine_tune(clf_a, tr, va, run_dir, kind, ft_cfg, progress)
                    ep = epochs
                s = scored[kind].setdefault(n, _Scored())
                s.thresholds.append(
                    choose_threshold(_jax_scores(clf, va.charge), va.label, config.max_signal_loss)
                )
                s.scores.append(_jax_scores(clf, test.charge))
                s.epochs.append(ep)
                s.n_val = len(va)
                s.cpu_seconds += time.process_time() - c0
    if last_is_all:
        scored["last"] = scored["all"]
    curves: dict[str, list[dict[str, Any]]] = {}
    needed: dict[str, int | None] = {}
    target = in_domain["balanced_accuracy"]["value"]
    for kind in CURVES:
        rows = []
        for n in config.sizes:
            s = scored[kind].get(n)
            if s is None:
                rows.append({"n": n, "available": False})
                continue
            row = {
                "n": n,
                "available": True,
                "n_val": s.n_val,
                "epochs": s.epochs,
                "cpu_seconds": s.cpu_seconds,
                **_metric(s, test, config),
            }
            if kind == "last" and last_is_all:
                row["same_as"] = "all"
            rows.append(row)
        curves[kind] = rows
        needed[kind] = next(
            (
                r["n"]
                for r in rows
                if r["available"]
                and target is not None
                and r["balanced_accuracy"]["value"] >= target - config.tolerance
            ),
            None,
        )
    return {
        "model": model,
        "source": a,
        "target": b,
        "n_target_train": len(train_b),
        "learning_rate": lr,
        "source_learning_rate": source_lr,
        "last_is_all": last_is_all,
        "in_domain": in_domain,
        "unchanged": unchanged,
        "curves": curves,
        "clusters_needed": needed,
        "tolerance": config.tolerance,
    }


__all__ = [
    "CURVES",
    "RESULT_FILE",
    "FineTuneConfig",
    "event_order",
    "fine_tunable",
    "labelled_draw",
    "run_finetune",
]

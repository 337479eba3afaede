"""Fine-tuning a trained Flax classifier on another chamber's clusters.

The same training loop as any Flax model (:func:`interp.backends.flax.trainer.train_flax`), started
from the trained classifier's parameters and preprocessing instead of a fresh initialisation,
with either every layer trained (``"all"``) or only the output layer (``"last"``: the Dense
layer producing the logits, found in the parameter tree, see :func:`output_layer`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax

from interp.backends.flax.classifier import FlaxClassifier
from interp.backends.flax.config import TrainConfig
from interp.core.errors import ShapeMismatchError, UnknownNameError
from interp.core.schema import ClusterSet

MODES: tuple[str, ...] = ("all", "last")
"""Fine-tuning modes: every layer trained, or only the output layer."""


def _path_names(path: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(getattr(k, "key", getattr(k, "name", k))) for k in path)


def output_layer(params: Any, n_outputs: int = 2) -> tuple[str, ...]:
    """Path (module names) of the layer producing the logits: the one module whose 2-D
    kernel has ``n_outputs`` columns ([features, classes]). Leaves need only a ``shape``
    (arrays, or :func:`jax.eval_shape` structs).

    Raises:
        ShapeMismatchError: No such kernel, or more than one (the output layer is ambiguous).
    """
    found = [
        _path_names(path)[:-1]
        for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
        if _path_names(path)[-1] == "kernel"
        and len(leaf.shape) == 2
        and leaf.shape[-1] == n_outputs
    ]
    if len(found) != 1:
        names = ["/".join(p) for p in found]
        raise ShapeMismatchError(
            f"params: expected exactly one 2-D kernel with {n_outputs} output columns (the "
            f"output layer), found {len(found)} {names}"
        )
    return found[0]


def trainable_mask(params: Any, mode: str, n_outputs: int = 2) -> Any:
    """Tree of bools like ``params``: ``True`` for the leaves fine-tuning ``mode`` trains.

    Raises:
        UnknownNameError: Unknown mode.
        ShapeMismatchError: ``"last"`` without a unique output layer.
    """
    if mode not in MODES:
        raise UnknownNameError("fine-tuning mode", mode, MODES)
    if mode == "all":
        return jax.tree_util.tree_map(lambda _: True, params)
    head = output_layer(params, n_outputs)
    return jax.tree_util.tree_map_with_path(
        lambda path, _: _path_names(path)[: len(head)] == head, params
    )


def fine_tune_epochs(n: int, min_sample_epochs: int, max_epochs: int) -> int:
    """Epochs so that a run sees at least ``min_sample_epochs`` samples (``n`` x epochs),
    between 1 and ``max_epochs``."""
    return int(min(max(math.ceil(min_sample_epochs / max(n, 1)), 1), max_epochs))


def fine_tune(
    clf: FlaxClassifier,
    train: ClusterSet,
    val: ClusterSet,
    workdir: str | Path,
    mode: str,
    config: TrainConfig,
    progress: bool = False,
) -> FlaxClassifier:
    """Fine-tunes a trained Flax classifier on ``train`` (early stopping on ``val``).

    Args:
        clf: The trained classifier (its parameters and preprocessing are the start; it is not
            modified).
        train: Labelled clusters of the new chamber, windows [N, P, T] as ``clf``'s.
        val: Validation clusters of the new chamber.
        workdir: Run folder of the training loop (checkpoints, metrics).
        mode: ``"all"`` or ``"last"`` (:data:`MODES`).
        config: Training config; give ``learning_rate`` (no LR sweep from trained weights).
        progress: Show progress bars.

    Returns:
        The fine-tuned classifier (``train_chamber`` is ``train.chamber``; ``info`` has
        ``fine_tuned_from`` and ``fine_tune_mode``).

    Raises:
        UnknownNameError: Unknown mode.
        ShapeMismatchError: Windows differ from ``clf``'s, or ``"last"`` without a unique
            output layer.
    """
    from interp.backends.flax.trainer import train_flax

    if tuple(train.window_shape) != clf.window:
        raise ShapeMismatchError(
            f"fine-tuning '{clf.name}': train windows {train.window_shape} differ from the "
            f"classifier's {clf.window} (pads, time bins)"
        )
    mask = trainable_mask(clf.params, mode)  # two logits: noise, signal
    out = train_flax(
        clf.name,
        train,
        val,
        workdir,
        config=config,
        model_config=clf.model_config,
        progress=progress,
        init_params=clf.params,
        preprocessor=clf.preprocessor,
        trainable=mask,
    )
    out.info["fine_tuned_from"] = clf.train_chamber
    out.info["fine_tune_mode"] = mode
    return out


__all__ = ["MODES", "fine_tune", "fine_tune_epochs", "output_layer", "trainable_mask"]

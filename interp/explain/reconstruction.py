"""Mean inputs and mean reconstructions per noise kind of a ``"reconstruct"`` model (the
autoencoder, :data:`models.contract.OBJECTIVES`).

Groups: signal, each simulator noise kind (a)-(f) present (``noise_kind`` truth codes 1-6,
:data:`interp.core.schema.NOISE_KINDS`) and (g) noise clusters with a dead pad
(``dead_pads > 0``; they also belong to their own kind). Without truth columns: signal and
noise by label. Everything is in preprocessed units (the model's input space).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from interp.core.schema import NOISE_KINDS, ClusterSet


def kind_label(code: int) -> str:
    """``"signal"`` for code 0, else ``"(a) electronic"`` ... ``"(f) unreconstructed"``."""
    return "signal" if code == 0 else f"({chr(ord('a') + code - 1)}) {NOISE_KINDS[code]}"


DEAD_PAD_GROUP = "(g) dead pad"
"""Group of noise clusters with at least one dead pad column."""


def reconstruction_groups(clusters: ClusterSet) -> dict[str, np.ndarray]:
    """Group name -> int64 indices of its clusters (non-empty groups only, in kind order)."""
    label = np.asarray(clusters.label)
    kinds = clusters.truth.get("noise_kind")
    if kinds is None:
        groups = {"signal": np.flatnonzero(label == 1), "noise": np.flatnonzero(label == 0)}
    else:
        kinds = np.asarray(kinds)
        groups = {kind_label(c): np.flatnonzero(kinds == c) for c in range(len(NOISE_KINDS))}
        dead = clusters.truth.get("dead_pads")
        if dead is not None:
            groups[DEAD_PAD_GROUP] = np.flatnonzero((label == 0) & (np.asarray(dead) > 0))
    return {k: v for k, v in groups.items() if v.size}


def reconstruct(clf: Any, charge: np.ndarray, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed inputs and their reconstructions, float32 [N, P, T] each.

    Args:
        clf: A Flax classifier whose module has ``reconstruct`` (``module``, ``params``,
            ``preprocessor``).
        charge: float [N, P, T] raw ADC windows.
        batch: Clusters per compiled call.
    """
    x = clf.preprocessor(charge)
    fn = jax.jit(lambda p, v: clf.module.apply({"params": p}, v, method="reconstruct"))
    parts = [np.asarray(fn(clf.params, x[i : i + batch])) for i in range(0, len(x), batch)]
    r = np.concatenate(parts) if parts else np.zeros_like(x)
    return x, r.astype(np.float32)


def mean_reconstructions(clf: Any, clusters: ClusterSet) -> dict[str, dict[str, Any]]:
    """Per group (:func:`reconstruction_groups`): the mean input and mean reconstruction.

    Returns:
        Group -> ``{"n", "input" float32 [P, T], "reconstruction" float32 [P, T],
        "mean_error", "median_error"}``; errors are the per-cluster mean squared
        reconstruction error over the window (preprocessed units squared).
    """
    x, r = reconstruct(clf, clusters.charge)
    err = np.mean(np.square(x - r).reshape(len(x), -1), axis=1)
    out = {}
    for name, idx in reconstruction_groups(clusters).items():
        out[name] = {
            "n": int(idx.size),
            "input": x[idx].mean(axis=0),
            "reconstruction": r[idx].mean(axis=0),
            "mean_error": float(err[idx].mean()),
            "median_error": float(np.median(err[idx])),
        }
    return out

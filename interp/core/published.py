"""The published NA61/SHINE cluster-classification numbers (``interp/core/published.json``).

Source: O. Linnyk et al., "Comparison of Very Deep Learning performance on GPU and CPU",
GPU Day 2020, Budapest, 20-21 Oct 2020 (NA61/SHINE work in progress). Values are fractions
in [0, 1]; ``None`` marks a number the talk does not give.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

CLUSTERS_PER_EVENT: float = 28763.75
"""Average clusters per event in the published sample (sets the seconds-per-event scale)."""


@functools.cache
def _load() -> dict[str, Any]:
    text = resources.files("interp").joinpath("core/published.json").read_text("utf-8")
    return json.loads(text)


def load_published() -> dict[str, Any]:
    """The whole published record (a fresh copy; safe to modify)."""
    return copy.deepcopy(_load())


def citation() -> str:
    """Short citation string for tables and figure captions."""
    return str(_load()["citation"]["short"])


def published_models() -> list[str]:
    """Model names with an entry (including ``xgboost``, all ``None``: not in the talk)."""
    return list(_load()["models"])


def published_accuracy(model: str, train_chamber: str, test_chamber: str) -> float | None:
    """Published accuracy of ``model`` trained on one chamber and tested on another.

    Returns:
        The fraction, or ``None`` if the talk gives none (or the model/chamber is unknown).
    """
    entry = _load()["models"].get(model, {})
    return entry.get("accuracy", {}).get(train_chamber, {}).get(test_chamber)


def published_rates(model: str) -> dict[str, Any]:
    """``{"noise_removed", "signal_lost", "operating_chamber"}`` of a model (``None``: absent)."""
    entry = _load()["models"].get(model, {})
    return {k: entry.get(k) for k in ("noise_removed", "signal_lost", "operating_chamber")}

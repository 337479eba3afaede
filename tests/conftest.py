"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from forkserver import ForkServer

from interp.core.schema import NOISE_KINDS, TRUTH_FIELDS, ClusterSet


def _make_clusters(
    n: int = 2000,
    *,
    window: tuple[int, int] = (11, 20),
    chamber: str = "VTPC2",
    truth: bool = True,
    n_events: int = 20,
    seed: int = 0,
) -> ClusterSet:
    """Synthetic set: float32 charge in [0, 255] with zeros, labels, sorted event ids, truth."""
    rng = np.random.default_rng(seed)
    charge = rng.uniform(0.0, 255.0, (n, *window)).astype(np.float32)
    charge[charge < 120.0] = 0.0
    label = rng.integers(0, 2, n).astype(np.int8)
    event_id = np.sort(rng.integers(0, n_events, n)).astype(np.int64)
    fields: dict[str, np.ndarray] = {}
    if truth:
        for name, dtype in TRUTH_FIELDS.items():
            if dtype.kind == "f":
                fields[name] = rng.normal(10.0, 5.0, n).astype(dtype)
            else:
                fields[name] = rng.integers(0, 3, n).astype(dtype)
        fields["noise_kind"] = np.where(label == 1, 0, rng.integers(1, len(NOISE_KINDS), n)).astype(
            np.int8
        )
        fields["drift_length"][label == 0] = np.nan  # no track made noise clusters
    return ClusterSet(charge, label, event_id, chamber, fields)


@pytest.fixture
def make_clusters() -> Callable[..., ClusterSet]:
    """Factory ``make_clusters(n=2000, *, window, chamber, truth, n_events, seed)``."""
    return _make_clusters


CLI_CODE = "import sys; sys.argv[0] = 'tpc-interp'; from interp.cli import app; app()"
"""What the ``tpc-interp`` console script runs (``pyproject.toml``: ``interp.cli:app``)."""
CLI_PRELOAD = (
    "jax",
    "flax",
    "optax",
    "xgboost",
    "h5py",
    "sklearn.isotonic",
    "models",
    "interp.cli",
)
"""What the CLI fork server imports once (no JAX runtime started)."""


@pytest.fixture(scope="session")
def cli_server() -> Iterator[ForkServer]:
    """A :class:`~forkserver.ForkServer` with the CLI preloaded (CPU JAX, repository root):
    ``cli_server.run(CLI_CODE, args)`` runs ``tpc-interp ARGS`` in a fresh child process."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    with ForkServer(CLI_PRELOAD, env, Path(__file__).resolve().parents[1]) as server:
        yield server

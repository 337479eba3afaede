"""Training checkpoints: Flax msgpack state + JSON metadata, written atomically, no pickle.

Layout of a checkpoint directory (``workdir/checkpoints/last``, ``.../best``)::

    state.msgpack   flax.serialization.to_bytes({"state": <pytree>, "meta": <JSON str>})
    meta.json       the same metadata, human-readable (informational copy)

The msgpack file is authoritative and self-contained (state and metadata in one atomic
write), so a crash between the two writes can never pair a state with foreign metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import numpy as np

from interp.core.errors import ClusterDataError
from interp.core.fsutil import atomic_write_bytes, atomic_write_text

STATE_FILE = "state.msgpack"
META_FILE = "meta.json"


def _to_host(tree: Any) -> Any:
    return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))


def save_checkpoint(directory: str | Path, state: Any, meta: dict[str, Any]) -> Path:
    """Writes a checkpoint atomically.

    Args:
        directory: Checkpoint directory (created if missing; its parent must exist).
        state: Pytree of arrays (params, optimiser state, step, rng ...).
        meta: JSON-serialisable metadata (epoch, early-stopping state, config ...).

    Returns:
        The path of the state file.
    """
    directory = Path(directory)
    directory.mkdir(exist_ok=True)
    meta_text = json.dumps(meta, sort_keys=True)
    payload = {"state": flax.serialization.to_state_dict(_to_host(state)), "meta": meta_text}
    path = atomic_write_bytes(directory / STATE_FILE, flax.serialization.msgpack_serialize(payload))
    atomic_write_text(directory / META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def read_checkpoint(directory: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Reads a checkpoint without a template.

    Returns:
        ``(raw_state, meta)``: the state as nested dicts of numpy arrays (restore it into a
        template with :func:`restore_into`) and the metadata dict.

    Raises:
        ClusterDataError: If the file is missing or corrupt.
    """
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise ClusterDataError(str(path), None, "no checkpoint here")
    try:
        payload = flax.serialization.msgpack_restore(path.read_bytes())
        meta = json.loads(payload["meta"])
        raw = payload["state"]
    except Exception as exc:  # msgpack raises several unrelated types on corruption
        raise ClusterDataError(str(path), None, f"corrupt checkpoint: {exc}") from exc
    return raw, meta


def restore_into(template: Any, raw: dict[str, Any]) -> Any:
    """Restores a raw state dict into the structure of ``template`` (shapes are checked)."""
    restored = flax.serialization.from_state_dict(template, raw)
    t_leaves = jax.tree_util.tree_leaves(template)
    r_leaves = jax.tree_util.tree_leaves(restored)
    if len(t_leaves) != len(r_leaves):
        raise ValueError("checkpoint does not match the model: different number of arrays")
    for a, b in zip(t_leaves, r_leaves, strict=True):
        if np.shape(a) != np.shape(b):
            raise ValueError(
                f"checkpoint does not match the model: array of shape {np.shape(b)} where "
                f"{np.shape(a)} was expected"
            )
    return restored


def load_checkpoint(directory: str | Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """Reads a checkpoint into the structure of ``template``; returns ``(state, meta)``."""
    raw, meta = read_checkpoint(directory)
    return restore_into(template, raw), meta

"""Data-parallel meshes, multi-host initialisation and sharded inference (``jax.sharding``).

Data parallelism here is the plain GSPMD recipe: a 1-D mesh with axis ``"data"``, batches
placed with ``NamedSharding(mesh, P("data"))`` (split along the cluster axis), parameters and
optimiser state with ``NamedSharding(mesh, P())`` (replicated). A jitted step written for one
device then computes per-device gradients and all-reduces them by itself; the update is
the same as on one device up to the order of floating-point sums.

Multi-host: call :func:`initialize_distributed` once per process before any other JAX call;
:func:`data_mesh` then spans the devices of every process. Host arrays handed to
:meth:`DataParallel.shard` / :meth:`DataParallel.replicate` must be identical on all
processes (they are: batches are a pure function of (seed, epoch)).

jax 0.10.2 with several (fake) CPU devices can deadlock in the all-reduce rendezvous unless
each step is awaited; :meth:`DataParallel.sync` does that and the trainer calls it per step.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from interp.core.errors import ShapeMismatchError, TPCInterpError

AXIS = "data"
"""Name of the data-parallel mesh axis."""

DevicesArg = int | Sequence[Any] | None
"""``None`` (all devices), a device count (the first ``k``), or explicit devices."""

ENV_COORDINATOR = "TPC_INTERP_COORDINATOR"
ENV_NUM_PROCESSES = "TPC_INTERP_NUM_PROCESSES"
ENV_PROCESS_ID = "TPC_INTERP_PROCESS_ID"


class ParallelConfigError(TPCInterpError, ValueError):
    """Bad device selection, batch size or distributed configuration."""


# --------------------------------------------------------------------------- multi-host
def _env_int(name: str) -> int | None:
    text = os.environ.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        msg = f"environment variable {name}={text!r} is not an integer"
        raise ParallelConfigError(msg) from None


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    cpu_collectives: str | None = "gloo",
) -> bool:
    """Starts multi-process JAX if configured; a no-op for single-process runs.

    Resolution order: explicit arguments; then ``TPC_INTERP_COORDINATOR`` (``host:port``),
    ``TPC_INTERP_NUM_PROCESSES`` and ``TPC_INTERP_PROCESS_ID``; then a SLURM allocation with
    more than one task (``SLURM_NTASKS > 1``), for which JAX detects everything itself. Must be
    called before any other JAX computation in the process.

    Args:
        coordinator_address: ``host:port`` of process 0.
        num_processes: Total number of processes.
        process_id: This process's rank in ``0..num_processes-1``.
        cpu_collectives: CPU all-reduce implementation for multi-process CPU runs
            (``"gloo"``); ``None`` leaves JAX's default.

    Returns:
        ``True`` if ``jax.distributed.initialize`` was called, ``False`` for one process.

    Raises:
        ParallelConfigError: Incomplete or inconsistent settings.
    """
    coordinator_address = coordinator_address or os.environ.get(ENV_COORDINATOR) or None
    if num_processes is None:
        num_processes = _env_int(ENV_NUM_PROCESSES)
    if process_id is None:
        process_id = _env_int(ENV_PROCESS_ID)
    slurm_tasks = _env_int("SLURM_NTASKS") if os.environ.get("SLURM_JOB_ID") else None
    explicit = coordinator_address is not None or num_processes is not None
    if not explicit and (slurm_tasks is None or slurm_tasks <= 1):
        return False
    if explicit:
        missing = [
            name
            for name, value in (
                ("coordinator address", coordinator_address),
                ("number of processes", num_processes),
                ("process id", process_id),
            )
            if value is None
        ]
        if missing:
            raise ParallelConfigError(
                f"multi-process run needs {', '.join(missing)} (set {ENV_COORDINATOR}, "
                f"{ENV_NUM_PROCESSES} and {ENV_PROCESS_ID}, or pass them explicitly)"
            )
        assert num_processes is not None and process_id is not None
        if num_processes < 1 or not 0 <= process_id < num_processes:
            raise ParallelConfigError(f"process id {process_id} is not in 0..{num_processes - 1}")
    if cpu_collectives:
        jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    if explicit:
        jax.distributed.initialize(coordinator_address, num_processes, process_id)
    else:  # SLURM: JAX reads SLURM_* itself
        jax.distributed.initialize()
    return True


# --------------------------------------------------------------------------- meshes
def select_devices(devices: DevicesArg = None, local: bool = False) -> list[Any]:
    """Resolves a device selection.

    Args:
        devices: ``None`` for all devices, an int ``k`` for the first ``k``, or devices.
        local: Choose among this process's devices only (inference) instead of all.

    Returns:
        A non-empty list of devices.

    Raises:
        ParallelConfigError: ``k`` outside ``1..available`` or an empty list.
    """
    available = jax.local_devices() if local else jax.devices()
    if devices is None:
        return list(available)
    if isinstance(devices, int | np.integer):
        k = int(devices)
        if not 1 <= k <= len(available):
            raise ParallelConfigError(
                f"asked for {k} devices but {len(available)} are available "
                f"({available[0].platform}); on CPU set "
                "XLA_FLAGS=--xla_force_host_platform_device_count=N before starting Python"
            )
        return list(available[:k])
    chosen = list(devices)
    if not chosen:
        raise ParallelConfigError("the device list is empty")
    return chosen


def data_mesh(devices: DevicesArg = None, local: bool = False) -> Mesh:
    """1-D mesh with axis ``"data"`` over the selected devices (see :func:`select_devices`)."""
    devs = select_devices(devices, local=local)
    return jax.make_mesh(
        (len(devs),), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=devs
    )


def to_host(tree: Any) -> Any:
    """Numpy copy of a pytree, also for replicated arrays spanning several processes."""

    def one(a: Any) -> np.ndarray:
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            return np.asarray(a.addressable_data(0))  # replicated: every shard is the whole
        return np.asarray(a)

    return jax.tree_util.tree_map(one, tree)


class DataParallel:
    """Placement rules of a data-parallel run.

    Args:
        devices: See :func:`select_devices`.
        local: Use only this process's devices (for inference, where each process scores
            its own files).

    Attributes:
        mesh: The ``("data",)`` mesh.
        n_devices: Devices in the mesh (batch sizes must be multiples of it).
        batch: ``NamedSharding(mesh, P("data"))``.
        replicated: ``NamedSharding(mesh, P())``.
    """

    def __init__(self, devices: DevicesArg = None, local: bool = False) -> None:
        self.mesh = data_mesh(devices, local=local)
        self.n_devices = int(self.mesh.devices.size)
        self.batch = NamedSharding(self.mesh, P(AXIS))
        self.replicated = NamedSharding(self.mesh, P())
        platforms = {d.platform for d in self.mesh.devices.flat}
        self._block = self.n_devices > 1 and "cpu" in platforms

    @property
    def is_primary(self) -> bool:
        """True in the process that writes files (process 0)."""
        return jax.process_index() == 0

    def check_batch(self, size: int, what: str = "batch_size") -> None:
        """Raises :class:`ParallelConfigError` unless ``size`` is a multiple of the devices."""
        if int(size) % self.n_devices:
            raise ParallelConfigError(
                f"{what} {size} is not a multiple of the {self.n_devices} devices; choose a "
                f"multiple of {self.n_devices} so every device gets the same share"
            )

    def round_up(self, size: int) -> int:
        """Smallest multiple of the device count that is >= ``size``."""
        return -(-int(size) // self.n_devices) * self.n_devices

    def shard(self, x: np.ndarray) -> jax.Array:
        """Global array split along axis 0 (``P("data")``) from a host array."""
        x = np.asarray(x)
        self.check_batch(x.shape[0], "leading dimension")
        return jax.make_array_from_callback(x.shape, self.batch, lambda idx: x[idx])

    def replicate(self, tree: Any) -> Any:
        """Pytree with every leaf replicated on all devices (``P()``)."""

        def one(a: Any) -> jax.Array:
            if isinstance(a, jax.Array) and a.sharding == self.replicated:
                return a
            host = to_host(a)
            return jax.make_array_from_callback(
                host.shape, self.replicated, lambda idx: np.asarray(host[idx])
            )

        return jax.tree_util.tree_map(one, tree)

    def sync(self, tree: Any) -> Any:
        """Waits for ``tree`` on CPU meshes of several devices; a no-op elsewhere.

        jax 0.10.2 with several (fake) CPU devices deadlocked in about half the runs of a
        data-parallel step unless every step was awaited. GPUs keep asynchronous dispatch.
        """
        if self._block:
            return jax.block_until_ready(tree)
        return tree

    def barrier(self, name: str) -> None:
        """Waits until every process reaches this point (no-op for one process)."""
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(name)


# --------------------------------------------------------------------------- inference
class ShardedScorer:
    """Data-parallel inference for a trained Flax classifier (this process's devices).

    Wraps the classifier's module, parameters and preprocessor; the parameters are replicated
    once, each padded batch is split over the devices. Results equal
    ``FlaxClassifier.logits`` up to float rounding.

    Args:
        clf: A :class:`~interp.backends.flax.classifier.FlaxClassifier` (anything with
            ``module``, ``params``, ``preprocessor``, ``window`` and ``name``).
        devices: See :func:`select_devices` (local devices only).
        batch_size: Clusters per forward pass (rounded up to a multiple of the devices).
    """

    def __init__(self, clf: Any, devices: DevicesArg = None, batch_size: int = 4096) -> None:
        from interp.backends.flax.fast import preprocess_constants
        from interp.backends.flax.fused import fused_jit

        self.clf = clf
        self.window = tuple(clf.window)
        self.dp = DataParallel(devices, local=True)
        self.batch_size = self.dp.round_up(max(int(batch_size), 1))
        self._params = self.dp.replicate(clf.params)
        pre = clf.preprocessor
        self._consts = self.dp.replicate(preprocess_constants(pre))
        # preprocessing fused into the model's fast formulation, as in FlaxClassifier.logits
        self._forward: Callable[..., jax.Array] = fused_jit(
            clf.module, None if pre is None else pre.method
        )

    def logits(self, charge: np.ndarray) -> np.ndarray:
        """float32 [N, 2] logits (column 0 noise, 1 signal) for raw windows [N, P, T] (ADC).

        Raises:
            ShapeMismatchError: If (P, T) differs from the model's window.
        """
        from interp.backends.flax.adc import as_model_input
        from interp.backends.flax.chunking import bucket_size, chunks, pad_to

        charge = np.asarray(charge)
        if charge.ndim != 3 or tuple(charge.shape[1:]) != self.window:
            raise ShapeMismatchError(
                f"model '{self.clf.name}' was trained on {self.window} windows (pads, time "
                f"bins) but got charge of shape {charge.shape}"
            )
        n = charge.shape[0]
        if n == 0:
            return np.zeros((0, 2), np.float32)
        size = self.dp.round_up(bucket_size(n, self.batch_size))
        out = []
        charge = as_model_input(charge)
        for start, stop in chunks(n, size):
            x = self.dp.shard(pad_to(charge[start:stop], size))
            z = self.dp.sync(self._forward(self._params, self._consts, x))
            out.append(np.asarray(z)[: stop - start])
        return np.concatenate(out).astype(np.float32, copy=False)

    def predict_proba(self, charge: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """P(signal), float32 [N] (same formula as ``FlaxClassifier.predict_proba``)."""
        del batch_size  # fixed at construction
        z = self.logits(charge)
        d = (z[:, 1] - z[:, 0]).astype(np.float64)
        return (0.5 * (1.0 + np.tanh(0.5 * d))).astype(np.float32)

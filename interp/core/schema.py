"""The cluster schema: one labelled set of TPC cluster windows from one chamber.

Every file format, the simulator and the pipeline exchange :class:`ClusterSet` objects.

Core fields (always present):

========== ============================ ======================================================
field      dtype / shape                meaning
========== ============================ ======================================================
charge     uint8 | uint16 |             ADC counts, P pads x T time bins (default 11 x 20),
           float32 [N, P, T]            centred on the cluster maximum at (P // 2, T // 2);
                                        integer ADC is kept as uint8/uint16 (see
                                        :mod:`interp.core.adc`), anything else is float32
label      int8 [N]                     0 = noise, 1 = signal (attached to a track offline)
event_id   int64 [N]                    event number; splits never cut an event
chamber    str (one per set)            chamber name, e.g. ``VTPC2`` or ``MTPCL``
========== ============================ ======================================================

Optional truth fields (written by the simulator; absent for real data), see
:data:`TRUTH_FIELDS`. Angles are in degrees, lengths in cm.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from interp.core.adc import adc_dtype, rows_per_block
from interp.core.aligned import aligned_empty, as_aligned
from interp.core.errors import ClusterDataError

DEFAULT_WINDOW: tuple[int, int] = (11, 20)
"""Default window shape: (pads, time bins)."""

CORE_FIELDS: tuple[str, ...] = ("charge", "label", "event_id")

NOISE_KINDS: tuple[str, ...] = (
    "signal",  # 0: not noise (label 1)
    "electronic",  # 1 (a) electronic fluctuation over threshold
    "crosstalk",  # 2 (b) cross-talk / pickup line along pads in one time bin
    "hot_pad",  # 3 (c) hot or ringing pad: line along time
    "fragment",  # 4 (d) split fragment / tail remnant of a large cluster at the window edge
    "delta",  # 5 (e) delta electron / low-momentum curler
    "unreconstructed",  # 6 (f) real track not attached by tracking, or off-time pile-up
)
"""Codes of the ``noise_kind`` truth field; code 0 marks signal clusters."""

TRUTH_FIELDS: dict[str, np.dtype] = {
    "noise_kind": np.dtype(np.int8),  # index into NOISE_KINDS
    "drift_length": np.dtype(np.float32),  # cm; NaN where no track made the cluster
    "crossing_angle": np.dtype(np.float32),  # deg, track vs pad-row normal in the pad plane
    "dip_angle": np.dtype(np.float32),  # deg, track vs pad plane
    "dedx_scale": np.dtype(np.float32),  # ionisation relative to a minimum-ionising track
    "overlap": np.dtype(np.int8),  # 1 if a second track segment overlaps the window
    "dead_pads": np.dtype(np.int8),  # number of dead (zeroed) pad columns, noise kind (g)
}
"""Optional simulator-truth columns and their dtypes."""

ALL_FIELDS: tuple[str, ...] = CORE_FIELDS + tuple(TRUTH_FIELDS)

_CHAMBER_RE = re.compile(r"^[A-Za-z0-9_.\-+]{1,64}$")


def _is_real_numeric(dtype: np.dtype) -> bool:
    return (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)) and (
        dtype != np.bool_
    )


def _check_integer_column(values: np.ndarray, name: str, source: str | None) -> None:
    if not (np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_):
        raise ClusterDataError(source, name, f"must have an integer dtype, got {values.dtype}")


def validate_columns(
    columns: Mapping[str, Any],
    chamber: str,
    source: str | None = None,
    window: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """Checks and normalises raw columns to the schema.

    Args:
        columns: Mapping of field name to array-like. Must contain the core fields; may contain
            truth fields; any other key is an error (it would otherwise be silently dropped).
        chamber: Chamber name.
        source: File path (or description) used in error messages.
        window: Expected (pads, time bins), or ``None`` to accept any window shape.

    Returns:
        A new dict with every column converted to its schema dtype.

    Raises:
        ClusterDataError: Naming ``source`` and the offending field.
    """
    if not isinstance(chamber, str) or not _CHAMBER_RE.match(chamber):
        raise ClusterDataError(
            source,
            "chamber",
            f"chamber name must be 1-64 characters of [A-Za-z0-9_.-+], got {chamber!r}",
        )
    for name in CORE_FIELDS:
        if name not in columns or columns[name] is None:
            raise ClusterDataError(source, name, "required field is missing")
    unknown = sorted(set(columns) - set(ALL_FIELDS))
    if unknown:
        raise ClusterDataError(
            source, unknown[0], f"unknown field(s) {unknown}; known: {list(ALL_FIELDS)}"
        )

    out: dict[str, np.ndarray] = {}
    try:
        charge = np.asarray(columns["charge"])
    except (ValueError, TypeError) as exc:  # ragged input
        raise ClusterDataError(source, "charge", f"cannot be read as an array: {exc}") from None
    if charge.ndim != 3:
        raise ClusterDataError(
            source,
            "charge",
            f"must have shape [N, pads, time bins], got shape {charge.shape}",
        )
    if not _is_real_numeric(charge.dtype):
        raise ClusterDataError(
            source, "charge", f"must be real numbers (ADC), got dtype {charge.dtype}"
        )
    n = charge.shape[0]
    if n == 0:
        raise ClusterDataError(source, "charge", "contains no clusters (N = 0)")
    if window is not None and tuple(charge.shape[1:]) != tuple(window):
        raise ClusterDataError(
            source,
            "charge",
            f"window shape {tuple(charge.shape[1:])} (pads, time bins) does not match the "
            f"expected {tuple(window)}",
        )
    if charge.shape[1] < 1 or charge.shape[2] < 1:
        raise ClusterDataError(source, "charge", f"empty window {charge.shape[1:]}")
    if np.issubdtype(charge.dtype, np.floating):
        _check_finite(charge, source)
    # integer ADC kept or compacted losslessly (interp.core.adc), else float32; one aligned
    # copy at most (ClusterSet keeps it aligned)
    dtype = adc_dtype(charge)
    out["charge"] = as_aligned(charge, np.float32 if dtype is None else dtype)

    for name in ("label", "event_id", *TRUTH_FIELDS):
        if name not in columns or columns[name] is None:
            continue
        values = np.asarray(columns[name])
        if values.ndim != 1 or values.shape[0] != n:
            raise ClusterDataError(
                source, name, f"must have shape [{n}] to match 'charge', got {values.shape}"
            )
        if name in ("label", "event_id", "noise_kind", "overlap", "dead_pads"):
            _check_integer_column(values, name, source)
        elif not _is_real_numeric(values.dtype):
            raise ClusterDataError(source, name, f"must be real numbers, got {values.dtype}")
        out[name] = values

    label = out["label"]
    bad = ~np.isin(label, (0, 1))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ClusterDataError(
            source,
            "label",
            f"labels must be 0 (noise) or 1 (signal); found {label[first].item()!r} at index "
            f"{first} ({int(bad.sum())} bad values)",
        )
    out["label"] = label.astype(np.int8)
    out["event_id"] = out["event_id"].astype(np.int64)
    for name, dtype in TRUTH_FIELDS.items():
        if name in out:
            out[name] = out[name].astype(dtype, copy=False)
    if "noise_kind" in out:
        kinds = out["noise_kind"]
        if ((kinds < 0) | (kinds >= len(NOISE_KINDS))).any():
            raise ClusterDataError(
                source, "noise_kind", f"codes must lie in 0..{len(NOISE_KINDS) - 1}"
            )
        if ((kinds == 0) != (out["label"] == 1)).any():
            raise ClusterDataError(
                source, "noise_kind", "code 0 (signal) must coincide with label 1"
            )
    return out


def _check_finite(charge: np.ndarray, source: str | None) -> None:
    """Raises naming ``source`` and ``charge`` if a value is NaN or infinite (the check runs
    in blocks of clusters, so a valid set costs no full-size temporary)."""
    step = rows_per_block(charge)
    if all(np.isfinite(charge[i : i + step]).all() for i in range(0, len(charge), step)):
        return
    bad = np.flatnonzero(~np.isfinite(charge).reshape(len(charge), -1).all(axis=1))
    kind = "NaN" if np.isnan(charge).any() else "infinite"
    raise ClusterDataError(
        source, "charge", f"{kind} values in {bad.size} cluster(s), first at index {int(bad[0])}"
    )


@dataclasses.dataclass(frozen=True, eq=False)
class ClusterSet:
    """Labelled cluster windows from one chamber.

    Attributes:
        charge: [N, P, T] ADC counts, P pads x T time bins: uint8 or uint16 for integer ADC
            (:mod:`interp.core.adc`; int8/int16 are kept too), float32 otherwise. Consumers
            convert to float32 where they compute (integer subtraction wraps).
        label: int8 [N], 0 noise, 1 signal.
        event_id: int64 [N].
        chamber: Chamber name.
        truth: Optional simulator truth columns (see :data:`TRUTH_FIELDS`), each [N].
    """

    charge: np.ndarray
    label: np.ndarray
    event_id: np.ndarray
    chamber: str
    truth: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        # 64-byte aligned charge: XLA:CPU then reads it in place (see interp.core.aligned)
        if isinstance(self.charge, np.ndarray):
            object.__setattr__(self, "charge", as_aligned(self.charge))

    @classmethod
    def from_columns(
        cls,
        columns: Mapping[str, Any],
        chamber: str,
        source: str | None = None,
        window: tuple[int, int] | None = None,
    ) -> ClusterSet:
        """Builds a validated set from raw columns (see :func:`validate_columns`)."""
        cols = validate_columns(columns, chamber, source=source, window=window)
        truth = {k: cols[k] for k in TRUTH_FIELDS if k in cols}
        return cls(cols["charge"], cols["label"], cols["event_id"], chamber, truth)

    def validate(
        self, source: str | None = None, window: tuple[int, int] | None = None
    ) -> ClusterSet:
        """Returns a validated (dtype-normalised) copy; raises :class:`ClusterDataError`."""
        return ClusterSet.from_columns(self.columns(), self.chamber, source=source, window=window)

    def columns(self) -> dict[str, np.ndarray]:
        """All fields as a flat dict (core first, then truth)."""
        return {
            "charge": self.charge,
            "label": self.label,
            "event_id": self.event_id,
            **self.truth,
        }

    def __len__(self) -> int:
        return int(self.charge.shape[0])

    @property
    def window_shape(self) -> tuple[int, int]:
        """(pads, time bins)."""
        return (int(self.charge.shape[1]), int(self.charge.shape[2]))

    @property
    def noise_fraction(self) -> float:
        return float(np.mean(self.label == 0))

    def subset(self, index: np.ndarray | slice) -> ClusterSet:
        """Rows selected by an index array, boolean mask or slice."""
        if isinstance(index, slice):
            charge = self.charge[index]
        else:  # gather straight into an aligned array (no second copy in __post_init__)
            rows = np.asarray(index)
            rows = np.flatnonzero(rows) if rows.dtype == bool else rows
            charge = aligned_empty((len(rows), *self.charge.shape[1:]), self.charge.dtype)
            np.take(self.charge, rows, axis=0, out=charge)
        return ClusterSet(
            charge,
            self.label[index],
            self.event_id[index],
            self.chamber,
            {k: v[index] for k, v in self.truth.items()},
        )

    def events(self) -> np.ndarray:
        """Sorted unique event ids."""
        return np.unique(self.event_id)

    def select_events(self, event_ids: Iterable[int]) -> ClusterSet:
        """Clusters whose ``event_id`` is in ``event_ids``."""
        return self.subset(np.isin(self.event_id, np.asarray(list(event_ids), dtype=np.int64)))

    @staticmethod
    def concatenate(sets: Sequence[ClusterSet], source: str | None = None) -> ClusterSet:
        """Joins sets from the same chamber with the same window shape and truth fields."""
        if not sets:
            raise ClusterDataError(source, None, "nothing to concatenate")
        first = sets[0]
        for s in sets[1:]:
            if s.chamber != first.chamber:
                raise ClusterDataError(
                    source, "chamber", f"cannot join chambers {first.chamber} and {s.chamber}"
                )
            if s.window_shape != first.window_shape:
                raise ClusterDataError(
                    source,
                    "charge",
                    f"mismatched window shapes {first.window_shape} and {s.window_shape}",
                )
            if set(s.truth) != set(first.truth):
                raise ClusterDataError(source, None, "cannot join sets with different truth fields")
        charges = [s.charge for s in sets]
        charge = aligned_empty(
            (sum(len(c) for c in charges), *first.window_shape),
            np.result_type(*charges),
        )
        return ClusterSet(
            np.concatenate(charges, out=charge),
            np.concatenate([s.label for s in sets]),
            np.concatenate([s.event_id for s in sets]),
            first.chamber,
            {k: np.concatenate([s.truth[k] for s in sets]) for k in first.truth},
        )

    def equals(self, other: ClusterSet) -> bool:
        """Exact (bitwise) equality of every field, used by round-trip tests."""
        if self.chamber != other.chamber or set(self.truth) != set(other.truth):
            return False
        a, b = self.columns(), other.columns()
        return all(
            a[k].dtype == b[k].dtype
            and a[k].shape == b[k].shape
            and np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f")
            for k in a
        )

"""Schema validation: every bad column gives a ClusterDataError naming source and field."""

from __future__ import annotations

import numpy as np
import pytest

from interp.core.errors import ClusterDataError
from interp.core.schema import NOISE_KINDS, ClusterSet, validate_columns


def _columns(n: int = 6, window: tuple[int, int] = (11, 20)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    label = np.array([0, 1] * (n // 2), dtype=np.int8)
    return {
        "charge": rng.uniform(0, 255, (n, *window)).astype(np.float32),
        "label": label,
        "event_id": np.repeat(np.arange(2), n // 2).astype(np.int64),
        "noise_kind": np.where(label == 1, 0, 1).astype(np.int8),
    }


def test_valid_columns_normalise_dtypes() -> None:
    cols = _columns()
    cols["charge"] = cols["charge"].astype(np.float64)
    cols["label"] = cols["label"].astype(np.int64)
    cs = ClusterSet.from_columns(cols, "VTPC2", source="x.h5")
    assert cs.charge.dtype == np.float32
    assert cs.label.dtype == np.int8
    assert cs.event_id.dtype == np.int64
    assert cs.window_shape == (11, 20)
    assert len(cs) == 6
    assert cs.noise_fraction == pytest.approx(0.5)


BAD_CASES = {
    "nan charge": ("charge", lambda c: c["charge"].__setitem__((2, 5, 5), np.nan)),
    "inf charge": ("charge", lambda c: c["charge"].__setitem__((1, 0, 0), np.inf)),
    "2d charge": ("charge", lambda c: c.__setitem__("charge", c["charge"][:, 0, :])),
    "string charge": ("charge", lambda c: c.__setitem__("charge", c["charge"].astype(str))),
    "complex charge": (
        "charge",
        lambda c: c.__setitem__("charge", c["charge"].astype(np.complex64)),
    ),
    "empty": ("charge", lambda c: c.update({k: v[:0] for k, v in c.items()})),
    "label 2": ("label", lambda c: c["label"].__setitem__(0, 2)),
    "label -1": ("label", lambda c: c["label"].__setitem__(3, -1)),
    "float label": ("label", lambda c: c.__setitem__("label", c["label"].astype(np.float32))),
    "missing label": ("label", lambda c: c.pop("label")),
    "short event_id": ("event_id", lambda c: c.__setitem__("event_id", c["event_id"][:-1])),
    "float event_id": (
        "event_id",
        lambda c: c.__setitem__("event_id", c["event_id"].astype(np.float64)),
    ),
    "unknown field": ("momentum", lambda c: c.__setitem__("momentum", np.zeros(6))),
    "noise_kind out of range": ("noise_kind", lambda c: c["noise_kind"].__setitem__(0, 9)),
    "noise_kind vs label": ("noise_kind", lambda c: c["noise_kind"].__setitem__(1, 3)),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_columns_name_source_and_field(case: str) -> None:
    field, mutate = BAD_CASES[case]
    cols = _columns()
    mutate(cols)
    with pytest.raises(ClusterDataError) as info:
        validate_columns(cols, "VTPC2", source="run42.h5")
    assert info.value.field == field
    assert "run42.h5" in str(info.value)
    assert field in str(info.value)


def test_window_mismatch_and_bad_chamber() -> None:
    with pytest.raises(ClusterDataError, match=r"\(9, 16\).*\(11, 20\)"):
        validate_columns(_columns(window=(9, 16)), "VTPC2", source="a.h5", window=(11, 20))
    with pytest.raises(ClusterDataError, match="chamber"):
        validate_columns(_columns(), "bad name with spaces", source="a.h5")


def test_subset_concatenate_equals() -> None:
    cs = ClusterSet.from_columns(_columns(8), "MTPCL")
    a, b = cs.subset(slice(0, 3)), cs.subset(slice(3, None))
    joined = ClusterSet.concatenate([a, b])
    assert joined.equals(cs)
    assert not joined.equals(a)
    assert cs.select_events([1]).event_id.tolist() == [1] * 4
    other = ClusterSet.from_columns(_columns(8, window=(9, 16)), "MTPCL")
    with pytest.raises(ClusterDataError, match="window"):
        ClusterSet.concatenate([cs, other])
    with pytest.raises(ClusterDataError, match="chamber"):
        ClusterSet.concatenate([cs, ClusterSet.from_columns(_columns(8), "VTPC2")])


def test_noise_kind_names_cover_recipe() -> None:
    assert NOISE_KINDS[0] == "signal"
    assert len(NOISE_KINDS) == 7  # signal + noise kinds (a)-(f); (g) is the dead_pads column


def test_charge_is_kept_64_byte_aligned() -> None:
    from interp.core.aligned import XLA_ALIGN, as_aligned, is_aligned

    raw = np.zeros(11 * 20 * 7 + 1, np.float32)[1:].reshape(7, 11, 20)  # 4 bytes off
    assert not is_aligned(raw)
    fixed = as_aligned(raw)
    assert is_aligned(fixed) and fixed.ctypes.data % XLA_ALIGN == 0
    np.testing.assert_array_equal(fixed, raw)
    assert as_aligned(fixed) is fixed  # no second copy

    cs = ClusterSet(raw + 1.0, np.ones(7, np.int8), np.arange(7, dtype=np.int64), "VTPC2")
    parts = [
        cs,
        cs.subset(np.array([3, 1, 5])),
        cs.subset(np.arange(7) % 2 == 0),
        cs.subset(slice(1, 4)),
        ClusterSet.concatenate([cs, cs.subset(np.array([2]))]),
    ]
    for part in parts:
        assert is_aligned(part.charge)
    np.testing.assert_array_equal(parts[1].charge, cs.charge[[3, 1, 5]])
    np.testing.assert_array_equal(parts[2].charge, cs.charge[::2])
    np.testing.assert_array_equal(parts[4].charge[-1], cs.charge[2])


ADC_CASES = {
    # input values -> stored dtype (interp.core.adc: integer ADC kept compact, losslessly)
    "float whole numbers 0-255": (lambda x: x.round(), np.uint8),
    "float whole numbers above 255": (lambda x: x.round() * 10, np.uint16),
    "int64 0-255": (lambda x: x.round().astype(np.int64), np.uint8),
    "fractional": (lambda x: x + 0.25, np.float32),
    "negative": (lambda x: x.round() - 300, np.float32),
    "beyond 16 bits": (lambda x: x.round() * 1000, np.float32),
    "uint8 kept": (lambda x: x.round().astype(np.uint8), np.uint8),
    "int16 kept": (lambda x: x.round().astype(np.int16) - 100, np.int16),
}


@pytest.mark.parametrize("case", sorted(ADC_CASES))
def test_charge_dtype_rule(case: str) -> None:
    make, dtype = ADC_CASES[case]
    cols = _columns()
    values = make(cols["charge"].astype(np.float64))
    cols["charge"] = values
    cs = ClusterSet.from_columns(cols, "VTPC2", source="x.h5")
    assert cs.charge.dtype == dtype, case
    np.testing.assert_array_equal(cs.charge.astype(np.float64), values.astype(np.float32))


def test_charge_dtype_rule_checks_every_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fractional value in a late block of clusters keeps the whole set float32."""
    import interp.core.adc as adc

    monkeypatch.setattr(adc, "_CHECK_ELEMENTS", 11 * 20)  # one cluster per block
    cols = _columns()
    cols["charge"] = cols["charge"].round()
    assert ClusterSet.from_columns(cols, "VTPC2").charge.dtype == np.uint8
    cols["charge"][5, 3, 3] += 0.5
    assert ClusterSet.from_columns(cols, "VTPC2").charge.dtype == np.float32
    cols["charge"][5, 3, 3] = 300.0
    assert ClusterSet.from_columns(cols, "VTPC2").charge.dtype == np.uint16


def test_concatenate_keeps_the_compact_adc_dtype() -> None:
    cols = _columns()
    cols["charge"] = cols["charge"].round()
    a = ClusterSet.from_columns(cols, "VTPC2")
    cols["charge"] = cols["charge"] * 10
    b = ClusterSet.from_columns(cols, "VTPC2")
    assert ClusterSet.concatenate([a, a]).charge.dtype == np.uint8
    both = ClusterSet.concatenate([a, b])
    assert both.charge.dtype == np.uint16
    np.testing.assert_array_equal(both.charge[: len(a)], a.charge)

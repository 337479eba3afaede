"""Tests of chamber presets and the chamber registry."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re

import pytest

from interp.core.errors import UnknownChamberError
from interp.data import chambers
from interp.data.chambers import (
    ChamberPreset,
    chamber_names,
    get_chamber,
    load_chamber_preset,
    register_chamber,
)


def test_builtin_presets_registered() -> None:
    assert {"VTPC2", "MTPCL"} <= set(chamber_names())
    assert chamber_names() == sorted(chamber_names())
    vtpc = get_chamber("VTPC2")
    assert vtpc.window == (11, 20)
    assert vtpc.clusters_per_event == 28764
    assert vtpc.noise_fraction == pytest.approx(0.74)


def test_get_chamber_passes_presets_through() -> None:
    preset = get_chamber("MTPCL")
    assert get_chamber(preset) is preset


def test_unknown_chamber_lists_known_names() -> None:
    with pytest.raises(UnknownChamberError) as info:
        get_chamber("TPC-X")
    message = str(info.value)
    assert "TPC-X" in message
    assert "VTPC2" in message and "MTPCL" in message
    assert isinstance(info.value, KeyError)


def test_presets_are_frozen_and_replace_validates() -> None:
    preset = get_chamber("VTPC2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.noise_fraction = 0.5  # type: ignore[misc]
    changed = preset.replace(noise_sigma_adc=2.0)
    assert changed.noise_sigma_adc == 2.0 and preset.noise_sigma_adc == 1.5
    with pytest.raises(ValueError, match="noise_fraction"):
        preset.replace(noise_fraction=1.5)
    with pytest.raises(ValueError, match="drift_length_cm"):
        preset.replace(drift_length_cm=-1.0)


def test_noise_weights_normalised() -> None:
    for name in ("VTPC2", "MTPCL"):
        w = get_chamber(name).noise_weights
        assert len(w) == 6
        assert sum(w) == pytest.approx(1.0)
        assert w[0] == max(w)  # electronic fluctuations dominate


def test_mtpc_physics_differs_from_vtpc() -> None:
    v, m = get_chamber("VTPC2"), get_chamber("MTPCL")
    assert m.drift_length_cm > v.drift_length_cm
    assert m.diffusion_t_mm_per_sqrt_cm > v.diffusion_t_mm_per_sqrt_cm
    assert m.b_field_t == 0.0 and m.omega_tau == 0.0
    assert v.mm_per_time_bin == pytest.approx(2.8)
    assert m.mm_per_time_bin == pytest.approx(4.6)


def test_every_field_has_a_source_tag() -> None:
    source = inspect.getsource(ChamberPreset)
    tagged = re.compile(r"#.*(\[V\]|\[M\]|\[E\]|derived|estimate|tuned)")
    lines = {
        m.group(1): line
        for line in source.splitlines()
        if (m := re.match(r"\s+(\w+): [\w\[\], |]+ = ", line))
    }
    physics = [f.name for f in dataclasses.fields(ChamberPreset)]
    physics = [n for n in physics if n not in ("name", "description", "canvas_margin")]
    untagged = [n for n in physics if not tagged.search(lines[n])]
    assert not untagged, f"fields without a source tag: {untagged}"


def test_load_toml_preset(tmp_path) -> None:
    path = tmp_path / "vtpc1.toml"
    path.write_text(
        'base = "VTPC2"\nname = "TEST_TOML_VTPC1"\nnoise_sigma_adc = 1.2\n'
        "window = [9, 16]\nclusters_per_event = 500\n",
        encoding="utf-8",
    )
    preset = load_chamber_preset(path, overwrite=True)
    assert preset.name == "TEST_TOML_VTPC1"
    assert preset.window == (9, 16)
    assert preset.noise_sigma_adc == 1.2
    assert isinstance(preset.clusters_per_event, int)
    assert preset.pad_length_mm == get_chamber("VTPC2").pad_length_mm
    assert get_chamber("TEST_TOML_VTPC1") is preset
    assert "TEST_TOML_VTPC1" in chamber_names()


def test_load_json_preset_with_other_base(tmp_path) -> None:
    path = tmp_path / "mtpcr.json"
    path.write_text(
        json.dumps({"base": "MTPCL", "name": "TEST_JSON_MTPCR", "overlap_prob": 0.2}),
        encoding="utf-8",
    )
    preset = load_chamber_preset(path, overwrite=True)
    assert preset.overlap_prob == 0.2
    assert preset.drift_length_cm == get_chamber("MTPCL").drift_length_cm


def test_unknown_field_names_file_and_field(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "TEST_BAD"\nnoise_sigmaa_adc = 1.0\n', encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_chamber_preset(path)
    assert str(path) in str(info.value)
    assert "noise_sigmaa_adc" in str(info.value)
    assert "TEST_BAD" not in chamber_names()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('name = "TEST_T1"\nwindow = [9]\n', "window"),
        ('name = "TEST_T2"\nclusters_per_event = 2.5\n', "clusters_per_event"),
        ('name = "TEST_T3"\nnoise_sigma_adc = "big"\n', "noise_sigma_adc"),
        ('name = "TEST_T4"\nnoise_fraction = 1.5\n', "noise_fraction"),
        ("noise_sigma_adc = 1.0\n", "name"),
    ],
)
def test_bad_values_are_rejected(tmp_path, body: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=field):
        load_chamber_preset(path)


def test_unknown_base_raises(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"base": "NOPE", "name": "TEST_X"}), encoding="utf-8")
    with pytest.raises(UnknownChamberError):
        load_chamber_preset(path)


def test_register_refuses_silent_overwrite() -> None:
    preset = get_chamber("VTPC2").replace(name="TEST_REG", noise_sigma_adc=1.0)
    register_chamber(preset, overwrite=True)
    register_chamber(preset)  # same preset again is fine
    with pytest.raises(ValueError, match="overwrite"):
        register_chamber(preset.replace(noise_sigma_adc=2.0))
    register_chamber(preset.replace(noise_sigma_adc=2.0), overwrite=True)
    assert get_chamber("TEST_REG").noise_sigma_adc == 2.0
    assert chambers.VTPC2.noise_sigma_adc == 1.5

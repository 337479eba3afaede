"""Techniques in the profiles (issue 14): which cells get fold-ensemble / TTA rows, and that
switching them on re-enters a finished matrix stage instead of retraining every model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import models
from interp.study.config import MatrixConfig
from interp.study.experiments import StageContext, config_key, load_study, run_stage


def test_profiles_turn_techniques_on_for_a_subset_of_models() -> None:
    quick, full, smoke = MatrixConfig.quick(), MatrixConfig.full(), MatrixConfig.smoke()
    assert (quick.folds, quick.tta) == (3, ("pad-mirror",))
    assert quick.technique_cell_models() == ("perceptron", "split_conv")
    assert full.folds == 3 and full.technique_cell_models() == ("perceptron", "split_conv")
    assert all(models.model_spec(m).backend == "flax" for m in full.technique_cell_models())
    assert not smoke.techniques_on and smoke.technique_dict() == {}
    # a study's model list narrows the subset; an empty list switches the rows off
    assert MatrixConfig.quick(models=("perceptron", "xgboost")).technique_cell_models() == (
        "perceptron",
    )
    for name in ("beam_158", "third_chamber"):
        study = load_study(name)
        study.register_presets()
        assert not study.matrix_config("quick").techniques_on, name


def test_technique_fields_change_neither_the_matrix_key_nor_any_run_identity() -> None:
    from interp.study.training import cell_overrides, make_train_config

    quick = MatrixConfig.quick()
    off = dataclasses.replace(quick, folds=None, tta=(), technique_models=())
    # the matrix stage's folder key (experiments._matrix_stage) is the single-model dict
    assert config_key(quick.single_model_dict()) == config_key(off.to_dict())
    assert off.to_dict() == off.single_model_dict()  # off: no technique keys at all
    assert quick.to_dict()["technique_models"] == ["perceptron", "split_conv"]
    for m in quick.models:  # the run identity's config: unchanged for every model
        a = make_train_config(m, quick.profile, cell_overrides(m, quick), quick.seed)
        b = make_train_config(m, off.profile, cell_overrides(m, off), off.seed)
        assert a == b


def test_a_finished_stage_with_other_in_place_settings_is_re_entered(tmp_path: Path) -> None:
    study = load_study("within_chamber")
    ctx = StageContext(study, "smoke", tmp_path, {}, False, False, log=lambda s: None)
    seen: list[list[str]] = []

    def body(folder: Path) -> None:
        seen.append(sorted(p.name for p in folder.iterdir()))
        (folder / f"out{len(seen)}.txt").write_text("x")

    first = run_stage("demo", ctx, {"a": 1}, body, in_place={"techniques": {"folds": 3}})
    again = run_stage("demo", ctx, {"a": 1}, body, in_place={"techniques": {"folds": 3}})
    assert (first.status, again.status) == ("done", "reused") and len(seen) == 1
    changed = run_stage("demo", ctx, {"a": 1}, body, in_place={"techniques": {"folds": 5}})
    assert changed.status == "done" and changed.folder == first.folder  # same key
    assert "out1.txt" in seen[-1]  # re-entered: the earlier files are there to reuse
    record = json.loads((changed.folder / "stage.json").read_text())
    assert record["in_place"] == {"techniques": {"folds": 5}}
    off = run_stage("demo", ctx, {"a": 1}, body)  # a record without in_place: settings off
    assert off.status == "done" and run_stage("demo", ctx, {"a": 1}, body).status == "reused"


def test_the_matrix_stage_keys_on_the_single_model_fields(monkeypatch, tmp_path: Path) -> None:
    import interp.study.experiments as ex

    seen: dict = {}

    def fake_run_stage(kind, ctx, config, body, in_place=None):  # records what it is given
        seen.update(config=config, in_place=in_place)
        return ex.StageResult(kind, "key", tmp_path, "done", 0.0, config)

    monkeypatch.setattr(ex, "run_stage", fake_run_stage)
    (tmp_path / "matrix").mkdir()
    for profile, cfg in (("quick", MatrixConfig.quick()), ("smoke", MatrixConfig.smoke())):
        ctx = StageContext(load_study("within_chamber"), profile, tmp_path, {}, False, False,
                           log=lambda s: None)  # fmt: skip
        ex._matrix_stage(ctx)
        assert seen["config"]["matrix"] == cfg.single_model_dict()
        assert seen["in_place"] == ({"techniques": cfg.technique_dict()} if cfg.techniques_on
                                    else None)  # fmt: skip

"""A model from outside the package (``my_pkg.my_model:Model`` or a ``tpc_interp.models``
entry point) trains, evaluates, explains and exports through the same contract and the same
CLI entry points as the built-in models."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cli_bad_inputs import run_cli_streams

import models
from interp.backends.classifier import load_classifier

USER_MODULE = '''
"""A user's model: a small MLP with its spec (only what differs from the defaults)."""
import flax.linen as nn
import jax.numpy as jnp

from models.contract import ModelSpec


class Model(nn.Module):
    hidden: int = 16

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = x.reshape(x.shape[0], -1).astype(jnp.float32)
        h = nn.relu(nn.Dense(self.hidden, name="hidden")(h))
        return nn.Dense(2, name="out")(h)


SPEC = ModelSpec(name="tiny_mlp", chunk=512, description="user MLP")
'''
NAME = "my_models.tiny_mlp:Model"


@pytest.fixture
def user_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pkg = tmp_path / "user_code" / "my_models"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "tiny_mlp.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(pkg.parent))
    yield NAME
    for mod in ("my_models.tiny_mlp", "my_models"):
        sys.modules.pop(mod, None)


def test_external_model_resolves_by_string(user_model: str) -> None:
    spec = models.model_spec(user_model)
    assert spec.name == user_model and spec.backend == "flax" and spec.chunk == 512
    assert spec.gradient_attributions and not spec.weight_map and spec.onnx_graph is None
    module = models.get_model(user_model, hidden=8)
    assert type(module).__module__ == "my_models.tiny_mlp" and module.hidden == 8
    assert models.spec_of(module).chunk == 512  # the inference path finds it from the module
    assert user_model not in models.model_names()  # built-in names stay the package's files


def test_entry_point_is_found(user_model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ep = importlib.metadata.EntryPoint(name="tiny", value=NAME, group="tpc_interp.models")
    real = importlib.metadata.entry_points

    def entry_points(**kw):
        return [ep] if kw.get("group") == "tpc_interp.models" else real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    spec = models.model_spec("tiny")
    assert spec.name == "tiny" and spec.chunk == 512
    assert type(models.get_model("tiny")).__module__ == "my_models.tiny_mlp"
    with pytest.raises(models.registry.UnknownNameError):
        models.model_spec("not_an_entry_point")


def test_bad_external_names_fail_clearly(user_model: str) -> None:
    with pytest.raises(models.registry.ModelLoadError, match="no attribute 'Nope'"):
        models.model_spec("my_models.tiny_mlp:Nope")
    with pytest.raises(models.registry.ModelLoadError, match="cannot import module"):
        models.model_spec("no_such_pkg.x:Model")


def test_external_model_trains_evaluates_explains_exports(
    user_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from interp.explain.attribution import attributions
    from interp.study.explain_stage import classifier_spec

    data = tmp_path / "VTPC2.h5"
    code, _, err = run_cli_streams(
        ["simulate", "--events", "6", "--clusters-per-event", "100", "--out", str(data), "-q"],
        capsys,
    )
    assert code == 0, err
    work = tmp_path / "study"
    code, out, err = run_cli_streams(
        [
            "train",
            "--model",
            user_model,
            "--train-on",
            "VTPC2",
            "--data",
            f"VTPC2={data}",
            "--profile",
            "smoke",
            "--n-boot",
            "5",
            "--workdir",
            str(work),
            "-q",
        ],
        capsys,
    )
    assert code == 0, err
    assert "test VTPC2: balanced accuracy" in out, out
    run_dir = work / "runs" / user_model / "VTPC2"
    meta = json.loads((run_dir / "classifier.json").read_text())
    assert meta["kind"] == "flax" and meta["name"] == user_model  # rebuilt through the registry

    clf = load_classifier(run_dir)
    assert type(clf.module).__module__ == "my_models.tiny_mlp"
    from interp.data.simulator import simulate

    x = simulate("VTPC2", 1, 5, n_clusters=64).charge
    p = clf.predict_proba(x)
    assert p.shape == (64,) and np.all((p >= 0) & (p <= 1))

    assert classifier_spec(clf).gradient_attributions  # the explain stage draws its maps
    ig = attributions(clf, x, method="integrated_gradients", steps=16)
    assert ig.shape == x.shape and np.all(np.isfinite(ig))

    onnx_path = tmp_path / "user.onnx"
    code, out, err = run_cli_streams(["export", str(run_dir), "--out", str(onnx_path)], capsys)
    assert code == 0, err
    assert "max relative error" in out and onnx_path.is_file()
    pytest.importorskip("onnxruntime")
    from interp.backends.onnx.runtime import OnnxClassifier

    ort = OnnxClassifier(onnx_path)
    assert ort.name == user_model
    clf.backend = "jax"
    ref = clf.logits(x)
    assert np.abs(ort.logits(x) - ref).max() <= 1e-5 * max(float(np.abs(ref).max()), 1e-30)

"""Gradient-boosted trees on the flattened window (XGBoost ``hist``), trained and run by
:mod:`interp.backends.xgboost.classifier`.

No linen module: the spec says which backend trains it and what it can explain (per-pixel
SHAP values, no gradients, no ONNX graph).
"""

from __future__ import annotations

from models.contract import ModelSpec

SPEC = ModelSpec(
    name="xgboost",
    backend="xgboost",
    gradient_attributions=False,
    shap=True,
    description="gradient-boosted trees (XGBoost)",
    order=90,
)

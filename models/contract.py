"""The model contract: what a model file declares about itself, as data.

Every model file ``models/<name>.py`` (or a user's module, ``my_pkg.my_model:Model``) exports
``SPEC``, a :class:`ModelSpec`, and, for a Flax model, ``Model`` (the linen module class).
Nothing outside the model file knows a model by its name: the pipeline, the explain stage,
the report, the ONNX exporter, the fast inference path and the benchmarks read the spec.

Callables in a spec take and return plain arrays (no imports of ``interp.backends``):

* ``fast_forward(module) -> fn(params, x [B, P, T] float32 preprocessed) -> [B, C]``: a rewrite
  of ``module.apply`` (same parameter tree, equal up to float32 summation order).
* ``raw_forwards[method](params, raw [B, P, T] ADC) -> [B, C]``: a rewrite that also absorbs
  the preprocessing ``method`` (float32 only), e.g. the perceptron's max moved after its matmul.
* ``onnx_graph(graph, x, params, module, (P, T)) -> logits name``: the ONNX nodes of the model
  on the preprocessed input ``x`` (see :mod:`models.onnx_graph`); ``None``: the generic path.
* ``onnx_uint8_graphs[method](graph, x, params, module, (P, T)) -> logits name``: ONNX nodes
  from the raw uint8 ADC input ``x`` [N, P, T] that also absorb the preprocessing ``method``
  (the ONNX side of ``raw_forwards``), e.g. the perceptron's exact integer matmul.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

BACKENDS = ("flax", "xgboost")
"""Values of :attr:`ModelSpec.backend` (keys of ``interp.backends.classifier.BACKEND_MODULES``)."""

CAPABILITIES = ("weight_map", "kernel_figures", "gradient_attributions", "shap", "reconstructions")
"""Boolean fields of :class:`ModelSpec` naming what the explain stage and report can draw."""

OBJECTIVES = ("classify", "reconstruct")
"""Values of :attr:`ModelSpec.objective`: what the trainer minimises.

* ``"classify"``: class-weighted softmax cross-entropy of the logits (every supervised model).
* ``"reconstruct"``: mean squared reconstruction error of the preprocessed window, on the
  training clusters whose label is in :attr:`ModelSpec.train_classes` only. The module must
  have the methods ``reconstruct(x [B, P, T]) -> [B, P, T]`` and ``score_feature(x) -> [B]``
  (the log reconstruction error) and a parameter subtree ``score_head = {"slope": (),
  "intercept": ()}``, ``__call__`` returning logits [B, 2] whose difference (signal - noise) is
  ``slope * feature + intercept``; after the reconstruction training the trainer fits the head
  on the validation split (a class-balanced 1-D logistic regression of the label on the feature,
  :mod:`interp.backends.flax.objective`), so everything downstream sees a 2-class classifier.
"""


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything model-specific outside the linen module, declared as data.

    Attributes:
        name: Registry name (the file name for built-in models; a ``module:attr`` string or an
            entry point name for external ones, set by :func:`models.registry.model_spec`).
        backend: ``"flax"`` (a linen ``Model``) or ``"xgboost"`` (no module).
        weight_map: The explain stage draws the weights over the window (a linear model).
        kernel_figures: The explain stage draws the split-conv kernels and branch
            contributions.
        gradient_attributions: The explain stage draws saliency / integrated gradients /
            occlusion (any differentiable Flax model; default ``True`` for ``"flax"``).
        shap: The model gives per-pixel SHAP values (``pred_contribs``).
        fast_forward: Rewrite factory (see the module docstring), or ``None``.
        raw_forwards: Preprocessing method -> rewrite on raw ADC (see the module docstring).
        formulation: Platform (``"cpu"``, ``"gpu"``, ``"tpu"``) -> ``"rewrite"`` or ``"apply"``,
            what ``formulation="auto"`` runs; platforms not listed run ``"apply"``.
        chunk: Measured best clusters per compiled inference call (``None``: the default).
        min_chunk: Smallest unpadded call of the chunk ladder (``None``: :attr:`chunk`).
        onnx_chunk: Measured best clusters per ONNX Runtime call of the toolkit's inference
            (``None``: :attr:`chunk`).
        streams: Platform -> measured best number of inference calls in flight at once
            (threads, each running its chunks one after the other; at most the usable CPUs
            on ``"cpu"``); platforms not listed run 1.
        inference_backend: ``"jax"`` or ``"onnx"``: what ``backend="auto"`` runs.
        uint8_backends: Preprocessing method -> what ``backend="auto"`` runs on uint8 ADC
            windows (the dtype a ClusterSet keeps for an 8-bit ADC), ``"jax"`` or
            ``"onnx"``; methods not listed: :attr:`inference_backend`.
        onnx_graph: ONNX graph builder (see the module docstring), or ``None``.
        onnx_uint8_graphs: Preprocessing method -> ONNX builder on raw uint8 ADC (see the
            module docstring); methods not listed cast the input to float32 first.
        description: One line for help texts.
        order: Position in the default model list of a study and in its tables (smaller
            first, ties by name); built-in models: perceptron 10, split_conv 20, mlp 30,
            resnet 40, autoencoder 60, xgboost 90.
        profile_overrides: Training profile (``smoke``, ``quick``, ``full``) -> trainer-config
            fields set on top of that profile wherever the model trains in a study (e.g. a
            fixed learning rate in smoke, fewer epochs in quick); a study's own
            ``train_overrides`` come on top.
        objective: One of :data:`OBJECTIVES` (default ``"classify"``).
        train_classes: Labels (0 noise, 1 signal) of the training clusters the objective
            sees; ``None``: all. A ``"reconstruct"`` model trained on signal only has ``(1,)``.
        reconstructions: The explain stage draws mean inputs vs mean reconstructions per noise
            kind (a ``"reconstruct"`` model).
    """

    name: str
    backend: str = "flax"
    weight_map: bool = False
    kernel_figures: bool = False
    gradient_attributions: bool | None = None
    shap: bool = False
    fast_forward: Callable[[Any], Callable[..., Any]] | None = None
    raw_forwards: Mapping[str, Callable[..., Any]] = dataclasses.field(default_factory=dict)
    formulation: Mapping[str, str] = dataclasses.field(default_factory=dict)
    chunk: int | None = None
    min_chunk: int | None = None
    onnx_chunk: int | None = None
    streams: Mapping[str, int] = dataclasses.field(default_factory=dict)
    inference_backend: str = "jax"
    uint8_backends: Mapping[str, str] = dataclasses.field(default_factory=dict)
    onnx_graph: Callable[..., str] | None = None
    onnx_uint8_graphs: Mapping[str, Callable[..., str]] = dataclasses.field(default_factory=dict)
    description: str = ""
    order: int = 50
    profile_overrides: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    objective: str = "classify"
    train_classes: tuple[int, ...] | None = None
    reconstructions: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"model '{self.name}': backend must be one of {BACKENDS}")
        if self.inference_backend not in ("jax", "onnx"):
            raise ValueError(f"model '{self.name}': inference_backend must be 'jax' or 'onnx'")
        if set(self.uint8_backends.values()) - {"jax", "onnx"}:
            raise ValueError(f"model '{self.name}': uint8_backends values must be 'jax' or 'onnx'")
        bad = {v for v in self.formulation.values()} - {"rewrite", "apply"}
        if bad:
            raise ValueError(f"model '{self.name}': formulation values {sorted(bad)} unknown")
        if any(
            not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in self.streams.values()
        ):
            raise ValueError(f"model '{self.name}': streams must be integers >= 1")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"model '{self.name}': objective must be one of {OBJECTIVES}")
        if self.train_classes is not None:
            classes = tuple(int(c) for c in self.train_classes)
            if not classes or not set(classes) <= {0, 1}:
                raise ValueError(
                    f"model '{self.name}': train_classes must be a non-empty subset of (0, 1), "
                    f"got {self.train_classes}"
                )
            object.__setattr__(self, "train_classes", classes)
        if self.reconstructions and self.objective != "reconstruct":
            raise ValueError(f"model '{self.name}': reconstructions need objective 'reconstruct'")
        if self.gradient_attributions is None:
            object.__setattr__(self, "gradient_attributions", self.backend == "flax")
        object.__setattr__(self, "raw_forwards", _frozen(self.raw_forwards))
        object.__setattr__(self, "onnx_uint8_graphs", _frozen(self.onnx_uint8_graphs))
        object.__setattr__(self, "uint8_backends", _frozen(self.uint8_backends))
        object.__setattr__(self, "formulation", _frozen(self.formulation))
        object.__setattr__(self, "streams", _frozen(self.streams))
        object.__setattr__(
            self,
            "profile_overrides",
            _frozen({k: _frozen(v) for k, v in self.profile_overrides.items()}),
        )

    def has(self, capability: str) -> bool:
        """Whether the model has one of :data:`CAPABILITIES`."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability '{capability}'; known: {CAPABILITIES}")
        return bool(getattr(self, capability))

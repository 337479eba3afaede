"""The trained Flax classifier: inference, saving (safetensors + JSON) and the ``flax`` loader.

A saved classifier directory holds ``classifier.json`` (``kind``, ``name``, ``model_config``,
``preprocessor``, ``window``, ``train_chamber``, ``train_config`` and run facts) and
``params.safetensors`` (the parameter tree flattened with ``/``-joined keys).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import numpy as np
from flax import traverse_util
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from interp.backends.classifier import CLASSIFIER_FILE
from interp.backends.flax.chunking import bucket_size, chunks, ladder_chunks, pad_to, run_pieces
from interp.backends.flax.steps import make_forward
from interp.core.errors import (
    ClusterDataError,
    ShapeMismatchError,
    TPCInterpError,
)
from interp.core.fsutil import atomic_write_bytes, atomic_write_text
from interp.data.preprocess import Preprocessor

PARAMS_FILE = "params.safetensors"


def build_module(name: str, model_config: dict[str, Any] | None = None) -> nn.Module:
    """``models.get_model(name, **model_config)``; raises ``UnknownNameError`` if unknown."""
    import models

    return models.get_model(name, **(model_config or {}))


def resolved_model_config(module: nn.Module, given: dict[str, Any]) -> dict[str, Any]:
    """Full JSON config of ``module`` (``models.model_config``), or ``given`` as a fallback."""
    import models

    fn = getattr(models, "model_config", None)
    if fn is None:
        return dict(given)
    try:
        config = fn(module)
        json.dumps(config)
    except (TypeError, ValueError):  # a field that is not JSON-serialisable
        return dict(given)
    return config


def flatten_params(params: Any) -> dict[str, np.ndarray]:
    """Parameter tree -> ``{"Dense_0/kernel": array}`` (host numpy, exact)."""
    host = jax.device_get(params)
    flat = traverse_util.flatten_dict(dict(host), sep="/")
    # np.array, not np.ascontiguousarray: that one turns a scalar parameter into shape (1,)
    return {k: np.array(np.asarray(v), order="C") for k, v in flat.items()}


def unflatten_params(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    """Inverse of :func:`flatten_params`."""
    return traverse_util.unflatten_dict(dict(flat), sep="/")


INFERENCE_PRECISIONS = ("float32", "bfloat16", "float16", "int8")
"""Values of :attr:`FlaxClassifier.precision` (``tpc-interp predict --precision``)."""


class _Plan(NamedTuple):
    """A model's measured inference choices (:mod:`interp.backends.flax.tuning`)."""

    backend: str  # backend="auto" on float windows
    uint8_backend: str  # backend="auto" on uint8 ADC windows
    chunk: int  # clusters per JAX call
    min_chunk: int  # smallest unpadded JAX call
    onnx_chunk: int  # clusters per ONNX Runtime call


class FlaxClassifier:
    """A trained Flax model with its fitted preprocessing (implements ``Classifier``).

    Attributes:
        kind: ``"flax"``.
        name: Model name in the ``models`` registry.
        module: The linen module.
        params: Parameter tree (best epoch).
        preprocessor: Preprocessing fitted on the training split.
        train_chamber: Chamber of the training data.
        model_config: Keyword arguments of ``models.get_model``.
        train_config: ``TrainConfig.to_dict()`` of the run (or ``{}``).
        info: Extra run facts saved in ``classifier.json`` (best epoch, LR, ...).
        backend: Inference backend of :meth:`logits`: ``"auto"`` (default; per-model choice
            of :func:`interp.backends.flax.tuning.preferred_backend`, the model spec's
            ``inference_backend``: ONNX Runtime for the ResNet when installed, else JAX),
            ``"jax"`` or ``"onnx"``. Not saved.
        precision: Inference precision of :meth:`logits` (:data:`INFERENCE_PRECISIONS`):
            ``"float32"`` (default, on the backend above), ``"bfloat16"`` / ``"float16"``
            (JAX backend, params and preprocessed inputs cast inside the compiled call) or
            ``"int8"`` (ONNX Runtime, statically quantized, calibrated on simulated clusters
            of the training chamber). Not saved.
    """

    kind = "flax"
    threshold: float | None = None
    """Validation operating point in P(signal) (see
    :func:`interp.backends.classifier.load_classifier`)."""

    def __init__(
        self,
        name: str,
        module: nn.Module,
        params: Any,
        preprocessor: Preprocessor,
        train_chamber: str,
        model_config: dict[str, Any] | None = None,
        train_config: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.module = module
        self.params = params
        self.preprocessor = preprocessor
        self.train_chamber = train_chamber
        self.model_config = dict(model_config or {})
        self.train_config = dict(train_config or {})
        self.info = dict(info or {})
        self._forward = make_forward(module)
        self.backend = "auto"
        self.precision = "float32"

    @property
    def window(self) -> tuple[int, int]:
        """(pads, time bins) the model was trained on."""
        return (int(self.preprocessor.window[0]), int(self.preprocessor.window[1]))

    def _check(self, charge: np.ndarray) -> np.ndarray:
        charge = np.asarray(charge)
        if charge.ndim != 3 or tuple(charge.shape[1:]) != self.window:
            raise ShapeMismatchError(
                f"flax model '{self.name}' was trained on {self.window} windows (pads, time "
                f"bins) but got charge of shape {charge.shape}; expected [N, {self.window[0]}, "
                f"{self.window[1]}]"
            )
        return charge

    def _fused_forward(self) -> tuple[Any, Any]:
        """Jitted preprocessing+model forward and device-resident params (built lazily)."""
        precision = getattr(self, "precision", "float32")
        key = (id(self.params), id(self.preprocessor), precision)
        if getattr(self, "_fused_key", None) != key:
            from interp.backends.flax.fused import make_fused_forward

            self._fused = make_fused_forward(self.module, self.preprocessor, precision=precision)
            self._device_params = jax.device_put(self.params)
            self._fused_key = key
        return self._fused, self._device_params

    def _tuning(self) -> _Plan:
        """The measured inference choices of this model (built lazily, per name and
        preprocessing method).

        Read from the model's spec (:mod:`interp.backends.flax.tuning`) once, not per call:
        resolving a spec stats the model's file, ~0.1 ms each, three per :meth:`logits` call,
        which was 10-15 % of the perceptron's whole event (``benchmarks/speed.py``).
        """
        key = (self.name, self.preprocessor.method)
        if getattr(self, "_tuning_key", None) != key:
            from interp.backends.flax import tuning

            self._tuning_plan = _Plan(
                backend=tuning.preferred_backend(self.name),
                uint8_backend=tuning.preferred_backend(self.name, self.preprocessor.method),
                chunk=tuning.preferred_chunk(self.name),
                min_chunk=tuning.preferred_min_chunk(self.name),
                onnx_chunk=tuning.preferred_onnx_chunk(self.name),
            )
            self._tuning_key = key
        return self._tuning_plan

    def _streams(self) -> int:
        """Inference calls in flight at once on the platform JAX runs on
        (:func:`interp.backends.flax.tuning.preferred_streams`), per name and platform."""
        from interp.backends.flax.platform import current_platform
        from interp.backends.flax.tuning import preferred_streams

        key = (self.name, current_platform())
        if getattr(self, "_streams_key", None) != key:
            self._streams_n, self._streams_key = preferred_streams(*key), key
        return self._streams_n

    def _onnx(self, input_dtype: str = "float32") -> Any:
        """In-memory ONNX Runtime twin of this classifier taking ``input_dtype`` windows
        (``"float32"`` or ``"uint8"``; built lazily, one per input dtype)."""
        precision = "int8" if getattr(self, "precision", "float32") == "int8" else "float32"
        key = (id(self.params), id(self.preprocessor), precision)
        if getattr(self, "_onnx_key", None) != key:
            self._onnx_twins: dict[str, Any] = {}
            self._onnx_key = key
        if input_dtype not in self._onnx_twins:
            from interp.backends.flax.tuning import preferred_streams
            from interp.backends.onnx.runtime import OnnxClassifier

            streams = preferred_streams(self.name, "cpu")  # ONNX Runtime runs on the CPU
            self._onnx_twins[input_dtype] = OnnxClassifier.from_classifier(
                self, precision=precision, streams=streams, input_dtype=input_dtype
            )
        return self._onnx_twins[input_dtype]

    def logits(self, charge: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Raw logits.

        With the JAX backend, preprocessing and the model run as one compiled XLA call per
        chunk (:func:`interp.backends.flax.fused.make_fused_forward`); with
        the ONNX backend (see :attr:`backend`) the exported graph runs in ONNX Runtime. uint8
        ADC windows (as a ClusterSet keeps an 8-bit ADC) go in as they are: ``backend="auto"``
        runs the model's ``SPEC.uint8_backends`` choice for them, and ONNX Runtime a graph
        taking uint8 (e.g. the perceptron's exact integer matmul).

        Args:
            charge: [N, P, T] raw ADC, float or integer.
            batch_size: Clusters per forward pass; ``None`` uses the measured plan for the
                model (JAX: :func:`interp.backends.flax.chunking.ladder_chunks` with
                :func:`interp.backends.flax.tuning.preferred_chunk` / ``preferred_min_chunk``,
                exact slices plus one zero-padded tail, so only a few shapes are ever compiled;
                ONNX Runtime: :func:`~interp.backends.flax.tuning.preferred_onnx_chunk`).

        Returns:
            float32 [N, 2] (column 0 noise, 1 signal).

        Raises:
            ShapeMismatchError: If (P, T) differs from :attr:`window`.
        """
        from interp.backends.flax.adc import as_model_input
        from interp.backends.flax.tuning import BACKENDS

        charge = self._check(charge)
        n = charge.shape[0]
        if n == 0:
            return np.zeros((0, 2), np.float32)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got '{self.backend}'")
        precision = getattr(self, "precision", "float32")
        if precision not in INFERENCE_PRECISIONS:
            raise ValueError(f"precision must be one of {INFERENCE_PRECISIONS}, got '{precision}'")
        plan = self._tuning()
        uint8 = charge.dtype == np.uint8 and precision == "float32"
        backend = self.backend
        if backend == "auto":
            backend = plan.uint8_backend if uint8 else plan.backend
        if precision == "int8":
            backend = "onnx"  # int8 is ONNX Runtime's (interp.backends.onnx.quantize)
        elif precision != "float32":
            backend = "jax"  # reduced float precision is the JAX path's
        if backend == "onnx":  # uint8 ADC goes in as it is (an integer graph, 4x fewer bytes)
            twin = self._onnx("uint8" if uint8 else "float32")
            return twin.logits(charge, int(batch_size or plan.onnx_chunk))
        charge = as_model_input(charge)  # aligned: XLA reads the slices in place
        if batch_size is None:  # measured per model: big exact slices, a small padded tail
            pieces = ladder_chunks(n, plan.chunk, plan.min_chunk)
        else:
            size = bucket_size(n, int(batch_size))
            pieces = ((start, stop, size) for start, stop in chunks(n, size))
        forward, params = self._fused_forward()
        out = np.empty((n, 2), np.float32)

        def piece(start: int, stop: int, size: int) -> None:
            # each call waits for its result: queueing every chunk asynchronously was 2x
            # slower on the 2-core VM; the model's measured streams run side by side instead
            z = forward(params, pad_to(charge[start:stop], size))
            out[start:stop] = np.asarray(z)[: stop - start]

        run_pieces(pieces, piece, self._streams())
        return out

    def predict_proba(self, charge: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """P(signal), float32 [N] in [0, 1], for raw windows float [N, P, T] (ADC)."""
        z = self.logits(charge, batch_size)
        # softmax over two classes = sigmoid of the logit difference (stable form)
        d = (z[:, 1] - z[:, 0]).astype(np.float64)
        return (0.5 * (1.0 + np.tanh(0.5 * d))).astype(np.float32)

    def weight_map(self) -> dict[str, np.ndarray]:
        """A linear model's (the perceptron's) weights as pictures over the window.

        Returns:
            ``{"noise neuron", "signal neuron", "signal - noise"}`` -> float64 [P, T], in
            weight per unit of preprocessed (normalised) charge; ``signal - noise`` is what
            the decision depends on.

        Raises:
            TPCInterpError: For models without a weight map (capability ``weight_map`` of the
                model's spec: only the perceptron has one); the message names
                :func:`interp.explain.attribution.attributions`, which works for every Flax model.
        """
        import models

        has_map = models.spec_of(self.module).weight_map
        kernel = self.params.get("dense", {}).get("kernel") if has_map else None
        if kernel is None:
            raise TPCInterpError(
                f"model '{self.name}' has no weight map (only linear models such as "
                "'perceptron' have one); use interp.explain.attribution.attributions(clf, "
                "charge_adc, method=...) with one of ('integrated_gradients', 'saliency', "
                "'occlusion')"
            )
        k = np.asarray(kernel, np.float64)
        w0, w1 = k[:, 0].reshape(self.window), k[:, 1].reshape(self.window)
        return {"noise neuron": w0, "signal neuron": w1, "signal - noise": w1 - w0}

    def metadata(self) -> dict[str, Any]:
        """The ``classifier.json`` content."""
        return {
            "kind": self.kind,
            "name": self.name,
            "model_config": self.model_config,
            "preprocessor": self.preprocessor.to_dict(),
            "window": list(self.window),
            "train_chamber": self.train_chamber,
            "train_config": self.train_config,
            "params_file": PARAMS_FILE,
            **{k: v for k, v in self.info.items() if k not in ("kind", "name")},
        }

    def save(self, directory: str | Path) -> None:
        """Writes ``params.safetensors`` then ``classifier.json``, each atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(directory / PARAMS_FILE, st_save(flatten_params(self.params)))
        text = json.dumps(self.metadata(), indent=2, sort_keys=True) + "\n"
        atomic_write_text(directory / CLASSIFIER_FILE, text)

    @classmethod
    def load(cls, directory: str | Path) -> FlaxClassifier:
        """Reads a classifier written by :meth:`save` (see :func:`load_flax_classifier`)."""
        return load_flax_classifier(directory)


def load_flax_classifier(directory: str | Path) -> FlaxClassifier:
    """Loads a saved Flax classifier; the module is rebuilt from the ``models`` registry.

    Raises:
        ClusterDataError: If files are missing/corrupt or the weights do not fit the model.
    """
    directory = Path(directory)
    meta_path = directory / CLASSIFIER_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ClusterDataError(str(meta_path), None, f"cannot read classifier: {exc}") from exc
    params_path = directory / meta.get("params_file", PARAMS_FILE)
    try:
        params = unflatten_params(st_load(params_path.read_bytes()))
    except Exception as exc:  # safetensors raises its own error types
        raise ClusterDataError(str(params_path), None, f"cannot read weights: {exc}") from exc
    module = build_module(meta["name"], meta.get("model_config"))
    pre = Preprocessor.from_dict(meta["preprocessor"])
    expected = jax.eval_shape(
        lambda: module.init(jax.random.key(0), np.zeros((1, *pre.window), np.float32))
    )["params"]
    exp_flat = {k: v.shape for k, v in flatten_params_shapes(expected).items()}
    got_flat = {k: v.shape for k, v in flatten_params(params).items()}
    if exp_flat != got_flat:
        missing = sorted(set(exp_flat) ^ set(got_flat))[:5]
        raise ClusterDataError(
            str(params_path),
            None,
            f"weights do not fit model '{meta['name']}' with config {meta.get('model_config')}"
            f" (first differing arrays: {missing or 'shapes differ'})",
        )
    info = {
        k: v
        for k, v in meta.items()
        if k
        not in (
            "kind",
            "name",
            "model_config",
            "preprocessor",
            "window",
            "train_chamber",
            "train_config",
            "params_file",
        )
    }
    return FlaxClassifier(
        name=meta["name"],
        module=module,
        params=params,
        preprocessor=pre,
        train_chamber=meta["train_chamber"],
        model_config=meta.get("model_config"),
        train_config=meta.get("train_config"),
        info=info,
    )


def flatten_params_shapes(tree: Any) -> dict[str, Any]:
    """Flattens a tree of ``ShapeDtypeStruct`` (or arrays) with ``/`` keys."""
    return traverse_util.flatten_dict(dict(tree), sep="/")

"""ONNX Runtime CPU inference backend with the classifier ``predict_proba``/``logits`` API.

Usage::

    clf = load_classifier(run_dir)                       # FlaxClassifier
    ort_clf = OnnxClassifier.from_classifier(clf)        # export in memory, run in ORT
    p = ort_clf.predict_proba(charge)                    # float32 [N] P(signal)

or ``OnnxClassifier(path_to_model_onnx)`` for a file written by ``tpc-interp export``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from interp.backends.flax.chunking import chunks, run_pieces
from interp.backends.onnx.export import INPUT, OUTPUTS, build_onnx
from interp.core.errors import ShapeMismatchError

_INPUT_TYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8}
"""ONNX Runtime's input type string -> numpy dtype of ``charge`` (see
:data:`interp.backends.onnx.export.INPUT_DTYPES`)."""

DEFAULT_CHUNK = 4096
"""Clusters per ``session.run`` call."""
ONNX_PRECISIONS = ("float32", "int8")
"""Precisions of an in-memory ONNX Runtime twin (:meth:`OnnxClassifier.from_classifier`)."""


def ort_available() -> bool:
    """Whether ``onnxruntime`` and ``onnx`` (needed to build the graph) can be imported."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def make_session(
    model: bytes | str | Path, threads: int | None = None, spinning: bool = False
) -> Any:
    """CPU ``InferenceSession`` with full graph optimisation.

    Args:
        model: Serialized ONNX bytes or a path.
        threads: Intra-op threads (default: ``os.cpu_count()``); inter-op is 1.
        spinning: Let idle intra-op threads busy-wait for work (ONNX Runtime's default).
            Off by default here: the toolkit runs JAX/XLA in the same process, and on the
            2-core VM an XLA call right after an ONNX Runtime call took 9.0 ms instead of
            6.3-6.5 ms (perceptron, one event) while the spinning threads held the cores;
            ONNX Runtime itself is 3-5 % slower without spinning.

    Returns:
        ``onnxruntime.InferenceSession``.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = int(threads or os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])


class OnnxClassifier:
    """An exported Flax classifier run by ONNX Runtime on CPU (preprocessing in the graph).

    Attributes:
        kind: ``"onnx"``.
        name: Model name.
        window: (pads, time bins).
        session: The ORT session.
    """

    kind = "onnx"

    def __init__(
        self,
        model: bytes | str | Path,
        threads: int | None = None,
        spinning: bool = False,
        streams: int = 1,
    ) -> None:
        """Args: model: ONNX bytes or path; threads, spinning: see :func:`make_session`;
        streams: ``session.run`` calls in flight at once (threads sharing the session; see
        :func:`interp.backends.flax.chunking.run_pieces`)."""
        self.session = make_session(model, threads, spinning)
        self.streams = max(int(streams), 1)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.info: dict[str, Any] = json.loads(meta.get("classifier_json", "{}"))
        self.name = str(self.info.get("name", "onnx"))
        entry = self.session.get_inputs()[0]
        self.window = (int(entry.shape[1]), int(entry.shape[2]))
        self.input_dtype = np.dtype(_INPUT_TYPES.get(entry.type, np.float32))

    @classmethod
    def from_classifier(
        cls,
        classifier: Any,
        threads: int | None = None,
        spinning: bool = False,
        precision: str = "float32",
        calibration: np.ndarray | None = None,
        streams: int = 1,
        input_dtype: str = "float32",
    ) -> OnnxClassifier:
        """Exports a Flax classifier in memory and wraps it (see ``build_onnx``).

        Args:
            precision: ``"float32"`` or ``"int8"`` (static QDQ quantization,
                :func:`interp.backends.onnx.quantize.build_int8`, calibrated on ``calibration``
                windows or, if ``None``, on simulated clusters of the training chamber).
            input_dtype: ``"float32"`` or ``"uint8"`` (float32 precision only): the ADC dtype
                the session takes (see :func:`~interp.backends.onnx.export.build_onnx`).
        """
        if precision not in ONNX_PRECISIONS:
            raise ValueError(f"precision must be one of {ONNX_PRECISIONS}, got '{precision}'")
        if precision == "int8":
            if input_dtype != "float32":
                raise ValueError("the int8 ONNX model takes float32 windows")
            from interp.backends.onnx.quantize import build_int8

            model = build_int8(classifier, calibration)
        else:
            model = build_onnx(classifier, input_dtype=input_dtype)
        return cls(model.SerializeToString(), threads, spinning, streams)

    def _run(self, charge: np.ndarray, output: str, chunk: int) -> np.ndarray:
        charge = np.asarray(charge)  # float32 per chunk below (integer ADC stays compact)
        if charge.ndim != 3 or tuple(charge.shape[1:]) != self.window:
            raise ShapeMismatchError(
                f"ONNX model '{self.name}' expects windows [N, {self.window[0]}, "
                f"{self.window[1]}] (pads, time bins), got {charge.shape}"
            )
        if self.input_dtype != np.float32 and charge.dtype != self.input_dtype:
            raise ShapeMismatchError(
                f"ONNX model '{self.name}' takes {self.input_dtype} ADC windows (its 'charge' "
                f"input), got {charge.dtype}"
            )
        n = charge.shape[0]
        width = (2,) if output == OUTPUTS[0] else ()
        if n == 0:
            return np.zeros((0, *width), np.float32)
        out = np.empty((n, *width), np.float32)

        def piece(start: int, stop: int, _size: int) -> None:
            x = np.ascontiguousarray(charge[start:stop], dtype=self.input_dtype)
            (out[start:stop],) = self.session.run([output], {INPUT: x})

        plan = ((start, stop, stop - start) for start, stop in chunks(n, int(chunk)))
        run_pieces(plan, piece, self.streams)
        return out

    def logits(self, charge: np.ndarray, batch_size: int = DEFAULT_CHUNK) -> np.ndarray:
        """Raw logits float32 [N, 2] for raw windows float [N, P, T] (ADC)."""
        return self._run(charge, OUTPUTS[0], batch_size)

    def predict_proba(self, charge: np.ndarray, batch_size: int = DEFAULT_CHUNK) -> np.ndarray:
        """P(signal), float32 [N] in [0, 1], for raw windows float [N, P, T] (ADC)."""
        return self._run(charge, OUTPUTS[1], batch_size)

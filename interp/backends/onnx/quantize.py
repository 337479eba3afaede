"""int8 ONNX models for C++ / ONNX Runtime users: static QDQ quantization of an export.

The float32 graph of :func:`interp.backends.onnx.export.build_onnx` is quantized with
``onnxruntime.quantization.quantize_static`` in the QDQ format (QuantizeLinear /
DequantizeLinear pairs around int8 weights, one scale per output channel, and uint8
activations of every Conv, Gemm and MatMul), which ONNX Runtime's CPU provider fuses into
integer kernels and other runtimes read as standard ONNX. The graph interface is unchanged
(float32 ``charge`` in, float32 ``logits`` / ``p_signal`` out; preprocessing stays float32).

Activation ranges come from calibration windows: by default clusters simulated for the
classifier's training chamber (the data it was trained on in the toolkit's studies), or the
caller's own windows. Static quantization is used because dynamic quantization turns every
Conv into ``ConvInteger``, which ONNX Runtime ran 6x slower than float32 on the ResNet
(``docs/speed.md``). Per-channel weight scales: on the quick study's test splits they brought
the autoencoder's int8 cost from 0.11-0.13 to 0.03-0.04 points of balanced accuracy, every
model within 0.08 (the repository's precision benchmark; one scale per tensor gave the
same elsewhere within 0.05).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from interp.backends.onnx.export import INPUT, build_onnx
from interp.core.errors import TPCInterpError

QUANTIZE = ("int8",)
"""Values of ``tpc-interp export --quantize``."""
CALIBRATION_CLUSTERS = 4096
"""Default number of calibration windows."""
_CALIBRATION_BATCH = 512


class CalibrationError(TPCInterpError):
    """No usable calibration windows for int8 quantization."""


def calibration_windows(classifier: Any, n: int = CALIBRATION_CLUSTERS, seed: int = 0) -> Any:
    """``n`` simulated raw windows of the classifier's training chamber, float32 [n, P, T].

    Raises:
        CalibrationError: The training chamber is not a registered (simulatable) chamber, or
            its window differs from the classifier's (pass calibration windows instead).
    """
    from interp.data.chambers import get_chamber
    from interp.data.simulator import simulate

    chamber = getattr(classifier, "train_chamber", None)
    try:
        get_chamber(chamber)
    except (KeyError, ValueError, TypeError, TPCInterpError):
        raise CalibrationError(
            f"cannot simulate calibration windows for chamber {chamber!r} (not a registered "
            "chamber); pass calibration windows (export --calibration FILE)"
        ) from None
    charge = simulate(chamber, 1, seed, n_clusters=int(n)).charge
    if tuple(charge.shape[1:]) != tuple(classifier.window):
        raise CalibrationError(
            f"chamber {chamber!r} simulates {tuple(charge.shape[1:])} windows but the "
            f"classifier takes {tuple(classifier.window)}; pass calibration windows"
        )
    return charge


def quantize_int8(model: onnx.ModelProto, calibration: np.ndarray) -> onnx.ModelProto:
    """Static int8 (QDQ) quantization of an exported float32 model.

    Args:
        model: A model from :func:`~interp.backends.onnx.export.build_onnx` (input ``charge``).
        calibration: Raw windows float [M, P, T] (ADC) whose activation ranges set the
            quantization scales; a few thousand clusters of the data to be scored.

    Returns:
        The quantized ``onnx.ModelProto``: same inputs/outputs, metadata kept, with
        ``"precision": "int8"`` added to its ``classifier_json``.

    Raises:
        CalibrationError: ``calibration`` is empty or not [M, P, T] of the model's window.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    x = np.asarray(calibration, dtype=np.float32)
    if x.ndim != 3 or list(x.shape[1:]) != shape or len(x) == 0:
        raise CalibrationError(
            f"calibration windows must be [M >= 1, {shape[0]}, {shape[1]}], got {x.shape}"
        )

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(
                {INPUT: x[i : i + _CALIBRATION_BATCH]} for i in range(0, len(x), _CALIBRATION_BATCH)
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._batches, None)

    with tempfile.TemporaryDirectory(prefix="tpc-interp-quant-") as tmp:
        src, dst = Path(tmp) / "float32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, src)
        logging.disable(logging.WARNING)  # ORT's "consider pre-processing" advice, per call
        try:
            quantize_static(
                str(src),
                str(dst),
                _Reader(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["Conv", "Gemm", "MatMul"],
                per_channel=True,
            )
        finally:
            logging.disable(logging.NOTSET)
        out = onnx.load(dst)
    meta = {p.key: p.value for p in model.metadata_props}
    info = json.loads(meta.get("classifier_json", "{}"))
    info["precision"] = "int8"
    meta["classifier_json"] = json.dumps(info, sort_keys=True)
    del out.metadata_props[:]
    onnx.helper.set_model_props(out, meta)
    onnx.checker.check_model(out)
    return out


def build_int8(classifier: Any, calibration: np.ndarray | None = None) -> onnx.ModelProto:
    """int8 ONNX model of a Flax classifier (:func:`build_onnx` + :func:`quantize_int8`).

    Args:
        classifier: A trained :class:`~interp.backends.flax.classifier.FlaxClassifier`.
        calibration: Raw windows [M, P, T]; ``None``: :func:`calibration_windows`.
    """
    if calibration is None:
        calibration = calibration_windows(classifier)
    return quantize_int8(build_onnx(classifier), calibration)


def export_int8(classifier: Any, out: str | Path, calibration: np.ndarray | None = None) -> Path:
    """Writes the int8 ONNX model of ``classifier`` (:func:`build_int8`) atomically.

    Returns:
        The written path (parent folders are created).
    """
    from interp.core.fsutil import atomic_write_bytes

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, build_int8(classifier, calibration).SerializeToString())
    return out

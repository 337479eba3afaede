"""Model export: ONNX (opset 17, preprocessing included, dynamic batch)."""

from interp.backends.onnx.export import OPSET, UnsupportedModelError, build_onnx, export_onnx

__all__ = ["OPSET", "UnsupportedModelError", "build_onnx", "export_onnx"]

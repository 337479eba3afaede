"""Compute backends: the classifier contract and its Flax, XGBoost and ONNX implementations.

Imports :mod:`interp.core`, :mod:`interp.data` and the top-level ``models`` package.
"""

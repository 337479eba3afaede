"""Gradient-boosted trees (XGBoost) behind the classifier contract; optional Dask training."""

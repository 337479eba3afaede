"""Fast CPU inference: fused JAX formulations and an ONNX Runtime backend."""

from interp.infer.fast import (
    BACKENDS,
    DEFAULT_CHUNK,
    FORMULATIONS,
    INTEGER_ADC_DTYPES,
    PLATFORM_FORMULATION,
    PRECISIONS,
    compact_adc,
    fused_jit,
    jax_preprocess,
    make_fused_forward,
    model_logits_fn,
    platform_formulation,
    preferred_backend,
    preferred_chunk,
    preferred_min_chunk,
    set_xla_cpu_flags,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_CHUNK",
    "FORMULATIONS",
    "INTEGER_ADC_DTYPES",
    "PLATFORM_FORMULATION",
    "PRECISIONS",
    "compact_adc",
    "fused_jit",
    "jax_preprocess",
    "make_fused_forward",
    "model_logits_fn",
    "platform_formulation",
    "preferred_backend",
    "preferred_chunk",
    "preferred_min_chunk",
    "set_xla_cpu_flags",
]

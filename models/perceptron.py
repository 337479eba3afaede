"""Two-neuron softmax perceptron on the flattened window (442 params on 11x20)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.registry import register_model


@register_model("perceptron")
class Perceptron(nn.Module):
    """Flatten -> Dense(2). Logits are linear in the input, ``2 * (P * T + 1)`` params.

    Intermediates: ``"flat_input"`` [B, P*T].
    """

    num_classes: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Args: x float32 [B, P, T]; train unused. Returns logits float32 [B, 2]."""
        del train
        flat = jnp.reshape(x.astype(jnp.float32), (x.shape[0], -1))
        self.sow("intermediates", "flat_input", flat)
        return nn.Dense(self.num_classes, name="dense")(flat)

"""Multilayer perceptron on the flattened window: two hidden layers of 128 ReLU units
(45,058 params on 11x20).

The dense baseline of the CNN/MLP lecture and the architecture of ALICE O2's production TPC
cluster classifier (an MLP on the cluster's charge window). Everything else it gets from the
contract's defaults: ``module.apply`` for inference, the generic ONNX converter, gradient
attributions in the explain stage.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.contract import ModelSpec


class MLP(nn.Module):
    """Flatten -> Dense(128) -> relu -> Dense(128) -> relu -> Dense(2).

    Params: ``(P*T + 1) * h1 + (h1 + 1) * h2 + (h2 + 1) * 2`` (45,058 for 11x20, h = 128).
    Intermediates: ``"hidden"`` [B, h2] (the last hidden layer's activations).
    """

    hidden: tuple[int, ...] = (128, 128)
    num_classes: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Args: x float32 [B, P, T]; train unused. Returns logits float32 [B, 2]."""
        del train
        h = jnp.reshape(x.astype(jnp.float32), (x.shape[0], -1))
        for i, width in enumerate(self.hidden):
            h = nn.relu(nn.Dense(width, name=f"dense_{i}")(h))
        self.sow("intermediates", "hidden", h)
        return nn.Dense(self.num_classes, name="head")(h)


Model = MLP

SPEC = ModelSpec(
    name="mlp",
    order=30,
    profile_overrides={"smoke": {"learning_rate": 3e-3}},
    description="two hidden layers of 128 ReLU units (45,058 params)",
)

"""Lean ResNet: stem, 3 downsampling residual blocks, global average pooling, dense.

Default widths (10; 16, 32, 76) give exactly 95,170 params independent of the window shape
(the published count). Every block halves the grid with a stride-2 conv (11x20 -> 6x10 ->
3x5 -> 2x3), so the forward pass costs ~1.9 MFLOP per cluster on 11x20. No normalisation,
so the only collection is ``params``; the second conv of every residual branch is
zero-initialised (SkipInit-style) so each block starts as its shortcut, which keeps the
un-normalised network well conditioned at initialisation.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.registry import register_model


class ResidualBlock(nn.Module):
    """conv3x3(stride) -> relu -> conv3x3 -> + shortcut -> relu.

    The shortcut is identity, or a 1x1 conv with the same stride when shape changes.
    Input [B, H, W, C_in] -> output [B, ceil(H/s), ceil(W/s), features].
    """

    features: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Args: x [B, H, W, C]. Returns [B, H', W', features]."""
        s = (self.stride, self.stride)
        h = nn.Conv(self.features, (3, 3), strides=s, padding="SAME", name="conv1")(x)
        h = nn.relu(h)
        h = nn.Conv(
            self.features,
            (3, 3),
            padding="SAME",
            kernel_init=nn.initializers.zeros,
            name="conv2",
        )(h)
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.features:
            shortcut = nn.Conv(self.features, (1, 1), strides=s, padding="SAME", name="proj")(x)
        return nn.relu(h + shortcut)


@register_model("resnet")
class ResNet(nn.Module):
    """Stem conv -> 3 residual blocks -> global average pool -> Dense(2).

    Intermediates: ``"stem"`` [B, P, T, 10], ``"block1".."block3"`` feature maps,
    ``"pooled"`` [B, 76].
    """

    stem_features: int = 10
    block_features: tuple[int, ...] = (16, 32, 76)
    block_strides: tuple[int, ...] = (2, 2, 2)
    num_classes: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Args: x float32 [B, P, T]; train unused. Returns logits float32 [B, 2]."""
        del train
        if len(self.block_features) != len(self.block_strides):
            raise ValueError("block_features and block_strides must have the same length")
        h = x.astype(jnp.float32)[..., None]
        h = nn.relu(nn.Conv(self.stem_features, (3, 3), padding="SAME", name="stem_conv")(h))
        self.sow("intermediates", "stem", h)
        for i, (f, s) in enumerate(zip(self.block_features, self.block_strides, strict=True)):
            h = ResidualBlock(f, s, name=f"res_block{i + 1}")(h)
            self.sow("intermediates", f"block{i + 1}", h)
        pooled = jnp.mean(h, axis=(1, 2))
        self.sow("intermediates", "pooled", pooled)
        return nn.Dense(self.num_classes, name="dense")(pooled)

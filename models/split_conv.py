"""Split convolution: a pad-elongated and a time-elongated conv branch (4,612 params on 11x20).

Physics: a kernel elongated along pads (10 x 2) sees the charge spread across pads, set by the
track crossing angle and transverse diffusion; a kernel elongated along time (2 x 10) sees the
spread in drift time, set by the dip angle and longitudinal diffusion. Each kernel has 20
weights, so both branches cost the same.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.registry import register_model


@register_model("split_conv")
class SplitConv(nn.Module):
    """Two parallel "same" convs (5 filters each) -> relu -> concat -> flatten -> Dense(2).

    Params: ``2 * features * (kh * kw + 1) + 2 * (2 * features * P * T + 1)``.
    Intermediates: ``"pad_branch"``, ``"time_branch"`` [B, P, T, 5], ``"features"``
    [B, P * T * 10].
    """

    features: int = 5
    pad_kernel: tuple[int, int] = (10, 2)
    time_kernel: tuple[int, int] = (2, 10)
    num_classes: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Args: x float32 [B, P, T]; train unused. Returns logits float32 [B, 2]."""
        del train
        h = x.astype(jnp.float32)[..., None]  # [B, P, T, 1]
        pad = nn.relu(nn.Conv(self.features, self.pad_kernel, padding="SAME", name="pad_conv")(h))
        time = nn.relu(
            nn.Conv(self.features, self.time_kernel, padding="SAME", name="time_conv")(h)
        )
        self.sow("intermediates", "pad_branch", pad)
        self.sow("intermediates", "time_branch", time)
        feats = jnp.concatenate([pad, time], axis=-1).reshape(x.shape[0], -1)
        self.sow("intermediates", "features", feats)
        return nn.Dense(self.num_classes, name="dense")(feats)

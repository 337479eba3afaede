"""Dense autoencoder of the preprocessed window, trained on signal clusters only: its
reconstruction error is the noise score (an unsupervised route past the label noise of kind (f),
real tracks the tracking did not attach).

Architecture: flatten -> Dense(128) -> relu -> Dense(16) (the code) -> Dense(128) -> relu ->
Dense(P*T) -> reshape (60,910 params on 11x20, the score head's 2 included). The reconstruction
error is ``e = mean over the P*T pixels of (x - reconstruct(x))^2`` (preprocessed units
squared) and the score feature ``log(e + 1e-6)``.

To go through the same pipeline as every classifier, ``__call__`` returns the usual 2-class
logits ``[-u / 2, u / 2]``, the logit difference ``u = slope * log(e + 1e-6) + intercept``;
``slope`` and ``intercept`` (the ``score_head``) are not trained by the reconstruction loss
but fitted after it on the validation split (a class-balanced 1-D logistic regression of the
label on the feature; see ``interp.backends.flax.objective``), so P(signal) = 0.5 sits at
the balanced operating point like the class-weighted supervised models'. The trainer learns
all this from the spec (``objective="reconstruct"``, ``train_classes=(1,)``), never from the
name.

Explain stage: mean input vs mean reconstruction per noise kind (capability
``reconstructions``); gradient attributions are off for their explain time (see ``SPEC``).

The noise-only option is the spec :data:`NOISE_SPEC` (``--model
models.autoencoder:NOISE_SPEC``): the same module trained on noise clusters only (the fitted
slope then comes out positive: a large error means signal).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.contract import ModelSpec

ERROR_FLOOR = 1e-6
"""Added to the reconstruction error before the log (preprocessed units squared)."""


class ScoreHead(nn.Module):
    """``logits = [-u / 2, u / 2]``, ``u = slope * s + intercept``, of a score feature ``s`` [B]
    (2 params): the logit difference, what P(signal) depends on, is ``u``."""

    @nn.compact
    def __call__(self, s: jax.Array) -> jax.Array:
        """Args: s float32 [B]. Returns logits float32 [B, 2] (column 0 noise, 1 signal)."""
        slope = self.param("slope", nn.initializers.constant(-1.0), ())
        intercept = self.param("intercept", nn.initializers.zeros, ())
        z = 0.5 * (slope * s + intercept)[:, None]
        return jnp.concatenate([-z, z], axis=-1)  # only ops the generic ONNX converter has


class Autoencoder(nn.Module):
    """Dense encoder ``hidden -> latent``, mirrored decoder, and a score head.

    Params: ``(PT + 1) h + (h + 1) k + (k + 1) h + (h + 1) PT + 2`` for one hidden width ``h``
    and latent size ``k`` (60,910 on 11x20 with h = 128, k = 16).
    Intermediates: ``"latent"`` [B, latent] (the code).
    """

    hidden: tuple[int, ...] = (128,)
    latent: int = 16

    @nn.compact
    def _forward(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(reconstruction [B, P, T], score feature [B], logits [B, 2]) of preprocessed x."""
        flat = jnp.reshape(x.astype(jnp.float32), (x.shape[0], -1))
        h = flat
        for i, width in enumerate(self.hidden):
            h = nn.relu(nn.Dense(width, name=f"encoder_{i}")(h))
        h = nn.Dense(self.latent, name="code")(h)
        self.sow("intermediates", "latent", h)
        for i, width in enumerate(reversed(self.hidden)):
            h = nn.relu(nn.Dense(width, name=f"decoder_{i}")(h))
        r = nn.Dense(flat.shape[1], name="reconstruction")(h)
        s = jnp.log(jnp.mean(jnp.square(flat - r), axis=-1) + ERROR_FLOOR)
        return jnp.reshape(r, x.shape), s, ScoreHead(name="score_head")(s)

    def reconstruct(self, x: jax.Array) -> jax.Array:
        """Args: x float32 [B, P, T] preprocessed. Returns the reconstruction float32
        [B, P, T] (preprocessed units)."""
        return self._forward(x)[0]

    def score_feature(self, x: jax.Array) -> jax.Array:
        """``log(e + ERROR_FLOOR)`` float32 [B], ``e`` the mean squared reconstruction error
        over the window's pixels (preprocessed units squared)."""
        return self._forward(x)[1]

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Args: x float32 [B, P, T]; train unused. Returns logits float32 [B, 2]."""
        del train
        return self._forward(x)[2]


Model = Autoencoder

SPEC = ModelSpec(
    name="autoencoder",
    order=60,
    objective="reconstruct",
    train_classes=(1,),
    reconstructions=True,
    # off: saliency / IG / occlusion and their sanity checks cost 28 CPU s of explain time at
    # the quick settings (23 + 5, measured beside 6 s for the common figures and 8 s for the
    # reconstruction figures), over the ~15 s this model may add; they work (the gradient
    # of the logit difference exists): ModelSpec(gradient_attributions=True) turns them on
    gradient_attributions=False,
    # measured on 15k VTPC2 training clusters (3,900 signal), test balanced accuracy at 0.5:
    # lr 3e-3 / 8 epochs / 64-8-64 0.805, lr 1e-2 0.848, 128-16-128 0.854, + 16 epochs 0.867
    # (13 s on the shared 2-core VM); smoke: 12 epochs of 32 (2 epochs of 64: 0.44)
    profile_overrides={
        "smoke": {"learning_rate": 1e-2, "max_epochs": 12, "patience": 12, "batch_size": 32},
        "quick": {"learning_rate": 1e-2, "max_epochs": 16, "patience": 4},
        "full": {"learning_rate": 1e-2, "max_epochs": 16, "patience": 4},
    },
    description="dense autoencoder (128-16-128) trained on signal; score: reconstruction error",
)

NOISE_SPEC = dataclasses.replace(
    SPEC,
    train_classes=(0,),
    description="dense autoencoder (128-16-128) trained on noise; score: reconstruction error",
)
"""The noise-only option (see the module docstring)."""

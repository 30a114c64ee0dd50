"""Normalization layers shared by the model stacks."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


class RMSNorm(nn.Module):
  """Root-mean-square norm over the last axis, `x / rms(x) * scale` (Mamba's pre-norm).

  Statistics are computed in float32 whatever the input dtype; the output has the input dtype.
  """

  eps: float = 1e-5

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    scale = self.param("scale", nn.initializers.ones, (x.shape[-1],), jnp.float32)
    x32 = x.astype(jnp.float32)
    inv_rms = jnp.reciprocal(jnp.sqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps))
    return (x32 * inv_rms * scale).astype(x.dtype)

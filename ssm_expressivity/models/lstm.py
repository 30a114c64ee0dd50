"""Stacked LSTM baseline: [batch, length, d_model] -> same shape."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp


class LSTMStack(nn.Module):
  """`num_layers` LSTMs (flax OptimizedLSTMCell, zero initial state), each feeding the next.

  Plain stacking, no residuals or norms: the classic recurrent baseline of the word-problem
  experiments. Each layer's params are `lstm_<i>/{ii,if,ig,io}` (input kernels, no bias)
  and `{hi,hf,hg,ho}` (recurrent kernels with the gate biases); gate order i, f, g, o.
  """

  num_layers: int
  d_model: int

  def __post_init__(self):
    super().__post_init__()
    for field in ("num_layers", "d_model"):
      value = getattr(self, field)
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{field} must be a positive integer, got {value!r}")

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    for i in range(self.num_layers):
      x = nn.RNN(nn.OptimizedLSTMCell(self.d_model, name=f"lstm_{i}"))(x)
    return x

"""Causal pre-norm transformer baseline: [batch, length, d_model] -> same shape."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

POS_ENCODINGS = ("sinusoidal", "learned", "none")


def sinusoidal_encoding(length: int, d_model: int) -> jnp.ndarray:
  """[length, d_model] encoding of Vaswani et al.: sin on even dims, cos on odd dims.

  Defined for every length, so it needs no max_len (the suite tests far past the train lengths).
  """
  positions = np.arange(length, dtype=np.float64)[:, None]
  inv_freq = np.exp(-np.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
  angles = positions * inv_freq[None, :]
  table = np.zeros((length, d_model), np.float64)
  table[:, 0::2] = np.sin(angles)
  table[:, 1::2] = np.cos(angles[:, : d_model // 2])
  return jnp.asarray(table, jnp.float32)


class TransformerLayer(nn.Module):
  """x + attn(LN(x)), then x + mlp(LN(x)); attention is causal."""

  d_model: int
  num_heads: int = 4
  mlp_ratio: int = 4
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: jnp.ndarray, deterministic: bool = True) -> jnp.ndarray:
    causal = nn.make_causal_mask(jnp.ones(x.shape[:2], jnp.bool_))
    y = nn.LayerNorm(name="attn_norm")(x)
    y = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads, qkv_features=self.d_model, out_features=self.d_model,
        dropout_rate=self.dropout_rate, name="attn")(y, y, mask=causal,
                                                     deterministic=deterministic)
    x = x + nn.Dropout(self.dropout_rate)(y, deterministic=deterministic)
    y = nn.LayerNorm(name="mlp_norm")(x)
    y = nn.Dense(self.mlp_ratio * self.d_model, name="mlp_in")(y)
    y = nn.Dense(self.d_model, name="mlp_out")(nn.gelu(y))
    return x + nn.Dropout(self.dropout_rate)(y, deterministic=deterministic)


class TransformerStack(nn.Module):
  """Positional encoding at the input, `num_layers` causal pre-norm layers, final LayerNorm.

  pos_encoding: "sinusoidal" (any length), "learned" (a [max_len, d_model] table; longer
  inputs raise ValueError) or "none" (causal masking alone carries order information).
  """

  num_layers: int
  d_model: int
  num_heads: int = 4
  mlp_ratio: int = 4
  pos_encoding: str = "sinusoidal"
  max_len: int = 2048
  dropout_rate: float = 0.0

  def __post_init__(self):
    super().__post_init__()
    if self.pos_encoding not in POS_ENCODINGS:
      raise ValueError(f"pos_encoding must be one of {POS_ENCODINGS}, got {self.pos_encoding!r}")
    for field in ("num_layers", "d_model", "num_heads", "mlp_ratio", "max_len"):
      value = getattr(self, field)
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{field} must be a positive integer, got {value!r}")
    if self.d_model % self.num_heads:
      raise ValueError(f"d_model ({self.d_model}) must be divisible by num_heads "
                       f"({self.num_heads})")
    if not 0.0 <= self.dropout_rate < 1.0:
      raise ValueError(f"dropout_rate must lie in [0, 1), got {self.dropout_rate!r}")

  @nn.compact
  def __call__(self, x: jnp.ndarray, deterministic: bool = True) -> jnp.ndarray:
    length = x.shape[1]
    if self.pos_encoding == "sinusoidal":
      x = x + sinusoidal_encoding(length, self.d_model).astype(x.dtype)
    elif self.pos_encoding == "learned":
      if length > self.max_len:
        raise ValueError(f"input length {length} exceeds max_len={self.max_len} of the learned "
                         "positional encoding; raise max_len or use pos_encoding='sinusoidal'")
      table = self.param("pos_embedding", nn.initializers.normal(stddev=0.02),
                         (self.max_len, self.d_model), jnp.float32)
      x = x + table[:length].astype(x.dtype)
    x = nn.Dropout(self.dropout_rate)(x, deterministic=deterministic)
    for i in range(self.num_layers):
      x = TransformerLayer(self.d_model, self.num_heads, self.mlp_ratio, self.dropout_rate,
                           name=f"layer_{i}")(x, deterministic)
    return nn.LayerNorm(name="final_norm")(x)

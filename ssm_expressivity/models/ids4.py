"""IDS4: an input-dependent, non-diagonal linear SSM (Merrill, Petty, Sabharwal 2024).

One layer: `H_t = A(x_t) H_{t-1} + B(x_t)`, `y_t = C vec(H_t) + D * x_t`, with `H_0 = 0`.
Channel groups ("heads"): head g has its own `A_g(x) = reshape(W_A x + b_A)`, a full
d_state x d_state matrix, and a matrix state `H_g` of shape [d_state, d_state] whose
d_state columns share `A_g` (so one layer can hold a whole product of matrices, which is what
a group word problem needs). `B_g(x)` is a [d_state, d_state] matrix, linear in x.
A and B are affine in x with no squashing, so hand-set weights can make `A(x)` any matrix, e.g.
a permutation matrix: one layer then tracks a product of permutations exactly (S5 word
problems), which no diagonal SSM of fixed depth can do.

The recurrence runs as `jax.lax.associative_scan` over pairs (A, B) with
`(A1, B1) o (A2, B2) = (A2 A1, A2 B1 + B2)`, matrix products at full float32 precision.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ssm_expressivity.models.norms import RMSNorm

_HIGHEST = jax.lax.Precision.HIGHEST


def _matmul(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
  # HIGHEST: on TPU/GPU the default float32 matmul may round through bfloat16/tf32.
  return jnp.matmul(a, b, precision=_HIGHEST)


def _combine(earlier, later):
  a_1, b_1 = earlier
  a_2, b_2 = later
  return _matmul(a_2, a_1), _matmul(a_2, b_1) + b_2


@jax.jit  # one compiled program instead of dozens of eager ops when called outside jit
def matrix_recurrence(a: jnp.ndarray, b: jnp.ndarray, h0: jnp.ndarray | None = None
                      ) -> jnp.ndarray:
  """Every H_t of `H_t = a_t @ H_{t-1} + b_t` along axis 1, with `H_0 = h0` (zeros if None).

  a: [batch, length, ..., N, N]; b: [batch, length, ..., N, P] (matrix state) or
  [batch, length, ..., N] (vector state); h0: b's shape without the length axis.
  Returns float32 states with b's shape.
  """
  a = jnp.asarray(a, jnp.float32)
  b = jnp.asarray(b, jnp.float32)
  vector_state = b.ndim == a.ndim - 1
  if vector_state:
    b = b[..., None]
  if a.ndim < 4 or b.shape[:-1] != a.shape[:-1] or a.shape[-1] != a.shape[-2]:
    raise ValueError("expected a: [batch, length, ..., N, N] and b: [batch, length, ..., N(, P)]"
                     f" with matching leading dims; got a {a.shape}, b {b.shape}")
  if h0 is not None:
    h0 = jnp.asarray(h0, jnp.float32)
    if vector_state:
      h0 = h0[..., None]
    if h0.shape != b.shape[:1] + b.shape[2:]:
      raise ValueError(f"h0 must have shape {b.shape[:1] + b.shape[2:]}, got {h0.shape}")
    b = b.at[:, 0].add(_matmul(a[:, 0], h0))
  _, h = jax.lax.associative_scan(_combine, (a, b), axis=1)
  return h[..., 0] if vector_state else h


def _identity_bias(num_heads: int, d_state: int):
  """Bias init of the A projection: every head's A starts at the identity (keeps state)."""
  def init(key, shape, dtype=jnp.float32):
    del key
    eye = jnp.broadcast_to(jnp.eye(d_state, dtype=dtype), (num_heads, d_state, d_state))
    return eye.reshape(shape)
  return init


def _check_positive_int(name: str, value) -> None:
  if not isinstance(value, int) or isinstance(value, bool) or value < 1:
    raise ValueError(f"{name} must be a positive integer, got {value!r}")


class IDS4Block(nn.Module):
  """One IDS4 layer, [batch, length, d_model] -> same shape (see the module docstring).

  Params: A_proj (Dense to num_heads * d_state^2; bias = identity, small kernel, so A(x) starts
  near the identity and products stay bounded early in training), B_proj (Dense, same size),
  C_proj (Dense from num_heads * d_state^2 to d_model), D (per-channel skip, ones).
  """

  d_model: int
  d_state: int = 8
  num_heads: int = 1

  @nn.compact
  def __call__(self, x: jnp.ndarray, return_state: bool = False):
    batch, length = x.shape[:2]
    n, g = self.d_state, self.num_heads
    a = nn.Dense(g * n * n, name="A_proj",
                 kernel_init=nn.initializers.variance_scaling(1e-4, "fan_in", "normal"),
                 bias_init=_identity_bias(g, n))(x)
    b = nn.Dense(g * n * n, name="B_proj")(x)
    h = matrix_recurrence(a.reshape(batch, length, g, n, n), b.reshape(batch, length, g, n, n))
    skip = self.param("D", nn.initializers.ones, (self.d_model,), jnp.float32)
    y = nn.Dense(self.d_model, name="C_proj")(h.reshape(batch, length, g * n * n)) + skip * x
    return (y, h) if return_state else y


class IDS4Stack(nn.Module):
  """`num_layers` residual pre-norm IDS4 layers (x + block(RMSNorm(x))) and a final RMSNorm."""

  num_layers: int
  d_model: int
  d_state: int = 8
  num_heads: int = 1

  def __post_init__(self):
    super().__post_init__()
    for field in ("num_layers", "d_model", "d_state", "num_heads"):
      _check_positive_int(field, getattr(self, field))

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    for i in range(self.num_layers):
      block = IDS4Block(self.d_model, self.d_state, self.num_heads, name=f"layer_{i}")
      x = x + block(RMSNorm(name=f"norm_{i}")(x))
    return RMSNorm(name="final_norm")(x)

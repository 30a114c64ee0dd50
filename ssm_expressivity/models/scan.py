"""Linear recurrences h_t = a_t * h_{t-1} + b_t along axis 1 of [batch, length, ...] arrays.

(First version: "associative" and "sequential". Faster methods land with issue 3.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _combine(left, right):
  a_l, b_l = left
  a_r, b_r = right
  return a_r * a_l, a_r * b_l + b_r


def linear_recurrence(a, b, h0=None, method: str = "associative"):
  """Every h_t of h_t = a_t * h_{t-1} + b_t, t = 1..L, with h_0 = h0 (zeros if None).

  a, b: [batch, length, ...]; h0: [batch, ...]. Accumulates in float32; returns float32.
  """
  a = jnp.asarray(a, jnp.float32)
  b = jnp.asarray(b, jnp.float32)
  if h0 is not None:
    b = b.at[:, 0].add(a[:, 0] * jnp.asarray(h0, jnp.float32))
  if method == "associative":
    _, h = jax.lax.associative_scan(_combine, (a, b), axis=1)
    return h
  if method == "sequential":
    def step(h, ab):
      h = ab[0] * h + ab[1]
      return h, h
    _, h = jax.lax.scan(step, jnp.zeros_like(b[:, 0]), (jnp.moveaxis(a, 1, 0), jnp.moveaxis(b, 1, 0)))
    return jnp.moveaxis(h, 0, 1)
  raise ValueError(f"unknown scan method {method!r}; valid: associative, sequential")

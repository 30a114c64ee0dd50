"""Complex linear recurrences against complex128 numpy: values, gradients, JAX's convention."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssm_expressivity.models import scan
from tests_support import directional_difference

METHODS = ("associative", "sequential", "chunked", "auto")


def reference(a, b, h0):
  """complex128 sequential h_t = a_t h_{t-1} + b_t along axis 1."""
  h = np.array(h0, np.complex128)
  out = []
  for t in range(a.shape[1]):
    h = a[:, t] * h + b[:, t]
    out.append(h)
  return np.stack(out, axis=1)


def reference_cotangents(a, b, h0, dh):
  """complex128 cotangents of (a, b, h0) given the cotangent dh of h, by the reversed
  recurrence written out by hand (no conjugation: JAX transposes complex-linear maps)."""
  h = reference(a, b, h0)
  g = np.zeros_like(h)
  carry = np.zeros_like(np.asarray(h0, np.complex128))
  for t in reversed(range(a.shape[1])):
    g[:, t] = dh[:, t] + carry
    carry = a[:, t] * g[:, t]
  h_prev = np.concatenate([np.asarray(h0, np.complex128)[:, None], h[:, :-1]], axis=1)
  return g * h_prev, g, carry


def _complex(rng, shape, scale=1.0):
  return scale * (rng.normal(size=shape) + 1j * rng.normal(size=shape))


def _inputs(rng, shape):
  # Decaying rotations anywhere in the unit disc, and a nonzero complex h0.
  a = rng.uniform(0.0, 1.0, shape) * np.exp(1j * rng.uniform(-np.pi, np.pi, shape))
  return a, _complex(rng, shape), _complex(rng, shape[:1] + shape[2:])


def _c64(*arrays):
  return tuple(jnp.asarray(x, jnp.complex64) for x in arrays)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape,chunk_size", [((2, 37, 3), 8), ((1, 5, 2, 3), 64), ((3, 12), 1)])
def test_complex_recurrence_matches_complex128_reference(method, shape, chunk_size):
  a, b, h0 = _inputs(np.random.default_rng(0), shape)
  h = scan.linear_recurrence(a, b, h0, method=method, chunk_size=chunk_size)
  assert h.dtype == jnp.complex64 and h.shape == shape
  np.testing.assert_allclose(h, reference(a, b, h0), rtol=1e-5, atol=1e-5)
  h = scan.linear_recurrence(a, b, method=method, chunk_size=chunk_size)  # h0 = 0
  np.testing.assert_allclose(h, reference(a, b, 0 * h0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_complex_gradients_match_the_reversed_recurrence(method):
  rng = np.random.default_rng(1)
  a, b, h0 = _inputs(rng, (2, 23, 3))
  w = _complex(rng, a.shape)

  # For L = sum Re(w h), JAX's cotangent of h is dL/dRe(h) - i dL/dIm(h) = w.
  def loss(a, b, h0):
    h = scan.linear_recurrence(a, b, h0, method=method, chunk_size=5)
    return jnp.sum(jnp.real(w * h))

  grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(*_c64(a, b, h0))
  for got, want in zip(grads, reference_cotangents(a, b, h0, w)):
    assert got.dtype == jnp.complex64
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_jax_complex_gradient_convention_against_finite_differences(method):
  # A nonlinear real loss of the states; the gradient JAX returns for a complex input z must
  # be dL/dRe(z) - i dL/dIm(z), checked by float64 central differences on both parts.
  rng = np.random.default_rng(2)
  a, b, h0 = _inputs(rng, (2, 9, 2))
  w, v = _complex(rng, a.shape), rng.uniform(0.5, 1.5, a.shape)
  np_loss = lambda a, b, h0: np.sum(v * np.abs(reference(a, b, h0)) ** 2
                                    + np.real(w * reference(a, b, h0)))

  def loss(a, b, h0):
    h = scan.linear_recurrence(a, b, h0, method=method, chunk_size=4)
    return jnp.sum(v * jnp.abs(h) ** 2 + jnp.real(w * h))

  grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(*_c64(a, b, h0))
  for i, grad in enumerate(grads):
    args = [a, b, h0]
    direction = rng.normal(size=args[i].shape)
    grad = np.asarray(grad, np.complex128)
    for part, unit in (("real", 1.0), ("imaginary", 1j)):
      fd = directional_difference(np_loss, args, i, unit * direction)
      got = np.sum(grad.real * direction) if part == "real" else -np.sum(grad.imag * direction)
      np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-4, err_msg=f"arg {i}, {part}")


def test_the_complex128_oracle_matches_finite_differences():
  # The hand-written cotangents above, checked on their own in complex128.
  rng = np.random.default_rng(3)
  a, b, h0 = _inputs(rng, (1, 6, 2))
  w = _complex(rng, a.shape)
  grads = reference_cotangents(a, b, h0, w)
  np_loss = lambda a, b, h0: np.sum(np.real(w * reference(a, b, h0)))
  for i, grad in enumerate(grads):
    direction = _complex(rng, grad.shape)
    fd = directional_difference(np_loss, (a, b, h0), i, direction)
    # dL = Re(sum(cotangent * dz)): the pairing of JAX's convention.
    np.testing.assert_allclose(np.real(np.sum(grad * direction)), fd, rtol=1e-6)


@pytest.mark.parametrize("method", ("associative", "sequential", "chunked"))
def test_real_gate_with_complex_input_is_promoted_and_gets_a_real_gradient(method):
  rng = np.random.default_rng(4)
  a, b, h0 = _inputs(rng, (2, 11, 3))
  a_real = np.abs(a).astype(np.float32)
  w = _complex(rng, a.shape)
  h = scan.linear_recurrence(a_real, b, h0, method=method, chunk_size=4)
  assert h.dtype == jnp.complex64
  np.testing.assert_allclose(h, reference(a_real, b, h0), rtol=1e-5, atol=1e-5)
  loss = lambda a: jnp.sum(jnp.real(w * scan.linear_recurrence(a, *_c64(b, h0), method=method,
                                                               chunk_size=4)))
  grad = jax.grad(loss)(jnp.asarray(a_real))
  assert grad.dtype == jnp.float32
  np.testing.assert_allclose(grad, reference_cotangents(a_real, b, h0, w)[0].real, rtol=1e-4,
                             atol=1e-4)


@pytest.mark.parametrize("method", ("associative", "sequential", "chunked"))
def test_unit_modulus_rotations_keep_their_phase_over_2048_steps(method):
  # Rotations by multiples of 2 pi / 60, the finest phase of the Z60 word problem.
  rng = np.random.default_rng(5)
  k = rng.integers(0, 60, size=(2, 2048))
  a = np.exp(2j * np.pi * k / 60)
  want = np.exp(2j * np.pi * (np.cumsum(k, axis=1) % 60) / 60)
  h = scan.linear_recurrence(a, np.zeros_like(a), np.ones(2, np.complex64), method=method)
  phase_error = np.abs(np.angle(np.asarray(h, np.complex128) / want))
  assert phase_error.max() < 1e-4 < np.pi / 60


def test_real_inputs_stay_float32():
  a = np.full((1, 4, 2), 0.5)
  assert scan.linear_recurrence(a, a, np.ones((1, 2)), method="sequential").dtype == jnp.float32
  assert scan.state_dtype(a, None, a) == jnp.float32
  assert scan.state_dtype(a, a.astype(np.complex64)) == jnp.complex64

"""Scans against float64 numpy references: values, gradients, h0, signed gates, dtypes, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssm_expressivity.models import scan
from tests_support import directional_difference

METHODS = ("associative", "sequential", "chunked", "auto")


def reference_recurrence(a, b, h0):
  """float64 sequential h_t = a_t h_{t-1} + b_t along axis 1."""
  h = np.array(h0, np.float64)
  out = []
  for t in range(a.shape[1]):
    h = a[:, t] * h + b[:, t]
    out.append(h)
  return np.stack(out, axis=1)


def reference_recurrence_grads(a, b, h0, dh):
  """float64 gradients of sum(h * dh) by the reversed recurrence, written out by hand."""
  h = reference_recurrence(a, b, h0)
  g = np.zeros_like(h)
  carry = np.zeros_like(np.asarray(h0, np.float64))
  for t in reversed(range(a.shape[1])):
    g[:, t] = dh[:, t] + carry
    carry = a[:, t] * g[:, t]
  h_prev = np.concatenate([np.asarray(h0, np.float64)[:, None], h[:, :-1]], axis=1)
  return g * h_prev, g, carry


def reference_selective(x, dt, A, B, C, h0, signed):
  """float64 step-by-step Mamba selective scan."""
  h = np.array(h0, np.float64)
  ys = []
  for t in range(x.shape[1]):
    a = np.exp(dt[:, t, :, None] * A)
    if signed:
      a = 2 * a - 1
    h = a * h + (dt[:, t] * x[:, t])[:, :, None] * B[:, t, None, :]
    ys.append(np.einsum("bdn,bn->bd", h, C[:, t]))
  return np.stack(ys, axis=1)


def _recurrence_inputs(rng, shape):
  a = rng.uniform(-1.0, 1.0, shape)
  b = rng.normal(size=shape)
  h0 = rng.normal(size=shape[:1] + shape[2:])
  return a, b, h0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape,chunk_size", [((2, 37, 3), 8), ((1, 5, 2, 3), 64), ((3, 12), 1)])
def test_linear_recurrence_matches_float64_reference(method, shape, chunk_size):
  rng = np.random.default_rng(0)
  a, b, h0 = _recurrence_inputs(rng, shape)
  h = scan.linear_recurrence(a, b, h0, method=method, chunk_size=chunk_size)
  assert h.dtype == jnp.float32 and h.shape == shape
  np.testing.assert_allclose(h, reference_recurrence(a, b, h0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", METHODS[:3])
def test_linear_recurrence_without_h0_starts_from_zero(method):
  rng = np.random.default_rng(1)
  a, b, h0 = _recurrence_inputs(rng, (2, 9, 4))
  h = scan.linear_recurrence(a, b, method=method, chunk_size=4)
  np.testing.assert_allclose(h, reference_recurrence(a, b, 0 * h0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", METHODS[:3])
def test_linear_recurrence_gradients_match_reverse_recurrence(method):
  rng = np.random.default_rng(2)
  a, b, h0 = _recurrence_inputs(rng, (2, 23, 3))
  dh = rng.normal(size=a.shape)

  def loss(a, b, h0):
    return jnp.sum(scan.linear_recurrence(a, b, h0, method=method, chunk_size=5) * dh)

  grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(*(jnp.float32(v) for v in (a, b, h0)))
  for got, want in zip(grads, reference_recurrence_grads(a, b, h0, dh)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_reverse_recurrence_oracle_matches_finite_differences():
  # Validates the hand-written gradient oracle above against central differences in float64.
  rng = np.random.default_rng(3)
  a, b, h0 = _recurrence_inputs(rng, (1, 6, 2))
  dh = rng.normal(size=a.shape)
  grads = reference_recurrence_grads(a, b, h0, dh)
  loss = lambda a, b, h0: np.sum(reference_recurrence(a, b, h0) * dh)
  for i, arg in enumerate((a, b, h0)):
    v = rng.normal(size=arg.shape)
    fd = directional_difference(loss, (a, b, h0), i, v)
    np.testing.assert_allclose(np.sum(grads[i] * v), fd, rtol=1e-6)


@pytest.mark.parametrize("method", ("associative", "sequential", "chunked"))
def test_linear_recurrence_accumulates_bfloat16_inputs_in_float32(method):
  rng = np.random.default_rng(4)
  a, b, h0 = _recurrence_inputs(rng, (2, 40, 3))
  a16, b16 = jnp.asarray(a, jnp.bfloat16), jnp.asarray(b, jnp.bfloat16)
  h = scan.linear_recurrence(a16, b16, h0, method=method, chunk_size=16)
  assert h.dtype == jnp.float32
  want = reference_recurrence(np.asarray(a16, np.float64), np.asarray(b16, np.float64), h0)
  np.testing.assert_allclose(h, want, rtol=1e-5, atol=1e-5)


def test_parity_with_signed_gate_is_exact_at_long_length():
  # A(1) = -1, A(0) = +1, h0 = 1 gives (-1)^(number of ones): exact in float32.
  rng = np.random.default_rng(5)
  bits = rng.integers(0, 2, size=(2, 1000))
  a = np.where(bits == 1, -1.0, 1.0)
  want = np.cumprod(a, axis=1)
  for method in ("associative", "sequential", "chunked"):
    run = jax.jit(lambda a, b, h0, m=method: scan.linear_recurrence(a, b, h0, method=m))
    h = run(a, np.zeros_like(a), np.ones(2))
    np.testing.assert_array_equal(h, want)


def test_errors_name_the_valid_choices():
  a = np.zeros((2, 3, 4))
  with pytest.raises(ValueError, match="associative, sequential, chunked, native, auto"):
    scan.linear_recurrence(a, a, method="parallel")
  with pytest.raises(ValueError, match="same shape"):
    scan.linear_recurrence(a, np.zeros((2, 3, 5)))
  with pytest.raises(ValueError, match="h0 must have shape"):
    scan.linear_recurrence(a, a, np.zeros((2, 3)))
  with pytest.raises(ValueError, match="chunk_size"):
    scan.linear_recurrence(a, a, method="chunked", chunk_size=0)
  with pytest.raises(ValueError, match="valid"):
    scan.selective_scan(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), np.zeros((3, 4)),
                        np.zeros((1, 2, 4)), np.zeros((1, 2, 4)), method="fast")
  with pytest.raises(ValueError, match="A must be"):
    scan.selective_scan(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), np.zeros((2, 4)),
                        np.zeros((1, 2, 4)), np.zeros((1, 2, 4)))


def test_auto_resolves_to_the_backend_choice():
  assert scan.resolve_method("auto") == scan.AUTO_METHOD[jax.default_backend()]
  assert set(scan.AUTO_METHOD.values()) <= set(scan.SCAN_METHODS) - {"auto"}


def _selective_inputs(rng, batch=2, length=19, width=3, state=4):
  x = rng.normal(size=(batch, length, width))
  dt = rng.uniform(0.01, 1.5, size=(batch, length, width))
  A = -rng.uniform(0.1, 2.0, size=(width, state))
  B = rng.normal(size=(batch, length, state))
  C = rng.normal(size=(batch, length, state))
  h0 = rng.normal(size=(batch, width, state))
  return x, dt, A, B, C, h0


@pytest.mark.parametrize("signed", (False, True))
@pytest.mark.parametrize("method", ("associative", "sequential", "chunked"))
def test_selective_scan_values_and_gradients_match_float64(method, signed):
  rng = np.random.default_rng(6)
  args = _selective_inputs(rng)
  dy = rng.normal(size=args[0].shape)
  y = scan.selective_scan(*args, signed=signed, method=method, chunk_size=4)
  np.testing.assert_allclose(y, reference_selective(*args, signed), rtol=1e-5, atol=1e-5)

  def loss(*a):
    return jnp.sum(scan.selective_scan(*a, signed=signed, method=method, chunk_size=4) * dy)

  grads = jax.jit(jax.grad(loss, argnums=tuple(range(6))))(*(jnp.float32(v) for v in args))
  ref_loss = lambda *a: np.sum(reference_selective(*a, signed) * dy)
  for i, grad in enumerate(grads):
    # Directional derivative along a random direction, by float64 central differences.
    v = rng.normal(size=args[i].shape)
    fd = directional_difference(ref_loss, args, i, v)
    np.testing.assert_allclose(np.sum(np.asarray(grad, np.float64) * v), fd, rtol=2e-4,
                               atol=1e-4)


def test_chunked_backward_keeps_less_memory_than_associative():
  rng = np.random.default_rng(7)
  x, dt, A, B, C, _ = _selective_inputs(rng, batch=2, length=512, width=16, state=8)

  def temp_bytes(method):
    loss = lambda *a: jnp.sum(scan.selective_scan(*a, method=method, chunk_size=32) ** 2)
    compiled = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3, 4))).lower(x, dt, A, B, C).compile()
    analysis = compiled.memory_analysis()
    if analysis is None:
      pytest.skip("memory_analysis unavailable on this backend")
    return analysis.temp_size_in_bytes

  assert temp_bytes("chunked") * 4 < temp_bytes("associative")


@pytest.mark.parametrize("method", ("sequential", "chunked"))
def test_selective_scan_in_padded_batch_blocks_matches_float64(method, monkeypatch):
  # Blocks of 2 rows over a batch of 5: three blocks, the last one padded.
  monkeypatch.setattr(scan, "_BLOCK_STATE_ELEMENTS", 2 * 3 * 4)
  rng = np.random.default_rng(8)
  args = _selective_inputs(rng, batch=5, length=9, width=3, state=4)
  dy = rng.normal(size=args[0].shape)
  loss = lambda *a: jnp.sum(scan.selective_scan(*a, method=method, chunk_size=4) * dy)
  y = scan.selective_scan(*args, method=method, chunk_size=4)
  np.testing.assert_allclose(y, reference_selective(*args, False), rtol=1e-5, atol=1e-5)
  grads = jax.jit(jax.grad(loss, argnums=tuple(range(6))))(*(jnp.float32(v) for v in args))
  want = jax.jit(jax.grad(
      lambda *a: jnp.sum(scan.selective_scan(*a, method="associative") * dy),
      argnums=tuple(range(6))))(*(jnp.float32(v) for v in args))
  for got, ref in zip(grads, want):
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_balanced_chunk_splits_into_the_fewest_most_even_chunks():
  for chunk_size in range(1, 70):
    for length in range(1, 300):
      chunk = scan.balanced_chunk(length, chunk_size)
      num_chunks = -(-length // chunk)
      assert 1 <= chunk <= chunk_size
      assert num_chunks == -(-length // chunk_size)  # no more chunks than chunk_size gives
      assert num_chunks * chunk - length < num_chunks  # pads fewer positions than chunks


@pytest.mark.parametrize("length,chunk_size", [(65, 64), (3, 64), (100, 64)])
def test_chunked_selective_scan_with_balanced_chunks_matches_sequential(length, chunk_size):
  # Length 65 with chunk_size 64 runs two chunks of 33 (one padded position); length 3 one
  # chunk of 3. Values against float64, gradients against the sequential method's.
  rng = np.random.default_rng(9)
  args = _selective_inputs(rng, batch=2, length=length, width=3, state=4)
  dy = rng.normal(size=args[0].shape)
  y = scan.selective_scan(*args, method="chunked", chunk_size=chunk_size)
  np.testing.assert_allclose(y, reference_selective(*args, False), rtol=1e-5, atol=1e-5)

  def grads(method):
    loss = lambda *a: jnp.sum(scan.selective_scan(*a, method=method, chunk_size=chunk_size) * dy)
    return jax.jit(jax.grad(loss, argnums=tuple(range(6))))(*(jnp.float32(v) for v in args))

  for got, want in zip(grads("chunked"), grads("sequential")):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)

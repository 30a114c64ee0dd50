"""The complex-gate Mamba block against complex128 numpy, its gradients, and training it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ssm_expressivity.models import mamba
from ssm_expressivity.models import tagger

D_MODEL, D_STATE, D_CONV = 8, 4, 3


def _silu(v):
  return v / (1 + np.exp(-v))


def reference_complex_block(params, x):
  """The complex-gate block step by step in float64/complex128 numpy, from the params dict."""
  p = jax.tree_util.tree_map(lambda v: np.asarray(v, np.float64), params["params"])
  x = np.asarray(x, np.float64)
  batch, length, _ = x.shape
  xz = x @ p["in_proj"]["kernel"]
  d_inner = xz.shape[-1] // 2
  u, z = xz[..., :d_inner], xz[..., d_inner:]
  kernel = p["conv1d"]["kernel"][:, 0, :]
  padded = np.concatenate([np.zeros((batch, D_CONV - 1, d_inner)), u], axis=1)
  u = _silu(np.stack([sum(kernel[j] * padded[:, t + j] for j in range(D_CONV))
                      for t in range(length)], axis=1) + p["conv1d"]["bias"])
  dbc = u @ p["x_proj"]["kernel"]
  rank = dbc.shape[-1] - 2 * D_STATE
  dt = np.logaddexp(0.0, dbc[..., :rank] @ p["dt_proj"]["kernel"] + p["dt_proj"]["bias"])
  b, c = dbc[..., rank:rank + D_STATE], dbc[..., rank + D_STATE:]
  theta = u @ p["theta_proj"]["kernel"] + p["theta_proj"]["bias"]
  c_imag = u @ p["c_imag_proj"]["kernel"]
  a_mat = -np.exp(p["A_log"])
  h = np.zeros((batch, d_inner, D_STATE), np.complex128)
  ys, gates = [], []
  for t in range(length):
    a = np.exp(dt[:, t, :, None] * a_mat) * np.exp(1j * theta[:, t, None, :])
    h = a * h + (dt[:, t] * u[:, t])[:, :, None] * b[:, t, None, :]
    y = (np.einsum("bdn,bn->bd", h.real, c[:, t]) + np.einsum("bdn,bn->bd", h.imag, c_imag[:, t])
         + p["D"] * u[:, t])
    ys.append(y)
    gates.append(a)
  y = np.stack(ys, axis=1) * _silu(z)
  return y @ p["out_proj"]["kernel"], np.stack(gates, axis=1)


def _block(scan="auto"):
  return mamba.MambaBlock(D_MODEL, d_state=D_STATE, d_conv=D_CONV, gate="complex", scan=scan,
                          chunk_size=4)


def _init(block, seed=0, length=11):
  x = jax.random.normal(jax.random.PRNGKey(seed + 100), (2, length, D_MODEL))
  params = block.init(jax.random.PRNGKey(seed), x)
  # Larger-than-init weights so that the gates rotate and the state moves.
  return jax.tree_util.tree_map(lambda v: v * 1.5, params), x


def test_complex_block_matches_complex128_reference_with_every_scan():
  blocks = [_block(m) for m in ("associative", "sequential", "chunked")]
  params, x = _init(blocks[0])
  run = jax.jit(lambda p, x: [b.apply(p, x, return_gates=True) for b in blocks])
  want_out, want_gates = reference_complex_block(params, x)
  assert np.abs(np.angle(want_gates)).max() > 1.0  # the gates really rotate
  for out, gates in run(params, x):
    assert out.dtype == jnp.float32 and gates.dtype == jnp.complex64
    np.testing.assert_allclose(out, want_out, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(gates, want_gates, rtol=2e-5, atol=2e-6)
  # Extreme inputs (same shapes, no recompilation): the gates stay in the unit disc.
  for _, gates in run(jax.tree_util.tree_map(lambda v: 2.0 * v, params), 30.0 * x):
    assert np.abs(gates).max() <= 1.0 + 1e-6 and np.abs(np.imag(gates)).max() > 0.5


def test_complex_block_gradients_match_finite_differences():
  # The derivative along a random direction in parameter space, against float64 central
  # differences of the numpy reference: checks every complex VJP on the way to real params.
  block = _block("chunked")  # the rematerializing custom VJP (scan tests cover the others)
  params, x = _init(block, seed=1, length=9)
  w = np.random.default_rng(0).normal(size=(2, 9, D_MODEL))
  grads = jax.jit(jax.grad(lambda p: jnp.sum(block.apply(p, x) * w)))(params)
  leaves, treedef = jax.tree_util.tree_flatten(params)
  rng = np.random.default_rng(1)
  direction = [rng.normal(size=np.shape(v)) for v in leaves]
  eps = 1e-6

  def ref_loss(sign):
    moved = [np.asarray(v, np.float64) + sign * eps * d for v, d in zip(leaves, direction)]
    return np.sum(reference_complex_block(jax.tree_util.tree_unflatten(treedef, moved), x)[0] * w)

  fd = (ref_loss(1) - ref_loss(-1)) / (2 * eps)
  got = sum(np.sum(np.asarray(g, np.float64) * d)
            for g, d in zip(jax.tree_util.tree_leaves(grads), direction))
  assert all(np.asarray(g).dtype == np.float32 for g in jax.tree_util.tree_leaves(grads))
  np.testing.assert_allclose(got, fd, rtol=2e-4)


def test_complex_params_extend_the_nonnegative_layout():
  def shapes(gate):
    block = mamba.MambaBlock(D_MODEL, d_state=D_STATE, gate=gate)
    params = jax.eval_shape(block.init, jax.random.PRNGKey(0), jnp.zeros((1, 5, D_MODEL)))
    return jax.tree_util.tree_map(lambda v: v.shape, params["params"])

  real, complex_ = shapes("nonnegative"), shapes("complex")
  d_inner = 2 * D_MODEL
  assert complex_ == {**real, "theta_proj": {"kernel": (d_inner, D_STATE), "bias": (D_STATE,)},
                      "c_imag_proj": {"kernel": (d_inner, D_STATE)}}


def test_complex_gate_tagger_trains_end_to_end():
  # Z4 prefix sums (a word problem of a cyclic group) from make_tagger's model config: the
  # logits are real float32 and Adam fits a fixed batch (compilation dominates the time).
  model = tagger.make_tagger({"name": "mamba", "gate": "complex", "num_layers": 1, "d_model": 16,
                              "d_state": 4, "scan": "chunked"}, vocab_size=5, num_outputs=4)
  rng = np.random.default_rng(0)
  elements = rng.integers(0, 4, size=(16, 24))
  tokens = jnp.asarray(elements + 1, jnp.int32)
  targets = jnp.asarray(np.cumsum(elements, axis=1) % 4)
  params = model.init(jax.random.PRNGKey(0), tokens)
  optimizer = optax.adam(1e-2)

  def loss_fn(params):
    logits = model.apply(params, tokens)
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean(), logits

  @jax.jit
  def step(params, opt_state):
    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, logits

  opt_state = optimizer.init(params)
  losses = []
  for _ in range(150):
    params, opt_state, loss, logits = step(params, opt_state)
    losses.append(float(loss))
  assert logits.dtype == jnp.float32 and np.all(np.isfinite(losses))
  assert losses[-1] < 0.1 * losses[0], losses[::25]
  assert np.mean(np.argmax(logits, axis=-1) == targets) > 0.95

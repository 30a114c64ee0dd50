"""Baseline stacks: transformer, LSTM, IDS4 against independent numpy references."""

from __future__ import annotations

import itertools
import math

import jax
import numpy as np
import pytest

from ssm_expressivity.models import ids4, lstm, transformer

D_MODEL = 8


def _stacks():
  return {
      "transformer_sinusoidal": transformer.TransformerStack(2, D_MODEL, num_heads=2),
      "transformer_learned": transformer.TransformerStack(2, D_MODEL, num_heads=2,
                                                          pos_encoding="learned", max_len=16),
      "transformer_none": transformer.TransformerStack(2, D_MODEL, num_heads=2,
                                                       pos_encoding="none"),
      "lstm": lstm.LSTMStack(2, D_MODEL),
      "ids4": ids4.IDS4Stack(2, D_MODEL, d_state=3, num_heads=2),
  }


def _random_inputs(seed: int, shape=(2, 12, D_MODEL)) -> np.ndarray:
  # One shape for most tests: eager JAX compiles each op once per shape.
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _perturb(params, seed: int, scale: float):
  """Adds noise to every parameter so zero-initialized biases are exercised too."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(
      lambda leaf: np.asarray(leaf) + scale * rng.normal(size=leaf.shape).astype(np.float32),
      params)


@pytest.fixture(scope="module")
def initialized():
  """name -> (stack, params with every parameter perturbed away from its init)."""
  x = _random_inputs(0)
  return {name: (stack, _perturb(stack.init(jax.random.key(0), x), 1, 0.3))
          for name, stack in _stacks().items()}


@pytest.mark.parametrize("name", sorted(_stacks()))
def test_stack_is_causal_and_shape_preserving(name, initialized):
  stack, params = initialized[name]
  x = _random_inputs(0)
  out = np.asarray(stack.apply(params, x))
  assert out.shape == x.shape and out.dtype == np.float32
  t = 6
  changed = x.copy()
  changed[:, t + 1:] = _random_inputs(1)[:, t + 1:]
  out_changed = np.asarray(stack.apply(params, changed))
  np.testing.assert_allclose(out_changed[:, :t + 1], out[:, :t + 1], rtol=1e-5, atol=1e-5)
  # The later outputs do depend on the later inputs (the check above is not vacuous).
  assert np.abs(out_changed[:, t + 1:] - out[:, t + 1:]).max() > 1e-3


def test_sinusoidal_encoding_matches_formula():
  length, d_model = 7, 6
  table = np.asarray(transformer.sinusoidal_encoding(length, d_model))
  for pos, i in itertools.product(range(length), range(d_model)):
    angle = pos / 10000 ** (2 * (i // 2) / d_model)
    expected = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    assert table[pos, i] == pytest.approx(expected, abs=1e-6)
  assert transformer.sinusoidal_encoding(4, 5).shape == (4, 5)  # odd widths work too


def test_no_positional_encoding_makes_attention_order_blind(initialized):
  """Without positions, the last output ignores the order of the earlier inputs."""
  x = _random_inputs(2)
  swapped = x[:, [1, 0, 3, 2] + list(range(4, x.shape[1]))]
  for pos_encoding in transformer.POS_ENCODINGS:
    # One layer (a deeper layer sees the earlier positions' own causal prefixes).
    stack = transformer.TransformerStack(1, D_MODEL, num_heads=2, pos_encoding=pos_encoding,
                                         max_len=16)
    two_layer_params = initialized["transformer_" + pos_encoding][1]["params"]
    params = {"params": {k: v for k, v in two_layer_params.items() if k != "layer_1"}}
    last, last_swapped = (np.asarray(stack.apply(params, inputs))[:, -1]
                          for inputs in (x, swapped))
    if pos_encoding == "none":
      np.testing.assert_allclose(last_swapped, last, rtol=1e-5, atol=1e-5)
    else:
      assert np.abs(last_swapped - last).max() > 1e-3


def test_learned_positions_are_params_and_limit_length(initialized):
  stack, params = initialized["transformer_learned"]
  x = _random_inputs(5)
  table = params["params"]["pos_embedding"]
  assert table.shape == (16, D_MODEL)
  row_4_bump = np.outer(np.arange(16) == 4, np.arange(D_MODEL) / D_MODEL)
  bumped = {"params": dict(params["params"], pos_embedding=table + row_4_bump)}
  out, out_bumped = stack.apply(params, x), stack.apply(bumped, x)
  diff = np.abs(np.asarray(out_bumped - out)).max(axis=(0, 2))
  assert np.all(diff[:4] < 1e-6) and np.all(diff[4:] > 1e-4)
  long_x = _random_inputs(6, (2, 17, D_MODEL))
  with pytest.raises(ValueError, match="max_len"):
    stack.apply(params, long_x)
  # Sinusoidal positions have no length limit, whatever max_len says.
  sinusoidal, sinusoidal_params = initialized["transformer_sinusoidal"]
  assert sinusoidal.max_len == 2048
  short = transformer.TransformerStack(2, D_MODEL, num_heads=2, max_len=16)
  assert short.apply(sinusoidal_params, long_x).shape == long_x.shape


@pytest.mark.parametrize("kwargs, match", [
    (dict(pos_encoding="rotary"), "pos_encoding"),
    (dict(num_heads=3), "divisible"),
    (dict(dropout_rate=1.5), "dropout_rate"),
    (dict(max_len=0), "max_len"),
    (dict(mlp_ratio=2.5), "mlp_ratio"),
])
def test_transformer_rejects_bad_settings(kwargs, match):
  with pytest.raises(ValueError, match=match):
    transformer.TransformerStack(1, D_MODEL, **kwargs)


def test_transformer_dropout_is_active_only_when_not_deterministic(initialized):
  _, params = initialized["transformer_sinusoidal"]
  stack = transformer.TransformerStack(2, D_MODEL, num_heads=2, dropout_rate=0.5)
  x = _random_inputs(8)
  quiet = np.asarray(stack.apply(params, x))
  noisy = [np.asarray(stack.apply(params, x, deterministic=False,
                                  rngs={"dropout": jax.random.key(s)})) for s in (1, 2)]
  np.testing.assert_array_equal(quiet, np.asarray(stack.apply(params, x, deterministic=True)))
  assert np.abs(noisy[0] - noisy[1]).max() > 1e-3


def _sigmoid(z):
  return 1.0 / (1.0 + np.exp(-z))


def _numpy_lstm(params, x):
  """Float64 step loop of stacked LSTMs (gates i, f, g, o; c = f c + i g; h = o tanh c)."""
  x = np.asarray(x, np.float64)
  for i in itertools.count():
    layer = params.get(f"lstm_{i}")
    if layer is None:
      return x
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), layer)
    batch, length, _ = x.shape
    width = p["hi"]["kernel"].shape[0]
    h, c = np.zeros((batch, width)), np.zeros((batch, width))
    out = np.zeros((batch, length, width))
    for t in range(length):
      pre = {k: x[:, t] @ p["i" + k]["kernel"] + h @ p["h" + k]["kernel"] + p["h" + k]["bias"]
             for k in "ifgo"}
      c = _sigmoid(pre["f"]) * c + _sigmoid(pre["i"]) * np.tanh(pre["g"])
      h = _sigmoid(pre["o"]) * np.tanh(c)
      out[:, t] = h
    x = out


def test_lstm_matches_numpy_step_loop(initialized):
  stack, params = initialized["lstm"]
  x = _random_inputs(9)
  np.testing.assert_allclose(np.asarray(stack.apply(params, x)),
                             _numpy_lstm(params["params"], x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("num_layers, d_model", [(0, 4), (1, -2), (1, 2.5)])
def test_lstm_rejects_bad_sizes(num_layers, d_model):
  with pytest.raises(ValueError, match="positive integer"):
    lstm.LSTMStack(num_layers, d_model)


def _numpy_matrix_loop(a, b, h0=None):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  h = np.zeros_like(b[:, 0]) if h0 is None else np.asarray(h0, np.float64)
  out = np.zeros_like(b)
  for t in range(a.shape[1]):
    h = np.einsum("...ij,...j->...i", a[:, t], h) if b.ndim == a.ndim - 1 else a[:, t] @ h
    h = h + b[:, t]
    out[:, t] = h
  return out


@pytest.mark.parametrize("vector_state", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_matrix_recurrence_matches_numpy_loop(vector_state, with_h0):
  rng = np.random.default_rng(10)
  batch, length, heads, n = 2, 33, 2, 4
  # Entries ~ N(0, 1/n): products neither vanish nor explode over the length.
  a = (rng.normal(size=(batch, length, heads, n, n)) / np.sqrt(n)).astype(np.float32)
  b_shape = (batch, length, heads, n) if vector_state else (batch, length, heads, n, 3)
  b = rng.normal(size=b_shape).astype(np.float32)
  h0 = rng.normal(size=b_shape[:1] + b_shape[2:]).astype(np.float32) if with_h0 else None
  got = np.asarray(ids4.matrix_recurrence(a, b, h0))
  want = _numpy_matrix_loop(a, b, h0)
  assert got.shape == b.shape
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_matrix_recurrence_rejects_mismatched_shapes():
  with pytest.raises(ValueError, match="matching"):
    ids4.matrix_recurrence(np.zeros((1, 3, 2, 2)), np.zeros((1, 4, 2)))
  with pytest.raises(ValueError, match="h0"):
    ids4.matrix_recurrence(np.zeros((1, 3, 2, 2)), np.zeros((1, 3, 2)), h0=np.zeros((1, 3)))


def _numpy_rms_norm(x, scale, eps=1e-5):
  return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * scale


def _numpy_ids4(params, x, d_state, num_heads):
  """Float64 step loop of the IDS4 stack: x += C vec(H_t) + D x_n, H_t = A H_{t-1} + B."""
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  x = np.asarray(x, np.float64)
  batch, length, _ = x.shape
  shape = (batch, num_heads, d_state, d_state)
  for i in itertools.count():
    if f"layer_{i}" not in p:
      return _numpy_rms_norm(x, p["final_norm"]["scale"])
    layer = p[f"layer_{i}"]
    xn = _numpy_rms_norm(x, p[f"norm_{i}"]["scale"])
    h = np.zeros(shape)
    y = np.zeros_like(x)
    for t in range(length):
      a = (xn[:, t] @ layer["A_proj"]["kernel"] + layer["A_proj"]["bias"]).reshape(shape)
      b = (xn[:, t] @ layer["B_proj"]["kernel"] + layer["B_proj"]["bias"]).reshape(shape)
      h = np.einsum("bgij,bgjk->bgik", a, h) + b
      y[:, t] = (h.reshape(batch, -1) @ layer["C_proj"]["kernel"] + layer["C_proj"]["bias"]
                 + layer["D"] * xn[:, t])
    x = x + y


def test_ids4_stack_matches_numpy_step_loop(initialized):
  # The perturbation puts A(x) far from the identity, so the product order matters.
  stack, params = initialized["ids4"]
  x = _random_inputs(11)
  np.testing.assert_allclose(np.asarray(stack.apply(params, x)),
                             _numpy_ids4(params["params"], x, 3, 2), rtol=1e-4, atol=1e-4)


def _permutation_matrix(perm) -> np.ndarray:
  """P with P e_i = e_{perm[i]}."""
  matrix = np.zeros((len(perm), len(perm)), np.float32)
  matrix[list(perm), range(len(perm))] = 1.0
  return matrix


def test_ids4_block_tracks_permutation_products_exactly():
  """Hand-set A(x) = permutation matrices: one layer holds the running product of S5."""
  perms = list(itertools.permutations(range(5)))
  vocab = 1 + len(perms)  # token 0 starts the word: A = 0, B = I
  n = 5
  a_kernel = np.zeros((vocab, n * n), np.float32)
  b_kernel = np.zeros((vocab, n * n), np.float32)
  for token, perm in enumerate(perms, start=1):
    a_kernel[token] = _permutation_matrix(perm).ravel()
  b_kernel[0] = np.eye(n, dtype=np.float32).ravel()
  block = ids4.IDS4Block(d_model=vocab, d_state=n)
  dummy = np.zeros((1, 1, vocab), np.float32)
  params = block.init(jax.random.key(0), dummy)["params"]
  params = dict(params, A_proj={"kernel": a_kernel, "bias": np.zeros(n * n, np.float32)},
                B_proj={"kernel": b_kernel, "bias": np.zeros(n * n, np.float32)})
  rng = np.random.default_rng(12)
  length = 400
  tokens = np.concatenate([[0], rng.integers(1, vocab, size=length)])
  x = np.eye(vocab, dtype=np.float32)[tokens][None]
  _, states = block.apply({"params": params}, x, return_state=True)
  states = np.asarray(states)[0, :, 0]  # [length + 1, n, n], one head
  # Oracle: compose the permutations as index maps, newest applied last.
  running = np.arange(n)
  np.testing.assert_array_equal(states[0], np.eye(n))
  for t, token in enumerate(tokens[1:], start=1):
    running = np.asarray(perms[token - 1])[running]
    np.testing.assert_array_equal(states[t], _permutation_matrix(running))


@pytest.mark.parametrize("field", ["num_layers", "d_model", "d_state", "num_heads"])
def test_ids4_rejects_bad_sizes(field):
  kwargs = dict(num_layers=1, d_model=4, d_state=2, num_heads=1)
  kwargs[field] = 0
  with pytest.raises(ValueError, match=field):
    ids4.IDS4Stack(**kwargs)

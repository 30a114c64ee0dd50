"""DiagonalSSM with the complex gate against a complex128 step-by-step numpy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssm_expressivity.models import diagonal_ssm


def _model(scan="sequential", vocab=4):
  return diagonal_ssm.DiagonalSSM(
      vocab_size=vocab, state_dims=(3, 2), phi_features=((5, 4), (3,)), num_outputs=2,
      phi_activations=(("relu", "step"), ("step",)), scan=scan, gate="complex")


def _random_params(model, seed):
  params = jax.tree.map(np.asarray, model.init(jax.random.PRNGKey(seed),
                                                jnp.zeros((1, 3), jnp.int32)))
  rng = np.random.default_rng(seed)
  for l in range(len(model.state_dims)):
    layer = params["params"][f"layer_{l}"]
    # Gates in the unit disc with every phase, and a nonzero complex h0.
    for part in ("gate", "gate_imag"):
      layer[part]["kernel"] = rng.uniform(-0.35, 0.35, layer[part]["kernel"].shape)
      layer[part]["bias"] = rng.uniform(-0.25, 0.25, layer[part]["bias"].shape)
    for part in ("h0", "h0_imag"):
      layer[part] = rng.normal(size=layer[part].shape)
  return jax.tree.map(lambda x: np.asarray(x, np.float32), params)


def _reference(model, params, tokens):
  """complex128, step by step: (per-layer states, phi pre-activations, scores)."""
  tree = jax.tree.map(lambda x: np.asarray(x, np.float64), params)["params"]
  symbols = np.eye(model.vocab_size)[tokens]
  affine = lambda x, p: x @ p["kernel"] + p["bias"]
  x, states, pre = symbols, [], []
  for l, features in enumerate(model.phi_features):
    layer = tree[f"layer_{l}"]
    a = affine(x, layer["gate"]) + 1j * affine(x, layer["gate_imag"])
    b = affine(x, layer["drive"]) + 1j * affine(x, layer["drive_imag"])
    h, hs = layer["h0"] + 1j * layer["h0_imag"], []
    for t in range(len(tokens)):
      h = a[t] * h + b[t]
      hs.append(h)
    hs = np.array(hs)
    states.append(hs)
    u = hs / np.abs(hs)
    v = np.concatenate([hs.real, hs.imag, u.real, u.imag, x], axis=-1)
    for i, activation in enumerate(model.phi_activations[l][:len(features)]):
      w = v @ layer[f"phi_{i}"]["kernel"] + layer[f"phi_{i}"]["bias"]
      pre.append(w)
      v = (w > 0).astype(float) if activation == "step" else np.maximum(w, 0)
    x = np.concatenate([symbols, v], axis=-1)
  return states, pre, v @ tree["head"]["kernel"] + tree["head"]["bias"]


@pytest.mark.parametrize("scan", ["sequential", "associative", "chunked"])
def test_complex_layers_match_complex128_reference(scan):
  model = _model(scan)
  params = _random_params(model, seed=3)
  tokens = np.random.default_rng(0).integers(1, 4, 100)
  scores, states = jax.jit(lambda p, t: model.apply(p, t, return_states=True))(
      params, jnp.asarray(tokens[None]))
  assert scores.dtype == jnp.float32
  ref_states, ref_pre, ref_scores = _reference(model, params, tokens)
  for got, want in zip(states, ref_states):
    assert got.dtype == jnp.complex64
    np.testing.assert_allclose(np.asarray(got[0]), want, rtol=1e-4, atol=1e-4)
  # Step units may flip only where the reference pre-activation is within round-off of 0.
  robust = np.all(np.concatenate([np.abs(p) > 1e-3 for p in ref_pre], axis=-1), axis=-1)
  assert robust.mean() > 0.5
  np.testing.assert_allclose(np.asarray(scores[0])[robust], ref_scores[robust], atol=1e-4)


def test_complex_params_and_gate_checks():
  model = _model()
  params = _random_params(model, seed=1)
  layer = params["params"]["layer_0"]
  assert {"gate", "gate_imag", "drive", "drive_imag", "h0", "h0_imag"} <= set(layer)
  # phi reads [Re h, Im h, Re u, Im u, x]: 4 x state_dim + the layer input.
  assert layer["phi_0"]["kernel"].shape[0] == 4 * 3 + model.vocab_size
  assert not diagonal_ssm.nonnegative_gates(model, params)
  for l in range(2):
    tree = params["params"][f"layer_{l}"]
    tree["gate"]["kernel"] = np.abs(tree["gate"]["kernel"])
    tree["gate"]["bias"] = np.zeros_like(tree["gate"]["bias"])
  assert not diagonal_ssm.nonnegative_gates(model, params)  # the imaginary parts are not 0
  for l in range(2):
    tree = params["params"][f"layer_{l}"]["gate_imag"]
    tree["kernel"], tree["bias"] = np.zeros_like(tree["kernel"]), np.zeros_like(tree["bias"])
  assert diagonal_ssm.nonnegative_gates(model, params)
  assert not diagonal_ssm.time_invariant_gates(model, params)


def test_unit_phase_has_finite_gradients_at_zero():
  h = jnp.array([0j, 3 + 4j], jnp.complex64)
  np.testing.assert_allclose(diagonal_ssm.unit_phase(h), [0, 0.6 + 0.8j], rtol=1e-6)
  grad = jax.grad(lambda h: jnp.sum(jnp.real(diagonal_ssm.unit_phase(h))))(h)
  assert np.all(np.isfinite(np.asarray(grad)))


def test_unknown_gate_lists_the_valid_ones():
  model = diagonal_ssm.DiagonalSSM(vocab_size=3, state_dims=(1,), phi_features=((2,),),
                                   num_outputs=2, gate="rotary")
  with pytest.raises(ValueError, match="real, complex"):
    model.init(jax.random.PRNGKey(0), jnp.zeros((1, 5), jnp.int32))

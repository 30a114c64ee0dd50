"""DiagonalSSM: the recurrence against a float64 reference, the NONNEGATIVE check by brute force."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssm_expressivity.models import diagonal_ssm


def _model(scan="sequential", vocab=4):
  return diagonal_ssm.DiagonalSSM(
      vocab_size=vocab, state_dims=(3, 2), phi_features=((5, 4), (3,)), num_outputs=2,
      phi_activations=(("relu", "step"), ("step",)), scan=scan)


def _random_params(model, seed):
  params = jax.tree.map(np.asarray, model.init(jax.random.PRNGKey(seed),
                                                jnp.zeros((1, 3), jnp.int32)))
  rng = np.random.default_rng(seed)
  for l in range(len(model.state_dims)):
    layer = params["params"][f"layer_{l}"]
    # Signed gates in [-1, 1] and a nonzero h0, so that every term of the recurrence matters.
    layer["gate"]["kernel"] = rng.uniform(-0.5, 0.5, layer["gate"]["kernel"].shape)
    layer["gate"]["bias"] = rng.uniform(-0.4, 0.4, layer["gate"]["bias"].shape)
    layer["h0"] = rng.normal(size=layer["h0"].shape)
  return jax.tree.map(lambda x: np.asarray(x, np.float32), params)


def _reference(model, params, tokens):
  """float64, step by step: (per-layer states, per-layer phi pre-activations, scores)."""
  tree = jax.tree.map(lambda x: np.asarray(x, np.float64), params)["params"]
  symbols = np.eye(model.vocab_size)[tokens]
  x, states, pre = symbols, [], []
  for l, features in enumerate(model.phi_features):
    layer = tree[f"layer_{l}"]
    a = x @ layer["gate"]["kernel"] + layer["gate"]["bias"]
    b = x @ layer["drive"]["kernel"] + layer["drive"]["bias"]
    h, hs = layer["h0"], []
    for t in range(len(tokens)):
      h = a[t] * h + b[t]
      hs.append(h)
    hs = np.array(hs).reshape(len(tokens), -1)
    states.append(hs)
    v = np.concatenate([hs, x], axis=-1)
    activations = model.phi_activations[l]
    for i in range(len(features)):
      u = v @ layer[f"phi_{i}"]["kernel"] + layer[f"phi_{i}"]["bias"]
      pre.append(u)
      v = (u > 0).astype(float) if activations[i] == "step" else np.maximum(u, 0)
    x = np.concatenate([symbols, v], axis=-1)
  scores = v @ tree["head"]["kernel"] + tree["head"]["bias"]
  return states, pre, scores


@pytest.mark.parametrize("scan", ["sequential", "associative"])
def test_recurrence_matches_float64_reference(scan):
  model = _model(scan)
  params = _random_params(model, seed=3)
  tokens = np.random.default_rng(0).integers(1, 4, 100)
  apply = jax.jit(lambda p, t: model.apply(p, t, return_states=True))
  scores, states = apply(params, jnp.asarray(tokens[None]))
  ref_states, ref_pre, ref_scores = _reference(model, params, tokens)
  for got, want in zip(states, ref_states):
    np.testing.assert_allclose(np.asarray(got[0]), want, rtol=1e-4, atol=1e-4)
  # Step units may flip only where the float64 pre-activation is within round-off of 0.
  robust = np.all(np.concatenate([np.abs(p) > 1e-3 for p in ref_pre], axis=-1), axis=-1)
  assert robust.mean() > 0.5
  np.testing.assert_allclose(np.asarray(scores[0])[robust], ref_scores[robust], atol=1e-4)


def test_zero_state_layer_is_positionwise():
  model = diagonal_ssm.DiagonalSSM(vocab_size=3, state_dims=(0,), phi_features=((2,),),
                                   num_outputs=2)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 5), jnp.int32))
  tokens = jnp.array([[1, 2, 2, 1, 1]])
  scores, states = model.apply(params, tokens, return_states=True)
  assert states[0].shape == (1, 5, 0)
  # No state: equal symbols give equal outputs wherever they occur.
  np.testing.assert_array_equal(scores[0, 0], scores[0, 3])
  np.testing.assert_array_equal(scores[0, 1], scores[0, 2])


def test_gate_lower_bounds_equal_brute_force_minimum():
  model = _model()
  params = _random_params(model, seed=5)
  bounds = diagonal_ssm.gate_lower_bounds(model, params)
  tree = params["params"]
  dims = diagonal_ssm.layer_input_dims(model)
  for l, bound in enumerate(bounds):
    gate = tree[f"layer_{l}"]["gate"]
    extra = dims[l] - model.vocab_size
    values = []
    for symbol in range(model.vocab_size):
      for z in itertools.product((0.0, 1.0), repeat=extra):
        x = np.concatenate([np.eye(model.vocab_size)[symbol], z])
        values.append(x @ gate["kernel"].astype(np.float64) + gate["bias"])
    np.testing.assert_allclose(bound, np.min(values, axis=0), atol=1e-6)


def test_nonnegative_and_time_invariant_checks():
  model = _model()
  params = _random_params(model, seed=1)
  tree = params["params"]
  for l in range(2):
    tree[f"layer_{l}"]["gate"]["kernel"] = np.abs(tree[f"layer_{l}"]["gate"]["kernel"])
    tree[f"layer_{l}"]["gate"]["bias"] = np.zeros_like(tree[f"layer_{l}"]["gate"]["bias"])
  assert diagonal_ssm.nonnegative_gates(model, params)
  assert not diagonal_ssm.time_invariant_gates(model, params)
  # One negative entry in a z row of layer 2 is reachable (z = that unit on): not NONNEGATIVE.
  tree["layer_1"]["gate"]["kernel"][model.vocab_size + 1, 0] = -5.0
  assert not diagonal_ssm.nonnegative_gates(model, params)
  for l in range(2):
    tree[f"layer_{l}"]["gate"]["kernel"] = np.zeros_like(tree[f"layer_{l}"]["gate"]["kernel"])
    tree[f"layer_{l}"]["gate"]["bias"] = -np.ones_like(tree[f"layer_{l}"]["gate"]["bias"])
  assert diagonal_ssm.time_invariant_gates(model, params)
  assert not diagonal_ssm.nonnegative_gates(model, params)


@pytest.mark.parametrize("kwargs, message", [
    (dict(state_dims=(2,), phi_features=((3,),), phi_activations=(("relu",),)), "last phi"),
    (dict(state_dims=(2,), phi_features=((3,),), phi_activations=(("tanh",),)), "unknown"),
    (dict(state_dims=(2, 2), phi_features=((3,),)), "one entry per layer"),
    (dict(state_dims=(-1,), phi_features=((3,),)), "state_dim"),
    (dict(state_dims=(2,), phi_features=((),)), "phi_features"),
])
def test_bad_specs_raise(kwargs, message):
  model = diagonal_ssm.DiagonalSSM(vocab_size=3, num_outputs=2, **kwargs)
  with pytest.raises(ValueError, match=message):
    model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3), jnp.int32))

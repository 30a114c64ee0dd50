"""MambaBlock / MambaStack against an independent float64 numpy implementation, and contracts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssm_expressivity.models import mamba

D_MODEL, D_STATE, D_CONV = 8, 4, 3


def _silu(v):
  return v / (1 + np.exp(-v))


def _softplus(v):
  return np.logaddexp(0.0, v)


def reference_block(params, x, gate, d_conv=D_CONV):
  """Mamba-1 block, step by step in float64 numpy, from the params dict."""
  p = jax.tree_util.tree_map(lambda v: np.asarray(v, np.float64), params["params"])
  x = np.asarray(x, np.float64)
  batch, length, _ = x.shape
  xz = x @ p["in_proj"]["kernel"]
  d_inner = xz.shape[-1] // 2
  u, z = xz[..., :d_inner], xz[..., d_inner:]
  kernel = p["conv1d"]["kernel"][:, 0, :]  # [d_conv, d_inner]
  padded = np.concatenate([np.zeros((batch, d_conv - 1, d_inner)), u], axis=1)
  conv = np.stack([sum(kernel[j] * padded[:, t + j] for j in range(d_conv))
                   for t in range(length)], axis=1) + p["conv1d"]["bias"]
  u = _silu(conv)
  a_mat = -np.exp(p["A_log"])
  d_state = a_mat.shape[1]
  if gate == "time_invariant":
    c = u @ p["x_proj"]["kernel"]
    dt = np.broadcast_to(_softplus(p["dt_proj"]["bias"]), (batch, length, d_inner))
    b = np.broadcast_to(p["B"], (batch, length, d_state))
  else:
    dbc = u @ p["x_proj"]["kernel"]
    rank = dbc.shape[-1] - 2 * d_state
    dt = _softplus(dbc[..., :rank] @ p["dt_proj"]["kernel"] + p["dt_proj"]["bias"])
    b, c = dbc[..., rank:rank + d_state], dbc[..., rank + d_state:]
  h = np.zeros((batch, d_inner, d_state))
  ys, gates = [], []
  for t in range(length):
    a = np.exp(dt[:, t, :, None] * a_mat)
    if gate == "signed":
      a = 2 * a - 1
    h = a * h + (dt[:, t] * u[:, t])[:, :, None] * b[:, t, None, :]
    ys.append(np.einsum("bdn,bn->bd", h, c[:, t]) + p["D"] * u[:, t])
    gates.append(a)
  y = np.stack(ys, axis=1) * _silu(z)
  return y @ p["out_proj"]["kernel"], np.stack(gates, axis=1)


def _block(gate="nonnegative", scan="auto", **kw):
  return mamba.MambaBlock(D_MODEL, d_state=D_STATE, d_conv=D_CONV, gate=gate, scan=scan,
                          chunk_size=4, **kw)


def _init(block, seed=0, length=11):
  x = jax.random.normal(jax.random.PRNGKey(seed + 100), (2, length, D_MODEL))
  params = block.init(jax.random.PRNGKey(seed), x)
  # Larger-than-init weights so the gates and the state actually move.
  params = jax.tree_util.tree_map(lambda v: v * 1.5, params)
  return params, x


# (the complex gate has its own complex128 reference in test_mamba_complex.py)
@pytest.mark.parametrize("gate", [g for g in mamba.GATES if g != "complex"])
def test_block_matches_float64_step_by_step_reference_with_every_scan(gate):
  blocks = [_block(gate, method) for method in ("associative", "sequential", "chunked")]
  params, x = _init(blocks[0])
  results = jax.jit(lambda p, x: [b.apply(p, x, return_gates=True) for b in blocks])(params, x)
  want_out, want_gates = reference_block(params, x, gate)
  for out, gates in results:
    np.testing.assert_allclose(out, want_out, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(gates, want_gates, rtol=2e-5, atol=2e-6)


def test_every_scan_method_gives_the_same_gradients():
  results = []
  for method in ("associative", "sequential", "chunked"):
    block = _block("signed", method)
    params, x = _init(block, seed=1, length=13)
    loss = lambda p, x, block=block: jnp.sum(block.apply(p, x) ** 2)
    results.append(jax.jit(jax.grad(loss))(params, x))

  def close(g, g0):
    np.testing.assert_allclose(g, g0, rtol=1e-4, atol=1e-5 * np.abs(np.asarray(g0)).max())

  for grads in results[1:]:
    jax.tree_util.tree_map(close, grads, results[0])


def test_block_is_causal():
  block = _block("signed", "chunked")
  params, x = _init(block, seed=2, length=12)
  changed = x.at[:, 7:].set(jax.random.normal(jax.random.PRNGKey(9), (2, 5, D_MODEL)))
  apply = jax.jit(block.apply)
  out, out_changed = apply(params, x), apply(params, changed)
  np.testing.assert_allclose(out[:, :7], out_changed[:, :7], rtol=0, atol=1e-6)
  assert np.abs(np.asarray(out[:, 7:] - out_changed[:, 7:])).max() > 1e-3


def test_gate_ranges_hold_for_extreme_inputs():
  x = 30.0 * jax.random.normal(jax.random.PRNGKey(3), (2, 16, D_MODEL))
  for gate in ("nonnegative", "signed"):
    block = _block(gate)
    params = block.init(jax.random.PRNGKey(4), x)
    params = jax.tree_util.tree_map(lambda v: v * 3.0, params)
    a = np.asarray(mamba.gates(block, params, x))
    if gate == "nonnegative":
      assert a.min() >= 0.0 and a.max() <= 1.0
    else:
      assert a.min() >= -1.0 and a.max() <= 1.0 and a.min() < 0.0


def test_time_invariant_gate_does_not_depend_on_the_input():
  block = _block("time_invariant")
  params, x = _init(block, seed=5)
  gates = jax.jit(lambda p, x: mamba.gates(block, p, x))
  a1, a2 = gates(params, x), gates(params, -3.0 * x[:, ::-1])
  np.testing.assert_array_equal(a1, a2)


def test_param_keys_shapes_and_init():
  d_model, d_state, d_conv, expand = 32, 16, 4, 2
  block = mamba.MambaBlock(d_model, d_state=d_state, d_conv=d_conv, expand=expand)
  params = block.init(jax.random.PRNGKey(0), jnp.zeros((1, 5, d_model)))["params"]
  d_inner, rank = expand * d_model, 2  # dt_rank "auto" = ceil(32 / 16)
  shapes = jax.tree_util.tree_map(lambda v: v.shape, params)
  assert shapes == {
      "in_proj": {"kernel": (d_model, 2 * d_inner)},
      "conv1d": {"kernel": (d_conv, 1, d_inner), "bias": (d_inner,)},
      "x_proj": {"kernel": (d_inner, rank + 2 * d_state)},
      "dt_proj": {"kernel": (rank, d_inner), "bias": (d_inner,)},
      "A_log": (d_inner, d_state),
      "D": (d_inner,),
      "out_proj": {"kernel": (d_inner, d_model)},
  }
  assert all(v.dtype == jnp.float32 for v in jax.tree_util.tree_leaves(params))
  np.testing.assert_allclose(np.exp(params["A_log"]), np.tile(np.arange(1, 17), (d_inner, 1)),
                             rtol=1e-6)
  np.testing.assert_array_equal(params["D"], np.ones(d_inner))
  dt = np.asarray(jax.nn.softplus(params["dt_proj"]["bias"]))
  assert dt.min() >= 1e-3 * (1 - 1e-4) and dt.max() <= 1e-1 * (1 + 1e-4)
  assert np.abs(params["dt_proj"]["kernel"]).max() <= rank ** -0.5


def test_bfloat16_compute_stays_close_with_float32_params():
  block32 = _block()
  block16 = _block(compute_dtype=jnp.bfloat16)
  params, x = _init(block32, seed=6)
  out32, out16 = block32.apply(params, x), block16.apply(params, x)
  assert out16.dtype == jnp.float32
  scale = np.abs(np.asarray(out32)).max()
  assert np.abs(np.asarray(out16 - out32)).max() < 0.05 * scale


def _torch_state_dict(params, prefix=""):
  """A reference-style state dict built from our params by transposition alone."""
  p = jax.tree_util.tree_map(np.asarray, params["params"])
  sd = {f"{m}.weight": p[m]["kernel"].T for m in ("in_proj", "x_proj", "dt_proj", "out_proj")}
  sd.update({"dt_proj.bias": p["dt_proj"]["bias"], "conv1d.weight": p["conv1d"]["kernel"].T,
             "conv1d.bias": p["conv1d"]["bias"], "A_log": p["A_log"], "D": p["D"]})
  return {prefix + k: v for k, v in sd.items()}


def test_params_from_torch_state_dict_round_trips():
  block = _block()
  params, x = _init(block, seed=7)
  sd = _torch_state_dict(params, "layers.0.mixer.")
  assert sd["layers.0.mixer.conv1d.weight"].shape == (2 * D_MODEL, 1, D_CONV)
  loaded = mamba.params_from_torch_state_dict(sd, "layers.0.mixer.")
  jax.tree_util.tree_map(np.testing.assert_array_equal, loaded, params)
  del sd["layers.0.mixer.D"]
  with pytest.raises(ValueError, match="missing"):
    mamba.params_from_torch_state_dict(sd, "layers.0.mixer.")


def test_stack_structure_and_loader():
  stack = mamba.MambaStack(2, D_MODEL, d_state=D_STATE, d_conv=D_CONV)
  x = jax.random.normal(jax.random.PRNGKey(8), (2, 6, D_MODEL))
  params = stack.init(jax.random.PRNGKey(0), x)
  assert set(params["params"]) == {"layers_0", "layers_1", "norm_f"}
  assert set(params["params"]["layers_1"]) == {"norm", "mixer"}
  out = stack.apply(params, x)
  assert out.shape == x.shape
  np.testing.assert_allclose(np.mean(np.asarray(out) ** 2, -1), 1.0, rtol=1e-3)  # final RMSNorm
  sd = {}
  for i in range(2):
    layer = params["params"][f"layers_{i}"]
    sd.update(_torch_state_dict({"params": layer["mixer"]}, f"layers.{i}.mixer."))
    sd[f"layers.{i}.norm.weight"] = np.asarray(layer["norm"]["scale"])
  sd["norm_f.weight"] = np.asarray(params["params"]["norm_f"]["scale"])
  loaded = mamba.stack_params_from_torch_state_dict(sd, 2)
  jax.tree_util.tree_map(np.testing.assert_array_equal, loaded, params)


def test_matches_mambapy_when_installed():
  torch = pytest.importorskip("torch")
  mambapy_mamba = pytest.importorskip("mambapy.mamba")
  torch.manual_seed(0)
  ref = mambapy_mamba.Mamba(mambapy_mamba.MambaConfig(d_model=16, n_layers=1, d_state=8))
  sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
  x = np.random.default_rng(0).normal(size=(2, 9, 16)).astype(np.float32)
  with torch.no_grad():
    want = ref.layers[0].mixer(torch.from_numpy(x)).numpy()
  params = mamba.params_from_torch_state_dict(sd, "layers.0.mixer.")
  got = mamba.MambaBlock(16, d_state=8).apply(params, x)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_bad_options_raise_value_error():
  x = jnp.zeros((1, 3, D_MODEL))
  with pytest.raises(ValueError, match="nonnegative, signed, time_invariant"):
    _block(gate="positive").init(jax.random.PRNGKey(0), x)
  with pytest.raises(ValueError, match="associative, sequential, chunked, native, auto"):
    _block(scan="fft").init(jax.random.PRNGKey(0), x)
  with pytest.raises(ValueError, match="d_model"):
    _block().init(jax.random.PRNGKey(0), jnp.zeros((1, 3, D_MODEL + 1)))
  with pytest.raises(ValueError, match="dt_rank"):
    _block(dt_rank=0).init(jax.random.PRNGKey(0), x)

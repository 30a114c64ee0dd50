"""The Mamba-1 block (Gu and Dao, 2023) in Flax linen, with gate variants, and a residual stack.

Block, for x [batch, length, d_model]:
  x_in, z = split(in_proj(x))                        d_inner = expand * d_model each
  u = SiLU(causal depthwise conv1d(x_in))
  dt_low, B, C = split(x_proj(u))                    dt_rank, d_state, d_state
  dt = softplus(dt_proj(dt_low))                     [batch, length, d_inner]
  h_t = a_t * h_{t-1} + dt_t B_t u_t                 ZOH for A, Euler for B
  y = (C_t . h_t) + D * u, gated by SiLU(z), then out_proj.
Gates (`gate=`):
  "nonnegative"     a = exp(dt * A), A = -exp(A_log): in (0, 1], Mamba's own (NONNEGATIVE).
  "signed"          a = 2 * exp(dt * A) - 1: in (-1, 1] (Grazzi et al. 2024).
  "time_invariant"  a = exp(dt * A) with dt = softplus(dt_proj.bias) a learned per-channel
                    constant, and B a learned [d_state] vector shared by the channels (as Mamba
                    shares its input-dependent B), so neither A nor B depends on the input (an
                    S4D-like layer). C stays input dependent (x_proj maps u to C alone): it only
                    reads the state out, the position-wise map phi(h_t, x_t) of the paper.
                    Params: in_proj, conv1d, x_proj (kernel [d_inner, d_state]), dt_proj (bias
                    only), B, A_log, D, out_proj.
  "complex"         a = exp(dt * A) * exp(i theta_t), theta_t = theta_proj(u_t) [d_state], the
                    state complex64 and y = C_t . Re h_t + C'_t . Im h_t (see
                    `complex_recurrence`). Params: those of "nonnegative", plus theta_proj
                    (kernel [d_inner, d_state], bias) and c_imag_proj (kernel [d_inner, d_state]).
Parameter names and shapes map one-to-one onto the reference PyTorch Mamba (see
`params_from_torch_state_dict`); params are float32, `compute_dtype` sets the matmul dtype and
the scan always runs in float32.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ssm_expressivity.models import scan as scan_lib

GATES = ("nonnegative", "signed", "time_invariant", "complex")


def resolve_dt_rank(dt_rank: int | str, d_model: int) -> int:
  """`dt_rank`, with "auto" = ceil(d_model / 16) as in the reference implementation."""
  if dt_rank == "auto":
    return math.ceil(d_model / 16)
  if isinstance(dt_rank, bool) or not isinstance(dt_rank, int) or dt_rank < 1:
    raise ValueError(f"dt_rank must be 'auto' or a positive int, got {dt_rank!r}")
  return dt_rank


def _check_positive(**values: Any) -> None:
  for name, value in values.items():
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
      raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_options(gate: str, scan: str) -> None:
  if gate not in GATES:
    raise ValueError(f"unknown gate {gate!r}; valid: {', '.join(GATES)}")
  if scan not in scan_lib.SCAN_METHODS:
    raise ValueError(f"unknown scan method {scan!r}; valid: {', '.join(scan_lib.SCAN_METHODS)}")


def a_log_init(unused_key, shape, dtype=jnp.float32):
  """S4D-real initialization: A_log[d, n] = log(n + 1), so A = -(1, 2, ..., d_state)."""
  d_inner, d_state = shape
  return jnp.log(jnp.tile(jnp.arange(1, d_state + 1, dtype=dtype), (d_inner, 1)))


def dt_bias_init(dt_min: float = 1e-3, dt_max: float = 1e-1, floor: float = 1e-4):
  """Bias whose softplus is a log-uniform draw of dt in [dt_min, dt_max] (clamped at floor)."""

  def init(key, shape, dtype=jnp.float32):
    u = jax.random.uniform(key, shape, jnp.float32)
    dt = jnp.exp(u * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = jnp.maximum(dt, floor)
    # Inverse of softplus: dt + log(1 - exp(-dt)).
    return (dt + jnp.log(-jnp.expm1(-dt))).astype(dtype)

  return init


def _uniform(low: float, high: float):
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, low, high)
  return init


class CausalDepthwiseConv(nn.Module):
  """Causal depthwise conv over axis 1: out_t = bias + sum_j kernel[j, 0] * x_{t - (K-1) + j}.

  Same params ("kernel" [K, 1, C], "bias" [C]) and init as `nn.Conv(C, (K,),
  feature_group_count=C, padding=[(K - 1, 0)])`, computed as K shifted multiply-adds: XLA's
  grouped convolution is about 20x slower on the CPU (forward+backward).
  """
  kernel_size: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels, length = x.shape[-1], x.shape[-2]
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (self.kernel_size, 1, channels), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (channels,), jnp.float32)
    x, kernel, bias = (v.astype(self.dtype) for v in (x, kernel, bias))
    padded = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(self.kernel_size - 1, 0), (0, 0)])
    out = bias
    for j in range(self.kernel_size):
      out = out + kernel[j, 0] * padded[..., j:j + length, :]
    return out


class _Bias(nn.Module):
  """A lone bias vector (the time-invariant block's `dt_proj`)."""
  features: int
  bias_init: Any

  @nn.compact
  def __call__(self) -> jax.Array:
    return self.param("bias", self.bias_init, (self.features,), jnp.float32)


class MambaBlock(nn.Module):
  """Mamba-1 mixer: [batch, length, d_model] -> [batch, length, d_model]."""
  d_model: int
  d_state: int = 16
  d_conv: int = 4
  expand: int = 2
  dt_rank: int | str = "auto"
  gate: str = "nonnegative"
  scan: str = "auto"
  compute_dtype: Any = jnp.float32
  chunk_size: int = scan_lib.DEFAULT_CHUNK_SIZE
  dt_min: float = 1e-3
  dt_max: float = 1e-1
  dt_init_floor: float = 1e-4

  @property
  def d_inner(self) -> int:
    return self.expand * self.d_model

  @nn.compact
  def __call__(self, x: jax.Array, return_gates: bool = False):
    """The block's output; with `return_gates`, also the gate a [batch, length, d_inner, N]."""
    _check_positive(d_model=self.d_model, d_state=self.d_state, d_conv=self.d_conv,
                    expand=self.expand)
    _check_options(self.gate, self.scan)
    dt_rank = resolve_dt_rank(self.dt_rank, self.d_model)
    if x.ndim != 3 or x.shape[-1] != self.d_model:
      raise ValueError(f"input must be [batch, length, d_model={self.d_model}]; got {x.shape}")
    d_inner, d_state = self.d_inner, self.d_state

    def dense(features: int, name: str, **kw) -> nn.Dense:
      return nn.Dense(features, dtype=self.compute_dtype, param_dtype=jnp.float32, name=name,
                      **kw)

    xz = dense(2 * d_inner, "in_proj", use_bias=False)(x)
    u, z = jnp.split(xz, 2, axis=-1)
    u = CausalDepthwiseConv(self.d_conv, self.compute_dtype, name="conv1d")(u)
    u = nn.silu(u)

    batch, length = x.shape[:2]
    dt_init = dt_bias_init(self.dt_min, self.dt_max, self.dt_init_floor)
    if self.gate == "time_invariant":
      c = dense(d_state, "x_proj", use_bias=False)(u)
      dt = jax.nn.softplus(_Bias(d_inner, dt_init, name="dt_proj")())
      dt = jnp.broadcast_to(dt, (batch, length, d_inner))
      b_vec = self.param("B", nn.initializers.ones, (d_state,), jnp.float32)
      b = jnp.broadcast_to(b_vec, (batch, length, d_state))
    else:
      dbc = dense(dt_rank + 2 * d_state, "x_proj", use_bias=False)(u)
      dt_low, b, c = jnp.split(dbc, [dt_rank, dt_rank + d_state], axis=-1)
      std = dt_rank ** -0.5
      dt = dense(d_inner, "dt_proj", use_bias=True, kernel_init=_uniform(-std, std),
                 bias_init=dt_init)(dt_low)
      dt = jax.nn.softplus(dt.astype(jnp.float32))
    a_log = self.param("A_log", a_log_init, (d_inner, d_state), jnp.float32)
    d_skip = self.param("D", nn.initializers.ones, (d_inner,), jnp.float32)
    a_mat = -jnp.exp(a_log)

    u32 = u.astype(jnp.float32)
    signed = self.gate == "signed"
    if self.gate == "complex":
      y, complex_gates = complex_recurrence(self, u32, dt, a_mat, b, c)
    else:
      y = scan_lib.selective_scan(u32, dt, a_mat, b, c, signed=signed, method=self.scan,
                                  chunk_size=self.chunk_size)
    y = (y + d_skip * u32) * nn.silu(z.astype(jnp.float32))
    out = dense(self.d_model, "out_proj", use_bias=False)(y.astype(self.compute_dtype))
    out = out.astype(jnp.promote_types(x.dtype, jnp.float32))
    if return_gates:
      if self.gate == "complex":
        return out, complex_gates
      return out, scan_lib.gate_values(dt, a_mat, signed)
    return out


# ---------------------------------------------------------------------------------------------
# The complex gate (gate="complex"), on scan.linear_recurrence.


def complex_recurrence(block: MambaBlock, u, dt, a_mat, b, c):
  """The complex-gate scan of `block` (called inside its compact __call__); (y, gates).

    theta_t = theta_proj(u_t)                                  [batch, length, d_state]
    a_t[d, n] = exp(dt_t[d] A[d, n]) * exp(i theta_t[n])       decay times rotation
    h_t[d, n] = a_t[d, n] h_{t-1}[d, n] + dt_t[d] B_t[n] u_t[d]   (complex64)
    y_t[d] = sum_n C_t[n] Re h_t[d, n] + C'_t[n] Im h_t[d, n],  C' = c_imag_proj(u_t)

  Why this gate: the modulus is Mamba's own decay exp(dt A) in (0, 1] (stable, and 1 in the
  limit dt A -> 0), and the angle has its own input-dependent projection, shared by the
  channels as B and C are, rather than being tied to dt (as in a complex ZOH exp(dt (A_re +
  i omega))): a large input-dependent rotation then costs no decay, which is what tracking a
  cyclic group needs (a_t = e^{2 pi i k/m} for the symbol's k), while decaying rotations remain
  available. The readout takes real and imaginary parts, so y stays real (float32), and every
  parameter is real, so optimizers see real gradients only.

  Unlike the real gates' fused `selective_scan`, this materializes a and b
  [batch, length, d_inner, d_state] (complex64) and runs `scan.linear_recurrence` with the
  block's `scan` method: simple and checked against complex128, at the memory cost of those
  arrays.
  """
  d_state = block.d_state
  theta = nn.Dense(d_state, dtype=block.compute_dtype, param_dtype=jnp.float32,
                   name="theta_proj")(u.astype(block.compute_dtype)).astype(jnp.float32)
  c_imag = nn.Dense(d_state, use_bias=False, dtype=block.compute_dtype,
                    param_dtype=jnp.float32,
                    name="c_imag_proj")(u.astype(block.compute_dtype)).astype(jnp.float32)
  decay = jnp.exp(dt[..., None] * a_mat)
  rotation = jax.lax.complex(jnp.cos(theta), jnp.sin(theta))[:, :, None, :]
  gates = decay * rotation
  drive = ((dt * u)[..., None] * b[..., None, :]).astype(jnp.float32)
  h = scan_lib.linear_recurrence(gates, drive, method=block.scan, chunk_size=block.chunk_size)
  c = c.astype(jnp.float32)
  y = jnp.einsum("bldn,bln->bld", jnp.real(h), c) + jnp.einsum("bldn,bln->bld", jnp.imag(h),
                                                                c_imag)
  return y, gates


class MambaLayer(nn.Module):
  """Pre-norm residual layer: x + mixer(RMSNorm(x))."""
  block: MambaBlock
  norm_eps: float = 1e-5

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = nn.RMSNorm(epsilon=self.norm_eps, name="norm")(x)
    return x + self.block.clone(parent=self, name="mixer")(h)


class MambaStack(nn.Module):
  """`num_layers` pre-norm residual Mamba layers and a final RMSNorm: [B, L, D] -> [B, L, D].

  Params: {"layers_i": {"norm": {"scale"}, "mixer": MambaBlock params}, "norm_f": {"scale"}}.
  """
  num_layers: int
  d_model: int
  d_state: int = 16
  d_conv: int = 4
  expand: int = 2
  dt_rank: int | str = "auto"
  gate: str = "nonnegative"
  scan: str = "auto"
  compute_dtype: Any = jnp.float32
  chunk_size: int = scan_lib.DEFAULT_CHUNK_SIZE
  norm_eps: float = 1e-5

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    _check_positive(num_layers=self.num_layers)
    x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    for i in range(self.num_layers):
      block = MambaBlock(self.d_model, d_state=self.d_state, d_conv=self.d_conv,
                         expand=self.expand, dt_rank=self.dt_rank, gate=self.gate,
                         scan=self.scan, compute_dtype=self.compute_dtype,
                         chunk_size=self.chunk_size, parent=None)
      x = MambaLayer(block, self.norm_eps, name=f"layers_{i}")(x)
    return nn.RMSNorm(epsilon=self.norm_eps, name="norm_f")(x)


def gates(block: MambaBlock, params: Mapping[str, Any], x: jax.Array) -> jax.Array:
  """The gate values a [batch, length, d_inner, d_state] of `block` on input `x`."""
  return block.apply(params, x, return_gates=True)[1]


# ---------------------------------------------------------------------------------------------
# Loading reference PyTorch weights (mamba_ssm / mambapy state-dict names), by transposition.

_TORCH_LINEAR = ("in_proj", "x_proj", "dt_proj", "out_proj")


def params_from_torch_state_dict(state_dict: Mapping[str, Any], prefix: str = ""):
  """MambaBlock params ({"params": ...}) from a reference Mamba mixer's state dict.

  `state_dict` maps names such as "in_proj.weight" (optionally behind `prefix`, e.g.
  "layers.0.mixer.") to numpy arrays (torch tensors: call `.numpy()` first). Linear weights
  [out, in] become Dense kernels [in, out]; the conv weight [d_inner, 1, d_conv] becomes
  [d_conv, 1, d_inner]. Nothing else changes.
  """
  sd = {k[len(prefix):]: np.asarray(v) for k, v in state_dict.items() if k.startswith(prefix)}
  expected = {f"{m}.weight" for m in _TORCH_LINEAR} | {
      "dt_proj.bias", "conv1d.weight", "conv1d.bias", "A_log", "D"}
  missing = sorted(expected - set(sd))
  unexpected = sorted(set(sd) - expected)
  if missing or unexpected:
    raise ValueError(f"not a Mamba mixer state dict (prefix {prefix!r}): missing {missing}, "
                     f"unexpected {unexpected}; expected exactly {sorted(expected)}")
  params = {m: {"kernel": sd[f"{m}.weight"].T} for m in _TORCH_LINEAR}
  params["dt_proj"]["bias"] = sd["dt_proj.bias"]
  conv = sd["conv1d.weight"]
  if conv.ndim != 3 or conv.shape[1] != 1:
    raise ValueError(f"conv1d.weight must be [d_inner, 1, d_conv]; got {conv.shape}")
  params["conv1d"] = {"kernel": conv.transpose(2, 1, 0), "bias": sd["conv1d.bias"]}
  params["A_log"] = sd["A_log"]
  params["D"] = sd["D"]
  params = jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float32), params)
  return {"params": params}


def stack_params_from_torch_state_dict(state_dict: Mapping[str, Any], num_layers: int,
                                       prefix: str = ""):
  """MambaStack params from a reference model's state dict ("layers.{i}.mixer.*",
  "layers.{i}.norm.weight", "norm_f.weight"; a missing norm_f, as in mambapy's `Mamba`
  backbone, becomes ones)."""
  params = {}
  for i in range(num_layers):
    layer = f"{prefix}layers.{i}."
    mixer = {k: v for k, v in state_dict.items() if k.startswith(layer + "mixer.")}
    norm_key = layer + "norm.weight"
    if norm_key not in state_dict:
      raise ValueError(f"missing {norm_key!r} in the state dict")
    params[f"layers_{i}"] = {
        "mixer": params_from_torch_state_dict(mixer, layer + "mixer.")["params"],
        "norm": {"scale": jnp.asarray(state_dict[norm_key], jnp.float32)},
    }
  norm_f = state_dict.get(f"{prefix}norm_f.weight")
  if norm_f is None:
    d_model = params["layers_0"]["norm"]["scale"].shape[0]
    norm_f = np.ones((d_model,), np.float32)
  params["norm_f"] = {"scale": jnp.asarray(norm_f, jnp.float32)}
  return {"params": params}

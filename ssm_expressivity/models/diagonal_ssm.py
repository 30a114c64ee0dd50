"""The paper's SSM layer, `h_t = A(x_t) * h_{t-1} + B(x_t)`, `z_t = phi(h_t, x_t)`, stackable.

Everything is diagonal (elementwise) and position-wise except the recurrence, which runs on
`scan.linear_recurrence` (the same one Mamba uses). One layer:

  x_t  layer input features: the one-hot input symbol, and for layers >= 2 also the previous
       layer's output z_t (concatenated; a residual stream of the symbol);
  A(x) = x @ W_gate + b_gate        (the gate; NONNEGATIVE iff A(x) >= 0 for every input x),
  B(x) = x @ W_drive + b_drive,     h_0 = the parameter `h0`,
  phi  = a small MLP on [h_t, x_t]: Dense layers, each followed by its activation
         ("step" = Heaviside 1[v > 0], "relu" or "identity"); the last activation is "step"
         so that z_t is binary.

Why this phi: with binary layer inputs, affine gates are exactly lookup tables of the current
symbol and of the previous layer's binary features (so a construction sets a gate to 0, 1/4, 1
or -1 per input), and a threshold MLP reads integer or dyadic states with margins >= 1/8,
so the hand-set constructions stay exact in float32 (finite precision). Because z_t is binary,
`nonnegative_gates` can check NONNEGATIVE exactly from the parameters: the least gate value
over all inputs is b_gate + min over symbol rows + the negative parts of the z rows.

The model maps int32 tokens [B, L] (id = symbol index + 1, 0 = padding) to scores
[B, L, num_outputs] = Dense(z of the last layer); a construction reads "score > 0".

Gates (`gate=`):
  "real"     A(x), B(x), h_0 real, as above (any sign; NONNEGATIVE is a property of the params).
  "complex"  A(x) = x @ W_gate + b_gate + i (x @ W_gate_imag + b_gate_imag), and B(x), h_0 the
             same way ("drive"/"drive_imag", "h0"/"h0_imag"); the state is complex64. The gate
             is affine in the inputs, like the real one, rather than exp(-decay(x) + i angle(x)):
             with one-hot inputs it is then a lookup table of complex values, so a construction
             writes each gate value directly (a unit-modulus rotation e^{2 pi i k/m}, rounded
             once, or a decay), and a general affine map of the input covers both kinds.
             phi reads [Re h, Im h, Re u, Im u, x] with u = h / |h| (0 where h = 0): the
             magnitude-carrying parts, then the phase alone. Normalizing in phi (a position-wise
             map) makes phase readouts immune to the modulus drift of float32 rotations
             (|fl(e^{i theta})| = 1 + O(2^-24), compounding over the length), which the
             recurrence itself, being linear, cannot renormalize.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ssm_expressivity.models import scan as scan_lib

PHI_ACTIVATIONS = ("step", "relu", "identity")
GATES = ("real", "complex")


def step(v):
  """Heaviside: 1 where v > 0, else 0 (same dtype)."""
  return (v > 0).astype(v.dtype)


_ACTIVATIONS = {"step": step, "relu": jax.nn.relu, "identity": lambda v: v}


def _check_layer_spec(state_dim: int, phi_features: Sequence[int],
                      phi_activations: Sequence[str] | None) -> tuple[str, ...]:
  if not isinstance(state_dim, (int, np.integer)) or state_dim < 0:
    raise ValueError(f"state_dim must be an integer >= 0, got {state_dim!r}")
  if not phi_features or any(int(f) < 1 for f in phi_features):
    raise ValueError(f"phi_features must be a non-empty tuple of sizes >= 1, got "
                     f"{phi_features!r}")
  if phi_activations is None:
    return ("step",) * len(phi_features)
  activations = tuple(phi_activations)
  if len(activations) != len(phi_features):
    raise ValueError(f"phi_activations needs one entry per phi layer ({len(phi_features)}), "
                     f"got {len(activations)}")
  bad = [a for a in activations if a not in PHI_ACTIVATIONS]
  if bad:
    raise ValueError(f"unknown phi activation(s) {bad}; valid: {', '.join(PHI_ACTIVATIONS)}")
  if activations[-1] != "step":
    raise ValueError("the last phi activation must be 'step' (layer outputs are binary)")
  return activations


def _check_gate(gate: str) -> None:
  if gate not in GATES:
    raise ValueError(f"unknown gate {gate!r}; valid: {', '.join(GATES)}")


def unit_phase(h):
  """h / |h| elementwise (0 where h = 0), with finite gradients everywhere."""
  nonzero = jnp.real(h) ** 2 + jnp.imag(h) ** 2 > 0
  safe = jnp.where(nonzero, h, jnp.ones_like(h))
  return jnp.where(nonzero, safe / jnp.abs(safe), jnp.zeros_like(h))


class DiagonalSSMLayer(nn.Module):
  """One diagonal SSM layer; returns (z [B, L, phi_features[-1]], h [B, L, state_dim]).

  Attributes:
    state_dim: state dimensions (complex ones for the complex gate).
    phi_features: sizes of phi's Dense layers; the last is the size of z.
    phi_activations: one per phi layer (default all "step"); the last must be "step".
    scan: the `scan.linear_recurrence` method.
    gate: "real" or "complex" (see the module docstring); h is complex64 for "complex".
  """

  state_dim: int
  phi_features: tuple[int, ...]
  phi_activations: tuple[str, ...] | None = None
  scan: str = "auto"
  gate: str = "real"

  @nn.compact
  def __call__(self, x):
    activations = _check_layer_spec(self.state_dim, self.phi_features, self.phi_activations)
    _check_gate(self.gate)
    x = jnp.asarray(x, jnp.float32)
    # (lecun_normal divides by the fan-out: a 0-dim state needs another initializer)
    init = nn.initializers.lecun_normal() if self.state_dim else nn.initializers.zeros
    parts = ("",) if self.gate == "real" else ("", "_imag")
    # Complex layers hold rounded rotations and phase thresholds with margins down to
    # 1 - cos(pi / n): their matmuls run in full float32, where a GPU's default float32 matmul
    # may round the operands to TF32 (10-bit mantissas) and lose the phases.
    precision = jax.lax.Precision.HIGHEST if self.gate == "complex" else None
    gate, drive, h0 = [], [], []
    for part in parts:  # real parts, then imaginary parts
      gate.append(nn.Dense(self.state_dim, kernel_init=init, precision=precision,
                           name=f"gate{part}")(x))
      drive.append(nn.Dense(self.state_dim, kernel_init=init, precision=precision,
                            name=f"drive{part}")(x))
      h0.append(self.param(f"h0{part}", nn.initializers.zeros, (self.state_dim,), jnp.float32))
    if self.gate == "complex":
      gate, drive, h0 = (jax.lax.complex(*v) for v in (gate, drive, h0))
    else:
      (gate,), (drive,), (h0,) = gate, drive, h0
    if self.state_dim:
      h0 = jnp.broadcast_to(h0, (x.shape[0], self.state_dim))
      h = scan_lib.linear_recurrence(gate, drive, h0=h0, method=self.scan)
    else:
      h = drive  # [B, L, 0]
    if self.gate == "complex":
      u = unit_phase(h)
      v = jnp.concatenate([jnp.real(h), jnp.imag(h), jnp.real(u), jnp.imag(u), x], axis=-1)
    else:
      v = jnp.concatenate([h, x], axis=-1)
    for i, (features, activation) in enumerate(zip(self.phi_features, activations)):
      v = _ACTIVATIONS[activation](nn.Dense(int(features), precision=precision,
                                            name=f"phi_{i}")(v))
    return v, h


class DiagonalSSM(nn.Module):
  """Tokens -> one-hot -> diagonal SSM layers -> Dense head; [B, L] -> [B, L, num_outputs].

  Layer l >= 2 sees [one-hot symbol, z of layer l-1]. `return_states=True` also returns the
  list of every layer's states h [B, L, state_dim]. `gate` ("real" or "complex") applies to
  every layer.
  """

  vocab_size: int
  state_dims: tuple[int, ...]
  phi_features: tuple[tuple[int, ...], ...]
  num_outputs: int
  phi_activations: tuple[tuple[str, ...] | None, ...] | None = None
  scan: str = "auto"
  gate: str = "real"

  @nn.compact
  def __call__(self, tokens, return_states: bool = False):
    if len(self.state_dims) != len(self.phi_features) or not self.state_dims:
      raise ValueError("state_dims and phi_features need one entry per layer (>= 1 layer); "
                       f"got {len(self.state_dims)} and {len(self.phi_features)}")
    activations = self.phi_activations or (None,) * len(self.state_dims)
    if len(activations) != len(self.state_dims):
      raise ValueError("phi_activations needs one entry per layer")
    symbols = jax.nn.one_hot(jnp.asarray(tokens), self.vocab_size, dtype=jnp.float32)
    x, states = symbols, []
    for l, (dim, features, acts) in enumerate(zip(self.state_dims, self.phi_features,
                                                  activations)):
      z, h = DiagonalSSMLayer(int(dim), tuple(features), None if acts is None else tuple(acts),
                              self.scan, self.gate, name=f"layer_{l}")(x)
      states.append(h)
      x = jnp.concatenate([symbols, z], axis=-1)
    scores = nn.Dense(self.num_outputs, name="head")(z)
    return (scores, states) if return_states else scores


def layer_input_dims(model: DiagonalSSM) -> list[int]:
  """The input feature size of each layer: vocab_size, then vocab_size + previous z size."""
  dims = [model.vocab_size]
  for features in model.phi_features[:-1]:
    dims.append(model.vocab_size + int(features[-1]))
  return dims


def gate_lower_bounds(model: DiagonalSSM, params: Any) -> list[np.ndarray]:
  """Per layer, the least value of each gate A(x) over every possible layer input.

  Layer inputs are a one-hot symbol (any of the vocab_size ids) and, from layer 2 on, a binary
  vector z (phi ends in a step), so the minimum of the affine gate is exact: the bias, plus
  the least symbol row, plus the negative entries of the z rows. For complex gates: the least
  real part.
  """
  tree = params.get("params", params)
  bounds = []
  for l in range(len(model.state_dims)):
    gate = tree[f"layer_{l}"]["gate"]
    kernel = np.asarray(gate["kernel"], np.float64)
    bias = np.asarray(gate["bias"], np.float64)
    symbol_rows, z_rows = kernel[:model.vocab_size], kernel[model.vocab_size:]
    bounds.append(bias + symbol_rows.min(axis=0) + np.minimum(z_rows, 0.0).sum(axis=0))
  return bounds


def _gate_parts(model: DiagonalSSM) -> tuple[str, ...]:
  return ("gate", "gate_imag") if model.gate == "complex" else ("gate",)


def nonnegative_gates(model: DiagonalSSM, params: Any) -> bool:
  """NONNEGATIVE: every gate value A(x) over every possible input is real and >= 0."""
  tree = params.get("params", params)
  real = all(not np.any(np.asarray(tree[f"layer_{l}"]["gate_imag"][k]))
             for l in range(len(model.state_dims)) for k in ("kernel", "bias")
             ) if model.gate == "complex" else True
  return real and all(bool(np.all(low >= 0)) for low in gate_lower_bounds(model, params))


def time_invariant_gates(model: DiagonalSSM, params: Any) -> bool:
  """TIME-INVARIANT: no gate depends on its input (all gate kernels are zero)."""
  tree = params.get("params", params)
  return all(not np.any(np.asarray(tree[f"layer_{l}"][part]["kernel"]))
             for l in range(len(model.state_dims)) for part in _gate_parts(model))

"""PARITY's negative result made visible: a NONNEGATIVE SSM's float32 state on 1^n freezes.

The paper's argument: with gates A(x) >= 0, the state of every layer on the input 1^n is a
monotone sequence (h_t = a h_{t-1} + b with a >= 0 fixed while the input is fixed; a monotone
map on the finitely many float32 values), so in finite precision it stops changing at some n;
by induction over the layers the whole stacked state does, and the outputs on 1^n and 1^(n+1)
coincide although exactly one of the two words has an even number of ones.

`freeze_point` runs a DiagonalSSM on 1^N with the sequential scan (the recurrence as the paper
defines it: one rounding pattern per step) and returns the first n with h_n == h_{n+1} bit
for bit in every layer. The stacked state is a function of the previous stacked state and the
symbol, so from that n on it never changes again, and neither do the outputs.

Time-invariant SSMs with signed gates: the witness does not apply. A gate of -1 makes the
state on 1^n alternate forever (`alternation_period` shows period 2), so 1^n and 1^(n+1) stay
apart. The paper treats that case with a separate argument, which this module does not
reproduce; it shows only that the 1^n witness fails there.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ssm_expressivity.models import diagonal_ssm

# Token ids of the parity alphabet ("0", "1"): index + 1.
ONE_TOKEN = 2


@dataclasses.dataclass(frozen=True)
class Freeze:
  """Where the state on 1^n stops changing (None: not within `searched` positions)."""

  n: int | None
  searched: int
  outputs_equal: bool | None  # outputs on 1^n and 1^(n+1) bitwise equal (at the freeze)


def random_nonnegative_ssm(seed: int, num_layers: int = 2, state_dim: int = 8,
                           hidden: int = 16, vocab_size: int = 3, num_outputs: int = 3,
                           min_decay: float = 1e-3, max_decay: float = 1e-1):
  """A random NONNEGATIVE DiagonalSSM: gates in (0, 1), Mamba-like (a = exp(-dt)).

  Symbol rows of each gate are exp(-dt) with dt log-uniform in [min_decay, max_decay]; rows
  of the previous layer's z add nonnegative terms that keep every gate below 1.
  Drives, phi and head are Gaussian; phi is relu then step.
  """
  model = diagonal_ssm.DiagonalSSM(
      vocab_size=vocab_size, state_dims=(state_dim,) * num_layers,
      phi_features=((hidden, hidden),) * num_layers, num_outputs=num_outputs,
      phi_activations=(("relu", "step"),) * num_layers, scan="sequential")
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 4), jnp.int32))
  params = jax.tree.map(  # Gaussian, scaled by the fan-in
      lambda s: (rng.normal(size=s.shape) / np.sqrt(s.shape[0] if len(s.shape) == 2 else 1)
                 ).astype(np.float32), shapes)
  inputs = diagonal_ssm.layer_input_dims(model)
  for l in range(num_layers):
    gate = params["params"][f"layer_{l}"]["gate"]
    dt = np.exp(rng.uniform(np.log(min_decay), np.log(max_decay), (vocab_size, state_dim)))
    kernel = np.zeros((inputs[l], state_dim), np.float32)
    kernel[:vocab_size] = np.exp(-dt)
    extra = inputs[l] - vocab_size
    if extra:  # z rows: together at most half the room left below 1
      room = 0.5 * (1.0 - kernel[:vocab_size].max(axis=0))
      kernel[vocab_size:] = rng.uniform(0, 1, (extra, state_dim)) * room / extra
    gate["kernel"] = kernel.astype(np.float32)
    gate["bias"] = np.zeros(state_dim, np.float32)
  return model, params


def _states_and_outputs(model: diagonal_ssm.DiagonalSSM, params: Any, length: int,
                        token: int) -> tuple[np.ndarray, np.ndarray]:
  model = model.clone(scan="sequential")
  tokens = jnp.full((1, length), token, jnp.int32)
  scores, states = jax.jit(lambda p, t: model.apply(p, t, return_states=True))(params, tokens)
  stacked = np.concatenate([np.asarray(h[0]) for h in states], axis=-1)
  return stacked, np.asarray(scores[0])


def _first_repeat(rows: np.ndarray) -> int | None:
  """First t (1-indexed) with rows[t-1] == rows[t] bitwise, or None."""
  bits = rows.view(np.uint32).reshape(len(rows), -1)
  same = np.all(bits[1:] == bits[:-1], axis=1)
  hits = np.flatnonzero(same)
  return int(hits[0]) + 1 if hits.size else None


def freeze_point(model: diagonal_ssm.DiagonalSSM, params: Any, max_n: int = 1 << 20,
                 token: int = ONE_TOKEN, start: int = 4096) -> Freeze:
  """The first n with h_n == h_{n+1} (every layer, bit for bit) on 1^N, N doubling to max_n."""
  length = min(start, max_n + 1)
  while True:
    states, scores = _states_and_outputs(model, params, length, token)
    n = _first_repeat(states)
    if n is not None:
      equal = bool(np.array_equal(scores[n - 1].view(np.uint32), scores[n].view(np.uint32)))
      return Freeze(n, length, equal)
    if length > max_n:
      return Freeze(None, length, None)
    length = min(2 * length, max_n + 1)


def alternation_period(model: diagonal_ssm.DiagonalSSM, params: Any, length: int = 4096,
                       token: int = ONE_TOKEN, max_period: int = 8) -> int | None:
  """The least p with h_{n} == h_{n+p} over the last half of 1^length (None if none <= max)."""
  states, _ = _states_and_outputs(model, params, length, token)
  bits = states.view(np.uint32).reshape(length, -1)[length // 2:]
  for p in range(1, max_period + 1):
    if np.array_equal(bits[p:], bits[:-p]):
      return p
  return None


def signed_time_invariant_ssm():
  """One layer, one dim, gate -1 for every symbol, B(1) = 1: h on 1^n is 1, 0, 1, 0, ..."""
  model = diagonal_ssm.DiagonalSSM(vocab_size=3, state_dims=(1,), phi_features=((1,),),
                                   num_outputs=1, scan="sequential")
  params = {"params": {
      "layer_0": {
          "gate": {"kernel": np.zeros((3, 1), np.float32), "bias": np.array([-1.0], np.float32)},
          "drive": {"kernel": np.array([[0.0], [0.0], [1.0]], np.float32),
                    "bias": np.zeros(1, np.float32)},
          "h0": np.zeros(1, np.float32),
          "phi_0": {"kernel": np.array([[1.0], [0.0], [0.0], [0.0]], np.float32),
                    "bias": np.array([-0.5], np.float32)}},
      "head": {"kernel": np.ones((1, 1), np.float32), "bias": np.array([-0.5], np.float32)}}}
  return model, params


# ---- trained checkpoints (Mamba taggers) -------------------------------------------------------


def output_freeze_point(apply_fn, token: int, max_n: int = 1 << 16,
                        start: int = 4096) -> Freeze:
  """For a model whose state is not exposed: the first n from which every output on 1^N
  equals the one at n bit for bit, N doubling up to max_n until that holds over at least the
  second half of 1^N (outputs only: a sign of a frozen state within the window, not a proof
  beyond it)."""
  length = min(start, max_n)
  while True:
    out = np.asarray(apply_fn(jnp.full((1, length), token, jnp.int32)), np.float32)[0]
    bits = out.reshape(length, -1).view(np.uint32)
    changed = np.flatnonzero(np.any(bits[1:] != bits[:-1], axis=1))
    n = int(changed[-1]) + 2 if changed.size else 1
    if n <= length // 2:  # constant over at least the second half of the window
      return Freeze(n, length, True)
    if length >= max_n:
      return Freeze(None, length, None)
    length = min(2 * length, max_n)


def random_mamba(seed: int, num_layers: int = 2, d_model: int = 16, vocab_size: int = 3):
  """An untrained Mamba tagger (NONNEGATIVE gate), sequential scan: (apply_fn, num_layers)."""
  from ssm_expressivity.models import tagger  # pylint: disable=g-import-not-at-top
  model = tagger.make_tagger({"name": "mamba", "num_layers": num_layers, "d_model": d_model,
                              "scan": "sequential"}, vocab_size, 3)
  params = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, 4), jnp.int32))
  return jax.jit(lambda tokens: model.apply(params, tokens))


def trained_run_freeze(workdir: str, max_n: int = 1 << 16, which: str = "latest"):
  """(label, num_layers, gate, Freeze) of a run saved by experiments.train, read at its outputs.

  The model is rebuilt with the sequential scan (the recurrence step by step) when its
  config has a `scan` field, so that bit-equal states give bit-equal outputs.
  """
  # Lazy: the training stack is only needed with --workdir.
  from ssm_expressivity.models import tagger  # pylint: disable=g-import-not-at-top
  from ssm_expressivity.training import evaluate  # pylint: disable=g-import-not-at-top
  import pathlib  # pylint: disable=g-import-not-at-top
  saved = evaluate.load_run(workdir, which)
  config, model, params = saved.config, saved.model, saved.params
  symbols = list(saved.vocab["input_symbols"])
  if "1" not in symbols:
    raise ValueError(f"{workdir}: the run's input symbols {symbols} have no '1'; the demo "
                     "needs a run on parity (or another language with the symbol 1)")
  model_config = dict(config.model.to_dict())
  if "scan" in model_config:
    model_config["scan"] = "sequential"
    model = tagger.make_tagger(model_config, model.vocab_size, model.num_outputs)
  freeze = output_freeze_point(jax.jit(lambda tokens: model.apply(params, tokens)),
                               symbols.index("1") + 1, max_n=max_n)
  label = f"trained {model_config.get('name', 'model')} ({pathlib.Path(workdir).name})"
  return label, model_config.get("num_layers", "?"), model_config.get("gate"), freeze

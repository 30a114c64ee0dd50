"""The train state of one run as a pytree, and its optimizer with per-run numbers as data.

    state = state_lib.init_state(config, model, total_steps=task.num_steps())
    tx = state_lib.make_optimizer(state.hparams, state_lib.OptimizerSpec.of(config))

The optimizer's numbers (learning rate, weight decay, Adam's betas and epsilon, the clipping
norm, warm-up and schedule length, a plateau scale) live in `TrainState.hparams` as float32
scalars, so runs that differ only in them stack on a leading runs axis and train in one
program (`jax.vmap`), and a plateau rule can lower one run's learning rate without a
recompile. What must be equal across such runs (the schedule's shape, which parameters
decay) is the static `OptimizerSpec`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
from flax import struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax


@struct.dataclass
class TrainState:
  """Attributes:
    step: int32 optimizer steps taken.
    params: the model's parameters ({"params": ...}).
    opt_state: the optimizer state.
    rng: the dropout key, split every step.
    hparams: float32 scalars the optimizer reads (see `hparams_of`).
  """
  step: jax.Array
  params: Any
  opt_state: Any
  rng: jax.Array
  hparams: dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
  """The static part of the optimizer (equal across the runs of one program)."""
  schedule: str  # constant | cosine
  decay_mask: str  # matrices | all

  @classmethod
  def of(cls, config: ml_collections.ConfigDict) -> "OptimizerSpec":
    return cls(config.optim.schedule, config.optim.decay_mask)


def hparams_of(config: ml_collections.ConfigDict, total_steps: int) -> dict[str, np.ndarray]:
  """The per-run optimizer numbers of `config` (total_steps: where a cosine decay ends)."""
  optim = config.optim
  values = {
      "learning_rate": optim.learning_rate, "weight_decay": optim.weight_decay,
      "b1": optim.b1, "b2": optim.b2, "eps": optim.eps, "grad_clip_norm": optim.grad_clip_norm,
      "warmup_steps": optim.warmup_steps, "total_steps": total_steps, "lr_scale": 1.0,
  }
  return {k: np.float32(v) for k, v in values.items()}


def learning_rate(hparams: dict[str, jax.Array], schedule: str, count: jax.Array) -> jax.Array:
  """The learning rate of optimizer step `count` (0-based): linear warm-up from 0, then
  constant or a cosine decay to 0 at total_steps; times the plateau scale."""
  count = jnp.asarray(count, jnp.float32)
  peak = hparams["learning_rate"] * hparams["lr_scale"]
  warmup = hparams["warmup_steps"]
  warm = jnp.where(warmup > 0, jnp.minimum(count / jnp.maximum(warmup, 1.0), 1.0), 1.0)
  if schedule == "constant":
    return peak * warm
  span = jnp.maximum(hparams["total_steps"] - warmup, 1.0)
  progress = jnp.clip((count - warmup) / span, 0.0, 1.0)
  cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
  return peak * jnp.where(count < warmup, warm, cosine)


def _clip_by_global_norm(max_norm: jax.Array) -> optax.GradientTransformation:
  """optax.clip_by_global_norm with the norm as data; max_norm <= 0 leaves updates alone."""
  def update(updates, state, params=None):
    del params
    norm = optax.tree.norm(updates)
    scale = jnp.where((max_norm > 0) & (norm > max_norm), max_norm / norm, 1.0)
    return jax.tree_util.tree_map(lambda u: u * scale.astype(u.dtype), updates), state
  return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def decay_mask(params: Any) -> Any:
  """Weight decay on matrices only: biases, norms, A_log and D keep their values.

  Decaying A_log and the dt bias towards 0 would pull every gate towards exp(-softplus(0)), a
  fixed forgetting rate, which fights exactly the long memory the theorems are about.
  """
  def decays(path, x) -> bool:
    names = {str(getattr(key, "key", key)) for key in path}
    return x.ndim >= 2 and not names & {"A_log", "D"}

  return jax.tree_util.tree_map_with_path(decays, params)


def make_optimizer(hparams: dict[str, jax.Array], spec: OptimizerSpec
                   ) -> optax.GradientTransformation:
  """AdamW (clip, Adam, decoupled weight decay, schedule) reading its numbers from `hparams`.

  Built inside the jitted step from traced numbers; its state's structure does not depend on
  them, so `init` may use any values.
  """
  return optax.chain(
      _clip_by_global_norm(hparams["grad_clip_norm"]),
      optax.scale_by_adam(b1=hparams["b1"], b2=hparams["b2"], eps=hparams["eps"]),
      optax.add_decayed_weights(hparams["weight_decay"],
                                mask=decay_mask if spec.decay_mask == "matrices" else None),
      optax.scale_by_learning_rate(
          lambda count: learning_rate(hparams, spec.schedule, count)),
  )


def init_state(config: ml_collections.ConfigDict, model: nn.Module,
               total_steps: int) -> TrainState:
  """The state of a fresh run of `config`: parameters from PRNGKey(config.seed)."""
  key = jax.random.PRNGKey(config.seed)
  params = model.init(key, jnp.ones((1, 4), jnp.int32))
  hparams = {k: jnp.asarray(v) for k, v in hparams_of(config, total_steps).items()}
  opt_state = make_optimizer(hparams, OptimizerSpec.of(config)).init(params)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                    rng=jax.random.fold_in(key, 1), hparams=hparams)


def stack(states: list[Any]) -> Any:
  """Pytrees on a new leading runs axis (numpy on the host)."""
  return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *states)


def unstack(stacked: Any, index: int) -> Any:
  """Run `index` of a stacked pytree of host arrays."""
  return jax.tree_util.tree_map(lambda x: np.asarray(x[index]), stacked)


def all_finite(tree: Any) -> jax.Array:
  """True when every float leaf of `tree` is finite."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)

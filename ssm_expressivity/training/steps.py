"""The pure, jitted pieces of training: the model of a config, one train step, one eval step.

    step_fn = steps.make_group_train_step(model, objective, spec, shared_batch=True)
    states, healthy, metrics = step_fn(states, batch, active, healthy)   # every run, one program

`train_step(state, batch)` is one run's update: no side effects, a fresh dropout key from the
state, and a finiteness flag so that no caller ever keeps a non-finite state. The group
versions step it over a leading runs axis (vmap, or lax.map on one CPU device: RUNS_AXIS);
a run whose `active` flag is off keeps its state unchanged (it has met its stop rule, or waits
for the others after a resume); so does a run once one of its steps was not finite (`healthy`
turns False and stays so), which keeps its last finite state for the host to find.
"""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from ssm_expressivity.models import tagger
from ssm_expressivity.training import objectives as objectives_lib
from ssm_expressivity.training import state as state_lib


def make_model(config: ml_collections.ConfigDict, vocab: dict[str, Any],
               objective: objectives_lib.Objective) -> nn.Module:
  """The SequenceTagger of `config` over the run's symbol tables."""
  return tagger.make_tagger(config.model, len(vocab["input_symbols"]) + 1,
                            objective.num_outputs(vocab),
                            head=config.get("output_head", "linear") == "linear")


def train_step(state: state_lib.TrainState, batch: dict[str, jax.Array], *, model: nn.Module,
               objective: objectives_lib.Objective, spec: state_lib.OptimizerSpec):
  """One optimizer step of one run -> (new state, metrics of this step)."""
  rng, dropout_key = jax.random.split(state.rng)

  def loss_fn(params):
    logits = model.apply(params, batch["tokens"], deterministic=False,
                         rngs={"dropout": dropout_key})
    return objective.loss(logits, batch), logits

  (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  optimizer = state_lib.make_optimizer(state.hparams, spec)
  updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, rng=rng)
  metrics = {
      "loss": loss,
      "position_acc": objective.train_position_accuracy(logits, batch),
      "learning_rate": state_lib.learning_rate(state.hparams, spec.schedule, state.step),
      # Checked here, after the update: a run whose loss, parameters or optimizer state is not
      # finite keeps its previous state and reports it.
      "finite": jnp.isfinite(loss) & state_lib.all_finite((params, opt_state)),
  }
  return new_state, metrics


# How one program steps a group's runs: "vmap" (one batched computation over the runs axis) or
# "map" (`lax.map`: the runs one after another inside the program, each as its own unbatched
# step). The CPU runs "map": XLA's CPU code for the batched matmuls and convolution of a vmapped
# step is slower than the same work run by run (12 runs of a 1-layer Mamba, batch 32, length
# 50: one vmapped gradient step took 1.5-2.4x as long as 12 single-run steps), so the gain of
# one program there is fewer compilations and dispatches. `python -m experiments.benchmark
# --what=sweep` (2026-12-04, 2-core CPU, load 1.3-2.0): 12 runs in one program against one after
# another, 208.7 vs 55.0 run-steps/s at d_model 16 (3.79x) and 100.9 vs 36.0 at d_model 64
# (2.80x) with "map", against 2.76x and 1.74x with "vmap" (benchmarks/cpu.md). GPU: "vmap"
# (one H200, 3.74x and 3.56x: benchmarks/gpu.md). TPU: not measured; "vmap".
RUNS_AXIS = {"cpu": "map", "gpu": "vmap", "tpu": "vmap"}
RUNS_AXIS_METHODS = ("vmap", "map")


def runs_axis_method(num_devices: int, num_runs: int) -> str:
  """The RUNS_AXIS method of this backend; "vmap" when the runs are spread over devices (a
  loop over a sharded axis would gather it onto every device) and for a single run (a
  one-trip loop only adds copies of the state in and out of it)."""
  if num_devices > 1 or num_runs == 1:
    return "vmap"
  return RUNS_AXIS.get(jax.default_backend(), "vmap")


def make_group_train_step(model: nn.Module, objective: objectives_lib.Objective,
                          spec: state_lib.OptimizerSpec, shared_batch: bool,
                          runs_axis: str = "vmap") -> Callable:
  """(states, batch, active, healthy) -> (states, healthy, metrics) over the runs axis.

  shared_batch: every run trains on the same batch (given once, without a runs axis), as runs
  that differ only in optimizer numbers do.
  runs_axis: "vmap" or "map" (RUNS_AXIS); the same result either way, run by run.
  """
  if runs_axis not in RUNS_AXIS_METHODS:
    raise ValueError(f"runs_axis must be one of {RUNS_AXIS_METHODS}, got {runs_axis!r}")
  def one(state, batch, active, healthy):
    new_state, metrics = train_step(state, batch, model=model, objective=objective, spec=spec)
    healthy = healthy & (metrics["finite"] | ~active)
    keep = active & healthy
    new_state = jax.tree_util.tree_map(lambda n, o: jnp.where(keep, n, o), new_state, state)
    metrics["finite"] = healthy
    return new_state, healthy, metrics

  if runs_axis == "vmap":
    return jax.vmap(one, in_axes=(0, None if shared_batch else 0, 0, 0))

  def mapped(states, batch, active, healthy):
    if shared_batch:
      return jax.lax.map(lambda run: one(run[0], batch, run[1], run[2]),
                         (states, active, healthy))
    return jax.lax.map(lambda run: one(*run), (states, batch, active, healthy))

  return mapped


def make_group_eval_step(model: nn.Module, objective: objectives_lib.Objective) -> Callable:
  """(params, batch) -> {name: [runs]} sums over the batch's rows (see Objective.row_sums)."""
  def one(params, batch):
    logits = model.apply(params, batch["tokens"])
    return {k: jnp.sum(v) for k, v in objective.row_sums(logits, batch).items()}

  return jax.vmap(one, in_axes=(0, None))

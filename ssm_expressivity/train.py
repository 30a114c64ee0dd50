"""`train_and_evaluate(config, workdir)`: optax AdamW, orbax checkpoints, resumable runs.

A run's workdir holds:
  config.json          the config it was started with (a restart must use the same one)
  checkpoints/<step>/  the latest checkpoint (params, optimizer state, step)
  best/<step>/         the checkpoint with the best strict accuracy on `config.best_split`
  metrics.jsonl        one JSON record per log line and per evaluation

Batches are a pure function of (seed, step), so a run killed and restarted with the same command
resumes from its latest checkpoint and ends with bit-identical parameters.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ssm_expressivity import checkpoints
from ssm_expressivity import configlib
from ssm_expressivity import run_data
from ssm_expressivity import steps as steps_lib


class TrainingDiverged(RuntimeError):
  """The loss became NaN or inf; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
  step: int
  params: Any
  eval_metrics: dict[str, dict[str, float]]
  best: dict[str, Any] | None
  stopped_early: bool


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  optim = config.optim
  if optim.schedule == "cosine":
    warmup = max(optim.warmup_steps, 0)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, optim.learning_rate, warmup, max(config.num_steps, warmup + 1))
  elif optim.warmup_steps > 0:
    schedule = optax.linear_schedule(0.0, optim.learning_rate, optim.warmup_steps)
  else:
    schedule = optim.learning_rate
  parts = []
  if optim.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(optim.grad_clip_norm))
  parts.append(optax.adamw(schedule, b1=optim.b1, b2=optim.b2,
                           weight_decay=optim.weight_decay, mask=_decay_mask))
  return optax.chain(*parts)


def _decay_mask(params: Any) -> Any:
  """Weight decay on matrices only: biases, norms, A_log and D keep their values.

  Decaying A_log and the dt bias towards 0 would pull every gate towards exp(-softplus(0)), a
  fixed forgetting rate, which fights exactly the long memory the theorems are about.
  """
  def decays(path, x) -> bool:
    names = {str(getattr(key, "key", key)) for key in path}
    return x.ndim >= 2 and not names & {"A_log", "D"}

  return jax.tree_util.tree_map_with_path(decays, params)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
                       stop_at_step: int | None = None) -> TrainResult:
  """Trains `config` in `workdir`, resuming from its latest checkpoint if there is one.

  stop_at_step: stop (after checkpointing) once this step is reached, as a preemption would;
    the same command without it resumes the run.
  """
  configlib.validate(config)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  checkpoints.check_or_write_config(workdir, config)

  task = run_data.load_task(config)
  run_data.save_vocab(workdir, task)
  model = steps_lib.make_model(config, task)
  optimizer = make_optimizer(config)

  init_tokens = jnp.asarray(task.train_batch(0)["tokens"][:1])
  params = model.init(jax.random.PRNGKey(config.seed), init_tokens)
  opt_state = optimizer.init(params)
  step = 0

  manager = checkpoints.RunCheckpoints(workdir)
  restored = manager.restore_latest({"params": params, "opt_state": opt_state})
  if restored is not None:
    step, state = restored
    params, opt_state = state["params"], state["opt_state"]
    logging.info("resumed %s from step %d", workdir, step)

  train_step = jax.jit(steps_lib.make_train_step(model, optimizer, config, task))
  evaluator = steps_lib.Evaluator(model, config, task)
  log = _MetricsLog(workdir / "metrics.jsonl")
  best = manager.best_record()

  eval_metrics: dict[str, dict[str, float]] = {}
  start_step, start_time = step, time.perf_counter()
  loss_sum, acc_sum, window = 0.0, 0.0, 0
  pending = []  # per-step (loss, accuracy) still on the device: no host sync every step
  stopped_early = False
  while step < config.num_steps:
    batch = {k: jnp.asarray(v) for k, v in task.train_batch(step).items()}
    params, opt_state, loss, position_acc = train_step(params, opt_state, batch)
    pending.append((loss, position_acc))
    step += 1
    finished = step == config.num_steps
    preempted = stop_at_step is not None and step >= stop_at_step
    if (step % config.log_every == 0 or step % config.eval_every == 0
        or step % config.checkpoint_every == 0 or finished or preempted):
      # Checked before the parameters are evaluated or saved, so no checkpoint is ever written
      # from a diverged state.
      losses, accuracies = (np.asarray(v) for v in zip(*jax.device_get(pending)))
      bad = np.flatnonzero(~np.isfinite(losses))
      if bad.size:
        manager.close()
        raise TrainingDiverged(
            f"loss became {losses[bad[0]]} at step {step - len(pending) + bad[0] + 1}; "
            f"stopped. The last good checkpoint (step {manager.latest_step()}) is kept in "
            f"{workdir / 'checkpoints'}; lower config.optim.learning_rate or set "
            "config.optim.grad_clip_norm.")
      loss_sum += float(losses.sum())
      acc_sum += float(accuracies.sum())
      window += len(pending)
      pending = []
    if step % config.log_every == 0 or finished:
      elapsed = time.perf_counter() - start_time
      rate = (step - start_step) / max(elapsed, 1e-9)
      eta = (config.num_steps - step) / max(rate, 1e-9)
      logging.info("step %d/%d loss %.5f position_acc %.4f %.2f steps/s ETA %s", step,
                   config.num_steps, loss_sum / window, acc_sum / window, rate,
                   _format_seconds(eta))
      log.write({"step": step, "loss": loss_sum / window,
                 "train_position_acc": acc_sum / window, "steps_per_s": rate})
      loss_sum, acc_sum, window = 0.0, 0.0, 0
    if step % config.eval_every == 0 or finished:
      eval_metrics = evaluator.evaluate(params)
      for split, values in eval_metrics.items():
        logging.info("step %d eval %s: %s", step, split, _format_metrics(values))
        log.write({"step": step, "split": split, **values})
      best = manager.maybe_save_best(step, params, eval_metrics, config.best_split, best)
      if config.stop_at_accuracy > 0 and all(
          m["strict_acc"] >= config.stop_at_accuracy for m in eval_metrics.values()):
        logging.info("every eval split reached strict accuracy >= %.3f at step %d; stopping",
                     config.stop_at_accuracy, step)
        stopped_early = True
    if step % config.checkpoint_every == 0 or finished or stopped_early or preempted:
      manager.save_latest(step, {"params": params, "opt_state": opt_state})
    if stopped_early or preempted:
      break
  if not eval_metrics:
    eval_metrics = evaluator.evaluate(params)
  manager.close()
  return TrainResult(step=step, params=params, eval_metrics=eval_metrics, best=best,
                     stopped_early=stopped_early)


class _MetricsLog:
  """Appends JSON lines; each write is flushed so a killed run keeps its history."""

  def __init__(self, path: pathlib.Path):
    self._path = path

  def write(self, record: dict) -> None:
    with open(self._path, "a") as f:
      f.write(json.dumps(record) + "\n")


def _format_seconds(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _format_metrics(values: dict[str, float]) -> str:
  return " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                  for k, v in values.items())


def read_metrics(workdir: str | pathlib.Path) -> list[dict]:
  path = pathlib.Path(workdir) / "metrics.jsonl"
  if not path.exists():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


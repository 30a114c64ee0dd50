"""Training runs, one or many in one jitted program: `train_and_evaluate`, `train_group`.

    result = loop.train_and_evaluate(config, "runs/ff")        # one run
    results = loop.train_group([RunSpec(config_a, "runs/a"), RunSpec(config_b, "runs/b")])

A group is a list of runs whose array shapes agree (they differ only in `GROUP_FIELDS`: seed,
optimizer numbers, step budget, stop rules). Their train states are stacked on a leading runs
axis and trained by one jitted step (vmapped, or a lax.map over the runs on one CPU device:
`steps.RUNS_AXIS`); each run keeps its own workdir (config, vocab, metrics, checkpoints, best),
so evaluation and reports treat any run of a group like a run of its own.
A run that meets its stop rule, or diverges, is frozen while the others go on. Batches are a
pure function of (seed, step), and each run's step, progress record and optimizer numbers are
in its checkpoint, so a group that is killed and restarted resumes to bit-identical states.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import time
from typing import Any, Sequence

from absl import logging
import jax
import ml_collections
import numpy as np

from ssm_expressivity import configlib
from ssm_expressivity.data import pipeline
from ssm_expressivity.training import checkpoints as checkpoints_lib
from ssm_expressivity.training import devices
from ssm_expressivity.training import evaluate as evaluate_lib
from ssm_expressivity.training import objectives as objectives_lib
from ssm_expressivity.training import state as state_lib
from ssm_expressivity.training import steps as steps_lib
from ssm_expressivity.training import tensorboard as tensorboard_lib
from ssm_expressivity.training.monitor import Monitor
from ssm_expressivity.training.rundir import CheckpointError, RunDir, config_to_dict, differences

# The fields in which the runs of one program may differ: numbers the program reads as data,
# and host-side outputs (tensorboard).
GROUP_FIELDS = ("seed", "optim.learning_rate", "optim.weight_decay", "optim.b1", "optim.b2",
                "optim.eps", "optim.grad_clip_norm", "optim.warmup_steps",
                "optim.plateau_factor", "optim.plateau_patience", "num_steps", "num_epochs",
                "max_steps", "stop_at_accuracy", "early_stop_patience", "tensorboard")


class TrainingDiverged(RuntimeError):
  """The loss, parameters or optimizer state became NaN or inf; the last good checkpoint is
  kept."""


@dataclasses.dataclass
class RunSpec:
  """A run to train. Attributes:
    config / workdir: what and where.
    name: labels its log lines.
    init_from: the workdir of another run whose latest checkpoint (parameters, optimizer
      state, step) this run starts from when it has none of its own: a branch, e.g. to go on
      after a divergence with a lower learning rate. Its model and data must be this run's.
  """
  config: ml_collections.ConfigDict
  workdir: str | pathlib.Path
  name: str = ""
  init_from: str | pathlib.Path | None = None


@dataclasses.dataclass
class RunResult:
  """Attributes:
    step: optimizer steps taken.
    params: the final parameters (host arrays).
    eval_metrics: the last evaluation, {split: metrics}.
    best: the best checkpoint's record (best.json), or None.
    stopped: why the run stopped before its last step ("stop_at_accuracy", "early_stop",
      "diverged"), or None.
    diverged: the divergence message, or None.
  """
  step: int
  params: Any
  eval_metrics: dict[str, dict[str, float]]
  best: dict | None
  stopped: str | None
  diverged: str | None = None

  @property
  def stopped_early(self) -> bool:
    return self.stopped in ("stop_at_accuracy", "early_stop")


def group_key(config: ml_collections.ConfigDict) -> dict:
  """The config without GROUP_FIELDS: runs with equal keys share one program."""
  record = config_to_dict(config)
  for dotted in GROUP_FIELDS:
    node = record
    *path, last = dotted.split(".")
    for part in path:
      node = node.get(part, {})
    node.pop(last, None)
  return record


def check_group(configs: Sequence[ml_collections.ConfigDict]) -> None:
  """ValueError naming the fields that keep `configs` from sharing one program."""
  first = group_key(configs[0])
  for config in configs[1:]:
    differ = differences(first, group_key(config))
    if differ:
      raise ValueError(f"these runs cannot share one program: they differ in "
                       f"{', '.join(differ)} (only {', '.join(GROUP_FIELDS)} may differ)")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
                       stop_at_step: int | None = None,
                       init_from: str | pathlib.Path | None = None) -> RunResult:
  """Trains `config` in `workdir`, resuming from its latest checkpoint if there is one.

  stop_at_step: stop (after checkpointing) once this step is reached, as a preemption would;
    the same command without it resumes the run. init_from: see RunSpec. Raises
    TrainingDiverged on divergence.
  """
  result, = train_group([RunSpec(config, workdir, init_from=init_from)],
                        stop_at_step=stop_at_step)
  if result.diverged:
    raise TrainingDiverged(result.diverged)
  return result


def train_group(runs: Sequence[RunSpec], *, stop_at_step: int | None = None) -> list[RunResult]:
  """Trains every run of `runs` in one program (see the module docstring)."""
  configs = [spec.config for spec in runs]
  for config in configs:
    configlib.validate(config)
  check_group(configs)
  trainer = _GroupTrainer(runs)
  with contextlib.ExitStack() as stack:
    trainer.setup(stack)
    return trainer.train(stop_at_step)


@dataclasses.dataclass
class _Run:
  """Host-side record of one run of a group."""
  spec: RunSpec
  dir: RunDir
  checkpoints: checkpoints_lib.RunCheckpoints
  monitor: Monitor
  total_steps: int
  step: int = 0
  diverged: str | None = None
  window: list = dataclasses.field(default_factory=list)  # (loss, acc, lr) since the last log
  tensorboard: tensorboard_lib.EventWriter | None = None  # config.tensorboard: a mirror

  def record(self, records: list[dict]) -> None:
    """Appends metrics records to metrics.jsonl (and the TensorBoard mirror)."""
    self.dir.append_metrics(records)
    if self.tensorboard is not None:
      self.tensorboard.add_records(records)

  @property
  def label(self) -> str:
    return self.spec.name or str(self.spec.workdir)

  @property
  def done(self) -> bool:
    return (self.step >= self.total_steps or self.monitor.stopped is not None
            or self.diverged is not None)


class _GroupTrainer:
  """Trains the runs of one group (see train_group)."""

  def __init__(self, runs: Sequence[RunSpec]):
    self.specs = list(runs)
    self.config = runs[0].config
    self.objective = objectives_lib.from_config(self.config)
    self.task = pipeline.load_task(self.config, self.objective.fields)
    self.objective = self.objective.with_vocab(self.task.vocab)
    self.model = steps_lib.make_model(self.config, self.task.vocab, self.objective)
    # Build the model once abstractly: a config it cannot run fails before anything is written.
    jax.eval_shape(lambda: self.model.init(jax.random.PRNGKey(0),
                                           jax.numpy.ones((1, 4), jax.numpy.int32)))
    self.spec = state_lib.OptimizerSpec.of(self.config)
    self.primary = jax.process_index() == 0
    self.runs: list[_Run] = []

  # ---- setup ----------------------------------------------------------------------------------

  def setup(self, stack: contextlib.ExitStack) -> None:
    for spec in self.specs:
      run_dir = RunDir(spec.workdir)
      if self.primary:
        run_dir.create()
        stack.enter_context(run_dir.lock())
        _check_resumable(run_dir, spec)
        if spec.init_from is not None:
          _check_branch_source(spec)  # before config.json: a refused branch writes nothing
        run_dir.check_or_write_config(spec.config)
        run_dir.write_vocab(self.task.vocab)
      task_steps = dataclasses.replace(self.task, config=spec.config).num_steps()
      run = _Run(spec, run_dir, checkpoints_lib.RunCheckpoints(run_dir),
                 Monitor.of(spec.config), total_steps=task_steps)
      stack.callback(run.checkpoints.close)
      if self.primary and spec.config.get("tensorboard", False):
        run.tensorboard = tensorboard_lib.EventWriter(run_dir.tensorboard_dir)
        stack.callback(run.tensorboard.close)
      self.runs.append(run)
    states = [self._initial_state(run) for run in self.runs]
    self.placement = devices.place(len(self.runs), self.config.batch_size)
    # Padding runs (to fill the runs axis) are copies of the first run, never active.
    states += [states[0]] * (self.placement.num_runs - len(states))
    self.states = self.placement.put(state_lib.stack(states), self.placement.runs_sharding)
    # Per run, on the device: no step so far was non-finite. Once False, the run's state no
    # longer changes, so the host finds the last finite state when it next looks.
    self.healthy = self.placement.put(np.ones(self.placement.num_runs, bool),
                                      self.placement.runs_sharding)
    self.shared_batch = len({spec.config.seed for spec in self.specs}) == 1
    step_fn = steps_lib.make_group_train_step(
        self.model, self.objective, self.spec, self.shared_batch,
        runs_axis=steps_lib.runs_axis_method(self.placement.mesh.size, self.placement.num_runs))
    sharding = self.placement.runs_sharding
    self.step_fn = jax.jit(step_fn, donate_argnums=(0, 3),
                           out_shardings=(sharding, sharding, sharding))
    self.evaluator = evaluate_lib.Evaluator(self.model, self.objective, self.config,
                                            self.placement)

  def _initial_state(self, run: _Run) -> state_lib.TrainState:
    fresh = state_lib.init_state(run.spec.config, self.model, run.total_steps)
    fresh = jax.tree_util.tree_map(np.asarray, fresh)
    restored = run.checkpoints.restore_latest(fresh)
    branched = restored is None and run.spec.init_from is not None
    if branched:
      restored = _restore_branch(run.spec, fresh)
    if restored is None:
      if self.primary:
        run.dir.keep_metrics_until(0)
      return fresh
    step, state, meta = restored
    if step > run.total_steps and not branched:
      raise CheckpointError(
          f"{run.dir.path}: its checkpoint is at step {step}, past this config's "
          f"{run.total_steps} steps (num_steps / num_epochs / max_steps); give a new --workdir "
          "or at least that many steps")
    run.step = step
    if not branched:  # a branch keeps the state, not the other run's record
      run.monitor = Monitor.from_json(meta.get("monitor", {}), run.spec.config)
    # Optimizer numbers come from the current config (a restart may extend num_steps); the
    # plateau scale is the run's own history.
    hparams = state_lib.hparams_of(run.spec.config, run.total_steps)
    hparams["lr_scale"] = np.float32(run.monitor.lr_scale)
    state = state.replace(hparams=hparams)
    if self.primary:
      run.dir.keep_metrics_until(step)
    logging.info("%s: resumed from step %d", run.label, step)
    return state

  # ---- the loop -------------------------------------------------------------------------------

  def _active(self) -> np.ndarray:
    active = np.zeros(self.placement.num_runs, bool)
    for r, run in enumerate(self.runs):
      active[r] = not run.done and run.step == self.global_step
    return active

  def _batch(self, active: np.ndarray) -> dict[str, np.ndarray]:
    if self.shared_batch:
      seed = self.runs[0].spec.config.seed
      return self.task.train_batch(self.global_step, seed)
    sources = []
    for r in range(self.placement.num_runs):
      run = self.runs[r] if r < len(self.runs) and active[r] else None
      sources.append(None if run is None else
                     self.task.train_source(self.global_step, run.spec.config.seed))
    filler = next(s for s in sources if s is not None)
    sources = [filler if s is None else s for s in sources]
    length = max(self.task.bucket_length(d, rows) for d, rows in sources)
    return pipeline.stack_batches([pipeline.select(d, rows, self.task.fields, length)
                                   for d, rows in sources])

  def train(self, stop_at_step: int | None) -> list[RunResult]:
    config = self.config
    self.global_step = min((run.step for run in self.runs if not run.done), default=0)
    pending: list[tuple[dict, np.ndarray]] = []
    start_time, start_step = time.perf_counter(), self.global_step
    batch_sharding = self.placement.batch_sharding(per_run=not self.shared_batch)
    while True:
      active = self._active()
      if not active.any():
        waiting = [run.step for run in self.runs if not run.done and run.step > self.global_step]
        if not waiting:
          break
        self.global_step = min(waiting)
        continue
      batch = self.placement.put(self._batch(active), batch_sharding)
      self.states, self.healthy, metrics = self.step_fn(
          self.states, batch, self.placement.put(active, self.placement.runs_sharding),
          self.healthy)
      pending.append((metrics, active))
      self.global_step += 1
      for r, run in enumerate(self.runs):
        if active[r]:
          run.step += 1
      preempted = stop_at_step is not None and self.global_step >= stop_at_step
      due = self._due(active, preempted)
      if not any(due.values()):
        continue
      self._drain(pending)
      pending = []
      if due["log"]:
        rate = (self.global_step - start_step) / max(time.perf_counter() - start_time, 1e-9)
        self._log(due["log"], rate)
      if due["eval"]:
        self._evaluate(due["eval"])
      to_save = set(due["checkpoint"]) | {r for r, run in enumerate(self.runs)
                                          if active[r] and run.monitor.stopped}
      if preempted:
        to_save |= {r for r, run in enumerate(self.runs) if not run.diverged}
      if to_save:
        self._save(sorted(to_save))
      if preempted:
        break
    return self._results()

  def _due(self, active: np.ndarray, preempted: bool) -> dict[str, list[int]]:
    """Per event, the runs that have it at their new step."""
    config = self.config
    eval_every = (config.eval_every_epochs * self.task.steps_per_epoch
                  if config.eval_every_epochs > 0 else config.eval_every)
    due = {"log": [], "eval": [], "checkpoint": []}
    for r, run in enumerate(self.runs):
      if not active[r]:
        continue
      last = run.step >= run.total_steps
      if run.step % config.log_every == 0 or last or preempted:
        due["log"].append(r)
      if run.step % eval_every == 0 or last:
        due["eval"].append(r)
      if run.step % config.checkpoint_every == 0 or last:
        due["checkpoint"].append(r)
    return due

  def _drain(self, pending: list[tuple[dict, np.ndarray]]) -> None:
    """Pulls the pending steps' metrics to the host; a run whose step was not finite is
    stopped at the step before it (the device kept that state: see `healthy`)."""
    fetched = self.placement.fetch([m for m, _ in pending])
    for r, run in enumerate(self.runs):
      if run.diverged:
        continue
      steps = [m for m, (_, active) in zip(fetched, pending) if active[r]]
      first = run.step - len(steps)
      for i, metrics in enumerate(steps):
        if not metrics["finite"][r]:
          run.step = first + i
          run.window = []
          last_good = run.checkpoints.latest_steps()
          run.diverged = (
              f"{run.label}: the loss became {float(metrics['loss'][r])} or the parameters "
              f"non-finite at step {run.step + 1}; stopped. The last good checkpoint (step "
              f"{last_good[0] if last_good else 'none'}) is kept in "
              f"{run.dir.checkpoints_dir}; lower config.optim.learning_rate or set "
              "config.optim.grad_clip_norm")
          logging.error("%s", run.diverged)
          break
        run.window.append((float(metrics["loss"][r]), float(metrics["position_acc"][r]),
                           float(metrics["learning_rate"][r])))

  def _log(self, runs: list[int], rate: float) -> None:
    for r in runs:
      run = self.runs[r]
      if not run.window:
        continue
      losses, accs, lrs = (np.asarray(v) for v in zip(*run.window))
      run.window = []
      eta = (run.total_steps - run.step) / max(rate, 1e-9)
      logging.info("%s step %d/%d loss %.5f position_acc %.4f lr %.3g %.2f steps/s ETA %s",
                   run.label, run.step, run.total_steps, losses.mean(), accs.mean(), lrs[-1],
                   rate, _format_seconds(eta))
      if self.primary:
        run.record([{"step": run.step, "loss": float(losses.mean()),
                                 "train_position_acc": float(accs.mean()),
                                 "learning_rate": float(lrs[-1]), "steps_per_s": rate}])

  def _eval_sets(self, final: bool) -> dict:
    """Every eval set at a run's final evaluation, else those not in final_eval_splits."""
    final_only = set(self.config.get("final_eval_splits", ()))
    return {name: dataset for name, dataset in self.task.eval_sets.items()
            if final or name not in final_only}

  def _evaluate(self, runs: list[int]) -> None:
    final = any(self.runs[r].step >= self.runs[r].total_steps for r in runs)
    eval_sets = self._eval_sets(final)
    results = self.evaluator.evaluate(self.states.params, eval_sets, len(self.runs))
    new_best, scales, stopped = [], {}, []
    for r in runs:
      run = self.runs[r]
      if run.diverged:
        continue
      self._log_and_record(run, results[r])
      decision = run.monitor.observe(run.step, results[r])
      if decision.new_best:
        new_best.append(r)
      scales[r] = decision.lr_scale
      if decision.stop:
        logging.info("%s: stopping at step %d (%s)", run.label, run.step, decision.stop)
        stopped.append(r)
    rest = {k: v for k, v in self._eval_sets(True).items() if k not in eval_sets}
    if rest and stopped:  # a stop rule ended these runs: their final model's other splits
      extra = self.evaluator.evaluate(self.states.params, rest, len(self.runs))
      for r in stopped:
        self._log_and_record(self.runs[r], extra[r])
        self.runs[r].monitor.last_eval = {**self.runs[r].monitor.last_eval, **extra[r]}
    if new_best:
      params = self.placement.fetch(self.states.params)
      for r in new_best:
        run = self.runs[r]
        record = {"step": run.step, "split": run.monitor.split, "metric": run.monitor.metric,
                  "value": run.monitor.best_value, "metrics": run.monitor.last_eval}
        if self.primary:
          run.checkpoints.save_best(run.step, state_lib.unstack(params, r), record)
    if scales:
      self._set_lr_scales(scales)

  def _log_and_record(self, run: _Run, metrics: dict[str, dict[str, float]]) -> None:
    for split, values in metrics.items():
      logging.info("%s step %d eval %s: %s", run.label, run.step, split, _format_metrics(values))
    if self.primary:
      run.record([{"step": run.step, "split": split, **values}
                  for split, values in metrics.items()])

  def _set_lr_scales(self, scales: dict[int, float]) -> None:
    current = self.placement.fetch(self.states.hparams["lr_scale"])
    if all(np.float32(v) == current[r] for r, v in scales.items()):
      return
    for r, value in scales.items():
      current[r] = np.float32(value)
    hparams = dict(self.states.hparams)
    hparams["lr_scale"] = self.placement.put(current, self.placement.runs_sharding)
    self.states = self.states.replace(hparams=hparams)

  def _save(self, runs: list[int]) -> None:
    host = self.placement.fetch(self.states)
    for r in runs:
      run = self.runs[r]
      if run.diverged or not self.primary:
        continue
      run.checkpoints.save_latest(run.step, state_lib.unstack(host, r),
                                  {"monitor": run.monitor.to_json()})

  def _results(self) -> list[RunResult]:
    # A run restored after its end that was saved before any evaluation, or evaluated before
    # its config added an eval split (rundir.added_eval_splits).
    missing = [r for r, run in enumerate(self.runs)
               if not set(self.task.eval_sets) <= set(run.monitor.last_eval or {})]
    if missing:
      results = self.evaluator.evaluate(self.states.params, self.task.eval_sets, len(self.runs))
      for r in missing:
        self.runs[r].monitor.last_eval = results[r]
    params = self.placement.fetch(self.states.params)
    out = []
    for r, run in enumerate(self.runs):
      best = run.dir.read_best() if self.primary else None
      out.append(RunResult(step=run.step, params=state_lib.unstack(params, r),
                           eval_metrics=run.monitor.last_eval, best=best,
                           stopped="diverged" if run.diverged else run.monitor.stopped,
                           diverged=run.diverged))
    return out


def _check_resumable(run_dir: RunDir, spec: RunSpec) -> None:
  """CheckpointError, before anything is written, for a workdir that must not be resumed."""
  run_dir.read_best()  # a corrupt best.json is an error, never "no best yet"
  if checkpoints_lib.latest_steps(run_dir):
    return
  logged = [r.get("step", 0) for r in run_dir.read_metrics()]
  if logged and max(logged) > spec.config.checkpoint_every and run_dir.has_run():
    raise CheckpointError(
        f"{run_dir.path}/metrics.jsonl records steps up to {max(logged)} but "
        f"{run_dir.checkpoints_dir} holds no usable checkpoint (deleted?); nothing was "
        "changed. Use a new --workdir, or delete metrics.jsonl to start this run over")


def _check_branch_source(spec: RunSpec) -> RunDir:
  """The RunDir of spec.init_from; ValueError unless it is another run of this model and data."""
  source = RunDir(spec.init_from)
  if pathlib.Path(source.path).resolve() == pathlib.Path(spec.workdir).resolve():
    raise ValueError("--init_from names the run's own workdir; give another run's workdir")
  mine, theirs = config_to_dict(spec.config), source.read_config_dict()
  differ = [d for d in differences(theirs, mine)
            if d.split(".")[0] in ("model", "data", "objective", "loss", "train_on_padding",
                               "output_width", "loss_average", "output_head")]
  if differ:
    raise ValueError(f"--init_from={source.path} is a run of another model or data (fields "
                     f"that differ: {', '.join(differ)})")
  return source


def _restore_branch(spec: RunSpec, template: state_lib.TrainState):
  """(step, state, meta) of the latest checkpoint of spec.init_from, checked to fit."""
  source = _check_branch_source(spec)
  restored = checkpoints_lib.restore_latest(source, template)
  if restored is None:
    raise CheckpointError(f"--init_from={source.path} holds no checkpoint to start from")
  step = restored[0]
  RunDir(spec.workdir).write_json("init_from.json", {"workdir": str(source.path), "step": step})
  logging.info("%s: starting from step %d of %s", spec.name or spec.workdir, step, source.path)
  return restored


def _format_seconds(seconds: float) -> str:
  seconds = int(seconds)
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _format_metrics(values: dict[str, float]) -> str:
  return " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                  for k, v in values.items())

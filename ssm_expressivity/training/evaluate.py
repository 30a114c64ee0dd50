"""Evaluation of every run of a group on its eval sets, and of a saved run at any lengths.

    evaluator = Evaluator(model, objective, config, placement)
    per_run = evaluator.evaluate(stacked_params, task.eval_sets)   # [{split: metrics}] per run
    evaluate_run("runs/ff", [(1024, 1024)], num_words=200)

Batches hold `config.eval_batch_size` strings in the split's order, fewer where that would
pass `config.eval_batch_tokens` positions over all runs of the group (0: no cap), so any length
whose single string fits in memory can be evaluated; each batch is scored as padded to its own
longest word (what `train_on_padding` objectives count). Metrics are summed per batch on the device (training.objectives.row_sums); only
a few numbers per run come back to the host.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import time
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ssm_expressivity import data as data_lib
from ssm_expressivity.data import pipeline
from ssm_expressivity.training import checkpoints
from ssm_expressivity.training import devices
from ssm_expressivity.training import objectives as objectives_lib
from ssm_expressivity.training import steps as steps_lib
from ssm_expressivity.training.rundir import CheckpointError, RunDir

# Evaluations slower than this log their progress.
_PROGRESS_SECONDS = 30.0
# Most positions of one evaluation window (num_words x length): beyond this the evaluation set
# itself would not fit in memory.
MAX_EVAL_POSITIONS = 200_000_000


class Evaluator:
  """Strict / per-position accuracy, loss (and close accuracy) per run and eval split."""

  def __init__(self, model, objective: objectives_lib.Objective,
               config: ml_collections.ConfigDict, placement: devices.Placement):
    self._objective = objective
    self._config = config
    self._placement = placement
    self._step = jax.jit(steps_lib.make_group_eval_step(model, objective))
    self._arrays: dict[int, tuple[data_lib.Dataset, dict[str, np.ndarray]]] = {}

  def _eval_arrays(self, dataset: data_lib.Dataset) -> dict[str, np.ndarray]:
    key = id(dataset)
    if key not in self._arrays:  # top_close is computed once per set, not per evaluation
      self._arrays[key] = (dataset, self._objective.eval_arrays(dataset))
    return self._arrays[key][1]

  def rows_per_batch(self, length: int, num_runs: int) -> int:
    rows = self._config.eval_batch_size
    if self._config.eval_batch_tokens > 0:
      rows = min(rows, self._config.eval_batch_tokens // max(length * num_runs, 1))
    return self._placement.round_rows(max(rows, 1))

  def evaluate_dataset(self, params: Any, dataset: data_lib.Dataset,
                       num_runs: int) -> list[dict[str, float]]:
    arrays = self._eval_arrays(dataset)
    n, length = dataset.tokens.shape
    rows = self.rows_per_batch(length, self._placement.num_runs)
    totals: dict[str, np.ndarray] = {}
    start_time = time.perf_counter()
    last_report = start_time
    sharding = self._placement.batch_sharding(per_run=False)
    for start in range(0, max(n, 1), rows):
      index = np.arange(start, start + rows)
      index = np.where(index < n, index, -1)
      batch = pipeline.select_arrays(arrays, dataset.lengths, index, length)
      sums = self._placement.fetch(self._step(params, self._placement.put(batch, sharding)))
      for k, v in sums.items():
        totals[k] = totals.get(k, 0.0) + np.asarray(v, np.float64)
      now = time.perf_counter()
      if now - last_report > _PROGRESS_SECONDS:
        logging.info("evaluating %s: %d / %d strings (%.0f s)", dataset.split,
                     min(start + rows, n), n, now - start_time)
        last_report = now
    word_lengths = dataset.lengths - (0 if dataset.next_token is None else 1)
    results = []
    for r in range(num_runs):
      metrics = self._objective.finish({k: v[r] for k, v in totals.items()})
      metrics.update({"num_strings": int(n),
                      "min_length": int(word_lengths.min()) if n else 0,
                      "max_length": int(word_lengths.max()) if n else 0})
      results.append(metrics)
    return results

  def evaluate(self, params: Any, eval_sets: dict[str, data_lib.Dataset],
               num_runs: int) -> list[dict[str, dict[str, float]]]:
    """[{split: metrics}] for the first `num_runs` runs of the stacked `params`."""
    per_split = {name: self.evaluate_dataset(params, dataset, num_runs)
                 for name, dataset in eval_sets.items()}
    return [{name: per_split[name][r] for name in eval_sets} for r in range(num_runs)]


# ---- a saved run -------------------------------------------------------------------------------


def parse_lengths(text: str) -> list[tuple[int, int]]:
  """"64,100-200,1000" -> [(64, 64), (100, 200), (1000, 1000)]; ValueError when malformed."""
  windows = []
  for part in [p.strip() for p in text.split(",") if p.strip()]:
    match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
    if not match:
      raise ValueError(f"--lengths: {part!r} is not a length or a range like 100-200")
    lo = int(match.group(1))
    hi = int(match.group(2) or lo)
    if lo < 1 or hi < lo:
      raise ValueError(f"--lengths: {part!r} must satisfy 1 <= low <= high")
    windows.append((lo, hi))
  if not windows:
    raise ValueError("--lengths is empty; give lengths like 100-200,400")
  return windows


@dataclasses.dataclass
class SavedRun:
  """A run restored from its workdir."""
  run: RunDir
  config: ml_collections.ConfigDict
  vocab: dict
  objective: objectives_lib.Objective
  model: Any
  step: int
  params: Any


def load_run(workdir: str | pathlib.Path, which: str = "latest") -> SavedRun:
  """The config, model and parameters of the run in `workdir` ("latest" or "best")."""
  from ssm_expressivity import configlib  # pylint: disable=g-import-not-at-top
  run = RunDir(workdir)
  config = run.read_config()
  try:
    configlib.validate(config)
  except (ValueError, KeyError, AttributeError) as e:
    raise CheckpointError(f"{run.path}/config.json is not a valid config ({e})") from None
  vocab = run.read_vocab()
  objective = objectives_lib.from_config(config).with_vocab(vocab)
  model = steps_lib.make_model(config, vocab, objective)
  step, params = checkpoints.load_params(run, which)
  target = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.ones((1, 4), jnp.int32)))
  shapes = jax.tree_util.tree_map(lambda x: tuple(x.shape), params)
  if shapes != jax.tree_util.tree_map(lambda x: tuple(x.shape), target):
    raise CheckpointError(f"the {which} checkpoint (step {step}) in {run.path} does not match "
                          "the model of its config")
  return SavedRun(run, config, vocab, objective, model, step, params)


def evaluate_run(workdir: str | pathlib.Path, windows: list[tuple[int, int]] | None = None, *,
                 num_words: int = 500, seed: int = 12345, which: str = "latest",
                 params_override: dict | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
  """(checkpoint step, {split: metrics}) of a saved run per length window.

  windows None: the run's own eval splits. Otherwise `num_words` fresh words per window (lengths
  uniform over the language's valid lengths in the window), drawn from `seed`, with the run's
  language parameters updated by `params_override` (e.g. {"p_ignore": 0.98}).
  """
  saved = load_run(workdir, which)
  config = saved.config
  if windows is None:
    if params_override:
      raise ValueError("language parameters can only change for new lengths (--lengths)")
    eval_sets = pipeline.load_task(config, saved.objective.fields, include_train=False).eval_sets
  else:
    for lo, hi in windows:
      if num_words * hi > MAX_EVAL_POSITIONS:
        raise ValueError(f"--lengths {lo}-{hi} with {num_words} words is {num_words * hi:,} "
                         f"positions, over the limit of {MAX_EVAL_POSITIONS:,}; use fewer "
                         "--num_words or shorter lengths")
    words_params = dict(pipeline.language_params(config))
    words_params.update(params_override or {})
    eval_sets = {}
    for index, (lo, hi) in enumerate(windows):
      name = f"{lo}-{hi}" if lo != hi else str(lo)
      eval_sets[name] = data_lib.sample_dataset(
          config.data.language, words_params, seed + index, num_words, lo, hi, split=name,
          input_mode=config.data.label_mode)
  pipeline.task_for_evaluation(config, saved.objective.fields, saved.vocab, eval_sets)
  placement = devices.place(num_runs=1, batch_size=1)
  evaluator = Evaluator(saved.model, saved.objective, config, placement)
  params = placement.put(jax.tree_util.tree_map(lambda x: np.asarray(x)[None], saved.params),
                         placement.runs_sharding)
  return saved.step, evaluator.evaluate(params, eval_sets, num_runs=1)[0]


def format_table(results: dict[str, dict[str, Any]], title: str = "") -> str:
  """A markdown table of per-split metrics."""
  columns = ["strict_acc", "position_acc", "close_acc"]
  columns = [c for c in columns if any(c in r for r in results.values())]
  lines = [f"### {title}", ""] if title else []
  lines.append("| split | lengths | strings | " + " | ".join(columns) + " |")
  lines.append("|---|---|---|" + "---|" * len(columns))
  for name, r in results.items():
    cells = [f"{100 * r[c]:.2f}%" if c in r and r[c] == r[c] else "-" for c in columns]
    lines.append(f"| {name} | {r['min_length']}-{r['max_length']} | {r['num_strings']} | "
                 + " | ".join(cells) + " |")
  return "\n".join(lines)


def config_summary(config: ml_collections.ConfigDict) -> str:
  m = config.model
  extras = " ".join(f"{k}={m[k]}" for k in ("gate",) if k in m)
  return (f"{config.data.language} {dict(config.data.params)} | {m.name} layers={m.num_layers} "
          f"d_model={m.d_model} {extras}").rstrip()

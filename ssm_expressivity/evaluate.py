"""Length-generalization evaluation of a saved run, at any lengths a user asks for."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ssm_expressivity import checkpoints
from ssm_expressivity import data
from ssm_expressivity import run_data
from ssm_expressivity import steps as steps_lib


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


def load_vocab(workdir: pathlib.Path) -> dict:
  path = workdir / run_data.VOCAB_FILE
  if not path.exists():
    raise checkpoints.CheckpointError(f"{path} is missing: {workdir} holds no finished setup "
                                      "of a run")
  try:
    return json.loads(path.read_text())
  except (OSError, json.JSONDecodeError) as e:
    raise checkpoints.CheckpointError(f"{path} is corrupt: {e}") from e


def load_run(workdir: str | pathlib.Path, which: str = "latest"):
  """(config, model, params) of the run in `workdir` ("latest" or "best" checkpoint)."""
  config, _, model, params = _restore(pathlib.Path(workdir), which)
  return config, model, params


def _restore(workdir: pathlib.Path, which: str):
  """(config, vocab, model, params) of the run in `workdir`."""
  config = checkpoints.read_config(workdir)
  vocab = load_vocab(workdir)
  task = run_data.task_for_evaluation(config, vocab, {})
  model = steps_lib.make_model(config, task)
  tokens = jnp.ones((1, 4), jnp.int32)
  target = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), tokens))
  target = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), target)
  _, params = checkpoints.load_params(workdir, target, which)
  return config, vocab, model, params


def evaluate_run(workdir: str | pathlib.Path, windows: list[tuple[int, int]] | None = None, *,
                 num_words: int = 500, seed: int = 12345, which: str = "latest",
                 params_override: dict | None = None) -> dict[str, dict[str, Any]]:
  """Strict / per-position accuracy of a saved run per length window.

  windows None: the run's own eval splits. Otherwise `num_words` fresh words per window (lengths
  uniform over the language's valid lengths in the window), drawn from `seed`, with the run's
  language parameters updated by `params_override` (e.g. {"p_ignore": 0.98}).
  """
  config, vocab, model, params = _restore(pathlib.Path(workdir), which)
  if windows is None:
    eval_sets = run_data.load_task(config, include_train=False).eval_sets
  else:
    words_params = dict(run_data.language_params(config))
    words_params.update(params_override or {})
    eval_sets = {}
    for index, (lo, hi) in enumerate(windows):
      name = f"{lo}-{hi}" if lo != hi else str(lo)
      eval_sets[name] = data.sample_dataset(
          config.data.language, words_params, seed + index, num_words, lo, hi, split=name,
          input_mode=config.data.label_mode)
  task = run_data.task_for_evaluation(config, vocab, eval_sets)
  evaluator = steps_lib.Evaluator(model, config, task)
  return evaluator.evaluate(params)


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


def save_results(workdir: pathlib.Path, results: dict, name: str) -> pathlib.Path:
  path = workdir / f"{name}.json"
  tmp = path.with_suffix(".tmp")
  tmp.write_text(json.dumps(results, indent=2))
  tmp.replace(path)
  (workdir / f"{name}.md").write_text(format_table(results, name) + "\n")
  return path


def config_summary(config: ml_collections.ConfigDict) -> str:
  m = config.model
  return (f"{config.data.language} {dict(config.data.params)} | {m.name} layers={m.num_layers} "
          f"d_model={m.d_model} gate={m.get('gate', '-')}")

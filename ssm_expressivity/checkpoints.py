"""A run's checkpoints and config on disk (orbax), with clear errors for what users get wrong."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp

CONFIG_FILE = "config.json"
BEST_FILE = "best.json"
# Fields a restart may change without making it a different run.
RESUMABLE_FIELDS = ("num_steps", "log_every", "eval_every", "checkpoint_every",
                    "eval_batch_size", "stop_at_accuracy")


class CheckpointError(RuntimeError):
  """A checkpoint is missing, corrupt, or belongs to a different config."""


def config_to_dict(config: ml_collections.ConfigDict) -> dict:
  return json.loads(config.to_json_best_effort())


def check_or_write_config(workdir: pathlib.Path, config: ml_collections.ConfigDict) -> None:
  """Writes config.json, or checks that the run already in `workdir` has the same config."""
  path = workdir / CONFIG_FILE
  new = config_to_dict(config)
  if path.exists():
    try:
      old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
      raise CheckpointError(f"{path} is unreadable ({e}); use a new --workdir") from e
    differences = sorted(_differences(old, new))
    differences = [d for d in differences if d not in RESUMABLE_FIELDS]
    if differences:
      raise CheckpointError(
          f"{workdir} holds a run of a different config (fields that differ: "
          f"{', '.join(differences)}); use a new --workdir or the same config to resume")
  _atomic_write(path, json.dumps(new, indent=2, sort_keys=True))


def read_config(workdir: str | pathlib.Path) -> ml_collections.ConfigDict:
  path = pathlib.Path(workdir) / CONFIG_FILE
  if not path.exists():
    raise CheckpointError(f"{workdir} holds no run ({CONFIG_FILE} is missing); train first with "
                          f"python -m experiments.train --config=... --workdir={workdir}")
  try:
    return ml_collections.ConfigDict(json.loads(path.read_text()))
  except (OSError, json.JSONDecodeError) as e:
    raise CheckpointError(f"{path} is corrupt: {e}") from e


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
  """Dotted names of the fields that differ between two config dicts."""
  if isinstance(old, dict) and isinstance(new, dict):
    out = []
    for key in sorted(set(old) | set(new)):
      out += _differences(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
    return out
  if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
    old, new = list(old), list(new)
  same_nan = isinstance(old, float) and isinstance(new, float) and old != old and new != new
  return [] if old == new or same_nan else [prefix or "<config>"]


def _atomic_write(path: pathlib.Path, text: str) -> None:
  tmp = path.with_suffix(path.suffix + ".tmp")
  tmp.write_text(text)
  os.replace(tmp, path)


def _manager(directory: pathlib.Path, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                         enable_async_checkpointing=False)
  return ocp.CheckpointManager(directory.absolute(), options=options)


def restore(manager: ocp.CheckpointManager, step: int, target: Any, where: pathlib.Path) -> Any:
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target)
  try:
    return manager.restore(step, args=ocp.args.StandardRestore(abstract))
  except Exception as e:  # orbax raises many types for unreadable files
    raise CheckpointError(
        f"the checkpoint at {where / str(step)} is corrupt or does not match this model "
        f"({type(e).__name__}: {str(e)[:300]}); nothing was deleted") from e


class RunCheckpoints:
  """Latest checkpoint (checkpoints/) and best checkpoint (best/ + best.json) of a run."""

  def __init__(self, workdir: pathlib.Path):
    self._workdir = workdir
    self._latest = _manager(workdir / "checkpoints", keep=1)
    self._best = _manager(workdir / "best", keep=1)

  def latest_step(self) -> int | None:
    return self._latest.latest_step()

  def restore_latest(self, target: Any) -> tuple[int, Any] | None:
    step = self._latest.latest_step()
    if step is None:
      return None
    return step, restore(self._latest, step, target, self._workdir / "checkpoints")

  def save_latest(self, step: int, state: Any) -> None:
    if self._latest.latest_step() == step:
      return
    self._latest.save(step, args=ocp.args.StandardSave(state))
    self._latest.wait_until_finished()

  def best_record(self) -> dict | None:
    path = self._workdir / BEST_FILE
    if not path.exists():
      return None
    try:
      return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
      return None

  def maybe_save_best(self, step: int, params: Any, eval_metrics: dict, split: str,
                      best: dict | None) -> dict | None:
    if split not in eval_metrics:
      split = next(iter(eval_metrics))
    value = eval_metrics[split]["strict_acc"]
    if best is not None and value <= best["value"]:
      return best
    self._best.save(step, args=ocp.args.StandardSave({"params": params}), force=True)
    self._best.wait_until_finished()
    record = {"step": step, "split": split, "value": value, "metrics": eval_metrics}
    _atomic_write(self._workdir / BEST_FILE, json.dumps(record, indent=2))
    return record

  def close(self) -> None:
    self._latest.close()
    self._best.close()


def load_params(workdir: pathlib.Path, target_params: Any,
                which: str = "latest") -> tuple[int, Any]:
  """(step, params) of the latest or best checkpoint of the run in `workdir`."""
  sub = {"latest": "checkpoints", "best": "best"}[which]
  directory = workdir / sub
  if not directory.is_dir():
    raise CheckpointError(f"{directory} does not exist: the run has no {which} checkpoint")
  manager = _manager(directory, keep=1)
  try:
    step = manager.latest_step()
    if step is None:
      raise CheckpointError(f"{directory} holds no checkpoint")
    if which == "latest":
      # The latest checkpoint also holds the optimizer state; restore params only.
      try:
        restored = manager.restore(step, args=ocp.args.StandardRestore(None))
      except Exception as e:
        raise CheckpointError(f"the checkpoint at {directory / str(step)} is corrupt "
                              f"({type(e).__name__}: {str(e)[:300]})") from e
      params = restored["params"]
      _check_structure(params, target_params, directory / str(step))
      return step, params
    return step, restore(manager, step, {"params": target_params}, directory)["params"]
  finally:
    manager.close()


def _check_structure(params: Any, target: Any, where: pathlib.Path) -> None:
  got = jax.tree_util.tree_map(lambda x: tuple(x.shape), params)
  want = jax.tree_util.tree_map(lambda x: tuple(x.shape), target)
  if got != want:
    raise CheckpointError(f"the checkpoint at {where} does not match the model of its config")

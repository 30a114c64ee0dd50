"""A run's orbax checkpoints: the latest states (checkpoints/) and the best parameters (best/).

Each checkpoint holds the train state (`state`) and a JSON item (`meta`) with the run's
progress record (best score so far, evaluations without improvement, why it stopped) and a
SHA-256 digest of every array, checked on restore: a checkpoint whose bytes changed on disk is
never used silently. The latest two steps are kept, so a corrupt newest step falls back to the
one before it, saying so.
"""

from __future__ import annotations

import hashlib
from typing import Any

from absl import logging
from flax import serialization
import jax
import numpy as np
import orbax.checkpoint as ocp

from ssm_expressivity.training.rundir import CheckpointError, RunDir

KEEP_LATEST = 2


def digest(tree: Any) -> str:
  """SHA-256 over every leaf's path, dtype, shape and bytes."""
  h = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    array = np.ascontiguousarray(np.asarray(leaf))
    h.update(jax.tree_util.keystr(path).encode())
    h.update(f"{array.dtype}{array.shape}".encode())
    h.update(array.tobytes())
  return h.hexdigest()


def _manager(directory, keep: int) -> ocp.CheckpointManager:
  # Host arrays, written by process 0 alone and read by each process on its own: each process
  # is its own orbax "group", so no save or restore waits for the other processes.
  me = jax.process_index()
  if me == 0:
    directory.mkdir(parents=True, exist_ok=True)
  options = ocp.CheckpointManagerOptions(
      max_to_keep=keep, create=False, enable_async_checkpointing=False,
      multiprocessing_options=ocp.options.MultiprocessingOptions(primary_host=me,
                                                                 active_processes={me}))
  return ocp.CheckpointManager(directory.absolute(), options=options)


def _committed(step_dir) -> bool:
  """A step directory that orbax finished writing (its items and its metadata are there)."""
  return all((step_dir / name).exists() for name in ("state", "meta", "_CHECKPOINT_METADATA"))


def _steps(directory) -> list[int]:
  """Steps with a committed checkpoint, newest first (half-written ones are skipped)."""
  if not directory.is_dir():
    return []
  steps = [int(child.name) for child in directory.iterdir()
           if child.name.isdigit() and child.is_dir() and _committed(child)]
  return sorted(steps, reverse=True)


def set_aside_unusable(directory) -> list[str]:
  """Moves step directories that hold no committed checkpoint (empty, half-written) into
  `<directory>/.unusable/`, so that orbax neither counts them as steps (which would make it
  skip a save or delete a good older step to keep them) nor reads them. Returns their names."""
  if not directory.is_dir():
    return []
  moved = []
  for child in sorted(directory.iterdir()):
    if child.name.isdigit() and child.is_dir() and not _committed(child):
      aside = directory / ".unusable"
      aside.mkdir(exist_ok=True)
      target = aside / child.name
      suffix = 0
      while target.exists():
        suffix += 1
        target = aside / f"{child.name}.{suffix}"
      child.rename(target)
      moved.append(child.name)
  if moved:
    logging.warning("%s: step directories %s hold no finished checkpoint; moved to %s",
                    directory, ", ".join(moved), directory / ".unusable")
  return moved


def _restore(directory, step: int, template: Any | None) -> tuple[Any, dict]:
  """(state dict, meta) of `step`; CheckpointError when unreadable or its digest differs."""
  manager = _manager(directory, keep=KEEP_LATEST)
  where = directory / str(step)
  try:
    state_args = (ocp.args.StandardRestore(None) if template is None else
                  ocp.args.StandardRestore(jax.tree_util.tree_map(
                      ocp.utils.to_shape_dtype_struct, template)))
    restored = manager.restore(step, args=ocp.args.Composite(state=state_args,
                                                             meta=ocp.args.JsonRestore()))
  except Exception as e:  # orbax raises many types for unreadable files
    first_line = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
    raise CheckpointError(f"the checkpoint at {where} is unreadable ({type(e).__name__}: "
                          f"{first_line})") from None
  finally:
    manager.close()
  state, meta = restored["state"], dict(restored["meta"] or {})
  state = jax.tree_util.tree_map(np.asarray, state)
  if meta.get("digest") != digest(state):
    raise CheckpointError(f"the checkpoint at {where} does not match its digest: its files "
                          "changed after it was written")
  return state, meta


class RunCheckpoints:
  """Latest and best checkpoints of one run."""

  def __init__(self, run: RunDir):
    self._run = run
    self._latest = None
    self._best = None
    if jax.process_index() == 0:
      for directory in (run.checkpoints_dir, run.best_dir):
        set_aside_unusable(directory)

  def _latest_manager(self) -> ocp.CheckpointManager:
    if self._latest is None:
      self._latest = _manager(self._run.checkpoints_dir, keep=KEEP_LATEST)
    return self._latest

  def latest_steps(self) -> list[int]:
    return _steps(self._run.checkpoints_dir)

  def restore_latest(self, template: Any) -> tuple[int, Any, dict] | None:
    """See `restore_latest`."""
    return restore_latest(self._run, template)

  def save_latest(self, step: int, state: Any, meta: dict) -> None:
    tree = jax.tree_util.tree_map(np.asarray, serialization.to_state_dict(state))
    manager = self._latest_manager()
    if step in manager.all_steps():
      return
    manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(tree), meta=ocp.args.JsonSave({**meta,
                                                                   "digest": digest(tree)})))
    manager.wait_until_finished()

  def save_best(self, step: int, params: Any, record: dict) -> None:
    """Saves `params` as the best checkpoint, then its record (best.json)."""
    if self._best is None:
      self._best = _manager(self._run.best_dir, keep=1)
    tree = jax.tree_util.tree_map(np.asarray, {"params": params})
    self._best.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(tree), meta=ocp.args.JsonSave({"digest": digest(tree)})),
                    force=True)
    self._best.wait_until_finished()
    self._run.write_best(record)

  def close(self) -> None:
    for manager in (self._latest, self._best):
      if manager is not None:
        manager.close()
    self._latest = self._best = None


def latest_steps(run: RunDir) -> list[int]:
  """The committed latest-checkpoint steps of `run`, newest first."""
  return _steps(run.checkpoints_dir)


def restore_latest(run: RunDir, template: Any) -> tuple[int, Any, dict] | None:
  """(step, state, meta) of the newest readable latest checkpoint of `run`, None when there
  is none. Reads only.

  A newest step that is unreadable or fails its digest is skipped with a warning for the one
  before it; CheckpointError when checkpoints exist but none is usable.
  """
  template_dict = serialization.to_state_dict(template)
  errors = []
  for step in _steps(run.checkpoints_dir):
    try:
      state, meta = _restore(run.checkpoints_dir, step, template_dict)
    except CheckpointError as e:
      errors.append(str(e))
      logging.warning("%s; trying an older checkpoint", e)
      continue
    if errors:
      logging.warning("resuming %s from step %d: the newer checkpoint is unusable", run.path,
                      step)
    return step, serialization.from_state_dict(template, state), meta
  if errors:
    raise CheckpointError(f"no usable checkpoint in {run.checkpoints_dir}: "
                          f"{'; '.join(errors)}; nothing was deleted")
  return None


def load_params(run: RunDir, which: str = "latest") -> tuple[int, Any]:
  """(step, params) of the latest or best checkpoint of `run` (digest checked; a corrupt newest
  latest step falls back to the one before it, with a warning)."""
  directory = {"latest": run.checkpoints_dir, "best": run.best_dir}[which]
  steps = _steps(directory)
  if not steps:
    raise CheckpointError(f"{directory} holds no {which} checkpoint of a finished save")
  errors = []
  for step in steps:
    try:
      state, _ = _restore(directory, step, None)
    except CheckpointError as e:
      errors.append(str(e))
      continue
    if errors:
      logging.warning("%s; using step %d instead", errors[0], step)
    return step, state["params"]
  raise CheckpointError("; ".join(errors) + "; nothing was deleted")

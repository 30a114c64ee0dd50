"""The one owner of a run's workdir: every file a run writes goes through `RunDir`.

    run = RunDir("runs/ff")
    run.check_or_write_config(config)        # a restart must use the same config
    run.append_metrics([{"step": 100, "loss": 0.1}])

A workdir holds:
  config.json          the config it was started with
  vocab.json           the symbol tables the embedding and the head are indexed by
  metrics.jsonl        one JSON record per log line and per evaluation (one set per step)
  checkpoints/<step>/  the latest checkpoints (orbax; training.checkpoints)
  best/<step>/ + best.json   the checkpoint that scored best on config.best_split
  eval_*.json / .md / .png   evaluations made later (experiments.evaluate)
  report.md, *.png     reports and figures (ssm_expressivity.figures)
  tensorboard/         event files mirroring metrics.jsonl (config.tensorboard)
Every write is atomic (a temporary file renamed over the old one), so a killed process never
leaves half a file. `lock()` keeps two processes from training in one workdir at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
import tempfile
from typing import Any, Iterable, Iterator

import ml_collections

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
METRICS_FILE = "metrics.jsonl"
BEST_FILE = "best.json"
LOCK_FILE = ".lock"
# Fields a restart may change without making it a different run.
RESUMABLE_FIELDS = ("num_steps", "num_epochs", "max_steps", "log_every", "eval_every",
                    "eval_every_epochs", "checkpoint_every", "eval_batch_size", "eval_batch_tokens",
                    "stop_at_accuracy", "early_stop_patience", "data.cache_dir",
                    "tensorboard", "final_eval_splits")


class CheckpointError(RuntimeError):
  """A workdir or checkpoint is missing, corrupt, locked, or belongs to a different config."""


def atomic_write(path: pathlib.Path, data: str | bytes) -> None:
  """Writes `data` to `path` through a temporary file in the same directory and a rename."""
  path = pathlib.Path(path)
  handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                       delete=False)
  try:
    with handle:
      handle.write(data.encode() if isinstance(data, str) else data)
      handle.flush()
      os.fsync(handle.fileno())
    os.replace(handle.name, path)
  except BaseException:
    pathlib.Path(handle.name).unlink(missing_ok=True)
    raise


def config_to_dict(config: ml_collections.ConfigDict | dict) -> dict:
  if isinstance(config, dict):
    return config
  return json.loads(config.to_json_best_effort())


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
  """Dotted names of the fields that differ between two config dicts."""
  if isinstance(old, dict) and isinstance(new, dict):
    out = []
    for key in sorted(set(old) | set(new)):
      out += differences(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
    return out
  if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
    old, new = list(old), list(new)
  same_nan = isinstance(old, float) and isinstance(new, float) and old != old and new != new
  return [] if old == new or same_nan else [prefix or "<config>"]


def added_eval_splits(old: dict, new: dict) -> set[str]:
  """The fields in which `new` only adds evaluation splits to `old`: data.eval_splits grown
  (none dropped) and the added splits' sizes. Training never reads an added split, nor do
  the stop rules without stop_at_accuracy (which asks every split), so such a run resumes and
  is evaluated on the new splits too."""
  old_data, new_data = old.get("data") or {}, new.get("data") or {}
  before = list(old_data.get("eval_splits") or [])
  after = list(new_data.get("eval_splits") or [])
  added = [s for s in after if s not in before]
  if not added or any(s not in after for s in before) or new.get("stop_at_accuracy", 0) > 0:
    return set()
  return {"data.eval_splits"} | {f"data.sizes.{s}" for s in added}


class RunDir:
  """The files of one run's workdir (see the module docstring)."""

  def __init__(self, path: str | os.PathLike):
    path = pathlib.Path(path)
    if str(path) in ("", "."):
      raise CheckpointError("the workdir must name a directory (got the current directory); "
                            "give --workdir=runs/<name>")
    self.path = path

  def __repr__(self) -> str:
    return f"RunDir({str(self.path)!r})"

  # ---- layout --------------------------------------------------------------------------------

  @property
  def checkpoints_dir(self) -> pathlib.Path:
    return self.path / "checkpoints"

  @property
  def best_dir(self) -> pathlib.Path:
    return self.path / "best"

  @property
  def tensorboard_dir(self) -> pathlib.Path:
    return self.path / "tensorboard"

  def file(self, name: str) -> pathlib.Path:
    return self.path / name

  def has_run(self) -> bool:
    return (self.path / CONFIG_FILE).exists()

  def create(self) -> None:
    """Makes the directory; a clear error when the path is a file or not writable."""
    if self.path.exists() and not self.path.is_dir():
      raise CheckpointError(f"the workdir {self.path} is a file, not a directory")
    try:
      self.path.mkdir(parents=True, exist_ok=True)
      probe = tempfile.NamedTemporaryFile(dir=self.path, prefix=".write-test-", delete=True)
      probe.close()
    except OSError as e:
      raise CheckpointError(f"cannot write in the workdir {self.path}: {e.strerror or e}") from e

  # ---- config and vocab ----------------------------------------------------------------------

  def check_or_write_config(self, config: ml_collections.ConfigDict | dict) -> None:
    """Writes config.json, or checks that the run already here has the same config (fields in
    RESUMABLE_FIELDS may differ; the new values are recorded)."""
    new = config_to_dict(config)
    path = self.path / CONFIG_FILE
    if path.exists():
      old = self.read_config_dict()
      resumable = set(RESUMABLE_FIELDS) | added_eval_splits(old, new)
      changed = [d for d in differences(old, new) if d not in resumable]
      if changed:
        raise CheckpointError(
            f"{self.path} holds a run of a different config (fields that differ: "
            f"{', '.join(changed)}); use a new --workdir or the same config to resume")
    elif self.checkpoints_dir.exists() or self.best_dir.exists():
      raise CheckpointError(
          f"{self.path} has checkpoints but no {CONFIG_FILE}: which config they belong to is "
          "unknown, so nothing is written; restore config.json or use a new --workdir")
    atomic_write(path, json.dumps(new, indent=2, sort_keys=True))

  def read_config_dict(self) -> dict:
    path = self.path / CONFIG_FILE
    if not path.exists():
      raise CheckpointError(f"{self.path} holds no run ({CONFIG_FILE} is missing); train first "
                            f"with python -m experiments.train --config=... "
                            f"--workdir={self.path}")
    try:
      value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
      raise CheckpointError(f"{path} is corrupt ({e}); nothing was changed") from e
    if not isinstance(value, dict):
      raise CheckpointError(f"{path} is corrupt (not a JSON object); nothing was changed")
    return value

  def read_config(self) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(self.read_config_dict())

  def write_vocab(self, vocab: dict) -> None:
    atomic_write(self.path / VOCAB_FILE, json.dumps(vocab, indent=2))

  def read_vocab(self) -> dict:
    path = self.path / VOCAB_FILE
    if not path.exists():
      raise CheckpointError(f"{path} is missing: {self.path} holds no finished setup of a run")
    try:
      vocab = json.loads(path.read_text())
      if not isinstance(vocab, dict) or "input_symbols" not in vocab:
        raise ValueError("not a vocabulary")
      return vocab
    except (OSError, UnicodeDecodeError, ValueError) as e:
      raise CheckpointError(f"{path} is corrupt: {e}") from e

  # ---- metrics ------------------------------------------------------------------------------

  def append_metrics(self, records: Iterable[dict]) -> None:
    """Appends JSON lines (flushed, so a killed run keeps its history)."""
    lines = "".join(json.dumps(r) + "\n" for r in records)
    if lines:
      with open(self.path / METRICS_FILE, "a") as f:
        f.write(lines)
        f.flush()

  def read_metrics(self) -> list[dict]:
    """Every record; a torn last line (a kill in mid-write) is skipped."""
    path = self.path / METRICS_FILE
    if not path.exists():
      return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:
        continue
    return records

  def keep_metrics_until(self, step: int) -> None:
    """Drops the records after `step`: a resumed run writes them again, once."""
    records = self.read_metrics()
    kept = [r for r in records if r.get("step", 0) <= step]
    if len(kept) != len(records):
      atomic_write(self.path / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in kept))

  # ---- best record -------------------------------------------------------------------------

  def read_best(self) -> dict | None:
    """The best record, None when there is none yet; CheckpointError when it is corrupt (a
    corrupt record must never be read as "no best yet", which would overwrite the best)."""
    path = self.path / BEST_FILE
    if not path.exists():
      return None
    try:
      record = json.loads(path.read_text())
      if not isinstance(record, dict) or not {"step", "value"} <= set(record):
        raise ValueError("missing step or value")
      return record
    except (OSError, UnicodeDecodeError, ValueError) as e:
      raise CheckpointError(
          f"{path} is corrupt ({e}); the best checkpoint in {self.best_dir} is kept. Delete "
          f"{path} only if that best checkpoint may be replaced") from e

  def write_best(self, record: dict) -> None:
    atomic_write(self.path / BEST_FILE, json.dumps(record, indent=2))

  # ---- other outputs -------------------------------------------------------------------------

  def write_json(self, name: str, value: Any) -> pathlib.Path:
    path = self.path / name
    atomic_write(path, json.dumps(value, indent=2))
    return path

  def write_text(self, name: str, text: str) -> pathlib.Path:
    path = self.path / name
    atomic_write(path, text)
    return path

  def write_bytes(self, name: str, data: bytes) -> pathlib.Path:
    """`name` may name a subdirectory (made if missing), e.g. a figure of one run."""
    path = self.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return path

  # ---- exclusive use ---------------------------------------------------------------------------

  @contextlib.contextmanager
  def lock(self) -> Iterator[None]:
    """Holds an exclusive lock on the workdir; CheckpointError when another process has it."""
    handle = open(self.path / LOCK_FILE, "a+")
    try:
      try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError:
        raise CheckpointError(f"{self.path} is in use by another training process (it holds "
                              f"{self.path / LOCK_FILE}); wait for it or use another "
                              "--workdir") from None
      yield
    finally:
      handle.close()

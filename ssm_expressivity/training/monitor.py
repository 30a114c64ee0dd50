"""The host-side progress record of one run: best score, stop rules, plateau learning rate.

A `Monitor` sees each evaluation of its run and decides what follows from it: a new best
checkpoint, a stop (every split reached `stop_at_accuracy`, or `early_stop_patience`
evaluations without improvement), or a lower learning rate (ReduceLROnPlateau). Its state is
plain JSON, saved with every checkpoint, so a resumed run decides exactly as an uninterrupted
one would.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import ml_collections

from ssm_expressivity import configlib

# ReduceLROnPlateau's default relative threshold (torch): an improvement must beat the best
# value by this fraction of it to count.
PLATEAU_THRESHOLD = 1e-4


@dataclasses.dataclass
class Decision:
  """What an evaluation implies. Attributes:
    new_best: the monitored value improved on the best checkpoint's.
    stop: None, or why the run stops ("stop_at_accuracy", "early_stop").
    lr_scale: the plateau scale of the learning rate from now on.
  """
  new_best: bool
  stop: str | None
  lr_scale: float


@dataclasses.dataclass
class Monitor:
  """Attributes:
    split, metric, mode: what is monitored ("max" or "min").
    best_value / best_step: the best checkpoint's score and step (None before any).
    bad_evaluations: evaluations since the monitored value last improved (early stopping).
    plateau_bad: the same count for the plateau rule (reset when it fires).
    plateau_best: the plateau rule's own best (with its relative threshold).
    lr_scale: the plateau scale of the learning rate.
    stopped: why the run stopped, or None.
    last_step / last_eval: the newest evaluation.
  """
  split: str
  metric: str
  mode: str
  stop_at_accuracy: float = 0.0
  early_stop_patience: int = 0
  plateau_factor: float = 0.0
  plateau_patience: int = 0
  best_value: float | None = None
  best_step: int | None = None
  bad_evaluations: int = 0
  plateau_bad: int = 0
  plateau_best: float | None = None
  lr_scale: float = 1.0
  stopped: str | None = None
  last_step: int | None = None
  last_eval: dict | None = None

  @classmethod
  def of(cls, config: ml_collections.ConfigDict) -> "Monitor":
    return cls(split=config.best_split, metric=config.best_metric,
               mode=configlib.BEST_METRICS[config.best_metric],
               stop_at_accuracy=config.stop_at_accuracy,
               early_stop_patience=config.early_stop_patience,
               plateau_factor=config.optim.plateau_factor,
               plateau_patience=config.optim.plateau_patience)

  def _better(self, value: float, than: float | None, threshold: float = 0.0) -> bool:
    if value != value:  # NaN never improves
      return False
    if than is None:
      return True
    if self.mode == "max":
      return value > than * (1 + threshold) if threshold and than > 0 else value > than
    return value < than * (1 - threshold) if threshold and than > 0 else value < than

  def observe(self, step: int, metrics: dict[str, dict[str, float]]) -> Decision:
    """Updates the record with an evaluation at `step` and says what follows."""
    self.last_step, self.last_eval = step, metrics
    value = metrics[self.split][self.metric]
    new_best = self._better(value, self.best_value)
    if new_best:
      self.best_value, self.best_step = float(value), step
      self.bad_evaluations = 0
    else:
      self.bad_evaluations += 1
    if self.plateau_factor > 0:
      if self._better(value, self.plateau_best, PLATEAU_THRESHOLD):
        self.plateau_best, self.plateau_bad = float(value), 0
      else:
        self.plateau_bad += 1
        if self.plateau_bad > self.plateau_patience:
          self.lr_scale *= self.plateau_factor
          self.plateau_bad = 0
    stop = None
    if self.stop_at_accuracy > 0 and all(
        m["strict_acc"] >= self.stop_at_accuracy for m in metrics.values()):
      stop = "stop_at_accuracy"
    elif self.early_stop_patience > 0 and self.bad_evaluations >= self.early_stop_patience:
      stop = "early_stop"
    self.stopped = stop
    return Decision(new_best=new_best, stop=stop, lr_scale=self.lr_scale)

  def to_json(self) -> dict[str, Any]:
    record = dataclasses.asdict(self)
    # JSON has no NaN or inf: keep them as strings.
    for key in ("best_value", "plateau_best"):
      value = record[key]
      if isinstance(value, float) and not math.isfinite(value):
        record[key] = repr(value)
    return record

  @classmethod
  def from_json(cls, record: dict[str, Any], config: ml_collections.ConfigDict) -> "Monitor":
    """The saved record, with the stop and plateau settings of the current config (a restart
    may change them)."""
    monitor = cls.of(config)
    for key in ("best_value", "best_step", "bad_evaluations", "plateau_bad", "plateau_best",
                "lr_scale", "stopped", "last_step", "last_eval"):
      if key in record:
        value = record[key]
        if key in ("best_value", "plateau_best") and isinstance(value, str):
          value = float(value)
        setattr(monitor, key, value)
    # A stop stands only if the current config's rule still calls for it.
    if monitor.stopped == "stop_at_accuracy" and not (
        monitor.stop_at_accuracy > 0 and monitor.last_eval and all(
            m["strict_acc"] >= monitor.stop_at_accuracy for m in monitor.last_eval.values())):
      monitor.stopped = None
    if monitor.stopped == "early_stop" and not (
        0 < monitor.early_stop_patience <= monitor.bad_evaluations):
      monitor.stopped = None
    return monitor

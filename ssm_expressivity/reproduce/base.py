"""What an experiment is: named runs (configs), targets to check, and a report.

    experiment = reproduce.build("parity", tier="quick")
    results, report, ok = reproduce.run(experiment, "runs/reproduce/parity_quick")

`Experiment.runs` maps a run name (its directory under the experiment's workdir) to a config;
`run` trains them with the sweep engine (runs whose shapes agree share one program) and then
calls the experiment's `report(context)` for its markdown (and figures).
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
from typing import Any, Callable

import ml_collections


@dataclasses.dataclass
class Check:
  """A target the experiment must reach: `metric` of `run` on `split` >= / <= `value`."""
  run: str
  split: str
  op: str  # ">=" or "<="
  value: float
  metric: str = "strict_acc"

  def holds(self, results: dict) -> bool:
    got = results[self.run][self.split][self.metric]
    return got >= self.value if self.op == ">=" else got <= self.value

  def describe(self) -> str:
    return f"{self.run} {self.split} {self.metric} {self.op} {100 * self.value:g}%"


@dataclasses.dataclass
class Context:
  """What a report sees. Attributes:
    results: run name -> {split: metrics} (the final evaluation of each run).
    configs: run name -> config.
    workdir: the experiment's directory (figures go here).
    runs: run name -> training.loop.RunResult.
  """
  results: dict[str, dict[str, dict[str, float]]]
  configs: dict[str, ml_collections.ConfigDict]
  workdir: pathlib.Path
  runs: dict[str, Any]


@dataclasses.dataclass
class Experiment:
  """Attributes:
    name: the experiment's id.
    tier: "paper", "cpu" or "quick".
    runs: run name -> config.
    checks: targets (printed with the report; a failed one makes reproduce exit 2).
    report: Context -> markdown (it may write figures into Context.workdir).
  """
  name: str
  tier: str
  runs: dict[str, ml_collections.ConfigDict]
  checks: list[Check]
  report: Callable[[Context], str]


def load_config(name: str, arg: str) -> ml_collections.ConfigDict:
  """configs/<name>.py's get_config(arg)."""
  module = importlib.import_module(f"configs.{name}")
  return module.get_config(arg)


def pct(value) -> str:
  """A fraction as a percentage with one decimal ("-" for None or NaN)."""
  return "-" if value is None or value != value else f"{100 * value:.1f}"

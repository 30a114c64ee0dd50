"""One theorem's experiment end to end: train its runs, evaluate, print ours beside the paper's.

Each experiment is a list of runs (a name and a config) plus a report; the runs live in
`<workdir>/<run name>` and resume like any training run.
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
from typing import Callable

import ml_collections

from ssm_expressivity import configlib
from ssm_expressivity import published
from ssm_expressivity.training import loop

EXPERIMENTS = ("flip_flop", "parity", "star_free", "non_star_free", "counter", "bounded_dyck")
_GROUPS = {"star_free": configlib.STAR_FREE, "non_star_free": configlib.NON_STAR_FREE,
           "counter": configlib.COUNTER}


@dataclasses.dataclass
class Check:
  """A target the experiment must reach: `split` strict accuracy of `run` >= / <= `value`."""
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
class Experiment:
  name: str
  runs: dict[str, ml_collections.ConfigDict]
  checks: list[Check]
  table: Callable[[dict], str]


def load_config(name: str, arg: str) -> ml_collections.ConfigDict:
  module = importlib.import_module(f"configs.{name}")
  return module.get_config(arg)


def build(experiment: str, quick: bool, language: str | None = None,
          num_layers: int | None = None) -> Experiment:
  """The runs, checks and report table of `experiment`."""
  if experiment not in EXPERIMENTS:
    raise ValueError(f"unknown experiment {experiment!r}; valid: {', '.join(EXPERIMENTS)}")
  arg = "quick" if quick else ""
  if experiment == "flip_flop":
    config = load_config("flip_flop", arg)
    checks = [Check("mamba1", "val", ">=", 0.99), Check("mamba1", "val_sparse", ">=", 0.99)]
    return Experiment("flip_flop", {"mamba1": config}, checks, _flip_flop_table)
  if experiment == "parity":
    runs = {}
    for gate in ("nonnegative", "signed"):
      config = load_config("parity", arg)
      config.model.gate = gate
      runs[gate] = config
    # The paper's best nonnegative Mamba reaches 16.7% on the longer bin (3 layers).
    checks = [Check("nonnegative", "bin1", "<=", 0.17), Check("signed", "bin1", ">=", 0.99)]
    return Experiment("parity", runs, checks, _parity_table)
  if experiment == "bounded_dyck":
    runs = {}
    for layers in ((num_layers,) if num_layers else (1, 2)):
      config = load_config("bounded_dyck", arg)
      config.model.num_layers = layers
      runs[f"mamba{layers}"] = config
    return Experiment("bounded_dyck", runs, [], _bounded_dyck_table)
  group = _GROUPS[experiment]
  if language is None:  # the group's config names its default language
    language = load_config(experiment, arg).data.language
  chosen = group if language == "all" else (language,)
  for name in chosen:
    if name not in group:
      raise ValueError(f"--language={name!r} is not in the {experiment} group; valid: "
                       f"{', '.join(group)}, all")
  runs = {}
  for name in chosen:
    config = load_config(experiment, ",".join([name] + (["quick"] if quick else [])))
    if num_layers:
      config.model.num_layers = num_layers
    runs[f"{name}/mamba{config.model.num_layers}"] = config
  return Experiment(experiment, runs, [], _suite_table)


def run(experiment: Experiment, workdir: str | pathlib.Path) -> tuple[dict, str, bool]:
  """Trains (or resumes) every run, returns (results, report markdown, all checks hold)."""
  workdir = pathlib.Path(workdir)
  results = {}
  for name, config in experiment.runs.items():
    result = loop.train_and_evaluate(config, workdir / name)
    results[name] = result.eval_metrics
  lines = [f"## {experiment.name}", "", experiment.table(
      {"results": results, "configs": experiment.runs})]
  ok = True
  if experiment.checks:
    lines += ["", "| target | reached |", "|---|---|"]
    for check in experiment.checks:
      holds = check.holds(results)
      ok &= holds
      lines.append(f"| {check.describe()} | {'yes' if holds else 'NO'} |")
  report = "\n".join(lines) + "\n"
  (workdir / "report.md").write_text(report)
  return results, report, ok


def _pct(value) -> str:
  return "-" if value is None or value != value else f"{100 * value:.1f}"


def _flip_flop_table(ctx: dict) -> str:
  results = ctx["results"]["mamba1"]
  config = ctx["configs"]["mamba1"]
  paper = published.flip_flop()
  lines = ["| split | p_ignore | lengths | ours strict % | paper (1-layer Mamba) |",
           "|---|---|---|---|---|"]
  for split, r in results.items():
    p = config.data.eval[split].params.get("p_ignore", config.data.params.p_ignore)
    step = paper.get(f"{split}_zero_error_at_step")
    note = f"100 (zero error from step {step})" if step else "-"
    lines.append(f"| {split} | {p} | {r['min_length']}-{r['max_length']} | "
                 f"{_pct(r['strict_acc'])} | {note} |")
  train_window = config.data.train
  lines.append("")
  lines.append(f"Training strings: {train_window.min_length}-{train_window.max_length} "
               "symbols.")
  return "\n".join(lines)


def _parity_table(ctx: dict) -> str:
  results = ctx["results"]
  paper = published.suite("parity")["mamba1"]
  lines = ["| bin | lengths | nonnegative gate (Mamba) % | signed gate % | paper 1-layer Mamba % |",
           "|---|---|---|---|---|"]
  for index, split in enumerate(results["nonnegative"]):
    r_n, r_s = results["nonnegative"][split], results["signed"][split]
    lines.append(f"| {split} | {r_n['min_length']}-{r_n['max_length']} | "
                 f"{_pct(r_n['strict_acc'])} | {_pct(r_s['strict_acc'])} | "
                 f"{paper[index] if index < len(paper) else '-'} |")
  return "\n".join(lines)


def _suite_table(ctx: dict) -> str:
  lines = ["| language | layers | bin | lengths | ours strict % | paper Mamba (same depth) % |",
           "|---|---|---|---|---|---|"]
  for name, results in ctx["results"].items():
    language, _ = name.split("/")
    layers = ctx["configs"][name].model.num_layers
    paper = (published.suite(language) or {}).get(f"mamba{layers}", [])
    for index, (split, r) in enumerate(results.items()):
      lines.append(f"| {language} | {layers} | {split} | {r['min_length']}-{r['max_length']} | "
                   f"{_pct(r['strict_acc'])} | "
                   f"{paper[index] if index < len(paper) else '-'} |")
  return "\n".join(lines)


def _bounded_dyck_table(ctx: dict) -> str:
  paper = published.bounded_dyck()
  lines = ["| model | d_model | split | ours close acc % | paper close acc % |",
           "|---|---|---|---|---|"]
  for name, results in ctx["results"].items():
    config = ctx["configs"][name]
    key = "one_layer" if config.model.num_layers == 1 else "two_layers"
    width = str(config.model.d_model)
    row = paper.get(key, {}).get(width)
    for split, r in results.items():
      column = paper["columns"].index(split) if split in paper["columns"] else None
      ref = "-" if row is None or column is None or row[column] is None else _pct(row[column])
      lines.append(f"| {name} | {width} | {split} | {_pct(r.get('close_acc'))} | {ref} |")
  return "\n".join(lines)

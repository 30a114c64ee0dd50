"""One theorem's experiment end to end: train its runs, evaluate, report ours beside the paper.

    experiment = reproduce.build("parity", tier="quick")
    results, report, ok = reproduce.run(experiment, "runs/reproduce/parity_quick")

One module per experiment, each with a `build(tier, ...)` registered in EXPERIMENTS; the
options a builder takes (language, num_layers, ...) are the only ones it accepts. The runs live
in `<workdir>/<run name>` and resume like any training run; runs whose array shapes agree
train together in one program. Beside report.md go accuracy_vs_length.png and each run's
<run>/training.png (ssm_expressivity.figures).
"""

from __future__ import annotations

import inspect
import pathlib

from ssm_expressivity import configlib
from ssm_expressivity import figures
from ssm_expressivity import registry
from ssm_expressivity.reproduce import bounded_dyck
from ssm_expressivity.reproduce import flip_flop
from ssm_expressivity.reproduce import parity
from ssm_expressivity.reproduce import suite
from ssm_expressivity.reproduce import word_problems
from ssm_expressivity.reproduce.base import Check, Context, Experiment
from ssm_expressivity.training import sweep
from ssm_expressivity.training.rundir import RunDir

EXPERIMENTS = registry.Registry("experiment", {
    "flip_flop": flip_flop.build, "parity": parity.build, **suite.BUILDERS,
    "bounded_dyck": bounded_dyck.build, "word_problems": word_problems.build,
})


def names() -> list[str]:
  return EXPERIMENTS.names()


def build(name: str, tier: str = "paper", **options) -> Experiment:
  """The runs, checks and report of experiment `name` at `tier`; options left None are
  dropped, an option the experiment does not take is a ValueError."""
  if tier not in configlib.TIERS:
    raise ValueError(f"unknown tier {tier!r}; valid: {', '.join(configlib.TIERS)}")
  options = {k: v for k, v in options.items() if v is not None}
  factory = EXPERIMENTS.factory(name)
  accepted = set(inspect.signature(factory).parameters) - {"tier"}
  unknown = sorted(set(options) - accepted)
  if unknown:
    takes = ", ".join(f"--{o}" for o in sorted(accepted)) or "no options"
    raise ValueError(f"experiment {name!r} does not take --{unknown[0]}; it takes {takes}")
  for option in ("num_layers",):
    if option in options and options[option] < 1:
      raise ValueError(f"--{option} must be >= 1, got {options[option]}")
  return factory(tier=tier, **options)


def run(experiment: Experiment, workdir: str | pathlib.Path) -> tuple[dict, str, bool]:
  """Trains (or resumes) every run, returns (results, report markdown, all checks hold)."""
  workdir = pathlib.Path(workdir)
  points = [sweep.Point(name, {}, config) for name, config in experiment.runs.items()]
  plan = sweep.plan_points(points, workdir)
  outcomes = sweep.run(plan)
  runs = {plan.points[i].name: outcome for i, outcome in outcomes.items()}
  results = {name: outcome.eval_metrics for name, outcome in runs.items()}
  context = Context(results=results, configs=dict(experiment.runs), workdir=workdir, runs=runs)
  lines = [f"## {experiment.name} ({experiment.tier} tier)", "", experiment.report(context)]
  ok = True
  if experiment.checks:
    lines += ["", "| target | reached |", "|---|---|"]
    for check in experiment.checks:
      holds = check.holds(results)
      ok &= holds
      lines.append(f"| {check.describe()} | {'yes' if holds else 'NO'} |")
  lines += ["", *write_figures(context)]
  report = "\n".join(lines) + "\n"
  RunDir(workdir).write_text("report.md", report)
  return results, report, ok


def write_figures(context: Context) -> list[str]:
  """Writes accuracy_vs_length.png (every run) and <run>/training.png into the workdir;
  returns the markdown lines that show them."""
  run_dir = RunDir(context.workdir)
  first = next(iter(context.configs.values()))
  metric = figures.accuracy_metric(first)
  name = "accuracy_vs_length.png"
  run_dir.write_bytes(name, figures.png_bytes(figures.accuracy_vs_length(
      context.results, metric, f"{metric} vs length (final evaluation)")))
  lines = [f"![{metric} vs length]({name})", ""]
  for run, config in context.configs.items():
    records = RunDir(context.workdir / run).read_metrics()
    path = f"{run}/training.png"
    run_dir.write_bytes(path, figures.png_bytes(figures.training_curves(
        records, figures.accuracy_metric(config), f"{run}: training")))
    lines.append(f"![{run} training curves]({path})")
  return lines


__all__ = ["Check", "Context", "EXPERIMENTS", "Experiment", "build", "names", "run"]

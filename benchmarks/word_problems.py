"""Word-problem cost model (issue 10): what one program of the experiment costs, and the tier.

    python -m benchmarks.word_problems                 # the cpu tier, every model
    python -m benchmarks.word_problems --models=mamba_complex --steps=40

A program is one vmapped group of runs of `reproduce.word_problems.build(tier)` (the runs that
differ only in loop.GROUP_FIELDS: the repeats, and with GROUP_FIELDS' data.params.group the
groups too). For each model it is timed through the package's own trainer at two points, the
largest (k, depth) and the smallest, built from the tier's own configs: setup (model init,
data), the first step (the jit compile), `steps` more steps, and two evaluations (the first
compiles). Per model the step time is fitted as a + b * depth * k, the compile as c + e * depth,
and the projection sums, over every program of the tier, compile + num_steps / rate + evals *
evaluation: the worst case, in which no run stops early.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import sys
import tempfile
import time
from typing import Any, Callable

from ssm_expressivity.reproduce import word_problems
from ssm_expressivity.training import loop
from ssm_expressivity.training import sweep


def _programs(tier: str, models) -> list[list[sweep.Point]]:
  experiment = word_problems.build(tier, models=models)
  points = [sweep.Point(name, {}, config) for name, config in experiment.runs.items()]
  the_plan = sweep.plan_points(points, tempfile.gettempdir() + "/wp_bench_plan")
  return [[the_plan.points[i] for i in members] for members in the_plan.groups]


def _shape(program: list[sweep.Point]) -> tuple[int, int]:
  config = program[0].config
  return int(config.data.params.lengths[-1]), int(config.model.num_layers)


def time_program(program: list[sweep.Point], steps: int) -> dict[str, Any]:
  """Seconds of setup, compile (first step), per step and per evaluation of one program."""
  import jax  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as workdir:
    specs = [loop.RunSpec(p.config, pathlib.Path(workdir) / p.name, name=p.name)
             for p in program]
    start = time.perf_counter()
    trainer = loop._GroupTrainer(specs)  # pylint: disable=protected-access
    with contextlib.ExitStack() as stack:
      trainer.setup(stack)
      trainer.global_step = 0
      active = trainer._active()  # pylint: disable=protected-access
      put = trainer.placement.put
      sharding = trainer.placement.batch_sharding(per_run=not trainer.shared_batch)
      runs_sharding = trainer.placement.runs_sharding

      def step():
        batch = put(trainer._batch(active), sharding)  # pylint: disable=protected-access
        trainer.states, trainer.healthy, metrics = trainer.step_fn(
            trainer.states, batch, put(active, runs_sharding), trainer.healthy)
        trainer.global_step += 1
        return metrics

      setup = time.perf_counter() - start
      start = time.perf_counter()
      jax.block_until_ready(step())
      compile_s = time.perf_counter() - start
      start = time.perf_counter()
      for _ in range(steps):
        metrics = step()
      jax.block_until_ready(metrics)
      per_step = (time.perf_counter() - start) / steps
      evals = []
      for _ in range(2):
        start = time.perf_counter()
        trainer.evaluator.evaluate(trainer.states.params, trainer.task.eval_sets,
                                   len(trainer.runs))
        evals.append(time.perf_counter() - start)
  k, depth = _shape(program)
  return {"runs": len(program), "k": k, "depth": depth, "setup_s": setup,
          "compile_s": compile_s, "step_s": per_step, "eval_compile_s": evals[0],
          "eval_s": evals[1]}


def fit(small: dict, large: dict) -> Callable[[int, int], dict[str, float]]:
  """Per (k, depth): the step time a + b * depth * k and the compile c + e * depth."""
  def line(key, x_small, x_large):
    slope = (large[key] - small[key]) / max(x_large - x_small, 1e-9)
    return lambda x: max(small[key] + slope * (x - x_small), 0.0)
  step = line("step_s", small["k"] * small["depth"], large["k"] * large["depth"])
  compile_s = line("compile_s", small["depth"], large["depth"])
  eval_compile = line("eval_compile_s", small["depth"], large["depth"])
  eval_s = line("eval_s", small["k"] * small["depth"], large["k"] * large["depth"])
  setup = (small["setup_s"] + large["setup_s"]) / 2
  return lambda k, depth: {"setup_s": setup, "compile_s": compile_s(depth),
                           "step_s": step(k * depth), "eval_compile_s": eval_compile(depth),
                           "eval_s": eval_s(k * depth)}


def project(tier: str = "cpu", models=None, steps: int = 30,
            log: Callable[..., None] = print) -> dict[str, Any]:
  """Every model's two timed programs and the projected worst-case seconds of the tier."""
  models = tuple(models or word_problems.MODELS)
  load_before = os.getloadavg()[0]
  rows, measured = [], {}
  for model in models:
    programs = _programs(tier, (model,))
    shapes = sorted({_shape(p) for p in programs}, key=lambda s: s[0] * s[1])
    by_shape = {_shape(p): p for p in programs}
    timed = {}
    for shape in (shapes[0], shapes[-1]):
      timed[shape] = time_program(by_shape[shape], steps)
      log(f"{model} k={shape[0]} depth={shape[1]}: {json.dumps(timed[shape])}")
    measured[model] = list(timed.values())
    cost = fit(timed[shapes[0]], timed[shapes[-1]])
    total = 0.0
    for program in programs:
      config = program[0].config
      c = cost(*_shape(program))
      evals = config.num_steps // config.eval_every
      total += (c["setup_s"] + c["compile_s"] + config.num_steps * c["step_s"]
                + c["eval_compile_s"] + evals * c["eval_s"])
    rows.append({"model": model, "programs": len(programs),
                 "runs": sum(len(p) for p in programs), "projected_s": total})
    log(f"{model}: {len(programs)} programs, projected {total / 60:.1f} min (no early stop)")
  return {"tier": tier, "rows": rows, "measured": measured,
          "total_s": sum(r["projected_s"] for r in rows), "load_before": load_before,
          "load_after": os.getloadavg()[0], "steps": steps}


def format_markdown(result: dict[str, Any]) -> str:
  lines = [f"# Word-problem cost model, tier {result['tier']}", "",
           f"Load (1 min) {result['load_before']:.2f} before, {result['load_after']:.2f} after; "
           f"{result['steps']} timed steps per program. Worst case: no run stops early.", "",
           "| model | programs | runs | k | depth | compile s | step ms | eval s |"
           " projected min |", "|---|---|---|---|---|---|---|---|---|"]
  for row in result["rows"]:
    for m in result["measured"][row["model"]]:
      lines.append(f"| {row['model']} | {row['programs']} | {row['runs']} | {m['k']} | "
                   f"{m['depth']} | {m['compile_s']:.1f} | {1000 * m['step_s']:.1f} | "
                   f"{m['eval_s']:.2f} | {row['projected_s'] / 60:.1f} |")
  lines += ["", f"Projected tier total: {result['total_s'] / 60:.1f} min."]
  return "\n".join(lines) + "\n"


OPTIONS = ("tier", "models", "steps", "json")


def main(argv: list[str]) -> None:
  """--tier=cpu --models=a,b --steps=30 --json=PATH; --help prints this module's docstring."""
  if any(a in ("-h", "--help") for a in argv):
    print(__doc__)
    return
  bad = [a for a in argv if not a.startswith("--") or "=" not in a
         or a[2:].split("=", 1)[0] not in OPTIONS]
  if bad:
    raise SystemExit(f"error: unknown arguments {bad}; options: "
                     + ", ".join(f"--{o}=" for o in OPTIONS) + " (or --help)")
  options = dict(a[2:].split("=", 1) for a in argv)
  models = options["models"].split(",") if "models" in options else None
  result = project(options.get("tier", "cpu"), models, int(options.get("steps", 30)))
  print(format_markdown(result))
  if "json" in options:
    pathlib.Path(options["json"]).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
  main(sys.argv[1:])

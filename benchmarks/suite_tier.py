"""Suite cost model (issue 9): what each (language, depth) program of a suite tier costs.

    python -m benchmarks.suite_tier                           # work per program of the cpu tier
    python -m benchmarks.suite_tier --log=runs/suite_cpu.err  # fit to a run's absl log

A program is one group of `reproduce.suite.build_group("suite", "cpu")`: the runs of one
(language, depth) cell, which differ only in the learning rate (the paper tier has several
programs per cell and evaluates often; this model is for the cpu tier). Its work is counted
from the tier's own data: train work = steps x batch x padded length x depth (every step's
bucket, as the trainer pads it), eval work = the eval splits in eval batches, each padded to
its longest word (the evaluator may pad a little more), x depth, evaluated once. From the log
(the absl lines "group i/N: ..."), the wall time of a program is the time to the next
program's line; the last one counts once the log says "report saved" (or with --finished). A
program run again after a kill adds its times (the killed part includes the downtime).
`seconds = compile + train_work / train_rate + eval_work / eval_rate` is fitted by least
squares; the residuals show where the model misses.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from typing import Any

import numpy as np

from ssm_expressivity.data import pipeline
from ssm_expressivity.reproduce import suite
from ssm_expressivity.training import objectives

_GROUP_LINE = re.compile(r"^I(\d{4}) (\d\d:\d\d:\d\d\.\d+) .* group (\d+)/(\d+): (\d+) run\(s\)"
                         r" in one program: ([^/\s]+)/num_layers=(\d+),")
_ANY_LINE = re.compile(r"^[IWE](\d{4}) (\d\d:\d\d:\d\d\.\d+) ")


def program_work() -> list[dict[str, Any]]:
  """One record per (language, depth) program of the cpu tier: its steps and token work."""
  experiment = suite.build_group("suite", "cpu")
  cells: dict[tuple[str, int], list] = {}
  for name, config in experiment.runs.items():
    cells.setdefault((config.data.language, config.model.num_layers), []).append(config)
  tasks: dict[str, pipeline.Task] = {}
  records = []
  for (language, depth), configs in cells.items():
    config = configs[0]
    if language not in tasks:
      tasks[language] = pipeline.load_task(config, objectives.from_config(config).fields)
    task = tasks[language]
    steps = task.num_steps()
    train_tokens = sum(config.batch_size * task.bucket_length(*task.train_source(s, config.seed))
                       for s in range(steps))
    size = config.eval_batch_size
    eval_tokens = 0
    for dataset in task.eval_sets.values():
      lengths = np.asarray(dataset.lengths)
      for start in range(0, len(lengths), size):
        chunk = lengths[start:start + size]
        eval_tokens += len(chunk) * int(chunk.max())
    records.append({"language": language, "depth": depth, "runs": len(configs),
                    "steps": steps, "train_work": train_tokens * depth * len(configs),
                    "eval_work": eval_tokens * depth * len(configs)})
  return records


def program_seconds(log_path: str, finished: bool = False) -> dict[tuple[str, int], float]:
  """Wall seconds per program of a reproduce log, keyed (language, depth)."""
  starts, last = [], None
  for line in open(log_path, encoding="utf-8", errors="replace"):
    finished = finished or "report saved" in line
    stamp = _ANY_LINE.match(line)
    if not stamp:
      continue
    last = datetime.datetime.strptime(stamp.group(2), "%H:%M:%S.%f")
    group = _GROUP_LINE.match(line)
    if group:
      starts.append(((group.group(6), int(group.group(7))), last))
  ends = [start for _, start in starts[1:]] + [last]
  if not finished:  # the last program is still running
    starts, ends = starts[:-1], ends[:-1]
  seconds: dict[tuple[str, int], float] = {}
  for (cell, start), end in zip(starts, ends):
    seconds[cell] = seconds.get(cell, 0.0) + (end - start).total_seconds() % 86400  # midnight
  return seconds


def fit(records: list[dict], seconds: list[float]) -> dict[str, Any]:
  """Least-squares seconds = compile + train_work / train_rate + eval_work / eval_rate."""
  design = np.array([[1.0, r["train_work"], r["eval_work"]] for r in records])
  coef, *_ = np.linalg.lstsq(design, np.asarray(seconds), rcond=None)
  predicted = design @ coef
  return {"compile_s": float(coef[0]),
          "train_rate": float(1 / coef[1]) if coef[1] > 0 else float("inf"),
          "eval_rate": float(1 / coef[2]) if coef[2] > 0 else float("inf"),
          "predicted": predicted.tolist()}


def main(argv: list[str]) -> None:
  log = next((a.split("=", 1)[1] for a in argv if a.startswith("--log=")), None)
  unknown = [a for a in argv if not a.startswith("--log=") and a != "--finished"]
  if unknown:
    sys.exit(f"unknown argument(s) {unknown}; valid: --log=<absl log>, --finished")
  records = program_work()
  print(f"{len(records)} programs; train work {sum(r['train_work'] for r in records):.3g}, "
        f"eval work {sum(r['eval_work'] for r in records):.3g} (run x token x layer)")
  if log is None:
    for r in records:
      print(json.dumps(r))
    return
  measured = program_seconds(log, finished="--finished" in argv)
  done = [(r, measured[(r["language"], r["depth"])]) for r in records
          if (r["language"], r["depth"]) in measured]
  result = fit([r for r, _ in done], [s for _, s in done])
  print(f"fit over {len(done)} programs: compile {result['compile_s']:.1f} s, train "
        f"{result['train_rate']:.3g} work/s, eval {result['eval_rate']:.3g} work/s; measured "
        f"{sum(s for _, s in done) / 60:.1f} min, predicted "
        f"{sum(result['predicted']) / 60:.1f} min")
  print("| language | depth | steps | measured s | predicted s |")
  print("|---|---|---|---|---|")
  for (r, s), p in zip(done, result["predicted"]):
    print(f"| {r['language']} | {r['depth']} | {r['steps']} | {s:.0f} | {p:.0f} |")


if __name__ == "__main__":
  main(sys.argv[1:])

"""Sweep benchmark (issue 8): 12 runs trained as one vmapped program vs one after another.

    python -m experiments.benchmark --what=sweep

The runs are 3 learning rates x 4 seeds of a 1-layer Mamba on Dyck-1 (the suite's train split,
lengths up to 50, batch 32), each trained for the same number of steps through the package's
own `training.sweep` path: once with every run in one program (max_group_size=0), once with
one run per program (max_group_size=1), in this process. Throughput is runs x steps / wall
seconds of the whole `sweep.run` (compilation, evaluation at the end and checkpoints
included, as a user pays them). Evaluation (on 64 words per bin) and checkpoints happen once, at the last step.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

from configs import counter
from ssm_expressivity import configlib
from ssm_expressivity.training import sweep

LEARNING_RATES = (1e-3, 3e-3, 1e-2)
SEEDS = (0, 1, 2, 3)


def base_config(d_model: int, num_steps: int):
  config = counter.get_config("dyck1,quick")
  # Small test bins: the benchmark is about training; its one evaluation stays a few seconds.
  config.data.sizes = {"bin0": 64, "bin1": 64, "bin2": 64}
  return configlib.apply_overrides(config, {
      "model.d_model": d_model, "model.num_layers": 1, "batch_size": 32,
      "num_steps": num_steps, "log_every": num_steps, "eval_every": num_steps,
      "checkpoint_every": num_steps, "optim.warmup_steps": 0})


def grid() -> list[dict[str, Any]]:
  return [{"optim.learning_rate": lr, "seed": seed} for lr in LEARNING_RATES for seed in SEEDS]


def time_sweep(d_model: int, num_steps: int, max_group_size: int) -> dict[str, Any]:
  with tempfile.TemporaryDirectory() as workdir:
    the_plan = sweep.plan(base_config(d_model, num_steps), grid(), pathlib.Path(workdir),
                          max_group_size=max_group_size)
    start = time.perf_counter()
    sweep.run(the_plan)
    seconds = time.perf_counter() - start
  runs = len(the_plan.points)
  return {"d_model": d_model, "programs": len(the_plan.groups), "runs": runs,
          "steps": num_steps, "seconds": seconds, "run_steps_per_s": runs * num_steps / seconds}


def run(num_steps: int = 300, d_models=(16, 64),
        log: Callable[..., None] = print) -> dict[str, Any]:
  rows = []
  load_before = os.getloadavg()[0]
  for d_model in d_models:
    vmapped = time_sweep(d_model, num_steps, max_group_size=0)
    log("vmapped d_model %d: %.1f run-steps/s", d_model, vmapped["run_steps_per_s"])
    sequential = time_sweep(d_model, num_steps, max_group_size=1)
    log("sequential d_model %d: %.1f run-steps/s", d_model, sequential["run_steps_per_s"])
    rows.append({"d_model": d_model, "vmapped": vmapped, "sequential": sequential,
                 "speedup": vmapped["run_steps_per_s"] / sequential["run_steps_per_s"]})
  return {"rows": rows, "load_before": load_before, "load_after": os.getloadavg()[0],
          "num_steps": num_steps}


def run_devices(num_steps: int = 300, d_model: int = 16, device_counts=(1, 8),
                log: Callable[..., None] = print) -> dict[str, Any]:
  """The vmapped 12-run sweep on 1 and on 8 forced host devices, each in its own process
  (XLA fixes the device count at start-up): the runs axis is sharded over the devices."""
  rows = []
  load_before = os.getloadavg()[0]
  for count in device_counts:
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    if count > 1:
      flags.append(f"--xla_force_host_platform_device_count={count}")
    env["XLA_FLAGS"] = " ".join(flags)
    child = subprocess.run([sys.executable, "-m", "benchmarks.sweep", str(d_model),
                            str(num_steps)], env=env, capture_output=True, text=True)
    if child.returncode != 0:  # say why: the child's own error is in its stderr
      raise RuntimeError(f"the {count}-device sweep exited with {child.returncode}:\n"
                         + "\n".join(child.stderr.strip().splitlines()[-20:]))
    row = json.loads(child.stdout.strip().splitlines()[-1])
    log("%d device(s), d_model %d: %.1f run-steps/s", row["devices"], d_model,
        row["run_steps_per_s"])
    rows.append(row)
  return {"rows": rows, "load_before": load_before, "load_after": os.getloadavg()[0],
          "num_steps": num_steps}


def format_markdown(result: dict[str, Any]) -> str:
  lines = ["# Sweep benchmark: 12 runs in one program vs one after another", "",
           f"{result['num_steps']} steps per run, 1-layer Mamba, dyck1, batch 32; wall time of "
           f"`sweep.run` (compile, final evaluation and checkpoint included). Load (1 min) "
           f"{result['load_before']:.2f} before, {result['load_after']:.2f} after. One program "
           "steps its runs as training.steps.runs_axis_method picks (`map` on one CPU device, "
           "else `vmap`).", "",
           "| d_model | one program run-steps/s | one after another run-steps/s | speedup |",
           "|---|---|---|---|"]
  for row in result["rows"]:
    lines.append(f"| {row['d_model']} | {row['vmapped']['run_steps_per_s']:.1f} | "
                 f"{row['sequential']['run_steps_per_s']:.1f} | {row['speedup']:.2f}x |")
  return "\n".join(lines) + "\n"


def format_devices_markdown(result: dict[str, Any]) -> str:
  lines = ["# Sweep benchmark: the same vmapped sweep on 1 and on 8 forced host devices", "",
           f"{result['num_steps']} steps per run, 12 runs in one program, d_model "
           f"{result['rows'][0]['d_model']}; each device count in its own process. Load (1 min) "
           f"{result['load_before']:.2f} before, {result['load_after']:.2f} after.", "",
           "| devices | run-steps/s | seconds |", "|---|---|---|"]
  for row in result["rows"]:
    lines.append(f"| {row['devices']} | {row['run_steps_per_s']:.1f} | {row['seconds']:.1f} |")
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  # The child of run_devices: `python -m benchmarks.sweep D_MODEL NUM_STEPS` prints one JSON
  # line for the vmapped sweep on this process's devices.
  import jax  # pylint: disable=g-import-not-at-top
  row = time_sweep(int(sys.argv[1]), int(sys.argv[2]), max_group_size=0)
  print(json.dumps({**row, "devices": jax.device_count()}))

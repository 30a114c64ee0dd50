"""Trains every point of a grid, grouped into as few jitted programs as the shapes allow:

    python -m experiments.sweep --config=configs/parity.py:quick --workdir=runs/parity_grid \
        --sweep='optim.learning_rate=3e-3,1e-2;seed=0,1,2'
    python -m experiments.sweep --config=configs/star_free.py:tomita4 --workdir=runs/t4 --dry_run

The grid is the config file's `get_sweep(arg)` unless --sweep gives one. Each run trains in
<workdir>/<run name> (a workdir like any other: experiments.evaluate works on it) and
<workdir>/sweep.json lists every run with its overrides and final metrics. Rerunning the
command resumes. Devices: every local device (XLA_FLAGS=--xla_force_host_platform_device_count=8
makes 8 on a CPU); several hosts: --coordinator_address, --num_processes, --process_id (or
--distributed to read them from the environment, e.g. on a TPU slice or under SLURM).
"""

import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from experiments import cli
from ssm_expressivity.training import devices
from ssm_expressivity.training import sweep

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "The sweep's directory (one subdir per run).")
_SWEEP = flags.DEFINE_string("sweep", None, "Grid: 'field=v1,v2;field=v1,...' (replaces the "
                             "config's get_sweep).")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Print one JSON line per run; train nothing.")
_MAX_GROUP = flags.DEFINE_integer("max_group_size", 0, "Most runs per program (0 = no limit).")
_SINGLE = flags.DEFINE_bool("single_program", False, "Fail unless every run fits one program.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None,
                                   "host:port of process 0 (multi-host runs).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in a multi-host run.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index.")
_DISTRIBUTED = flags.DEFINE_bool("distributed", False, "jax.distributed.initialize() from the "
                                 "environment (TPU slices, SLURM, JAX_COORDINATOR_ADDRESS...).")
flags.mark_flags_as_required(["config", "workdir"])


def _grid(config):
  if _SWEEP.value is not None:
    return sweep.parse_grid(_SWEEP.value, config)
  _, module = cli.load_config_file(flags.FLAGS["config"].config_filename)
  spec = flags.FLAGS["config"].config_filename
  arg = spec.partition(":")[2]
  if not hasattr(module, "get_sweep"):
    raise ValueError(f"{spec.partition(':')[0]} has no get_sweep(arg); give --sweep="
                     "'field=v1,v2;...'")
  return list(module.get_sweep(arg))


@cli.user_errors_exit
def main(argv):
  if len(argv) > 1:
    raise ValueError(f"unexpected arguments: {argv[1:]} (every option is a --flag)")
  cli.setup_logging()
  if _NUM_PROCESSES.value is not None and _NUM_PROCESSES.value < 1:
    raise ValueError(f"--num_processes must be >= 1, got {_NUM_PROCESSES.value}")
  if _PROCESS_ID.value is not None and not (
      0 <= _PROCESS_ID.value < (_NUM_PROCESSES.value or _PROCESS_ID.value + 1)):
    raise ValueError(f"--process_id must be in [0, --num_processes), got {_PROCESS_ID.value}")
  if _DISTRIBUTED.value or _COORDINATOR.value:
    devices.initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  if _MAX_GROUP.value < 0:
    raise ValueError("--max_group_size must be >= 0")
  plan = sweep.plan(_CONFIG.value, _grid(_CONFIG.value), _WORKDIR.value,
                    max_group_size=_MAX_GROUP.value, single_program=_SINGLE.value)
  if _DRY_RUN.value:
    print("\n".join(sweep.dry_run_lines(plan)))
    return
  results = sweep.run(plan)
  diverged = [plan.points[i].name for i, r in results.items() if r.diverged]
  print(f"{len(results)} run(s) in {len(plan.groups)} program(s); results in "
        f"{plan.workdir / sweep.SWEEP_FILE}")
  if diverged:
    print(f"error: {len(diverged)} run(s) diverged: {', '.join(diverged)}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

"""Speed benchmark of the models and of the data pipeline (DESIGN.md section 5):

    python -m experiments.benchmark --what=models,data --out=benchmarks
    python -m experiments.benchmark --what=models --quick      # a minute or two
    python -m experiments.benchmark --what=sweep               # 12 runs: vmapped vs in turn
    python -m experiments.benchmark --what=sweep_devices       # the same on 1 vs 8 devices

Writes <out>/<backend>.json and <out>/<backend>.md (with --quick: <backend>-quick.*). The
mambapy comparison runs when the `bench` extra is installed (pip install -e ".[bench]").
"""

import json
import pathlib

from absl import app
from absl import flags
from absl import logging

from experiments import cli
from benchmarks import data as bench_data
from benchmarks import models as bench_models
from benchmarks import sweep as bench_sweep

_WHAT = flags.DEFINE_list("what", ["models", "data"], "Parts to run: models, data, sweep, sweep_devices.")
_OUT = flags.DEFINE_string("out", "benchmarks", "Directory for <backend>.json and .md.")
_QUICK = flags.DEFINE_bool("quick", False, "Small shapes and a data subset (a smoke run).")
_REPEATS = flags.DEFINE_integer("repeats", 10, "Timed runs per case (>= 10; median reported).")

_PARTS = ("models", "data", "sweep", "sweep_devices")
_QUICK_LANGUAGES = ("parity", "dyck1", "tomita3")


@cli.user_errors_exit
def main(argv):
  if len(argv) > 1:
    raise ValueError(f"unexpected arguments: {argv[1:]} (every option is a --flag)")
  unknown = sorted(set(_WHAT.value) - set(_PARTS))
  if unknown or not _WHAT.value:
    raise ValueError(f"--what: unknown parts {unknown}; valid: {', '.join(_PARTS)}")
  if _REPEATS.value < 1:
    raise ValueError(f"--repeats must be >= 1, got {_REPEATS.value}")
  cli.setup_logging()
  backend = bench_models.environment()["backend"]
  stem = f"{backend}-quick" if _QUICK.value else backend
  out = pathlib.Path(_OUT.value)
  if out.exists() and not out.is_dir():
    raise ValueError(f"--out={out} is a file, not a directory")
  out.mkdir(parents=True, exist_ok=True)
  # Parts not rerun keep their earlier results, so `--what=data` does not drop the models.
  previous = out / f"{stem}.json"
  result = json.loads(previous.read_text()) if previous.exists() else {}
  if "models" in _WHAT.value:
    result["models"] = bench_models.run(quick=_QUICK.value, repeats=_REPEATS.value,
                                        log=logging.info)
  if "sweep" in _WHAT.value:
    result["sweep"] = bench_sweep.run(num_steps=30 if _QUICK.value else 300, log=logging.info)
  if "sweep_devices" in _WHAT.value:
    result["sweep_devices"] = bench_sweep.run_devices(num_steps=30 if _QUICK.value else 300,
                                                      log=logging.info)
  if "data" in _WHAT.value:
    names = _QUICK_LANGUAGES if _QUICK.value else None
    result["data"] = bench_data.run(names=names)
  markdown = []
  if "models" in result:
    markdown.append(bench_models.format_markdown(result["models"]))
  if "sweep" in result:
    markdown.append(bench_sweep.format_markdown(result["sweep"]))
  if "sweep_devices" in result:
    markdown.append(bench_sweep.format_devices_markdown(result["sweep_devices"]))
  if "data" in result:
    markdown.append("# Data benchmark\n\n" + bench_data.format_markdown(result["data"]))
  (out / f"{stem}.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
  (out / f"{stem}.md").write_text("\n".join(markdown))
  print("\n".join(markdown))
  logging.info("wrote %s and %s", out / f"{stem}.json", out / f"{stem}.md")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

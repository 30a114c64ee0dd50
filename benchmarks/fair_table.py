"""The fair CPU table (benchmarks/cpu-fair.md, cpu-fair.json; `experiments.benchmark` owns
cpu.md): every (implementation, shape) in its own
process, one after the other (benchmarks/fair_vs_mambapy.py), so that no framework's spinning
worker threads slow the next one:

    nice -n -15 python -m benchmarks.fair_table          # root: ahead of niced jobs
    python -m benchmarks.fair_table --quick --out=/tmp/fair

Records the load (1 min) before and after each run; mambapy rows need the bench extra.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

import jax

SHAPES = ("32,256,64,2", "32,100,16,1", "32,50,64,1", "10,100,128,1")
QUICK_SHAPES = ("4,32,16,1",)
IMPLS = ("ours:auto", "ours:native", "ours:chunked", "ours:sequential", "ours:associative",
         "mambapy")


def run(shapes, impls, log=print) -> dict:
  rows = []
  for shape in shapes:
    for impl in impls:
      load_before = os.getloadavg()[0]
      done = subprocess.run([sys.executable, "-m", "benchmarks.fair_vs_mambapy", impl, shape],
                            capture_output=True, text=True, check=False)
      if done.returncode:
        log(f"{impl} {shape}: skipped ({done.stderr.strip().splitlines()[-1:]})")
        continue
      row = {**json.loads(done.stdout.strip().splitlines()[-1]), "load_before": load_before}
      rows.append(row)
      log(json.dumps(row))
  try:  # the bench extra: without it the mambapy rows are skipped, the table still written
    import torch  # pylint: disable=g-import-not-at-top,import-outside-toplevel
    torch_version = torch.__version__
  except ImportError:
    torch_version = "not installed"
  return {"cpu_count": os.cpu_count(), "jax": jax.__version__, "torch": torch_version,
          "rows": rows}


def format_markdown(result: dict) -> str:
  rows = result["rows"]
  loads = [r["load_before"] for r in rows] + [r["load_after"] for r in rows]
  lines = ["# Fair CPU benchmark: our Mamba stack (every scan method) and mambapy", "",
           f"{result['cpu_count']} cores, jax {result['jax']}, torch {result['torch']} "
           "(torch with one thread per core). Each implementation and shape in its own "
           "process, one after the other, under `nice -n -15` (other jobs on the machine run "
           f"niced); 1-minute load between {min(loads):.2f} and {max(loads):.2f} over the "
           "runs (per row below). Forward+backward of a sum of squares with respect to the "
           "parameters; median of 15 (ours) or 10 (mambapy) steps after a warm-up.", "",
           "| batch, length, d_model, layers | impl | tokens/s | median ms | min ms | "
           "vs mambapy | load before, after |", "|---|---|---|---|---|---|---|"]
  theirs = {r["shape"]: r["tokens_per_s"] for r in rows if r["impl"] == "mambapy"}
  for r in rows:
    ratio = theirs.get(r["shape"])
    ratio = "-" if ratio is None or r["impl"] == "mambapy" else f"{r['tokens_per_s'] / ratio:.1f}x"
    lines.append(f"| {r['shape'].replace(',', ', ')} | {r['impl']} | {r['tokens_per_s']:,.0f} "
                 f"| {r['median_ms']:,.1f} | {r['min_ms']:,.1f} | {ratio} | "
                 f"{r['load_before']:.2f}, {r['load_after']:.2f} |")
  return "\n".join(lines) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--quick", action="store_true", help="one tiny shape")
  parser.add_argument("--out", default="benchmarks", help="directory for cpu-fair.md and cpu-fair.json")
  parser.add_argument("--impls", default=",".join(IMPLS),
                      help=f"comma-separated implementations (default: all of {','.join(IMPLS)})")
  args = parser.parse_args()
  impls = args.impls.split(",")
  unknown = [i for i in impls if i not in IMPLS]
  if unknown:
    parser.error(f"--impls: unknown {unknown}; valid: {', '.join(IMPLS)}")
  result = run(QUICK_SHAPES if args.quick else SHAPES, impls)
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / "cpu-fair.json").write_text(json.dumps(result, indent=1) + "\n")
  (out / "cpu-fair.md").write_text(format_markdown(result))
  print(format_markdown(result))


if __name__ == "__main__":
  main()

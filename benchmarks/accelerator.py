"""Mamba stack speed on whatever backend JAX runs on (GPU, TPU or CPU), every scan method:

    python -m benchmarks.accelerator                  # headline + suite shapes
    python -m benchmarks.accelerator --quick          # two tiny shapes (a smoke run, any backend)

For each shape (those of benchmarks/roofline.py: the headline B32 L256 d64 2 layers and the
suite's d_model 16/64/128, length 100, batch 32 and 10), times the jitted forward+backward of
`MambaStack` with scan="auto" and with each concrete method, and records which method `auto`
picks on this backend (scan.AUTO_METHOD) and which was fastest here, beside mambapy's Mamba
(torch, pscan) on the same backend when the bench extra is installed (its own block, after
ours, so its threads do not slow our timings). Writes
<out>/<backend>-accelerator.json and .md (with --quick: <backend>-accelerator-quick.*), one row
per shape: on a machine with a device, this one command fills in the accelerator column, and a
row whose fastest method differs from `auto` says that AUTO_METHOD should change there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
from typing import Any, Callable, Sequence

import jax

from benchmarks import models as bench_models
from benchmarks import roofline
from ssm_expressivity.models import scan

METHODS = ("associative", "chunked", "sequential")


def methods_here() -> tuple[str, ...]:
  """METHODS, and "native" on the CPU (its kernel is CPU only)."""
  return METHODS + (("native",) if jax.default_backend() == "cpu" else ())


def run(shapes: Sequence[bench_models.StackShape], repeats: int = 10,
        log: Callable[[str], None] = print) -> dict[str, Any]:
  """{"environment", "rows"}: per shape, tokens/s of auto and of every method."""
  env = bench_models.environment()
  rows = []
  methods = methods_here()
  # mambapy (torch) on the same backend, when it is installed: the ratio column.
  torch_device = "cuda" if jax.default_backend() == "gpu" else "cpu"
  for shape in shapes:
    tokens = shape.batch * shape.length
    row: dict[str, Any] = {**dataclasses.asdict(shape), "auto": scan.resolve_method("auto")}
    for method in ("auto",) + methods:
      fn, args = bench_models._stack_case(shape, method)  # pylint: disable=protected-access
      timing = bench_models.measure_jax(fn, args, tokens, repeats)
      row[f"{method}_tokens_per_s"] = timing["tokens_per_s"]
      row[f"{method}_temp_mib"] = timing["temp_mib"]
      row[f"{method}_compile_s"] = timing["compile_s"]
    reference = bench_models.measure_mambapy(shape, repeats, device=torch_device)
    row["mambapy_tokens_per_s"] = None if reference is None else reference["tokens_per_s"]
    row["auto_over_mambapy"] = (None if reference is None
                                else row["auto_tokens_per_s"] / reference["tokens_per_s"])
    row["fastest"] = max(methods, key=lambda m: row[f"{m}_tokens_per_s"])
    row["auto_is_fastest"] = row["fastest"] == row["auto"]
    rows.append(row)
    log(json.dumps(row))
  env["load_average_1m_at_end"] = bench_models.environment()["load_average_1m"]
  return {"environment": env, "repeats": repeats, "rows": rows}


def format_markdown(result: dict[str, Any]) -> str:
  env = result["environment"]
  fmt = bench_models._fmt  # pylint: disable=protected-access
  first = result["rows"][0] if result["rows"] else {}
  methods = [m for m in METHODS + ("native",) if f"{m}_tokens_per_s" in first]
  lines = [f"# Mamba stack on {env['backend']} ({env['device']})", "",
           f"jax {env['jax']}; `auto` = `{env['auto_method']}` here; forward+backward of a "
           f"sum of squares, jit-compiled, median of {result['repeats']} runs after a warm-up "
           "(tokens/s). Load (1 min) "
           f"{fmt(env.get('load_average_1m'))} at the start, "
           f"{fmt(env.get('load_average_1m_at_end'))} at the end.", "",
           "| batch | length | d_model | layers | auto | " + " | ".join(methods) +
           " | fastest | auto is fastest | mambapy | auto / mambapy |",
           "|---|---|---|---|---|" + "---|" * len(methods) + "---|---|---|---|"]
  for r in result["rows"]:
    cells = [r["batch"], r["length"], r["d_model"], r["num_layers"]]
    cells += [r[f"{m}_tokens_per_s"] for m in ["auto"] + methods]
    cells += [r["fastest"], "yes" if r["auto_is_fastest"] else f"no (auto = {r['auto']})"]
    cells += [r.get("mambapy_tokens_per_s"), r.get("auto_over_mambapy")]
    lines.append("| " + " | ".join(fmt(c) for c in cells) + " |")
  return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--quick", action="store_true", help="two tiny shapes (a smoke run)")
  parser.add_argument("--repeats", type=int, default=10, help="timed runs per case (median)")
  parser.add_argument("--out", default="benchmarks", help="directory for the .json and .md")
  args = parser.parse_args(argv)
  if args.repeats < 1:
    parser.error(f"--repeats must be >= 1, got {args.repeats}")
  shapes = roofline.QUICK if args.quick else [roofline.HEADLINE] + roofline.SUITE
  result = run(shapes, args.repeats)
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  stem = f"{jax.default_backend()}-accelerator" + ("-quick" if args.quick else "")
  (out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
  markdown = format_markdown(result)
  (out / f"{stem}.md").write_text(markdown)
  print(markdown)
  print(f"wrote {out / stem}.json and .md")


if __name__ == "__main__":
  main()

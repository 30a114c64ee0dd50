"""CPU roofline of the Mamba stack's training step (forward+backward):

    python -m benchmarks.roofline            # the headline and suite shapes, a few minutes
    python -m benchmarks.roofline --quick    # two small shapes, seconds

Counts the FLOPs, exponentials and activation bytes per token of `MambaStack` analytically
(`step_counts`), measures the machine's fp32 matmul FLOP/s, exp/s and memory bandwidth, times our
jitted forward+backward and its parts (forward alone, the selective scan alone) and prints one
JSON object: per shape, the bound (the time the counted work would take at the measured rates),
the measured time and our fraction of the bound. benchmarks/roofline.md explains the numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp

from benchmarks import models as bench_models
from ssm_expressivity.models import mamba
from ssm_expressivity.models import scan

D_STATE = 16
D_CONV = 4
EXPAND = 2
FLOAT_BYTES = 4

HEADLINE = bench_models.StackShape(32, 256, 64, 2)
# The suite's shapes: d_model 16/64/128, lengths <= 100, batch 32 and 10 (one layer).
SUITE = [bench_models.StackShape(batch, 100, d_model, 1)
         for d_model in (16, 64, 128) for batch in (32, 10)]
QUICK = [bench_models.StackShape(4, 32, 16, 1), bench_models.StackShape(4, 32, 32, 2)]


def layer_counts(d_model: int, d_state: int = D_STATE, expand: int = EXPAND,
                 d_conv: int = D_CONV) -> dict[str, dict[str, float]]:
  """Per token and layer: {part: {"matmul_flops", "other_flops", "exp", "bytes"}}.

  Forward+backward of one Mamba layer as our code runs it (a multiply-add is 2 FLOPs):
  a matmul's backward is twice its forward (the input and the weight gradients); the selective
  scan's custom VJP (scan.py, chunked) runs the forward (6 DN FLOPs and DN exponentials per
  token), recomputes the states in the backward (4 DN, DN exp) and runs the reversed loop (22
  DN, DN exp). "bytes" counts the activations each part reads and writes in float32, forward
  and backward (the gradient pass reads the saved activations and writes their gradients:
  twice the forward's traffic); the scan's states stay in cache (only one state per chunk
  leaves it), so they are not counted, nor are the weights (kilobytes).
  """
  m, d, n = d_model, expand * d_model, d_state
  r = math.ceil(d_model / 16)

  def part(matmul=0.0, other=0.0, exp=0.0, moved=0.0):
    return {"matmul_flops": matmul, "other_flops": other, "exp": exp,
            "bytes": 3 * moved * FLOAT_BYTES}

  return {
      # RMSNorm and the residual add: square, sum, scale, multiply; read x, write the output.
      "norm+residual": part(other=3 * 5 * m, moved=3 * m),
      "in_proj": part(matmul=3 * 2 * m * 2 * d, moved=m + 2 * d),
      "conv+silu": part(other=3 * (2 * d_conv * d + 4 * d), exp=2 * d, moved=2 * d),
      "x_proj+dt_proj+softplus": part(matmul=3 * 2 * (d * (r + 2 * n) + r * d),
                                      other=3 * 3 * d, exp=2 * 2 * d,
                                      moved=d + (r + 2 * n) + 2 * d),
      "selective_scan": part(other=(6 + 4 + 22) * d * n, exp=3 * d * n,
                             moved=2 * d + 2 * n + d),
      "skip+gate": part(other=3 * 6 * d, exp=2 * d, moved=4 * d),
      "out_proj": part(matmul=3 * 2 * d * m, moved=d + m),
  }


def step_counts(shape: bench_models.StackShape) -> dict[str, float]:
  """Totals per token of the whole stack (num_layers layers, the final norm ignored)."""
  totals = {"matmul_flops": 0.0, "other_flops": 0.0, "exp": 0.0, "bytes": 0.0}
  for counts in layer_counts(shape.d_model).values():
    for key in totals:
      totals[key] += shape.num_layers * counts[key]
  return totals


def _median_s(fn: Callable[[], Any], repeats: int) -> float:
  jax.block_until_ready(fn())
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def machine_rates(quick: bool = False, repeats: int = 5) -> dict[str, float]:
  """Measured fp32 matmul FLOP/s (jnp.dot), exp/s and memory bandwidth (bytes read + written).

  exp runs 64 times over a 1 MiB array in one jitted loop (in cache, as the scan's gates are:
  timing one pass over a large fresh array would time the page faults of its new output), and
  the bandwidth is that of x + 1 on a large array whose buffer is donated (reused in place).
  """
  n = 512 if quick else 2048
  key = jax.random.PRNGKey(0)
  a = jax.random.normal(key, (n, n), jnp.float32)
  dot = jax.jit(jnp.dot)
  matmul_s = _median_s(lambda: dot(a, a), repeats)
  in_cache, passes = 2**18, 64
  small = jax.random.uniform(key, (in_cache,), jnp.float32, -1.0, 0.0)
  exps = jax.jit(lambda v: jax.lax.fori_loop(0, passes, lambda i, u: jnp.exp(u) - 1.0, v))
  exp_s = _median_s(lambda: exps(small), repeats) / passes
  size = (4 if quick else 64) * 2**20
  state = {"v": jnp.zeros((size,), jnp.float32)}
  add = jax.jit(lambda x: x + 1.0, donate_argnums=0)

  def add_in_place():
    state["v"] = add(state["v"])
    return state["v"]

  add_s = _median_s(add_in_place, repeats)
  return {"matmul_flop_per_s": 2 * n**3 / matmul_s, "exp_per_s": in_cache / exp_s,
          "copy_bytes_per_s": 2 * size * FLOAT_BYTES / add_s, "matmul_n": n,
          "exp_elements": in_cache, "copy_elements": size}


def _stack_fns(shape: bench_models.StackShape, method: str = "auto"):
  model = mamba.MambaStack(shape.num_layers, shape.d_model, d_state=D_STATE, scan=method)
  x = jax.random.normal(jax.random.PRNGKey(0), (shape.batch, shape.length, shape.d_model))
  params = model.init(jax.random.PRNGKey(1), x[:1, :8])
  loss = lambda p, x: jnp.sum(model.apply(p, x) ** 2)
  return loss, jax.grad(loss), (params, x)


def _scan_fns(shape: bench_models.StackShape, method: str = "auto"):
  args = bench_models._scan_inputs(  # pylint: disable=protected-access
      bench_models.ScanShape(shape.batch, shape.length, EXPAND * shape.d_model, D_STATE))
  loss = lambda *a: jnp.sum(scan.selective_scan(*a, method=method) ** 2)
  return loss, jax.grad(loss, argnums=(0, 1, 2, 3, 4)), args


def measure_shape(shape: bench_models.StackShape, rates: dict[str, float],
                  repeats: int) -> dict[str, Any]:
  """Times and bound of one shape; times in ms for the whole batch."""
  tokens = shape.batch * shape.length
  loss, grad, args = _stack_fns(shape)
  compiled = jax.jit(grad).lower(*args).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  step_s = _median_s(lambda: compiled(*args), repeats)
  forward = jax.jit(loss)
  forward_s = _median_s(lambda: forward(*args), repeats)
  scan_loss, scan_grad, scan_args = _scan_fns(shape)
  scan_grad_jit, scan_loss_jit = jax.jit(scan_grad), jax.jit(scan_loss)
  scan_step_s = shape.num_layers * _median_s(lambda: scan_grad_jit(*scan_args), repeats)
  scan_forward_s = shape.num_layers * _median_s(lambda: scan_loss_jit(*scan_args), repeats)

  counts = step_counts(shape)
  flops = counts["matmul_flops"] + counts["other_flops"]
  compute_s = flops / rates["matmul_flop_per_s"] + counts["exp"] / rates["exp_per_s"]
  memory_s = counts["bytes"] / rates["copy_bytes_per_s"]
  bound_s = tokens * max(compute_s, memory_s)
  scan_counts = layer_counts(shape.d_model)["selective_scan"]
  scan_bound_s = tokens * shape.num_layers * (
      scan_counts["other_flops"] / rates["matmul_flop_per_s"]
      + scan_counts["exp"] / rates["exp_per_s"])
  return {
      **dataclasses.asdict(shape), "tokens_per_s": tokens / step_s,
      "step_ms": 1e3 * step_s, "forward_ms": 1e3 * forward_s,
      "scan_step_ms": 1e3 * scan_step_s, "scan_forward_ms": 1e3 * scan_forward_s,
      "rest_step_ms": 1e3 * (step_s - scan_step_s),
      "flops_per_token": flops, "matmul_share_of_flops": counts["matmul_flops"] / flops,
      "exp_per_token": counts["exp"], "bytes_per_token": counts["bytes"],
      "flops_per_byte": flops / counts["bytes"],
      "xla_flops_per_token": cost.get("flops", float("nan")) / tokens,
      "xla_transcendentals_per_token": cost.get("transcendentals", float("nan")) / tokens,
      "xla_bytes_per_token": cost.get("bytes accessed", float("nan")) / tokens,
      "bound": "compute" if compute_s >= memory_s else "memory",
      "bound_ms": 1e3 * bound_s, "fraction_of_bound": bound_s / step_s,
      "scan_bound_ms": 1e3 * scan_bound_s, "scan_fraction_of_bound": scan_bound_s / scan_step_s,
      "achieved_gflop_per_s": flops * tokens / step_s / 1e9,
  }


def run(quick: bool = False, repeats: int = 7) -> dict[str, Any]:
  rates = machine_rates(quick)
  shapes = QUICK if quick else [HEADLINE] + SUITE
  load_before = os.getloadavg()[0]
  rows = [measure_shape(shape, rates, repeats) for shape in shapes]
  return {"backend": jax.default_backend(), "auto_method": scan.resolve_method("auto"),
          "cpu_count": os.cpu_count(), "jax": jax.__version__, "rates": rates,
          "load_average_1m_before": load_before, "load_average_1m_after": os.getloadavg()[0],
          "rows": rows}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--quick", action="store_true", help="two small shapes (a smoke run)")
  parser.add_argument("--repeats", type=int, default=7, help="timed runs per case (median)")
  args = parser.parse_args()
  print(json.dumps(run(args.quick, args.repeats), indent=1))


if __name__ == "__main__":
  main()

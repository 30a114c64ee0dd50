"""Model speed benchmark (DESIGN.md section 5): scans and the Mamba stack, forward+backward.

    from benchmarks import models as bench_models
    result = bench_models.run(quick=True)
    print(bench_models.format_markdown(result))

Each case is a `jax.jit`-compiled forward+backward (the gradient of a sum-of-squares loss),
timed after one warm-up call with `block_until_ready`: the median of `repeats` (>= 10) runs
gives tokens/s = batch * length / median. Compile time is timed separately and temp memory is
`compiled.memory_analysis().temp_size_in_bytes`. When `torch` and `mambapy` are importable, the
same stack shapes are timed with mambapy's Mamba (its parallel-scan path, torch CPU) and our
speed is reported as a ratio to it. Everything runs in one process, so ratios compare like with
like.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ssm_expressivity.models import mamba
from ssm_expressivity.models import scan

METHODS = ("associative", "sequential", "chunked")
D_STATE = 16


@dataclasses.dataclass(frozen=True)
class StackShape:
  batch: int
  length: int
  d_model: int
  num_layers: int = 2


@dataclasses.dataclass(frozen=True)
class ScanShape:
  batch: int
  length: int
  width: int  # d_inner
  state: int = D_STATE


HEADLINE = StackShape(batch=32, length=256, d_model=64, num_layers=2)


def plan(quick: bool) -> dict[str, list]:
  """The cases of a run: the headline shape, a length sweep, a width sweep, two batch sizes."""
  if quick:
    return {
        "stack": [StackShape(8, 64, 16), StackShape(8, 256, 64)],
        "stack_methods": [StackShape(8, 64, 16)],
        "mambapy": [StackShape(8, 64, 16), StackShape(8, 256, 64)],
        "scan": [ScanShape(4, 256, 32)],
        "memory": [ScanShape(4, 1024, 32)],
    }
  return {
      # Our default path ("auto") over the design's grid slices.
      "stack": [HEADLINE, StackShape(8, 256, 64)]
               + [StackShape(8, n, 64) for n in (64, 1024, 1400)]
               + [StackShape(32, 256, d) for d in (16, 256)],
      # Every scan method inside the stack at the headline shape.
      "stack_methods": [HEADLINE],
      # mambapy takes 4-18 s per step at the longer / wider shapes: timed where it is affordable.
      "mambapy": [HEADLINE, StackShape(8, 64, 64), StackShape(8, 256, 64),
                  StackShape(32, 256, 16)],
      # Scan kernels alone (selective scan and raw linear recurrence), Mamba widths.
      "scan": [ScanShape(8, n, 128) for n in (64, 256, 1024)],
      # Compile-only memory at long lengths (the associative forms are too slow to time there).
      "memory": [ScanShape(32, 1024, 128), ScanShape(8, 1400, 128)],
  }


def _timed(run: Callable[[], Any], repeats: int) -> list[float]:
  jax.block_until_ready(run())  # warm-up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(run())
    times.append(time.perf_counter() - start)
  return times


def measure_jax(fn: Callable, args: Sequence[Any], tokens: int, repeats: int,
                timing: bool = True) -> dict[str, Any]:
  """Compile time, temp memory and (when `timing`) tokens/s of jit(fn)(*args)."""
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  analysis = compiled.memory_analysis()
  row = {"compile_s": compile_s,
         "temp_mib": None if analysis is None else analysis.temp_size_in_bytes / 2**20}
  if timing:
    times = _timed(lambda: compiled(*args), repeats)
    row.update(median_ms=1e3 * statistics.median(times), min_ms=1e3 * min(times),
               tokens_per_s=tokens / statistics.median(times), repeats=repeats)
  return row


def _stack_case(shape: StackShape, method: str, seed: int = 0):
  model = mamba.MambaStack(shape.num_layers, shape.d_model, d_state=D_STATE, scan=method)
  x = jax.random.normal(jax.random.PRNGKey(seed), (shape.batch, shape.length, shape.d_model))
  params = model.init(jax.random.PRNGKey(seed + 1), x[:1, :8])

  def loss_grad(params, x):
    return jax.grad(lambda p: jnp.sum(model.apply(p, x) ** 2))(params)

  return loss_grad, (params, x)


def _scan_inputs(shape: ScanShape, seed: int = 0):
  rng = np.random.default_rng(seed)
  b, n, d, s = shape.batch, shape.length, shape.width, shape.state
  x = jnp.asarray(rng.normal(size=(b, n, d)), jnp.float32)
  dt = jnp.asarray(rng.uniform(1e-3, 1e-1, size=(b, n, d)), jnp.float32)
  a_mat = -jnp.tile(jnp.arange(1, s + 1, dtype=jnp.float32), (d, 1))
  bm = jnp.asarray(rng.normal(size=(b, n, s)), jnp.float32)
  cm = jnp.asarray(rng.normal(size=(b, n, s)), jnp.float32)
  return x, dt, a_mat, bm, cm


def _selective_case(shape: ScanShape, method: str):
  def loss_grad(*args):
    loss = lambda *a: jnp.sum(scan.selective_scan(*a, method=method) ** 2)
    return jax.grad(loss, argnums=(0, 1, 2, 3, 4))(*args)

  return loss_grad, _scan_inputs(shape)


def _recurrence_case(shape: ScanShape, method: str):
  rng = np.random.default_rng(1)
  full = (shape.batch, shape.length, shape.width, shape.state)
  a = jnp.asarray(rng.uniform(0.9, 1.0, size=full), jnp.float32)
  b = jnp.asarray(rng.normal(size=full), jnp.float32)

  def loss_grad(a, b):
    return jax.grad(lambda a, b: jnp.sum(scan.linear_recurrence(a, b, method=method) ** 2),
                    argnums=(0, 1))(a, b)

  return loss_grad, (a, b)


def measure_mambapy(shape: StackShape, repeats: int, device: str = "cpu") -> dict[str, Any] | None:
  """mambapy's Mamba (pscan=True), torch forward+backward on `device` ("cpu" or "cuda");
  None when torch or mambapy is not installed, or the device is not there."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
    from mambapy import mamba as mambapy_mamba  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  if device == "cuda" and not torch.cuda.is_available():
    return None
  torch.manual_seed(0)
  torch.set_num_threads(os.cpu_count() or 1)
  config = mambapy_mamba.MambaConfig(d_model=shape.d_model, n_layers=shape.num_layers,
                                     d_state=D_STATE, pscan=True)
  model = mambapy_mamba.Mamba(config).to(device)
  x = torch.randn(shape.batch, shape.length, shape.d_model, device=device)
  # CUDA kernels run asynchronously: wait for them, as block_until_ready does for JAX.
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

  def step():
    model.zero_grad(set_to_none=True)
    model(x).square().sum().backward()
    sync()

  step()  # warm-up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
  return {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times),
          "tokens_per_s": shape.batch * shape.length / statistics.median(times),
          "repeats": repeats, "torch_version": torch.__version__,
          "torch_threads": torch.get_num_threads(), "torch_device": device}


def run(quick: bool = False, repeats: int | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
  """Runs the benchmark; returns {"environment", "rows", "ratios", "targets"}."""
  repeats = repeats or 10
  if repeats < 10:
    raise ValueError(f"repeats must be >= 10 (median of at least 10 runs), got {repeats}")
  cases = plan(quick)
  env = environment()
  rows: list[dict[str, Any]] = []

  def add(row):
    rows.append(row)
    shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
    log(f"{shown}")

  stack_methods = {(s, m) for s in cases["stack_methods"] for m in METHODS}
  stack_methods |= {(s, "auto") for s in cases["stack"]}
  for shape, method in sorted(stack_methods, key=lambda sm: (dataclasses.astuple(sm[0]),
                                                              sm[1])):
    fn, args = _stack_case(shape, method)
    row = measure_jax(fn, args, shape.batch * shape.length, repeats)
    add({"case": "mamba_stack", "impl": "ours", "method": method,
         "resolved": scan.resolve_method(method), **dataclasses.asdict(shape), **row})
  for shape in cases["mambapy"]:
    row = measure_mambapy(shape, repeats)
    if row is not None:
      add({"case": "mamba_stack", "impl": "mambapy", "method": "pscan",
           **dataclasses.asdict(shape), **row})
  for shape in cases["scan"]:
    for method in METHODS:
      for case, build in (("selective_scan", _selective_case),
                          ("linear_recurrence", _recurrence_case)):
        fn, args = build(shape, method)
        row = measure_jax(fn, args, shape.batch * shape.length, repeats)
        add({"case": case, "impl": "ours", "method": method, **dataclasses.asdict(shape),
             **row})
  for shape in cases["memory"]:
    for method in METHODS:
      for case, build in (("selective_scan", _selective_case),
                          ("linear_recurrence", _recurrence_case)):
        fn, args = build(shape, method)
        row = measure_jax(fn, args, shape.batch * shape.length, repeats, timing=False)
        add({"case": case + "_memory", "impl": "ours", "method": method,
             **dataclasses.asdict(shape), **row})
  env["load_average_1m_at_end"] = environment()["load_average_1m"]
  return {"environment": env, "quick": quick, "rows": rows,
          "ratios": ratios(rows), "targets": targets(rows)}


def environment() -> dict[str, Any]:
  device = jax.devices()[0]
  return {"backend": jax.default_backend(), "device": getattr(device, "device_kind", str(device)),
          "cpu_count": os.cpu_count(), "platform": platform.platform(),
          "python": platform.python_version(), "jax": jax.__version__,
          "auto_method": scan.resolve_method("auto"),
          # The benchmark machine may be shared: its load says how quiet the timings were.
          "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
          "chunk_size": scan.DEFAULT_CHUNK_SIZE}


def _shape_key(row: dict[str, Any]) -> tuple:
  return tuple(row.get(k) for k in ("batch", "length", "d_model", "num_layers", "width",
                                    "state"))


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
  """Our stack's tokens/s over mambapy's, per shape and method."""
  theirs = {_shape_key(r): r for r in rows if r["impl"] == "mambapy"}
  out = []
  for row in rows:
    if row["case"] == "mamba_stack" and row["impl"] == "ours" and _shape_key(row) in theirs:
      ref = theirs[_shape_key(row)]
      out.append({**{k: row[k] for k in ("batch", "length", "d_model", "num_layers", "method")},
                  "ours_tokens_per_s": row["tokens_per_s"],
                  "mambapy_tokens_per_s": ref["tokens_per_s"],
                  "speedup": row["tokens_per_s"] / ref["tokens_per_s"]})
  return out


def targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
  """The issue's two targets, measured: speed vs mambapy and chunked vs associative memory."""
  result: dict[str, Any] = {}
  speed = [r for r in ratios(rows) if r["method"] == "auto" and (
      r["batch"], r["length"], r["d_model"], r["num_layers"]) == dataclasses.astuple(HEADLINE)]
  if speed:
    result["speedup_vs_mambapy_at_headline"] = speed[0]["speedup"]
    result["speedup_target_met (>= 3)"] = speed[0]["speedup"] >= 3.0
  for case in ("selective_scan", "linear_recurrence"):
    mem = {(r["method"], _shape_key(r)): r["temp_mib"] for r in rows
           if r["case"] in (case, case + "_memory") and r["length"] == 1024
           and r["temp_mib"] is not None}
    pairs = [(mem[("chunked", k)], mem[("associative", k)]) for (m, k) in mem
             if m == "chunked" and ("associative", k) in mem]
    if pairs:
      worst = max(chunked / max(assoc, 1e-9) for chunked, assoc in pairs)
      result[f"{case}: chunked / associative temp at L=1024 (worst shape)"] = worst
      result[f"{case}: memory target met (<= 1/8)"] = worst <= 1 / 8
  return result


def _fmt(value: Any) -> str:
  if value is None:
    return "-"
  if isinstance(value, float):
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
  return str(value)


def format_markdown(result: dict[str, Any]) -> str:
  """Markdown tables of a `run` result."""
  env = result["environment"]
  lines = [f"# Model benchmark: {env['backend']} ({env['device']}, {env['cpu_count']} cores)",
           "",
           f"jax {env['jax']}, python {env['python']}; `auto` = `{env['auto_method']}`, "
           f"chunk size {env['chunk_size']}. Forward+backward of a sum-of-squares loss, "
           "jit-compiled; median of >= 10 runs after a warm-up. Machine load (1 min average) "
           f"{_fmt(env.get('load_average_1m'))} at the start, "
           f"{_fmt(env.get('load_average_1m_at_end'))} at the end.", ""]
  stack = [r for r in result["rows"] if r["case"] == "mamba_stack"]
  lines += ["## Mamba stack (d_state 16, expand 2, d_conv 4)", "",
            "| impl | method | batch | length | d_model | layers | tokens/s | median ms | "
            "compile s | temp MiB |", "|---|---|---|---|---|---|---|---|---|---|"]
  for r in stack:
    lines.append("| " + " | ".join(_fmt(r.get(k)) for k in (
        "impl", "method", "batch", "length", "d_model", "num_layers", "tokens_per_s",
        "median_ms", "compile_s", "temp_mib")) + " |")
  if result["ratios"]:
    lines += ["", "## Speed relative to mambapy (torch CPU, pscan path)", "",
              "| method | batch | length | d_model | layers | ours tokens/s | mambapy tokens/s "
              "| speedup |", "|---|---|---|---|---|---|---|---|"]
    for r in result["ratios"]:
      lines.append("| " + " | ".join(_fmt(r[k]) for k in (
          "method", "batch", "length", "d_model", "num_layers", "ours_tokens_per_s",
          "mambapy_tokens_per_s", "speedup")) + " |")
  else:
    lines += ["", "(mambapy / torch not installed: no reference timing.)"]
  lines += ["", "## Scans alone (d_state 16)", "",
            "| kernel | method | batch | length | d_inner | tokens/s | median ms | compile s | "
            "temp MiB |", "|---|---|---|---|---|---|---|---|---|"]
  for r in result["rows"]:
    if r["case"] in ("selective_scan", "linear_recurrence", "selective_scan_memory",
                     "linear_recurrence_memory"):
      lines.append("| " + " | ".join(_fmt(r.get(k)) for k in (
          "case", "method", "batch", "length", "width", "tokens_per_s", "median_ms",
          "compile_s", "temp_mib")) + " |")
  lines += ["", "## Targets", ""]
  for key, value in result["targets"].items():
    lines.append(f"- {key}: {_fmt(value)}")
  lines += ["", "The memory target concerns the Mamba scan (`selective_scan`, what MambaBlock "
            "runs). `linear_recurrence` returns every h_t, so its forward+backward holds at "
            "least its [B, L, D, N] output and that output's cotangent in any method: its "
            "chunked form saves no memory over the sequential one, and 1/8 of the associative "
            "form is out of reach by construction."]
  return "\n".join(lines) + "\n"

"""Sweeps: every point of a grid, grouped into as few jitted programs as the shapes allow.

    points = sweep.parse_grid("optim.learning_rate=1e-4,1e-3;seed=0,1,2")   # 6 override dicts
    plan = sweep.plan(config, points, "runs/lr_seed")
    sweep.run(plan)            # trains every group, writes runs/lr_seed/sweep.json

A grid comes from the config file (`get_sweep(arg)`, a list of override dicts beside
`get_config`) or from the command line (`--sweep`, which replaces it). Each point is the base
config with its overrides (dotted fields; `model.name` switches the model's field set) and
trains in `<sweep workdir>/<run name>`, a workdir like any other. Points whose configs differ
only in `loop.GROUP_FIELDS` train together in one program.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import pathlib
import re
from typing import Any, Sequence

from absl import logging
import jax
import ml_collections

from ssm_expressivity import configlib
from ssm_expressivity.training import loop
from ssm_expressivity.training.rundir import RunDir, atomic_write

SWEEP_FILE = "sweep.json"
# Longest run directory name before it is shortened with a hash.
_MAX_NAME = 96


def parse_grid(text: str, config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
  """"a.b=1,2;c=x" -> the product [{a.b: 1, c: x}, {a.b: 2, c: x}], values typed as the
  fields of `config` (a tuple value is written a+b). ValueError for an unknown field, an empty
  list or a value of the wrong type."""
  axes = []
  for part in [p.strip() for p in text.split(";") if p.strip()]:
    field, sep, values = part.partition("=")
    field = field.strip()
    if not sep or not field:
      raise ValueError(f"--sweep: {part!r} is not field=value,value,...")
    items = [v.strip() for v in values.split(",")]
    if not any(items) or any(not v for v in items):
      raise ValueError(f"--sweep: {field} has an empty value list or an empty value ({part!r})")
    typed = [_typed(config, field, v) for v in items]
    axes.append([(field, v) for v in typed])
  if not axes:
    raise ValueError("--sweep is empty; give field=value,value;field=value,...")
  return [dict(point) for point in itertools.product(*axes)]


def _typed(config: ml_collections.ConfigDict, field: str, value: str) -> Any:
  """`value` as the type of `field` (checked by applying it to `config`)."""
  if field == "model.name":
    configlib.apply_overrides(config, {field: value})
    return value
  parsed = value
  if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", value):
    parsed = float(value) if re.search(r"[.eEn]", value) else int(value)
  elif value.lower() in ("true", "false"):
    parsed = value.lower() == "true"
  updated = configlib.apply_overrides(config, {field: parsed})
  node = updated
  for part in field.split("."):
    node = node[part]
  return node.to_dict() if hasattr(node, "to_dict") else node


def run_name(overrides: dict[str, Any]) -> str:
  """A directory name from a point's overrides: `learning_rate=0.001,seed=1`."""
  if not overrides:
    return "base"
  short = {}
  last_parts = [k.rsplit(".", 1)[-1] for k in overrides]
  for key, value in overrides.items():
    name = key.rsplit(".", 1)[-1]
    short[key if last_parts.count(name) > 1 else name] = value
  text = ",".join(f"{k}={_format_value(v)}" for k, v in short.items())
  text = re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)
  if len(text) > _MAX_NAME:
    import hashlib  # pylint: disable=g-import-not-at-top
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    text = text[:_MAX_NAME - 11] + "-" + digest
  return text


def _format_value(value: Any) -> str:
  if isinstance(value, float):
    return f"{value:g}"
  if isinstance(value, (tuple, list)):
    return "+".join(map(str, value))
  return str(value)


@dataclasses.dataclass
class Point:
  """One run of a sweep. Attributes: name (its directory), overrides, config."""
  name: str
  overrides: dict[str, Any]
  config: ml_collections.ConfigDict


@dataclasses.dataclass
class Plan:
  """Attributes:
    workdir: the sweep's directory (sweep.json, one subdirectory per run).
    points: every run.
    groups: lists of indices into points; each list is one program.
  """
  workdir: pathlib.Path
  points: list[Point]
  groups: list[list[int]]


def plan(base: ml_collections.ConfigDict, grid: Sequence[dict[str, Any]], workdir,
         *, max_group_size: int = 0, single_program: bool = False) -> Plan:
  """The runs of `grid` over `base`, validated and grouped by shape (see plan_points)."""
  if not grid:
    raise ValueError("the sweep has no points")
  points = [Point(run_name(dict(overrides)), dict(overrides),
                  configlib.apply_overrides(base, overrides)) for overrides in grid]
  return plan_points(points, workdir, max_group_size=max_group_size,
                     single_program=single_program)


def plan_points(points: Sequence[Point], workdir, *, max_group_size: int = 0,
                single_program: bool = False) -> Plan:
  """`points` validated and grouped: points whose configs differ only in loop.GROUP_FIELDS
  share a program.

  max_group_size > 0 caps the runs per program (memory); single_program makes it an error
  when the runs cannot share one program.
  """
  RunDir(workdir)  # the current directory is refused here, before anything is built
  names = set()
  for point in points:
    try:
      configlib.validate(point.config)
    except ValueError as e:
      raise ValueError(f"run {point.name} {point.overrides or ''}: {e}") from None
    if point.name in names:
      raise ValueError(f"the sweep has the run {point.name} ({point.overrides}) twice")
    names.add(point.name)
  keys: dict[str, list[int]] = {}
  for index, point in enumerate(points):
    key = json.dumps(loop.group_key(point.config), sort_keys=True)
    keys.setdefault(key, []).append(index)
  if single_program and len(keys) > 1:
    members = list(keys.values())
    loop.check_group([points[members[0][0]].config, points[members[1][0]].config])
  groups = []
  for members in keys.values():
    size = max_group_size or len(members)
    groups += [members[i:i + size] for i in range(0, len(members), size)]
  return Plan(pathlib.Path(workdir), list(points), groups)


def describe(point: Point, group: int) -> dict[str, Any]:
  """What `--dry_run` prints for a point: what it will train, without training it."""
  c = point.config
  record = {"run": point.name, "group": group, "overrides": point.overrides,
            "model.name": c.model.name, "model.d_model": c.model.d_model,
            "model.num_layers": c.model.num_layers,
            "optim.learning_rate": c.optim.learning_rate, "batch_size": c.batch_size,
            "loss": c.loss, "seed": c.seed}
  if c.num_epochs > 0:
    record["num_epochs"] = c.num_epochs
  else:
    record["num_steps"] = c.num_steps
  if c.get("max_steps", 0) > 0:
    record["max_steps"] = c.max_steps
  return record


def dry_run_lines(the_plan: Plan) -> list[str]:
  group_of = {i: g for g, members in enumerate(the_plan.groups) for i in members}
  return [json.dumps(describe(p, group_of[i])) for i, p in enumerate(the_plan.points)]


def _write_sweep_file(the_plan: Plan, finals: dict[int, dict]) -> None:
  if jax.process_index() != 0:
    return
  runs = [{"workdir": p.name, "overrides": p.overrides, "final": finals.get(i)}
          for i, p in enumerate(the_plan.points)]
  atomic_write(the_plan.workdir / SWEEP_FILE, json.dumps({"runs": runs}, indent=2) + "\n")


def run(the_plan: Plan, *, stop_at_step: int | None = None) -> dict[int, loop.RunResult]:
  """Trains every group of `the_plan` (resuming what is on disk); writes sweep.json."""
  sweep_dir = RunDir(the_plan.workdir)
  if jax.process_index() == 0:
    sweep_dir.create()
  results: dict[int, loop.RunResult] = {}
  finals: dict[int, dict] = {}
  previous = the_plan.workdir / SWEEP_FILE
  if previous.exists():
    try:
      old = json.loads(previous.read_text())
      by_name = {r["workdir"]: r.get("final") for r in old.get("runs", [])}
      finals = {i: by_name.get(p.name) for i, p in enumerate(the_plan.points)
                if by_name.get(p.name)}
    except (OSError, ValueError, AttributeError):
      finals = {}
  _write_sweep_file(the_plan, finals)
  for number, members in enumerate(the_plan.groups):
    logging.info("group %d/%d: %d run(s) in one program: %s", number + 1,
                 len(the_plan.groups), len(members),
                 ", ".join(the_plan.points[i].name for i in members))
    specs = [loop.RunSpec(the_plan.points[i].config, the_plan.workdir / the_plan.points[i].name,
                          name=the_plan.points[i].name) for i in members]
    for i, result in zip(members, loop.train_group(specs, stop_at_step=stop_at_step)):
      results[i] = result
      finals[i] = {"step": result.step, "stopped": result.stopped,
                   "eval": result.eval_metrics, "best": result.best}
    _write_sweep_file(the_plan, finals)
  return results


def read_sweep(workdir: str | pathlib.Path) -> dict:
  """The sweep.json of a sweep workdir."""
  path = pathlib.Path(workdir) / SWEEP_FILE
  try:
    return json.loads(path.read_text())
  except FileNotFoundError:
    raise ValueError(f"{workdir} holds no sweep ({SWEEP_FILE} is missing)") from None
  except (OSError, ValueError) as e:
    raise ValueError(f"{path} is corrupt: {e}") from None

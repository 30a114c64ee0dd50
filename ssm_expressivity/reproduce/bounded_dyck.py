"""Bounded Dyck: Mamba with 1 and 2 layers, close accuracy beside Figure 4."""

from __future__ import annotations

from ssm_expressivity import published
from ssm_expressivity.reproduce.base import Context, Experiment, load_config, pct


def build(tier: str = "paper", num_layers: int | None = None) -> Experiment:
  runs = {}
  for layers in ((num_layers,) if num_layers is not None else (1, 2)):
    config = load_config("bounded_dyck", tier)
    config.model.num_layers = layers
    runs[f"mamba{layers}"] = config
  return Experiment("bounded_dyck", tier, runs, [], report)


def report(ctx: Context) -> str:
  paper = published.bounded_dyck()
  lines = ["| model | d_model | split | ours close acc % | paper close acc % |",
           "|---|---|---|---|---|"]
  for name, results in ctx.results.items():
    config = ctx.configs[name]
    key = "one_layer" if config.model.num_layers == 1 else "two_layers"
    width = str(config.model.d_model)
    row = paper.get(key, {}).get(width)
    for split, r in results.items():
      column = paper["columns"].index(split) if split in paper["columns"] else None
      ref = "-" if row is None or column is None or row[column] is None else pct(row[column])
      lines.append(f"| {name} | {width} | {split} | {pct(r.get('close_acc'))} | {ref} |")
  return "\n".join(lines)

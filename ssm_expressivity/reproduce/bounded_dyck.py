"""Bounded Dyck: Mamba with 1 and 2 layers, close accuracy beside Figure 4."""

from __future__ import annotations

from matplotlib.figure import Figure

from configs import bounded_dyck as bounded_dyck_config
from ssm_expressivity import configlib
from ssm_expressivity import figures
from ssm_expressivity import published
from ssm_expressivity.data import pipeline
from ssm_expressivity.languages import bounded_dyck as bounded_dyck_language
from ssm_expressivity.reproduce.base import Context, Experiment, load_config, pct
from ssm_expressivity.training.rundir import RunDir


def build(tier: str = "paper", num_layers: int | None = None) -> Experiment:
  """paper and cpu: the 18 official runs (d_model 20..100 x 1, 2 layers); quick: one per
  depth."""
  runs = {}
  depths = (num_layers,) if num_layers is not None else (1, 2)
  if tier in ("paper", "cpu"):
    base = load_config("bounded_dyck", tier)
    for point in bounded_dyck_config.get_sweep(tier):
      if point["model.num_layers"] in depths:
        name = f"mamba{point['model.num_layers']}_d{point['model.d_model']}"
        runs[name] = configlib.apply_overrides(base, point)
    return Experiment("bounded_dyck", tier, runs, [], report)
  for layers in depths:
    config = load_config("bounded_dyck", tier)
    config.model.num_layers = layers
    runs[f"mamba{layers}"] = config
  return Experiment("bounded_dyck", tier, runs, [], report)


def report(ctx: Context) -> str:
  paper = published.bounded_dyck()
  lines = [data_line(next(iter(ctx.configs.values()))), "",
           "Each run's numbers are its final model's (as the official code reports them).", "",
           "| model | d_model | split | ours close acc % | paper close acc % |",
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
  figure = "close_acc_vs_width.png"
  RunDir(ctx.workdir).write_bytes(figure, figures.png_bytes(close_accuracy_vs_width(ctx, paper)))
  lines += ["", f"![close accuracy vs width]({figure})"]
  return "\n".join(lines)


def data_line(config) -> str:
  """The splits' token budgets of `config`, with the paper's where they differ."""
  sizes = pipeline.as_dict(config.data.sizes)
  parts = []
  for split in bounded_dyck_language.SPLITS:
    budget = int(sizes.get(split.name, split.budget))
    paper = "" if budget == split.budget else f" (paper {split.budget:,})"
    depth = f", depth {split.depth}" if split.depth is not None else ""
    parts.append(f"{split.name} {budget:,}{paper} tokens of lengths "
                 f"{split.min_length}-{split.max_length}{depth}")
  return "Data (END included): " + "; ".join(parts) + "."


def close_accuracy_vs_width(ctx: Context, paper: dict) -> Figure:
  """Close accuracy against d_model, one line per (depth, split), the paper's dashed."""
  series: dict[tuple[int, str], list[tuple[int, float]]] = {}
  for name, results in ctx.results.items():
    config = ctx.configs[name]
    for split, r in results.items():
      if r.get("close_acc") is not None:
        series.setdefault((config.model.num_layers, split), []).append(
            (config.model.d_model, 100 * r["close_acc"]))
  fig = Figure(figsize=(6, 3.5), layout="tight")
  ax = fig.subplots()
  for (layers, split), points in sorted(series.items()):
    ax.plot(*zip(*sorted(points)), marker="o", label=f"ours {layers} layer(s), {split}")
    row = paper.get("one_layer" if layers == 1 else "two_layers", {})
    column = paper["columns"].index(split) if split in paper.get("columns", []) else None
    ref = sorted((int(w), 100 * v[column]) for w, v in row.items()
                 if column is not None and v[column] is not None)
    if ref:
      ax.plot(*zip(*ref), linestyle="--", label=f"paper {layers} layer(s), {split}")
  ax.set_xlabel("d_model")
  ax.set_ylabel("close accuracy %")
  ax.legend(fontsize=6)
  return fig

"""Figures of runs as PNG bytes: training curves from metrics.jsonl, accuracy vs length.

    png = figures.png_bytes(figures.training_curves(RunDir("runs/ff").read_metrics()))
    png = figures.png_bytes(figures.accuracy_vs_length({"mamba1": {split: metrics}}))

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so this module never
changes the process's backend: a notebook keeps its inline plots, a server needs no display.
"""

from __future__ import annotations

import io
from typing import Mapping

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ACCURACY_METRICS = ("strict_acc", "close_acc", "position_acc")


def accuracy_metric(config) -> str:
  """The accuracy a run is judged by: its best_metric when that is an accuracy."""
  metric = config.get("best_metric", "strict_acc")
  return metric if metric in ACCURACY_METRICS else "strict_acc"


def png_bytes(figure: Figure, dpi: int = 100) -> bytes:
  buffer = io.BytesIO()
  FigureCanvasAgg(figure)  # attaches the Agg canvas to the figure
  figure.savefig(buffer, format="png", dpi=dpi)
  return buffer.getvalue()


def training_curves(records: list[dict], metric: str = "strict_acc", title: str = "") -> Figure:
  """Two panels from metrics.jsonl records: the training loss per logged step, and `metric`
  of every eval split per evaluation step."""
  figure = Figure(figsize=(9, 3.5), layout="constrained")
  loss_axes, eval_axes = figure.subplots(1, 2)
  train = [r for r in records if "split" not in r and "loss" in r]
  if train:
    steps = [r["step"] for r in train]
    losses = [r["loss"] for r in train]
    loss_axes.plot(steps, losses, color="tab:blue")
    if all(loss > 0 for loss in losses):
      loss_axes.set_yscale("log")
  loss_axes.set(xlabel="step", ylabel="training loss", title="loss")
  splits: dict[str, list[tuple[int, float]]] = {}
  for r in records:
    if "split" in r and metric in r:
      splits.setdefault(r["split"], []).append((r["step"], r[metric]))
  for split, points in splits.items():
    steps, values = zip(*sorted(points))
    eval_axes.plot(steps, [100 * v for v in values], marker="o", label=split)
  eval_axes.set(xlabel="step", ylabel=f"{metric} %", title="evaluation", ylim=(-5, 105))
  if splits:
    eval_axes.legend(fontsize="small")
  if title:
    figure.suptitle(title)
  return figure


def accuracy_vs_length(series: Mapping[str, Mapping[str, Mapping]], metric: str = "strict_acc",
                       title: str = "") -> Figure:
  """`metric` per eval split against the split's length (the middle of its length window),
  one line per entry of `series` ({label: {split: metrics with min/max_length}})."""
  figure = Figure(figsize=(6, 4), layout="constrained")
  axes = figure.subplots()
  lengths = []
  for label, results in series.items():
    points = sorted(((r["min_length"] + r["max_length"]) / 2, 100 * r[metric])
                    for r in results.values() if metric in r and r[metric] == r[metric])
    if points:
      xs, ys = zip(*points)
      lengths += xs
      axes.plot(xs, ys, marker="o", label=label)
  if lengths and max(lengths) / max(min(lengths), 1) >= 8:
    axes.set_xscale("log", base=2)
  axes.set(xlabel="string length (middle of each window)", ylabel=f"{metric} %",
           ylim=(-5, 105), title=title or f"{metric} vs length")
  axes.grid(alpha=0.3)
  if lengths and len(series) <= 12:  # a legend of more runs would hide the plot
    axes.legend(fontsize="small")
  return figure

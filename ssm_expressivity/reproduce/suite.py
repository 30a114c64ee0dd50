"""The suite (Figure 3): every grid point of the official protocol per language, the best run
per (language, depth) selected on the in-distribution bin, the agreement score, a figure.

    python -m experiments.reproduce --experiment=suite --tier=cpu
    python -m experiments.reproduce --experiment=counter --language=dyck1 --tier=paper

paper / cpu tiers: the runs are `configs/<group>.py`'s get_sweep (ssm_expressivity.protocol);
quick: one run per language. The report writes results.json and suite_grid.png beside
report.md.
"""

from __future__ import annotations

import functools
import json

from matplotlib.figure import Figure

from ssm_expressivity import configlib
from ssm_expressivity import figures
from ssm_expressivity import published
from ssm_expressivity import protocol
from ssm_expressivity.reproduce import agreement
from ssm_expressivity.reproduce.base import Context, Experiment, load_config, pct
from ssm_expressivity.training import sweep
from ssm_expressivity.training.rundir import RunDir

GROUPS = {"star_free": configlib.STAR_FREE, "non_star_free": configlib.NON_STAR_FREE,
          "counter": configlib.COUNTER}
GROUP_OF = {language: group for group, members in GROUPS.items() for language in members}


def build_group(group: str, tier: str = "paper", language: str | None = None,
                num_layers: int | None = None) -> Experiment:
  """The runs of one group (or, group "suite", of all 27 languages)."""
  members = tuple(GROUP_OF) if group == "suite" else GROUPS[group]
  if language is None:  # a group's config names its default language; the suite: all
    language = "all" if group == "suite" else load_config(group, tier).data.language
  chosen = members if language == "all" else tuple(language.split("+"))
  for name in chosen:
    if name not in members:
      raise ValueError(f"--language={name!r} is not in the {group} group; valid: "
                       f"{', '.join(members)}, all")
  runs = {}
  for name in chosen:
    config = load_config(GROUP_OF[name], f"{name},{tier}")
    config.experiment = group  # "suite" runs come from the three group files
    if tier == "quick":
      if num_layers is not None:
        config.model.num_layers = num_layers
      runs[f"{name}/mamba{config.model.num_layers}"] = config
      continue
    for point in protocol.suite_grid(name, tier):
      if num_layers is not None and point["model.num_layers"] != num_layers:
        continue
      runs[f"{name}/{sweep.run_name(point)}"] = configlib.apply_overrides(config, point)
  return Experiment(group, tier, runs, [], report)


def cell_runs(ctx: Context) -> list[dict]:
  """The results as agreement.select's input: one record per run."""
  return [{"language": ctx.configs[name].data.language,
           "depth": ctx.configs[name].model.num_layers, "name": name, "bins": bins}
          for name, bins in ctx.results.items()]


def report(ctx: Context) -> str:
  cells = agreement.select(cell_runs(ctx), on="bin0")
  score = agreement.agree(cells)
  lines = [
      "Selection: per (language, depth) the run with the highest strict accuracy on bin0 (the "
      "training lengths; ties: lower bin0 loss), its accuracy on every bin; `best per bin` is "
      "the highest strict accuracy of any run of the cell on that bin. Each run's number is "
      "its final evaluation.", "",
      f"**Agreement: {score['agree']}/{score['cells']} cells** (a cell generalizes when strict "
      f"accuracy on its longest bin is >= {100 * agreement.GENERALIZES:g}%; paper: Mamba rows "
      "of Figure 3).", "",
      "| language | depth | runs | ours strict % per bin (selected) | best per bin % | "
      "paper Mamba % | paper Transformer % |",
      "|---|---|---|---|---|---|---|"]
  for cell in cells:
    paper = published.suite(cell["language"]) or {}
    mamba = " / ".join(f"{v:g}" for v in paper.get(f"mamba{cell['depth']}", [])) or "-"
    transformer = " / ".join(f"{v:g}" for v in paper.get("transformer", [])) or "-"
    lines.append(
        f"| {cell['language']} | {cell['depth']} | {cell['runs']} | "
        f"{' / '.join(pct(v) for v in cell['strict_acc'].values())} | "
        f"{' / '.join(pct(v) for v in cell['best_per_bin'].values())} | "
        f"{mamba} | {transformer} |")
  if score["disagreements"]:
    lines += ["", "Disagreements (longest bin, ours vs paper):", ""]
    lines += [f"- {d['language']} depth {d['depth']}: {pct(d['ours_longest_bin'])}% vs "
              f"{pct(d['paper_longest_bin'])}%" for d in score["disagreements"]]
  figure = "suite_grid.png"
  workdir = RunDir(ctx.workdir)
  workdir.write_bytes(figure, figures.png_bytes(grid_figure(cells)))  # makes the directory
  lines += ["", f"![strict accuracy per bin]({figure})"]
  workdir.write_text("results.json", json.dumps(
      {"runs": ctx.results, "cells": cells, "agreement": score}, indent=2, default=float) + "\n")
  return "\n".join(lines)


def grid_figure(cells: list[dict]) -> Figure:
  """Figure-3 style: languages x (depth, bin), coloured by our strict accuracy, beside the
  paper's Mamba cells."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  languages = sorted({c["language"] for c in cells}, key=list(GROUP_OF).index)
  depths = sorted({c["depth"] for c in cells})
  bins = max(len(c["strict_acc"]) for c in cells)
  columns = [(d, b) for d in depths for b in range(bins)]
  ours = np.full((len(languages), len(columns)), np.nan)
  paper = np.full_like(ours, np.nan)
  for cell in cells:
    row = languages.index(cell["language"])
    published_cell = (published.suite(cell["language"]) or {}).get(f"mamba{cell['depth']}", [])
    for b, value in enumerate(cell["strict_acc"].values()):
      col = columns.index((cell["depth"], b))
      ours[row, col] = 100 * agreement._finite(value)  # pylint: disable=protected-access
      if b < len(published_cell):
        paper[row, col] = published_cell[b]
  fig = Figure(figsize=(2 + 0.5 * len(columns) * 2, 1 + 0.3 * len(languages)))
  axes = fig.subplots(1, 2)
  for ax, values, title in ((axes[0], ours, "ours (selected on bin0)"),
                            (axes[1], paper, "paper (Figure 3, Mamba)")):
    image = ax.imshow(values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_title(title)
    ax.set_yticks(range(len(languages)), languages)
    ax.set_xticks(range(len(columns)), [f"L{d} b{b + 1}" for d, b in columns], rotation=90)
    for (r, c), v in np.ndenumerate(values):
      if v == v:
        ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=6, color="white")
  fig.colorbar(image, ax=axes, label="strict accuracy %")
  return fig


BUILDERS = {group: functools.partial(build_group, group) for group in (*GROUPS, "suite")}

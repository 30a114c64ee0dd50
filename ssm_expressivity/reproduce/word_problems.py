"""Word problems ("The Illusion of State"): the fewest layers that track a group at length k.

For each group and model, every depth x length k x repeat of configs/word_problem.py trains;
a (group, model, k) needs the fewest depth at which some repeat reaches THRESHOLD sequence
accuracy on fresh length-k words. Expected (to be measured): Z60 (abelian) at small depth for
every k; A5 (non-solvable) needing more layers as k grows for Mamba and the transformer; LSTM
and IDS4 at depth 1. The report writes a table, results.json and word_problems.png (layers
needed vs k, one panel per group).
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

from matplotlib.figure import Figure

from ssm_expressivity import figures
from ssm_expressivity.reproduce.base import Context, Experiment, load_config, pct
from ssm_expressivity.training.rundir import RunDir

GROUPS = ("Z60", "A4xZ5", "A5")
# The quick tier: the abelian group and the non-solvable one.
QUICK_GROUPS = ("Z60", "A5")
MODELS = ("mamba", "mamba_signed", "mamba_complex", "transformer", "lstm", "ids4")
THRESHOLD = 0.9  # the paper's "high accuracy" (> 90%)
SPLIT = "len_k"


def run_name(group: str, model: str, num_layers: int, k: int, seed: int) -> str:
  return f"{group}-{model}-L{num_layers}-k{k}-s{seed}"


def build(tier: str = "paper", groups: Sequence[str] | None = None,
          models: Sequence[str] | None = None,
          lengths: Sequence[int] | None = None) -> Experiment:
  """Every run of the figure; `groups`, `models` and `lengths` (default: the tier's) narrow it."""
  from configs import word_problem as wp_config  # pylint: disable=g-import-not-at-top
  from ssm_expressivity import configlib  # pylint: disable=g-import-not-at-top
  groups = tuple(groups or (QUICK_GROUPS if tier == "quick" else GROUPS))
  models = tuple(models or MODELS)
  for model in models:
    if model not in wp_config.MODELS:
      raise ValueError(f"unknown model {model!r}; valid: {', '.join(wp_config.MODELS)}")
  wanted = set(lengths) if lengths else None
  named = []
  for group in groups:
    for model in models:
      base = load_config("word_problem", f"{group},{model},{tier}")
      for point in wp_config.get_sweep(f"{group},{model},{tier}"):
        k = point["data.params.lengths"][1]
        if wanted is not None and k not in wanted:
          continue
        name = run_name(group, model, point["model.num_layers"], k, point["seed"])
        named.append((k, name, configlib.apply_overrides(base, point)))
  # Shortest k first (a stable sort keeps group, model, depth order within a k): the sweep
  # trains its programs in this order, so a run stopped part way has whole columns of the
  # table, and resuming it fills in the longer words.
  runs = {name: config for _, name, config in sorted(named, key=lambda item: item[0])}
  if not runs:
    raise ValueError(f"no runs: lengths {sorted(wanted or ())} are not among the tier's")
  return Experiment("word_problems", tier, runs, [], report)


def rows_from(ctx: Context) -> list[dict]:
  """One row per run: group, model, num_layers, k, seed and its length-k sequence accuracy."""
  rows = []
  for name, config in ctx.configs.items():
    params = config.data.params
    rows.append({
        "run": name, "group": params.group, "model": _model_slot(config),
        "num_layers": int(config.model.num_layers), "k": int(params.lengths[-1]),
        "seed": int(config.seed), "accuracy": float(ctx.results[name][SPLIT]["strict_acc"]),
        "steps": int(ctx.runs[name].step) if name in ctx.runs else None,
    })
  return rows


def _model_slot(config) -> str:
  if config.model.name != "mamba":
    return config.model.name
  return {"nonnegative": "mamba", "signed": "mamba_signed",
          "complex": "mamba_complex"}.get(config.model.gate, f"mamba_{config.model.gate}")


def layers_needed(rows: Iterable[dict], threshold: float = THRESHOLD) -> dict:
  """{group: {model: {k: fewest num_layers whose best repeat reaches threshold, or None}}}.

  None: no depth tried reached it. A depth not tried does not count as failing.
  """
  best: dict = {}
  for row in rows:
    key = (row["group"], row["model"], row["k"], row["num_layers"])
    best[key] = max(best.get(key, float("-inf")), row["accuracy"])
  needed: dict = {}
  for (group, model, k, num_layers), accuracy in sorted(best.items()):
    slot = needed.setdefault(group, {}).setdefault(model, {})
    current = slot.get(k)
    if accuracy >= threshold and (current is None or num_layers < current):
      slot[k] = num_layers
    else:
      slot.setdefault(k, None)
  return needed


def table(needed: dict, depths_tried: dict) -> str:
  """Markdown: one row per (group, model), one column per k; '>D' where no depth <= D did."""
  lengths = sorted({k for models in needed.values() for ks in models.values() for k in ks})
  lines = ["| group | model | " + " | ".join(f"k={k}" for k in lengths) + " |",
           "|---|---|" + "---|" * len(lengths)]
  for group, models in needed.items():
    for model, ks in models.items():
      cells = []
      for k in lengths:
        if k not in ks:
          cells.append("-")
        elif ks[k] is None:
          cells.append(f">{depths_tried[(group, model, k)]}")
        else:
          cells.append(str(ks[k]))
      lines.append(f"| {group} | {model} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def layers_figure(needed: dict, depths_tried: dict) -> Figure:
  """Layers needed vs k, one panel per group; a run that never reached the threshold sits one
  above the deepest depth tried, as an open marker."""
  groups = list(needed)
  top = max(depths_tried.values()) + 1
  fig = Figure(figsize=(4 * len(groups), 3.4), layout="tight")
  axes = fig.subplots(1, len(groups), squeeze=False, sharey=True)
  markers = "osD^vP"
  for axis, group in zip(axes[0], groups):
    for index, (model, ks) in enumerate(needed[group].items()):
      lengths = sorted(ks)
      ys = [ks[k] if ks[k] is not None else top for k in lengths]
      # A small vertical offset per model keeps overlapping lines readable.
      offset = 0.06 * (index - (len(needed[group]) - 1) / 2)
      line, = axis.plot(lengths, [y + offset for y in ys], marker=markers[index % 6],
                        label=model, linewidth=1.2)
      failed = [(k, top + offset) for k in lengths if ks[k] is None]
      if failed:
        axis.scatter(*zip(*failed), marker=markers[index % 6], facecolors="white",
                     edgecolors=line.get_color(), zorder=3, s=50)
    axis.set_title(group)
    axis.set_xlabel("sequence length k")
    axis.set_yticks(range(1, top + 1))
    axis.set_yticklabels([str(d) for d in range(1, top)] + [f">{top - 1}"])
    axis.grid(alpha=0.3)
  axes[0][0].set_ylabel(f"layers needed (>= {100 * THRESHOLD:g}% seq. acc.)")
  axes[0][-1].legend(fontsize=7, loc="upper left")
  return fig


def tier_changes(configs) -> list[str]:
  """Markdown lines saying what a cpu or quick tier changed against the paper tier (none for
  the paper tier), read from the runs' own configs."""
  configs = list(configs)
  tier = configs[0].get("tier", "paper")
  if tier == "paper":
    return []
  def values(read, among=configs):
    return ", ".join(str(v) for v in sorted({read(c) for c in among}))
  complex_runs = [c for c in configs if c.model.get("gate") == "complex"]
  complex_state = (f"; the complex gate's d_state {values(lambda c: c.model.d_state, complex_runs)}"
                   if complex_runs else "")
  lines = [
      f"The {tier} tier, against the paper tier (official widths, batch 512, up to 500 epochs "
      "of 1M words, learning rates 5e-5 / 1e-4, lengths 6-12 and 20, 3 repeats, depths up to "
      "5 for Mamba and the transformer): "
      f"d_model {values(lambda c: c.model.d_model)}; "
      f"{values(lambda c: c.num_steps)} steps of batch {values(lambda c: c.batch_size)} on "
      f"fresh words; learning rate {values(lambda c: c.optim.learning_rate)}; "
      f"lengths k {values(lambda c: c.data.params.lengths[-1])}; "
      f"depths {values(lambda c: c.model.num_layers)}; "
      f"{len({c.seed for c in configs})} repeats{complex_state}. "
      "The optimizer (AdamW, decay 0.01 on every parameter) and the stop rule (val sequence "
      "accuracy 0.99) are the official ones.", ""]
  return lines


def report(ctx: Context) -> str:
  rows = rows_from(ctx)
  needed = layers_needed(rows)
  depths_tried: dict = {}
  for row in rows:
    key = (row["group"], row["model"], row["k"])
    depths_tried[key] = max(depths_tried.get(key, 0), row["num_layers"])
  workdir = RunDir(ctx.workdir)
  workdir.write_bytes(  # makes the directory
      "word_problems.png", figures.png_bytes(layers_figure(needed, depths_tried), dpi=120))
  record = {"threshold": THRESHOLD, "split": SPLIT, "rows": rows,
            "layers_needed": {g: {m: {str(k): v for k, v in ks.items()}
                                  for m, ks in ms.items()} for g, ms in needed.items()}}
  workdir.write_text("results.json", json.dumps(record, indent=2) + "\n")
  best = {}
  for row in rows:
    key = (row["group"], row["model"], row["k"], row["num_layers"])
    best[key] = max(best.get(key, 0.0), row["accuracy"])
  detail = ["| group | model | k | layers | best repeat seq. acc. % |", "|---|---|---|---|---|"]
  detail += [f"| {g} | {m} | {k} | {d} | {pct(a)} |" for (g, m, k, d), a in sorted(best.items())]
  return "\n".join([
      *tier_changes(ctx.configs.values()),
      f"Fewest layers reaching {100 * THRESHOLD:g}% sequence accuracy on fresh length-k words "
      f"(best of the repeats; '>D': no depth up to D did). Figure: word_problems.png.", "",
      table(needed, depths_tried), "", "Every depth:", "", *detail])

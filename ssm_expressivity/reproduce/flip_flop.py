"""Flip-flop: a 1-layer Mamba trained on FFL(0.8), tested on FFL(0.8) and FFL(0.98)."""

from __future__ import annotations

from matplotlib.figure import Figure

from ssm_expressivity import figures
from ssm_expressivity import published
from ssm_expressivity.reproduce.base import Check, Context, Experiment, load_config, pct
from ssm_expressivity.training.rundir import RunDir


def build(tier: str = "paper") -> Experiment:
  config = load_config("flip_flop", tier)
  checks = [Check("mamba1", "val", ">=", 0.99), Check("mamba1", "val_sparse", ">=", 0.99)]
  return Experiment("flip_flop", tier, {"mamba1": config}, checks, report)


def first_zero_error(records: list[dict]) -> dict[str, int | None]:
  """Per eval split, the first evaluated step at which every string is right (None: never)."""
  first: dict[str, int | None] = {}
  for record in records:
    split = record.get("split")
    if split is None:
      continue
    first.setdefault(split, None)
    if first[split] is None and record["strict_acc"] >= 1.0:
      first[split] = record["step"]
  return first


def report(ctx: Context) -> str:
  results = ctx.results["mamba1"]
  config = ctx.configs["mamba1"]
  paper = published.flip_flop()
  records = RunDir(ctx.workdir / "mamba1").read_metrics()
  first = first_zero_error(records)
  lines = [f"Ours: the first evaluation (one every {config.eval_every} steps) with no error on "
           "the split; the paper's curve was evaluated every 100 steps.", "",
           "| split | p_ignore | lengths | ours strict % | ours first zero-error step | "
           "paper (1-layer Mamba) zero error from step |", "|---|---|---|---|---|---|"]
  for split, r in results.items():
    p = config.data.eval[split].params.get("p_ignore", config.data.params.p_ignore)
    step = paper.get(f"{split}_zero_error_at_step")
    ours = first.get(split)
    lines.append(f"| {split} | {p} | {r['min_length']}-{r['max_length']} | "
                 f"{pct(r['strict_acc'])} | {'never' if ours is None else ours} | "
                 f"{step or '-'} |")
  curve = "flip_flop_error.png"
  RunDir(ctx.workdir).write_bytes(curve, figures.png_bytes(error_curve(records)))
  lines += ["", f"![error vs step]({curve})"]
  train_window = config.data.train
  lines.append("")
  lines.append(f"Training strings: {train_window.min_length}-{train_window.max_length} "
               "symbols.")
  return "\n".join(lines)


def error_curve(records: list[dict]) -> Figure:
  """Strict error (1 - strict accuracy) per eval split against the step, log scale."""
  fig = Figure(figsize=(6, 3.5), layout="tight")
  ax = fig.subplots()
  for split in sorted({r["split"] for r in records if "split" in r}):
    points = [(r["step"], 1 - r["strict_acc"]) for r in records if r.get("split") == split]
    ax.plot(*zip(*points), label=split)
  ax.set_yscale("symlog", linthresh=1e-3)
  ax.set_xlabel("step")
  ax.set_ylabel("strict error")
  ax.legend()
  return fig

"""Flip-flop: a 1-layer Mamba trained on FFL(0.8), tested on FFL(0.8) and FFL(0.98)."""

from __future__ import annotations

from ssm_expressivity import published
from ssm_expressivity.reproduce.base import Check, Context, Experiment, load_config, pct


def build(tier: str = "paper") -> Experiment:
  config = load_config("flip_flop", tier)
  checks = [Check("mamba1", "val", ">=", 0.99), Check("mamba1", "val_sparse", ">=", 0.99)]
  return Experiment("flip_flop", tier, {"mamba1": config}, checks, report)


def report(ctx: Context) -> str:
  results = ctx.results["mamba1"]
  config = ctx.configs["mamba1"]
  paper = published.flip_flop()
  lines = ["| split | p_ignore | lengths | ours strict % | paper (1-layer Mamba) |",
           "|---|---|---|---|---|"]
  for split, r in results.items():
    p = config.data.eval[split].params.get("p_ignore", config.data.params.p_ignore)
    step = paper.get(f"{split}_zero_error_at_step")
    note = f"100 (zero error from step {step})" if step else "-"
    lines.append(f"| {split} | {p} | {r['min_length']}-{r['max_length']} | "
                 f"{pct(r['strict_acc'])} | {note} |")
  train_window = config.data.train
  lines.append("")
  lines.append(f"Training strings: {train_window.min_length}-{train_window.max_length} "
               "symbols.")
  return "\n".join(lines)

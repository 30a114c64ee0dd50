"""Parity: the same Mamba with a nonnegative gate (fails past the train lengths) and with a
signed gate (solves it)."""

from __future__ import annotations

from ssm_expressivity import published
from ssm_expressivity.reproduce.base import Check, Context, Experiment, load_config, pct


def build(tier: str = "paper") -> Experiment:
  runs = {}
  for gate in ("nonnegative", "signed"):
    config = load_config("parity", tier)
    config.model.gate = gate
    runs[gate] = config
  # The paper's best nonnegative Mamba reaches 16.7% on the longer bin (3 layers).
  checks = [Check("nonnegative", "bin1", "<=", 0.17), Check("signed", "bin1", ">=", 0.99)]
  return Experiment("parity", tier, runs, checks, report)


def report(ctx: Context) -> str:
  results = ctx.results
  paper = published.suite("parity")["mamba1"]
  lines = ["| bin | lengths | nonnegative gate (Mamba) % | signed gate % | paper 1-layer Mamba % |",
           "|---|---|---|---|---|"]
  for index, split in enumerate(results["nonnegative"]):
    r_n, r_s = results["nonnegative"][split], results["signed"][split]
    lines.append(f"| {split} | {r_n['min_length']}-{r_n['max_length']} | "
                 f"{pct(r_n['strict_acc'])} | {pct(r_s['strict_acc'])} | "
                 f"{paper[index] if index < len(paper) else '-'} |")
  return "\n".join(lines)

"""Best-of-grid selection per (language, depth) and the agreement score against Figure 3.

    cells = select(runs)        # runs: [{"language", "depth", "name", "bins": {bin: metrics}}]
    score = agree(cells)        # {"agree": 70, "cells": 81, "disagreements": [...]}

A cell "generalizes" when strict accuracy on its longest bin is >= GENERALIZES (90%); the
published cell is read the same way from the paper's numbers (ssm_expressivity.published).
"""

from __future__ import annotations

from typing import Any, Sequence

from ssm_expressivity import published

GENERALIZES = 0.9
# The Figure-3 depths every language has (aaaa_star's 6 and 12 are reported, not scored).
SCORED_DEPTHS = (1, 2, 3)


def select(runs: Sequence[dict[str, Any]], on: str = "bin0") -> list[dict[str, Any]]:
  """One cell per (language, depth): the run with the highest strict accuracy on bin `on`
  (ties: the lower loss on it, then the name), and the best strict accuracy per bin over all
  the cell's runs (to compare with a best-per-bin reading of the published numbers)."""
  by_cell: dict[tuple[str, int], list[dict]] = {}
  for run in runs:
    by_cell.setdefault((run["language"], int(run["depth"])), []).append(run)
  cells = []
  for (language, depth), members in by_cell.items():
    def key(run):
      metrics = run["bins"][on]
      return (-_finite(metrics["strict_acc"]), _finite(metrics.get("loss"), worst=True),
              run["name"])
    chosen = min(members, key=key)
    bins = list(chosen["bins"])
    best_per_bin = {b: max(_finite(r["bins"][b]["strict_acc"]) for r in members) for b in bins}
    cells.append({"language": language, "depth": depth, "selected": chosen["name"],
                  "runs": len(members), "selected_on": on,
                  "strict_acc": {b: chosen["bins"][b]["strict_acc"] for b in bins},
                  "best_per_bin": best_per_bin})
  return sorted(cells, key=lambda c: (c["language"], c["depth"]))


def _finite(value, worst: bool = False) -> float:
  if value is None or value != value:
    return float("inf") if worst else -1.0
  return float(value)


def generalizes(strict_by_bin: dict[str, float] | Sequence[float]) -> bool:
  """Strict accuracy on the longest (last) bin >= 90% (fractions)."""
  values = list(strict_by_bin.values()) if isinstance(strict_by_bin, dict) else list(strict_by_bin)
  return _finite(values[-1]) >= GENERALIZES


def agree(cells: Sequence[dict[str, Any]], published_suite=None) -> dict[str, Any]:
  """How many scored (language, depth) cells agree with the paper on "generalizes".

  `published_suite(language)` -> {"mamba1": [percent per bin], ...} (default: the paper's).
  """
  lookup = published_suite or published.suite
  agreeing, disagreements, scored = 0, [], 0
  for cell in cells:
    if cell["depth"] not in SCORED_DEPTHS:
      continue
    paper = (lookup(cell["language"]) or {}).get(f"mamba{cell['depth']}")
    if not paper:
      continue
    scored += 1
    ours = generalizes(cell["strict_acc"])
    theirs = generalizes([p / 100 for p in paper])
    if ours == theirs:
      agreeing += 1
    else:
      disagreements.append({"language": cell["language"], "depth": cell["depth"],
                            "ours_longest_bin": list(cell["strict_acc"].values())[-1],
                            "paper_longest_bin": paper[-1] / 100,
                            "ours_generalizes": ours, "paper_generalizes": theirs})
  return {"agree": agreeing, "cells": scored, "disagreements": disagreements}

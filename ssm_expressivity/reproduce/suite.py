"""The suite groups (star-free, non-star-free, counter): Mamba per language beside Figure 3."""

from __future__ import annotations

import functools

from ssm_expressivity import configlib
from ssm_expressivity import published
from ssm_expressivity.reproduce.base import Context, Experiment, load_config, pct

GROUPS = {"star_free": configlib.STAR_FREE, "non_star_free": configlib.NON_STAR_FREE,
          "counter": configlib.COUNTER}


def build_group(group: str, tier: str = "paper", language: str | None = None,
                num_layers: int | None = None) -> Experiment:
  members = GROUPS[group]
  if language is None:  # the group's config names its default language
    language = load_config(group, tier).data.language
  chosen = members if language == "all" else (language,)
  for name in chosen:
    if name not in members:
      raise ValueError(f"--language={name!r} is not in the {group} group; valid: "
                       f"{', '.join(members)}, all")
  runs = {}
  for name in chosen:
    config = load_config(group, f"{name},{tier}")
    if num_layers is not None:
      config.model.num_layers = num_layers
    runs[f"{name}/mamba{config.model.num_layers}"] = config
  return Experiment(group, tier, runs, [], report)


def report(ctx: Context) -> str:
  lines = ["| language | layers | bin | lengths | ours strict % | paper Mamba (same depth) % |",
           "|---|---|---|---|---|---|"]
  for name, results in ctx.results.items():
    language, _ = name.split("/")
    layers = ctx.configs[name].model.num_layers
    paper = (published.suite(language) or {}).get(f"mamba{layers}", [])
    for index, (split, r) in enumerate(results.items()):
      lines.append(f"| {language} | {layers} | {split} | {r['min_length']}-{r['max_length']} | "
                   f"{pct(r['strict_acc'])} | "
                   f"{paper[index] if index < len(paper) else '-'} |")
  return "\n".join(lines)


BUILDERS = {group: functools.partial(build_group, group) for group in GROUPS}

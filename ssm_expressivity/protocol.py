"""The official training protocol of the 27-language suite (Sarrof et al. 2024, Figure 3), as
config settings and grids.

    protocol.apply_suite_tier(config, "dyck1", "paper")    # loss, optimizer, data order, epochs
    protocol.suite_grid("dyck1", "paper")                   # [{model.num_layers: 1, ...}, ...]

Read from the official code (lacoco-lab/ssm_expressivity at 5b87520:
`experiments/mamba_sweeps/<lang>.yaml`, `configs/optimizer/adamw.yaml`, `train_with_mse.py`,
`train_with_ce.py`, `src/train_utils.py`, `src/dataset_utils.py`); see
shared/reference/official_protocol.md. The paper tier is exactly that grid; the cpu tier keeps
languages, depths 1-3, losses, data order and selection and shrinks the grid and the steps.
Both tiers sample D_n with the official generator (sampler "paper"); `data.params.sampler=
"committed"` gives the variant the committed datasets match (see languages.regular.d_n).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import ml_collections

# The eight languages the official code trains with train_with_ce.py.
CE_LANGUAGES = ("012_02", "dyck1", "shuffle2", "shuffle4", "shuffle6", "anbn", "anbncn",
                "anbncndn")


@dataclasses.dataclass(frozen=True)
class Grid:
  """One language's official sweep: every product point is one run."""
  d_model: tuple[int, ...]
  learning_rate: tuple[float, ...]
  epochs: tuple[int, ...]
  batch_size: int = 32
  depths: tuple[int, ...] = (1, 2, 3)


_STD = Grid((16, 64, 128), (1e-4, 1e-3), (100,))
_STD50 = Grid((16, 64, 128), (1e-4, 1e-3), (50,))
_D = Grid((16, 64, 128), (3e-4, 1e-4, 1e-3), (100,))
_CE = Grid((64, 128), (1e-4, 3e-5), (100,))
_CE_WIDE = Grid((64, 128, 256), (1e-4, 3e-5), (100,))
_COUNT = Grid((64, 128, 256), (1e-5, 3e-5), (1000,), batch_size=10)

OFFICIAL_GRIDS: dict[str, Grid] = {
    "tomita1": Grid((64,), (1e-4,), (50,)),
    "tomita2": _STD, "tomita3": _STD, "tomita4": _STD, "tomita5": _STD, "tomita6": _STD,
    "tomita7": _STD,
    "parity": Grid((16, 64), (1e-4, 1e-3), (50,)),
    "aa_star": _STD50,
    "aaaa_star": dataclasses.replace(_STD, depths=(1, 2, 3, 6, 12)),
    "abab_star": _STD,
    "abcde_blocks": Grid((16, 64, 128), (1e-4, 1e-3), (50, 100)),
    "ab_d_bc": Grid((64, 128), (1e-4, 1e-3), (50,)),
    # No d_model / lr in its sweep file: the defaults of configs/model/mamba.yaml and
    # configs/optimizer/adamw.yaml.
    "012_02": Grid((16,), (1e-5,), (100,)),
    "d2": _D, "d4": _D, "d12": _D,
    "d3": _STD,
    "boolean3": _STD50, "boolean5": _STD50,
    "dyck1": _CE, "shuffle2": _CE, "shuffle4": _CE,
    "shuffle6": _CE_WIDE,
    "anbn": _COUNT, "anbncn": _COUNT, "anbncndn": _COUNT,
}

# The cpu tier: the official epochs, capped at CPU_MAX_STEPS optimizer steps (the paper's runs
# take 400-31k; the short train splits of aa_star, aaaa_star, abab_star stop at their official
# 400), width 64, two learning rates, the larger ones of each official grid family so that the
# short runs can learn, depths 1-3 only (aaaa_star's 6 and 12 are paper-tier only: the 81 cells
# of the agreement score), one evaluation at the end.
# Measured on the 2-core CPU, idle, native scan: tomita7 depth 2, both learning rates in one
# program, 14.1 steps/s at d_model 64 (28.7 at 32). benchmarks/suite_tier.md has the whole
# tier's measured wall time and the cost model fitted to it.
CPU_MAX_STEPS = 800
CPU_D_MODEL = 64
CPU_DEPTHS = (1, 2, 3)
CPU_LEARNING_RATES = {"mse": (1e-3, 3e-3), "ce": (1e-3, 3e-3)}


def official_loss(language: str) -> str:
  return "ce" if language in CE_LANGUAGES else "mse"


def apply_suite_tier(config: ml_collections.ConfigDict, language: str, tier: str) -> None:
  """Sets the official protocol's fields on a suite `config` (paper or cpu tier) in place."""
  grid = OFFICIAL_GRIDS[language]
  config.tier = tier
  loss = official_loss(language)
  config.loss = loss
  config.output_width = "official"  # max(#input symbols, #classes), dummy classes
  config.loss_average = "padded"  # torch's mean over every element of the padded batch
  # CE: a padding class, no ignore index; padded positions are trained and scored.
  config.train_on_padding = loss == "ce"
  config.optim.weight_decay = 0.1
  config.optim.decay_mask = "all"  # torch AdamW decays every parameter
  config.optim.grad_clip_norm = 0.0
  config.optim.schedule = "constant"
  config.optim.warmup_steps = 0
  config.data.order = "sequential"  # the unshuffled training DataLoader
  config.data.drop_remainder = False  # the DataLoader keeps the last partial batch
  config.batch_size = grid.batch_size
  # Official evaluation batches are training-sized; under CE their padding is scored.
  config.eval_batch_size = grid.batch_size
  config.model.d_model = grid.d_model[0]
  config.model.num_layers = grid.depths[0]
  config.optim.learning_rate = grid.learning_rate[0]
  if tier == "paper":
    config.num_epochs = grid.epochs[0]
    config.eval_every_epochs = max(1, grid.epochs[0] // 10)
    config.checkpoint_every = 5000
  else:
    config.num_epochs = grid.epochs[0]
    config.max_steps = CPU_MAX_STEPS
    config.eval_every_epochs = 0
    config.eval_every = CPU_MAX_STEPS  # and after the last step
    config.checkpoint_every = CPU_MAX_STEPS // 2
    config.model.d_model = CPU_D_MODEL
    config.optim.learning_rate = CPU_LEARNING_RATES[loss][0]


def suite_grid(language: str, tier: str) -> list[dict[str, Any]]:
  """The override dicts of one language's sweep: depth x d_model x lr (x epochs)."""
  grid = OFFICIAL_GRIDS[language]
  if tier == "paper":
    axes = [("model.num_layers", grid.depths), ("model.d_model", grid.d_model),
            ("optim.learning_rate", grid.learning_rate)]
    if len(grid.epochs) > 1:
      axes.append(("num_epochs", grid.epochs))
  elif tier == "cpu":
    axes = [("model.num_layers", CPU_DEPTHS),
            ("optim.learning_rate", CPU_LEARNING_RATES[official_loss(language)])]
  else:
    raise ValueError(f"the {tier!r} tier has no suite grid; valid: paper, cpu")
  names = [name for name, _ in axes]
  return [dict(zip(names, values)) for values in itertools.product(*(v for _, v in axes))]

"""Non-star-free regular languages (theorem: no NONNEGATIVE finite-precision SSM models them at
all lengths; Mamba fails on the longer bin).

    python -m experiments.train --config=configs/non_star_free.py:parity --workdir=runs/parity
    python -m experiments.train --config=configs/non_star_free.py:parity,quick \
        --workdir=runs/parity_quick

The arg names one language of the group (default parity), optionally "quick" (CPU size) and
`model=<backbone>` (default mamba).
Paper: Mamba with 1, 2, 3 layers (--config.model.num_layers), d_state 16, batch 32, AdamW with
weight decay 0.1, grid over d_model and learning rate; strict accuracy per length bin.
"""

from ssm_expressivity import configlib


def get_config(arg: str = ""):
  args = configlib.parse_arg(
      arg, config_name="non_star_free", defaults={"language": "parity"},
      choices={"language": configlib.NON_STAR_FREE, "tier": ("paper", "quick"),
               "model": configlib.model_choices()})
  return configlib.suite_config("non_star_free", args["language"], args["tier"], args["model"])

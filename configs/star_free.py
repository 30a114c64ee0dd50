"""Star-free languages (theorem: NONNEGATIVE finite-precision SSMs predictively model exactly the
star-free languages; these are learned with length generalization).

    python -m experiments.train --config=configs/star_free.py:tomita4 --workdir=runs/tomita4
    python -m experiments.train --config=configs/star_free.py:tomita4,quick \
        --workdir=runs/tomita4_quick

The arg names one language of the group (default tomita4), optionally "quick" (CPU size) and
`model=<backbone>` (default mamba).
Paper: Mamba with 1, 2, 3 layers (--config.model.num_layers), d_state 16, batch 32, AdamW with
weight decay 0.1, grid over d_model and learning rate; strict accuracy per length bin.
"""

from ssm_expressivity import configlib


def get_config(arg: str = ""):
  args = configlib.parse_arg(
      arg, config_name="star_free", defaults={"language": "tomita4"},
      choices={"language": configlib.STAR_FREE, "tier": ("paper", "quick"),
               "model": configlib.model_choices()})
  return configlib.suite_config("star_free", args["language"], args["tier"], args["model"])

"""Star-free languages (theorem: NONNEGATIVE finite-precision SSMs predictively model exactly the
star-free languages; these are learned with length generalization).

    python -m experiments.train --config=configs/star_free.py:tomita4 --workdir=runs/tomita4
    python -m experiments.train --config=configs/star_free.py:tomita4,quick \
        --workdir=runs/tomita4_quick

The arg names one language of the group (default tomita4) and optionally "quick" (CPU size).
Paper: Mamba with 1, 2, 3 layers (--config.model.num_layers), d_state 16, batch 32, AdamW with
weight decay 0.1, grid over d_model and learning rate; strict accuracy per length bin.
"""

from ssm_expressivity import configlib


def get_config(arg: str = ""):
  language, quick = configlib.parse_arg(
      arg, languages=configlib.STAR_FREE, default_language="tomita4", config_name="star_free")
  return configlib.suite_config("star_free", language, quick)

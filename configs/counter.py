"""Counter languages (theorem: SSMs keep and read out unbounded counters; trained Mamba generalizes
only partly to longer bins).

    python -m experiments.train --config=configs/counter.py:dyck1 --workdir=runs/dyck1
    python -m experiments.train --config=configs/counter.py:dyck1,quick \
        --workdir=runs/dyck1_quick

The arg names one language of the group (default dyck1), optionally "quick" (CPU size) and
`model=<backbone>` (default mamba).
Paper: Mamba with 1, 2, 3 layers (--config.model.num_layers), d_state 16, batch 32, AdamW with
weight decay 0.1, grid over d_model and learning rate; strict accuracy per length bin.
"""

from ssm_expressivity import configlib


def get_config(arg: str = ""):
  args = configlib.parse_arg(
      arg, config_name="counter", defaults={"language": "dyck1"},
      choices={"language": configlib.COUNTER, "tier": ("paper", "quick"),
               "model": configlib.model_choices()})
  return configlib.suite_config("counter", args["language"], args["tier"], args["model"])

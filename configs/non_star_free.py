"""Non-star-free regular languages (theorem: no NONNEGATIVE finite-precision SSM models them at
all lengths; Mamba fails on the longer bin).

    python -m experiments.train --config=configs/non_star_free.py:parity --workdir=runs/parity
    python -m experiments.train --config=configs/non_star_free.py:parity,quick \
        --workdir=runs/parity_quick

    python -m experiments.sweep --config=configs/non_star_free.py:LANG --workdir=runs/g --dry_run

The arg names one language of the group, optionally a tier ("paper", the default: the official
settings of ssm_expressivity.protocol; "cpu": the same structure with a smaller grid and at
most protocol.CPU_MAX_STEPS steps; "quick": one short CPU run) and `model=<backbone>`.
Paper: Mamba, d_state 16, AdamW 0.1 on every parameter, no clipping or schedule, epochs over
the unshuffled train split, CE (padding as a class) or MSE on raw outputs per language;
get_sweep gives the official grid (depth x d_model x lr); strict accuracy per length bin.
"""

from ssm_expressivity import configlib


def get_config(arg: str = ""):
  args = configlib.parse_arg(
      arg, config_name="non_star_free", defaults={"language": "parity"},
      choices={"language": configlib.NON_STAR_FREE, "tier": configlib.TIERS,
               "model": configlib.model_choices()})
  return configlib.suite_config("non_star_free", args["language"], args["tier"], args["model"])


def get_sweep(arg: str = ""):
  """The official grid of the arg's language (depth x d_model x lr), or the cpu tier's."""
  return configlib.suite_sweep("non_star_free", configlib.NON_STAR_FREE, arg, "parity")

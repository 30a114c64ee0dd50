"""Runs one theorem's experiment end to end and prints our numbers beside the paper's:

    python -m experiments.reproduce --experiment=flip_flop --tier=quick
    python -m experiments.reproduce --experiment=parity --quick        # = --tier=quick
    python -m experiments.reproduce --experiment=counter --language=dyck1 --num_layers=2

Runs are resumable: rerunning the command continues from the checkpoints under --workdir.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from experiments import cli
from ssm_expressivity import configlib
from ssm_expressivity import reproduce

_EXPERIMENT = flags.DEFINE_string("experiment", None,
                                  f"One of: {', '.join(reproduce.names())}.")
_TIER = flags.DEFINE_enum("tier", None, configlib.TIERS,
                          "paper (the official settings, for a GPU/TPU), cpu or quick.")
_QUICK = flags.DEFINE_bool("quick", False, "Short for --tier=quick (minutes on a CPU).")
_LANGUAGE = flags.DEFINE_string("language", None,
                                "Suite experiments: a language of the group, or 'all'.")
_NUM_LAYERS = flags.DEFINE_integer("num_layers", None, "Override the number of layers.")
_WORKDIR = flags.DEFINE_string("workdir", None,
                               "Where runs go (default runs/reproduce/<experiment>_<tier>).")
_COMPILATION_CACHE = flags.DEFINE_string(
    "compilation_cache", None,
    "Directory of JAX's persistent compilation cache (default <workdir>/jax_cache; '' turns "
    "it off): programs compiled before load instead of compiling.")
flags.mark_flags_as_required(["experiment"])


@cli.user_errors_exit
def main(argv):
  if len(argv) > 1:
    raise ValueError(f"unexpected arguments: {argv[1:]} (every option is a --flag)")
  cli.setup_logging()
  if _QUICK.value and _TIER.value not in (None, "quick"):
    raise ValueError(f"--quick contradicts --tier={_TIER.value}")
  tier = "quick" if _QUICK.value else (_TIER.value or "paper")
  experiment = reproduce.build(_EXPERIMENT.value, tier, language=_LANGUAGE.value,
                               num_layers=_NUM_LAYERS.value)
  workdir = _WORKDIR.value or f"runs/reproduce/{_EXPERIMENT.value}_{tier}"
  cache = (_COMPILATION_CACHE.value if _COMPILATION_CACHE.value is not None
           else f"{workdir}/jax_cache")
  if cache:
    cli.use_compilation_cache(cache)
  _, report, ok = reproduce.run(experiment, workdir)
  print(report)
  print(f"report saved in {workdir}/report.md")
  logging.info("report saved in %s/report.md", workdir)
  if not ok:
    print("some targets were not reached (see the table above)", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

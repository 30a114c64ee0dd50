"""Trains one config: `python -m experiments.train --config=configs/flip_flop.py --workdir=DIR`.

Overrides: `--config.model.num_layers=2`, `--config.model.name=lstm` (switches the model's
fields). Restarting the same command resumes from the latest checkpoint in DIR. To go on from
another run's checkpoint with a changed optimizer config (e.g. after a divergence), branch:
`--init_from=OLD_DIR --workdir=NEW_DIR --config.optim.learning_rate=1e-4`.
`--config.tensorboard=True` also writes the metrics for `tensorboard --logdir=DIR`.
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from experiments import cli
from ssm_expressivity.training import evaluate
from ssm_expressivity.training import loop

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics.")
_INIT_FROM = flags.DEFINE_string("init_from", None, "Start from the latest checkpoint of this "
                                 "run's workdir (same model and data; the optimizer may differ).")
flags.mark_flags_as_required(["config", "workdir"])


@cli.user_errors_exit
def main(argv):
  if len(argv) > 1:
    raise ValueError(f"unexpected arguments: {argv[1:]} (every option is a --flag)")
  cli.setup_logging()
  result = loop.train_and_evaluate(_CONFIG.value, _WORKDIR.value, init_from=_INIT_FROM.value)
  print(evaluate.format_table(result.eval_metrics, f"step {result.step}: "
                              f"{evaluate.config_summary(_CONFIG.value)}"))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

"""Evaluates a saved run per length bin, at any lengths:

    python -m experiments.evaluate --workdir=runs/ff --lengths=512,1024-2048 --num_words=200

Without --lengths: the run's own eval splits. The table is printed and saved in the workdir
(<name>.json, <name>.md), with a figure of accuracy vs length (<name>.png); a run trained with
config.tensorboard=True also gets the numbers as TensorBoard scalars ("<name>/<split>/...").
"""

import json

from absl import app
from absl import flags

from experiments import cli
from ssm_expressivity import figures
from ssm_expressivity.training import evaluate
from ssm_expressivity.training import tensorboard
from ssm_expressivity.training.rundir import RunDir

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of a run made by experiments.train.")
_LENGTHS = flags.DEFINE_string("lengths", None, "Lengths / ranges, e.g. 512,1000-2000.")
_NUM_WORDS = flags.DEFINE_integer("num_words", 500, "Words sampled per length window.")
_SEED = flags.DEFINE_integer("seed", 12345, "Seed of the sampled evaluation words.")
_WHICH = flags.DEFINE_enum("checkpoint", "latest", ["latest", "best"], "Which checkpoint.")
_PARAMS = flags.DEFINE_string("language_params", None,
                              'JSON language parameters to change, e.g. {"p_ignore": 0.98}.')
flags.mark_flags_as_required(["workdir"])


@cli.user_errors_exit
def main(argv):
  if len(argv) > 1:
    raise ValueError(f"unexpected arguments: {argv[1:]} (every option is a --flag)")
  if _NUM_WORDS.value < 1:
    raise ValueError("--num_words must be >= 1")
  if _SEED.value < 0:
    raise ValueError("--seed must be >= 0")
  overrides = {}
  if _PARAMS.value is not None:
    if _LENGTHS.value is None:
      raise ValueError("--language_params goes with --lengths (new words are drawn with them)")
    try:
      overrides = json.loads(_PARAMS.value)
    except json.JSONDecodeError as e:
      raise ValueError(f"--language_params is not JSON: {e}") from None
    if not isinstance(overrides, dict):
      raise ValueError(f"--language_params must be a JSON object like {{\"p_ignore\": 0.98}}, "
                       f"got {_PARAMS.value}")
  windows = evaluate.parse_lengths(_LENGTHS.value) if _LENGTHS.value is not None else None
  run = RunDir(_WORKDIR.value)
  step, results = evaluate.evaluate_run(run.path, windows, num_words=_NUM_WORDS.value,
                                        seed=_SEED.value, which=_WHICH.value,
                                        params_override=overrides)
  name = f"eval_{_WHICH.value}" + ("" if windows is None else "_" + _LENGTHS.value.replace(
      ",", "_"))
  title = f"{run.path} ({_WHICH.value} checkpoint, step {step})"
  path = run.write_json(f"{name}.json", {"step": step, "checkpoint": _WHICH.value,
                                         "results": results})
  config = run.read_config()
  metric = figures.accuracy_metric(config)
  run.write_bytes(f"{name}.png", figures.png_bytes(figures.accuracy_vs_length(
      {f"step {step}": results}, metric, title)))
  run.write_text(f"{name}.md", evaluate.format_table(results, title)
                 + f"\n\n![{metric} vs length]({name}.png)\n")
  if config.get("tensorboard", False):
    tensorboard.write_from_metrics(
        [{"step": step, "split": f"{name}/{split}", **r} for split, r in results.items()],
        run.tensorboard_dir)
  print(evaluate.format_table(results, title))
  print(f"saved {path}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

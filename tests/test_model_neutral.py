"""Every config trains a transformer, an LSTM and an IDS4 by changing only the model name."""

import importlib
import pathlib

import pytest

from ssm_expressivity import configlib
from ssm_expressivity.models import backbones
from ssm_expressivity.training import loop

CONFIGS = sorted(p.stem for p in (pathlib.Path(__file__).resolve().parents[1] / "configs").glob(
    "*.py") if p.stem != "__init__")
# Configs whose arg must name something (a group) before a model or tier.
REQUIRED_ARG = {"word_problem": "A5,"}


def _tiny(config):
  """The config with a few words, a tiny model and 2 steps (its structure unchanged)."""
  overrides = {"model.d_model": 8, "model.num_layers": 1, "batch_size": 4, "num_steps": 2,
               "num_epochs": 0, "log_every": 1, "eval_every": 2, "eval_every_epochs": 0,
               "checkpoint_every": 2}
  if config.data.source == "paper_splits":
    if config.data.language == "bounded_dyck":  # token budgets
      sizes = {"train": 400, "dev": 100, "test": 100}
      overrides["data.params"] = {"k": 2, "depth": 3}
    else:
      sizes = {config.data.train_split: 8, **{s: 4 for s in config.data.eval_splits}}
    overrides["data.sizes"] = sizes
  else:
    overrides["data.train"] = {**config.data.train.to_dict(), "num_words": 8,
                               "max_length": min(config.data.train.max_length, 24)}
    overrides["data.eval"] = {name: {**split.to_dict(), "num_words": 2,
                                     "max_length": min(split.max_length, 24),
                                     "min_length": min(split.min_length, 24)}
                              for name, split in config.data.eval.items()}
  return configlib.apply_overrides(config, overrides)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_validates_with_every_backbone(name):
  module = importlib.import_module(f"configs.{name}")
  for model in backbones.names():
    prefix = REQUIRED_ARG.get(name, "")
    config = module.get_config(f"{prefix}model={model}")
    assert config.model.name == model
    configlib.validate(config)
    switched = configlib.apply_overrides(module.get_config(prefix.rstrip(",")),
                                         {"model.name": model})
    assert set(switched.model.keys()) == {"name", *backbones.describe(model)}


# One config in the fast suite, every config in the full one (`pytest -m ""`).
@pytest.mark.parametrize("model", ["transformer", "lstm", "ids4"])
@pytest.mark.parametrize("name", [n if n == "counter" else pytest.param(n, marks=pytest.mark.slow)
                                  for n in CONFIGS])
def test_baselines_train_from_every_config(name, model, tmp_path):
  module = importlib.import_module(f"configs.{name}")
  arg = REQUIRED_ARG.get(name, "") + "quick"
  config = _tiny(configlib.apply_overrides(module.get_config(arg), {"model.name": model}))
  result = loop.train_and_evaluate(config, tmp_path)
  assert result.step == 2
  assert set(result.eval_metrics) == set(configlib.eval_split_names(config))

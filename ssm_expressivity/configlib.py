"""The fields every experiment config has, their defaults, and config validation.

`configs/*.py` start from `base_config()` and set what their theorem's experiment needs; the
comment beside each field here says what it means.
"""

from __future__ import annotations

from typing import Iterable

import ml_collections

OBJECTIVES = ("next_set", "next_token")
LOSSES = ("mse", "bce", "ce")
DATA_SOURCES = ("paper_splits", "sampled")
SCHEDULES = ("constant", "cosine")


def sampled_split(num_words: int, min_length: int, max_length: int,
                  params: dict | None = None) -> ml_collections.ConfigDict:
  """A split drawn with `Language.sample`, lengths uniform over the language's valid lengths."""
  return ml_collections.ConfigDict({
      "num_words": num_words,  # how many words
      "min_length": min_length,  # shortest length (symbols; inclusive)
      "max_length": max_length,  # longest length (inclusive)
      # Language parameters for this split only (e.g. another p_ignore); {} = the run's own.
      "params": dict(params or {}),
  })


def base_config() -> ml_collections.ConfigDict:
  """Defaults shared by every experiment (the paper's suite settings, DESIGN.md section 4)."""
  config = ml_collections.ConfigDict()
  config.experiment = ""  # which reproduce experiment this config belongs to
  config.seed = 0  # seeds data (train/eval words) and model initialization

  config.data = ml_collections.ConfigDict()
  config.data.language = ""  # language id (ssm_expressivity.languages.names())
  config.data.params = ml_collections.ConfigDict()  # language parameters, e.g. p_ignore
  # "paper": the official code's per-position classes (one-hot, argmax at evaluation);
  # "exact": multi-hot of the allowed-next set over alphabet + EOS (sigmoid, threshold 0.5).
  config.data.label_mode = "paper"
  # "paper_splits": the paper's train set and length bins; "sampled": the windows below.
  config.data.source = "paper_splits"
  config.data.sizes = ml_collections.ConfigDict()  # paper_splits: override split sizes
  config.data.train_split = "train"  # paper_splits: the split to train on
  config.data.eval_splits = ("bin0", "bin1")  # paper_splits: splits evaluated
  config.data.train = sampled_split(10000, 2, 50)  # sampled: the training window
  config.data.eval = ml_collections.ConfigDict()  # sampled: {name: sampled_split(...)}
  config.data.cache_dir = ""  # directory for encoded datasets ("" = no cache)

  config.model = ml_collections.ConfigDict()
  config.model.name = "mamba"  # backbone: mamba | transformer | lstm | ids4
  config.model.num_layers = 1  # stacked residual layers
  config.model.d_model = 64  # embedding / residual width
  config.model.d_state = 16  # SSM state size per channel
  config.model.d_conv = 4  # causal depthwise convolution width
  config.model.expand = 2  # d_inner = expand * d_model
  config.model.gate = "nonnegative"  # nonnegative (Mamba) | signed (-1, 1) | time_invariant
  config.model.scan = "auto"  # linear-recurrence method (models.scan.SCAN_METHODS)

  # "next_set": predict the allowed-next set (or the paper's class) at every position;
  # "next_token": language-model cross-entropy on the next symbol (bounded Dyck).
  config.objective = "next_set"
  config.loss = "mse"  # mse (the paper's, on one-hot / multi-hot targets) | bce | ce

  config.optim = ml_collections.ConfigDict()
  config.optim.learning_rate = 1e-3  # peak learning rate
  config.optim.weight_decay = 0.1  # AdamW decoupled weight decay
  config.optim.b1 = 0.9  # AdamW first-moment decay
  config.optim.b2 = 0.999  # AdamW second-moment decay
  config.optim.grad_clip_norm = 1.0  # clip the global gradient norm (0 = no clipping)
  config.optim.warmup_steps = 0  # linear warm-up steps
  config.optim.schedule = "constant"  # constant | cosine (decay to 0 at num_steps)

  config.batch_size = 32  # strings per step
  config.num_steps = 20000  # optimizer steps
  config.log_every = 100  # steps between progress lines / metrics.jsonl records
  config.eval_every = 1000  # steps between evaluations on the eval splits
  config.checkpoint_every = 1000  # steps between checkpoints (latest is kept)
  config.best_split = "bin1"  # eval split whose strict accuracy selects the best checkpoint
  config.stop_at_accuracy = 0.0  # >0: stop once every eval split reaches this strict accuracy
  config.eval_batch_size = 256  # strings per evaluation batch
  return config


def parse_arg(arg: str, *, languages: Iterable[str] = (), default_language: str | None = None,
              config_name: str = "config") -> tuple[str | None, bool]:
  """Parses a config arg like "dyck1", "quick" or "dyck1,quick" -> (language, quick)."""
  languages = tuple(languages)
  language, quick = default_language, False
  for token in [t.strip() for t in (arg or "").split(",") if t.strip()]:
    if token == "quick":
      quick = True
    elif token in languages:
      language = token
    else:
      valid = ", ".join(("quick",) + languages)
      raise ValueError(f"{config_name}: unknown config argument {token!r}; valid: {valid}")
  if language is None and languages:
    raise ValueError(f"{config_name}: name a language, one of: {', '.join(languages)}")
  return language, quick


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError with a clear message when a field has an impossible value."""
  from ssm_expressivity import languages  # pylint: disable=g-import-not-at-top
  if config.data.language not in languages.REGISTRY:
    raise ValueError(f"config.data.language={config.data.language!r} is unknown; valid ids: "
                     f"{', '.join(languages.names())}")
  _one_of("config.objective", config.objective, OBJECTIVES)
  _one_of("config.loss", config.loss, LOSSES)
  _one_of("config.data.source", config.data.source, DATA_SOURCES)
  _one_of("config.data.label_mode", config.data.label_mode, ("paper", "exact"))
  _one_of("config.optim.schedule", config.optim.schedule, SCHEDULES)
  if config.objective == "next_token" and config.loss != "ce":
    raise ValueError("config.objective='next_token' needs config.loss='ce'")
  for name in ("batch_size", "num_steps", "log_every", "eval_every", "checkpoint_every",
               "eval_batch_size"):
    if int(config[name]) < 1:
      raise ValueError(f"config.{name} must be >= 1, got {config[name]}")
  if config.data.source == "sampled" and not config.data.eval:
    raise ValueError("config.data.eval must name at least one split when source='sampled'")


def eval_split_names(config: ml_collections.ConfigDict) -> list[str]:
  if config.data.source == "paper_splits":
    return list(config.data.eval_splits)
  return list(config.data.eval.keys())


def _one_of(name: str, value, valid) -> None:
  if value not in valid:
    raise ValueError(f"{name}={value!r} is not valid; valid: {', '.join(valid)}")


# The paper's Figure-3 groups of the 27-language suite.
STAR_FREE = ("tomita1", "tomita2", "tomita4", "tomita7", "d2", "d3", "d4", "d12",
             "abcde_blocks", "ab_d_bc", "012_02")
NON_STAR_FREE = ("tomita3", "tomita5", "tomita6", "parity", "aa_star", "aaaa_star", "abab_star")
COUNTER = ("dyck1", "shuffle2", "shuffle4", "shuffle6", "boolean3", "boolean5", "anbn",
           "anbncn", "anbncndn")


def suite_config(experiment: str, language: str, quick: bool) -> ml_collections.ConfigDict:
  """A suite language trained on the paper's splits (Mamba, MSE on the paper's classes)."""
  config = base_config()
  config.experiment = experiment
  config.data.language = language
  config.data.source = "paper_splits"
  # Counter languages have three bins (train lengths, then two longer ones); the others two.
  config.data.eval_splits = ("bin0", "bin1", "bin2") if language in COUNTER else ("bin0", "bin1")
  config.best_split = "bin1"
  if quick:
    make_quick(config, num_steps=2000)
  return config


def make_quick(config: ml_collections.ConfigDict, num_steps: int) -> None:
  """The CPU-sized training schedule every `quick` config shares (a 64-wide model).

  No weight decay: decaying the projections that decide when a gate resets pulls the gates
  towards one fixed forgetting rate; on flip_flop:quick a 32-wide model or weight decay 0.1
  left FFL(0.98) at 56-82% strict accuracy, a 64-wide model without it reached 100%.
  """
  config.model.d_model = 64
  config.optim.weight_decay = 0.0
  config.optim.learning_rate = 3e-3
  config.optim.schedule = "cosine"
  config.optim.warmup_steps = 100
  config.num_steps = num_steps
  config.eval_every = 500
  config.checkpoint_every = 500

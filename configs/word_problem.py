"""Word problems (Merrill, Petty, Sabharwal 2024, "The Illusion of State"): tag every position
of a word over a finite group with its prefix product.

    python -m experiments.train --config=configs/word_problem.py:A5,mamba,quick --workdir=runs/a5
    python -m experiments.sweep --config=configs/word_problem.py:Z60,ids4,cpu --workdir=runs/z60

Official setup (`src/main.py` with `strict_len`): train on words of lengths 2 and k, 80/20
train/validation split, batch 512, AdamW (weight decay 0.01 on every parameter, betas 0.9 and
0.999), at most 500 epochs, stop when the validation sequence accuracy reaches 0.99. The
question is the fewest layers that reach high accuracy at each k, so `get_sweep` runs depth x
length k x 3 repeats. Evaluated on "val" (lengths 2 and k, the official stop rule) and "len_k"
(fresh words of length k only: the number the figure reports).

Models: mamba (nonnegative gate, the paper's), mamba_signed (gate in (-1, 1), Grazzi et al.
2025), mamba_complex (rotations, the construction of issue 12), transformer, lstm, ids4.
Tiers: paper (official widths and 1M words per k), cpu (what a 2-core CPU runs in about two
hours, see CPU below), quick (a minutes-long end-to-end check).
"""

from __future__ import annotations

from ssm_expressivity import configlib
from ssm_expressivity.languages import word_problem

# model slot -> (backbone, mamba gate).
MODELS = {
    "mamba": ("mamba", "nonnegative"),
    "mamba_signed": ("mamba", "signed"),
    "mamba_complex": ("mamba", "complex"),
    "transformer": ("transformer", None),
    "lstm": ("lstm", None),
    "ids4": ("ids4", None),
}
REPEATS = 3

# Per tier: the lengths k, the depths swept, the words per k and the training budget.
PAPER = {"lengths": (6, 7, 8, 9, 10, 11, 12, 20), "depths": (1, 2, 3), "num_words": 1_000_000}
# Paper tier: the models whose depth grows with k on non-solvable groups also get 4-5 layers
# (the official runs stop at 3 for Mamba, and sweep 3-5 for S4).
PAPER_DEEP_DEPTHS = (1, 2, 3, 4, 5)
DEEPENING = ("mamba", "mamba_signed", "mamba_complex", "transformer")
# CPU: the whole figure in about two hours on the 2-core CPU (benchmarks/word_problems.md has
# the per-program costs; 1500 steps, 3 repeats and k up to 16 projected 7.5 h with no early
# stop). Lengths 4-8: at d_model 32 and 1500 steps even a 1-layer LSTM on Z60 reached only 31%
# val sequence accuracy at k=12 (lr 3e-3). Mamba's scan is "sequential" (at k <= 16 the
# chunked method pads every word to its 64-position chunk: 158 vs 386 ms a step, A5 k=16
# 3 layers 3 repeats), and the complex gate has d_state 8: 8 complex numbers are the 16 real
# numbers of the real gates' state (99 ms a step, A5 k=12 3 layers 2 repeats).
CPU = {"lengths": (4, 6, 8), "depths": (1, 2, 3), "num_words": 5000, "d_model": 32,
       "batch_size": 64, "num_steps": 1500, "eval_every": 250, "learning_rate": 3e-3,
       "repeats": 2, "mamba_scan": "sequential", "complex_d_state": 8}
# Per backbone, where it differs from the tier's (Z60, k=8, 1 layer, 1500 steps, len_k: LSTM
# 0.0% at 3e-3, 70.4% at 1e-2, 14.1% at 3e-2; Mamba and the transformer 0.0% at all three,
# val best at 3e-3: Mamba 38.3 / 24.7 / 1.2%, transformer 16.9 / 10.4 / 1.9%).
CPU_LR = {"lstm": 1e-2}
# Quick: with fresh words, a 1-layer 64-wide LSTM reached 98.0% on Z60 at k=4 in 1500 steps.
QUICK = {"lengths": (4,), "depths": (1, 2), "num_words": 2000, "d_model": 64,
         "batch_size": 64, "num_steps": 1500, "eval_every": 500, "learning_rate": 3e-3,
         "repeats": 1}
TIERS = {"paper": PAPER, "cpu": CPU, "quick": QUICK}
# Official widths (section 4 of the protocol). The LSTM's is not stated there.
PAPER_MODEL = {
    "mamba": {"d_model": 698},
    "transformer": {"d_model": 512, "num_heads": 8, "mlp_ratio": 4},
    "ids4": {"d_model": 255, "d_state": 110},
    "lstm": {"d_model": 512},
}
PAPER_LR = {"mamba": 1e-4, "transformer": 5e-5, "ids4": 1e-4, "lstm": 1e-4}
VAL_FRACTION = 0.2  # the official 80/20 split
STOP_ACCURACY = 0.99


def _args(arg: str) -> dict:
  return configlib.parse_arg(arg, config_name="word_problem", choices={
      "group": word_problem.GROUPS, "model": tuple(MODELS), "tier": configlib.TIERS},
      defaults={"group": None, "model": "mamba"})


def length_overrides(k: int) -> dict:
  """The dotted fields that make a config train and test at length k."""
  return {"data.params.lengths": (2, k), "data.train.max_length": k,
          "data.eval.val.max_length": k, "data.eval.len_k.min_length": k,
          "data.eval.len_k.max_length": k}


def get_config(arg: str = ""):
  args = _args(arg)
  tier = args["tier"]
  settings = TIERS[tier]
  backbone, gate = MODELS[args["model"]]
  config = configlib.base_config(backbone)
  config.experiment = "word_problems"
  config.tier = tier
  config.data.language = "word_problem"
  k = settings["lengths"][-1]
  config.data.params = {"group": args["group"], "lengths": (2, k)}
  config.data.label_mode = "paper"  # one class per position: the prefix product
  config.data.source = "sampled"
  # The windows end at k (length_overrides moves them); `lengths` picks 2 and k inside them.
  longest = k
  num_words = settings["num_words"]
  num_val = int(num_words * VAL_FRACTION)
  config.data.train = configlib.sampled_split(num_words - num_val, 2, longest)
  config.data.eval = {
      "val": configlib.sampled_split(num_val, 2, longest),  # lengths 2 and k, as trained
      "len_k": configlib.sampled_split(num_val, k, k),  # length k only (lengths = (2, k))
  }
  config.objective = "next_set"
  config.loss = "ce"
  config.model.num_layers = 1
  if gate is not None:
    config.model.gate = gate
  for field, value in PAPER_MODEL[backbone].items():
    config.model[field] = value
  optim = config.optim
  optim.learning_rate = PAPER_LR[backbone]
  optim.weight_decay = 0.01
  optim.decay_mask = "all"  # torch's AdamW decays every parameter
  optim.b1, optim.b2 = 0.9, 0.999
  optim.grad_clip_norm = 0.0
  optim.schedule = "constant"
  config.batch_size = 512
  config.num_epochs = 500
  config.eval_every_epochs = 1
  config.checkpoint_every = 1000
  config.stop_at_accuracy = STOP_ACCURACY
  config.best_split = "len_k"
  config.best_metric = "strict_acc"
  if tier != "paper":
    # CPU sizes: narrower models, fewer words, a step budget, a higher learning rate (the
    # official 1e-4 needs far more steps than a CPU has); the optimizer and stop rule stay.
    config.model.d_model = settings["d_model"]
    if backbone == "transformer":
      config.model.num_heads = 4
    if backbone == "ids4":
      config.model.d_state = 8
    if backbone == "mamba" and "mamba_scan" in settings:
      config.model.scan = settings["mamba_scan"]
    if gate == "complex" and "complex_d_state" in settings:
      config.model.d_state = settings["complex_d_state"]
    config.batch_size = settings["batch_size"]
    config.num_epochs = 0
    config.eval_every_epochs = 0
    config.num_steps = settings["num_steps"]
    config.eval_every = settings["eval_every"]
    config.checkpoint_every = settings["num_steps"]
    config.log_every = settings["eval_every"]
    optim.learning_rate = (CPU_LR.get(backbone, settings["learning_rate"]) if tier == "cpu"
                           else settings["learning_rate"])
    # Fresh words every step: a fixed set of a few thousand words is memorized (an LSTM on
    # Z60 at k=4 with 1600 fixed words: 35% of len_k positions, its eval loss rising).
    config.data.train.num_words = 0
  return config


def depths(model: str, tier: str) -> tuple[int, ...]:
  """The depths swept for `model` at `tier`."""
  if tier == "paper" and model in DEEPENING:
    return PAPER_DEEP_DEPTHS
  return TIERS[tier]["depths"]


def get_sweep(arg: str = "") -> list[dict]:
  """Depth x length k x repeats for the group and model of `arg`."""
  args = _args(arg)
  settings = TIERS[args["tier"]]
  repeats = settings.get("repeats", REPEATS)
  grid = []
  for k in settings["lengths"]:
    for num_layers in depths(args["model"], args["tier"]):
      for seed in range(repeats):
        grid.append({**length_overrides(k), "model.num_layers": num_layers, "seed": seed})
  return grid

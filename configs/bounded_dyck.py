"""Bounded Dyck (theorem: a 2-layer SSM models Dyck(K, h) with O(h log K) memory, no stack).

    python -m experiments.train --config=configs/bounded_dyck.py --workdir=runs/dyck
    python -m experiments.train --config=configs/bounded_dyck.py:quick --workdir=runs/dyck_q

Paper tier (the default): Dyck(8, 10), train lengths up to 700, dev (same lengths), test
(701..1400) and test20 (701..1400 at depth 15, the official yaml's); the official optimizer,
schedule and stop rules below; get_sweep gives the 18 runs (d_model 20..100 x 1, 2 layers);
reported metric: close accuracy of the final model.
--config.output_head=none: no output projection, as the official model.
"cpu": the same 18 runs, optimizer, schedule and stop rules on less data (CPU_SIZES token
budgets instead of the paper's 2M / 200k / 1M / 1M).
"""

from ssm_expressivity import configlib

WIDTHS = tuple(range(20, 101, 10))
LEARNING_RATE = {1: 1e-4, 2: 1e-3}  # per number of layers
# The cpu tier's token budgets (END included). Measured with train 500000 (the five 1-layer
# runs d_model 20-60: 114-280 s each, about 4 s per unit of d_model for 15 epochs), the 18 runs
# would take about 2 h; a tenth of the paper's train split fits the hour.
CPU_SIZES = {"train": 200000, "dev": 50000, "test": 250000, "test20": 250000}


def get_config(arg: str = ""):
  args = configlib.parse_arg(arg, config_name="bounded_dyck", choices={
      "tier": configlib.TIERS, "model": configlib.model_choices()})
  config = configlib.base_config(args["model"] or "mamba")
  config.experiment = "bounded_dyck"
  config.data.language = "bounded_dyck"
  config.data.params = {"k": 8, "depth": 10}  # bracket types, maximal depth
  config.data.label_mode = "exact"
  config.data.source = "paper_splits"
  config.data.eval_splits = ("dev", "test", "test20")
  config.objective = "next_token"
  config.loss = "ce"
  # The official runs (bounded_dyck_expt/experiments/mamba_runs/layer{1,2}_{20..100}.yaml):
  # batch 10, plain Adam, lr 1e-4 (1 layer) / 1e-3 (2 layers), ReduceLROnPlateau(0.5,
  # patience 0) on dev loss per epoch, early stop after 3 epochs without improvement, at most
  # 15 epochs, the final model evaluated. output_head="none" drops the linear head (the
  # official MixerModel's hidden states are the logits); the default keeps it.
  config.model.num_layers = 2
  config.model.d_model = 40
  config.optim.learning_rate = LEARNING_RATE[2]
  config.optim.weight_decay = 0.0
  config.optim.grad_clip_norm = 0.0
  config.optim.schedule = "constant"
  config.optim.plateau_factor = 0.5
  config.optim.plateau_patience = 0
  config.batch_size = 10
  config.num_epochs = 15
  config.eval_every_epochs = 1
  config.early_stop_patience = 3
  config.checkpoint_every = 5000
  config.best_split = "dev"
  config.best_metric = "loss"
  config.final_eval_splits = ("test", "test20")  # scored once, on the final model
  if args["tier"] == "cpu":
    config.tier = "cpu"
    config.data.sizes = dict(CPU_SIZES)
  if args["tier"] == "quick":
    # Token budgets (END included) instead of the paper's 2M / 200k / 1M / 1M.
    config.data.sizes = {"train": 200000, "dev": 20000, "test": 40000, "test20": 40000}
    configlib.make_quick(config, num_steps=1500)
    config.num_epochs = 0
    config.eval_every_epochs = 0
    config.optim.plateau_factor = 0.0
    config.early_stop_patience = 0
    config.batch_size = 32
    config.optim.grad_clip_norm = 1.0
    config.best_split = "test"
    config.best_metric = "close_acc"
    config.final_eval_splits = ()
    config.model.d_model = 40  # the paper's widths are 20..100
  return config


def get_sweep(arg: str = ""):
  """The official runs: widths 20..100 step 10 x 1 and 2 layers (lr by depth); the cpu tier
  trains the same runs."""
  configlib.parse_arg(arg, config_name="bounded_dyck", choices={
      "tier": configlib.TIERS, "model": configlib.model_choices()})
  return [{"model.num_layers": layers, "model.d_model": width,
           "optim.learning_rate": LEARNING_RATE[layers]}
          for layers in (1, 2) for width in WIDTHS]

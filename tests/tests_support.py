"""Helpers shared by tests (not a test module)."""

from configs import counter


def tiny_suite_config(**overrides):
  """Dyck-1 on a few dozen words with a 1-layer, 16-wide Mamba; dotted keys override."""
  config = counter.get_config("dyck1,quick")
  config.data.sizes = {"train": 96, "bin0": 32, "bin1": 16, "bin2": 8}
  config.data.eval_splits = ("bin0", "bin1")
  config.model.d_model = 16
  config.model.d_state = 4
  config.batch_size = 16
  config.num_steps = 40
  config.log_every = 10
  config.eval_every = 20
  config.checkpoint_every = 20
  config.optim.learning_rate = 1e-2
  config.optim.schedule = "constant"
  config.optim.warmup_steps = 0
  for key, value in overrides.items():
    target = config
    *path, last = key.split(".")
    for part in path:
      target = target[part]
    target[last] = value
  return config

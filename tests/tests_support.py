"""Helpers shared by tests (not a test module)."""

from configs import counter
from ssm_expressivity import configlib


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
  return configlib.apply_overrides(config, overrides)


def leaves_equal(a, b) -> bool:
  """Every leaf of two pytrees is bit-identical."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  left, right = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  return len(left) == len(right) and all(
      np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(left, right))


def max_difference(a, b) -> float:
  """The largest absolute difference between the leaves of two pytrees of equal structure."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  diffs = jax.tree_util.tree_map(
      lambda x, y: float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
      if np.asarray(x).size else 0.0, a, b)
  return max(jax.tree_util.tree_leaves(diffs), default=0.0)


def directional_difference(loss, args, i, direction, eps=1e-6) -> float:
  """Central difference of loss(*args) along `direction` in argument i (a float64 oracle for
  the directional derivative sum(grad_i * direction))."""
  plus, minus = list(args), list(args)
  plus[i] = args[i] + eps * direction
  minus[i] = args[i] - eps * direction
  return (loss(*plus) - loss(*minus)) / (2 * eps)

"""The official suite protocol: CE padding semantics, raw-MSE loss, head width, the grids."""

import json
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from configs import counter, non_star_free, star_free
from ssm_expressivity import configlib
from ssm_expressivity import protocol
from ssm_expressivity.data import pipeline
from ssm_expressivity.training import objectives
from ssm_expressivity.training import sweep

# A batch of two words padded to 4 positions: real lengths 3 and 1; a third, fake row.
_MASK = np.array([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], bool)
_TARGETS = np.array([[1, 0, 1, -1], [0, -1, -1, -1], [-1, -1, -1, -1]], np.int32)
_VOCAB = {"paper_classes": ["0", "1"], "input_symbols": ["a", "b", "c"]}


def _batch():
  extent = np.array([[1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]], bool)  # real rows, longest 3
  return {"mask": jnp.asarray(_MASK), "extent": jnp.asarray(extent),
          "real": jnp.asarray([True, True, False]), "paper_targets": jnp.asarray(_TARGETS)}


def _objective(loss, **kw):
  return objectives.Objective("classes", loss, "paper_targets", **kw)


def test_ce_padding_is_a_class_and_every_padded_position_counts():
  objective = _objective("ce", train_on_padding=True, official_width=True,
                         average_over_padding=True)
  width = objective.num_outputs(_VOCAB)
  assert width == 4  # max(3 input symbols, 2 classes) + the padding class
  logits = np.random.default_rng(0).normal(size=(3, 4, width)).astype(np.float32)
  # By hand: real classes shift to 1.., padded positions of real rows are class 0, the
  # mean runs over the 6 positions of the two real rows up to the longest word (3).
  expected_classes = {(0, 0): 2, (0, 1): 1, (0, 2): 2, (1, 0): 1, (1, 1): 0, (1, 2): 0}
  total = 0.0
  for (b, t), c in expected_classes.items():
    z = logits[b, t].astype(np.float64)
    total += np.log(np.exp(z).sum()) - z[c]
  got = float(objective.loss(jnp.asarray(logits), _batch()))
  assert got == pytest.approx(total / 6, rel=1e-5)
  # Strict accuracy: a row is right only when the padding positions predict class 0 too.
  perfect = np.full((3, 4, width), -5.0, np.float32)
  for (b, t), c in expected_classes.items():
    perfect[b, t, c] = 5.0
  sums = objective.row_sums(jnp.asarray(perfect), _batch())
  assert list(np.asarray(sums["strings_correct"])) == [1.0, 1.0, 0.0]
  perfect[1, 2, 0], perfect[1, 2, 1] = -5.0, 5.0  # a padded position predicts a real class
  sums = objective.row_sums(jnp.asarray(perfect), _batch())
  assert list(np.asarray(sums["strings_correct"])) == [1.0, 0.0, 0.0]


def test_raw_mse_against_numpy_over_the_padded_batch():
  objective = _objective("mse", official_width=True, average_over_padding=True)
  width = objective.num_outputs(_VOCAB)
  assert width == 3  # a dummy class beside the two real ones
  logits = np.random.default_rng(1).normal(size=(3, 4, width)).astype(np.float32)
  # torch: predictions and targets zeroed at padding, MSELoss mean over B x T x C of the
  # padded batch (2 real rows x 3 positions x 3 outputs).
  one_hot = np.zeros((3, 4, width))
  for b, t in zip(*np.nonzero(_MASK)):
    one_hot[b, t, _TARGETS[b, t]] = 1.0
  masked = logits * _MASK[..., None]
  expected = ((masked[:2, :3] - one_hot[:2, :3]) ** 2).mean()
  got = float(objective.loss(jnp.asarray(logits), _batch()))
  assert got == pytest.approx(expected, rel=1e-5)
  # The default divides by real positions only (4), not 6.
  plain = _objective("mse", official_width=True)
  assert float(plain.loss(jnp.asarray(logits), _batch())) == pytest.approx(expected * 6 / 4,
                                                                          rel=1e-5)


def test_a_dummy_class_argmax_is_wrong():
  objective = _objective("mse", official_width=True, average_over_padding=True)
  logits = np.zeros((3, 4, 3), np.float32)
  logits[..., 2] = 1.0  # the dummy output wins everywhere
  correct = np.asarray(objective.position_correct(jnp.asarray(logits), _batch()))
  assert not correct[_MASK].any()


# (d_model, lr, epochs, batch, depths) per language, from the official sweep files
# (official_protocol.md, section 1).
_OFFICIAL = {
    "tomita1": (1, 1, 1, 3), "tomita2": (3, 2, 1, 3), "tomita4": (3, 2, 1, 3),
    "d2": (3, 3, 1, 3), "d12": (3, 3, 1, 3), "d3": (3, 2, 1, 3),
    "abcde_blocks": (3, 2, 2, 3), "ab_d_bc": (2, 2, 1, 3), "012_02": (1, 1, 1, 3),
    "parity": (2, 2, 1, 3), "aaaa_star": (3, 2, 1, 5), "dyck1": (2, 2, 1, 3),
    "shuffle6": (3, 2, 1, 3), "anbn": (3, 2, 1, 3),
}


def _module(language):
  for module, members in ((star_free, configlib.STAR_FREE),
                          (non_star_free, configlib.NON_STAR_FREE),
                          (counter, configlib.COUNTER)):
    if language in members:
      return module
  raise KeyError(language)


@pytest.mark.parametrize("language", sorted(_OFFICIAL))
def test_paper_grid_sizes(language, tmp_path):
  module = _module(language)
  grid = module.get_sweep(language)
  d, lr, epochs, depths = _OFFICIAL[language]
  assert len(grid) == d * lr * epochs * depths
  base = module.get_config(language)
  plan = sweep.plan(base, grid, tmp_path / "g")
  layers = {p.config.model.num_layers for p in plan.points}
  assert layers == ({1, 2, 3, 6, 12} if language == "aaaa_star" else {1, 2, 3})


def test_paper_tier_is_the_default_and_official():
  dyck = counter.get_config("dyck1")
  assert dyck.tier == "paper" and dyck.loss == "ce" and dyck.train_on_padding
  parity = non_star_free.get_config("parity")
  assert parity.loss == "mse" and not parity.train_on_padding
  assert parity.loss_average == "padded" and parity.output_width == "official"
  for config in (dyck, parity):
    assert config.optim.decay_mask == "all" and config.optim.weight_decay == 0.1
    assert config.optim.grad_clip_norm == 0.0 and config.optim.schedule == "constant"
    assert config.data.order == "sequential" and config.num_epochs > 0
  anbn = [p for p in counter.get_sweep("anbn")]
  assert {p["optim.learning_rate"] for p in anbn} == {1e-5, 3e-5}
  assert counter.get_config("anbn").batch_size == 10
  assert counter.get_config("anbn").num_epochs == 1000
  cpu = counter.get_config("dyck1,cpu")
  assert cpu.tier == "cpu" and cpu.loss == "ce" and cpu.data.order == "sequential"
  assert len(counter.get_sweep("dyck1,cpu")) == 6  # 3 depths x 2 learning rates


def test_dry_run_lists_the_official_grid(tmp_path):
  out = subprocess.run(
      [sys.executable, "-m", "experiments.sweep", "--config=configs/star_free.py:d4",
       f"--workdir={tmp_path / 'g'}", "--dry_run"],
      capture_output=True, text=True, check=True).stdout
  runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
  points = {(r["model.num_layers"], r["model.d_model"], r["optim.learning_rate"]) for r in runs}
  assert points == {(n, d, lr) for n in (1, 2, 3) for d in (16, 64, 128)
                    for lr in (3e-4, 1e-4, 1e-3)}
  assert {r["num_epochs"] for r in runs} == {100} and {r["loss"] for r in runs} == {"mse"}


@pytest.mark.parametrize("arg, expected_steps", [
    ("tomita4", 100 * 313),  # the paper tier: 100 epochs of 10000 words in batches of 32
    ("tomita4,cpu", 800),  # the cpu tier caps the official epochs at CPU_MAX_STEPS
    ("aa_star,cpu", 50 * 8),  # 250 words: the official 50 epochs stay under the cap
])
def test_cpu_tier_caps_the_official_epochs(arg, expected_steps):
  module = star_free if arg.startswith("tomita") else non_star_free
  config = module.get_config(arg)
  fields = objectives.from_config(config).fields
  assert pipeline.load_task(config, fields).num_steps() == expected_steps


def test_cpu_tier_has_the_81_cells_of_the_agreement_score():
  cells = set()
  for module, members in ((star_free, configlib.STAR_FREE),
                          (non_star_free, configlib.NON_STAR_FREE),
                          (counter, configlib.COUNTER)):
    for language in members:
      grid = module.get_sweep(f"{language},cpu")
      assert len(grid) == 2 * len(protocol.CPU_DEPTHS)  # two learning rates per depth
      cells |= {(language, p["model.num_layers"]) for p in grid}
  assert len(cells) == 81


def test_d12_sampler_is_a_config_field_in_every_tier():
  for tier in ("paper", "cpu", "quick"):
    config = star_free.get_config(f"d12,{tier}")
    assert config.data.params.sampler == "paper"  # the official generator, as written
  config = configlib.apply_overrides(star_free.get_config("d12,cpu"),
                                     {"data.params.sampler": "committed"})
  assert pipeline.language_params(config) == {"sampler": "committed"}

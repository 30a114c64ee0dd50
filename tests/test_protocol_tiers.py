"""Flip-flop and bounded-Dyck paper tiers: settings, the plateau / early-stop rules on a
scripted loss sequence, and the head-less model."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import bounded_dyck, flip_flop
from ssm_expressivity import configlib
from ssm_expressivity import reproduce
from ssm_expressivity.models import tagger
from ssm_expressivity.reproduce import bounded_dyck as bounded_dyck_report
from ssm_expressivity.reproduce import flip_flop as flip_flop_report
from ssm_expressivity.training import monitor as monitor_lib
from ssm_expressivity.training import objectives


def test_flip_flop_paper_tier_is_the_official_run():
  config = flip_flop.get_config("")
  configlib.validate(config)
  assert (config.tier, config.model.num_layers, config.model.d_model) == ("paper", 1, 16)
  assert (config.optim.learning_rate, config.optim.weight_decay) == (1e-5, 0.1)
  assert config.optim.decay_mask == "all" and config.optim.grad_clip_norm == 0.0
  assert (config.loss, config.batch_size, config.eval_every) == ("mse", 16, 100)
  assert (config.data.train.min_length, config.data.train.max_length) == (512, 512)
  assert config.data.params["p_ignore"] == 0.8
  assert config.data.eval["val"].num_words == 1000
  assert config.data.eval["val_sparse"].params["p_ignore"] == 0.98
  assert config.num_steps > 137600  # past the paper's second zero-error step


def test_flip_flop_cpu_tier_is_the_official_run_evaluated_less_often():
  paper, cpu = flip_flop.get_config(""), flip_flop.get_config("cpu")
  configlib.validate(cpu)
  assert cpu.tier == "cpu" and cpu.stop_at_accuracy == 1.0 and cpu.eval_every == 1000
  assert cpu.num_steps > 137600  # past the paper's second zero-error step
  for field in ("model.num_layers", "model.d_model", "optim.learning_rate",
                "optim.weight_decay", "optim.decay_mask", "loss", "batch_size",
                "data.train.max_length", "data.eval.val.num_words"):
    assert cpu[field] == paper[field], field  # ml_collections reads dotted paths


def test_first_zero_error_step_per_split():
  records = [{"step": 100, "loss": 0.3},
             {"step": 1000, "split": "val", "strict_acc": 0.5},
             {"step": 1000, "split": "val_sparse", "strict_acc": 0.2},
             {"step": 2000, "split": "val", "strict_acc": 1.0},
             {"step": 2000, "split": "val_sparse", "strict_acc": 0.9},
             {"step": 3000, "split": "val", "strict_acc": 0.99},
             {"step": 3000, "split": "val_sparse", "strict_acc": 0.99}]
  assert flip_flop_report.first_zero_error(records) == {"val": 2000, "val_sparse": None}


def test_bounded_dyck_paper_grid_and_settings():
  config = bounded_dyck.get_config("")
  configlib.validate(config)
  assert config.batch_size == 10 and config.optim.weight_decay == 0.0
  assert (config.optim.plateau_factor, config.optim.plateau_patience) == (0.5, 0)
  assert (config.best_split, config.best_metric, config.early_stop_patience) == ("dev", "loss", 3)
  assert config.eval_every_epochs == 1
  grid = bounded_dyck.get_sweep("")
  assert {(p["model.num_layers"], p["model.d_model"]) for p in grid} == {
      (n, w) for n in (1, 2) for w in range(20, 101, 10)}
  assert {p["optim.learning_rate"] for p in grid if p["model.num_layers"] == 1} == {1e-4}
  assert {p["optim.learning_rate"] for p in grid if p["model.num_layers"] == 2} == {1e-3}
  runs = reproduce.build("bounded_dyck", "paper").runs
  assert len(runs) == 18 and runs["mamba1_d70"].optim.learning_rate == 1e-4


def test_bounded_dyck_cpu_tier_is_the_paper_protocol_on_less_data():
  paper, cpu = bounded_dyck.get_config(""), bounded_dyck.get_config("cpu")
  configlib.validate(cpu)
  assert cpu.tier == "cpu" and dict(cpu.data.sizes) == bounded_dyck.CPU_SIZES
  for field in ("batch_size", "num_epochs", "early_stop_patience", "optim.plateau_factor",
                "optim.plateau_patience", "optim.weight_decay", "best_split", "best_metric",
                "data.params.k", "data.params.depth"):
    assert cpu[field] == paper[field], field
  runs = reproduce.build("bounded_dyck", "cpu").runs
  assert len(runs) == 18 and runs["mamba2_d40"].optim.learning_rate == 1e-3
  assert all(dict(r.data.sizes) == bounded_dyck.CPU_SIZES for r in runs.values())


def test_plateau_and_early_stop_on_a_scripted_dev_loss():
  monitor = monitor_lib.Monitor.of(bounded_dyck.get_config(""))
  losses = [1.0, 0.9, 0.95, 0.95, 0.8, 0.85, 0.86, 0.87]
  # By hand, torch's ReduceLROnPlateau(0.5, patience 0): every non-improving epoch halves the
  # rate; early stop after 3 evaluations without a new best (0.8 at the fifth).
  scales = [1.0, 1.0, 0.5, 0.25, 0.25, 0.125, 0.0625, 0.03125]
  stops = [None] * 7 + ["early_stop"]
  for step, (loss, scale, stop) in enumerate(zip(losses, scales, stops)):
    monitor.observe(step, {"dev": {"loss": loss}})
    assert (monitor.lr_scale, monitor.stopped) == (scale, stop), step
  assert monitor.best_value == 0.8


def test_no_output_projection_uses_the_hidden_states():
  model_config = {"name": "mamba", "num_layers": 1, "d_model": 8, "d_state": 4, "d_conv": 4,
                  "expand": 2, "gate": "nonnegative", "scan": "auto"}
  model = tagger.make_tagger(model_config, vocab_size=5, num_outputs=3, head=False)
  tokens = jnp.ones((2, 6), jnp.int32)
  params = model.init(jax.random.PRNGKey(0), tokens)
  assert "head" not in params["params"]
  assert model.apply(params, tokens).shape == (2, 6, 8)
  with pytest.raises(ValueError, match="d_model"):
    tagger.make_tagger(model_config, vocab_size=5, num_outputs=9, head=False)
  # A next-token argmax past the vocabulary is wrong.
  objective = objectives.Objective("next_token", "ce", "next_token")
  logits = np.zeros((1, 2, 8), np.float32)
  logits[0, 0, 1] = 1.0  # allowed symbol
  logits[0, 1, 6] = 1.0  # beyond the 3 symbols
  batch = {"next_sets": jnp.ones((1, 2, 3), jnp.int32)}
  assert list(np.asarray(objective.position_correct(jnp.asarray(logits), batch))[0]) == [
      True, False]


def test_flip_flop_report_has_the_zero_error_steps_and_the_curve(tmp_path):
  run = tmp_path / "mamba1"
  run.mkdir()
  records = [{"step": s, "split": split, "strict_acc": acc}
             for s, accs in ((1000, (0.4, 0.1)), (2000, (1.0, 0.7)), (3000, (1.0, 1.0)))
             for split, acc in zip(("val", "val_sparse"), accs)]
  (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
  config = flip_flop.get_config("cpu")
  final = {"strict_acc": 1.0, "min_length": 512, "max_length": 512}
  ctx = reproduce.Context({"mamba1": {"val": final, "val_sparse": final}},
                          {"mamba1": config}, tmp_path, {})
  text = flip_flop_report.report(ctx)
  assert "| val | 0.8 | 512-512 | 100.0 | 2000 | 103000 |" in text
  assert "| val_sparse | 0.98 | 512-512 | 100.0 | 3000 | 137000 |" in text
  assert (tmp_path / "flip_flop_error.png").stat().st_size > 1000


def test_bounded_dyck_report_draws_close_accuracy_vs_width(tmp_path):
  runs = reproduce.build("bounded_dyck", "cpu").runs
  chosen = {name: runs[name] for name in ("mamba1_d20", "mamba1_d30", "mamba2_d20")}
  results = {name: {"dev": {"close_acc": 0.5}, "test": {"close_acc": 0.25}} for name in chosen}
  text = bounded_dyck_report.report(reproduce.Context(results, chosen, tmp_path, {}))
  assert "| mamba1_d20 | 20 | dev | 50.0 | 74.3 |" in text
  assert "| mamba1_d30 | 30 | test | 25.0 | 72.8 |" in text
  assert (tmp_path / "close_acc_vs_width.png").stat().st_size > 1000

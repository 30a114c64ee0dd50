"""Training, resuming, checkpoints and evaluation on tiny configs."""

import json

import pytest

from configs import flip_flop
from ssm_expressivity.training import evaluate
from ssm_expressivity.training import loop as train
from ssm_expressivity.training import rundir
from ssm_expressivity.training.rundir import CheckpointError, RunDir, config_to_dict
from tests_support import leaves_equal as _leaves_equal
from tests_support import tiny_suite_config as tiny_config


def test_loss_goes_down_and_checkpoint_appears(tmp_path):
  result = train.train_and_evaluate(tiny_config(), tmp_path)
  records = [r for r in RunDir(tmp_path).read_metrics() if "split" not in r]
  assert records[-1]["loss"] < records[0]["loss"]
  assert (tmp_path / "checkpoints" / "40").is_dir()
  assert (tmp_path / "best.json").exists()
  assert set(result.eval_metrics) == {"bin0", "bin1"}
  for values in result.eval_metrics.values():
    assert 0.0 <= values["strict_acc"] <= values["position_acc"] <= 1.0


def test_interrupted_run_resumes_bit_identical(tmp_path):
  config = tiny_config(num_steps=30, checkpoint_every=10, eval_every=10)
  straight = train.train_and_evaluate(config, tmp_path / "straight")
  # A preemption at step 17: the checkpoint of step 17 is written, then the same command resumes.
  first = train.train_and_evaluate(config, tmp_path / "resumed", stop_at_step=17)
  assert first.step == 17
  resumed = train.train_and_evaluate(config, tmp_path / "resumed")
  assert resumed.step == 30
  assert _leaves_equal(straight.params, resumed.params)
  # A resumed run that starts differently would differ: make sure the check can fail.
  other = train.train_and_evaluate(tiny_config(num_steps=30, seed=1), tmp_path / "other")
  assert not _leaves_equal(straight.params, other.params)


def test_workdir_of_a_different_config_is_refused(tmp_path):
  train.train_and_evaluate(tiny_config(num_steps=10), tmp_path)
  with pytest.raises(CheckpointError, match="different config.*model.d_model"):
    train.train_and_evaluate(tiny_config(num_steps=10, **{"model.d_model": 8}), tmp_path)
  # More steps on the same config is a resume, not a different run.
  assert train.train_and_evaluate(tiny_config(num_steps=20), tmp_path).step == 20


def test_an_added_eval_split_evaluates_the_finished_run(tmp_path):
  config = tiny_config(num_steps=20, stop_at_accuracy=0.0)
  first = train.train_and_evaluate(config, tmp_path)
  grown = tiny_config(num_steps=20, stop_at_accuracy=0.0,
                      **{"data.eval_splits": ("bin0", "bin1", "bin2")})
  again = train.train_and_evaluate(grown, tmp_path)
  assert again.step == 20 and _leaves_equal(first.params, again.params)  # no more training
  assert set(again.eval_metrics) == {"bin0", "bin1", "bin2"}
  assert again.eval_metrics["bin0"] == first.eval_metrics["bin0"]
  _, alone = evaluate.evaluate_run(tmp_path)  # the saved run now evaluates all three
  assert alone["bin2"] == again.eval_metrics["bin2"]
  # Dropping a split, or adding one where stop_at_accuracy asks every split, is another run.
  with pytest.raises(CheckpointError, match="data.eval_splits"):
    train.train_and_evaluate(tiny_config(num_steps=20, stop_at_accuracy=0.0,
                                         **{"data.eval_splits": ("bin1",)}), tmp_path)
  old, new = config_to_dict(config), config_to_dict(grown)
  assert rundir.added_eval_splits(old, new) == {"data.eval_splits", "data.sizes.bin2"}
  assert rundir.added_eval_splits(old, {**new, "stop_at_accuracy": 0.99}) == set()


def test_final_eval_splits_score_only_the_final_model(tmp_path):
  def records(workdir):
    return [(r["step"], r["split"]) for r in RunDir(workdir).read_metrics() if "split" in r]

  overrides = {"final_eval_splits": ("bin1",), "best_split": "bin0", "stop_at_accuracy": 0.0,
               "num_steps": 12, "eval_every": 4}
  result = train.train_and_evaluate(tiny_config(**overrides), tmp_path / "full")
  assert records(tmp_path / "full") == [(4, "bin0"), (8, "bin0"), (12, "bin0"), (12, "bin1")]
  assert set(result.eval_metrics) == {"bin0", "bin1"}
  _, again = evaluate.evaluate_run(tmp_path / "full")
  assert again["bin1"] == result.eval_metrics["bin1"]
  # Early stopping ends the run at step 8 (no change at a learning rate of 1e-12): its final
  # model is scored on bin1 there, once.
  stopped = train.train_and_evaluate(tiny_config(**overrides, early_stop_patience=1, **{
      "optim.learning_rate": 1e-12}), tmp_path / "stopped")
  assert stopped.stopped == "early_stop" and stopped.step == 8
  assert records(tmp_path / "stopped") == [(4, "bin0"), (8, "bin0"), (8, "bin1")]
  assert set(stopped.eval_metrics) == {"bin0", "bin1"}
  for bad, message in (({"final_eval_splits": ("bin7",)}, "bin7"),
                       ({"final_eval_splits": ("bin0",), "best_split": "bin0"}, "monitored"),
                       ({"final_eval_splits": ("bin1",), "best_split": "bin0",
                         "stop_at_accuracy": 0.9}, "stop_at_accuracy")):
    with pytest.raises(ValueError, match=message):
      train.train_and_evaluate(tiny_config(**bad), tmp_path / "bad")


def test_divergence_stops_and_keeps_last_checkpoint(tmp_path):
  config = tiny_config(num_steps=30, checkpoint_every=10, eval_every=10)
  train.train_and_evaluate(config, tmp_path, stop_at_step=10)
  saved = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
  # A learning rate of 1e30 without clipping overflows the parameters within a step or two.
  diverging = tiny_config(num_steps=30, checkpoint_every=10, eval_every=10,
                          **{"optim.learning_rate": 1e30, "optim.grad_clip_norm": 0.0})
  # The config differs only in the learning rate, so use a fresh copy of the run to resume.
  (tmp_path / "config.json").write_text(json.dumps(config_to_dict(diverging)))
  with pytest.raises(train.TrainingDiverged, match="last good checkpoint .step 10"):
    train.train_and_evaluate(diverging, tmp_path)
  assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == saved


def test_evaluate_saved_run_at_new_lengths(tmp_path):
  config = tiny_config(num_steps=20)
  result = train.train_and_evaluate(config, tmp_path)
  step, again = evaluate.evaluate_run(tmp_path)
  assert step == 20
  assert again == result.eval_metrics  # same checkpoint, same data: same numbers
  _, longer = evaluate.evaluate_run(tmp_path, [(200, 240)], num_words=8)
  (name, values), = longer.items()
  assert name == "200-240"
  assert 200 <= values["min_length"] <= values["max_length"] <= 240
  with pytest.raises(ValueError, match="dyck1"):
    evaluate.evaluate_run(tmp_path, [(7, 7)], num_words=4)  # Dyck-1 has no odd-length word


def test_missing_and_corrupt_checkpoints_raise_clearly(tmp_path):
  with pytest.raises(CheckpointError, match="holds no run"):
    evaluate.load_run(tmp_path / "nothing")
  train.train_and_evaluate(tiny_config(num_steps=10), tmp_path)
  for path in (tmp_path / "checkpoints").rglob("*"):
    if path.is_file() and path.stat().st_size > 0 and "metadata" not in path.name:
      path.write_bytes(b"garbage")
  with pytest.raises(CheckpointError, match="unreadable|digest"):
    evaluate.load_run(tmp_path)


def test_sampled_source_with_online_train_words(tmp_path):
  config = flip_flop.get_config("quick")
  config.data.train = {"num_words": 0, "min_length": 8, "max_length": 16, "params": {}}
  config.data.eval = {"val": {"num_words": 8, "min_length": 32, "max_length": 32,
                              "params": {"p_ignore": 0.98}}}
  config.model.d_model = 8
  config.model.d_state = 2
  config.batch_size = 4
  config.num_steps = 4
  config.log_every = 2
  config.eval_every = 4
  config.best_split = "val"
  result = train.train_and_evaluate(config, tmp_path)
  assert result.eval_metrics["val"]["min_length"] == 32


def test_bounded_dyck_next_token_run_reports_close_accuracy(tmp_path):
  from configs import bounded_dyck  # pylint: disable=g-import-not-at-top
  config = bounded_dyck.get_config("quick")
  config.data.params = {"k": 2, "depth": 3}
  config.data.sizes = {"train": 3000, "dev": 400, "test": 2000}
  config.model.d_model = 16
  config.model.d_state = 4
  config.model.num_layers = 1
  config.batch_size = 8
  config.num_steps = 6
  config.log_every = 3
  config.eval_every = 6
  config.checkpoint_every = 6
  result = train.train_and_evaluate(config, tmp_path)
  for split in ("dev", "test"):
    values = result.eval_metrics[split]
    assert 0.0 <= values["close_acc"] <= 1.0
    assert values["num_strings"] > 0

"""Faults made for real on disk: nothing saved is lost, nothing corrupt is used silently, and no
workdir is left in a state that the corrected command refuses."""

import json
import pathlib
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from ssm_expressivity.training import checkpoints
from ssm_expressivity.training import evaluate
from ssm_expressivity.training import loop
from ssm_expressivity.training.rundir import CheckpointError, RunDir
from tests_support import leaves_equal, tiny_suite_config

REPO = pathlib.Path(__file__).resolve().parents[1]


def _config(**overrides):
  return tiny_suite_config(**{"num_steps": 20, "checkpoint_every": 10, "eval_every": 10,
                              **overrides})


def _data_files(step_dir: pathlib.Path) -> list[pathlib.Path]:
  """The array data files of a checkpoint step (not its metadata)."""
  return sorted((p for p in (step_dir / "state").rglob("*")
                 if p.is_file() and "/d/" in str(p)), key=lambda p: -p.stat().st_size)


def _flip_bytes(path: pathlib.Path) -> None:
  data = bytearray(path.read_bytes())
  middle = len(data) // 2
  data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
  path.write_bytes(bytes(data))


def _all_finite(tree) -> bool:
  return all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(tree)
             if np.issubdtype(np.asarray(x).dtype, np.floating))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  """A finished 20-step run (checkpoints at 10 and 20), as a template to copy."""
  workdir = tmp_path_factory.mktemp("finished") / "run"
  loop.train_and_evaluate(_config(), workdir)
  return workdir


def _copy(source: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
  subprocess.run(["cp", "-r", str(source), str(target)], check=True)
  return target


# ---- corruption -------------------------------------------------------------------------------


def test_changed_bytes_in_the_newest_checkpoint_fall_back_to_the_older_one(finished, tmp_path):
  workdir = _copy(finished, tmp_path / "run")
  for path in _data_files(workdir / "checkpoints" / "20")[:1]:
    _flip_bytes(path)
  step, params = checkpoints.load_params(RunDir(workdir))
  assert step == 10  # the corrupt step 20 is not used
  _, good = checkpoints.load_params(RunDir(finished))
  assert not leaves_equal(params, good)
  step, _ = evaluate.evaluate_run(workdir)
  assert step == 10
  # Training resumes from step 10 and rebuilds step 20 bit for bit.
  result = loop.train_and_evaluate(_config(), workdir)
  assert result.step == 20 and leaves_equal(result.params, good)


def test_every_checkpoint_corrupt_is_refused_not_guessed(finished, tmp_path):
  workdir = _copy(finished, tmp_path / "run")
  for step in ("10", "20"):
    for path in _data_files(workdir / "checkpoints" / step):
      _flip_bytes(path)
  with pytest.raises(CheckpointError, match="nothing was deleted"):
    checkpoints.load_params(RunDir(workdir))
  with pytest.raises(CheckpointError, match="no usable checkpoint"):
    loop.train_and_evaluate(_config(), workdir)
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["10", "20"]


def test_corrupt_best_record_is_refused_and_the_best_kept(finished, tmp_path):
  workdir = _copy(finished, tmp_path / "run")
  (workdir / "best.json").write_text("{not json")
  best_before = sorted(str(p) for p in (workdir / "best").rglob("*"))
  with pytest.raises(CheckpointError, match="best.json is corrupt.*kept"):
    loop.train_and_evaluate(_config(num_steps=30), workdir)
  assert sorted(str(p) for p in (workdir / "best").rglob("*")) == best_before
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["10", "20"]


def test_divergence_never_saves_a_non_finite_state(tmp_path):
  config = _config(num_steps=30, **{"optim.learning_rate": 1e30, "optim.grad_clip_norm": 0.0})
  with pytest.raises(loop.TrainingDiverged):
    loop.train_and_evaluate(config, tmp_path)
  for step in checkpoints.latest_steps(RunDir(tmp_path)):
    state, _ = checkpoints._restore(tmp_path / "checkpoints", step, None)  # pylint: disable=protected-access
    assert _all_finite(state)


def test_a_diverged_run_goes_on_as_a_branch_with_a_lower_learning_rate(finished, tmp_path):
  branch = tmp_path / "branch"
  result = loop.train_and_evaluate(_config(num_steps=30, **{"optim.learning_rate": 1e-3}),
                                   branch, init_from=finished)
  assert result.step == 30
  assert json.loads((branch / "init_from.json").read_text())["step"] == 20
  with pytest.raises(ValueError, match="another model or data.*model.d_model"):
    loop.train_and_evaluate(_config(**{"model.d_model": 8}), tmp_path / "other",
                            init_from=finished)


# ---- stranded workdirs ---------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, message", [
    ({"model.name": "gru"}, "model.name"),
    ({"model.gate": "negative"}, "gate"),
    ({"model.scan": "fast"}, "scan"),
    ({"model.d_model": 0}, "d_model"),
    ({"model.num_layers": 0}, "num_layers"),
    ({"model.d_state": 0}, "d_state"),
    ({"seed": -1}, "seed"),
    ({"optim.learning_rate": -1e-3}, "learning_rate"),
    ({"optim.learning_rate": float("nan")}, "learning_rate"),
    ({"optim.b1": 2.0}, "b1"),
    ({"optim.grad_clip_norm": float("nan")}, "grad_clip_norm"),
    ({"best_split": "bin7"}, "best_split"),
    ({"data.language": "dyck9"}, "language"),
])
def test_config_errors_write_nothing(tmp_path, overrides, message):
  config = _config()
  for key, value in overrides.items():  # set directly: apply_overrides would refuse some
    node = config
    *path, last = key.split(".")
    for part in path:
      node = node[part]
    with node.unlocked():
      node[last] = value
  with pytest.raises(ValueError, match=message):
    loop.train_and_evaluate(config, tmp_path / "run")
  assert not (tmp_path / "run" / "config.json").exists()


@pytest.mark.parametrize("overrides, message", [
    ({"data.train": {"num_words": 10, "min_length": 20, "max_length": 10, "params": {}}},
     "greater than max_length"),
    ({"data.train": {"num_words": 10, "min_length": -1, "max_length": 10, "params": {}}},
     "min_length"),
    ({"data.train": {"num_words": -5, "min_length": 1, "max_length": 10, "params": {}}},
     "num_words"),
    ({"data.params": {"p_ignore": 1.5}}, "p_ignore"),
    ({"data.eval": {"val": {"num_words": 0, "min_length": 8, "max_length": 8, "params": {}}}},
     "num_words"),
])
def test_sampled_config_errors_write_nothing(tmp_path, overrides, message):
  from configs import flip_flop  # pylint: disable=g-import-not-at-top
  from ssm_expressivity import configlib  # pylint: disable=g-import-not-at-top
  config = configlib.apply_overrides(flip_flop.get_config("quick"), {"best_split": "val", **{
      "data.eval": {"val": {"num_words": 4, "min_length": 8, "max_length": 8, "params": {}}}}})
  config = configlib.apply_overrides(config, overrides)
  with pytest.raises(ValueError, match=message):
    loop.train_and_evaluate(config, tmp_path / "run")
  assert not (tmp_path / "run" / "config.json").exists()


def test_deleted_config_with_checkpoints_is_refused(finished, tmp_path):
  workdir = _copy(finished, tmp_path / "run")
  (workdir / "config.json").unlink()
  with pytest.raises(CheckpointError, match="no config.json"):
    loop.train_and_evaluate(_config(**{"optim.learning_rate": 3e-3}), workdir)
  assert not (workdir / "config.json").exists()


def test_deleted_checkpoints_are_refused_not_restarted(finished, tmp_path):
  workdir = _copy(finished, tmp_path / "run")
  subprocess.run(["rm", "-r", str(workdir / "checkpoints")], check=True)
  metrics_before = (workdir / "metrics.jsonl").read_text()
  with pytest.raises(CheckpointError, match="holds no usable checkpoint"):
    loop.train_and_evaluate(_config(), workdir)
  assert (workdir / "metrics.jsonl").read_text() == metrics_before


def test_empty_and_half_written_step_directories_are_set_aside(finished, tmp_path):
  workdir = _copy(finished, tmp_path / "run")
  subprocess.run(["rm", "-r", str(workdir / "checkpoints" / "20")], check=True)
  (workdir / "checkpoints" / "20").mkdir()  # empty, as a kill in mid-save can leave
  (workdir / "checkpoints" / "30").mkdir()
  (workdir / "checkpoints" / "30" / "state").mkdir()
  step, _ = evaluate.evaluate_run(workdir)
  assert step == 10  # says which step it evaluated
  result = loop.train_and_evaluate(_config(), workdir)
  assert result.step == 20
  assert checkpoints.latest_steps(RunDir(workdir)) == [20, 10]
  assert sorted(p.name for p in (workdir / "checkpoints" / ".unusable").iterdir()) == ["20", "30"]
  _, good = checkpoints.load_params(RunDir(finished))
  assert leaves_equal(checkpoints.load_params(RunDir(workdir))[1], good)


def test_resumed_run_keeps_one_metrics_record_per_step(tmp_path):
  loop.train_and_evaluate(_config(num_steps=30, log_every=5), tmp_path, stop_at_step=15)
  # A kill after step 15's records but before its checkpoint would leave records the resumed
  # run writes again: make that state, then resume.
  subprocess.run(["rm", "-r", str(tmp_path / "checkpoints" / "15")], check=True)
  loop.train_and_evaluate(_config(num_steps=30, log_every=5), tmp_path)
  keys = [(r["step"], r.get("split")) for r in RunDir(tmp_path).read_metrics()]
  assert len(keys) == len(set(keys))
  assert max(k[0] for k in keys) == 30


def test_a_second_training_in_the_same_workdir_gets_one_line(finished, tmp_path):
  workdir = _copy(finished, tmp_path / "run")
  with RunDir(workdir).lock():
    with pytest.raises(CheckpointError, match="in use by another training process"):
      loop.train_and_evaluate(_config(num_steps=30), workdir)
  # Across processes too: the lock is the file system's, held by a live process.
  holder = subprocess.Popen([sys.executable, "-c", (
      "import sys, time; sys.path.insert(0, '.');"
      "from ssm_expressivity.training.rundir import RunDir\n"
      f"with RunDir({str(workdir)!r}).lock():\n  print('locked', flush=True); time.sleep(60)")],
      cwd=REPO, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(CheckpointError, match="in use"):
      loop.train_and_evaluate(_config(num_steps=30), workdir)
  finally:
    holder.kill()
    holder.wait()
  time.sleep(0.1)
  assert loop.train_and_evaluate(_config(num_steps=30), workdir).step == 30


# ---- memory -------------------------------------------------------------------------------------


def test_long_strings_are_evaluated_in_batches_that_fit(finished):
  config = RunDir(finished).read_config()
  evaluator_rows = evaluate.Evaluator(None, None, config, _one_device()).rows_per_batch
  assert evaluator_rows(20000, 1) == 3  # 65536 positions per batch
  assert evaluator_rows(50, 1) == 256
  with pytest.raises(ValueError, match="over the limit"):
    evaluate.evaluate_run(finished, [(10 ** 9, 10 ** 9)], num_words=500)
  step, results = evaluate.evaluate_run(finished, [(4000, 4000)], num_words=3)
  assert results["4000"]["num_strings"] == 3 and step == 20


def _one_device():
  from ssm_expressivity.training import devices  # pylint: disable=g-import-not-at-top
  return devices.place(num_runs=1, batch_size=1)

"""Sweeps: grids, grouping, vmapped runs equal to runs alone, devices, processes, resume."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from ssm_expressivity import configlib
from ssm_expressivity.training import checkpoints
from ssm_expressivity.training import loop
from ssm_expressivity.training import steps
from ssm_expressivity.training import sweep
from ssm_expressivity.training.rundir import RunDir
from tests_support import leaves_equal, max_difference, tiny_suite_config

REPO = pathlib.Path(__file__).resolve().parents[1]

# A sweep small enough for a subprocess: 4 runs (2 learning rates x 2 seeds) in one program.
_SWEEP_ARGS = [
    "--config=configs/counter.py:dyck1,quick",
    "--config.data.sizes={\"train\": 64, \"bin0\": 16, \"bin1\": 8, \"bin2\": 8}",
    "--config.data.eval_splits=('bin0','bin1')", "--config.model.d_model=8",
    "--config.model.d_state=2", "--config.batch_size=8", "--config.log_every=10",
    "--config.eval_every=10", "--config.checkpoint_every=10", "--config.optim.schedule=constant",
    "--config.optim.warmup_steps=0", "--sweep=optim.learning_rate=1e-2,3e-3;seed=0,1",
]
_RUNS = ("learning_rate=0.01,seed=0", "learning_rate=0.01,seed=1",
         "learning_rate=0.003,seed=0", "learning_rate=0.003,seed=1")
# Parameters of the same sweep on other device layouts agree to this (float32 round-off of an
# all-reduced gradient, compounded over 20 Adam steps: measured differences are <= 4e-7).
_DEVICE_TOLERANCE = 1e-5


def _sweep_command(workdir, *extra, steps=20):
  return [sys.executable, "-m", "experiments.sweep", *_SWEEP_ARGS,
          f"--config.num_steps={steps}", f"--workdir={workdir}", *extra]


def _env(devices: int) -> dict:
  env = dict(os.environ)
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  return env


def _run(command, devices=1, timeout=600):
  proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=_env(devices),
                        timeout=timeout)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def _final_params(workdir):
  return {name: checkpoints.load_params(RunDir(pathlib.Path(workdir) / name))[1]
          for name in _RUNS}


def _finals(workdir):
  return {r["workdir"]: r["final"] for r in sweep.read_sweep(workdir)["runs"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """The sweep on one device, uninterrupted."""
  workdir = tmp_path_factory.mktemp("sweep") / "one_device"
  _run(_sweep_command(workdir))
  return workdir


# ---- grids and plans -------------------------------------------------------------------------


def test_parse_grid_types_values_as_their_fields():
  config = tiny_suite_config()
  grid = sweep.parse_grid("optim.learning_rate=1e-3,1e-2; seed=0,1,2 ;model.d_model=8", config)
  assert len(grid) == 6
  assert grid[0] == {"optim.learning_rate": 1e-3, "seed": 0, "model.d_model": 8}
  assert isinstance(grid[0]["optim.learning_rate"], float) and isinstance(grid[0]["seed"], int)
  assert sweep.parse_grid("data.eval_splits=bin0+bin1", config)[0] == {
      "data.eval_splits": ("bin0", "bin1")}


@pytest.mark.parametrize("text, message", [
    ("optim.learning_rat=1e-3", "no field 'learning_rat'"),
    ("optim.learning_rate=", "empty value"),
    ("seed=0,,1", "empty value"),
    ("seed=abc", "seed is an int"),
    ("model.d_model=1.5", "d_model is an int"),
    ("model.name=gru", "model.name='gru' is not valid"),
    ("", "empty"),
])
def test_bad_grids_are_refused(text, message):
  with pytest.raises(ValueError, match=message):
    sweep.parse_grid(text, tiny_suite_config())


def test_plan_groups_by_shape(tmp_path):
  grid = sweep.parse_grid("model.d_model=8,16;optim.learning_rate=1e-3,1e-2;seed=0,1",
                          tiny_suite_config())
  plan = sweep.plan(tiny_suite_config(), grid, tmp_path)
  assert len(plan.points) == 8
  assert sorted(len(g) for g in plan.groups) == [4, 4]
  for group in plan.groups:
    assert len({plan.points[i].config.model.d_model for i in group}) == 1
  assert [len(g) for g in sweep.plan(tiny_suite_config(), grid, tmp_path,
                                     max_group_size=3).groups] == [3, 1, 3, 1]
  with pytest.raises(ValueError, match="cannot share one program.*model.d_model"):
    sweep.plan(tiny_suite_config(), grid, tmp_path, single_program=True)
  bad = sweep.parse_grid("model.d_model=8;optim.learning_rate=-1.0", tiny_suite_config())
  with pytest.raises(ValueError, match="learning_rate must be > 0"):
    sweep.plan(tiny_suite_config(), bad, tmp_path)
  assert not any(tmp_path.iterdir())  # nothing is written before training


def test_model_name_switches_the_field_set():
  config = configlib.apply_overrides(tiny_suite_config(), {"model.name": "transformer",
                                                           "model.num_heads": 2})
  assert config.model.name == "transformer" and config.model.num_heads == 2
  assert "d_state" not in config.model and config.model.d_model == 16
  with pytest.raises(ValueError, match="no field 'num_heads'"):
    configlib.apply_overrides(tiny_suite_config(), {"model.num_heads": 2})


# ---- a vmapped group equals its runs alone ----------------------------------------------------


@pytest.mark.parametrize("runs_axis", steps.RUNS_AXIS_METHODS)
def test_group_runs_equal_the_runs_trained_alone(tmp_path, monkeypatch, runs_axis):
  # Both ways of stepping the runs axis in one program, whichever this backend picks.
  monkeypatch.setitem(steps.RUNS_AXIS, jax.default_backend(), runs_axis)
  assert steps.runs_axis_method(1, num_runs=3) == runs_axis
  configs = [
      tiny_suite_config(**{"optim.learning_rate": 1e-2, "seed": 0, "eval_every": 10}),
      tiny_suite_config(**{"optim.learning_rate": 3e-3, "seed": 1, "num_steps": 30,
                           "eval_every": 10}),
      # Frozen by its stop rule at step 20 (bin1 strict accuracy does not improve on its first
      # evaluation), while the others go on.
      tiny_suite_config(**{"optim.learning_rate": 1e-2, "seed": 2, "early_stop_patience": 1,
                           "eval_every": 10}),
  ]
  group = loop.train_group([loop.RunSpec(c, tmp_path / f"group{i}")
                            for i, c in enumerate(configs)])
  assert [r.step for r in group] == [40, 30, 20]
  assert group[2].stopped == "early_stop" and group[0].stopped is None
  for i, config in enumerate(configs):
    alone = loop.train_and_evaluate(config, tmp_path / f"alone{i}")
    assert alone.step == group[i].step and alone.stopped == group[i].stopped
    # vmapped and unbatched matmuls round differently: equal to float32 round-off.
    assert max_difference(alone.params, group[i].params) < 1e-5
    for split, values in alone.eval_metrics.items():
      for key, value in values.items():
        assert np.isclose(value, group[i].eval_metrics[split][key], rtol=1e-5), (split, key)
  # The runs really differ, so the comparison can fail.
  assert max_difference(group[0].params, group[2].params) > 1e-3


def test_runs_axis_is_vmap_over_devices_and_refuses_unknown_methods():
  assert steps.runs_axis_method(8, num_runs=12) == "vmap"  # a loop over a sharded runs axis would gather it
  assert steps.runs_axis_method(1, num_runs=1) == "vmap"
  with pytest.raises(ValueError, match="runs_axis must be one of"):
    steps.make_group_train_step(None, None, None, shared_batch=True, runs_axis="scan")


# ---- devices, processes, kills ---------------------------------------------------------------


def test_dry_run_lists_every_run_and_trains_nothing(tmp_path):
  proc = _run(_sweep_command(tmp_path / "dry", "--dry_run"))
  lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
  assert [line["run"] for line in lines] == list(_RUNS)
  assert {line["group"] for line in lines} == {0}
  assert lines[2]["optim.learning_rate"] == 0.003 and lines[2]["model.name"] == "mamba"
  assert lines[0]["num_steps"] == 20 and lines[0]["loss"] == "sigmoid_mse"
  assert not (tmp_path / "dry").exists()


def test_eight_devices_equal_one(reference, tmp_path):
  _run(_sweep_command(tmp_path / "eight"), devices=8)
  expected, got = _final_params(reference), _final_params(tmp_path / "eight")
  for name in _RUNS:
    assert max_difference(expected[name], got[name]) < _DEVICE_TOLERANCE, name
  finals, finals8 = _finals(reference), _finals(tmp_path / "eight")
  for name in _RUNS:
    for split, values in finals[name]["eval"].items():
      assert np.isclose(values["loss"], finals8[name]["eval"][split]["loss"], rtol=1e-4)
      assert values["position_acc"] == finals8[name]["eval"][split]["position_acc"]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


# Two processes compile and train the sweep three times over (about 100 s): the slow tier.
@pytest.mark.slow
def test_two_processes_of_four_devices_equal_one_of_eight(tmp_path):
  port = _free_port()
  workdir = tmp_path / "two_processes"
  procs = [subprocess.Popen(
      _sweep_command(workdir, f"--coordinator_address=localhost:{port}", "--num_processes=2",
                     f"--process_id={i}"), cwd=REPO, env=_env(4), stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True) for i in range(2)]
  outputs = [p.communicate(timeout=600) for p in procs]
  for proc, (_, err) in zip(procs, outputs):
    assert proc.returncode == 0, err[-3000:]
  _run(_sweep_command(tmp_path / "eight"), devices=8)
  expected, got = _final_params(tmp_path / "eight"), _final_params(workdir)
  for name in _RUNS:
    assert max_difference(expected[name], got[name]) < _DEVICE_TOLERANCE, name


def test_killed_sweep_resumes_to_the_same_parameters(reference, tmp_path):
  workdir = tmp_path / "killed"
  proc = subprocess.Popen(_sweep_command(workdir, steps=20), cwd=REPO, env=_env(1),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
      if all((workdir / name / "checkpoints" / "10" / "meta").exists() for name in _RUNS):
        break
      time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
  finally:
    if proc.poll() is None:
      proc.kill()
  assert not all((workdir / name / "checkpoints" / "20").exists() for name in _RUNS)
  _run(_sweep_command(workdir, steps=20))
  expected, got = _final_params(reference), _final_params(workdir)
  for name in _RUNS:
    assert leaves_equal(expected[name], got[name]), name
  for name in _RUNS:  # one record per step, however often the run was restarted
    steps = [(r["step"], r.get("split")) for r in RunDir(workdir / name).read_metrics()]
    assert len(steps) == len(set(steps)), name


@pytest.mark.parametrize("extra, fragment", [
    (["--sweep=optim.learning_rat=1e-3"], "no field 'learning_rat'"),
    (["--sweep=seed="], "empty value"),
    (["--sweep=seed=zero"], "seed is an int"),
    (["--sweep=model.d_model=8,16", "--single_program"], "cannot share one program"),
])
def test_bad_sweep_specs_exit_with_one_line(tmp_path, extra, fragment):
  command = [a for a in _sweep_command(tmp_path / "bad") if not a.startswith("--sweep=")]
  proc = subprocess.run(command + extra, capture_output=True, text=True, cwd=REPO,
                        env=_env(1), timeout=300)
  assert proc.returncode == 1, proc.stderr
  assert "Traceback" not in proc.stderr
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
  assert len(errors) == 1 and fragment in errors[0], proc.stderr
  assert not (tmp_path / "bad").exists()

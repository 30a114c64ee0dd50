"""Launcher error cases: one clear line on stderr, exit code != 0, no traceback."""

import subprocess
import sys

import pytest

from ssm_expressivity.training import evaluate
from ssm_expressivity.training import loop
from tests_support import tiny_suite_config


def run_cli(*args, cwd=None):
  return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                        cwd=cwd, timeout=300)


def assert_clean_failure(proc, *fragments):
  assert proc.returncode != 0, proc.stdout + proc.stderr
  assert "Traceback" not in proc.stderr, proc.stderr
  error_lines = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
  assert len(error_lines) == 1, proc.stderr
  for fragment in fragments:
    assert fragment in error_lines[0], error_lines[0]


@pytest.mark.parametrize("args, fragments", [
    (["experiments.reproduce", "--experiment=nope"], ["unknown experiment 'nope'", "parity"]),
    (["experiments.reproduce", "--experiment=counter", "--language=tomita3"],
     ["not in the counter group", "dyck1"]),
    (["experiments.train", "--config=configs/counter.py:dyck9", "--workdir=WORK"],
     ["unknown config argument 'dyck9'", "anbn"]),
    (["experiments.train", "--config=configs/parity.py", "--config.model.num_layr=2",
      "--workdir=WORK"], ["no field 'num_layr'", "num_layers"]),
    (["experiments.evaluate", "--workdir=WORK/none"], ["holds no run"]),
])
def test_user_errors(tmp_path, args, fragments):
  args = [a.replace("WORK", str(tmp_path)) for a in args]
  assert_clean_failure(run_cli(*args), *fragments)


def test_evaluate_cli_errors_keep_the_run(tmp_path):
  loop.train_and_evaluate(tiny_suite_config(num_steps=5), tmp_path)
  before = sorted(str(p) for p in tmp_path.rglob("*"))
  assert_clean_failure(
      run_cli("experiments.evaluate", f"--workdir={tmp_path}", "--lengths=7", "--num_words=2"),
      "dyck1")
  assert_clean_failure(
      run_cli("experiments.evaluate", f"--workdir={tmp_path}", "--lengths=10-5"), "10-5")
  assert sorted(str(p) for p in tmp_path.rglob("*")) == before
  ok = run_cli("experiments.evaluate", f"--workdir={tmp_path}", "--lengths=60-80",
               "--num_words=4")
  assert ok.returncode == 0, ok.stderr
  assert "60-80" in ok.stdout
  assert (tmp_path / "eval_latest_60-80.json").exists()
  _, results = evaluate.evaluate_run(tmp_path, [(60, 80)], num_words=4)
  assert results["60-80"]["num_strings"] == 4

"""experiments.constructions --regex / --dfa: builds, checks, refuses with one error line."""

import json
import subprocess
import sys

import pytest


def _run(*args):
  return subprocess.run([sys.executable, "-m", "experiments.constructions", *args],
                        capture_output=True, text=True, timeout=300)


def test_dfa_file_builds_and_checks(tmp_path):
  path = tmp_path / "no_aa.json"  # words over {a, b} without "aa"
  path.write_text(json.dumps({"alphabet": ["a", "b"], "transitions": [[1, 0], [2, 0], [2, 2]],
                              "start": 0, "accepting": [0, 1]}))
  proc = _run(f"--dfa={path}", "--length=300")
  assert proc.returncode == 0, proc.stderr
  assert "NONNEGATIVE yes" in proc.stdout and " 0 errors" in proc.stdout
  assert "DFA 3 states" in proc.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--regex=(11)*", "--alphabet=01"], "u='1' has period p=2"),
    pytest.param(["--regex=(ab|b"], "missing ')'", marks=pytest.mark.slow),
    pytest.param(["--dfa=FILE"], "missing keys", marks=pytest.mark.slow),
    pytest.param(["--formula=a S", "--alphabet=ab"], "missing operand",
                 marks=pytest.mark.slow),
])
def test_user_errors(tmp_path, args, fragment):
  path = tmp_path / "bad.json"
  path.write_text(json.dumps({"alphabet": ["a"]}))
  proc = _run(*[a.replace("FILE", str(path)) for a in args])
  assert proc.returncode == 1, proc.stdout + proc.stderr
  assert "Traceback" not in proc.stderr
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
  assert len(errors) == 1 and fragment in errors[0], proc.stderr

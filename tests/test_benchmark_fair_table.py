"""The fair table's runner: one process per (implementation, shape), a row each."""

import json
import subprocess
import sys


def test_fair_table_quick_writes_one_row_per_implementation(tmp_path):
  done = subprocess.run([sys.executable, "-m", "benchmarks.fair_table", "--quick",
                         "--impls=ours:sequential,ours:chunked", f"--out={tmp_path}"],
                        capture_output=True, text=True, check=True)
  result = json.loads((tmp_path / "cpu-fair.json").read_text())
  assert [r["impl"] for r in result["rows"]] == ["ours:sequential", "ours:chunked"]
  assert all(r["tokens_per_s"] > 0 for r in result["rows"])
  assert "| 4, 32, 16, 1 | ours:chunked |" in (tmp_path / "cpu-fair.md").read_text()
  assert "ours:chunked" in done.stdout


def test_fair_table_refuses_an_unknown_implementation(tmp_path):
  done = subprocess.run([sys.executable, "-m", "benchmarks.fair_table", "--impls=ours:fast",
                         f"--out={tmp_path}"], capture_output=True, text=True)
  assert done.returncode == 2 and "unknown ['ours:fast']" in done.stderr
  assert not (tmp_path / "cpu-fair.json").exists()

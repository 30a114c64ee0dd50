"""The sweep benchmark's device comparison runs end to end (a smoke run of a few steps; the
numbers themselves come from `python -m experiments.benchmark --what=sweep_devices`)."""

import pytest

from benchmarks import sweep as bench_sweep


@pytest.mark.slow
def test_run_devices_reports_one_row_per_device_count():
  result = bench_sweep.run_devices(num_steps=2, d_model=16, device_counts=(1, 2),
                                   log=lambda *a: None)
  assert [row["devices"] for row in result["rows"]] == [1, 2]
  for row in result["rows"]:
    assert row["runs"] == 12 and row["programs"] == 1 and row["run_steps_per_s"] > 0
  assert "| 2 |" in bench_sweep.format_devices_markdown(result)

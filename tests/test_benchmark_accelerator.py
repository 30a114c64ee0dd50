"""The accelerator benchmark runs on the CPU too (its --quick smoke run, one tiny shape here)."""

import json

from benchmarks import accelerator
from benchmarks import models as bench_models


def test_accelerator_benchmark_writes_a_row_per_shape(tmp_path, monkeypatch):
  monkeypatch.setattr(accelerator.roofline, "QUICK", [bench_models.StackShape(2, 8, 8, 1)])
  accelerator.main(["--quick", "--repeats=1", f"--out={tmp_path}"])
  stem = tmp_path / "cpu-accelerator-quick"
  result = json.loads(stem.with_suffix(".json").read_text())
  (row,) = result["rows"]
  assert (row["batch"], row["length"], row["d_model"], row["num_layers"]) == (2, 8, 8, 1)
  assert row["auto"] == "native"
  speeds = {m: row[f"{m}_tokens_per_s"] for m in accelerator.METHODS + ("native",)}
  assert all(v > 0 for v in speeds.values())
  assert row["fastest"] == max(speeds, key=speeds.get)
  # mambapy's column: None without the bench extra, a speed and the ratio with it.
  reference = row["mambapy_tokens_per_s"]
  assert reference is None or (reference > 0 and row["auto_over_mambapy"] > 0)
  markdown = stem.with_suffix(".md").read_text()
  assert "| 2 | 8 | 8 | 1 |" in markdown and "| chunked | sequential | native |" in markdown
  assert "auto / mambapy" in markdown

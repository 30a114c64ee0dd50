"""Best-of-grid selection, the agreement score, and a tiny two-language suite end to end."""

import json

import pytest

from ssm_expressivity import configlib
from ssm_expressivity import reproduce
from ssm_expressivity.reproduce import agreement


def _bins(*strict, loss=0.1):
  return {f"bin{i}": {"strict_acc": s, "loss": loss} for i, s in enumerate(strict)}


def test_selection_is_on_bin0_with_loss_tiebreak_and_best_per_bin():
  runs = [
      {"language": "x", "depth": 1, "name": "a", "bins": _bins(1.0, 0.2, loss=0.3)},
      {"language": "x", "depth": 1, "name": "b", "bins": _bins(1.0, 0.5, loss=0.1)},
      {"language": "x", "depth": 1, "name": "c", "bins": _bins(0.9, 0.95, loss=0.01)},
      {"language": "x", "depth": 2, "name": "d", "bins": _bins(0.4, 0.3)},
  ]
  cells = agreement.select(runs)
  assert [(c["depth"], c["selected"], c["runs"]) for c in cells] == [(1, "b", 3), (2, "d", 1)]
  assert cells[0]["strict_acc"] == {"bin0": 1.0, "bin1": 0.5}
  assert cells[0]["best_per_bin"] == {"bin0": 1.0, "bin1": 0.95}


def test_agreement_on_a_fabricated_table():
  paper = {"good": {"mamba1": [100, 95.0], "mamba2": [100, 89.9]},
           "bad": {"mamba1": [100, 10.0]}}
  cells = [
      {"language": "good", "depth": 1, "strict_acc": {"bin0": 1.0, "bin1": 0.90}},  # agree
      {"language": "good", "depth": 2, "strict_acc": {"bin0": 1.0, "bin1": 0.91}},  # not
      {"language": "bad", "depth": 1, "strict_acc": {"bin0": 1.0, "bin1": 0.2}},  # agree
      {"language": "bad", "depth": 6, "strict_acc": {"bin0": 1.0, "bin1": 1.0}},  # unscored
      {"language": "none", "depth": 1, "strict_acc": {"bin0": 1.0, "bin1": 1.0}},  # no paper
  ]
  score = agreement.agree(cells, published_suite=paper.get)
  assert (score["agree"], score["cells"]) == (2, 3)
  (d,) = score["disagreements"]
  assert (d["language"], d["depth"], d["ours_generalizes"], d["paper_generalizes"]) == (
      "good", 2, True, False)


def test_the_published_table_agrees_with_itself_on_81_cells():
  from ssm_expressivity import published
  cells = [{"language": lang, "depth": depth,
            "strict_acc": {f"bin{i}": v / 100 for i, v in
                           enumerate(published.suite(lang)[f"mamba{depth}"])}}
           for lang in published.suite_languages() for depth in (1, 2, 3)]
  assert agreement.agree(cells) == {"agree": 81, "cells": 81, "disagreements": []}


def test_suite_builds_the_official_grid_for_every_language():
  runs = reproduce.build("suite", "paper").runs
  languages = {c.data.language for c in runs.values()}
  assert len(languages) == 27
  assert sum(1 for c in runs.values() if c.data.language == "d2") == 27
  assert len(reproduce.build("suite", "cpu", language="anbn+parity").runs) == 12


@pytest.mark.slow
def test_tiny_two_language_suite_end_to_end(tmp_path):
  experiment = reproduce.build("suite", "cpu", language="tomita1+dyck1", num_layers=1)
  assert len(experiment.runs) == 4  # 2 languages x 2 learning rates at depth 1
  for name, config in experiment.runs.items():
    experiment.runs[name] = configlib.apply_overrides(config, {
        "model.d_model": 16, "model.d_state": 4, "max_steps": 6, "eval_every": 6,
        "checkpoint_every": 6, "eval_batch_size": 64})
    sizes = {"train": 64, "bin0": 32, "bin1": 32}
    if config.data.language == "dyck1":
      sizes["bin2"] = 16
    experiment.runs[name].data.sizes = sizes
  results, report, _ = reproduce.run(experiment, tmp_path)
  assert len(results) == 4
  assert "Agreement: " in report and "/2 cells" in report
  saved = json.loads((tmp_path / "results.json").read_text())
  assert {(c["language"], c["depth"], c["runs"]) for c in saved["cells"]} == {
      ("tomita1", 1, 2), ("dyck1", 1, 2)}
  for cell in saved["cells"]:
    chosen = results[cell["selected"]]
    assert cell["strict_acc"]["bin0"] == max(
        r["bin0"]["strict_acc"] for n, r in results.items() if n.startswith(cell["language"]))
    assert set(cell["strict_acc"]) == set(chosen)
  figure = tmp_path / "suite_grid.png"
  assert figure.stat().st_size > 1000

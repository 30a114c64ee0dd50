"""Word-problem experiments: the strict_len data, the config and sweep, the layer counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from configs import word_problem as wp_config
from ssm_expressivity import configlib
from ssm_expressivity import languages
from ssm_expressivity.data import pipeline
from ssm_expressivity.data.splits import sample_dataset
from ssm_expressivity.reproduce import word_problems


def _apply(a, b):
  """a, then b, as plain permutation tuples (independent of the group's table)."""
  return tuple(b[x] for x in a)


@pytest.mark.parametrize("group", ["A5", "A4xZ5", "S4"])
def test_prefix_products_match_permutation_multiplication(group):
  language = languages.get("word_problem", group=group, lengths=(2, 9))
  perms = [tuple(p) for p in language.group.perms.tolist()]
  index = {p: i for i, p in enumerate(perms)}
  rng = np.random.default_rng(3)
  for _ in range(40):
    word = language.sample(rng, int(rng.choice([2, 9])))
    acc = tuple(range(len(perms[0])))
    expected = []
    for symbol in word:
      acc = _apply(acc, perms[int(symbol[1:])])
      expected.append(language.alphabet[index[acc]])
    assert language.paper_labels(word) == expected


def test_lengths_restrict_sampling():
  dataset = sample_dataset("word_problem", {"group": "Z60", "lengths": (2, 7)}, seed=1,
                           num_words=200, min_length=2, max_length=30)
  assert set(dataset.lengths.tolist()) == {2, 7}
  language = languages.get("word_problem", group="Z60", lengths=(2, 7))
  with pytest.raises(ValueError, match="lengths"):
    language.sample(np.random.default_rng(0), 5)
  with pytest.raises(ValueError, match="integers"):
    languages.get("word_problem", group="Z60", lengths=(2, -1))


def test_config_trains_on_2_and_k_and_tests_on_k():
  base = wp_config.get_config("A5,mamba_signed,quick")
  assert base.model.gate == "signed" and base.loss == "ce"
  grid = wp_config.get_sweep("A5,mamba_signed,quick")
  assert len(grid) == len(wp_config.QUICK["lengths"]) * len(wp_config.QUICK["depths"])
  config = configlib.apply_overrides(base, {**wp_config.length_overrides(5),
                                            "model.num_layers": 2})
  configlib.validate(config)
  task = pipeline.load_task(config, fields=("paper_targets",))
  assert task.train_set is None  # fresh words every step below the paper tier
  lengths = task.train_batch(0, seed=0)["mask"].sum(axis=1)
  assert set(lengths.tolist()) == {2, 5}
  paper = pipeline.load_task(configlib.apply_overrides(
      wp_config.get_config("A5,mamba,quick"), {"data.train.num_words": 300}),
      fields=("paper_targets",))
  assert set(paper.train_set.lengths.tolist()) == {2, 4}
  assert set(task.eval_sets["val"].lengths.tolist()) == {2, 5}
  assert set(task.eval_sets["len_k"].lengths.tolist()) == {5}
  assert task.paper_classes == languages.get("word_problem", group="A5").alphabet


def test_paper_tier_is_the_official_setup():
  config = wp_config.get_config("Z60,transformer")
  assert (config.model.d_model, config.model.num_heads) == (512, 8)
  assert config.optim.learning_rate == 5e-5 and config.optim.weight_decay == 0.01
  assert config.batch_size == 512 and config.num_epochs == 500
  assert config.stop_at_accuracy == 0.99
  assert wp_config.get_config("Z60,ids4").model.d_state == 110
  depths = {p["model.num_layers"] for p in wp_config.get_sweep("A5,mamba")}
  assert depths == {1, 2, 3, 4, 5}
  assert {p["model.num_layers"] for p in wp_config.get_sweep("A5,lstm")} == {1, 2, 3}
  assert {p["seed"] for p in wp_config.get_sweep("A5,lstm")} == {0, 1, 2}
  with pytest.raises(ValueError, match="group"):
    wp_config.get_config("mamba")


def test_cpu_tier_fits_its_budget_and_keeps_the_structure():
  experiment = word_problems.build("cpu")
  configs = list(experiment.runs.values())
  assert {c.data.params.group for c in configs} == {"Z60", "A4xZ5", "A5"}
  assert {word_problems._model_slot(c) for c in configs} == set(word_problems.MODELS)
  assert {int(c.model.num_layers) for c in configs} == {1, 2, 3}
  assert {int(c.seed) for c in configs} == {0, 1}
  assert all(c.stop_at_accuracy == 0.99 for c in configs)
  lengths = [int(c.data.params.lengths[-1]) for c in configs]
  assert len(set(lengths)) >= 3 and lengths == sorted(lengths)  # shortest k trains first
  assert wp_config.get_config("A5,mamba,cpu").model.scan == "sequential"
  assert wp_config.get_config("A5,mamba_complex,cpu").model.d_state == 8
  assert wp_config.get_config("A5,mamba_signed,cpu").model.d_state == 16
  assert wp_config.get_config("A5,lstm,cpu").optim.learning_rate == 1e-2
  assert wp_config.get_config("A5,transformer,cpu").optim.learning_rate == 3e-3
  # The other tiers keep their own settings.
  assert wp_config.get_config("A5,lstm,quick").optim.learning_rate == 3e-3
  assert wp_config.get_config("A5,mamba_complex").model.d_state == 16


def test_cost_model_fit_is_linear_in_depth_times_k():
  from benchmarks import word_problems as bench  # pylint: disable=g-import-not-at-top
  small = {"k": 4, "depth": 1, "setup_s": 1.0, "compile_s": 5.0, "step_s": 0.01,
           "eval_compile_s": 1.0, "eval_s": 0.1}
  large = {"k": 8, "depth": 3, "setup_s": 3.0, "compile_s": 9.0, "step_s": 0.21,
           "eval_compile_s": 2.0, "eval_s": 0.5}
  cost = bench.fit(small, large)
  assert cost(4, 1)["step_s"] == pytest.approx(0.01)
  assert cost(8, 3)["step_s"] == pytest.approx(0.21)
  assert cost(6, 2)["step_s"] == pytest.approx(0.01 + 0.2 * (12 - 4) / 20)
  assert cost(6, 2)["compile_s"] == pytest.approx(7.0)
  assert cost(6, 2)["setup_s"] == pytest.approx(2.0)


def test_cost_model_cli_refuses_what_it_does_not_take(capsys):
  from benchmarks import word_problems as bench  # pylint: disable=g-import-not-at-top
  bench.main(["--help"])  # prints the usage and times nothing
  assert "cost model" in capsys.readouterr().out
  with pytest.raises(SystemExit, match="unknown arguments"):
    bench.main(["--model=lstm"])


def test_tier_changes_name_the_cpu_settings():
  text = " ".join(word_problems.tier_changes(word_problems.build("cpu").runs.values()))
  assert "d_model 32" in text and "1500 steps of batch 64" in text
  assert "lengths k 4, 6, 8" in text and "2 repeats" in text and "d_state 8" in text
  assert word_problems.tier_changes(word_problems.build("paper", models=("lstm",)).runs.values()) == []


def _row(group, model, k, layers, seed, accuracy):
  return {"group": group, "model": model, "k": k, "num_layers": layers, "seed": seed,
          "accuracy": accuracy}


def test_layers_needed_on_a_fabricated_table():
  rows = [
      # A5 mamba: k=4 solved at depth 1 by one repeat of two; k=8 needs 3; k=12 never.
      _row("A5", "mamba", 4, 1, 0, 0.5), _row("A5", "mamba", 4, 1, 1, 0.95),
      _row("A5", "mamba", 4, 2, 0, 0.99),
      _row("A5", "mamba", 8, 1, 0, 0.2), _row("A5", "mamba", 8, 2, 0, 0.899),
      _row("A5", "mamba", 8, 3, 0, 0.9),
      _row("A5", "mamba", 12, 1, 0, 0.1), _row("A5", "mamba", 12, 2, 0, 0.3),
      # Deeper listed first: the fewest layers still wins.
      _row("Z60", "lstm", 4, 3, 0, 1.0), _row("Z60", "lstm", 4, 2, 0, 1.0),
      _row("Z60", "lstm", 4, 1, 0, 0.0),
  ]
  needed = word_problems.layers_needed(rows)
  assert needed == {"A5": {"mamba": {4: 1, 8: 3, 12: None}}, "Z60": {"lstm": {4: 2}}}
  text = word_problems.table(needed, {("A5", "mamba", 4): 2, ("A5", "mamba", 8): 3,
                                      ("A5", "mamba", 12): 2, ("Z60", "lstm", 4): 3})
  assert "| A5 | mamba | 1 | 3 | >2 |" in text
  assert "| Z60 | lstm | 2 | - | - |" in text


@pytest.mark.slow
def test_two_group_two_model_sweep_end_to_end(tmp_path, monkeypatch):
  from ssm_expressivity import reproduce  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(wp_config.QUICK, "num_steps", 20)
  monkeypatch.setitem(wp_config.QUICK, "eval_every", 20)
  monkeypatch.setitem(wp_config.QUICK, "num_words", 100)
  monkeypatch.setitem(wp_config.QUICK, "lengths", (3,))
  monkeypatch.setitem(wp_config.QUICK, "depths", (1, 2))
  experiment = reproduce.build("word_problems", "quick", groups=("Z60", "S3"),
                               models=("lstm", "mamba_signed"))
  assert len(experiment.runs) == 8
  results, report, _ = reproduce.run(experiment, tmp_path)
  assert len(results) == 8
  record = json.loads((tmp_path / "results.json").read_text())
  assert len(record["rows"]) == 8
  assert set(record["layers_needed"]) == {"Z60", "S3"}
  assert "| S3 | lstm |" in report and "k=3" in report
  png = tmp_path / "word_problems.png"
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

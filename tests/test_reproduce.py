"""The reproduce experiments: what they run, how they report, which targets they check."""

import pytest

from ssm_expressivity import configlib
from ssm_expressivity import published
from ssm_expressivity import reproduce
from tests_support import tiny_suite_config


@pytest.mark.parametrize("name", reproduce.names())
@pytest.mark.parametrize("tier", ["quick", "paper"])
def test_every_experiment_builds_valid_configs(name, tier):
  experiment = reproduce.build(name, tier)
  assert experiment.runs
  for config in experiment.runs.values():
    configlib.validate(config)
    assert config.experiment == name


def test_groups_and_layers():
  runs = reproduce.build("counter", "quick", language="all", num_layers=2).runs
  assert sorted(runs) == sorted(f"{name}/mamba2" for name in configlib.COUNTER)
  gates = {name: c.model.gate for name, c in reproduce.build("parity", "quick").runs.items()}
  assert gates == {"nonnegative": "nonnegative", "signed": "signed"}
  with pytest.raises(ValueError, match="not in the star_free group"):
    reproduce.build("star_free", "quick", language="parity")
  with pytest.raises(ValueError, match="does not take --language"):
    reproduce.build("flip_flop", "quick", language="tomita1")
  with pytest.raises(ValueError, match="--num_layers must be >= 1"):
    reproduce.build("counter", "quick", num_layers=0)


def _metrics(strict, lo=2, hi=50):
  return {"strict_acc": strict, "position_acc": 1.0, "num_strings": 10, "min_length": lo,
          "max_length": hi}


def test_parity_checks_and_table():
  experiment = reproduce.build("parity", "quick")
  results = {"nonnegative": {"bin0": _metrics(0.3), "bin1": _metrics(0.0, 51, 100)},
             "signed": {"bin0": _metrics(1.0), "bin1": _metrics(0.995, 51, 100)}}
  assert all(check.holds(results) for check in experiment.checks)
  results["signed"]["bin1"]["strict_acc"] = 0.98
  assert not all(check.holds(results) for check in experiment.checks)
  table = experiment.report(reproduce.Context(results, experiment.runs, None, {}))
  paper = published.suite("parity")["mamba1"]
  assert f"| bin1 | 51-100 | 0.0 | 98.0 | {paper[1]} |" in table


def test_suite_run_writes_report_beside_the_paper(tmp_path):
  experiment = reproduce.build("counter", "quick", language="dyck1")
  (name,) = experiment.runs
  experiment.runs[name] = tiny_suite_config(num_steps=4, eval_every=4, checkpoint_every=4)
  results, report, ok = reproduce.run(experiment, tmp_path)
  assert ok  # no targets for suite experiments
  assert (tmp_path / "report.md").read_text() == report
  paper = published.suite("dyck1")["mamba1"]
  assert f"| dyck1 | 1 | 1 | " in report
  assert " / ".join(f"{v:g}" for v in paper) in report
  assert (tmp_path / "results.json").exists()
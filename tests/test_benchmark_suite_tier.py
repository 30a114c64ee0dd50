"""The suite cost model: per-program wall times read from a reproduce log, and the fit."""

import numpy as np

from benchmarks import suite_tier

_LOG = """\
I1204 21:15:51.000000 1 sweep.py:210] group 1/81: 2 run(s) in one program: tomita1/num_layers=1,learning_rate=0.001, tomita1/num_layers=1,learning_rate=0.003
I1204 21:16:20.500000 1 loop.py:371] tomita1/num_layers=1,learning_rate=0.003 step 800/800
I1204 21:16:26.000000 1 sweep.py:210] group 2/81: 2 run(s) in one program: tomita1/num_layers=2,learning_rate=0.001, tomita1/num_layers=2,learning_rate=0.003
I1204 23:59:59.000000 1 sweep.py:210] group 3/81: 2 run(s) in one program: d12/num_layers=3,learning_rate=0.001, d12/num_layers=3,learning_rate=0.003
I1205 00:00:09.000000 1 loop.py:371] d12/num_layers=3,learning_rate=0.003 step 800/800
"""


def test_program_seconds_from_a_log(tmp_path):
  log = tmp_path / "run.err"
  log.write_text(_LOG)
  # The last program has no end line yet: it is still running and left out.
  assert suite_tier.program_seconds(str(log)) == {("tomita1", 1): 35.0,
                                                  ("tomita1", 2): 2 * 3600 + 43 * 60 + 33.0}
  log.write_text(_LOG + "I1205 00:00:10.000000 1 reproduce.py:90] report saved in x\n")
  seconds = suite_tier.program_seconds(str(log))
  assert seconds[("d12", 3)] == 11.0  # past midnight
  log.write_text(_LOG)
  assert suite_tier.program_seconds(str(log), finished=True)[("d12", 3)] == 10.0
  # A rerun after a kill: the program's two stretches add up.
  rerun = _LOG.splitlines(keepends=True)[0].replace("I1204 21:15:51", "I1205 00:00:20")
  log.write_text(_LOG + rerun + "I1205 00:00:31.000000 1 reproduce.py:90] report saved in x\n")
  seconds = suite_tier.program_seconds(str(log))
  assert seconds[("tomita1", 1)] == 35.0 + 11.0 and seconds[("d12", 3)] == 21.0


def test_fit_recovers_the_cost_model():
  rng = np.random.default_rng(0)
  records = [{"train_work": float(t), "eval_work": float(e)}
             for t, e in zip(rng.uniform(1e6, 1e7, 12), rng.uniform(1e5, 1e6, 12))]
  seconds = [18.0 + r["train_work"] / 2.4e5 + r["eval_work"] / 1e6 for r in records]
  result = suite_tier.fit(records, seconds)
  assert np.isclose(result["compile_s"], 18.0)
  assert np.isclose(result["train_rate"], 2.4e5) and np.isclose(result["eval_rate"], 1e6)
  assert np.allclose(result["predicted"], seconds)

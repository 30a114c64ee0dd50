"""A hostile user's bad inputs: every launcher and the public API.

Each command line must end with exit code 1, exactly one `error: ...` line and no traceback,
and must leave no file that would make the corrected command refuse (for training: no
config.json in a fresh workdir). Each API call must raise the documented exception type
(languages/base.py: TypeError for a non-word, ValueError for a value out of range).
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from ssm_expressivity import configlib
from ssm_expressivity import constructions
from ssm_expressivity import languages
from ssm_expressivity.training import loop
from ssm_expressivity.training import sweep
from tests_support import tiny_suite_config

REPO = pathlib.Path(__file__).resolve().parents[1]

TRAIN = ["experiments.train", "--config=configs/counter.py:dyck1,quick", "--workdir=NEW"]
FLIP_FLOP = ["experiments.train", "--config=configs/flip_flop.py:quick", "--workdir=NEW"]
# The grid is given, so the cases do not depend on a config's own get_sweep.
SWEEP = ["experiments.sweep", "--config=configs/counter.py:dyck1,quick", "--workdir=NEW",
         "--sweep=seed=0,1"]
EVALUATE = ["experiments.evaluate", "--workdir=RUN"]
CONSTRUCT = ["experiments.constructions"]

# (argv, a fragment the error line must contain)
CLI_CASES = [
    # --- experiments.train: the config argument and file
    (["experiments.train", "--config=configs/counter.py:dyck9", "--workdir=NEW"], "dyck9"),
    (["experiments.train", "--config=configs/counter.py:dyck1,gpu", "--workdir=NEW"], "gpu"),
    (["experiments.train", "--config=configs/counter.py:dyck1,tier=gpu", "--workdir=NEW"], "gpu"),
    (["experiments.train", "--config=configs/counter.py:dyck1,model=rnn", "--workdir=NEW"], "rnn"),
    (["experiments.train", "--config=configs/nope.py", "--workdir=NEW"], "nope.py"),
    (["experiments.train", "--config=configs", "--workdir=NEW"], "configs"),
    (["experiments.train", "--config=FILE", "--workdir=NEW"], "FILE"),
    (["experiments.train", "--workdir=NEW"], "config"),
    (["experiments.train", "--config=configs/counter.py:dyck1,quick"], "workdir"),
    (["experiments.train", "--config=configs/counter.py:dyck1,quick", "--workdir="], "workdir"),
    (["experiments.train", "--config=configs/counter.py:dyck1,quick", "--workdir=FILE"], "FILE"),
    (["experiments.train", "--config=configs/counter.py:dyck1,quick",
      "--workdir=/proc/ssm_hostile"], "/proc/ssm_hostile"),
    (TRAIN + ["extra_positional"], "extra_positional"),
    (TRAIN + ["--no_such_flag=1"], "no_such_flag"),
    (TRAIN + ["--init_from=/nonexistent/run"], "/nonexistent/run"),
    (TRAIN + ["--init_from=NEW"], "init_from"),
    # --- experiments.train: config fields
    (TRAIN + ["--config.model.name=rnn"], "rnn"),
    (TRAIN + ["--config.model.gate=complexx"], "complexx"),
    (TRAIN + ["--config.model.scan=fast"], "fast"),
    (TRAIN + ["--config.model.d_model=0"], "d_model"),
    (TRAIN + ["--config.model.d_model=-3"], "d_model"),
    (TRAIN + ["--config.model.d_model=abc"], "d_model"),
    (TRAIN + ["--config.model.d_model=2.5"], "d_model"),
    (TRAIN + ["--config.model.num_layers=0"], "num_layers"),
    (TRAIN + ["--config.model.d_state=0"], "d_state"),
    (TRAIN + ["--config.model.expand=0"], "expand"),
    (TRAIN + ["--config.model.d_conv=0"], "d_conv"),
    (TRAIN + ["--config.model.num_layr=2"], "num_layr"),
    (TRAIN + ["--config.modle.d_model=2"], "modle"),
    (TRAIN + ["--config.seed=-1"], "seed"),
    (TRAIN + ["--config.data.seed=-1"], "seed"),
    (TRAIN + ["--config.batch_size=0"], "batch_size"),
    (TRAIN + ["--config.batch_size=-4"], "batch_size"),
    (TRAIN + ["--config.num_steps=-5"], "num_steps"),
    (TRAIN + ["--config.num_epochs=-1"], "num_epochs"),
    (TRAIN + ["--config.loss=hinge"], "hinge"),
    (TRAIN + ["--config.objective=magic"], "magic"),
    (TRAIN + ["--config.best_split=bin9"], "bin9"),
    (TRAIN + ["--config.best_metric=vibes"], "vibes"),
    (TRAIN + ["--config.optim.learning_rate=-1"], "learning_rate"),
    (TRAIN + ["--config.optim.learning_rate=0"], "learning_rate"),
    (TRAIN + ["--config.optim.learning_rate=nan"], "learning_rate"),
    (TRAIN + ["--config.optim.learning_rate=inf"], "learning_rate"),
    (TRAIN + ["--config.optim.b1=2"], "b1"),
    (TRAIN + ["--config.optim.b2=-0.5"], "b2"),
    (TRAIN + ["--config.optim.eps=-1"], "eps"),
    (TRAIN + ["--config.optim.weight_decay=-0.1"], "weight_decay"),
    (TRAIN + ["--config.optim.grad_clip_norm=nan"], "grad_clip_norm"),
    (TRAIN + ["--config.optim.grad_clip_norm=-1"], "grad_clip_norm"),
    (TRAIN + ["--config.optim.schedule=zigzag"], "zigzag"),
    (TRAIN + ["--config.optim.warmup_steps=-1"], "warmup_steps"),
    (TRAIN + ["--config.optim.decay_mask=some"], "some"),
    (TRAIN + ["--config.optim.plateau_factor=1.5"], "plateau_factor"),
    (TRAIN + ["--config.data.order=random"], "random"),
    (TRAIN + ["--config.data.label_mode=fuzzy"], "fuzzy"),
    (TRAIN + ["--config.data.source=internet"], "internet"),
    (TRAIN + ["--config.data.language=klingon"], "klingon"),
    (TRAIN + ["--config.data.train_split=bin7"], "bin7"),
    (TRAIN + ["--config.data.train.num_words=-3"], "num_words"),
    (TRAIN + ["--config.data.train.min_length=-2", "--config.data.source=sampled"], "length"),
    (TRAIN + ["--config.data.train.min_length=40", "--config.data.train.max_length=10",
              "--config.data.source=sampled"], "length"),
    (TRAIN + ["--config.log_every=0"], "log_every"),
    (TRAIN + ["--config.eval_every=-1"], "eval_every"),
    (TRAIN + ["--config.checkpoint_every=0"], "checkpoint_every"),
    (TRAIN + ["--config.stop_at_accuracy=1.5"], "stop_at_accuracy"),
    (TRAIN + ["--config.early_stop_patience=-1"], "early_stop_patience"),
    (TRAIN + ["--config.eval_batch_tokens=-1"], "eval_batch_tokens"),
    (FLIP_FLOP + ["--config.data.params.p_ignore=1.5"], "p_ignore"),
    (FLIP_FLOP + ["--config.data.params.p_ignore=-0.1"], "p_ignore"),
    (FLIP_FLOP + ["--config.data.eval.val.num_words=0"], "num_words"),
    (FLIP_FLOP + ["--config.data.eval.val.min_length=-4"], "length"),
    (["experiments.train", "--config=configs/bounded_dyck.py:quick", "--workdir=NEW",
      "--config.data.params.k=0"], "k"),
    (["experiments.train", "--config=configs/bounded_dyck.py:quick", "--workdir=NEW",
      "--config.data.params.k=1000000000"], "limit"),
    (["experiments.train", "--config=configs/parity.py:quick", "--workdir=NEW",
      "--config.model.gate=sometimes"], "sometimes"),
    (["experiments.train", "--config=configs/star_free.py:tomita99", "--workdir=NEW"], "tomita99"),
    (["experiments.train", "--config=configs/non_star_free.py:tomita1", "--workdir=NEW"],
     "tomita1"),
    # --- experiments.evaluate
    (["experiments.evaluate"], "workdir"),
    (["experiments.evaluate", "--workdir=NEW"], "holds no run"),
    (["experiments.evaluate", "--workdir=FILE"], "FILE"),
    (EVALUATE + ["--lengths=10-5"], "10-5"),
    (EVALUATE + ["--lengths=abc"], "abc"),
    (EVALUATE + ["--lengths=-4"], "-4"),
    (EVALUATE + ["--lengths=0"], "0"),
    (EVALUATE + ["--lengths=7"], "dyck1"),
    (EVALUATE + ["--lengths=1000000000000"], "1000000000000"),
    (EVALUATE + ["--lengths=20-30", "--num_words=0"], "num_words"),
    (EVALUATE + ["--lengths=20-30", "--num_words=-2"], "num_words"),
    (EVALUATE + ["--lengths=20-30", "--num_words=1000000000000"], "num_words"),
    (EVALUATE + ["--lengths=20-30", "--language_params=[1,2]"], "language_params"),
    (EVALUATE + ["--lengths=20-30", "--language_params={bad"], "language_params"),
    (EVALUATE + ["--lengths=20-30", "--language_params={\"depth\": 3}"], "depth"),
    (EVALUATE + ["--language_params={}"], "--lengths"),
    (EVALUATE + ["--checkpoint=middle"], "middle"),
    (EVALUATE + ["--no_such_flag"], "no_such_flag"),
    # --- experiments.sweep
    (SWEEP + ["--sweep=model.nope=1,2"], "nope"),
    (SWEEP + ["--sweep=seed="], "seed"),
    (SWEEP + ["--sweep=seed"], "seed"),
    (SWEEP + ["--sweep==1,2"], "="),
    (SWEEP + ["--sweep=model.d_model=a,b"], "d_model"),
    (SWEEP + ["--sweep=seed=1,2;seed=3"], "seed"),
    (SWEEP + ["--sweep=model.d_model=0,16"], "d_model"),
    (SWEEP + ["--sweep=optim.learning_rate=-1,1e-3"], "learning_rate"),
    (SWEEP + ["--sweep=model.d_model=16,32", "--single_program"], "cannot share one program"),
    (SWEEP + ["--max_group_size=-1"], "max_group_size"),
    (SWEEP + ["--num_processes=0", "--distributed"], "num_processes"),
    (SWEEP + ["--process_id=-1", "--distributed"], "process_id"),
    (["experiments.sweep", "--config=configs/counter.py:dyck1,quick", "--workdir=FILE",
      "--sweep=seed=0,1"], "FILE"),
    (["experiments.sweep", "--config=configs/counter.py:nope", "--workdir=NEW"], "nope"),
    (["experiments.sweep", "--config=configs/counter.py:dyck1,quick", "--sweep=seed=0,1"],
     "workdir"),
    (SWEEP + ["--config.model.d_model=0"], "d_model"),
    # --- experiments.reproduce
    (["experiments.reproduce"], "experiment"),
    (["experiments.reproduce", "--experiment=nope"], "nope"),
    (["experiments.reproduce", "--experiment=counter", "--language=tomita3"], "tomita3"),
    (["experiments.reproduce", "--experiment=flip_flop", "--language=tomita1"], "language"),
    (["experiments.reproduce", "--experiment=parity", "--num_layers=0"], "num_layers"),
    (["experiments.reproduce", "--experiment=parity", "--num_layers=-2"], "num_layers"),
    (["experiments.reproduce", "--experiment=parity", "--tier=gpu"], "gpu"),
    (["experiments.reproduce", "--experiment=parity", "--quick", "--workdir=FILE"], "FILE"),
    (["experiments.reproduce", "--experiment=parity", "--quick",
      "--workdir=/proc/ssm_hostile"], "/proc/ssm_hostile"),
    (["experiments.reproduce", "--experiment=parity", "positional"], "positional"),
    # --- experiments.constructions
    (CONSTRUCT, "language"),
    (CONSTRUCT + ["--language=nope"], "nope"),
    (CONSTRUCT + ["--group=A5"], "60"),
    (CONSTRUCT + ["--group=S5"], "60"),
    (CONSTRUCT + ["--group=XYZ"], "XYZ"),
    (CONSTRUCT + ["--group=[(1,2"], "group"),
    (CONSTRUCT + ["--group=[(0,0,1)]"], "permutation"),
    (CONSTRUCT + ["--language=parity_signed", "--length=0"], "length"),
    (CONSTRUCT + ["--language=parity_signed", "--length=-5"], "length"),
    (CONSTRUCT + ["--language=parity_signed", "--length=1000000000000"], "length"),
    (CONSTRUCT + ["--language=bounded_dyck", "--k=0"], "k"),
    (CONSTRUCT + ["--language=bounded_dyck", "--depth=0"], "depth"),
    (CONSTRUCT + ["--language=flip_flop", "--p_ignore=2"], "p_ignore"),
    (CONSTRUCT + ["--language=d4", "--style=wavy"], "wavy"),
    (CONSTRUCT + ["--language=tomita1", "--k=3"], "k"),
    (CONSTRUCT + ["--demo=nope"], "nope"),
    (CONSTRUCT + ["--demo=parity_failure", "--max_n=0"], "max_n"),
    (CONSTRUCT + ["--demo=parity_failure", "--num_random=-1"], "num_random"),
    (CONSTRUCT + ["--group=A4", "--precision_length=0"], "precision_length"),
    (CONSTRUCT + ["--language=parity_signed", "--workdir=NEW"], "--workdir"),
    (CONSTRUCT + ["--demo=parity_failure", "--max_n=64", "--num_random=1", "--workdir=FILE"],
     "FILE"),
    # --- experiments.benchmark
    (["experiments.benchmark", "--what=nope"], "nope"),
    (["experiments.benchmark", "--what="], "what"),
    (["experiments.benchmark", "--repeats=0", "--quick"], "repeats"),
    (["experiments.benchmark", "--what=data", "--quick", "--out=FILE"], "FILE"),
    (["experiments.benchmark", "--what=data", "--quick", "--out=/proc/ssm_hostile"],
     "/proc/ssm_hostile"),
]


# Training's bad inputs fail before any data or model is built (a few ms each in a forked
# child): CI runs them. The other launchers load a run, compile or sample first: slow tier.
FAST_CASES = [case for case in CLI_CASES if case[0][0] == "experiments.train"]
SLOW_CASES = [case for case in CLI_CASES if case[0][0] != "experiments.train"]


def _run_cases(cases, base, run=None):
  a_file = base / "a_file.txt"
  a_file.write_text("not a directory\n")
  argvs, fresh = [], []
  for index, (argv, _) in enumerate(cases):
    new = base / f"new{index}"
    fresh.append(new)
    argvs.append([a.replace("NEW", str(new)).replace("RUN", str(run)).replace("FILE", str(a_file))
                  for a in argv])
  proc = subprocess.run([sys.executable, str(REPO / "tests" / "hostile_runner.py")],
                        input=json.dumps(argvs), capture_output=True, text=True, cwd=REPO,
                        timeout=3000)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return {"results": json.loads(proc.stdout), "fresh": fresh, "argvs": argvs, "file": a_file,
          "cases": cases}


@pytest.fixture(scope="module")
def fast_results(tmp_path_factory):
  return _run_cases(FAST_CASES, tmp_path_factory.mktemp("hostile_fast"))


@pytest.fixture(scope="module")
def slow_results(tmp_path_factory):
  base = tmp_path_factory.mktemp("hostile_slow")
  run = base / "run"
  loop.train_and_evaluate(tiny_suite_config(num_steps=4, checkpoint_every=4, eval_every=4), run)
  before = sorted(str(p) for p in run.rglob("*"))
  results = _run_cases(SLOW_CASES, base, run)
  assert sorted(str(p) for p in run.rglob("*")) == before, "a bad command changed the run"
  return results


def _check_case(found, index):
  result = found["results"][index]
  argv = found["argvs"][index]
  fragment = found["cases"][index][1].replace("FILE", str(found["file"]))
  output = result["output"]
  assert result["code"] == 1, f"{argv}: exit {result['code']}\n{output[-2000:]}"
  assert "Traceback" not in output, f"{argv}\n{output[-3000:]}"
  errors = [line for line in output.splitlines() if line.startswith("error: ")]
  assert len(errors) == 1, f"{argv}\n{output[-2000:]}"
  assert fragment in errors[0], f"{argv}: {errors[0]!r} lacks {fragment!r}"
  assert not (found["fresh"][index] / "config.json").exists(), argv
  assert found["file"].read_text() == "not a directory\n"


def _ids(cases):
  return [" ".join(argv[:1] + argv[-1:])[:80] for argv, _ in cases]


@pytest.mark.parametrize("index", range(len(FAST_CASES)), ids=_ids(FAST_CASES))
def test_bad_training_command_ends_with_one_error_line(fast_results, index):
  _check_case(fast_results, index)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(SLOW_CASES)), ids=_ids(SLOW_CASES))
def test_bad_command_line_ends_with_one_error_line(slow_results, index):
  _check_case(slow_results, index)


def test_more_than_150_bad_inputs_in_all():
  assert len(CLI_CASES) + len(API_CASES) >= 150
  assert len(FAST_CASES) + len(API_CASES) >= 150  # in CI's fast run alone


# ---- the Python API: (callable, exception type, fragment of the message)

def _language_cases():
  cases = []
  rng = np.random.default_rng(0)
  for name in ("tomita3", "parity", "dyck1", "anbn", "boolean3", "shuffle2", "flip_flop",
               "bounded_dyck", "word_problem"):
    lang = languages.get(name)
    cases += [
        (f"{name}.accepts(None)", lambda l=lang: l.accepts(None), TypeError, "word"),
        (f"{name}.accepts(5)", lambda l=lang: l.accepts(5), TypeError, "word"),
        (f"{name}.allowed_next(None)", lambda l=lang: l.allowed_next(None), TypeError, "word"),
        (f"{name}.labels(foreign, exact)", lambda l=lang: l.labels(["@", "#"], mode="exact"),
         ValueError, "alphabet"),
        (f"{name}.labels(word, mode=bad)", lambda l=lang: l.labels([], mode="loose"),
         ValueError, "loose"),
        (f"{name}.sample(10**12)", lambda l=lang: l.sample(rng, 10**12), ValueError, "limit"),
        (f"{name}.sample(-1)", lambda l=lang: l.sample(rng, -1), ValueError, "-1"),
    ]
  return cases


def _config_case(overrides):
  def build():
    config = configlib.apply_overrides(tiny_suite_config(), overrides)
    configlib.validate(config)
  return build


API_CASES = _language_cases() + [
    ("get(nope)", lambda: languages.get("nope"), ValueError, "nope"),
    ("get(tomita3, foo=1)", lambda: languages.get("tomita3", foo=1), ValueError, "foo"),
    ("get(bounded_dyck, k=10**9)", lambda: languages.get("bounded_dyck", k=10**9), ValueError,
     "limit"),
    ("get(bounded_dyck, depth=10**9)", lambda: languages.get("bounded_dyck", depth=10**9),
     ValueError, "limit"),
    ("get(bounded_dyck, k=0)", lambda: languages.get("bounded_dyck", k=0), ValueError, "k"),
    ("get(flip_flop, p_ignore=2)", lambda: languages.get("flip_flop", p_ignore=2), ValueError,
     "p_ignore"),
    ("get(word_problem, group=Z7x)", lambda: languages.get("word_problem", group="Z7x"),
     ValueError, "Z7x"),
    ("constructions.get(nope)", lambda: constructions.get("nope"), ValueError, "nope"),
    ("from_group(A5)", lambda: constructions.from_group("A5"), ValueError, "60"),
    ("from_group(S5)", lambda: constructions.from_group("S5"), ValueError, "60"),
    ("from_group(bad perm)", lambda: constructions.from_group([(0, 0, 1)]), ValueError,
     "permutation"),
    ("parse_grid(empty list)", lambda: sweep.parse_grid("seed=", tiny_suite_config()), ValueError, "seed"),
    ("parse_grid(no =)", lambda: sweep.parse_grid("seed", tiny_suite_config()), ValueError, "seed"),
    ("apply_overrides(unknown)", lambda: configlib.apply_overrides(tiny_suite_config(),
                                                                 {"model.nope": 1}),
     ValueError, "nope"),
    ("validate(d_model 0)", _config_case({"model.d_model": 0}), ValueError, "d_model"),
    ("validate(lr nan)", _config_case({"optim.learning_rate": float("nan")}), ValueError,
     "learning_rate"),
    ("validate(b1 2)", _config_case({"optim.b1": 2.0}), ValueError, "b1"),
    ("validate(best_split)", _config_case({"best_split": "bin9"}), ValueError, "bin9"),
    ("validate(loss)", _config_case({"loss": "hinge"}), ValueError, "hinge"),
    ("validate(gate)", _config_case({"model.gate": "maybe"}), ValueError, "maybe"),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_bad_api_call_raises_the_documented_type(case):
  _, call, error_type, fragment = case
  with pytest.raises(error_type) as info:
    call()
  assert fragment in str(info.value), str(info.value)

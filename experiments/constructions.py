"""Runs the hand-set SSM constructions against the languages' exact next-symbol sets.

    python -m experiments.constructions --language=bounded_dyck --k=8 --depth=10 --length=100000
    python -m experiments.constructions --all
    python -m experiments.constructions --demo=parity_failure [--workdir=runs/parity]
    python -m experiments.constructions --group=A4xZ5   (or S4, Q8, '[(1, 0, 2), (1, 2, 0)]')
    python -m experiments.constructions --regex='~(.*11.*)' [--alphabet=01]
    python -m experiments.constructions --formula='a S (b & Y c)' --alphabet=abc
    python -m experiments.constructions --dfa=file.json   (alphabet, transitions, start, accepting)
    python -m experiments.constructions --random_star_free=200 --length=2000
    python -m experiments.constructions --random_formulas=100 --length=2000
    python -m experiments.constructions --compare_suite --length=10000

Per construction: layers, state dims, NONNEGATIVE, positions checked, errors (must be 0) and
time, on its adversarial words and sampled words of about --length symbols. The exit code is 1
when any position is wrong (or on a user error). --group builds `constructions.from_group`
(a cascade of complex diagonal layers), checks its prefix products on words of --length
(default 10000 there) and measures how long its float32 phases stay exact. --regex / --dfa
compile any star-free language with `constructions.from_dfa` (holonomy reset cascade) and check
it on random and adversarial words (default --length 2000 there); a language that is not
star-free is refused with its witness (u, p).
"""

import sys
import time

from absl import app
from absl import flags
import numpy as np

from experiments import cli
from ssm_expressivity.languages.base import MAX_SAMPLE_LENGTH
from experiments import constructions_compiler
from experiments import constructions_group
from ssm_expressivity import constructions

_LANGUAGE = flags.DEFINE_string("language", None, "Construction to check: " + ", ".join(
    constructions.names()))
_ALL = flags.DEFINE_bool("all", False, "Check every construction.")
_DEMO = flags.DEFINE_enum("demo", None, ["parity_failure"], "Run a demonstration instead.")
_GROUP = flags.DEFINE_string("group", None, "A group's cascade (from_group): a name "
                             "(Z60, A4xZ5, S3, A4, S4, D8, Q8, Z2^3) or generator permutations.")
_REGEX = flags.DEFINE_string("regex", None, "A star-free regular expression (syntax: "
                             "ssm_expressivity/regex.py) to compile with from_dfa.")
_ALPHABET = flags.DEFINE_string("alphabet", None, "--regex: its alphabet (default: the "
                                "symbols it names).")
_FORMULA = flags.DEFINE_string("formula", None, "A past-LTL formula (ssm_expressivity/"
                               "past_ltl.py; needs --alphabet) to compile with from_formula.")
_DFA = flags.DEFINE_string("dfa", None, "A JSON DFA file {alphabet, transitions, start, "
                           "accepting} to compile with from_dfa.")
_RANDOM_STAR_FREE = flags.DEFINE_integer("random_star_free", None, "Compile and check this "
                                         "many random star-free languages.")
_RANDOM_FORMULAS = flags.DEFINE_integer("random_formulas", None, "Compile and check this "
                                        "many random past-LTL formulas.")
_COMPARE_SUITE = flags.DEFINE_bool("compare_suite", False, "The suite's star-free languages: "
                                   "hand-written vs from_dfa, layers and state dims.")
_RESULTS_JSON = flags.DEFINE_string("results_json", None, "--random_star_free / "
                                    "--random_formulas: also write every row and the summary "
                                    "(counts, median / max sizes, wall time, load) here.")
_PRECISION_LENGTH = flags.DEFINE_integer("precision_length", 1 << 22,
                                         "--group: longest g^T of the float32 measurement.")
_K = flags.DEFINE_integer("k", None, "bounded_dyck: bracket types.")
_DEPTH = flags.DEFINE_integer("depth", None, "bounded_dyck: maximal depth.")
_P_IGNORE = flags.DEFINE_float("p_ignore", None, "flip_flop: ignore probability of FFL(p).")
_STYLE = flags.DEFINE_string("style", None, "d2..d12: 'cascade' (default) or 'counter'.")
_LENGTH = flags.DEFINE_integer("length", 100_000, "Length of the checked words.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the checked words / random SSMs.")
_SCAN = flags.DEFINE_enum("scan", "sequential", ["sequential", "associative", "chunked"],
                          "linear_recurrence method the constructions run with.")
_WORKDIR = flags.DEFINE_string("workdir", None,
                               "parity_failure: also a trained run (experiments.train).")
_NUM_RANDOM = flags.DEFINE_integer("num_random", 6, "parity_failure: random SSMs to show.")
_MAX_N = flags.DEFINE_integer("max_n", 1 << 20, "parity_failure: longest 1^n searched.")


def _construction_params(name: str) -> dict:
  given = {"k": _K, "depth": _DEPTH, "p_ignore": _P_IGNORE, "style": _STYLE}
  params = {key: flag.value for key, flag in given.items() if flag.value is not None}
  valid = constructions.parameters(name)
  for key in params:
    if key not in valid:
      raise ValueError(f"--{key} does not apply to {name!r} (its parameters: "
                       f"{', '.join(valid) or 'none'})")
  return params


def _check_rows(names: list[str]) -> bool:
  rng = np.random.default_rng(_SEED.value)
  built = {name: constructions.get(name, **_construction_params(name)) for name in names}
  header = (f"{'construction':<14} {'layers':>6} {'state dims':>16} {'NONNEG':>6} "
            f"{'positions':>10} {'errors':>6} {'time s':>7}")
  print(header)
  print("-" * len(header))
  ok = True
  for name in names:
    start = time.perf_counter()
    construction = built[name].with_scan(_SCAN.value)
    words = construction.stress_words(rng, _LENGTH.value)
    result = constructions.check(construction, words)
    seconds = time.perf_counter() - start
    per_layer = construction.state_dims
    dims = (f"{len(per_layer)} x {per_layer[0]}" if len(per_layer) > 4 and len(set(per_layer)) == 1
            else "+".join(map(str, per_layer))) + f" = {construction.total_state_dim}"
    print(f"{name:<14} {construction.num_layers:>6} {dims:>16} "
          f"{'yes' if construction.is_nonnegative() else 'no':>6} {result.positions:>10} "
          f"{result.errors:>6} {seconds:>7.1f}")
    if result.errors:
      ok = False
      word, t, expected, got = result.first_error
      print(f"  first error: word {word}, prefix length {t}: expected {sorted(expected)}, "
            f"got {sorted(got)}")
  return ok


def _freeze_line(label: str, layers, dims, nonnegative, freeze, outputs_only=False) -> str:
  if freeze.n is None:
    found = f"no freeze within 1^{freeze.searched}"
  elif outputs_only:
    found = (f"outputs bit-identical from 1^{freeze.n} through 1^{freeze.searched}")
  else:
    found = (f"h_n == h_(n+1) from n = {freeze.n}; outputs on 1^{freeze.n} and "
             f"1^{freeze.n + 1} equal: {'yes' if freeze.outputs_equal else 'no'}")
  return f"{label:<28} {layers:>6} {dims:>6} {nonnegative:>6}  {found}"


def _parity_failure() -> None:
  from ssm_expressivity.constructions import parity_failure  # pylint: disable=g-import-not-at-top
  from ssm_expressivity.models import diagonal_ssm  # pylint: disable=g-import-not-at-top

  print("PARITY: on 1^n a NONNEGATIVE SSM's float32 state stops changing, so 1^n and "
        "1^(n+1) (one of\nthem has an odd number of ones) get the same output.\n")
  print(f"{'model':<28} {'layers':>6} {'dims':>6} {'NONNEG':>6}  on 1^n")
  for i in range(_NUM_RANDOM.value):
    layers = 1 + i % 3
    model, params = parity_failure.random_nonnegative_ssm(_SEED.value + i, num_layers=layers)
    freeze = parity_failure.freeze_point(model, params, max_n=_MAX_N.value)
    nonneg = "yes" if diagonal_ssm.nonnegative_gates(model, params) else "no"
    print(_freeze_line(f"random diagonal SSM #{i}", layers, sum(model.state_dims), nonneg,
                       freeze))
  mamba = parity_failure.random_mamba(_SEED.value, num_layers=2)
  freeze = parity_failure.output_freeze_point(mamba, parity_failure.ONE_TOKEN,
                                              max_n=min(_MAX_N.value, 1 << 17))
  print(_freeze_line("random Mamba (untrained)", 2, "-", "yes", freeze, outputs_only=True))
  if _WORKDIR.value:
    label, layers, gate, freeze = parity_failure.trained_run_freeze(
        _WORKDIR.value, max_n=min(_MAX_N.value, 1 << 17))
    nonneg = {"nonnegative": "yes", "time_invariant": "yes", "signed": "no"}.get(gate, "?")
    print(_freeze_line(label, layers, "-", nonneg, freeze, outputs_only=True))

  print("  (Mamba rows: the state is not exposed, so they show where the outputs stop changing)")
  model, params = parity_failure.signed_time_invariant_ssm()
  period = parity_failure.alternation_period(model, params)
  print("\nTime-invariant SSM with a signed gate (A = -1 for every symbol, B(1) = 1): the state "
        f"on 1^n repeats\nwith period {period} (1, 0, 1, 0, ...) and never freezes, so the 1^n "
        "witness does not apply to\ntime-invariant SSMs with negative gates. The paper treats "
        "that case with a different argument,\nwhich this demo does not reproduce.")


@cli.user_errors_exit
def main(argv):
  cli.setup_logging()
  if len(argv) > 1:
    raise ValueError(f"unexpected arguments: {argv[1:]} (every option is a --flag)")
  chosen = [n for n, v in (("--language", _LANGUAGE.value), ("--all", _ALL.value),
                           ("--demo", _DEMO.value), ("--group", _GROUP.value),
                           ("--regex", _REGEX.value), ("--dfa", _DFA.value),
                           ("--formula", _FORMULA.value),
                           ("--random_star_free", _RANDOM_STAR_FREE.value is not None),
                           ("--random_formulas", _RANDOM_FORMULAS.value is not None),
                           ("--compare_suite", _COMPARE_SUITE.value)) if v]
  if len(chosen) != 1:
    raise ValueError("give exactly one of --language=NAME, --all, --demo=parity_failure, "
                     "--group=NAME, --regex=TEXT, --dfa=FILE, --formula=TEXT, "
                     "--random_star_free=N, --random_formulas=N, "
                     f"--compare_suite (got {', '.join(chosen) or 'none'}); constructions: "
                     f"{', '.join(constructions.names())}")
  if _RESULTS_JSON.value and _RANDOM_STAR_FREE.value is None and _RANDOM_FORMULAS.value is None:
    raise ValueError("--results_json goes with --random_star_free or --random_formulas")
  if _WORKDIR.value and not _DEMO.value:
    raise ValueError("--workdir goes with --demo=parity_failure")
  if _NUM_RANDOM.value < 0 or _MAX_N.value < 1:
    raise ValueError("--num_random must be >= 0 and --max_n >= 1")
  if not 1 <= _LENGTH.value <= MAX_SAMPLE_LENGTH:
    raise ValueError(f"--length must be in [1, {MAX_SAMPLE_LENGTH:,}], got {_LENGTH.value}")
  if _DEMO.value:
    _parity_failure()
    return
  if _ALPHABET.value and not (_REGEX.value or _FORMULA.value):
    raise ValueError("--alphabet goes with --regex or --formula")
  if _FORMULA.value:
    if not _ALPHABET.value:
      raise ValueError("--formula needs --alphabet (its symbols, e.g. --alphabet=abc)")
    length = _LENGTH.value if flags.FLAGS["length"].present else 2000
    if not constructions_compiler.print_one(constructions_compiler.build_and_check_formula(
        _FORMULA.value, _ALPHABET.value, length, _SEED.value)):
      print("error: the compiled SSM disagrees with the formula's next-symbol sets",
            file=sys.stderr)
      sys.exit(1)
    return
  if _RANDOM_FORMULAS.value is not None:
    if _RANDOM_FORMULAS.value < 1:
      raise ValueError(f"--random_formulas must be >= 1, got {_RANDOM_FORMULAS.value}")
    length = _LENGTH.value if flags.FLAGS["length"].present else 2000
    if not constructions_compiler.random_formulas(_RANDOM_FORMULAS.value, length, _SEED.value,
                                                _RESULTS_JSON.value):
      print("error: some compiled SSMs disagree with their formulas", file=sys.stderr)
      sys.exit(1)
    return
  if _REGEX.value or _DFA.value or _RANDOM_STAR_FREE.value is not None or _COMPARE_SUITE.value:
    length = _LENGTH.value if flags.FLAGS["length"].present else 2000
    if _REGEX.value:
      dfa = constructions_compiler.dfa_from_regex(_REGEX.value, _ALPHABET.value)
      ok = constructions_compiler.print_one(constructions_compiler.build_and_check(
          dfa, _REGEX.value, length, _SEED.value))
    elif _DFA.value:
      dfa = constructions_compiler.dfa_from_json(_DFA.value)
      ok = constructions_compiler.print_one(constructions_compiler.build_and_check(
          dfa, _DFA.value, length, _SEED.value))
    elif _COMPARE_SUITE.value:
      ok = constructions_compiler.compare_suite(length, _SEED.value)
    else:
      if _RANDOM_STAR_FREE.value < 1:
        raise ValueError(f"--random_star_free must be >= 1, got {_RANDOM_STAR_FREE.value}")
      ok = constructions_compiler.random_set(_RANDOM_STAR_FREE.value, length, _SEED.value,
                                              _RESULTS_JSON.value)
    if not ok:
      print("error: the compiled SSM disagrees with the DFA's next-symbol sets",
            file=sys.stderr)
      sys.exit(1)
    return
  if _GROUP.value:
    if _PRECISION_LENGTH.value < 1:
      raise ValueError(f"--precision_length must be >= 1, got {_PRECISION_LENGTH.value}")
    length = _LENGTH.value if flags.FLAGS["length"].present else 10_000
    if not constructions_group.run(_GROUP.value, length, _SEED.value, _SCAN.value,
                                   _PRECISION_LENGTH.value):
      print("error: the cascade's prefix products disagree with the group's", file=sys.stderr)
      sys.exit(1)
    return
  if _ALL.value and any(f.value is not None for f in (_K, _DEPTH, _P_IGNORE, _STYLE)):
    raise ValueError("--k, --depth, --p_ignore and --style go with --language, not --all")
  names = constructions.names() if _ALL.value else [_LANGUAGE.value]
  if not _check_rows(names):
    print("error: some constructions disagree with the exact next-symbol sets",
          file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)

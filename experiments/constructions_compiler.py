"""experiments.constructions --regex / --dfa / --random_star_free / --compare_suite: the
star-free compiler (constructions.from_dfa) built, measured and checked."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from ssm_expressivity import automata
from ssm_expressivity import constructions
from ssm_expressivity import languages
from ssm_expressivity import regex
from ssm_expressivity.constructions import star_free_compiler
from ssm_expressivity.constructions import random_star_free

SUITE = ("tomita1", "tomita2", "tomita4", "tomita7", "d2", "d3", "d4", "d12",
         "abcde_blocks", "ab_d_bc", "012_02")


def dfa_from_json(path: str) -> automata.DFA:
  """{"alphabet": [...], "transitions": [[...], ...], "start": 0, "accepting": [...]}."""
  with open(path) as f:
    try:
      spec = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f"{path} is not JSON: {e}") from None
  if not isinstance(spec, dict):
    raise ValueError(f"{path}: expected a JSON object with alphabet, transitions, start, "
                     "accepting")
  missing = [k for k in ("alphabet", "transitions", "start", "accepting") if k not in spec]
  if missing:
    raise ValueError(f"{path}: missing keys {missing} (need alphabet, transitions, start, "
                     "accepting)")
  try:
    return automata.DFA(tuple(str(s) for s in spec["alphabet"]),
                        np.asarray(spec["transitions"], dtype=np.int64), int(spec["start"]),
                        frozenset(int(q) for q in spec["accepting"]))
  except (TypeError, ValueError) as e:
    raise ValueError(f"{path}: not a DFA: {e}") from None


def dfa_from_regex(text: str, alphabet: str | None) -> automata.DFA:
  symbols = tuple(alphabet) if alphabet else regex.alphabet_of(text)
  if not symbols:
    raise ValueError(f"regex {text!r} names no symbol; pass --alphabet")
  return regex.to_dfa(text, symbols)


def _dims(c) -> str:
  return "+".join(map(str, c.state_dims)) + f" = {c.total_state_dim}"


def adversarial_words(c, rng: np.random.Generator, length: int) -> list:
  """Live walks: uniform, run-heavy per symbol, and alternating pairs of symbols."""
  minimal = c.cascade.dfa
  words = c.stress_words(rng, length)
  for a in minimal.alphabet:
    for b in minimal.alphabet:
      if a < b:
        words.append(star_free_compiler.live_walk(minimal, rng, length, {a: 6.0, b: 6.0}))
  return [w for w in words if w]


def build_and_check(dfa: automata.DFA, name: str, length: int, seed: int) -> dict:
  start = time.perf_counter()
  c = constructions.from_dfa(dfa, name)
  result = constructions.check(c, adversarial_words(c, np.random.default_rng(seed), length))
  return {"name": name, "dfa_states": c.cascade.dfa.num_states,
          "levels": len(c.cascade.levels), "layers": c.num_layers,
          "state_dim": c.total_state_dim, "dims": _dims(c),
          "nonnegative": c.is_nonnegative(), "positions": result.positions,
          "errors": result.errors, "first_error": result.first_error,
          "seconds": time.perf_counter() - start}


def build_and_check_formula(text: str, alphabet: str, length: int, seed: int) -> dict:
  """from_formula, checked on random and run-heavy live walks of its formula DFA."""
  from ssm_expressivity import past_ltl  # pylint: disable=g-import-not-at-top
  start = time.perf_counter()
  c = constructions.from_formula(text, tuple(alphabet))
  result = constructions.check(c, c.stress_words(np.random.default_rng(seed), length))
  depth = past_ltl.temporal_depth(past_ltl.parse(text, tuple(alphabet)))
  return {"name": text, "dfa_states": c.language.dfa.num_states, "levels": depth,
          "layers": c.num_layers, "state_dim": c.total_state_dim, "dims": _dims(c),
          "nonnegative": c.is_nonnegative(), "positions": result.positions,
          "errors": result.errors, "first_error": result.first_error,
          "seconds": time.perf_counter() - start}


def print_one(row: dict) -> bool:
  print(f"{row['name']}: DFA {row['dfa_states']} states, {row['levels']} cascade levels "
        "(formula: temporal depth)")
  print(f"  layers {row['layers']}, state dims {row['dims']}, NONNEGATIVE "
        f"{'yes' if row['nonnegative'] else 'no'}")
  print(f"  checked {row['positions']} positions (random and adversarial words): "
        f"{row['errors']} errors ({row['seconds']:.1f} s)")
  if row["errors"]:
    w, t, expected, got = row["first_error"]
    print(f"  first error: word {w}, prefix length {t}: expected {sorted(expected)}, "
          f"got {sorted(got)}")
  return not row["errors"] and row["nonnegative"]


def summarize(rows: list, kind: str, length: int, seed: int, started: float,
              load_before: tuple) -> dict:
  """Counts, errors and median / max of the sizes of a random set, with its wall time and the
  machine load (1-minute load average) before and after."""
  summary = {"set": kind, "count": len(rows), "length": length, "seed": seed,
             "positions": sum(r["positions"] for r in rows),
             "errors": sum(r["errors"] for r in rows),
             "languages_with_errors": sum(1 for r in rows if r["errors"]),
             "all_nonnegative": all(r["nonnegative"] for r in rows),
             "wall_seconds": round(time.perf_counter() - started, 1),
             "load_1min_before": round(load_before[0], 2),
             "load_1min_after": round(os.getloadavg()[0], 2),
             "cpus": os.cpu_count()}
  for key in ("dfa_states", "levels", "layers", "state_dim"):
    values = [r[key] for r in rows]
    summary[key] = {"median": float(np.median(values)), "max": int(max(values))}
  return summary


def print_summary(summary: dict, what: str) -> None:
  print(f"\n{summary['count']} {what}, words of length <= {summary['length']}: "
        f"{summary['positions']} positions, {summary['errors']} errors, all NONNEGATIVE: "
        f"{summary['all_nonnegative']} ({summary['wall_seconds']:.0f} s, load "
        f"{summary['load_1min_before']} -> {summary['load_1min_after']} on "
        f"{summary['cpus']} CPUs)")
  for key in ("dfa_states", "levels", "layers", "state_dim"):
    print(f"  {key:<10} median {summary[key]['median']:g} max {summary[key]['max']}")


def _write(path: str | None, summary: dict, rows: list) -> None:
  if path:
    with open(path, "w") as f:
      json.dump({"summary": summary, "rows": [{k: v for k, v in r.items() if k != "first_error"}
                                              | {"first_error": _jsonable(r["first_error"])}
                                              for r in rows]}, f, indent=1)
      f.write("\n")


def _jsonable(first_error):
  if first_error is None:
    return None
  w, t, expected, got = first_error
  return [w, t, sorted(expected), sorted(got)]


def random_set(count: int, length: int, seed: int, results_json: str | None = None) -> bool:
  started, load_before = time.perf_counter(), os.getloadavg()
  rng = np.random.default_rng(seed)
  rows = []
  for i in range(count):
    dfa, text = random_star_free.random_star_free_dfa(rng)
    row = build_and_check(dfa, text, length, seed + i)
    rows.append(row)
    print(f"{i:>4} {row['dfa_states']:>3} states {row['levels']:>3} levels {row['layers']:>3} "
          f"layers dim {row['state_dim']:>5} errors {row['errors']} NONNEG "
          f"{'yes' if row['nonnegative'] else 'no'} {row['seconds']:.1f} s  {text}", flush=True)
  summary = summarize(rows, "random star-free languages", length, seed, started, load_before)
  print_summary(summary, "random star-free languages")
  _write(results_json, summary, rows)
  return all(not r["errors"] and r["nonnegative"] for r in rows)


def random_formulas(count: int, length: int, seed: int, results_json: str | None = None) -> bool:
  """`count` random past-LTL formulas with infinite languages, each checked by from_formula."""
  from ssm_expressivity import past_ltl  # pylint: disable=g-import-not-at-top
  started, load_before = time.perf_counter(), os.getloadavg()
  rng = np.random.default_rng(seed)
  rows = []
  while len(rows) < count:
    alphabet = "abc"[:2 + len(rows) % 2]
    text = past_ltl.random_formula(rng, alphabet, 5)
    dfa, _, _ = past_ltl.formula_dfa(past_ltl.parse(text, alphabet), alphabet)
    if dfa.start not in star_free_compiler.unbounded_states(dfa):
      continue  # empty or finite: no word of the checked length
    row = build_and_check_formula(text, alphabet, length, seed + len(rows))
    rows.append(row)
    print(f"{len(rows) - 1:>4} DFA {row['dfa_states']:>3} depth {row['levels']} layers "
          f"{row['layers']} dim {row['state_dim']:>3} positions {row['positions']} errors "
          f"{row['errors']} NONNEG {'yes' if row['nonnegative'] else 'no'} "
          f"{row['seconds']:.1f} s  {text}", flush=True)
  summary = summarize(rows, "random past-LTL formulas", length, seed, started, load_before)
  print_summary(summary, "random past-LTL formulas (levels = temporal depth)")
  _write(results_json, summary, rows)
  return all(not r["errors"] and r["nonnegative"] for r in rows)


def compare_suite(length: int, seed: int, names=SUITE) -> bool:
  header = (f"{'language':<13} {'DFA':>3} {'levels':>6} | {'hand layers':>11} {'hand dim':>8} "
            f"| {'general layers':>14} {'general dim':>11} {'errors':>6}")
  print(header)
  print("-" * len(header))
  ok = True
  for name in names:
    language = languages.get(name)
    hand = constructions.get(name)
    row = build_and_check(language.dfa, name, length, seed)
    ok &= not row["errors"] and row["nonnegative"]
    print(f"{name:<13} {row['dfa_states']:>3} {row['levels']:>6} | {hand.num_layers:>11} "
          f"{hand.total_state_dim:>8} | {row['layers']:>14} {row['state_dim']:>11} "
          f"{row['errors']:>6}", flush=True)
  return ok

"""`experiments.constructions --group=...`: build a group's cascade, verify it, measure float32.

Not a launcher of its own: experiments/constructions.py calls `run`.
"""

from __future__ import annotations

import ast
import time

import numpy as np

from ssm_expressivity.constructions import group_precision
from ssm_expressivity.constructions import groups

# Uniform random words checked beside the adversarial power word, and the longest random
# words of the float32 measurement (at most --precision_length).
NUM_RANDOM_WORDS = 4
RANDOM_PRECISION_LENGTH = 1 << 18


def parse_group(spec: str):
  """A group name, or generator permutations written as a Python list of tuples."""
  if spec.lstrip().startswith(("[", "(")):
    try:
      return [tuple(g) for g in ast.literal_eval(spec)]
    except (ValueError, SyntaxError, TypeError):
      raise ValueError(f"--group={spec!r}: write generators as a list of tuples, e.g. "
                       "'[(1, 0, 2), (1, 2, 0)]'") from None
  return spec


def _print_structure(c: groups.GroupConstruction) -> None:
  print(f"group {c.name}: order {c.group.order}, solvable")
  print(f"series: {c.series_summary()}, the shortest abelian series (length {c.num_layers}) "
        "of least total rank")
  header = f"{'layer':>5}  {'factor':<14} {'state dims':>10}  {'letters in -> out':>17}  phi units"
  print(header)
  print("-" * len(header))
  for l, factor in enumerate(c.factors):
    letters = f"{len(factor.top)} -> {len(factor.bottom)}"
    units = ", ".join(map(str, c.model.phi_features[l]))
    print(f"{l + 1:>5}  {factor.name:<14} {factor.rank:>10}  {letters:>17}  {units}")
  layers = f"{c.num_layers} layer" + ("s" if c.num_layers != 1 else "")
  print(f"total: {layers}, {c.total_state_dim} complex state dims")


def _percent(ratio: float) -> str:
  return f"{100 * ratio:.3g}%"


def _print_precision(c, powers: group_precision.Exactness, scan: str) -> None:
  print(f"\nfloat32 phases (scan method {scan}); phi reads the unit phase h/|h| and is right "
        "while\nthe phase error is < pi/n:")
  layer, cell, element = powers.worst
  where = f"layer {layer + 1} cell {cell}, {element}^T"
  if powers.worst_error_ratio == 0:
    print(f"  powers g^T of all {c.group.order} elements, T <= {powers.searched}: no phase "
          "error at all\n  (every gate is a quarter turn: exact in float32)")
  elif powers.unit_phase is None:
    print(f"  powers g^T of all {c.group.order} elements, T <= {powers.searched}: exact "
          f"throughout;\n  largest phase error {_percent(powers.worst_error_ratio)} of its "
          f"margin ({where});\n  {_growth(powers)}")
  else:
    print(f"  powers g^T of all {c.group.order} elements: the first phase error to reach its "
          f"margin\n  does so at T = {powers.unit_phase} ({where})")
  if powers.raw is None:
    print("  reading Re h, Im h without normalizing would be right throughout too")
  else:
    print(f"  reading Re h, Im h without normalizing instead: first wrong at T = {powers.raw}"
          "\n  (the modulus drifts; normalizing in phi is the cheap fix)")


def _growth(e: group_precision.Exactness) -> str:
  """How the largest phase error grew from the first half of the search to all of it."""
  growth = e.worst_error_ratio / e.half_ratio if e.half_ratio else 1.0
  if growth > 1.5:  # x2 from T/2 to T
    reach = e.searched / e.worst_error_ratio
    return (f"{_percent(e.half_ratio)} at T/2: growing linearly, it would reach the margin "
            f"near T = {reach:.3g}")
  if growth > 1.02:  # x1.41 for a random walk
    return f"{_percent(e.half_ratio)} at T/2: growing more slowly than linearly"
  return f"{_percent(e.half_ratio)} at T/2: not growing"


def _confirm_with_model(c, powers: group_precision.Exactness) -> None:
  """The model itself on the failing power word, just past the measured crossing."""
  element = c.alphabet.index(powers.worst[2])
  result = c.check([np.full(powers.unit_phase + 1000, element)])
  t = result.first_error[1] if result.first_error else None
  print(f"  the model on {powers.worst[2]}^{powers.unit_phase + 1000}: first wrong prefix "
        f"product at T = {t}")


def run(spec: str, length: int, seed: int, scan: str, precision_length: int) -> bool:
  """Prints the report; True when every checked position is right."""
  c = groups.from_group(parse_group(spec), scan=scan)
  _print_structure(c)
  start = time.perf_counter()
  powers = group_precision.measure_powers(c, max_length=precision_length, method=scan)
  measure_s = time.perf_counter() - start

  rng = np.random.default_rng(seed)
  if powers.worst_error_ratio > 0:  # the power word whose phases drift most
    worst = c.alphabet.index(powers.worst[2])
  else:  # no phase error anywhere: an element of the largest order
    worst = int(np.argmax(group_precision.element_orders(c.group)))
  words = [rng.integers(0, c.group.order, length) for _ in range(NUM_RANDOM_WORDS)]
  start = time.perf_counter()
  result = c.check(words + [np.full(length, worst)])
  print(f"\nverify: {NUM_RANDOM_WORDS} uniform random words and {c.alphabet[worst]}^{length} "
        f"(length {length}): {result.positions} positions, {result.errors} errors "
        f"({time.perf_counter() - start:.1f} s)")
  if result.first_error:
    w, t, want, got = result.first_error
    print(f"  first error: word {w}, prefix length {t}: expected {want}, got {got}")

  _print_precision(c, powers, scan)
  if powers.unit_phase is not None:
    _confirm_with_model(c, powers)
  random_length = min(RANDOM_PRECISION_LENGTH, precision_length)
  random_words = rng.integers(0, c.group.order, (NUM_RANDOM_WORDS, random_length))
  on_random = group_precision.measure_words(c, random_words, method=scan)
  print(f"  {NUM_RANDOM_WORDS} uniform random words of length {random_length}: "
        f"largest phase error {_percent(on_random.worst_error_ratio)} of its margin\n  "
        f"({_growth(on_random)})")
  print(f"  (measured in {measure_s:.1f} s)")
  return result.errors == 0

"""Abelian series and factors against brute force on the permutations themselves."""

from __future__ import annotations

import collections
import itertools
import math

import pytest

from ssm_expressivity.constructions import group_series
from ssm_expressivity.languages import word_problem as wp

SOLVABLE = ("Z60", "A4xZ5", "S3", "A4", "S4", "D8", "Q8", "Z2^3")
# Shortest series length (= derived length) and least total rank, worked out by hand:
# D8 and Q8 go through a cyclic Z4 (factors Z2, Z4) rather than their centre (Z2 x Z2, Z2).
EXPECTED = {"Z60": (1, 1), "A4xZ5": (2, 3), "S3": (2, 2), "A4": (2, 3), "S4": (3, 4),
            "D8": (2, 2), "Q8": (2, 2), "Z2^3": (1, 3)}


# ---- an independent permutation-level oracle -------------------------------------------------


def _compose(a, b):
  return tuple(b[x] for x in a)  # a, then b


def _inverse(a):
  out = [0] * len(a)
  for i, x in enumerate(a):
    out[x] = i
  return tuple(out)


def _closure(gens, identity):
  members, frontier = {identity}, [identity]
  while frontier:
    frontier = [y for x in frontier for g in gens for y in [_compose(x, g)] if y not in members
                and not members.add(y)]
  return frozenset(members)


def _all_subgroups(elements, identity):
  found, frontier = {frozenset({identity})}, [frozenset({identity})]
  while frontier:
    new = []
    for s in frontier:
      for g in elements:
        if g not in s:
          t = _closure(list(s) + [g], identity)
          if t not in found:
            found.add(t)
            new.append(t)
    frontier = new
  return found


def _normal_abelian_step(top, bottom):
  return all(_compose(_compose(_inverse(h), k), h) in bottom for h in top for k in bottom) and \
      all(_compose(_compose(_inverse(a), _inverse(b)), _compose(a, b)) in bottom
          for a in top for b in top)


def _quotient_rank(top, bottom):
  """max over primes p of log_p #{x in top/bottom : x^p = 1}: the rank of an abelian group."""
  index = len(top) // len(bottom)
  rank = 0
  for p in (p for p in range(2, index + 1) if index % p == 0 and all(p % q for q in range(2, p))):
    hits = sum(1 for x in top if _power(x, p) in bottom) // len(bottom)
    rank = max(rank, round(math.log(hits, p)))
  return rank


def _power(x, k):
  out = tuple(range(len(x)))
  for _ in range(k):
    out = _compose(out, x)
  return out


def _best_series(name):
  """(length, total rank) of the best subnormal abelian series, by exhaustive search."""
  group = wp.group(name)
  elements = [tuple(p) for p in group.perms.tolist()]
  identity = elements[0]
  subgroups = _all_subgroups(elements, identity)
  best = {frozenset({identity}): (0, 0)}
  for s in sorted(subgroups, key=len)[1:]:
    options = [(best[k][0] + 1, best[k][1] + _quotient_rank(s, k)) for k in subgroups
               if k in best and len(k) < len(s) and k <= s and _normal_abelian_step(s, k)]
    if options:
      best[s] = min(options)
  return best[frozenset(elements)]


@pytest.mark.parametrize("name", ("S3", "A4", "S4", "D8", "Q8", "Z2^3"))
def test_series_is_the_shortest_of_least_rank_by_exhaustive_search(name):
  group = wp.group(name)
  series = group_series.abelian_series(group)
  factors = [group_series.abelian_factor(group, a, b) for a, b in zip(series, series[1:])]
  assert _best_series(name) == (len(factors), sum(f.rank for f in factors)) == EXPECTED[name]


@pytest.mark.parametrize("name", SOLVABLE)
def test_series_steps_are_normal_with_abelian_quotients(name):
  group = wp.group(name)
  perms = [tuple(p) for p in group.perms.tolist()]
  series = group_series.abelian_series(group)
  assert len(series[0]) == group.order and len(series[-1]) == 1
  assert len(series) - 1 == EXPECTED[name][0] == len(group.derived_series()) - 1
  for top, bottom in zip(series, series[1:]):
    assert bottom < top
    assert _normal_abelian_step({perms[i] for i in top}, {perms[i] for i in bottom})


def _order_counts(orders):
  """Element-order counts of Z_{n_1} x ... x Z_{n_r}."""
  counts = collections.Counter()
  for c in itertools.product(*(range(n) for n in orders)):
    counts[math.lcm(*(n // math.gcd(n, v) for v, n in zip(c, orders)))] += 1
  return counts


@pytest.mark.parametrize("name", SOLVABLE)
def test_factor_coordinates_are_an_isomorphism_onto_the_cyclic_product(name):
  group = wp.group(name)
  perms = [tuple(p) for p in group.perms.tolist()]
  index = {p: i for i, p in enumerate(perms)}
  series = group_series.abelian_series(group)
  for top, bottom in zip(series, series[1:]):
    f = group_series.abelian_factor(group, top, bottom)
    assert f.order == len(top) // len(bottom)
    assert all(a % b == 0 for a, b in zip(f.orders, f.orders[1:]))  # invariant factors
    zero = (0,) * f.rank
    for a in top:
      for b in top:  # a homomorphism, checked on the permutations
        ab = index[_compose(perms[a], perms[b])]
        want = tuple((x + y) % n for x, y, n in zip(f.coordinates[a], f.coordinates[b], f.orders))
        assert f.coordinates[ab] == want
    assert {f.coordinates[k] for k in bottom} == {zero}  # kernel = bottom
    assert len(set(f.coordinates.values())) == f.order  # onto
    assert f.representatives[zero] == 0
    for c, r in f.representatives.items():
      assert r in top and f.coordinates[r] == c
    # Same element-order counts as the quotient (abelian groups are determined by them).
    quotient_orders = collections.Counter()
    for c, r in f.representatives.items():
      k, x = 1, r
      while x not in bottom:
        x, k = index[_compose(perms[x], perms[r])], k + 1
      quotient_orders[k] += 1
    assert quotient_orders == _order_counts(f.orders)


@pytest.mark.parametrize("name", ("A5", "S5"))
def test_non_solvable_groups_are_refused_naming_the_perfect_subgroup(name):
  with pytest.raises(ValueError, match="perfect subgroup of order 60"):
    group_series.abelian_series(wp.group(name))


def test_factor_names():
  group = wp.group("A4xZ5")
  series = group_series.abelian_series(group)
  names = [group_series.abelian_factor(group, a, b).name for a, b in zip(series, series[1:])]
  assert names == ["Z15", "Z2 x Z2"]

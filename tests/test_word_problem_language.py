"""Word problems: the groups are groups of the right kind, and labels are prefix products."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ssm_expressivity import languages
from ssm_expressivity.languages import EOS
from ssm_expressivity.languages import word_problem as wp

ORDERS = {"Z60": 60, "A4xZ5": 60, "A5": 60, "S5": 120, "S3": 6, "A4": 12, "S4": 24, "D8": 8,
          "Q8": 8, "Z2^3": 8}


def _sign(perm) -> int:
  inversions = sum(1 for i, j in itertools.combinations(range(len(perm)), 2)
                   if perm[i] > perm[j])
  return -1 if inversions % 2 else 1


@pytest.mark.parametrize("name", wp.GROUPS)
def test_group_axioms(name):
  group = wp.group(name)
  n = group.order
  assert n == ORDERS[name]
  table = group.table
  # Closure and Latin square (every row and column a permutation of the elements).
  assert table.shape == (n, n)
  assert all(sorted(row) == list(range(n)) for row in table.tolist())
  assert all(sorted(col) == list(range(n)) for col in table.T.tolist())
  e = group.identity
  np.testing.assert_array_equal(table[e], np.arange(n))
  np.testing.assert_array_equal(table[:, e], np.arange(n))
  np.testing.assert_array_equal(table[np.arange(n), group.inverse], np.full(n, e))
  np.testing.assert_array_equal(table[group.inverse, np.arange(n)], np.full(n, e))
  # Associativity over all triples.
  left = table[table[:, :, None], np.arange(n)[None, None, :]]
  right = table[np.arange(n)[:, None, None], table[None, :, :]]
  np.testing.assert_array_equal(left, right)


@pytest.mark.parametrize("name", wp.GROUPS)
def test_table_is_permutation_composition(name):
  group = wp.group(name)
  perms = [tuple(p) for p in group.perms.tolist()]
  assert len(set(perms)) == group.order
  assert perms[group.identity] == tuple(range(len(perms[0])))
  rng = np.random.default_rng(0)
  for a, b in rng.integers(0, group.order, size=(300, 2)).tolist():
    applied = tuple(perms[b][perms[a][x]] for x in range(len(perms[0])))  # a, then b
    assert perms[group.multiply(a, b)] == applied


def test_group_identities():
  a5, s5 = wp.group("A5"), wp.group("S5")
  assert all(_sign(p) == 1 for p in a5.perms.tolist())
  assert sorted(_sign(p) for p in s5.perms.tolist()).count(-1) == 60
  z60 = wp.group("Z60")
  assert np.array_equal(z60.table, z60.table.T)  # abelian
  assert _element_orders(z60).max() == 60  # cyclic
  a4z5 = wp.group("A4xZ5")
  assert not np.array_equal(a4z5.table, a4z5.table.T)
  assert _element_orders(a4z5).max() == 15
  # A5 has elements of orders 1, 2, 3, 5 with counts 1, 15, 20, 24.
  orders, counts = np.unique(_element_orders(a5), return_counts=True)
  assert dict(zip(orders.tolist(), counts.tolist())) == {1: 1, 2: 15, 3: 20, 5: 24}


def _element_orders(group) -> np.ndarray:
  orders = []
  for g in range(group.order):
    power, k = g, 1
    while power != group.identity:
      power, k = group.multiply(power, g), k + 1
    orders.append(k)
  return np.array(orders)


def test_small_groups_are_the_groups_they_name():
  # Element-order counts (order -> how many) tell these groups apart.
  counts = {"S3": {1: 1, 2: 3, 3: 2}, "A4": {1: 1, 2: 3, 3: 8},
            "S4": {1: 1, 2: 9, 3: 8, 4: 6}, "D8": {1: 1, 2: 5, 4: 2},
            "Q8": {1: 1, 2: 1, 4: 6}, "Z2^3": {1: 1, 2: 7}}
  for name, want in counts.items():
    orders, n = np.unique(_element_orders(wp.group(name)), return_counts=True)
    assert dict(zip(orders.tolist(), n.tolist())) == want, name
  assert np.array_equal(wp.group("Z2^3").table, wp.group("Z2^3").table.T)
  assert languages.get("word_problem", group="Q8").alphabet == tuple(f"g{i}" for i in range(8))


def test_from_generators_builds_and_checks():
  g = wp.from_generators([(1, 2, 0)])
  assert g.order == 3 and g.perms.tolist() == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
  with pytest.raises(ValueError, match="not a permutation"):
    wp.from_generators([(0, 0, 1)])
  with pytest.raises(ValueError, match="not a permutation"):
    wp.from_generators([(1, 0), (1, 2, 0)])
  with pytest.raises(ValueError, match="order > 1024"):
    wp.from_generators([tuple(range(1, 7)) + (0,), (1, 0, 2, 3, 4, 5, 6)])  # S7


def test_solvability():
  assert wp.group("Z60").is_solvable()
  assert wp.group("A4xZ5").is_solvable()
  assert not wp.group("A5").is_solvable()
  assert not wp.group("S5").is_solvable()
  # A5 is perfect; S5's derived subgroup is A5; A4xZ5 -> V4 -> 1.
  assert [len(s) for s in wp.group("A5").derived_series()] == [60]
  assert [len(s) for s in wp.group("S5").derived_series()] == [120, 60]
  assert [len(s) for s in wp.group("A4xZ5").derived_series()] == [60, 4, 1]


def test_language_interface():
  language = languages.get("word_problem", group="A4xZ5")
  assert language.category == "word_problem"
  assert len(language.alphabet) == 60 and language.alphabet[0] == "g00"
  assert list(language.alphabet) == sorted(language.alphabet)
  word = language.sample(np.random.default_rng(1), 25)
  assert len(word) == 25 and language.accepts(word)
  assert language.allowed_next(word) == frozenset(language.alphabet + (EOS,))
  assert language.allowed_next_all(word[:3] + ("zz",)) == [language.allowed_next(())] * 3 + [
      frozenset()]
  assert not language.accepts(("g00", "zz"))
  assert language.labels(word, "exact") == ["1" * 61] * 25
  assert language.valid_lengths(0, 3) == [0, 1, 2, 3]
  assert languages.get("word_problem").group.name == "A5"
  with pytest.raises(ValueError, match="valid groups"):
    languages.get("word_problem", group="Z7")
  with pytest.raises(ValueError, match="length"):
    language.sample(np.random.default_rng(0), -1)


@pytest.mark.parametrize("name", wp.GROUPS)
def test_paper_labels_are_prefix_products(name):
  language = languages.get("word_problem", group=name)
  perms = [tuple(p) for p in language.group.perms.tolist()]
  word = language.sample(np.random.default_rng(2), 40)
  labels = language.labels(word, "paper")
  # Reference: compose the permutations directly, left to right.
  current = tuple(range(len(perms[0])))
  for symbol, label in zip(word, labels):
    step = perms[language.alphabet.index(symbol)]
    current = tuple(step[current[x]] for x in range(len(current)))
    assert perms[language.alphabet.index(label)] == current
  assert set(labels) <= set(language.paper_label_classes())
  assert language.product(word) == labels[-1]
  assert language.product(()) == language.alphabet[0]
  # Vectorized prefix products agree, batch-wise.
  indices = np.stack([language.indices(word), language.indices(word[::-1])])
  products = language.group.prefix_products(indices)
  assert [language.alphabet[i] for i in products[0]] == labels
  assert [language.alphabet[i] for i in products[1]] == language.paper_labels(word[::-1])


def test_sampling_is_deterministic_and_uniform():
  language = languages.get("word_problem", group="S5")
  a = language.sample(np.random.default_rng(3), 12000)
  assert a == language.sample(np.random.default_rng(3), 12000)
  assert a != language.sample(np.random.default_rng(4), 12000)
  counts = np.bincount(language.indices(a), minlength=120)
  expected = 12000 / 120
  assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))

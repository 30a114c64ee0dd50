"""Tests of ssm_expressivity.automata against brute-force oracles on random and textbook DFAs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ssm_expressivity import automata
from ssm_expressivity.automata import DFA


def _random_dfa(rng: np.random.Generator, max_states: int = 6, num_letters: int = 2) -> DFA:
  n = int(rng.integers(1, max_states + 1))
  table = rng.integers(0, n, size=(n, num_letters))
  accepting = {q for q in range(n) if rng.random() < 0.4}
  alphabet = tuple("abc"[:num_letters])
  return DFA(alphabet, table, int(rng.integers(0, n)), accepting)


def _acceptance_vector(dfa: DFA, max_len: int, state: int | None = None) -> np.ndarray:
  """Acceptance of every word of length <= max_len in length-lexicographic order (numpy)."""
  states = np.array([dfa.start if state is None else state])
  accept = np.array(sorted(dfa.accepting), dtype=np.int64)
  parts = [np.isin(states, accept)]
  for _ in range(max_len):
    states = dfa.transitions[states].reshape(-1)  # children of each word, letters in order
    parts.append(np.isin(states, accept))
  return np.concatenate(parts)


def _words(alphabet, max_len):
  for n in range(max_len + 1):
    yield from ("".join(w) for w in itertools.product(alphabet, repeat=n))


def _brute_force_monoid(dfa: DFA) -> set[tuple[int, ...]]:
  """Transformations of all words, by length, until a length adds nothing new."""
  n = dfa.num_states
  level = {tuple(range(n))}
  monoid = set(level)
  while level:
    level = {tuple(int(dfa.transitions[q, i]) for q in m)
             for m in level for i in range(len(dfa.alphabet))} - monoid
    monoid |= level
  return monoid


def _aperiodic_by_cycles(monoid) -> bool:
  """m^k = m^(k+1) for large k iff every cycle of m's functional graph is a fixed point."""
  for m in monoid:
    for q in range(len(m)):
      seen = []
      r = q
      while r not in seen:
        seen.append(r)
        r = m[r]
      cycle = seen[seen.index(r):]
      if len(cycle) > 1:
        return False
  return True


def _textbook():
  """(name, dfa, star_free, minimal size) for classic examples."""
  return [
      ("(aa)*", DFA(("a",), [[1], [0]], 0, {0}), False, 2),
      ("a*b*", DFA(("a", "b"), [[0, 1], [2, 1], [2, 2]], 0, {0, 1}), True, 3),
      ("parity", DFA(("0", "1"), [[0, 1], [1, 0]], 0, {0}), False, 2),
      ("(ab)*", DFA(("a", "b"), [[1, 2], [2, 0], [2, 2]], 0, {0}), True, 3),
      ("no 000", DFA(("0", "1"), [[1, 0], [2, 0], [3, 0], [3, 3]], 0, {0, 1, 2}), True, 4),
      ("(abab)*", DFA(("a", "b"), [[1, 4], [4, 2], [3, 4], [4, 0], [4, 4]], 0, {0}), False, 5),
      ("a+b+ (redundant copy of a+)",
       DFA(("a", "b"), [[1, 4], [2, 3], [1, 3], [4, 3], [4, 4]], 0, {3}), True, 4),
  ]


@pytest.mark.parametrize("name,dfa,star_free,size", _textbook(), ids=lambda x: str(x)[:12])
def test_textbook_examples(name, dfa, star_free, size):
  del name
  assert automata.is_star_free(dfa) == star_free
  assert automata.minimize(dfa).num_states == size


def test_minimize_drops_unreachable_and_duplicate_states():
  # a*b* with an unreachable accepting state 3 and state 4 duplicating state 1.
  dfa = DFA(("a", "b"), [[0, 4], [2, 1], [2, 2], [3, 0], [2, 1]], 0, {0, 1, 3, 4})
  minimal = automata.minimize(dfa)
  assert minimal.num_states == 3
  assert automata.equivalent(minimal, DFA(("a", "b"), [[0, 1], [2, 1], [2, 2]], 0, {0, 1}))


@pytest.mark.parametrize("num_letters,max_len", [(2, 8), (3, 6)])
def test_minimize_preserves_language_on_random_dfas(num_letters, max_len):
  rng = np.random.default_rng(0)
  for _ in range(40):
    dfa = _random_dfa(rng, num_letters=num_letters)
    minimal = automata.minimize(dfa)
    np.testing.assert_array_equal(
        _acceptance_vector(dfa, max_len), _acceptance_vector(minimal, max_len))
    for word in itertools.islice(_words(dfa.alphabet, 4), 0, None, 7):
      assert dfa.accepts(word) == minimal.accepts(word)


def test_minimal_size_is_number_of_nerode_classes():
  rng = np.random.default_rng(1)
  for _ in range(60):
    dfa = _random_dfa(rng, max_states=7)
    reachable = dfa.reachable_states()
    # Two states of an n-state DFA are equivalent iff they agree on all suffixes of length < n.
    signatures = {_acceptance_vector(dfa, dfa.num_states, q).tobytes() for q in reachable}
    minimal = automata.minimize(dfa)
    assert minimal.num_states == len(signatures)
    assert automata.minimize(minimal).num_states == minimal.num_states


def test_minimize_is_canonical():
  rng = np.random.default_rng(2)
  for _ in range(30):
    dfa = _random_dfa(rng)
    perm = rng.permutation(dfa.num_states)  # rename states: same language
    inverse = np.argsort(perm)
    renamed = DFA(dfa.alphabet, perm[dfa.transitions[inverse]], int(perm[dfa.start]),
                  {int(perm[q]) for q in dfa.accepting})
    a, b = automata.minimize(dfa), automata.minimize(renamed)
    np.testing.assert_array_equal(a.transitions, b.transitions)
    assert a.accepting == b.accepting and a.start == b.start == 0


def test_equivalent_matches_brute_force():
  rng = np.random.default_rng(3)
  agreements = 0
  for _ in range(200):
    first = _random_dfa(rng, max_states=3)
    second = _random_dfa(rng, max_states=3)
    # DFAs with n1 and n2 states that agree on all words shorter than n1 + n2 are equivalent.
    bound = first.num_states + second.num_states
    expected = np.array_equal(_acceptance_vector(first, bound), _acceptance_vector(second, bound))
    agreements += expected
    assert automata.equivalent(first, second) == expected
  assert agreements > 0  # the random pairs include equivalent ones


def test_equivalent_reorders_alphabet_and_rejects_different_alphabets():
  ab = DFA(("a", "b"), [[1, 2], [2, 0], [2, 2]], 0, {0})  # (ab)*
  ba = DFA(("b", "a"), [[2, 1], [0, 2], [2, 2]], 0, {0})  # the same, columns swapped
  assert automata.equivalent(ab, ba)
  with pytest.raises(ValueError, match="different alphabets"):
    automata.equivalent(ab, DFA(("a", "c"), [[0, 0]], 0, {0}))


def test_live_states_brute_force():
  rng = np.random.default_rng(4)
  for _ in range(50):
    dfa = _random_dfa(rng)
    expected = {q for q in range(dfa.num_states)
                if _acceptance_vector(dfa, dfa.num_states, q).any()}
    assert dfa.live_states() == expected


def test_transition_monoid_matches_brute_force_and_star_freeness():
  rng = np.random.default_rng(5)
  kinds = set()
  for _ in range(60):
    dfa = _random_dfa(rng, max_states=5)
    monoid = automata.transition_monoid(dfa)
    expected = _brute_force_monoid(automata.minimize(dfa))
    assert monoid == expected
    star_free = automata.is_star_free(dfa)
    assert star_free == _aperiodic_by_cycles(expected)
    kinds.add(star_free)
  assert kinds == {True, False}  # the sample exercises both answers


def test_monoid_of_parity_is_z2_and_identity_included():
  parity = DFA(("0", "1"), [[0, 1], [1, 0]], 0, {0})
  assert automata.transition_monoid(parity) == {(0, 1), (1, 0)}


def test_monoid_size_bound_raises_clearly():
  # Letters acting as an 8-cycle and a transposition generate S8 (40320 elements).
  n = 8
  table = np.stack([(np.arange(n) + 1) % n, [1, 0] + list(range(2, n))], axis=1)
  dfa = DFA(("c", "t"), table, 0, {0})
  with pytest.raises(automata.MonoidTooLargeError, match="max_size"):
    automata.transition_monoid(dfa, max_size=1000)
  s5 = DFA(("c", "t"), np.stack([(np.arange(5) + 1) % 5, [1, 0, 2, 3, 4]], axis=1), 0, {0})
  assert len(automata.transition_monoid(s5)) == 120
  assert not automata.is_star_free(s5)


def test_dfa_constructor_rejects_bad_tables():
  with pytest.raises(ValueError, match="shape"):
    DFA(("a", "b"), [[0], [0]], 0, {0})
  with pytest.raises(ValueError, match="name states"):
    DFA(("a",), [[1]], 0, {0})
  with pytest.raises(ValueError, match="start"):
    DFA(("a",), [[0]], 3, {0})
  with pytest.raises(ValueError, match="accepting"):
    DFA(("a",), [[0]], 0, {2})
  with pytest.raises(ValueError, match="alphabet"):
    DFA(("a",), [[0]], 0, {0}).run("b")


def test_suite_classification_matches_paper():
  from ssm_expressivity import languages  # pylint: disable=g-import-not-at-top
  counts = {"star_free": 0, "non_star_free": 0}
  missing = []
  for name in languages.SUITE:
    try:
      language = languages.get(name)
    except ValueError:
      missing.append(name)
      continue
    if not hasattr(language, "dfa"):
      continue
    dfa = language.dfa
    assert isinstance(dfa, DFA), name
    assert set(dfa.alphabet) == set(language.alphabet), name
    assert automata.is_star_free(dfa) == (language.category == "star_free"), name
    counts[language.category] = counts.get(language.category, 0) + 1
  assert not missing, f"suite languages not registered yet: {missing}"
  assert counts == {"star_free": 11, "non_star_free": 7}

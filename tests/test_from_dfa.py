"""from_dfa: holonomy reset cascades compiled to NONNEGATIVE SSMs, checked against the DFA."""

import itertools
import re

import numpy as np
import pytest

from ssm_expressivity import automata
from ssm_expressivity import constructions
from ssm_expressivity import languages
from ssm_expressivity import regex
from ssm_expressivity.constructions import star_free_compiler
from ssm_expressivity.constructions import random_star_free


def _words_upto(alphabet, n):
  for k in range(n + 1):
    for w in itertools.product(alphabet, repeat=k):
      yield "".join(w)


@pytest.mark.parametrize("text", ["(ab|b)*a", "a*b*|()", "(a|bb)*ab", ".*ba.", "@|b", "(a*)*b"])
def test_regex_matches_python_re(text):
  dfa = regex.to_dfa(text, ("a", "b"))
  pattern = re.compile(text.replace("@", "[^ab]").replace("()", "(?:)"))
  for w in _words_upto("ab", 7):
    assert dfa.accepts(w) == bool(pattern.fullmatch(w)), w


def test_regex_complement_and_errors():
  no11 = regex.to_dfa("~(.*11.*)", ("0", "1"))
  for w in _words_upto("01", 8):
    assert no11.accepts(w) == ("11" not in w)
  for bad in ["(a", "a|", "*a", "ac", ""]:
    with pytest.raises(regex.RegexError):
      regex.to_dfa(bad, ("a", "b"))


@pytest.mark.parametrize("name", ["tomita4", "012_02"])
def test_suite_languages_exact(name):
  language = languages.get(name)
  c = constructions.from_dfa(language.dfa, name)
  assert c.is_nonnegative()
  words = c.stress_words(np.random.default_rng(1), 500)
  for w in words:
    assert c.allowed_next_sets(w) == language.allowed_next_all(w)


def test_random_star_free_languages_exact():
  rng = np.random.default_rng(7)
  for _ in range(2):  # each build compiles a new model (seconds); the slow test runs 200
    dfa, text = random_star_free.random_star_free_dfa(rng, max_states=6)
    c = constructions.from_dfa(dfa, text)
    assert c.is_nonnegative()
    result = constructions.check(c, c.stress_words(rng, 500))
    assert result.errors == 0, (text, result.first_error)


def test_parity_refused_with_witness():
  parity = languages.get("parity").dfa
  with pytest.raises(constructions.NotStarFreeError) as info:
    constructions.from_dfa(parity)
  assert info.value.word == ("1",) and info.value.period == 2
  assert "u='1'" in str(info.value) and "p=2" in str(info.value)


def _check_witness(dfa, word, period):
  """u^n and u^(n+p) act alike on the minimal DFA's states, u^n and u^(n+d) do not for
  0 < d < p (p is the least period), so u^n and u^(n+1) do not either."""
  minimal = automata.minimize(dfa)
  def power(n):
    return tuple(minimal.run(word * n, q) for q in range(minimal.num_states))
  n = 2 * minimal.num_states + 2  # past the index of every transformation's powers
  assert period > 1
  assert power(n) == power(n + period)
  for d in range(1, period):
    assert power(n) != power(n + d)


def _random_dfa(rng, max_states):
  """A random DFA with a permutation letter (often a group in the monoid)."""
  n, k = int(rng.integers(2, max_states + 1)), int(rng.integers(1, 4))
  table = rng.integers(0, n, size=(n, k))
  table[:, 0] = rng.permutation(n)
  return automata.DFA(tuple("abc"[:k]), table, 0, frozenset(rng.choice(n, n // 2 + 1).tolist()))


def _refusals(seed, tries, max_states):
  """(refused with a checked witness, star-free and built) over `tries` random DFAs."""
  rng = np.random.default_rng(seed)
  refused = built = 0
  for _ in range(tries):
    dfa = _random_dfa(rng, max_states)
    if not automata.minimize(dfa).live_states():
      continue
    if automata.is_star_free(dfa):
      assert constructions.from_dfa(dfa).is_nonnegative()
      built += 1
      continue
    with pytest.raises(constructions.NotStarFreeError) as info:
      constructions.from_dfa(dfa)
    _check_witness(dfa, info.value.word, info.value.period)
    refused += 1
  return refused, built


def test_random_group_dfas_refused_with_correct_witness():
  refused, _ = _refusals(3, 30, 6)
  assert refused >= 10


@pytest.mark.slow
def test_many_random_group_dfas_refused_with_correct_witness():
  refused, built = _refusals(17, 1500, 6)
  assert refused >= 1000 and built >= 300, (refused, built)


@pytest.mark.slow
def test_many_random_star_free_languages_long_words():
  rng = np.random.default_rng(11)
  for _ in range(200):
    dfa, text = random_star_free.random_star_free_dfa(rng)
    c = constructions.from_dfa(dfa, text)
    result = constructions.check(c, c.stress_words(rng, 2000))
    assert result.errors == 0, (text, result.first_error)


def test_unbounded_walk_has_full_length_in_a_finite_branch():
  # "b" or "a" followed by anything: after a first "b" the language is finite ({b})
  dfa = regex.to_dfa("b|a.*", ("a", "b"))
  minimal = automata.minimize(dfa)
  rng = np.random.default_rng(0)
  walks = [star_free_compiler.live_walk(minimal, rng, 50, {"b": 50.0}) for _ in range(20)]
  assert "b" in walks  # the plain walk often ends in the finite branch
  long = [star_free_compiler.live_walk(minimal, rng, 50, {"b": 50.0}, unbounded=True)
          for _ in range(20)]
  assert all(len(w) == 50 and w[0] == "a" for w in long)
  assert star_free_compiler.live_walk(automata.minimize(regex.to_dfa("ab|b", ("a", "b"))),
                                      rng, 50, unbounded=True) == ""  # a finite language

"""from_formula: past-LTL compiled to a layer per temporal depth, checked against the formula."""

import numpy as np
import pytest

from ssm_expressivity import constructions
from ssm_expressivity import past_ltl
from ssm_expressivity.constructions import star_free_compiler


def test_semantics_by_hand():
  f = past_ltl.parse("a S (b & Y c)", "abc")
  # b preceded by c at position 3, then a's keep it; the c at 6 breaks it
  assert past_ltl.holds(f, "acbaac").tolist() == [False, False, True, True, True, False]
  assert past_ltl.holds(past_ltl.parse("H !b", "ab"), "aab").tolist() == [True, True, False]
  assert past_ltl.holds(past_ltl.parse("Y a", "ab"), "ab").tolist() == [False, True]


def test_formula_dfa_agrees_with_semantics():
  rng = np.random.default_rng(0)
  for _ in range(20):
    text = past_ltl.random_formula(rng, "ab", 4)
    tree = past_ltl.parse(text, "ab")
    dfa, _, _ = past_ltl.formula_dfa(tree, "ab")
    for _ in range(20):
      w = "".join(rng.choice(list("ab"), int(rng.integers(1, 12))))
      assert dfa.accepts(w) == past_ltl.accepts(tree, w), (text, w)


@pytest.mark.parametrize("bad", ["a S", "(a", "a & d", "Y", "a b"])
def test_bad_formulas(bad):
  with pytest.raises(past_ltl.FormulaError):
    past_ltl.parse(bad, "abc")


def _check(text, alphabet, length, rng):
  c = constructions.from_formula(text, alphabet)
  assert c.is_nonnegative()
  assert c.num_layers == max(1, past_ltl.temporal_depth(past_ltl.parse(text, alphabet)))
  result = constructions.check(c, c.stress_words(rng, length))
  assert result.errors == 0, (text, result.first_error)


def test_fixed_formulas_exact():
  rng = np.random.default_rng(1)
  _check("(a S b) S (Y c)", "abc", 500, rng)
  _check("!(!(Y a) & b) S H !(a | !c)", "abc", 300, rng)  # shared and nested negations
  _check("(b & b) S a", "ab", 300, rng)  # a repeated operand


@pytest.mark.slow
def test_many_random_formulas_long_words():
  rng = np.random.default_rng(5)
  checked = 0
  while checked < 100:
    alphabet = "abc"[:2 + checked % 2]
    text = past_ltl.random_formula(rng, alphabet, 5)
    dfa, _, _ = past_ltl.formula_dfa(past_ltl.parse(text, alphabet), alphabet)
    # empty languages are refused; finite ones have no word of length 2000
    if dfa.start in star_free_compiler.unbounded_states(dfa):
      _check(text, alphabet, 2000, rng)
      checked += 1

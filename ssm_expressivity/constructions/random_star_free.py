"""Random star-free languages: random expressions with symbols, union, concatenation and
complement (no star; ~@ is the full language), minimized, kept when small and non-empty."""

from __future__ import annotations

import numpy as np

from ssm_expressivity import automata
from ssm_expressivity import regex


def random_expression(rng: np.random.Generator, alphabet, depth: int) -> str:
  """A star-free expression of nesting depth <= `depth` (text in regex.py's syntax)."""
  if depth == 0 or rng.random() < 0.2:
    return str(rng.choice(list(alphabet) + ["~@"]))
  op = rng.choice(["|", "cat", "cat", "~"])
  if op == "~":
    return f"~({random_expression(rng, alphabet, depth - 1)})"
  left = random_expression(rng, alphabet, depth - 1)
  right = random_expression(rng, alphabet, depth - 1)
  return f"({left}|{right})" if op == "|" else f"({left})({right})"


def random_star_free_dfa(rng: np.random.Generator, max_states: int = 12, min_states: int = 3,
                         tries: int = 1000) -> tuple[automata.DFA, str]:
  """(minimal DFA, expression) of a random star-free language over 2-3 letters whose minimal
  DFA has min_states..max_states states and infinitely many words (long words exist)."""
  for _ in range(tries):
    alphabet = ("a", "b", "c")[:int(rng.integers(2, 4))]
    text = random_expression(rng, alphabet, int(rng.integers(2, 6)))
    dfa = regex.to_dfa(text, alphabet)
    if min_states <= dfa.num_states <= max_states and _infinite(dfa):
      return dfa, text
  raise RuntimeError(f"no star-free DFA with {min_states}..{max_states} states in {tries} tries")


def _infinite(dfa: automata.DFA) -> bool:
  """True iff L(dfa) is infinite: some live state reachable from the start lies on a cycle."""
  live = dfa.live_states()
  useful = [q for q in dfa.reachable_states() if q in live]
  edges = {q: {int(r) for r in dfa.transitions[q] if int(r) in live} for q in useful}
  # Every state reachable from a useful one that is live is useful, so edges is closed.
  return any(automata.on_cycle(q, edges) for q in useful)

"""A small regular-expression front end: text to a minimal `automata.DFA` (pure numpy).

    regex.to_dfa("~(.*11.*)", alphabet=("0", "1"))    # no two adjacent 1s

Syntax (symbols are single characters of the alphabet; spaces are ignored):
  a        a symbol           .        any symbol          ()       the empty word
  @        the empty language  ~e      complement (over alphabet*)
  e*       star               ef       concatenation        e|f      union
  (e)      grouping
Precedence, tightest first: * then ~ then concatenation then |. So ~a* is ~(a*), ~ab is (~a)b.
Every operation is done on complete DFAs (product, subset construction), then minimized.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ssm_expressivity import automata

_SPECIAL = set("()|*~.@")


class RegexError(ValueError):
  """The text is not a regular expression of this syntax over the alphabet."""


def _dfa(alphabet, table, start, accepting) -> automata.DFA:
  return automata.minimize(automata.DFA(tuple(alphabet), np.array(table, np.int64).reshape(
      len(table), len(alphabet)), start, frozenset(accepting)))


def _symbols(alphabet, symbols) -> automata.DFA:
  # 0 start, 1 accept, 2 dead
  k = len(alphabet)
  table = [[1 if c in symbols else 2 for c in alphabet], [2] * k, [2] * k]
  return _dfa(alphabet, table, 0, {1})


def _empty_word(alphabet) -> automata.DFA:
  return _dfa(alphabet, [[1] * len(alphabet), [1] * len(alphabet)], 0, {0})


def _nothing(alphabet) -> automata.DFA:
  return _dfa(alphabet, [[0] * len(alphabet)], 0, set())


def complement(a: automata.DFA) -> automata.DFA:
  return _dfa(a.alphabet, a.transitions.tolist(), a.start,
              set(range(a.num_states)) - set(a.accepting))


def union(a: automata.DFA, b: automata.DFA) -> automata.DFA:
  k = len(a.alphabet)
  n = b.num_states
  table = [[int(a.transitions[p, i]) * n + int(b.transitions[q, i]) for i in range(k)]
           for p in range(a.num_states) for q in range(n)]
  accepting = {p * n + q for p in range(a.num_states) for q in range(n)
               if p in a.accepting or q in b.accepting}
  return _dfa(a.alphabet, table, a.start * n + b.start, accepting)


def _subset_dfa(alphabet, start: frozenset, move, accepting) -> automata.DFA:
  """Subset construction: states are frozensets; `move(state, i)` the successor."""
  index, order = {start: 0}, [start]
  table = []
  while len(table) < len(order):
    state = order[len(table)]
    row = []
    for i in range(len(alphabet)):
      nxt = move(state, i)
      if nxt not in index:
        index[nxt] = len(order)
        order.append(nxt)
      row.append(index[nxt])
    table.append(row)
  return _dfa(alphabet, table, 0, {j for j, s in enumerate(order) if accepting(s)})


def concat(a: automata.DFA, b: automata.DFA) -> automata.DFA:
  """States: (state of a, set of states of b started at every accepted prefix)."""
  def close(p, qs):
    return (p, frozenset(qs | {b.start}) if p in a.accepting else frozenset(qs))

  def move(state, i):
    (p, qs), = state
    return frozenset([close(int(a.transitions[p, i]),
                            {int(b.transitions[q, i]) for q in qs})])
  return _subset_dfa(a.alphabet, frozenset([close(a.start, set())]), move,
                     lambda s: any(q in b.accepting for _, qs in s for q in qs))


def star(a: automata.DFA) -> automata.DFA:
  """States: sets of a-states; an accepting state also starts a fresh copy."""
  def close(qs):
    return frozenset(qs | {a.start}) if qs & a.accepting else frozenset(qs)

  def move(state, i):
    if state == frozenset(["eps"]):
      state = frozenset([a.start])
    return close({int(a.transitions[q, i]) for q in state})
  return _subset_dfa(a.alphabet, frozenset(["eps"]), move,
                     lambda s: s == frozenset(["eps"]) or bool(s & a.accepting))


class _Parser:
  def __init__(self, text: str, alphabet: Sequence[str]):
    self.text = "".join(text.split())
    self.alphabet = tuple(alphabet)
    self.pos = 0
    bad = [s for s in self.alphabet if len(s) != 1 or s in _SPECIAL]
    if bad or not self.alphabet:
      raise RegexError(f"the alphabet must be non-empty single characters other than "
                       f"{''.join(sorted(_SPECIAL))}; got {list(self.alphabet)}")

  def fail(self, message: str):
    raise RegexError(f"regex {self.text!r} at position {self.pos}: {message}")

  def peek(self):
    return self.text[self.pos] if self.pos < len(self.text) else None

  def parse(self) -> automata.DFA:
    if not self.text:
      self.fail("empty expression (write () for the empty word)")
    result = self.union()
    if self.peek() is not None:
      self.fail(f"unexpected {self.peek()!r}")
    return result

  def union(self):
    result = self.concat()
    while self.peek() == "|":
      self.pos += 1
      result = union(result, self.concat())
    return result

  def concat(self):
    if self.peek() in (None, "|", ")"):
      self.fail("missing operand")
    result = self.complement()
    while self.peek() not in (None, "|", ")"):
      result = concat(result, self.complement())
    return result

  def complement(self):
    if self.peek() == "~":
      self.pos += 1
      return complement(self.complement())
    return self.starred()

  def starred(self):
    result = self.atom()
    while self.peek() == "*":
      self.pos += 1
      result = star(result)
    return result

  def atom(self):
    c = self.peek()
    if c is None:
      self.fail("missing operand")
    self.pos += 1
    if c == "(":
      if self.peek() == ")":
        self.pos += 1
        return _empty_word(self.alphabet)
      inner = self.union()
      if self.peek() != ")":
        self.fail("missing ')'")
      self.pos += 1
      return inner
    if c == ".":
      return _symbols(self.alphabet, set(self.alphabet))
    if c == "@":
      return _nothing(self.alphabet)
    if c in self.alphabet:
      return _symbols(self.alphabet, {c})
    self.pos -= 1
    self.fail(f"{c!r} is neither an operator nor a symbol of the alphabet "
              f"{list(self.alphabet)}")


def to_dfa(text: str, alphabet: Sequence[str]) -> automata.DFA:
  """The minimal complete DFA of the expression `text` over `alphabet`."""
  return _Parser(text, alphabet).parse()


def alphabet_of(text: str) -> tuple[str, ...]:
  """The symbols that occur in `text`, sorted (the default alphabet)."""
  return tuple(sorted({c for c in text if c not in _SPECIAL and not c.isspace()}))

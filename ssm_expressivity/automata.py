"""Deterministic finite automata: minimization, syntactic monoid, star-freeness.

    dfa = DFA(alphabet=("a",), transitions=[[1], [0]], start=0, accepting={0})   # (aa)*
    is_star_free(dfa)          # False: the syntactic monoid contains the group Z2

A language is star-free iff its syntactic monoid is aperiodic (Schutzenberger); the syntactic
monoid is the transition monoid of the minimal DFA. Users pass transition tables; there is no
regular-expression parser.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Sequence

import numpy as np

# Default bound on the number of monoid elements `transition_monoid` enumerates.
DEFAULT_MAX_MONOID_SIZE = 200_000


class MonoidTooLargeError(ValueError):
  """The transition monoid has more elements than the caller allowed."""


@dataclasses.dataclass(frozen=True, eq=False)
class DFA:
  """A complete DFA. `transitions[q, i]` is the state reached from q on `alphabet[i]`."""

  alphabet: tuple[str, ...]
  transitions: np.ndarray
  start: int
  accepting: frozenset

  def __post_init__(self):
    table = np.asarray(self.transitions, dtype=np.int64)
    if table.ndim == 1 and table.size == 0:
      table = table.reshape(0, len(self.alphabet))
    if table.ndim != 2 or table.shape[1] != len(self.alphabet):
      raise ValueError(
          f"transitions must have shape [n_states, {len(self.alphabet)}], got {table.shape}")
    if len(set(self.alphabet)) != len(self.alphabet):
      raise ValueError(f"alphabet has repeated symbols: {list(self.alphabet)}")
    n = table.shape[0]
    if table.size and (table.min() < 0 or table.max() >= n):
      raise ValueError("transitions must name states 0 .. n_states-1")
    if not 0 <= self.start < n:
      raise ValueError(f"start state {self.start} is not in 0 .. {n - 1}")
    if any(not 0 <= q < n for q in self.accepting):
      raise ValueError("accepting states must be in 0 .. n_states-1")
    table = table.copy()
    table.setflags(write=False)  # frozen: the table is part of the automaton's identity
    object.__setattr__(self, "transitions", table)
    object.__setattr__(self, "alphabet", tuple(self.alphabet))
    object.__setattr__(self, "accepting", frozenset(int(q) for q in self.accepting))

  @property
  def num_states(self) -> int:
    return self.transitions.shape[0]

  def run(self, word: Sequence[str], state: int | None = None) -> int:
    q = self.start if state is None else state
    index = {s: i for i, s in enumerate(self.alphabet)}
    for s in word:
      if s not in index:
        raise ValueError(f"symbol {s!r} is not in the alphabet {list(self.alphabet)}")
      q = int(self.transitions[q, index[s]])
    return q

  def accepts(self, word: Sequence[str]) -> bool:
    return self.run(word) in self.accepting

  def reachable_states(self) -> frozenset:
    """States reachable from the start state."""
    return frozenset(_reach(self.transitions, [self.start]))

  def live_states(self) -> frozenset:
    """States from which some accepting state can be reached (accepting states included)."""
    n = self.num_states
    predecessors: list[set[int]] = [set() for _ in range(n)]
    for q in range(n):
      for r in self.transitions[q]:
        predecessors[int(r)].add(q)
    seen = set(self.accepting)
    queue = collections.deque(seen)
    while queue:
      r = queue.popleft()
      for q in predecessors[r]:
        if q not in seen:
          seen.add(q)
          queue.append(q)
    return frozenset(seen)

  def __repr__(self) -> str:
    return (f"DFA(alphabet={self.alphabet}, num_states={self.num_states}, "
            f"start={self.start}, accepting={sorted(self.accepting)})")


def _reach(table: np.ndarray, sources: Sequence[int]) -> list[int]:
  """States reachable from `sources`, in breadth-first order (letters in alphabet order)."""
  order = list(dict.fromkeys(int(q) for q in sources))
  seen = set(order)
  head = 0
  while head < len(order):
    for r in table[order[head]]:
      r = int(r)
      if r not in seen:
        seen.add(r)
        order.append(r)
    head += 1
  return order


def on_cycle(q: int, successors: dict) -> bool:
  """True iff state `q` lies on a cycle of the graph `successors` (state -> set of states)."""
  seen, stack = set(), list(successors[q])
  while stack:
    r = stack.pop()
    if r == q:
      return True
    if r not in seen:
      seen.add(r)
      stack.extend(successors[r])
  return False


def minimize(dfa: DFA) -> DFA:
  """The minimal complete DFA of the same language, in canonical form.

  Unreachable states are dropped, then Moore's partition refinement merges equivalent states.
  States are renumbered in breadth-first order from the start (letters in alphabet order),
  so two DFAs of the same language over the same alphabet minimize to identical tables.
  """
  table = dfa.transitions
  reachable = _reach(table, [dfa.start])
  renumber = {q: i for i, q in enumerate(reachable)}
  sub = np.array([[renumber[int(r)] for r in table[q]] for q in reachable],
                 dtype=np.int64).reshape(len(reachable), len(dfa.alphabet))
  accepting = np.array([q in dfa.accepting for q in reachable], dtype=np.int64)

  # Moore: refine the accepting/rejecting split by successor classes until it is stable.
  classes = np.unique(accepting, return_inverse=True)[1].reshape(-1)
  while True:
    signature = np.concatenate([classes[:, None], classes[sub]], axis=1)
    refined = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
    if refined.max(initial=-1) == classes.max(initial=-1):
      break
    classes = refined

  num_classes = int(classes.max()) + 1
  quotient = np.zeros((num_classes, len(dfa.alphabet)), dtype=np.int64)
  quotient[classes] = classes[sub]
  quotient_accepting = {int(classes[i]) for i in np.flatnonzero(accepting)}
  start = int(classes[0])

  # Canonical numbering: breadth-first from the start state.
  order = _reach(quotient, [start])
  rank = np.empty(num_classes, dtype=np.int64)
  rank[order] = np.arange(num_classes)
  canonical = rank[quotient[order]]
  return DFA(dfa.alphabet, canonical, 0, frozenset(int(rank[q]) for q in quotient_accepting))


def equivalent(first: DFA, second: DFA) -> bool:
  """True iff the two DFAs accept the same language (alphabets must be the same set)."""
  if set(first.alphabet) != set(second.alphabet):
    raise ValueError(
        f"cannot compare DFAs over different alphabets {sorted(first.alphabet)} and "
        f"{sorted(second.alphabet)}")
  columns = [second.alphabet.index(s) for s in first.alphabet]
  second = DFA(first.alphabet, second.transitions[:, columns], second.start, second.accepting)
  a, b = minimize(first), minimize(second)
  return (a.num_states == b.num_states and a.accepting == b.accepting
          and np.array_equal(a.transitions, b.transitions))


def transition_monoid(dfa: DFA,
                      max_size: int = DEFAULT_MAX_MONOID_SIZE) -> frozenset[tuple[int, ...]]:
  """The syntactic monoid of L(dfa): the transition monoid of the minimal DFA.

  Each element is the state transformation of a word as a tuple `t` with `t[q]` the state
  reached from q (states of `minimize(dfa)`); the identity (empty word) is included.
  Enumerated by breadth-first closure under right multiplication by the letters; raises
  MonoidTooLargeError when there are more than `max_size` elements.
  """
  if max_size < 1:
    raise ValueError(f"max_size must be >= 1, got {max_size}")
  minimal = minimize(dfa)
  n = minimal.num_states
  dtype = np.uint8 if n <= 256 else np.uint16 if n <= 65536 else np.uint32
  letters = [minimal.transitions[:, i].astype(dtype) for i in range(len(minimal.alphabet))]
  identity = np.arange(n, dtype=dtype)
  seen = {identity.tobytes()}
  frontier = [identity]
  while frontier:
    next_frontier = []
    for element in frontier:
      for letter in letters:
        product = letter[element]  # first the word, then the letter
        key = product.tobytes()
        if key not in seen:
          seen.add(key)
          if len(seen) > max_size:
            raise MonoidTooLargeError(
                f"the transition monoid of this {n}-state minimal DFA has more than "
                f"{max_size} elements; pass a larger max_size to enumerate it")
          next_frontier.append(product)
    frontier = next_frontier
  return frozenset(tuple(int(q) for q in np.frombuffer(key, dtype=dtype)) for key in seen)


def is_aperiodic(monoid: frozenset[tuple[int, ...]] | Sequence[tuple[int, ...]]) -> bool:
  """True iff every element m has m^k == m^(k+1) for some k (k <= |monoid| suffices)."""
  elements = np.array(sorted(monoid), dtype=np.int64)
  if elements.size == 0:
    return True
  powers = elements.copy()  # m^1
  # The powers m, m^2, ... of a transformation become periodic after at most n_states steps.
  for _ in range(elements.shape[1] + 1):
    powers = np.take_along_axis(elements, powers, axis=1)  # m^(k+1) = m o m^k
  following = np.take_along_axis(elements, powers, axis=1)
  return bool(np.array_equal(powers, following))


def is_star_free(dfa: DFA, max_size: int = DEFAULT_MAX_MONOID_SIZE) -> bool:
  """True iff L(dfa) is star-free, i.e. its syntactic monoid is aperiodic."""
  return is_aperiodic(transition_monoid(dfa, max_size=max_size))

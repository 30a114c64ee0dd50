"""Deterministic finite automata: minimization, syntactic monoid, star-freeness.

(Contract placeholder: the constructor below is final; the algorithms land with issue 2.)
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class DFA:
  """A complete DFA. `transitions[q, i]` is the state reached from q on `alphabet[i]`."""

  alphabet: tuple[str, ...]
  transitions: np.ndarray
  start: int
  accepting: frozenset

  def __post_init__(self):
    table = np.asarray(self.transitions, dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != len(self.alphabet):
      raise ValueError(
          f"transitions must have shape [n_states, {len(self.alphabet)}], got {table.shape}")
    n = table.shape[0]
    if table.size and (table.min() < 0 or table.max() >= n):
      raise ValueError("transitions must name states 0 .. n_states-1")
    if not 0 <= self.start < n:
      raise ValueError(f"start state {self.start} is not in 0 .. {n - 1}")
    if any(not 0 <= q < n for q in self.accepting):
      raise ValueError("accepting states must be in 0 .. n_states-1")
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
      q = int(self.transitions[q, index[s]])
    return q

  def accepts(self, word: Sequence[str]) -> bool:
    return self.run(word) in self.accepting

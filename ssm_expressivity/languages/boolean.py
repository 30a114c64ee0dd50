"""Boolean-k: well-formed Boolean expressions in prefix (Polish) notation (spec §4.3).

Operands `0`, `1`; operator j (arity j) for j = 1..k: `~ + > * ^`. The language is syntactic
(nothing is evaluated). A counter of open operand slots decides membership: it starts at 1,
each symbol changes it by arity - 1, and no symbol may follow the point where it hits 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ssm_expressivity.languages.base import EOS, Language
from ssm_expressivity.languages.dyck import (UniformStream, Window, child_rngs,
                                             draw_distinct, resolve_sizes)

OPERANDS = ("0", "1")
# Operator of arity j is OPERATORS[j - 1].
OPERATORS = ("~", "+", ">", "*", "^")


class Boolean(Language):
  """Boolean-k; paper label: `1` iff the prefix is a complete expression."""

  category = "counter"

  def __init__(self, name: str, k: int, p_operator: float, windows: Sequence[Window]):
    if not 1 <= k <= len(OPERATORS):
      raise ValueError(f"k must be in 1 .. {len(OPERATORS)}, got {k}")
    if not 0 <= p_operator < 1:
      raise ValueError(f"p_operator must be in [0, 1), got {p_operator}")
    self.name = name
    self.k = k
    self.p_operator = p_operator
    self.alphabet = OPERANDS + OPERATORS[:k]
    self._arity = {s: 0 for s in OPERANDS}
    self._arity.update({op: j + 1 for j, op in enumerate(OPERATORS[:k])})
    self.windows = tuple(windows)
    self._open = frozenset(self.alphabet)
    self._done = frozenset({EOS})

  # ---- exact semantics -------------------------------------------------------------------

  def _needs(self, word: Sequence[str]) -> list[int]:
    """Open slots after each prefix, -1 from the first dead prefix on."""
    needs = []
    need = 1
    for s in word:
      arity = self._arity.get(s)
      if need <= 0 or arity is None:
        need = -1
      else:
        need += arity - 1
      needs.append(need)
    return needs

  def accepts(self, word: Sequence[str]) -> bool:
    return len(word) > 0 and self._needs(word)[-1] == 0

  def _next_set(self, need: int) -> frozenset:
    if need > 0:
      return self._open  # any symbol keeps at least one slot to fill or fills the last
    return self._done if need == 0 else frozenset()

  def allowed_next(self, prefix: Sequence[str]) -> frozenset:
    return self._next_set(self._needs(prefix)[-1] if len(prefix) else 1)

  def allowed_next_all(self, word: Sequence[str]) -> list[frozenset]:
    return [self._next_set(need) for need in self._needs(word)]

  # ---- sampling ----------------------------------------------------------------------------

  def valid_lengths(self, lo: int, hi: int) -> list[int]:
    return list(range(max(lo, 1), hi + 1))  # ~...~0 has every length >= 1

  def sample(self, rng: np.random.Generator, length: int) -> str:
    """An expression of exactly `length` symbols: the paper's symbol probabilities,
    restricted at each step to the symbols that can still finish exactly at `length`."""
    if not isinstance(length, (int, np.integer)) or length < 1:
      raise ValueError(f"{self.name} has words of every length >= 1; got {length}")
    weights = [(1 - self.p_operator) / 2] * 2 + [self.p_operator / self.k] * self.k
    arities = [self._arity[s] for s in self.alphabet]
    uniforms = rng.random(length).tolist()
    out = []
    need = 1
    for t in range(length):
      remaining = length - t - 1
      # Slots left after this symbol must be fillable by the rest (each fills at most one)
      # and must not close the expression early.
      ok = [after <= remaining and (after >= 1 if remaining else after == 0)
            for after in (need - 1 + a for a in arities)]
      probs = [w if good else 0.0 for w, good in zip(weights, ok)]
      total = sum(probs)
      if total == 0:  # p_operator = 0 forbids the operators needed here: pick uniformly
        probs, total = [float(good) for good in ok], float(sum(ok))
      target = uniforms[t] * total
      index = max(i for i, good in enumerate(ok) if good)  # round-off fallback
      cumulative = 0.0
      for i, prob in enumerate(probs):
        cumulative += prob
        if prob and target < cumulative:
          index = i
          break
      out.append(self.alphabet[index])
      need += arities[index] - 1
    return "".join(out)

  def _candidate(self, uniforms: UniformStream, hi: int) -> str:
    """One draw of the official generator (spec §4.3); empty when it runs past hi symbols."""
    out = []
    need = 1
    for _ in range(hi):
      u = uniforms.next()
      if u < 1 - self.p_operator:
        out.append(OPERANDS[min(int(u / (1 - self.p_operator) * 2), 1)])
        need -= 1
      else:
        j = min(int((u - (1 - self.p_operator)) / self.p_operator * self.k), self.k - 1) + 1
        out.append(OPERATORS[j - 1])
        need += j - 1
      if need == 0:
        return "".join(out)
    return ""

  def paper_splits(self, rng: np.random.Generator,
                   sizes: dict[str, int] | None = None) -> dict[str, list]:
    """A joint distinct corpus for train + bin0 (disjoint), independent later bins (§4.3).

    The official code split a Python set (arbitrary order); this splits a seeded shuffle.
    """
    windows = resolve_sizes(self.windows, sizes)
    train, bin0, *later = windows
    rngs = child_rngs(rng, 1 + len(later))
    uniforms = UniformStream(rngs[0])
    joint = draw_distinct(lambda: self._candidate(uniforms, train.hi),
                          train.size + bin0.size, train.lo, train.hi,
                          f"{self.name} train+bin0")
    # A seeded shuffle stands in for the set order, so train and bin0 share one distribution
    # (in draw order the short words would crowd into train).
    joint = [joint[i] for i in rngs[0].permutation(len(joint))]
    splits = {"train": joint[:train.size], "bin0": joint[train.size:]}
    for window, child in zip(later, rngs[1:]):
      stream = UniformStream(child)
      splits[window.name] = draw_distinct(
          lambda: self._candidate(stream, window.hi), window.size, window.lo, window.hi,
          f"{self.name} {window.name}")
    return splits

  # ---- training targets ----------------------------------------------------------------------

  def paper_labels(self, word: Sequence[str]) -> list[str]:
    self._check_symbols(word)
    return ["1" if need == 0 else "0" for need in self._needs(word)]

  def paper_label_classes(self) -> tuple[str, ...]:
    return ("0", "1")


def _windows() -> list[Window]:
  # train and bin0 share the window [2, 50] (joint corpus, split 10000 / 2000).
  return [Window("train", 2, 50, 10_000), Window("bin0", 2, 50, 2_000),
          Window("bin1", 51, 100, 2_000), Window("bin2", 100, 150, 2_000)]


def boolean3() -> Boolean:
  return Boolean("boolean3", 3, 0.5, _windows())


def boolean5() -> Boolean:
  return Boolean("boolean5", 5, 0.3, _windows())


LANGUAGES = {"boolean3": boolean3, "boolean5": boolean5}

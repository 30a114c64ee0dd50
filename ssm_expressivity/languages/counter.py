"""a^n b^n, a^n b^n c^n, a^n b^n c^n d^n (n >= 1) (spec §4.4).

Paper labels are class letters: `a` = {a, b} (inside the a-block), `b`/`c`/`d` = that letter
only, `T` = end of string. Windows are on n, not on the length.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ssm_expressivity.languages.base import EOS, Language
from ssm_expressivity.languages.dyck import Window, child_rngs, resolve_sizes

LETTERS = ("a", "b", "c", "d")
END_CLASS = "T"


class CounterLanguage(Language):
  """{ letters[0]^n letters[1]^n ... : n >= 1 } over the first m letters of a b c d."""

  category = "counter"

  def __init__(self, name: str, m: int, windows: Sequence[Window]):
    if not 2 <= m <= len(LETTERS):
      raise ValueError(f"m must be in 2 .. {len(LETTERS)}, got {m}")
    self.name = name
    self.m = m
    self.alphabet = LETTERS[:m]
    self.windows = tuple(windows)
    self._index = {s: i for i, s in enumerate(self.alphabet)}
    self._first_block = frozenset(self.alphabet[:2])
    self._single = [frozenset({s}) for s in self.alphabet]
    self._end = frozenset({EOS})

  # ---- exact semantics -------------------------------------------------------------------

  def _states(self, word: Sequence[str]) -> list[tuple[int, int, int] | None]:
    """After each prefix: (block, n, count in block) or None once the prefix is dead.

    block = index of the letter being read; n = length of the a-block (fixed once a `b`
    is read, growing while in block 0).
    """
    states = []
    block, n, count = 0, 0, 0
    dead = False
    for s in word:
      letter = self._index.get(s)
      if dead or letter is None:
        dead = True
      elif letter == block and (block == 0 or count < n):
        count += 1
        n = count if block == 0 else n
      elif letter == block + 1 and count == n and n > 0:
        block, count = letter, 1
      else:
        dead = True
      states.append(None if dead else (block, n, count))
    return states

  def _next_set(self, state: tuple[int, int, int] | None) -> frozenset:
    if state is None:
      return frozenset()
    block, n, count = state
    if block == 0:
      return self._first_block
    if count < n:
      return self._single[block]
    if block == self.m - 1:
      return self._end
    return self._single[block + 1]

  def accepts(self, word: Sequence[str]) -> bool:
    return len(word) > 0 and EOS in self._next_set(self._states(word)[-1])

  def allowed_next(self, prefix: Sequence[str]) -> frozenset:
    if len(prefix) == 0:
      return frozenset({self.alphabet[0]})
    return self._next_set(self._states(prefix)[-1])

  def allowed_next_all(self, word: Sequence[str]) -> list[frozenset]:
    return [self._next_set(state) for state in self._states(word)]

  # ---- sampling ----------------------------------------------------------------------------

  def word(self, n: int) -> str:
    """The member with blocks of length n."""
    return "".join(letter * n for letter in self.alphabet)

  def valid_lengths(self, lo: int, hi: int) -> list[int]:
    start = max(lo, self.m)
    start += (-start) % self.m
    return list(range(start, hi + 1, self.m))

  def sample(self, rng: np.random.Generator, length: int) -> str:
    """The only member of `length` symbols (rng unused: there is one word per length)."""
    del rng
    if not isinstance(length, (int, np.integer)) or length < self.m or length % self.m:
      raise ValueError(
          f"{self.name} has words of lengths {self.m}, {2 * self.m}, {3 * self.m}, ... "
          f"(multiples of {self.m}) only; got {length}")
    return self.word(length // self.m)

  def paper_splits(self, rng: np.random.Generator,
                   sizes: dict[str, int] | None = None) -> dict[str, list]:
    """Per split: `size` draws of n ~ U{lo..hi}, deduplicated in draw order (§4.4).

    The windows (and `sizes`) count draws of n, so a split has at most hi - lo + 1 words.
    """
    windows = resolve_sizes(self.windows, sizes)
    splits = {}
    for window, child in zip(windows, child_rngs(rng, len(windows))):
      ns = child.integers(window.lo, window.hi + 1, size=window.size).tolist()
      splits[window.name] = [self.word(n) for n in dict.fromkeys(ns)]
    return splits

  # ---- training targets ----------------------------------------------------------------------

  def paper_labels(self, word: Sequence[str]) -> list[str]:
    """Class letters: `a` for {a, b}, the single letter otherwise, `T` for end of string."""
    self._check_symbols(word)
    labels = []
    for t, allowed in enumerate(self.allowed_next_all(word)):
      if not allowed:
        raise ValueError(f"{self.name}: paper labels need a prefix of a member; "
                         f"{''.join(word[:t + 1])!r} is not one")
      if len(allowed) == 2:
        labels.append(self.alphabet[0])
      else:
        (symbol,) = allowed
        labels.append(END_CLASS if symbol == EOS else symbol)
    return labels

  def paper_label_classes(self) -> tuple[str, ...]:
    return tuple(sorted(self.alphabet + (END_CLASS,)))


def _windows(hi: int, lo: int) -> list[Window]:
  # train and bin0 share [lo, hi]; bin1 = [hi+1, 2hi]; bin2 = [2hi, 3hi] (windows on n).
  return [Window("train", lo, hi, 1_000), Window("bin0", lo, hi, 50),
          Window("bin1", hi + 1, 2 * hi, 50), Window("bin2", 2 * hi, 3 * hi, 50)]


def anbn() -> CounterLanguage:
  return CounterLanguage("anbn", 2, _windows(100, 2))


def anbncn() -> CounterLanguage:
  return CounterLanguage("anbncn", 3, _windows(150, 3))


def anbncndn() -> CounterLanguage:
  return CounterLanguage("anbncndn", 4, _windows(200, 4))


LANGUAGES = {"anbn": anbn, "anbncn": anbncn, "anbncndn": anbncndn}

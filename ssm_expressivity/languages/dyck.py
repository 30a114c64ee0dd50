"""Dyck-1 and Shuffle-k: the shuffle of k Dyck-1 languages over k bracket pairs (spec §4.1-4.2).

Membership is the true shuffle: for every pair, opener count minus closer count is >= 0 on
every prefix and 0 at the end, so crossing (`([)]`) is allowed. Dyck-1 is Shuffle-1.
The paper's sampler (a Dyck-k PCFG) only produces well-nested words; `sample(rng, length)`
draws crossing words too.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from typing import Callable, Sequence

import numpy as np

from ssm_expressivity.languages.base import EOS, Language

# The official code's bracket pairs, in order; Shuffle-k uses the first k.
PAIRS = (("(", ")"), ("[", "]"), ("{", "}"), ("<", ">"), ("+", "-"), ("a", "b"))

# PCFG probabilities of the official sampler: wrap in a pair with P, concatenate with Q.
_P_WRAP = 0.5
_P_CONCAT = 0.25


@dataclasses.dataclass(frozen=True)
class Window:
  """One paper split: `size` distinct words drawn from the length window [lo, hi]."""

  name: str
  lo: int
  hi: int
  size: int


class UniformStream:
  """Uniform [0, 1) floats from `rng`, drawn in blocks (a Python loop pays ~100 ns a draw)."""

  def __init__(self, rng: np.random.Generator, block: int = 4096):
    self._rng = rng
    self._block = block
    self._buffer: list[float] = []
    self._index = 0

  def next(self) -> float:
    if self._index == len(self._buffer):
      self._buffer = self._rng.random(self._block).tolist()
      self._index = 0
    value = self._buffer[self._index]
    self._index += 1
    return value


def child_rngs(rng: np.random.Generator, count: int) -> list[np.random.Generator]:
  """`count` independent generators derived from `rng`, so that one split's size does not
  change the words of another."""
  seeds = rng.integers(0, 2**63, size=count)
  return [np.random.default_rng(int(seed)) for seed in seeds]


def resolve_sizes(windows: Sequence[Window], sizes: dict[str, int] | None) -> list[Window]:
  """`windows` with sizes overridden by `sizes`; ValueError for unknown names or bad sizes."""
  sizes = dict(sizes or {})
  valid = [w.name for w in windows]
  unknown = sorted(set(sizes) - set(valid))
  if unknown:
    raise ValueError(f"unknown split(s) {unknown}; valid splits: {', '.join(valid)}")
  for name, size in sizes.items():
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
      raise ValueError(f"size of split {name!r} must be an integer >= 0, got {size!r}")
  return [dataclasses.replace(w, size=int(sizes.get(w.name, w.size))) for w in windows]


def draw_distinct(candidate: Callable[[], str], count: int, lo: int, hi: int,
                  what: str, max_stall: int = 100_000) -> list[str]:
  """Draws candidates until `count` distinct ones with lo <= length <= hi, in draw order.

  Bounded: fails with ValueError when `max_stall` draws in a row bring no new word (the
  window cannot supply that many distinct words, or hardly).
  """
  seen: dict[str, None] = {}
  stall = 0
  while len(seen) < count:
    word = candidate()
    if lo <= len(word) <= hi and word not in seen:
      seen[word] = None
      stall = 0
    else:
      stall += 1
      if stall >= max_stall:
        raise ValueError(
            f"{what}: only {len(seen)} distinct words of length in [{lo}, {hi}] found, then "
            f"{max_stall} draws in a row brought no new one; ask for fewer than {count}")
  return list(seen)


def pcfg_word(uniforms: UniformStream, pairs: Sequence[tuple[str, str]], max_len: int) -> str:
  """One draw of the official Dyck-k PCFG G(0, max_len) (spec §4.1), without recursion.

  G(cur, M): empty if cur >= M; else with P wrap a uniform pair around G(cur + 2, M), with
  Q concatenate G(cur, M) G(cur, M) (left first), else empty. A result longer than M
  collapses to the empty string.
  """
  gen, wrap, concat = 0, 1, 2
  ops: list[tuple] = [(gen, 0)]
  values: list[str] = []
  num_pairs = len(pairs)
  while ops:
    op = ops.pop()
    if op[0] == gen:
      cur = op[1]
      if cur >= max_len:
        values.append("")
        continue
      u = uniforms.next()
      if u < _P_WRAP:
        # u / P is uniform on [0, 1) given u < P: reuse it to pick the pair.
        opener, closer = pairs[min(int(u / _P_WRAP * num_pairs), num_pairs - 1)]
        ops.append((wrap, opener, closer))
        ops.append((gen, cur + 2))
      elif u < _P_WRAP + _P_CONCAT:
        ops.append((concat,))
        ops.append((gen, cur))
        ops.append((gen, cur))
      else:
        values.append("")
    elif op[0] == wrap:
      word = op[1] + values.pop() + op[2]
      values.append(word if len(word) <= max_len else "")
    else:
      right = values.pop()
      word = values.pop() + right
      values.append(word if len(word) <= max_len else "")
  return values[0]


class PcfgSampler:
  """The PCFG G(0, max_len) of spec §4.1 conditioned on a length window, sampled exactly.

  Drawing G(0, M) literally costs about M uniforms per candidate, and most candidates fall
  outside a late bin's window. Instead this computes the exact length law of G(c, M) at every
  level c (lengths in pairs, collapse included) and samples top-down: first the length from
  the law restricted to [lo, hi], then at each node which rule produced that length (wrap with
  the inner length, or a concatenation with the split point). Only sub-derivations that end up
  in the word are drawn, so a word of n pairs costs < 2n uniforms and none are rejected.

  The words have the same law as literal draws of G(0, M) kept when lo <= |w| <= hi
  (randomness is consumed differently; tests compare the two statistically). A concatenation
  with one empty side reproduces the same (level, length) state and is skipped: it does not
  change the law of the word.
  """

  def __init__(self, pairs: Sequence[tuple[str, str]], max_len: int):
    if max_len < 0:
      raise ValueError(f"max_len must be >= 0, got {max_len}")
    self.pairs = tuple(pairs)
    self.max_len = max_len
    self.max_pairs = max_len // 2
    # Levels l = cur / 2 with cur < max_len draw a rule; deeper ones are the empty word.
    self.num_levels = (max_len + 1) // 2
    self.length_laws = self._length_laws()
    self._rule_tables: dict[tuple[int, int], tuple[list[float], float]] = {}

  def _length_laws(self) -> np.ndarray:
    """[num_levels + 1, max_pairs + 1] float64: P(|G(2 l, M)| = 2 n)."""
    top = self.max_pairs
    laws = np.zeros((self.num_levels + 1, top + 1))
    laws[self.num_levels, 0] = 1.0
    p_empty = 1.0 - _P_WRAP - _P_CONCAT
    for level in range(self.num_levels - 1, -1, -1):
      inner = laws[level + 1]
      wrapped = np.zeros(top + 1)
      wrapped[1:] = _P_WRAP * inner[:top]
      wrap_overflow = _P_WRAP * inner[top]  # the inner word already has max_pairs pairs
      # Least fixed point of the concatenation rule, from below: the iterate after k steps
      # is the law restricted to concatenation trees of height < k, which converges
      # geometrically (each node concatenates with probability 1/4, two children).
      law = np.zeros(top + 1)
      for _ in range(10_000):
        both = np.convolve(law, law)
        new = wrapped + _P_CONCAT * both[:top + 1]
        new[0] = p_empty + wrap_overflow + _P_CONCAT * (both[0] + both[top + 1:].sum())
        converged = np.all(new - law <= 1e-15 * new)
        law = new
        if converged:
          break
      laws[level] = law
    return laws

  def _rules(self, level: int, num_pairs: int) -> tuple[list[float], float]:
    """Cumulative weights of the rules that give `num_pairs` > 0 pairs at `level`:
    index 0 wraps, index m concatenates m pairs with num_pairs - m pairs."""
    law = self.length_laws[level]
    weights = np.empty(num_pairs)
    weights[0] = _P_WRAP * self.length_laws[level + 1, num_pairs - 1]
    weights[1:] = _P_CONCAT * law[1:num_pairs] * law[num_pairs - 1:0:-1]
    cumulative = np.cumsum(weights)
    return cumulative.tolist(), float(cumulative[-1])

  def window_weights(self, lo: int, hi: int) -> np.ndarray:
    """P(|w| = 2 n) for n = 0 .. max_pairs, zero outside lo <= 2 n <= hi."""
    lengths = 2 * np.arange(self.max_pairs + 1)
    return np.where((lengths >= lo) & (lengths <= hi), self.length_laws[0], 0.0)

  def word(self, uniforms: UniformStream, num_pairs: int) -> str:
    """A word of G(0, M) conditioned on having exactly `num_pairs` pairs."""
    if not 0 <= num_pairs <= self.max_pairs or self.length_laws[0, num_pairs] <= 0:
      raise ValueError(f"G(0, {self.max_len}) has no word of {num_pairs} pairs")
    pairs, num_kinds, tables = self.pairs, len(self.pairs), self._rule_tables
    out: list[str] = []
    # Items: a closer to emit (str), or a (level, pairs) node still to derive.
    stack: list = [(0, num_pairs)] if num_pairs else []
    while stack:
      item = stack.pop()
      if item.__class__ is str:
        out.append(item)
        continue
      table = tables.get(item)
      if table is None:
        table = tables[item] = self._rules(*item)
      cumulative, total = table
      x = uniforms.next() * total
      level, n = item
      rule = min(bisect.bisect_right(cumulative, x), n - 1)  # n: x == total by round-off
      if rule == 0:
        # x / weight is uniform on [0, 1) given this rule: reuse it to pick the pair.
        opener, closer = pairs[min(int(x / cumulative[0] * num_kinds), num_kinds - 1)]
        out.append(opener)
        stack.append(closer)
        if n > 1:
          stack.append((level + 1, n - 1))
      else:
        stack.append((level, n - rule))  # right part, derived after the left one
        stack.append((level, rule))
    return "".join(out)

  def draw_window(self, rng: np.random.Generator, count: int, lo: int, hi: int,
                  what: str, max_stall: int = 100_000) -> list[str]:
    """`count` distinct words with lo <= |w| <= hi in draw order (`draw_distinct` of literal
    G(0, M) candidates, in law)."""
    if count == 0:
      return []
    try:
      candidate = self.window_candidates(rng, lo, hi)
    except ValueError as err:
      raise ValueError(f"{what}: {err}") from None
    return draw_distinct(candidate, count, lo, hi, what, max_stall)

  def window_candidates(self, rng: np.random.Generator, lo: int, hi: int) -> Callable[[], str]:
    """Independent draws of G(0, M) conditioned on lo <= |w| <= hi (with repeats)."""
    weights = self.window_weights(lo, hi)
    total = weights.sum()
    if total <= 0:
      raise ValueError(f"G(0, {self.max_len}) has no word of length in [{lo}, {hi}]; valid "
                       f"windows contain an even length <= {self.max_len}")
    cumulative = (np.cumsum(weights) / total).tolist()
    uniforms = UniformStream(rng)
    last = int(np.flatnonzero(weights)[-1])  # round-off never picks an empty length

    def candidate() -> str:
      num_pairs = min(bisect.bisect_right(cumulative, uniforms.next()), last)
      return self.word(uniforms, num_pairs)

    return candidate


class ShuffleDyck(Language):
  """Shuffle-k (Dyck-1 when k = 1); paper label: bit j = 1 iff pair j has an open bracket."""

  category = "counter"

  def __init__(self, name: str, k: int, windows: Sequence[Window]):
    if not 1 <= k <= len(PAIRS):
      raise ValueError(f"k must be in 1 .. {len(PAIRS)}, got {k}")
    self.name = name
    self.k = k
    self.pairs = PAIRS[:k]
    self.alphabet = tuple(s for pair in self.pairs for s in pair)
    self.windows = tuple(windows)
    # symbol -> (pair index, +1 for an opener / -1 for a closer)
    self._moves = {}
    for j, (opener, closer) in enumerate(self.pairs):
      self._moves[opener] = (j, 1)
      self._moves[closer] = (j, -1)
    self._openers = frozenset(p[0] for p in self.pairs)

  # ---- exact semantics -------------------------------------------------------------------

  def accepts(self, word: Sequence[str]) -> bool:
    return EOS in self.allowed_next(word)

  def _next_set(self, open_mask: int) -> frozenset:
    allowed = set(self._openers)
    allowed.update(self.pairs[j][1] for j in range(self.k) if open_mask >> j & 1)
    if open_mask == 0:
      allowed.add(EOS)
    return frozenset(allowed)

  def allowed_next(self, prefix: Sequence[str]) -> frozenset:
    if len(prefix) == 0:
      return self._next_set(0)
    return self.allowed_next_all(prefix)[-1]

  def allowed_next_all(self, word: Sequence[str]) -> list[frozenset]:
    # Prefixes stay live until the first foreign symbol or negative count: find that point.
    live = len(word)
    deltas = np.zeros((len(word), self.k), dtype=np.int64)
    for t, s in enumerate(word):
      move = self._moves.get(s)
      if move is None:
        live = t
        break
      deltas[t, move[0]] = move[1]
    counts = np.cumsum(deltas[:live], axis=0)
    negative = np.flatnonzero((counts < 0).any(axis=1))
    if negative.size:
      live = int(negative[0])
    masks = ((counts[:live] > 0) * (1 << np.arange(self.k))).sum(axis=1).tolist()
    cache: dict[int, frozenset] = {}
    result = []
    for mask in masks:
      if mask not in cache:
        cache[mask] = self._next_set(mask)
      result.append(cache[mask])
    return result + [frozenset()] * (len(word) - live)

  # ---- sampling ----------------------------------------------------------------------------

  def valid_lengths(self, lo: int, hi: int) -> list[int]:
    start = max(lo, 0)
    return list(range(start + start % 2, hi + 1, 2))

  def sample(self, rng: np.random.Generator, length: int) -> str:
    """A member of exactly `length` symbols: each step uniform over the symbols that keep
    the word completable in the remaining steps (crossings allowed for k > 1)."""
    if not isinstance(length, (int, np.integer)) or length < 0 or length % 2:
      raise ValueError(f"{self.name} has words of even lengths 0, 2, 4, ... only; got {length}")
    counts = [0] * self.k
    total_open = 0
    out = []
    uniforms = rng.random(length).tolist()
    for t in range(length):
      remaining = length - t - 1  # symbols after this one
      choices = []
      if total_open + 1 <= remaining:
        choices.extend((j, 1) for j in range(self.k))
      choices.extend((j, -1) for j in range(self.k) if counts[j] > 0)
      j, step = choices[int(uniforms[t] * len(choices))]
      counts[j] += step
      total_open += step
      out.append(self.pairs[j][0 if step > 0 else 1])
    return "".join(out)

  def paper_splits(self, rng: np.random.Generator,
                   sizes: dict[str, int] | None = None) -> dict[str, list]:
    """Train and bins: independent PCFG corpora, each deduplicated in draw order (§4.1-4.2)."""
    windows = resolve_sizes(self.windows, sizes)
    splits = {}
    samplers: dict[int, PcfgSampler] = {}  # the length tables depend on hi only
    for window, child in zip(windows, child_rngs(rng, len(windows))):
      if window.hi not in samplers:
        samplers[window.hi] = PcfgSampler(self.pairs, window.hi)
      splits[window.name] = samplers[window.hi].draw_window(
          child, window.size, window.lo, window.hi, f"{self.name} {window.name}")
    return splits

  def pcfg_sample(self, rng: np.random.Generator, max_len: int) -> str:
    """One draw of the official PCFG with length bound `max_len` (may be empty)."""
    return pcfg_word(UniformStream(rng), self.pairs, max_len)

  # ---- training targets ----------------------------------------------------------------------

  def paper_labels(self, word: Sequence[str]) -> list[str]:
    self._check_symbols(word)
    deltas = np.zeros((len(word), self.k), dtype=np.int64)
    for t, s in enumerate(word):
      j, step = self._moves[s]
      deltas[t, j] = step
    bits = np.where(np.cumsum(deltas, axis=0) > 0, "1", "0")
    return ["".join(row) for row in bits.tolist()]

  def paper_label_classes(self) -> tuple[str, ...]:
    return tuple(sorted("".join(bits) for bits in itertools.product("01", repeat=self.k)))


def _windows(train: tuple[int, int], bins: Sequence[tuple[int, int]]) -> list[Window]:
  windows = [Window("train", train[0], train[1], 10_000)]
  windows += [Window(f"bin{i}", lo, hi, 2_000) for i, (lo, hi) in enumerate(bins)]
  return windows


def dyck1() -> ShuffleDyck:
  return ShuffleDyck("dyck1", 1, _windows((2, 50), [(2, 50), (52, 100), (102, 150)]))


def shuffle2() -> ShuffleDyck:
  return ShuffleDyck("shuffle2", 2, _windows((2, 50), [(2, 50), (52, 100), (100, 150)]))


def shuffle4() -> ShuffleDyck:
  return ShuffleDyck("shuffle4", 4, _windows((2, 100), [(2, 100), (102, 150), (150, 200)]))


def shuffle6() -> ShuffleDyck:
  return ShuffleDyck("shuffle6", 6, _windows((2, 100), [(2, 100), (102, 150), (150, 200)]))


LANGUAGES = {"dyck1": dyck1, "shuffle2": shuffle2, "shuffle4": shuffle4, "shuffle6": shuffle6}

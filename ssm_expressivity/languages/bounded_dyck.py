"""Dyck-(k, m): well-nested brackets of k types with stack depth at most m (spec §5.2).

A word is a tuple of tokens, openers `(a`, `(b`, ... and closers `a)`, `b)`, ..., WITHOUT
the data files' final `END` token: END is the EOS of `allowed_next`. The model input is
`START` followed by the word; the paper's target at every input position is the next token
(the word's tokens, then EOS for END). The empty word is a member; the paper's sampler
never draws it.
"""

from __future__ import annotations

import dataclasses
import pathlib
import string
from typing import Iterable, Sequence

import numpy as np

from ssm_expressivity.languages.base import EOS, Language
from ssm_expressivity.languages.dyck import UniformStream, child_rngs

START = "START"
END = "END"  # end token of the data files; EOS in allowed-next sets and paper labels


@dataclasses.dataclass(frozen=True)
class SplitConfig:
  """A paper split: lines of min_length..max_length tokens (END included) until the total
  token count reaches `budget`; words of depth at most `depth` (None: the language's)."""

  name: str
  min_length: int
  max_length: int
  budget: int
  depth: int | None = None


# The official experiment configs (Dyck(8, 10) runs). test20 is the yaml's deeper test set
# (depth 15, test's lengths; its file was never committed, its budget is not stated: test's).
SPLITS = (SplitConfig("train", 1, 700, 2_000_000), SplitConfig("dev", 1, 700, 200_000),
          SplitConfig("test", 701, 1400, 1_000_000),
          SplitConfig("test20", 701, 1400, 1_000_000, depth=15))


def type_names(k: int) -> list[str]:
  """Bracket type names: a .. z, then aa .. zz, then aaa ..."""
  letters = string.ascii_lowercase
  return [letters[i % 26] * (i // 26 + 1) for i in range(k)]


def format_line(word: Sequence[str]) -> str:
  """The data-file line of `word`: space-separated tokens ending in END."""
  return " ".join(tuple(word) + (END,))


def parse_line(line: str) -> tuple[str, ...]:
  """The word of a data-file line such as `(c c) END` (END removed)."""
  tokens = line.split()
  if not tokens or tokens[-1] != END:
    raise ValueError(f"a bounded Dyck line must end with {END!r}: {line[:60]!r}")
  if END in tokens[:-1] or START in tokens:
    raise ValueError(f"{END!r} / {START!r} inside a bounded Dyck line: {line[:60]!r}")
  return tuple(tokens[:-1])


def read_lines(path: str | pathlib.Path) -> list[tuple[str, ...]]:
  """Every word of a data file (one line per word, blank lines skipped)."""
  text = pathlib.Path(path).read_text()
  return [parse_line(line) for line in text.splitlines() if line.strip()]


def write_lines(path: str | pathlib.Path, words: Iterable[Sequence[str]]) -> None:
  """Writes `words` one line each, in the data-file format."""
  pathlib.Path(path).write_text("".join(format_line(w) + "\n" for w in words))


# Largest parameters accepted: 10^4 bracket types is a vocabulary of 2 * 10^4 tokens, and the
# sampler's tables grow with the depth; beyond these a value is a typo, not an experiment.
MAX_TYPES = 10_000
MAX_DEPTH = 100_000


class BoundedDyck(Language):
  """Dyck-(k, depth), with the official probabilistic-automaton sampler."""

  name = "bounded_dyck"
  category = "bounded_hierarchical"
  begin_symbol = START

  def __init__(self, k: int = 8, depth: int = 10):
    for label, value in (("k", k), ("depth", depth)):
      if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    for label, value, limit in (("k", k, MAX_TYPES), ("depth", depth, MAX_DEPTH)):
      if value > limit:
        raise ValueError(f"bounded_dyck: {label}={value} is above the limit of {limit:,}")
    self.k = int(k)
    self.depth = int(depth)
    names = type_names(self.k)
    self.openers = tuple("(" + n for n in names)
    self.closers = tuple(n + ")" for n in names)
    self.alphabet = self.openers + self.closers
    # token -> type index, positive for openers and ~index (negative) for closers
    self._code = {t: i for i, t in enumerate(self.openers)}
    self._code.update({t: ~i for i, t in enumerate(self.closers)})
    self._open_set = frozenset(self.openers)
    self._empty_set = frozenset(self.openers + (EOS,))
    self._inner_sets = [self._open_set | {c} for c in self.closers]
    self._full_sets = [frozenset({c}) for c in self.closers]

  def _symbols_of(self, word: Sequence[str] | str) -> Sequence[str]:
    return self._tokens(word)

  def _tokens(self, word: Sequence[str] | str) -> Sequence[str]:
    # A str is read as space-separated tokens (without END).
    return word.split() if isinstance(word, str) else word

  # ---- exact semantics -------------------------------------------------------------------

  def _next_set(self, stack: list[int]) -> frozenset:
    if not stack:
      return self._empty_set
    if len(stack) == self.depth:
      return self._full_sets[stack[-1]]
    return self._inner_sets[stack[-1]]

  def _scan(self, word: Sequence[str]) -> tuple[list[frozenset], list[int] | None]:
    """allowed_next after each prefix, and the final stack (None once dead)."""
    sets = []
    stack: list[int] | None = []
    for token in word:
      code = self._code.get(token)
      if stack is not None:
        if code is None:
          stack = None
        elif code >= 0:
          stack.append(code)
          if len(stack) > self.depth:
            stack = None
        elif stack and stack[-1] == ~code:
          stack.pop()
        else:
          stack = None
      sets.append(frozenset() if stack is None else self._next_set(stack))
    return sets, stack

  def accepts(self, word: Sequence[str]) -> bool:
    _, stack = self._scan(self._tokens(word))
    return stack == []

  def allowed_next(self, prefix: Sequence[str]) -> frozenset:
    sets, stack = self._scan(self._tokens(prefix))
    return sets[-1] if sets else self._empty_set

  def allowed_next_all(self, word: Sequence[str]) -> list[frozenset]:
    return self._scan(self._tokens(word))[0]

  def max_depth(self, word: Sequence[str]) -> int:
    """The deepest stack `word` reaches (ignoring the bound; -1 on a bad token/closer)."""
    stack, deepest = [], 0
    for token in self._tokens(word):
      code = self._code.get(token)
      if code is None or (code < 0 and (not stack or stack[-1] != ~code)):
        return -1
      if code >= 0:
        stack.append(code)
        deepest = max(deepest, len(stack))
      else:
        stack.pop()
    return deepest

  # ---- sampling ----------------------------------------------------------------------------

  def valid_lengths(self, lo: int, hi: int) -> list[int]:
    start = max(lo, 0)
    return list(range(start + start % 2, hi + 1, 2))

  def sample(self, rng: np.random.Generator, length: int) -> tuple[str, ...]:
    """A member of exactly `length` tokens (END not counted): open or close with equal
    probability among the moves that respect the depth and can still close in time."""
    if not isinstance(length, (int, np.integer)) or length < 0 or length % 2:
      raise ValueError(f"bounded_dyck has words of even lengths 0, 2, 4, ... only "
                       f"(END not counted); got {length}")
    uniforms = rng.random((length, 2)).tolist()
    stack: list[int] = []
    word = []
    for t in range(length):
      remaining = length - t - 1
      can_open = len(stack) < self.depth and len(stack) + 1 <= remaining
      if stack and (not can_open or uniforms[t][0] < 0.5):
        word.append(self.closers[stack.pop()])
      else:
        kind = min(int(uniforms[t][1] * self.k), self.k - 1)
        stack.append(kind)
        word.append(self.openers[kind])
    return tuple(word)

  def sample_paper(self, uniforms: UniformStream, min_length: int, max_length: int,
                   max_attempts: int = 100_000) -> tuple[str, ...]:
    """One line of the official sampler (§5.2); lengths count END, which is not returned.

    Empty stack: END with 1/2 (redrawn while fewer than min_length tokens), each opener
    1/(2k). Full stack: the matching closer. Otherwise each opener 1/(2k), closer 1/2.
    A line longer than max_length is rejected and redrawn.
    """
    if not 1 <= min_length <= max_length:
      raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}, {max_length}")
    k, depth = self.k, self.depth
    for _ in range(max_attempts):
      stack: list[int] = []
      tokens: list[int] = []  # >= 0 opener type, ~type for a closer
      while len(tokens) + 1 <= max_length:  # room left for END
        if len(stack) == depth:
          tokens.append(~stack.pop())
          continue
        u = uniforms.next()
        if u < 0.5:
          if stack:
            tokens.append(~stack.pop())
          elif len(tokens) >= min_length:
            return tuple(self.openers[t] if t >= 0 else self.closers[~t] for t in tokens)
          continue  # END drawn too early: redraw
        kind = min(int((u - 0.5) * 2 * k), k - 1)
        stack.append(kind)
        tokens.append(kind)
    raise ValueError(f"no line of length in [{min_length}, {max_length}] after "
                     f"{max_attempts} attempts")

  def paper_splits(self, rng: np.random.Generator,
                   sizes: dict[str, int] | None = None) -> dict[str, list]:
    """{"train", "dev", "test", "test20"}: lines until each split's token budget (END
    included) is reached; `sizes` overrides the budgets. test20's words go deeper than the
    language's (split_params)."""
    sizes = dict(sizes or {})
    valid = [s.name for s in SPLITS]
    unknown = sorted(set(sizes) - set(valid))
    if unknown:
      raise ValueError(f"unknown split(s) {unknown}; valid splits: {', '.join(valid)}")
    splits = {}
    for config, child in zip(SPLITS, child_rngs(rng, len(SPLITS))):
      budget = sizes.get(config.name, config.budget)
      if not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ValueError(f"token budget of {config.name!r} must be an integer >= 0")
      uniforms = UniformStream(child)
      sampler = BoundedDyck(self.k, config.depth) if config.depth is not None else self
      lines, total = [], 0
      while total < budget:
        word = sampler.sample_paper(uniforms, config.min_length, config.max_length)
        lines.append(word)
        total += len(word) + 1
      splits[config.name] = lines
    return splits

  def split_params(self, split: str) -> dict:
    depth = next((c.depth for c in SPLITS if c.name == split), None)
    return {} if depth is None else {"depth": depth}

  # ---- training targets ----------------------------------------------------------------------

  def inputs(self, word: Sequence[str], mode: str = "paper") -> tuple[str, ...]:
    """START followed by the word (both modes)."""
    del mode
    return (START,) + tuple(self._tokens(word))

  def input_symbols(self, mode: str = "paper") -> tuple[str, ...]:
    del mode
    return self.alphabet + (START,)

  def paper_labels(self, word: Sequence[str]) -> list[str]:
    """The next token at every input position: the word's tokens, then EOS (the END token).

    One label per input position (len(word) + 1), not one per prefix of length >= 1.
    """
    word = self._tokens(word)
    self._check_symbols(word)
    return list(word) + [EOS]

  def exact_labels(self, word: Sequence[str]) -> list[str]:
    """Multi-hot of allowed_next at every input position: prefixes word[:0] .. word[:n]."""
    word = self._tokens(word)
    sets = [self._empty_set] + self.allowed_next_all(word)
    symbols = self.output_symbols
    return ["".join("1" if s in allowed else "0" for s in symbols) for allowed in sets]

  def paper_label_classes(self) -> tuple[str, ...]:
    return tuple(sorted(self.alphabet + (EOS,)))

  def expected_closers(self, word: Sequence[str]) -> list[str | None]:
    """At every input position (START first), the closer of the open bracket on top of the
    stack, or None at an empty stack: the positions and targets of close accuracy."""
    stack: list[str] = []
    expected: list[str | None] = [None]
    for token in self._tokens(word):
      code = self._code.get(token)
      if code is None:
        raise ValueError(f"{token!r} is not a bounded Dyck token")
      if code >= 0:
        stack.append(self.closers[code])
      elif stack:
        stack.pop()
      expected.append(stack[-1] if stack else None)
    return expected

  def __repr__(self) -> str:
    return f"BoundedDyck(k={self.k}, depth={self.depth})"


def bounded_dyck(k: int = 8, depth: int = 10) -> BoundedDyck:
  return BoundedDyck(k, depth)


LANGUAGES = {"bounded_dyck": bounded_dyck}

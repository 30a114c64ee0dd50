"""The `Language` interface every formal language of the package implements.

Pure numpy; no JAX. A word is a sequence of symbols: a `str` for the single-character
alphabets of the suite, a tuple of token strings for `bounded_dyck`.

Errors, the same for every language:
  TypeError   the argument is not a word (None, a number, ...).
  ValueError  a value out of range: a length that is not an integer or that the language has
              no word of, a length above
              MAX_SAMPLE_LENGTH, an unknown label mode, a parameter out of its range, symbols
              outside the alphabet where a method needs in-alphabet symbols (`labels`,
              `inputs`). `accepts` / `allowed_next` of a word with foreign symbols answer
              False / an empty set: such a word is simply not in the language.
"""

from __future__ import annotations

import abc
import functools
from typing import Iterable, Sequence

import numpy as np

# End-of-string marker used in allowed-next sets. No alphabet of the package contains it.
EOS = "$"

LABEL_MODES = ("paper", "exact")

# The longest word `sample` draws: 10^8 symbols is 100 MB as a str and more as arrays; past it
# a request is a mistake (a length typed with extra zeros), not a workload.
MAX_SAMPLE_LENGTH = 10**8

# Methods whose first argument is a word; subclasses' versions get the type check below.
_WORD_METHODS = ("accepts", "allowed_next", "allowed_next_all", "paper_labels", "inputs")


def check_word(name: str, word) -> None:
  """TypeError unless `word` is a str or a sequence (list, tuple, array) of symbols."""
  if isinstance(word, str) or (isinstance(word, (Sequence, np.ndarray))
                               and not isinstance(word, (bytes, bytearray))):
    return
  raise TypeError(f"{name}: a word is a str or a sequence of symbols, got "
                  f"{type(word).__name__} {word!r:.60}")


def check_length(name: str, length) -> None:
  """ValueError past MAX_SAMPLE_LENGTH (other bad lengths: each language's own message)."""
  if isinstance(length, (int, np.integer)) and length > MAX_SAMPLE_LENGTH:
    raise ValueError(f"{name}: length {length} is above the limit of {MAX_SAMPLE_LENGTH:,} "
                     "symbols per word (MAX_SAMPLE_LENGTH)")


def _checking_word(method):
  @functools.wraps(method)
  def checked(self, word, *args, **kwargs):
    check_word(self.name, word)
    return method(self, word, *args, **kwargs)
  return checked


def _checking_length(method):
  @functools.wraps(method)
  def checked(self, rng, length, *args, **kwargs):
    check_length(self.name, length)
    return method(self, rng, length, *args, **kwargs)
  return checked


class Language(abc.ABC):
  """A formal language with exact membership, next-symbol sets and the paper's samplers.

  Subclasses set `name`, `alphabet`, `category` and implement `accepts`, `allowed_next`,
  `sample` and `paper_labels`. The defaults below are correct but O(n^2); languages override
  `allowed_next_all` and `exact_labels` with O(n) scans where it matters (datasets and
  constructions call them on words of length 100000).
  """

  name: str
  alphabet: tuple[str, ...]

  def __init_subclass__(cls, **kwargs):
    # Every language gets the same argument checks (module docstring), without each one
    # repeating them: the subclass's own methods are wrapped once, at class creation.
    super().__init_subclass__(**kwargs)
    for method_name in _WORD_METHODS:
      if method_name in cls.__dict__:
        setattr(cls, method_name, _checking_word(cls.__dict__[method_name]))
    if "sample" in cls.__dict__:
      setattr(cls, "sample", _checking_length(cls.__dict__["sample"]))
  # "star_free", "non_star_free", "counter", "bounded_hierarchical", ...
  category: str

  # ---- exact semantics -------------------------------------------------------------------

  @abc.abstractmethod
  def accepts(self, word: Sequence[str]) -> bool:
    """True iff `word` is in the language."""

  @abc.abstractmethod
  def allowed_next(self, prefix: Sequence[str]) -> frozenset:
    """Next_L(prefix): symbols c of alphabet with prefix+c live, plus EOS iff prefix in L.

    Empty when no word of the language starts with `prefix`.
    """

  def allowed_next_all(self, word: Sequence[str]) -> list[frozenset]:
    """`allowed_next(word[:t])` for t = 1 .. len(word) (no entry for the empty prefix)."""
    return [self.allowed_next(word[:t]) for t in range(1, len(word) + 1)]

  @property
  def output_symbols(self) -> tuple[str, ...]:
    """The coordinates of an allowed-next multi-hot vector: alphabet, then EOS."""
    return tuple(self.alphabet) + (EOS,)

  # ---- sampling ----------------------------------------------------------------------------

  def valid_lengths(self, lo: int, hi: int) -> list[int]:
    """The lengths n in [lo, hi] for which the language has a word (override when sparse)."""
    return list(range(max(lo, 0), hi + 1))

  # Languages whose model input starts with a begin marker (bounded_dyck: "START") set this;
  # a dataset then has one more position, whose target is allowed_next of the empty prefix.
  begin_symbol: str | None = None

  @abc.abstractmethod
  def sample(self, rng: np.random.Generator, length: int):
    """A member of exactly `length` symbols, drawn with `rng`.

    Raises ValueError (saying which lengths are valid) when the language has no word of that
    length. Never loops forever: rejection loops are bounded and fail clearly.
    """

  def paper_splits(self, rng: np.random.Generator,
                   sizes: dict[str, int] | None = None) -> dict[str, list]:
    """The paper's train set and validation bins, {"train": [...], "bin0": [...], ...}.

    Built with the official code's window samplers and split rules (spec/languages.md).
    `sizes` overrides the number of words (token budget for bounded_dyck) of named splits;
    an unknown split name in `sizes` is a ValueError listing the valid ones.
    """
    raise NotImplementedError(f"{self.name} has no paper splits")

  def split_params(self, split: str) -> dict:
    """Parameters that paper split `split`'s words differ in from this language's (bounded
    Dyck's test20 is deeper); its words are members, and are labelled, under them."""
    del split
    return {}

  # ---- training targets ----------------------------------------------------------------------

  def labels(self, word: Sequence[str], mode: str = "paper") -> list[str]:
    """Per-position targets for word[:1] .. word[:n], one string per position.

    mode "paper": the official code's label chunk (quirks included); ''.join() of the result
      is the line of the paper's target file.
    mode "exact": the multi-hot of allowed_next over `output_symbols`, as a '0'/'1' string.

    ValueError for symbols outside the alphabet in either mode (a label of a foreign word
    would be a silent all-zero target).
    """
    check_word(self.name, word)
    if mode == "exact":
      self._check_symbols(self._symbols_of(word))
    if mode == "paper":
      return self.paper_labels(word)
    if mode == "exact":
      return self.exact_labels(word)
    raise ValueError(f"unknown label mode {mode!r}; valid modes: {', '.join(LABEL_MODES)}")

  @abc.abstractmethod
  def paper_labels(self, word: Sequence[str]) -> list[str]:
    """The official code's per-position label chunks."""

  def exact_labels(self, word: Sequence[str]) -> list[str]:
    symbols = self.output_symbols
    return [
        "".join("1" if s in allowed else "0" for s in symbols)
        for allowed in self.allowed_next_all(word)
    ]

  def paper_label_classes(self) -> tuple[str, ...]:
    """Every chunk `paper_labels` can produce on members, sorted: the paper's class vocabulary."""
    raise NotImplementedError(f"{self.name} does not list its paper label classes")

  def inputs(self, word: Sequence[str], mode: str = "paper") -> Sequence[str]:
    """The model's input symbols for `word` (the paper masks some inputs, e.g. flip-flop)."""
    del mode
    return word

  def input_symbols(self, mode: str = "paper") -> tuple[str, ...]:
    """Every symbol `inputs(.., mode)` can contain, in a fixed order."""
    del mode
    return tuple(self.alphabet)

  # ---- helpers for subclasses ----------------------------------------------------------------

  def _symbols_of(self, word: Sequence[str]) -> Iterable[str]:
    """The symbols of `word` (bounded_dyck overrides it: a str there is space-separated)."""
    return word

  def _check_symbols(self, word: Iterable[str]) -> None:
    bad = sorted({s for s in word if s not in self.alphabet})
    if bad:
      raise ValueError(
          f"{self.name}: symbols {bad} are not in the alphabet {list(self.alphabet)}")

  def __repr__(self) -> str:
    return f"{type(self).__name__}(name={self.name!r})"

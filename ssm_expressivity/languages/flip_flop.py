"""The flip-flop language of Liu et al. (2023) and its FFL(p) distribution (spec §5.1).

A word is a sequence of instruction-bit pairs: `w b` writes bit b to a one-bit register,
`i b` ignores b, `r b` reads and requires b to equal the last written bit. The language is
star-free; a 2-layer SSM models it at every length (the paper's flip-flop result).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ssm_expressivity.automata import DFA
from ssm_expressivity.languages.base import EOS, Language
from ssm_expressivity.languages.dyck import child_rngs

ALPHABET = ("w", "r", "i", "0", "1")
MASK = "-"
# Input symbols of the official code in id order: the bit after `r` is replaced by MASK.
PAPER_INPUT_SYMBOLS = ("0", "1", MASK, "r", "i", "w")
PAPER_LABEL_CLASSES = (MASK, "0", "1")

# Paper splits: name -> (p_ignore or None for the language's own p, default size).
SPLITS = {"train": (None, 1_600_000), "val": (0.8, 1000), "val_sparse": (0.98, 1000),
          "val_dense": (0.1, 1000)}
WORD_LENGTH = 512  # 256 instructions

# DFA states: I_m expects an instruction (register m: none/0/1), W a bit to write,
# G_m an ignored bit, R_m the read-back bit m; STATE_NAMES[q] names state q.
_I, _I0, _I1, _W, _G, _G0, _G1, _R0, _R1, _DEAD = range(10)
STATE_NAMES = ("I", "I0", "I1", "W", "G", "G0", "G1", "R0", "R1", "dead")


def _transitions() -> np.ndarray:
  table = np.full((10, len(ALPHABET)), _DEAD, dtype=np.int64)
  w, r, i, zero, one = range(len(ALPHABET))
  for state, ignore, read in ((_I, _G, _DEAD), (_I0, _G0, _R0), (_I1, _G1, _R1)):
    table[state, w], table[state, i], table[state, r] = _W, ignore, read
  table[_W, zero], table[_W, one] = _I0, _I1
  for ignore, back in ((_G, _I), (_G0, _I0), (_G1, _I1)):
    table[ignore, zero] = table[ignore, one] = back
  table[_R0, zero] = _I0
  table[_R1, one] = _I1
  return table


def _check_p(p_ignore: float) -> float:
  if not isinstance(p_ignore, (int, float, np.floating)) or not 0 <= p_ignore < 1:
    raise ValueError(f"p_ignore must be a number in [0, 1), got {p_ignore!r}")
  return float(p_ignore)


def _check_length(length: int) -> int:
  if not isinstance(length, (int, np.integer)) or length < 4 or length % 2:
    raise ValueError(
        f"FFL words have even lengths >= 4 (first instruction w, last r); got {length}")
  return int(length)


def sample_ffl(rng: np.random.Generator, num_words: int, length: int = WORD_LENGTH,
               p_ignore: float = 0.8, chunk: int = 65_536) -> list[str]:
  """`num_words` words of FFL(p_ignore) with `length` symbols (length/2 instructions).

  The first instruction is `w`, the last `r`; the others are `i` with probability p_ignore,
  `w` or `r` with (1 - p_ignore) / 2 each. Bits after `w`, `i` are uniform; after `r` the
  last written bit. Vectorized over words (chunks of `chunk` words bound the memory).
  """
  p_ignore = _check_p(p_ignore)
  length = _check_length(length)
  if not isinstance(num_words, (int, np.integer)) or num_words < 0:
    raise ValueError(f"num_words must be an integer >= 0, got {num_words!r}")
  words: list[str] = []
  steps = length // 2
  # Instruction codes 0 = i, 1 = w, 2 = r: the number of thresholds a uniform passes.
  codes = np.frombuffer(b"iwr", dtype=np.uint8)
  thresholds = (p_ignore, p_ignore + (1 - p_ignore) / 2)
  positions = np.arange(steps, dtype=np.int32)
  for start in range(0, num_words, chunk):
    count = min(chunk, num_words - start)
    u = rng.random((count, steps))
    instr = (u >= thresholds[0]).astype(np.uint8) + (u >= thresholds[1])
    instr[:, 0] = 1
    instr[:, -1] = 2
    bits = rng.integers(0, 2, size=(count, steps), dtype=np.uint8)
    # The last written bit, without a gather: the running max of 2 * position + bit over
    # the writes ends in the bit of the latest one.
    written = np.where(instr == 1, 2 * positions + bits, 0)
    register = (np.maximum.accumulate(written, axis=1) & 1).astype(np.uint8)
    bits = np.where(instr == 2, register, bits)
    chars = np.empty((count, length), dtype=np.uint8)
    chars[:, 0::2] = codes[instr]
    chars[:, 1::2] = bits + ord("0")
    words.extend(b.decode("ascii") for b in chars.view(f"S{length}").ravel().tolist())
  return words


class FlipFlop(Language):
  """The flip-flop language; `p_ignore` sets the FFL(p) distribution of `sample`."""

  name = "flip_flop"
  alphabet = ALPHABET
  category = "star_free"

  def __init__(self, p_ignore: float = 0.8):
    self.p_ignore = _check_p(p_ignore)
    self._table = _transitions()
    self._rows = self._table.tolist()
    self._index = {s: i for i, s in enumerate(ALPHABET)}
    accepting = (_I0, _I1)
    self._accepting = frozenset(accepting)
    self._next = []
    for state in range(len(self._rows)):
      allowed = {s for s, target in zip(ALPHABET, self._rows[state]) if target != _DEAD}
      if state in accepting:
        allowed.add(EOS)
      self._next.append(frozenset(allowed))

  @property
  def dfa(self) -> DFA:
    """Complete DFA (states I, I0, I1, W, G, G0, G1, R0, R1, dead), start I."""
    return DFA(ALPHABET, self._table, _I, self._accepting)

  # ---- exact semantics -------------------------------------------------------------------

  def _states(self, word: Sequence[str]) -> list[int]:
    states = []
    state = _I
    rows, index = self._rows, self._index
    for s in word:
      symbol = index.get(s)
      state = _DEAD if symbol is None else rows[state][symbol]
      states.append(state)
    return states

  def accepts(self, word: Sequence[str]) -> bool:
    return len(word) > 0 and self._states(word)[-1] in self._accepting

  def allowed_next(self, prefix: Sequence[str]) -> frozenset:
    return self._next[self._states(prefix)[-1] if len(prefix) else _I]

  def allowed_next_all(self, word: Sequence[str]) -> list[frozenset]:
    return [self._next[state] for state in self._states(word)]

  # ---- sampling ----------------------------------------------------------------------------

  def valid_lengths(self, lo: int, hi: int) -> list[int]:
    """Lengths `sample` supports: even, >= 4 (the language itself also has length 2)."""
    start = max(lo, 4)
    return list(range(start + start % 2, hi + 1, 2))

  def sample(self, rng: np.random.Generator, length: int) -> str:
    return sample_ffl(rng, 1, length, self.p_ignore)[0]

  def paper_splits(self, rng: np.random.Generator,
                   sizes: dict[str, int] | None = None) -> dict[str, list]:
    """train: FFL(p_ignore), 1.6M words; val / val_sparse / val_dense: 1000 words of
    FFL(0.8) / FFL(0.98) / FFL(0.1); all of 512 symbols. `sizes` overrides word counts."""
    sizes = dict(sizes or {})
    unknown = sorted(set(sizes) - set(SPLITS))
    if unknown:
      raise ValueError(f"unknown split(s) {unknown}; valid splits: {', '.join(SPLITS)}")
    splits = {}
    for (name, (p, default)), child in zip(SPLITS.items(), child_rngs(rng, len(SPLITS))):
      p = self.p_ignore if p is None else p
      splits[name] = sample_ffl(child, sizes.get(name, default), WORD_LENGTH, p)
    return splits

  # ---- training targets ----------------------------------------------------------------------

  def inputs(self, word: Sequence[str], mode: str = "paper") -> Sequence[str]:
    """paper: the bit after each `r` is replaced by `-` (the model must recall it)."""
    if mode == "exact":
      return word
    if mode != "paper":
      raise ValueError(f"unknown input mode {mode!r}; valid modes: paper, exact")
    masked = list(word)
    for t in range(1, len(masked)):
      if word[t - 1] == "r":
        masked[t] = MASK
    return "".join(masked) if isinstance(word, str) else tuple(masked)

  def input_symbols(self, mode: str = "paper") -> tuple[str, ...]:
    if mode == "exact":
      return ALPHABET
    if mode != "paper":
      raise ValueError(f"unknown input mode {mode!r}; valid modes: paper, exact")
    return PAPER_INPUT_SYMBOLS

  def paper_labels(self, word: Sequence[str]) -> list[str]:
    """The masked bit at each position after `r`, `-` elsewhere (the official targets)."""
    self._check_symbols(word)
    return [word[t] if t > 0 and word[t - 1] == "r" else MASK for t in range(len(word))]

  def paper_label_classes(self) -> tuple[str, ...]:
    return PAPER_LABEL_CLASSES

  def __repr__(self) -> str:
    return f"FlipFlop(p_ignore={self.p_ignore})"


def flip_flop(p_ignore: float = 0.8) -> FlipFlop:
  return FlipFlop(p_ignore)


LANGUAGES = {"flip_flop": flip_flop}

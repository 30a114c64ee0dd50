"""The seven Tomita languages (spec/languages.md §2): DFAs, paper labels, window samplers."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ssm_expressivity.languages import _splits
from ssm_expressivity.languages import regular

_TRAIN_WINDOW = (1, 100)
_BIN_WINDOW = (101, 150)  # every bin after bin 0 (the leak branch never advances the window)


@dataclasses.dataclass(frozen=True)
class _TomitaSpec:
  transitions: tuple  # rows are states q0, q1, ...; columns are symbols '0', '1'
  accepting: frozenset
  # The source's "blocked" states for the 2-bit labels; None means the 1-bit membership label.
  blocked: frozenset | None
  category: str
  train_size: int
  test_size: int
  num_val_bins: int


_SPECS = {
    # 1*
    1: _TomitaSpec(((1, 0), (1, 1)), frozenset({0}), frozenset({1}), "star_free", 1000, 50, 2),
    # (10)*
    2: _TomitaSpec(((2, 1), (0, 2), (2, 2)), frozenset({0}), frozenset({2}), "star_free",
                   1000, 25, 2),
    # no odd 1-run immediately followed by an odd 0-run; q3 is live but blocked (source quirk)
    3: _TomitaSpec(((0, 1), (3, 0), (3, 1), (2, 4), (4, 4)), frozenset({0, 1, 2}),
                   frozenset({3, 4}), "non_star_free", 10000, 2000, 2),
    # no 000
    4: _TomitaSpec(((1, 0), (2, 0), (3, 0), (3, 3)), frozenset({0, 1, 2}), frozenset({3}),
                   "star_free", 10000, 2000, 2),
    # even number of 0s and of 1s; state = 2 * (#0 mod 2) + (#1 mod 2)
    5: _TomitaSpec(((2, 1), (3, 0), (0, 3), (1, 2)), frozenset({0}), None, "non_star_free",
                   10000, 2000, 4),
    # #0 - #1 = 0 mod 3; state = (#0 - #1) mod 3
    6: _TomitaSpec(((1, 2), (2, 0), (0, 1)), frozenset({0}), None, "non_star_free",
                   10000, 10000, 4),
    # 0*1*0*1*
    7: _TomitaSpec(((0, 1), (2, 1), (2, 3), (4, 3), (4, 4)), frozenset({0, 1, 2, 3}),
                   frozenset({4}), "star_free", 10000, 2000, 2),
}


def _t1(rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
  return ["1" * int(k) for k in rng.integers(lo, hi + 1, count)]


def _t2(rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
  return ["10" * int((r + 1) // 2) for r in rng.integers(lo, hi, count)]


def _t3_one(rng: np.random.Generator, lo: int, hi: int) -> str:
  """Random runs of 0s and 1s; after an odd 1-run only even 0-runs are appended."""
  target = int(rng.integers(lo, hi + 1))
  parts: list[str] = []
  size, last, run1 = 0, None, 0
  while size < target:
    remaining = target - size
    symbol = "1" if rng.random() < 0.5 else "0"
    if symbol == "1":
      count = int(rng.integers(0, remaining + 1))
      run1 = count if (last == "0" and count > 0) else run1 + count
    elif last is None or run1 % 2 == 0:
      count = int(rng.integers(0, remaining + 1))
    else:
      count = 2 * int(rng.integers(0, remaining // 2 + 1))
    if count > 0:
      parts.append(symbol * count)
      size += count
      last = symbol
  return "".join(parts)


def _t3(rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
  return [_t3_one(rng, lo, hi) for _ in range(count)]


def _t4(rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
  # Fair coins, except that after "00" a 0 is redrawn: the same as forcing a '1' after every
  # "00" of a fair-coin stream, i.e. replacing each non-overlapping "00" by "001".
  lengths = rng.integers(lo, hi + 1, count)
  raw = _splits.random_strings(rng, lengths, "01")
  return [s.replace("00", "001")[:n] for s, n in zip(raw, lengths.tolist())]


def _t56(rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
  return regular.stop_walk_proposer(lo, hi)(rng, count)


def _t7(rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
  # Aims at length hi (lo is ignored): runs 0^a 1^b 0^c 1^d with a ~ U{0..hi}, b ~ U{0..hi-a}...
  del lo
  runs = []
  used = np.zeros(count, dtype=np.int64)
  for _ in range(4):
    run = rng.integers(0, hi - used + 1)
    runs.append(run)
    used += run
  return ["0" * int(a) + "1" * int(b) + "0" * int(c) + "1" * int(d)
          for a, b, c, d in zip(*(r.tolist() for r in runs))]


_PROPOSERS: dict[int, Callable[..., list[str]]] = {
    1: _t1, 2: _t2, 3: _t3, 4: _t4, 5: _t56, 6: _t56, 7: _t7}


class TomitaLanguage(regular.DFALanguage):
  """Tomita-k over {0, 1} with the official labels and window samplers."""

  def __init__(self, index: int):
    spec = _SPECS[index]
    table = spec.transitions
    if spec.blocked is None:
      paper_label = lambda q, c: "1" if q in spec.accepting else "0"
    else:
      labels = ["".join("0" if table[q][i] in spec.blocked else "1" for i in range(2))
                for q in range(len(table))]
      paper_label = lambda q, c: labels[q]
    super().__init__(name=f"tomita{index}", alphabet=("0", "1"), transitions=table, start=0,
                     accepting=spec.accepting, category=spec.category, paper_label=paper_label)
    self.index = index
    self._spec = spec

  def _draw(self, rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
    sampler = _PROPOSERS[self.index]
    return _splits.draw(rng, lambda r, n: sampler(r, n, lo, hi), count, lo=lo, hi=hi,
                        name=self.name, member=self.accepts_many)

  def paper_splits(self, rng, sizes=None):
    spec = self._spec
    defaults = {"train": spec.train_size}
    defaults.update({f"bin{i}": spec.test_size for i in range(spec.num_val_bins)})
    sizes = _splits.resolve_sizes(self.name, defaults, sizes)
    rng = np.random.default_rng(rng)
    # "Leak" mode: independent draws; train keeps duplicates, bins are deduplicated after.
    splits = {"train": self._draw(rng, sizes["train"], *_TRAIN_WINDOW),
              "bin0": _splits.set_order(rng, self._draw(rng, sizes["bin0"], *_TRAIN_WINDOW))}
    for i in range(1, spec.num_val_bins):
      splits[f"bin{i}"] = _splits.set_order(rng,
                                            self._draw(rng, sizes[f"bin{i}"], *_BIN_WINDOW))
    return splits


def _factory(index: int) -> Callable[[], TomitaLanguage]:
  def make() -> TomitaLanguage:
    return TomitaLanguage(index)
  make.__name__ = f"tomita{index}"
  make.__doc__ = f"Tomita-{index} (spec/languages.md §2)."
  return make


LANGUAGES = {f"tomita{i}": _factory(i) for i in range(1, 8)}

"""Helpers for the paper's splits: size overrides, bounded window draws, order-keeping dedup.

Pure numpy. Orders are always deterministic (insertion order or a seeded permutation), never
set iteration order, so the same seed gives the same bytes.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

# A proposer draws `count` raw candidates with `rng` and returns those whose length lies in
# the window, in draw order (rejecting out-of-window candidates early is equivalent and saves
# building strings that would be thrown away).
Proposer = Callable[[np.random.Generator, int], list]
# Vectorized membership: a boolean array, one entry per word.
MembershipTest = Callable[[Sequence[str]], np.ndarray]


def resolve_sizes(name: str, defaults: Mapping[str, int],
                  sizes: Mapping[str, int] | None) -> dict[str, int]:
  """`defaults` updated with `sizes`; ValueError on unknown split names or negative sizes."""
  resolved = dict(defaults)
  for split, size in (sizes or {}).items():
    if split not in defaults:
      raise ValueError(
          f"{name}: unknown split {split!r} in sizes; valid splits: {', '.join(defaults)}")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 0:
      raise ValueError(f"{name}: size of split {split!r} must be an integer >= 0, got {size!r}")
    resolved[split] = int(size)
  return resolved


def dedup(words: Iterable) -> list:
  """`words` without repeats, in first-occurrence order (the paper used an unordered set)."""
  return list(dict.fromkeys(words))


def set_order(rng: np.random.Generator, words: Iterable) -> list:
  """`words` deduplicated, in a seeded random order.

  Where the official code deduplicated with a Python `set`, the order (and thus which words
  a joint corpus gives to train and which to bin 0) was arbitrary under hash randomization;
  a seeded permutation reproduces that without depending on the interpreter.
  """
  unique = dedup(words)
  return [unique[i] for i in rng.permutation(len(unique))]


def draw(rng: np.random.Generator, propose: Proposer, count: int, *, lo: int, hi: int,
         name: str, member: MembershipTest | None = None, unique: bool = False,
         max_candidates: int | None = None) -> list:
  """Collect `count` accepted candidates: lo <= len <= hi, in L, and new when `unique`.

  Candidates are examined in draw order, exactly like the official one-at-a-time loops.
  Raises RuntimeError after `max_candidates` raw draws (default 1000 per requested word plus
  100000) instead of looping forever.
  """
  if max_candidates is None:
    max_candidates = 1000 * count + 100_000
  accepted: list = []
  seen: set = set()
  drawn = 0
  rate = 1.0  # acceptance rate estimate, sizes the next batch
  while len(accepted) < count:
    if drawn >= max_candidates:
      raise RuntimeError(
          f"{name}: only {len(accepted)} of {count} words in [{lo}, {hi}] after {drawn} draws;"
          " the window or the requested size is too large for this sampler")
    missing = count - len(accepted)
    batch = int(min(max(missing / max(rate, 1e-3) * 1.2, 64), 200_000, max_candidates - drawn))
    batch = max(batch, 1)
    candidates = [w for w in propose(rng, batch) if lo <= len(w) <= hi]
    drawn += batch
    if candidates and member is not None:
      keep = member(candidates)
      candidates = [w for w, k in zip(candidates, keep) if k]
    before = len(accepted)
    for word in candidates:
      if unique:
        if word in seen:
          continue
        seen.add(word)
      accepted.append(word)
      if len(accepted) == count:
        break
    got = len(accepted) - before
    rate = got / batch if got else rate / 2
  return accepted


def random_strings(rng: np.random.Generator, lengths: np.ndarray, symbols: str) -> list[str]:
  """One uniform random string over `symbols` per entry of `lengths` (single-char symbols)."""
  lengths = np.asarray(lengths, dtype=np.int64)
  if lengths.size == 0:
    return []
  codes = np.frombuffer(symbols.encode("ascii"), dtype=np.uint8)
  text = codes[rng.integers(0, len(codes), int(lengths.sum()))].tobytes().decode("ascii")
  ends = np.cumsum(lengths)
  starts = ends - lengths
  return [text[s:e] for s, e in zip(starts.tolist(), ends.tolist())]


def split_joint(joint: list, first: int) -> tuple[list, list]:
  """The official joint split: the first `first` words, and the rest."""
  return joint[:first], joint[first:]


def keep_order(rng, words: list) -> list:
  """The identity order (families whose corpus keeps draw order)."""
  del rng
  return words


def joint_splits(rng: np.random.Generator, sizes: Mapping[str, int], draw,
                 joint_window: tuple[int, int], bin1_window: tuple[int, int],
                 order=keep_order) -> dict[str, list]:
  """The joint-split scheme of spec §0.5: train and bin 0 cut from one corpus, bin 1 apart.

  `draw(rng, count, lo, hi)` makes a corpus; `order(rng, words)` orders each corpus (the
  official code's set order for deduplicated families) before it is used.
  """
  joint = order(rng, draw(rng, sizes["train"] + sizes["bin0"], *joint_window))
  train, bin0 = split_joint(joint, sizes["train"])
  return {"train": train, "bin0": bin0,
          "bin1": order(rng, draw(rng, sizes["bin1"], *bin1_window))}

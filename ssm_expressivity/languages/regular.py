"""Regular languages of the suite (spec/languages.md §3) and their shared DFA machinery.

`DFALanguage` gives any complete DFA exact membership, Next_L sets, exact-length sampling and
the paper's per-position labels (a table over "state reached, symbol read"); tomita.py reuses
it. Ids here: parity, aa_star, aaaa_star, abab_star (non star-free), abcde_blocks, ab_d_bc,
012_02, d2, d3, d4, d12 (star-free).
"""

from __future__ import annotations

import warnings
from typing import Callable, Mapping, Sequence

import numpy as np

from ssm_expressivity import automata
from ssm_expressivity.languages import _splits
from ssm_expressivity.languages import base

# paper_label(state_after, symbol_read) -> the official label chunk of that prefix.
PaperLabel = Callable[[int, str], str]


class _ExactLengthCompletions:
  """Which states reach acceptance in exactly k steps, for every k (eventually periodic)."""

  def __init__(self, transitions: np.ndarray, accepting: frozenset):
    vector = np.zeros(transitions.shape[0], dtype=bool)
    vector[sorted(accepting)] = True
    index_of: dict[bytes, int] = {}
    vectors: list[np.ndarray] = []
    while vector.tobytes() not in index_of:
      index_of[vector.tobytes()] = len(vectors)
      vectors.append(vector)
      vector = vector[transitions].any(axis=1)
    self.vectors = tuple(vectors)
    self._cycle_start = index_of[vector.tobytes()]
    self._period = len(vectors) - self._cycle_start

  def index(self, steps: int) -> int:
    if steps < len(self.vectors):
      return steps
    return self._cycle_start + (steps - self._cycle_start) % self._period

  def at(self, steps: int) -> np.ndarray:
    return self.vectors[self.index(steps)]


def complete_transitions(num_states: int, alphabet: Sequence[str],
                         partial: Mapping[tuple[int, str], int]) -> list[list[int]]:
  """A complete table from `partial`; a dead state (index num_states) is added only if needed."""
  missing = any((q, c) not in partial for q in range(num_states) for c in alphabet)
  dead = num_states
  table = [[partial.get((q, c), dead) for c in alphabet] for q in range(num_states)]
  if missing:
    table.append([dead] * len(alphabet))
  return table


class DFALanguage(base.Language):
  """A regular language given by a complete DFA, with the paper's label table."""

  def __init__(self, *, name: str, alphabet: Sequence[str], transitions, start: int,
               accepting, category: str, paper_label: PaperLabel):
    self.name = name
    self.alphabet = tuple(alphabet)
    self.category = category
    self._dfa = automata.DFA(self.alphabet, np.asarray(transitions), start, frozenset(accepting))
    table = self._dfa.transitions
    num_states = table.shape[0]
    live = np.zeros(num_states, dtype=bool)
    live[sorted(self._dfa.accepting)] = True
    while True:  # backward reachability of an accepting state
      grown = live | live[table].any(axis=1)
      if (grown == live).all():
        break
      live = grown
    self._live = live
    # State num_states is "outside": reached on a symbol not in the alphabet (not in L).
    self._outside = num_states
    self._delta = [{c: int(table[q, i]) for i, c in enumerate(self.alphabet)}
                   for q in range(num_states)] + [{}]
    self._allowed = []
    for q in range(num_states):
      symbols = [c for c in self.alphabet if live[self._delta[q][c]]] if live[q] else []
      if q in self._dfa.accepting:
        symbols.append(base.EOS)
      self._allowed.append(frozenset(symbols))
    self._allowed.append(frozenset())
    self._exact = ["".join("1" if s in allowed else "0" for s in self.output_symbols)
                   for allowed in self._allowed]
    self._paper = [{c: paper_label(q, c) for c in self.alphabet} if live[q] else None
                   for q in range(num_states)] + [None]
    self._completions = _ExactLengthCompletions(table, self._dfa.accepting)
    # _choices[i][q]: (symbol, next state) pairs that keep acceptance reachable in exactly
    # the number of steps whose completion vector has index i.
    self._choices = tuple(
        tuple(tuple((c, self._delta[q][c]) for c in self.alphabet if vector[self._delta[q][c]])
              for q in range(num_states))
        for vector in self._completions.vectors)
    # Batch membership: byte -> symbol index; column len(alphabet) is "stay" for padding.
    self._byte_to_index = np.full(256, -1, dtype=np.int64)
    for i, c in enumerate(self.alphabet):
      if len(c) == 1 and ord(c) < 128:
        self._byte_to_index[ord(c)] = i
    self._padded_table = np.concatenate([table, np.arange(num_states)[:, None]], axis=1)

  @property
  def dfa(self) -> automata.DFA:
    """The complete DFA of the language (dead state included where one is needed)."""
    return self._dfa

  # ---- exact semantics -------------------------------------------------------------------

  def _run(self, word: Sequence[str]) -> list[int]:
    """The state after each symbol of `word` (`_outside` from a foreign symbol on)."""
    delta = self._delta
    outside = self._outside
    q = self._dfa.start
    states = []
    for s in word:
      q = delta[q].get(s, outside)
      states.append(q)
    return states

  def _final_state(self, word: Sequence[str]) -> int:
    states = self._run(word)
    return states[-1] if states else self._dfa.start

  def accepts(self, word: Sequence[str]) -> bool:
    """True iff `word` is in L (False for words with symbols outside the alphabet)."""
    return self._final_state(word) in self._dfa.accepting

  def accepts_many(self, words: Sequence[str]) -> np.ndarray:
    """Vectorized `accepts` over many `str` words; a boolean array."""
    if not words:
      return np.zeros(0, dtype=bool)
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    try:
      raw = "".join(words).encode("ascii")
    except UnicodeEncodeError:
      return np.array([self.accepts(w) for w in words], dtype=bool)
    codes = self._byte_to_index[np.frombuffer(raw, dtype=np.uint8)]
    if (codes < 0).any():
      return np.array([self.accepts(w) for w in words], dtype=bool)
    pad = len(self.alphabet)
    matrix = np.full((len(words), int(lengths.max(initial=0))), pad, dtype=np.int64)
    rows = np.repeat(np.arange(len(words)), lengths)
    cols = np.arange(codes.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    matrix[rows, cols] = codes
    states = np.full(len(words), self._dfa.start, dtype=np.int64)
    for column in matrix.T:
      states = self._padded_table[states, column]
    accepting = np.zeros(self._dfa.num_states, dtype=bool)
    accepting[sorted(self._dfa.accepting)] = True
    return accepting[states]

  def allowed_next(self, prefix: Sequence[str]) -> frozenset:
    return self._allowed[self._final_state(prefix)]

  def allowed_next_all(self, word: Sequence[str]) -> list[frozenset]:
    allowed = self._allowed
    return [allowed[q] for q in self._run(word)]

  def exact_labels(self, word: Sequence[str]) -> list[str]:
    exact = self._exact
    return [exact[q] for q in self._run(word)]

  # ---- paper labels ------------------------------------------------------------------------

  def paper_labels(self, word: Sequence[str]) -> list[str]:
    table = self._paper
    labels = []
    for t, (q, s) in enumerate(zip(self._run(word), word)):
      row = table[q]
      if row is None:
        self._check_symbols(word)
        raise ValueError(
            f"{self.name}: paper labels are defined on prefixes of words of the language;"
            f" no word starts with {''.join(word[:t + 1])!r}")
      labels.append(row[s])
    return labels

  def paper_label_classes(self) -> tuple[str, ...]:
    reachable = {self._dfa.start}
    frontier = [self._dfa.start]
    while frontier:
      q = frontier.pop()
      for nxt in self._delta[q].values():
        if nxt not in reachable:
          reachable.add(nxt)
          frontier.append(nxt)
    classes = {self._paper[nxt][c]
               for q in reachable for c, nxt in self._delta[q].items() if self._live[nxt]}
    return tuple(sorted(classes))

  # ---- sampling ----------------------------------------------------------------------------

  def valid_lengths(self, lo: int, hi: int) -> list[int]:
    start = self._dfa.start
    return [n for n in range(max(lo, 0), hi + 1) if self._completions.at(n)[start]]

  def _check_length(self, length) -> int:
    if (not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0):
      raise ValueError(f"{self.name}: length must be an integer >= 0, got {length!r}")
    length = int(length)
    if not self._completions.at(length)[self._dfa.start]:
      near = self.valid_lengths(max(0, length - 10), length + 10)
      raise ValueError(
          f"{self.name} has no word of length {length}; lengths with words in"
          f" [{max(0, length - 10)}, {length + 10}]: {near}")
    return length

  def sample(self, rng: np.random.Generator, length: int) -> str:
    """A member of exactly `length` symbols: a uniform walk among still-completable moves."""
    length = self._check_length(length)
    rng = np.random.default_rng(rng)
    uniforms = rng.random(length).tolist()
    index = self._completions.index
    choices = self._choices
    q = self._dfa.start
    symbols = []
    for t in range(length):
      options = choices[index(length - t - 1)][q]
      symbol, q = options[int(uniforms[t] * len(options))]
      symbols.append(symbol)
    return "".join(symbols)


def _membership_label(dfa_accepting: frozenset) -> PaperLabel:
  """The 1-char label '1' iff the prefix is in L (parity, unit stars, Tomita 5/6)."""
  return lambda q, c: "1" if q in dfa_accepting else "0"


def _stop_walk_lengths(rng: np.random.Generator, count: int, lo: int, hi: int) -> np.ndarray:
  """Lengths of the official stop-token walk: p = M / (2(M+1)) with M = floor((lo+hi)/2).

  Each step stops with probability 1 - 2p = 1/(M+1), else appends a fair bit; capped at hi.
  """
  stop = 1.0 / ((lo + hi) // 2 + 1)
  return np.minimum(rng.geometric(stop, count) - 1, hi)


def stop_walk_proposer(lo: int, hi: int) -> _splits.Proposer:
  """Candidates of the stop-token walk (Tomita 5/6 window sampler), in-window only."""
  def propose(rng: np.random.Generator, count: int) -> list[str]:
    lengths = _stop_walk_lengths(rng, count, lo, hi)
    return _splits.random_strings(rng, lengths[(lengths >= lo) & (lengths <= hi)], "01")
  return propose


# ---- parity ----------------------------------------------------------------------------------


class ParityLanguage(DFALanguage):
  """Binary strings with an even number of 1s (§3.1)."""

  def __init__(self):
    super().__init__(name="parity", alphabet=("0", "1"), transitions=[[0, 1], [1, 0]],
                     start=0, accepting={0}, category="non_star_free",
                     paper_label=_membership_label(frozenset({0})))

  def _corpus(self, rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
    # Official order: duplicate test on the walk's raw string, then append '1' if odd.
    words: list[str] = []
    seen: set = set()
    drawn = 0
    limit = 1000 * count + 100_000
    while len(words) < count:
      if drawn >= limit:
        raise RuntimeError(f"parity: only {len(words)} of {count} words in [{lo}, {hi}]")
      batch = min(max(4 * (count - len(words)), 64), 200_000)
      lengths = _stop_walk_lengths(rng, batch, lo, hi)
      drawn += batch
      for s in _splits.random_strings(rng, lengths[(lengths >= lo) & (lengths <= hi)], "01"):
        if s in seen:
          continue
        if s.count("1") % 2:
          s += "1"
        if len(s) > hi:
          continue
        seen.add(s)
        words.append(s)
        if len(words) == count:
          break
    return words

  def paper_splits(self, rng, sizes=None):
    sizes = _splits.resolve_sizes(self.name, {"train": 10000, "bin0": 2000, "bin1": 2000},
                                  sizes)
    return _splits.joint_splits(np.random.default_rng(rng), sizes, self._corpus, (2, 50),
                                (51, 100))


# ---- u* (aa_star, aaaa_star, abab_star) ---------------------------------------------------------


class UnitStarLanguage(DFALanguage):
  """L = u* for a fixed unit u (§3.2); the label is membership."""

  def __init__(self, name: str, unit: str, alphabet: Sequence[str], train_size: int,
               test_size: int):
    partial = {(i, u): (i + 1) % len(unit) for i, u in enumerate(unit)}
    super().__init__(name=name, alphabet=alphabet,
                     transitions=complete_transitions(len(unit), alphabet, partial),
                     start=0, accepting={0}, category="non_star_free",
                     paper_label=_membership_label(frozenset({0})))
    self.unit = unit
    self._train_size = train_size
    self._test_size = test_size

  def _propose(self, lo: int, hi: int) -> _splits.Proposer:
    def propose(rng: np.random.Generator, count: int) -> list[str]:
      repeats = rng.integers(lo, hi + 1, count) // len(self.unit)
      return [self.unit * int(k) for k in repeats if lo <= k * len(self.unit) <= hi]
    return propose

  def _draw(self, rng, count, lo, hi) -> list[str]:
    return _splits.draw(rng, self._propose(lo, hi), count, lo=lo, hi=hi, name=self.name)

  def paper_splits(self, rng, sizes=None):
    sizes = _splits.resolve_sizes(
        self.name,
        {"train": self._train_size, "bin0": self._test_size, "bin1": self._test_size}, sizes)
    rng = np.random.default_rng(rng)
    lo = len(self.unit)
    return {
        "train": self._draw(rng, sizes["train"], lo, 500),
        "bin0": _splits.set_order(rng, self._draw(rng, sizes["bin0"], lo, 500)),
        "bin1": _splits.set_order(rng, self._draw(rng, sizes["bin1"], 501, 600)),
    }


# ---- abcde_blocks ----------------------------------------------------------------------------


class BlocksLanguage(DFALanguage):
  """a+b+c+d+e+ (§3.3); the label is the successor letter of the symbol read."""

  _LETTERS = "abcde"
  _SUCCESSOR = {"a": "b", "b": "c", "c": "d", "d": "e", "e": "T"}

  def __init__(self):
    letters = self._LETTERS
    partial = {}
    for i, x in enumerate(letters):  # state i + 1 = inside the run of letter x
      partial[(i + 1, x)] = i + 1
      partial[(i, x)] = i + 1
    super().__init__(name="abcde_blocks", alphabet=tuple(letters),
                     transitions=complete_transitions(6, letters, partial), start=0,
                     accepting={5}, category="star_free",
                     paper_label=lambda q, c: self._SUCCESSOR[c])

  def _propose(self, lo: int, hi: int) -> _splits.Proposer:
    def propose(rng: np.random.Generator, count: int) -> list[str]:
      budget = np.full(count, hi - lo + 1, dtype=np.int64)
      runs = []
      for _ in self._LETTERS:
        extra = np.where(budget > 0, rng.integers(1, np.maximum(budget, 1) + 1), 0)
        runs.append(lo // 5 + extra)
        budget -= extra
      runs = np.stack(runs, axis=1)
      keep = np.flatnonzero((runs[:, -1] > 0) & (runs.sum(axis=1) >= lo)
                            & (runs.sum(axis=1) <= hi))
      return ["".join(x * int(r) for x, r in zip(self._LETTERS, runs[i])) for i in keep]
    return propose

  def _draw(self, rng, count, lo, hi) -> list[str]:
    return _splits.draw(rng, self._propose(lo, hi), count, lo=lo, hi=hi, name=self.name,
                        member=self.accepts_many, unique=True)

  def paper_splits(self, rng, sizes=None):
    sizes = _splits.resolve_sizes(self.name, {"train": 10000, "bin0": 2000, "bin1": 2000},
                                  sizes)
    # [L] does not raise the lower bound of star-free bin 1 (§6).
    return _splits.joint_splits(np.random.default_rng(rng), sizes, self._draw, (5, 200),
                                (5, 300), order=_splits.set_order)


# ---- ab_d_bc and 012_02: pre* mark post* --------------------------------------------------------


class MarkedLanguage(DFALanguage):
  """{pre}* mark {post}* (ab_d_bc) or {0,1,2}* 0 2* (012_02) with their samplers (§3.4, §3.5)."""

  def __init__(self, *, name: str, alphabet: Sequence[str], transitions, accepting,
               paper_label: PaperLabel, pre: str, mark: str, post: str):
    super().__init__(name=name, alphabet=alphabet, transitions=transitions, start=0,
                     accepting=accepting, category="star_free", paper_label=paper_label)
    self._pre, self._mark, self._post = pre, mark, post

  def _propose(self, lo: int, hi: int) -> _splits.Proposer:
    def propose(rng: np.random.Generator, count: int) -> list[str]:
      pre_len = rng.integers(0, hi - 1, count)
      post_len = rng.integers(0, hi - 1 - pre_len)
      total = pre_len + 1 + post_len
      keep = (total >= lo) & (total <= hi)
      pres = _splits.random_strings(rng, pre_len[keep], self._pre)
      posts = _splits.random_strings(rng, post_len[keep], self._post)
      return [a + self._mark + b for a, b in zip(pres, posts)]
    return propose

  def _draw(self, rng, count, lo, hi) -> list[str]:
    return _splits.draw(rng, self._propose(lo, hi), count, lo=lo, hi=hi, name=self.name,
                        unique=True)

  def paper_splits(self, rng, sizes=None):
    sizes = _splits.resolve_sizes(self.name, {"train": 10000, "bin0": 2000, "bin1": 2000},
                                  sizes)
    return _splits.joint_splits(np.random.default_rng(rng), sizes, self._draw, (2, 50),
                                (2, 100), order=_splits.set_order)


def ab_d_bc() -> MarkedLanguage:
  # States: 0 = before d ({a,b}* so far), 1 = after d; 2 = dead.
  transitions = complete_transitions(
      2, "abcd", {(0, "a"): 0, (0, "b"): 0, (0, "d"): 1, (1, "b"): 1, (1, "c"): 1})
  return MarkedLanguage(
      name="ab_d_bc", alphabet=("a", "b", "c", "d"), transitions=transitions, accepting={1},
      paper_label=lambda q, c: "1101" if q == 0 else "0110", pre="ab", mark="d", post="bc")


def zero_one_two() -> MarkedLanguage:
  # States: 0 = N (last non-2 symbol is not 0), 1 = Z (it is 0); complete without a dead state.
  transitions = [[1, 0, 0], [1, 0, 1]]
  # Source rule: 'e' only when a '2' leads to Z, so a prefix ending in '0' is labelled 'c'.
  return MarkedLanguage(
      name="012_02", alphabet=("0", "1", "2"), transitions=transitions, accepting={1},
      paper_label=lambda q, c: "e" if (c == "2" and q == 1) else "c", pre="012", mark="0",
      post="2")


# ---- D_n -------------------------------------------------------------------------------------

_A, _B = ord("a"), ord("b")
_RHO_START, _RHO_STEP, _SIGMA, _MAX_FAILURES = 0.75, 0.02, 0.1, 20000


def _rand_len(rng: np.random.Generator, m: np.ndarray, rho: float) -> np.ndarray:
  """RandLen(m) = trunc(m * rho * (1 + sigma * Z)), vectorized."""
  return np.trunc(m * rho * (1.0 + _SIGMA * rng.standard_normal(m.shape))).astype(np.int64)


def _dn_gen(rng: np.random.Generator, depth: int, m: np.ndarray,
            rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The [L] recursion Gen(depth, m) for a batch of m, as lengths and the positions of 'a'.

  Gen(k, m) appends blocks 'a' Gen(k-1, RandLen(m)) 'b' while shorter than m; Gen(1, m) is
  (ab)^ceil(m/2) in closed form. A balanced word is fixed by its length and where its 'a's
  are, so this returns (lengths [count], rows, positions): word `rows[i]` has 'a' at
  `positions[i]`. Work is proportional to the symbols drawn, not to count * width.
  """
  count = m.shape[0]
  if depth == 0 or count == 0:
    return np.zeros(count, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
  if depth == 1:
    pairs = np.where(m > 0, (m + 1) // 2, 0)
    rows = np.repeat(np.arange(count), pairs)
    positions = 2 * (np.arange(rows.size) - np.repeat(np.cumsum(pairs) - pairs, pairs))
    return 2 * pairs, rows, positions
  lengths = np.zeros(count, np.int64)
  rows, positions = [], []
  active = np.flatnonzero(m > 0)
  while active.size:
    child_len, child_rows, child_pos = _dn_gen(rng, depth - 1,
                                               _rand_len(rng, m[active], rho), rho)
    start = lengths[active]
    rows += [active, active[child_rows]]
    positions += [start, start[child_rows] + 1 + child_pos]
    lengths[active] = start + 2 + child_len
    active = active[lengths[active] < m[active]]
  if not rows:
    return lengths, np.zeros(0, np.int64), np.zeros(0, np.int64)
  return lengths, np.concatenate(rows), np.concatenate(positions)


def _dn_words(lengths: np.ndarray, rows: np.ndarray, positions: np.ndarray,
              keep: np.ndarray) -> list[bytes]:
  """The words `keep` (indices) of a `_dn_gen` batch, as ASCII bytes."""
  if keep.size == 0:
    return []
  width = max(int(lengths[keep].max()), 1)
  slot = np.full(lengths.size, -1, np.int64)
  slot[keep] = np.arange(keep.size)
  matrix = np.where(np.arange(width) < lengths[keep][:, None], _B, 0).astype(np.uint8)
  chosen = slot[rows] >= 0
  matrix[slot[rows[chosen]], positions[chosen]] = _A
  return matrix.view(f"S{width}").ravel().tolist()


class DepthBoundedDyckLanguage(DFALanguage):
  """D_n = (a D_{n-1} b)*: balanced a/b strings of depth <= n (§3.6).

  `sampler="paper"` builds splits with the official rho-decay recursion (which may stop
  early, with a warning: d3 ends near 10.7k of 12000 words like the committed data);
  `sampler="committed"` is the same recursion with rho never dropping (it stays 0.75), which
  is what the committed datasets match (96.6% of the committed D_12 training words reach depth
  12; the decaying sampler gives about 83%); it stops after as many failures as the decaying
  one would;
  `sampler="fallback"` uses F_Dn, which is not from the paper's code: `canonical_splits` is
  then False. d2 defaults to the fallback with the committed D-2 shape (5000 / 1000 / 1000,
  bin 1 lengths 101..200), since the paper's sampler finds only ~1.4k distinct d2 words.
  """

  SAMPLERS = ("paper", "committed", "fallback")

  def __init__(self, depth: int, sampler: str, sizes: Mapping[str, int],
               bin1_window: tuple[int, int]):
    if sampler not in self.SAMPLERS:
      raise ValueError(f"d{depth}: unknown sampler {sampler!r}; valid: {', '.join(self.SAMPLERS)}")
    partial = {}
    for d in range(depth + 1):
      if d < depth:
        partial[(d, "a")] = d + 1
      if d > 0:
        partial[(d, "b")] = d - 1
    super().__init__(name=f"d{depth}", alphabet=("a", "b"),
                     transitions=complete_transitions(depth + 1, "ab", partial), start=0,
                     accepting={0}, category="star_free",
                     paper_label=lambda q, c: "10" if q == 0 else "01" if q == depth else "11")
    self.depth = depth
    self.sampler = sampler
    # Splits from the fallback sampler are not the paper's (spec §7 item 6).
    self.canonical_splits = sampler in ("paper", "committed")
    self._sizes = dict(sizes)
    self._bin1_window = bin1_window

  def paper_list(self, rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
    """List(count, lo, hi) of [L]: new in-window Gen draws; rho decays, may stop early.

    Every 20001 failures (duplicate or out of window) rho drops by 0.02; when rho < 0 the
    list is returned short and a warning says so. The "committed" sampler keeps rho and stops
    after the same number of rounds of failures.
    """
    words: list[str] = []
    seen: set = set()
    failures, rho, rounds = 0, _RHO_START, _RHO_START
    decay = _RHO_STEP if self.sampler == "paper" else 0.0
    while len(words) < count:
      batch = min(count - len(words) + _MAX_FAILURES + 1 - failures, 16384)
      tops = _rand_len(rng, np.full(batch, hi, dtype=np.int64), rho)
      lengths, rows, positions = _dn_gen(rng, self.depth, tops, rho)
      in_window = (lengths >= lo) & (lengths <= hi)
      keys = iter(_dn_words(lengths, rows, positions, np.flatnonzero(in_window)))
      for fits in in_window.tolist():
        key = next(keys) if fits else None
        if fits and key not in seen:
          seen.add(key)
          words.append(key.decode("ascii"))
          if len(words) == count:
            break
        else:
          failures += 1
        if failures > _MAX_FAILURES:
          failures, rho, rounds = 0, rho - decay, rounds - _RHO_STEP
          if rounds < 0:
            warnings.warn(
                f"{self.name}: the {self.sampler} sampler stopped early (failure budget spent) with "
                f"{len(words)} of {count} words in [{lo}, {hi}], as in the official code",
                stacklevel=3)
            return words
          break  # the rest of the batch was drawn with the old rho
    return words

  def fallback_list(self, rng: np.random.Generator, count: int, lo: int, hi: int) -> list[str]:
    """F_Dn (not from the paper's code): uniform even length, uniform completable moves."""
    lengths = self.valid_lengths(max(lo, 2), hi)
    if not lengths:
      raise ValueError(f"{self.name}: no even length >= 2 in [{lo}, {hi}]")

    def propose(rng: np.random.Generator, batch: int) -> list[str]:
      return [self.sample(rng, int(n)) for n in rng.choice(lengths, batch)]

    return _splits.draw(rng, propose, count, lo=lo, hi=hi, name=self.name, unique=True)

  def paper_splits(self, rng, sizes=None):
    sizes = _splits.resolve_sizes(self.name, self._sizes, sizes)
    make = self.fallback_list if self.sampler == "fallback" else self.paper_list
    # d3, d4, d12 set `unique: True` (a set: arbitrary order); the d2 config does not.
    order = _splits.set_order if self.depth != 2 else _splits.keep_order
    return _splits.joint_splits(np.random.default_rng(rng), sizes, make, (2, 100),
                                self._bin1_window, order=order)


_DN_SIZES = {"train": 10000, "bin0": 2000, "bin1": 2000}
# The committed D-2 data (the paper's reference, spec §7 item 6) has 5000/1000/1000 words and
# a bin 1 of lengths above 100; the fallback reproduces that shape.
_D2_FALLBACK_SIZES = {"train": 5000, "bin0": 1000, "bin1": 1000}


def d_n(depth: int, sampler: str) -> DepthBoundedDyckLanguage:
  if sampler == "fallback" and depth == 2:
    return DepthBoundedDyckLanguage(depth, sampler, _D2_FALLBACK_SIZES, (101, 200))
  return DepthBoundedDyckLanguage(depth, sampler, _DN_SIZES, (2, 200))


def d2(sampler: str = "fallback") -> DepthBoundedDyckLanguage:
  """D_2. The paper's sampler yields ~1.4k words here, so the default is the flagged fallback."""
  return d_n(2, sampler)


def d3(sampler: str = "paper") -> DepthBoundedDyckLanguage:
  return d_n(3, sampler)


def d4(sampler: str = "paper") -> DepthBoundedDyckLanguage:
  return d_n(4, sampler)


def d12(sampler: str = "paper") -> DepthBoundedDyckLanguage:
  return d_n(12, sampler)


def aa_star() -> UnitStarLanguage:
  return UnitStarLanguage("aa_star", "aa", ("a",), train_size=250, test_size=50)


def aaaa_star() -> UnitStarLanguage:
  return UnitStarLanguage("aaaa_star", "aaaa", ("a",), train_size=125, test_size=25)


def abab_star() -> UnitStarLanguage:
  return UnitStarLanguage("abab_star", "abab", ("a", "b"), train_size=125, test_size=25)


LANGUAGES = {
    "parity": ParityLanguage,
    "aa_star": aa_star,
    "aaaa_star": aaaa_star,
    "abab_star": abab_star,
    "abcde_blocks": BlocksLanguage,
    "ab_d_bc": ab_d_bc,
    "012_02": zero_one_two,
    "d2": d2,
    "d3": d3,
    "d4": d4,
    "d12": d12,
}

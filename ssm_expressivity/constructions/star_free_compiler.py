"""The star-free theorem as a compiler: any aperiodic DFA to a NONNEGATIVE diagonal SSM.

    c = constructions.from_dfa(dfa)        # automata.DFA; NotStarFreeError if not star-free
    c.num_layers, c.state_dims, c.is_nonnegative(), c.allowed_next_sets(word)

1. `holonomy.decompose` turns the minimal DFA into a cascade of reset automata, one level per
   holonomy height (Eilenberg; Maler 2010; Egri-Nagy and Nehaniv 2015; see holonomy.py).
2. Each level becomes NONNEGATIVE layers. The level's component states are one-hot reset
   cells (gate 1 - reset, drive = the event of the value: gate 1 holds, gate 0 jumps), and
   its events are threshold units over the current symbol and the *previous* chain of the
   levels above (a cascade level reads the upper levels' state before the update). A layer
   sees the upper layers' state after the update, so below the top level a delay layer
   comes first: one delay cell per upper chain on which some letter resets the level (gate
   1/4, drive = the chain's indicator; on the other chains every component holds, so their
   previous indicator is never read) gives the previous indicator, plus a "first position"
   cell (gate 1/4, drive 1) that stands for the start chain at t = 1. So the top level is one
   layer, every other level two, and a threshold readout maps the full chain (hence the DFA
   state) to its allowed-next set. The chain indicators themselves are phi units: their number
   can grow like 2^levels (D_n: 2^(n+1) chains over n + 2 states), so phi, not the state, is
   where the general path pays for its generality.

Exact in finite precision: reset cells only ever hold 0 or 1 (h' = 1*h + 0 or 0*h + {0, 1},
no rounding). A delay cell holds h_t = v_t + h_(t-1)/4 with binary v, so h_t - v_t lies in
[v_(t-1)/4, v_(t-1)/4 + 1/12]: the threshold 1/8 reads v_(t-1) with margin >= 1/24, and every
value stays in [0, 4/3], where float32 rounding (relative 2^-24 per step, not accumulating
because the gate 1/4 contracts it) is far below the margin, at any length. The first-position
cell is 1 at t = 1 and >= 5/4 after (threshold 9/8). Every gate is in {0, 1/4, 1} on every
binary input: NONNEGATIVE.

A DFA whose transition monoid is not aperiodic (not star-free, Schutzenberger) is refused
with NotStarFreeError naming a witness word u and period p > 1: u^n and u^(n+p) act alike on
the minimal DFA's states for large n, u^n and u^(n+1) do not.
"""

from __future__ import annotations

import bisect

import numpy as np

from ssm_expressivity import automata
from ssm_expressivity.constructions import holonomy
from ssm_expressivity.constructions.base import DELAY_GATE, Construction, StackBuilder, sym
from ssm_expressivity.languages import base as languages_base
from ssm_expressivity.languages import regular

# The first-position cell is 1 at t = 1, then 1 + 1/4 + ... >= 5/4.
_FIRST_THRESHOLD = 1.125


class NotStarFreeError(ValueError):
  """The language is not star-free; `word` and `period` witness a group in its monoid."""

  def __init__(self, word: tuple, period: int, alphabet: tuple):
    self.word, self.period = word, period
    shown = "".join(word) if all(len(s) == 1 for s in alphabet) else " ".join(word)
    super().__init__(
        f"not star-free (its syntactic monoid contains a group, so no NONNEGATIVE SSM "
        f"exists): the word u={shown!r} has period p={period}: u^n and u^(n+{period}) act "
        f"alike on the minimal DFA's states for large n, u^n and u^(n+1) do not")


def power_period(transformation: tuple) -> tuple[int, int]:
  """(index, period) of the powers m, m^2, ...: m^k == m^(k+period) for k >= index."""
  seen, power, k = {}, transformation, 1
  while power not in seen:
    seen[power] = k
    power = tuple(transformation[q] for q in power)  # m^(k+1): first m^k, then m
    k += 1
  return seen[power], k - seen[power]


def aperiodicity_witness(dfa: automata.DFA,
                         max_size: int = automata.DEFAULT_MAX_MONOID_SIZE):
  """The shortest word u (ties: alphabet order) whose transformation on the minimal DFA has
  a power period p > 1, as (u, p); None when the monoid is aperiodic (star-free)."""
  minimal = automata.minimize(dfa)
  letters = [tuple(int(q) for q in minimal.transitions[:, i])
             for i in range(len(minimal.alphabet))]
  identity = tuple(range(minimal.num_states))
  seen, frontier = {identity}, [(identity, ())]
  while frontier:
    nxt = []
    for element, word in frontier:
      for i, letter in enumerate(letters):
        product = tuple(letter[q] for q in element)
        if product in seen:
          continue
        seen.add(product)
        if len(seen) > max_size:
          raise automata.MonoidTooLargeError(
              f"the transition monoid has more than {max_size} elements")
        longer = word + (minimal.alphabet[i],)
        _, period = power_period(product)
        if period > 1:
          return longer, period
        nxt.append((product, longer))
    frontier = nxt
  return None


def _language(minimal: automata.DFA, name: str) -> regular.DFALanguage:
  return regular.DFALanguage(name=name, alphabet=minimal.alphabet,
                             transitions=minimal.transitions, start=minimal.start,
                             accepting=minimal.accepting, category="star_free",
                             paper_label=lambda q, c: "1" if q in minimal.accepting else "0")


def _allowed_of_state(minimal: automata.DFA) -> list[frozenset]:
  live = minimal.live_states()
  out = []
  for q in range(minimal.num_states):
    symbols = [c for i, c in enumerate(minimal.alphabet)
               if q in live and int(minimal.transitions[q, i]) in live]
    if q in minimal.accepting:
      symbols.append(languages_base.EOS)
    out.append(frozenset(symbols))
  return out


def unbounded_states(dfa: automata.DFA) -> frozenset:
  """The live states from which live words of every length continue: those that reach, through
  live states, a cycle of live states."""
  live = dfa.live_states()
  successors = {q: {int(r) for r in dfa.transitions[q] if int(r) in live} for q in live}
  out: set = set()
  changed = True
  while changed:  # q is unbounded iff some live successor is unbounded or lies on a live cycle
    changed = False
    for q in live:
      if q not in out and any(r in out or automata.on_cycle(r, successors) for r in successors[q]):
        out.add(q)
        changed = True
  return frozenset(out)


def live_walk(minimal: automata.DFA, rng: np.random.Generator, length: int,
              weights: dict[str, float] | None = None, unbounded: bool = False) -> str:
  """A random walk of at most `length` symbols through live states (a prefix of a word of L);
  it stops early only where no symbol keeps the word live (finite parts of L). `unbounded`:
  through `unbounded_states` only, so it has exactly `length` symbols when L is infinite (and
  is empty when L is finite)."""
  live = unbounded_states(minimal) if unbounded else minimal.live_states()
  w = np.array([1.0 if weights is None else weights.get(s, 1.0) for s in minimal.alphabet])
  moves = []  # per state: its live symbol indices and their cumulative probabilities
  for q in range(minimal.num_states):
    ok = [i for i in range(len(minimal.alphabet)) if int(minimal.transitions[q, i]) in live]
    moves.append((ok, np.cumsum(w[ok] / w[ok].sum()).tolist() if ok else []))
  table = minimal.transitions.tolist()
  q, out = minimal.start, []
  for u in rng.random(length).tolist():
    ok, cdf = moves[q]
    if not ok:
      break
    i = ok[min(bisect.bisect_right(cdf, u), len(ok) - 1)]  # = searchsorted(side="right")
    out.append(minimal.alphabet[i])
    q = table[q][i]
  return "".join(out)


def _stress(minimal: automata.DFA):
  def words(rng: np.random.Generator, length: int) -> list:
    out = [live_walk(minimal, rng, length)]
    for s in minimal.alphabet:  # long runs of each symbol
      out.append(live_walk(minimal, rng, length, {s: 8.0}))
    # the walks above may end early in a finite part of L; this one has full length
    out.append(live_walk(minimal, rng, length, unbounded=True))
    return [w for w in out if w]
  return words


def from_dfa(dfa: automata.DFA, name: str = "dfa") -> Construction:
  """A NONNEGATIVE DiagonalSSM predictively modeling L(dfa) (see the module docstring)."""
  witness = aperiodicity_witness(dfa)
  if witness is not None:
    raise NotStarFreeError(witness[0], witness[1], dfa.alphabet)
  minimal = automata.minimize(dfa)
  language = _language(minimal, name)
  if not minimal.live_states():
    raise ValueError(f"{name}: the language is empty (no word to model)")
  cascade = holonomy.decompose(minimal)
  model, params = _compile(cascade, language, minimal)
  summary = (f"{minimal.num_states}-state minimal DFA, holonomy cascade of "
             f"{len(cascade.levels)} reset levels ({cascade_state_count(cascade)} component "
             "states), one layer for the top level and delay + reset layers below")
  construction = Construction(name, language, model, params, summary, _stress(minimal))
  object.__setattr__(construction, "cascade", cascade)
  return construction


def cascade_state_count(cascade: holonomy.Cascade) -> int:
  return sum(len(cascade.tiles[r]) for h in cascade.levels for r in cascade.components[h])


def _compile(cascade: holonomy.Cascade, language, minimal: automata.DFA):
  b = StackBuilder(minimal.alphabet)
  levels = cascade.levels
  allowed_of = _allowed_of_state(minimal)
  full = cascade.initial_chain[:1]
  cur: dict = {}  # prefix of the current chain -> its indicator signal
  layer = None
  for idx, h in enumerate(levels):
    resets = cascade.actions[h]
    comps = cascade.components[h]
    if idx == 0:  # the top level reads only the symbol
      layer = b.layer()
      for r_i, r in enumerate(comps):
        for v in range(len(cascade.tiles[r])):
          events = {sym(minimal.alphabet[i]): float(acts[r] == v)
                    for (i, _), acts in resets.items() if r in acts}
          layer.reset_cell(f"L{h}c{r_i}v{v}", events,
                           h0=float(cascade.initial_coords.get(r) == v))
    else:
      layer = b.layer()
      keys = list(cur)
      # Only the upper chains on which some letter resets this level need a delay cell (a
      # state dimension); on the others every component of the level holds.
      delayed = [k for k, p in enumerate(keys)
                 if any(acts and q == p for (_, q), acts in resets.items())]
      for k in delayed:
        layer.delay(f"L{h}d{k}", cur[keys[k]])
      layer.cell(f"L{h}first", {}, DELAY_GATE, {}, 1.0)
      c = layer.circuit
      is_first = c.threshold(f"L{h}is_first", {f"L{h}first": -1.0}, _FIRST_THRESHOLD)
      prev = {}
      start_prefix = cascade.prefix(cascade.initial_chain, h)
      for k in delayed:
        p = keys[k]
        read = layer.read_delay(f"L{h}prev{k}", f"L{h}d{k}", cur[p])
        prev[p] = c.any_of(f"L{h}was{k}", [read, is_first]) if p == start_prefix else read
      outputs, event_names = [], {}
      for r_i, r in enumerate(comps):
        names = []
        for v in range(len(cascade.tiles[r])):
          terms = [c.all_of(f"L{h}c{r_i}v{v}a{i}p{keys.index(p)}",
                            pos=[sym(minimal.alphabet[i]), prev[p]])
                   for (i, p), acts in resets.items() if acts.get(r) == v and p in prev]
          if terms:
            names.append((v, c.any_of(f"L{h}e{r_i}v{v}", terms)))
        if names:
          reset = c.any_of(f"L{h}r{r_i}", [n for _, n in names])
          event_names[r] = (names, reset)
          outputs += [n for _, n in names] + [reset]
      b.end_layer(outputs + [cur[p] for p in keys])
      layer = b.layer()
      for r_i, r in enumerate(comps):
        names, reset = event_names.get(r, ([], None))
        for v in range(len(cascade.tiles[r])):
          h0 = float(cascade.initial_coords.get(r) == v)
          if names:
            layer.reset_cell(f"L{h}c{r_i}v{v}", {n: float(u == v) for u, n in names}, h0,
                             reset=reset)
          else:
            layer.reset_cell(f"L{h}c{r_i}v{v}", {}, h0)
    c = layer.circuit
    if idx == 0:
      cur = {full: c.constant(f"L{h}top", True)}
    nxt = levels[idx + 1] if idx + 1 < len(levels) else 0
    next_prefixes = sorted({cascade.prefix(chain, nxt) for chain in cascade.chains},
                           key=lambda pr: [sorted(s) for s in pr])
    new_cur = {}
    for k, p2 in enumerate(next_prefixes):
      p = cascade.prefix(p2, h)
      if p == p2:
        new_cur[p2] = cur[p]
      else:
        r = cascade.rep[p[-1]]
        v = cascade.coordinate(p[-1], p2[-1])
        new_cur[p2] = c.all_of(f"L{h}n{k}", pos=[cur[p], f"L{h}c{comps.index(r)}v{v}"])
    cur = new_cur
    if idx + 1 < len(levels):
      b.end_layer(list(dict.fromkeys(cur.values())))
  if layer is None:  # a one-state DFA: no cascade level
    c = b.layer().circuit
    cur = {full: c.constant("top", True)}
  allowed = {}
  for s in language.output_symbols:
    signals = [cur[chain] for chain in cur if s in allowed_of[next(iter(chain[-1]))]]
    allowed[s] = c.any_of(f"allow_{s}", signals) if signals else None
  return b.build_allowed(language, allowed)

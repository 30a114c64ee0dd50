"""Holonomy decomposition of an aperiodic DFA into a cascade of reset automata (pure numpy).

Follows the holonomy decomposition (Eilenberg, "Automata, Languages and Machines" vol. B;
Maler, "On the Krohn-Rhodes cascaded decomposition theorem", 2010; Egri-Nagy and Nehaniv,
"Computational holonomy decomposition of transformation semigroups", 2015), specialised to
aperiodic semigroups, where every holonomy group is trivial:

  X       the images Q.w of all words w, plus Q and the singletons; closed under letters
  A ~ B   A = B.u and B = A.v for words u, v (subduction equivalence); one representative
          R per class, with words s_A: A -> R and t_A: R -> A (bijections)
  height  0 for singletons, else 1 + the largest height of a set strictly subducted by A
  tiles   of A: the maximal sets of X properly inside A

A state q is a chain Q = A_k > A_(k-1) > ... > {q}, each set a tile of the one above; the
coordinate of A_j is its tile mapped into the representative, tile . s_(A_j). Level h (one per
height) holds the coordinates of the representatives of height h. On a letter the new chain is
built top-down; at a set B it keeps the old coordinate when an old chain set C ~ B of the same
size maps onto B (then t_C a s_B permutes R, and a permutation in an aperiodic semigroup is the
identity), and otherwise resets B's coordinate to a tile of B containing D.a for the old set D
the chain reached. Which of the two happens, and the reset value, depend only on the letter and
the old chain above height h: each level is a reset (identity-or-constant) automaton fed by the
levels above. `decompose` checks that claim on every reachable chain and raises if it fails.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

from ssm_expressivity import automata

Set = frozenset


@dataclasses.dataclass(frozen=True)
class Cascade:
  """A reset cascade of a minimal aperiodic DFA.

  levels: heights, top first. components[h]: representatives of height h (with >= 2 elements).
  tiles[R]: the tiles of representative R (a component's states, in order).
  prefixes[h]: the possible "old chain down to the first set of height <= h" (tuples of sets).
  actions[h][(letter index, prefix)]: {R: tile index} resets of level h (others hold).
  chains: every reachable chain (tuple of sets, Q first, a singleton last).
  """

  dfa: automata.DFA
  levels: tuple[int, ...]
  components: dict
  tiles: dict
  prefixes: dict
  actions: dict
  initial_chain: tuple
  initial_coords: dict
  chains: tuple
  height: dict
  rep: dict
  to_rep: dict

  def coordinate(self, s: Set, tile: Set) -> int:
    """The coordinate of `tile` (a tile of s) in s's component."""
    return self.tiles[self.rep[s]].index(Set(self.to_rep[s][q] for q in tile))

  def prefix(self, chain: tuple, h: int) -> tuple:
    """The chain down to its first set of height <= h."""
    for j, s in enumerate(chain):
      if self.height[s] <= h:
        return chain[:j + 1]
    raise AssertionError("a chain ends in a singleton")


def _act(state_set: Set, letter: np.ndarray) -> Set:
  return Set(int(letter[q]) for q in state_set)


def _images(dfa: automata.DFA) -> set:
  letters = [dfa.transitions[:, i] for i in range(len(dfa.alphabet))]
  full = Set(range(dfa.num_states))
  seen, frontier = {full}, [full]
  while frontier:
    nxt = []
    for s in frontier:
      for letter in letters:
        image = _act(s, letter)
        if image not in seen:
          seen.add(image)
          nxt.append(image)
    frontier = nxt
  return seen | {Set([q]) for q in range(dfa.num_states)}


def _orbit(start: Set, letters) -> dict:
  """{A.w: the transformation of w (a tuple)} over all words w, shortest words first."""
  n = len(letters[0]) if letters else 0
  identity = tuple(range(n))
  orbit, frontier = {start: identity}, [(start, identity)]
  while frontier:
    nxt = []
    for s, word in frontier:
      for letter in letters:
        image = _act(s, letter)
        if image not in orbit:
          moved = tuple(int(letter[q]) for q in word)
          orbit[image] = moved
          nxt.append((image, moved))
    frontier = nxt
  return orbit


def decompose(dfa: automata.DFA) -> Cascade:
  """The holonomy cascade of `dfa` (a minimal DFA with aperiodic transition monoid)."""
  letters = [np.asarray(dfa.transitions[:, i]) for i in range(len(dfa.alphabet))]
  sets = sorted(_images(dfa), key=lambda s: (len(s), sorted(s)))
  orbits = {s: _orbit(s, letters) for s in sets}
  # Subduction equivalence classes and their representatives (the first in `sets` order).
  rep, to_rep = {}, {}
  for s in sets:
    if s in rep:
      continue
    for other in orbits[s]:
      if other not in rep and s in orbits[other]:
        rep[other] = s
        to_rep[other] = orbits[other][s]
  height: dict = {}

  def height_of(s: Set) -> int:
    if s in height:
      return height[s]
    if len(s) == 1:
      height[s] = 0
      return 0
    below = [t for t in sets if len(t) <= len(s) and rep[t] != rep[s]
             and any(t <= image for image in orbits[s])]
    height[s] = 1 + max(height_of(t) for t in below)
    return height[s]

  for s in sets:
    height_of(s)
  tiles_of = {}
  for s in sets:
    if len(s) > 1:
      proper = [t for t in sets if t < s]
      tiles_of[s] = [t for t in proper if not any(t < u for u in proper)]

  def tile_containing(s: Set, part: Set) -> Set:
    return next(t for t in tiles_of[s] if part <= t)

  def coord(s: Set, tile: Set) -> int:
    image = Set(to_rep[s][q] for q in tile)
    return tiles_of[rep[s]].index(image)

  full = Set(range(dfa.num_states))

  def initial() -> tuple:
    chain = [full]
    while len(chain[-1]) > 1:
      chain.append(tile_containing(chain[-1], Set([dfa.start])))
    return tuple(chain)

  def step(old: tuple, letter: np.ndarray) -> tuple[tuple, dict]:
    """The new chain and, per set B on it, 'hold' or B's reset coordinate."""
    new, action = [full], {}
    while len(new[-1]) > 1:
      b = new[-1]
      same = [c for c in old if len(c) == len(b) and rep[c] == rep[b] and _act(c, letter) == b]
      if same:  # the holonomy case: the coordinate is kept
        c = same[0]
        tile = _act(old[old.index(c) + 1], letter)
        if tile not in tiles_of[b] or coord(b, tile) != coord(c, old[old.index(c) + 1]):
          raise AssertionError("holonomy: a kept coordinate moved (monoid not aperiodic?)")
        action[b] = "hold"
      else:
        d = next(c for c in old if _act(c, letter) < b)
        tile = tile_containing(b, _act(d, letter))
        action[b] = coord(b, tile)
      new.append(tile)
    return tuple(new), action

  levels = tuple(sorted({height[s] for s in sets if len(s) > 1}, reverse=True))

  def prefix(chain: tuple, h: int) -> tuple:
    for j, s in enumerate(chain):
      if height[s] <= h:
        return chain[:j + 1]
    raise AssertionError("a chain ends in a singleton")

  start = initial()
  chains, queue = {start}, collections.deque([start])
  actions = {h: {} for h in levels}
  prefixes = {h: set() for h in levels}
  while queue:
    old = queue.popleft()
    for h in levels:
      prefixes[h].add(prefix(old, h))
    for i, letter in enumerate(letters):
      new, action = step(old, letter)
      for h in levels:
        resets = {rep[b]: a for b, a in action.items() if height[b] == h and a != "hold"}
        key = (i, prefix(old, h))
        if actions[h].setdefault(key, resets) != resets:
          raise AssertionError("holonomy: a level's reset depends on more than the levels above")
      if new not in chains:
        chains.add(new)
        queue.append(new)
  components = {h: sorted({rep[s] for s in sets if len(s) > 1 and height[s] == h},
                          key=lambda s: (len(s), sorted(s))) for h in levels}
  initial_coords = {rep[s]: coord(s, start[j + 1]) for j, s in enumerate(start[:-1])}
  return Cascade(dfa, levels, components, {r: tiles_of[r] for h in levels for r in components[h]},
                 {h: sorted(p, key=lambda c: [sorted(s) for s in c]) for h, p in prefixes.items()},
                 actions, start, initial_coords,
                 tuple(sorted(chains, key=lambda c: [sorted(s) for s in c])), dict(height),
                 dict(rep), dict(to_rep))

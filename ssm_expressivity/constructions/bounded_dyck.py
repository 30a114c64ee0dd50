"""Dyck(K, h) with a 2-layer NONNEGATIVE SSM and 1 + h * ceil(log2 K) state dimensions.

The paper's bounded-Dyck result: optimal memory without simulating a stack.
  layer 1: one counter (gate 1; +1 open, -1 close) = the depth d_t, in 0..h on prefixes;
           its phi emits [d_t == d] and, on an opener of type tau at new depth d, the events
           "open at level d" and "set bit j of level d" for the 1-bits j of code(tau)
           (code = tau in binary, ceil(log2 K) bits).
  layer 2: h levels of ceil(log2 K) cells; the event "open at level d" resets level d to the
           bracket's code (gate 0, drive = the set-bit events), otherwise gate 1 (hold).
           Level d holds the type of the bracket opened most recently at depth d, which is
           the open bracket at depth d whenever d <= d_t.
  readout: the top code = OR_d ([d_t == d] AND level d); closer tau iff d_t >= 1 and
           code(tau) == top code; openers iff d_t < h; EOS iff d_t == 0.
"""

from __future__ import annotations

import math

import numpy as np

from ssm_expressivity import languages
from ssm_expressivity.constructions.base import Construction, StackBuilder, sampled_word, sym


def code_bits(k: int) -> int:
  """ceil(log2 k): bits per stack level (0 for a single bracket type)."""
  return math.ceil(math.log2(k)) if k > 1 else 0


def _walk(rng: np.random.Generator, k: int, depth: int, length: int,
          p_open: float) -> list[int]:
  """Random stack moves as type codes (>= 0 open, ~type close) within the depth bound."""
  stack, out = [], []
  for u, kind in zip(rng.random(length).tolist(), rng.integers(0, k, length).tolist()):
    if len(stack) < depth and (not stack or u < p_open):
      stack.append(kind)
      out.append(kind)
    else:
      out.append(~stack.pop())
  return out


def _sweeps(rng: np.random.Generator, k: int, depth: int, length: int) -> list[int]:
  """Moves between random target depths (0..depth): full climbs, deep dips, refills."""
  stack, out = [], []
  while len(out) < length:
    target = int(rng.integers(0, depth + 1))
    while len(stack) != target and len(out) < length:
      if len(stack) < target:
        stack.append(int(rng.integers(0, k)))
        out.append(stack[-1])
      else:
        out.append(~stack.pop())
  return out


def _stress(k: int, depth: int):
  def words(rng: np.random.Generator, length: int) -> list:
    language = languages.get("bounded_dyck", k=k, depth=depth)

    def tokens(moves):
      return tuple(language.openers[m] if m >= 0 else language.closers[~m] for m in moves)

    return [
        tokens(_walk(rng, k, depth, length, 0.5)),
        tokens(_walk(rng, k, depth, length, 0.9)),  # pinned at maximal depth
        tokens(_sweeps(rng, k, depth, length)),
        sampled_word(language, rng, length),
    ]
  return words


def bounded_dyck(k: int = 8, depth: int = 10) -> Construction:
  language = languages.get("bounded_dyck", k=k, depth=depth)
  bits = code_bits(k)
  openers, closers = language.openers, language.closers
  b = StackBuilder(language.alphabet)

  layer = b.layer()
  layer.counter("depth", {**{sym(o): 1.0 for o in openers}, **{sym(c): -1.0 for c in closers}})
  c = layer.circuit
  at_least = [None] + [c.at_least(f"depth>={d}", "depth", d) for d in range(1, depth + 2)]
  level = [c.threshold("depth=0", {at_least[1]: -1.0}, 0.5)]
  level += [c.threshold(f"depth={d}", {at_least[d]: 1.0, at_least[d + 1]: -1.0}, -0.5)
            for d in range(1, depth + 1)]
  events = []
  for d in range(1, depth + 1):
    # On an opener, [depth == d] = [depth >= d] - [depth >= d + 1]; AND by a threshold.
    exact = {at_least[d]: 1.0, at_least[d + 1]: -1.0}
    events.append(c.threshold(f"open@{d}", {**{sym(o): 1.0 for o in openers}, **exact}, -1.5))
    for j in range(bits):
      ones = {sym(o): 1.0 for t, o in enumerate(openers) if t >> j & 1}
      events.append(c.threshold(f"set@{d}.{j}", {**ones, **exact}, -1.5))
  b.end_layer(level + events)

  layer = b.layer()
  for d in range(1, depth + 1):
    for j in range(bits):
      layer.cell(f"level{d}.{j}", {f"open@{d}": -1.0}, 1.0, {f"set@{d}.{j}": 1.0}, binary=True)
  c = layer.circuit
  top = []
  for j in range(bits):
    picks = [c.all_of(f"pick{d}.{j}", pos=[f"depth={d}", f"level{d}.{j}"])
             for d in range(1, depth + 1)]
    top.append(c.any_of(f"top.{j}", picks))
  allowed = {}
  for t, closer in enumerate(closers):
    # matches(code) = sum_j (2 c_j - 1) top_j + #zeros(c) = bits iff the codes agree.
    weights = {top[j]: (1.0 if t >> j & 1 else -1.0) for j in range(bits)}
    zeros = sum(1 for j in range(bits) if not t >> j & 1)
    weights["depth=0"] = -1.0
    allowed[closer] = c.threshold(f"close_{t}", weights, zeros - bits + 0.5)
  open_ok = c.threshold("open_ok", {f"depth={depth}": -1.0}, 0.5)
  allowed.update({o: open_ok for o in openers})
  allowed["$"] = c.any_of("end_ok", ["depth=0"])
  model, params = b.build_allowed(language, allowed)
  return Construction(
      "bounded_dyck", language, model, params,
      f"layer 1: depth counter; layer 2: {depth} levels x {bits} code bits "
      f"(1 + {depth} * ceil(log2 {k}) = {1 + depth * bits} state dims)",
      _stress(k, depth))


CONSTRUCTIONS = {"bounded_dyck": bounded_dyck}

"""Star-free languages of the suite as cascades of reset layers (NONNEGATIVE, finite precision).

The paper: NONNEGATIVE finite-precision SSMs predictively model exactly the star-free
languages; the positive direction builds a cascade of set-reset stages, one layer per stage.
Here each language gets a hand-built cascade. On a prefix of a word of L, the next-symbol set
depends on:

  tomita1   1*            nothing (always {1, $})                      no state
  tomita2   (10)*         the current symbol                           no state
  tomita4   no 000        "the last two symbols are 0": a delay cell   1 layer
  tomita7   0*1*0*1*      "a 1, later a 0, and the current symbol is 1": two set stages,
                          the second reads the first "since"-style     2 layers
  d2..d12   D_n           the depth 0..n: a cascade of n event-driven delay stages whose
                          latest directions sum to the depth            n layers
                          (style="counter": one counter, gate 1, that stays in 0..n)
  abcde_blocks a+b+c+d+e+ the current symbol                           no state
  ab_d_bc   {a,b}*d{b,c}* "a d was read": a set cell                   1 layer
  012_02    {0,1,2}*02*   "the last non-2 symbol is 0": a reset cell   1 layer

"Since"-style (tomita7): stage 2 sets on "current 0 and stage 1 says a 1 was seen"; stage 1's
state after the update equals its state before it whenever the current symbol is 0, so
reading it after the update (what a layer sees) is what the cascade needs.
"""

from __future__ import annotations

import numpy as np

from ssm_expressivity import languages
from ssm_expressivity.constructions.base import (Construction, StackBuilder, random_live_word,
                                                 sampled_word, sym)


def _stress(name: str, run_weights: dict[str, float] | None = None):
  """Random live walks (uniform and run-heavy) plus the language's own sampler."""
  def words(rng: np.random.Generator, length: int) -> list:
    language = languages.get(name)
    out = [random_live_word(language, rng, length)]
    if run_weights:
      out.append(random_live_word(language, rng, length, run_weights))
    out.append(sampled_word(language, rng, length))
    return out
  return words


def _make(name: str, builder: StackBuilder, allowed: dict, summary: str,
          run_weights: dict[str, float] | None = None) -> Construction:
  language = languages.get(name)
  model, params = builder.build_allowed(language, allowed)
  return Construction(name, language, model, params, summary, _stress(name, run_weights))


def tomita1() -> Construction:
  b = StackBuilder(("0", "1"))
  c = b.layer().circuit
  yes = c.constant("true", True)
  return _make("tomita1", b, {"0": None, "1": yes, "$": yes},
               "1*: on its prefixes the next set is always {1, $}; no state")


def tomita2() -> Construction:
  b = StackBuilder(("0", "1"))
  c = b.layer().circuit
  after0 = c.any_of("after0", [sym("0")])
  after1 = c.any_of("after1", [sym("1")])
  return _make("tomita2", b, {"0": after1, "1": after0, "$": after0},
               "(10)*: the next set is fixed by the current symbol; no state")


def tomita4() -> Construction:
  b = StackBuilder(("0", "1"))
  layer = b.layer()
  layer.delay("zeros", sym("0"))
  c = layer.circuit
  prev0 = layer.read_delay("prev0", "zeros", sym("0"))
  two_zeros = c.all_of("two_zeros", pos=[sym("0"), prev0])  # a third 0 is not allowed
  zero_ok = c.threshold("zero_ok", {two_zeros: -1.0}, 0.5)
  yes = c.constant("true", True)
  return _make("tomita4", b, {"0": zero_ok, "1": yes, "$": yes},
               "no 000: a delay cell (gate 1/4) gives the previous symbol; 0 is barred after 00",
               {"0": 3.0})


def tomita7() -> Construction:
  b = StackBuilder(("0", "1"))
  layer = b.layer()
  layer.set_cell("seen1", [sym("1")])
  c = layer.circuit
  b.end_layer([c.all_of("one_then_zero", pos=[sym("0"), "seen1"])])
  layer = b.layer()
  layer.set_cell("seen10", ["one_then_zero"])
  c = layer.circuit
  last_block = c.all_of("last_block", pos=[sym("1"), "seen10"])  # in the final 1* block
  zero_ok = c.threshold("zero_ok", {last_block: -1.0}, 0.5)
  yes = c.constant("true", True)
  return _make("tomita7", b, {"0": zero_ok, "1": yes, "$": yes},
               "0*1*0*1*: set stage 'a 1 was read', then set stage 'a 0 after a 1'; in the "
               "last block only 1 may follow", {"0": 1.0, "1": 1.0})


def _depth_counter(n: int) -> tuple[StackBuilder, dict, str]:
  b = StackBuilder(("a", "b"))
  layer = b.layer()
  layer.counter("depth", {sym("a"): 1.0, sym("b"): -1.0})
  c = layer.circuit
  empty = c.threshold("empty", {"depth": -1.0}, 0.5)  # depth 0
  inside = c.at_least("inside", "depth", 1)
  not_full = c.threshold("not_full", {"depth": -1.0}, n - 0.5)
  return b, {"a": not_full, "b": inside, "$": empty}, (
      f"D_{n}: a depth counter (gate 1) that stays in 0..{n} on prefixes of D_{n}")


def _depth_cascade(n: int) -> tuple[StackBuilder, dict, str]:
  """n layers, one event-driven delay cell each: depth = r_1 + ... + r_n.

  Level-0 events are the symbols (up = a, down = b). Level l + 1 has an event where level l
  has one of the same direction as its previous one ("aa" / "bb" for l = 0), and r_l is the
  direction of level l-1's latest event (0 before any). Between two level-l events the
  level-(l-1) events alternate, so level l's "band" (depth minus r_1..r_l) moves by one per
  level-l event: the same walk one size smaller, hence the cascade. Each stage reads its own
  previous event through the register (a cascade stage needs its state before the update).
  """
  b = StackBuilder(("a", "b"))
  up, event = sym("a"), None  # level-0 events: every symbol, up = a
  directions = [sym("a")]  # r_1 = the direction of the latest symbol
  for level in range(1, n + 1):
    layer = b.layer()
    register = layer.delay(f"reg{level}", up, event)
    c = layer.circuit
    if level > 1:
      directions.append(layer.read_latest(f"r{level}", register))
    if level == n:
      full = c.all_of("full", pos=directions)
      empty = c.all_of("empty", neg=directions)
      allowed = {"a": c.threshold("not_full", {full: -1.0}, 0.5),
                 "b": c.threshold("inside", {empty: -1.0}, 0.5), "$": empty}
      return b, allowed, (f"D_{n}: a cascade of {n} layers, one event-driven delay cell each "
                          "(gates 1/4, 1); depth = sum of the stages' latest directions")
    prev = layer.read_delay(f"prev{level}", register, up)  # direction of the previous event
    on = [] if event is None else [event]
    same_up = c.all_of(f"E{level}up", pos=on + [up, prev])
    same_down = c.all_of(f"E{level}down", pos=on, neg=[up, prev])
    up, event = same_up, c.any_of(f"E{level}", [same_up, same_down])
    b.end_layer(directions[1:] + [up, event])
  raise AssertionError("unreachable")


DEPTH_STYLES = ("cascade", "counter")


def depth_bounded_dyck(n: int):
  def factory(style: str = "cascade") -> Construction:
    if style not in DEPTH_STYLES:
      raise ValueError(f"style must be one of {', '.join(DEPTH_STYLES)}; got {style!r}")
    b, allowed, summary = (_depth_cascade if style == "cascade" else _depth_counter)(n)
    return _make(f"d{n}", b, allowed, summary, {"a": 2.0})
  return factory


def abcde_blocks() -> Construction:
  letters = ("a", "b", "c", "d", "e")
  b = StackBuilder(letters)
  c = b.layer().circuit
  allowed = {"a": c.any_of("next_a", [sym("a")])}
  for prev, letter in zip(letters, letters[1:]):
    allowed[letter] = c.any_of(f"next_{letter}", [sym(prev), sym(letter)])
  allowed["$"] = c.any_of("end_ok", [sym("e")])
  return _make("abcde_blocks", b, allowed,
               "a+b+c+d+e+: the next set is fixed by the current symbol; no state",
               {s: 8.0 for s in letters})


def ab_d_bc() -> Construction:
  b = StackBuilder(("a", "b", "c", "d"))
  layer = b.layer()
  layer.set_cell("seen_d", [sym("d")])
  c = layer.circuit
  before = c.threshold("before_d", {"seen_d": -1.0}, 0.5)
  after = c.any_of("after_d", ["seen_d"])
  yes = c.constant("true", True)
  return _make("ab_d_bc", b, {"a": before, "b": yes, "c": after, "d": before, "$": after},
               "{a,b}*d{b,c}*: one set cell 'd was read'")


def zero_one_two() -> Construction:
  b = StackBuilder(("0", "1", "2"))
  layer = b.layer()
  layer.reset_cell("last_is_0", {sym("0"): 1.0, sym("1"): 0.0})  # 2 holds
  c = layer.circuit
  accept = c.any_of("accept", ["last_is_0"])
  yes = c.constant("true", True)
  return _make("012_02", b, {"0": yes, "1": yes, "2": yes, "$": accept},
               "{0,1,2}*02*: one reset cell 'the last non-2 symbol is 0'", {"2": 4.0})


CONSTRUCTIONS = {
    "tomita1": tomita1,
    "tomita2": tomita2,
    "tomita4": tomita4,
    "tomita7": tomita7,
    "d2": depth_bounded_dyck(2),
    "d3": depth_bounded_dyck(3),
    "d4": depth_bounded_dyck(4),
    "d12": depth_bounded_dyck(12),
    "abcde_blocks": abcde_blocks,
    "ab_d_bc": ab_d_bc,
    "012_02": zero_one_two,
}

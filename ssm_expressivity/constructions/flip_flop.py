"""Flip-flop with a 2-layer NONNEGATIVE SSM, exact at every length in finite precision.

The paper's flip-flop result. Layer 1 (3 reset cells) remembers the last instruction: each of
w, r, i resets the three cells to its one-hot; bits hold them. Its phi turns "the last
instruction is w" and the current symbol into the events "write" and "write a 1" (the bit
follows its instruction, so layer 1's state after the update still names that instruction).
Layer 2 (2 cells): `bit` resets to the written bit, `written` sets on the first write. The
readout maps (bit, written, current symbol) to the next set:
  after w or i: {0, 1};  after r: {bit};  after a bit: {w, i}, plus {r, $} once written.
Every gate is 0 or 1 and every state 0 or 1: exact in any float format.
"""

from __future__ import annotations

import numpy as np

from ssm_expressivity import languages
from ssm_expressivity.constructions.base import (Construction, StackBuilder, random_live_word,
                                                 sym)
from ssm_expressivity.languages import flip_flop as flip_flop_lang

INSTRUCTIONS = ("w", "r", "i")


def _stress(p_ignore: float):
  def words(rng: np.random.Generator, length: int) -> list:
    language = languages.get("flip_flop", p_ignore=p_ignore)
    length = max(4, length - length % 2)
    steps = length // 2
    # One write, then a very long run of ignores, then a read of that bit.
    long_gap = "w1" + "i0" * (steps - 2) + "r1"
    return [
        long_gap,
        random_live_word(language, rng, length, {"i": 8.0}),  # may start before any write
        flip_flop_lang.sample_ffl(rng, 1, length, 0.98)[0],
        flip_flop_lang.sample_ffl(rng, 1, length, 0.1)[0],
        language.sample(rng, length),
    ]
  return words


def flip_flop(p_ignore: float = 0.8) -> Construction:
  """The construction; `p_ignore` only sets the FFL(p) words of `stress_words`."""
  language = languages.get("flip_flop", p_ignore=p_ignore)
  b = StackBuilder(language.alphabet)
  layer = b.layer()
  for instruction in INSTRUCTIONS:
    layer.reset_cell(f"last_{instruction}",
                     {sym(s): float(s == instruction) for s in INSTRUCTIONS})
  c = layer.circuit
  write = c.all_of("write", pos=["last_w"], neg=[sym(s) for s in INSTRUCTIONS])
  b.end_layer([write, c.all_of("write1", pos=["last_w", sym("1")])])

  layer = b.layer()
  layer.reset_cell("bit", {"write1": 1.0}, reset="write")
  layer.set_cell("written", ["write"])
  c = layer.circuit
  read0 = c.all_of("read0", pos=[sym("r")], neg=["bit"])
  read1 = c.all_of("read1", pos=[sym("r"), "bit"])
  bit0 = c.any_of("next0", [sym("w"), sym("i"), read0])
  bit1 = c.any_of("next1", [sym("w"), sym("i"), read1])
  instruction = c.any_of("next_instruction", [sym("0"), sym("1")])
  read_or_end = c.threshold("next_read", {sym("0"): 1.0, sym("1"): 1.0, "written": 1.0}, -1.5)
  model, params = b.build_allowed(language, {
      "w": instruction, "i": instruction, "r": read_or_end, "$": read_or_end,
      "0": bit0, "1": bit1})
  return Construction(
      "flip_flop", language, model, params,
      "layer 1: last instruction (3 reset cells); layer 2: written bit + 'written' (2 cells)",
      _stress(p_ignore))


CONSTRUCTIONS = {"flip_flop": flip_flop}

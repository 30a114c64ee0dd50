"""Past-LTL formulas compiled to NONNEGATIVE diagonal SSM layers, one per temporal depth.

    c = constructions.from_formula("a S (b & Y c)", alphabet=("a", "b", "c"))

Layer d holds one cell per temporal subformula of nesting depth d, whose arguments (boolean
combinations of the symbol and shallower subformulas) the layer below computes in its phi:
  Y f     delay cell, gate 1/4, drive f: phi reads f at t-1 (margin 1/24, as in from_dfa)
  f S g   reset cell, gate 1 - (g or not f), drive g: jumps to 1 on g, to 0 on (not f, not g),
          else holds: exactly the recursion (f S g)_t = g_t or (f_t and (f S g)_(t-1))
  O f     set cell on f;  H f = not O(not f): set cell on not f, read negated
Depth-1 arguments are sets of symbols (sums of one-hot features), so the first layer needs
no circuit below it. Every value is 0 or 1 (delay cells: within 1/12 of one), gates are in
{0, 1/4, 1}: NONNEGATIVE and exact at any length. The readout maps the vector of current
values (the state of the formula's DFA, past_ltl.formula_dfa) to the allowed-next set of
L(f) = {w nonempty : f holds at the last position}.
"""

from __future__ import annotations

from typing import Sequence

from ssm_expressivity import past_ltl
from ssm_expressivity.constructions.base import (DELAY_GATE, DELAY_THRESHOLD, Construction,
                                                 StackBuilder, sym)
from ssm_expressivity.constructions import star_free_compiler
from ssm_expressivity.languages import regular


def _symbols_where(f: tuple, alphabet) -> list[str]:
  return [s for s in alphabet if past_ltl.evaluate(f, s, {})]


class _Compiler:
  def __init__(self, tree: tuple, alphabet: tuple):
    self.tree, self.alphabet = tree, alphabet
    self.nodes = past_ltl.temporal_nodes(tree)
    self.id = {n: i for i, n in enumerate(self.nodes)}
    self.depth = {n: past_ltl.temporal_depth(n) for n in self.nodes}
    self.units = 0  # unit names are numbered once their operands exist

  def fresh(self, layer_depth: int) -> str:
    self.units += 1
    return f"u{self.units}_{layer_depth}"

  def value(self, c, f: tuple, layer_depth: int, cells: dict, memo: dict) -> str:
    """The signal of f's current value in the circuit of layer `layer_depth`."""
    if f in memo:
      return memo[f]
    kind = f[0]
    if kind == "atom":
      out = sym(f[1])
    elif kind in ("true", "false"):
      out = c.constant(self.fresh(layer_depth), kind == "true")
    elif kind == "not":
      operand = self.value(c, f[1], layer_depth, cells, memo)
      out = c.threshold(self.fresh(layer_depth), {operand: -1.0}, 0.5)
    elif kind in ("and", "or"):
      # distinct operands: all_of's bias counts them (b & b would never fire)
      parts = list(dict.fromkeys(self.value(c, g, layer_depth, cells, memo) for g in f[1:]))
      name = self.fresh(layer_depth)
      out = c.all_of(name, pos=parts) if kind == "and" else c.any_of(name, parts)
    elif self.depth[f] < layer_depth:
      out = f"t{self.id[f]}"  # passed up by the layer below
    else:
      out = cells[f]
    memo[f] = out
    return out


def from_formula(text: str, alphabet: Sequence[str]) -> Construction:
  """A NONNEGATIVE DiagonalSSM predictively modeling the language of a past-LTL formula."""
  alphabet = tuple(alphabet)
  tree = past_ltl.parse(text, alphabet)
  comp = _Compiler(tree, alphabet)
  dfa, memories, _ = past_ltl.formula_dfa(tree, alphabet)
  language = regular.DFALanguage(name=text, alphabet=alphabet, transitions=dfa.transitions,
                                 start=0, accepting=dfa.accepting, category="star_free",
                                 paper_label=lambda q, c: "1" if q in dfa.accepting else "0")
  if not dfa.live_states():
    raise ValueError(f"formula {text!r}: its language is empty (no word to model)")
  depth = past_ltl.temporal_depth(tree)
  b = StackBuilder(alphabet)
  for d in range(1, max(depth, 1) + 1):
    layer = b.layer()
    cells = {}
    for node in (n for n in comp.nodes if comp.depth[n] == d):
      i = comp.id[node]
      def weights(f):  # a depth-1 argument as a sum of symbol features
        return {sym(s): 1.0 for s in _symbols_where(f, alphabet)}
      kind = node[0]
      if kind == "Y":
        arg = weights(node[1]) if d == 1 else {f"a{i}": 1.0}
        layer.cell(f"c{i}", {}, DELAY_GATE, arg)
      elif kind in ("O", "H"):
        g = node[1] if kind == "O" else ("not", node[1])
        arg = weights(g) if d == 1 else {f"g{i}": 1.0}
        layer.cell(f"c{i}", {k: -1.0 for k in arg}, 1.0, arg, binary=True)
      else:
        f, g = node[1], node[2]
        if d == 1:
          drive, reset = weights(g), weights(("or", g, ("not", f)))
        else:
          drive, reset = {f"g{i}": 1.0}, {f"r{i}": 1.0}
        layer.cell(f"c{i}", {k: -1.0 for k in reset}, 1.0, drive, binary=True)
    c = layer.circuit
    memo: dict = {}
    for node in (n for n in comp.nodes if comp.depth[n] == d):
      i = comp.id[node]
      if node[0] == "Y":
        arg = ({sym(s): -1.0 for s in _symbols_where(node[1], alphabet)} if d == 1
               else {f"a{i}": -1.0})
        cells[node] = c.threshold(f"v{i}", {f"c{i}": 1.0, **arg}, -DELAY_THRESHOLD)
      elif node[0] == "H":
        cells[node] = c.threshold(f"v{i}", {f"c{i}": -1.0}, 0.5)
      else:
        cells[node] = f"c{i}"
    if d < max(depth, 1):
      outputs = []
      for node in comp.nodes:
        if comp.depth[node] <= d:
          v = comp.value(c, node, d, cells, memo)
          name = f"t{comp.id[node]}"
          outputs.append(v if v == name else c.threshold(name, {v: 1.0}, -0.5))
      for node in (n for n in comp.nodes if comp.depth[n] == d + 1):
        i = comp.id[node]
        kind = node[0]
        if kind == "Y":
          outputs.append(c.threshold(f"a{i}", {comp.value(c, node[1], d, cells, memo): 1.0},
                                     -0.5))
        elif kind in ("O", "H"):
          g = node[1] if kind == "O" else ("not", node[1])
          outputs.append(c.threshold(f"g{i}", {comp.value(c, g, d, cells, memo): 1.0}, -0.5))
        else:
          f, g = node[1], node[2]
          outputs.append(c.threshold(f"g{i}", {comp.value(c, g, d, cells, memo): 1.0}, -0.5))
          outputs.append(c.threshold(
              f"r{i}", {comp.value(c, ("or", g, ("not", f)), d, cells, memo): 1.0}, -0.5))
      b.end_layer(list(dict.fromkeys(outputs)))
  # Readout: the formula-DFA state from the current values, then its allowed-next set.
  final = {n: comp.value(c, n, max(depth, 1), cells, memo) for n in comp.nodes}
  root = comp.value(c, tree, max(depth, 1), cells, memo)
  bits = []  # (signal, key in a memory)
  for n in comp.nodes:
    bits.append((final[n], n))
    if n[0] == "Y":
      bits.append((comp.value(c, n[1], max(depth, 1), cells, memo), ("arg", n)))
  allowed_of = star_free_compiler._allowed_of_state(dfa)  # pylint: disable=protected-access
  states = []
  for q in range(1, dfa.num_states):
    pos = [s for s, k in bits if memories[q][k]] + ([root] if q in dfa.accepting else [])
    neg = [s for s, k in bits if not memories[q][k]] + ([] if q in dfa.accepting else [root])
    states.append((q, c.all_of(f"state{q}", pos=list(dict.fromkeys(pos)),
                               neg=list(dict.fromkeys(neg)))))
  allowed = {}
  for s in language.output_symbols:
    signals = [name for q, name in states if s in allowed_of[q]]
    allowed[s] = c.any_of(f"allow_{s}", signals) if signals else None
  model, params = b.build_allowed(language, allowed)
  summary = (f"past-LTL of temporal depth {depth}: {len(comp.nodes)} temporal cells in "
             f"{max(depth, 1)} layers")
  return Construction(text, language, model, params, summary,
                      star_free_compiler._stress(dfa))  # pylint: disable=protected-access

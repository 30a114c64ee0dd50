"""Past-time LTL over a finite alphabet: parser, direct semantics, and the formula's DFA.

    f = past_ltl.parse("a S (b & Y c)", alphabet=("a", "b", "c"))
    past_ltl.holds(f, word)          # truth at every position 1..n (numpy bool array)
    past_ltl.formula_dfa(f, alphabet)   # DFA of L(f) = {w nonempty : f holds at |w|}

Syntax: atoms are alphabet symbols (true at t iff w_t is that symbol), `true`, `false`;
`!`/`not`, `&`/`and`, `|`/`or`; unary Y (yesterday; false at t = 1), O (once), H
(historically); binary `f S g` (since: g at some j <= t and f at every k in (j, t]).
Precedence: unary operators, then S (right-associative), then &, then |.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from ssm_expressivity import automata

KEYWORDS = {"Y", "S", "O", "H", "not", "and", "or", "true", "false"}
TEMPORAL = ("Y", "S", "O", "H")
_TOKEN = re.compile(r"\s*(\(|\)|!|&|\||[A-Za-z0-9_]+)")


class FormulaError(ValueError):
  """The text is not a past-LTL formula over the alphabet."""


def _tokens(text: str) -> list[str]:
  out, pos = [], 0
  text = text.rstrip()
  while pos < len(text):
    m = _TOKEN.match(text, pos)
    if not m:
      raise FormulaError(f"formula {text!r}: unexpected character {text[pos:].strip()[0]!r} at "
                         f"position {pos}")
    out.append(m.group(1))
    pos = m.end()
  return out


def parse(text: str, alphabet: Sequence[str]) -> tuple:
  """The syntax tree: ('atom', a), ('true',), ('false',), ('not', f), ('and'|'or'|'S', f, g),
  ('Y'|'O'|'H', f)."""
  alphabet = tuple(alphabet)
  clash = [s for s in alphabet if s in KEYWORDS]
  if clash:
    raise FormulaError(f"alphabet symbols {clash} are keywords of the formula syntax")
  tokens, pos = _tokens(text), [0]

  def peek():
    return tokens[pos[0]] if pos[0] < len(tokens) else None

  def take():
    pos[0] += 1
    return tokens[pos[0] - 1]

  def fail(message):
    raise FormulaError(f"formula {text!r}: {message}")

  def disjunction():
    left = conjunction()
    while peek() in ("|", "or"):
      take()
      left = ("or", left, conjunction())
    return left

  def conjunction():
    left = since()
    while peek() in ("&", "and"):
      take()
      left = ("and", left, since())
    return left

  def since():
    left = unary()
    if peek() == "S":
      take()
      return ("S", left, since())
    return left

  def unary():
    t = peek()
    if t is None:
      fail("missing operand at the end")
    take()
    if t in ("!", "not"):
      return ("not", unary())
    if t in ("Y", "O", "H"):
      return (t, unary())
    if t == "(":
      inner = disjunction()
      if peek() != ")":
        fail("missing ')'")
      take()
      return inner
    if t == "true":
      return ("true",)
    if t == "false":
      return ("false",)
    if t in alphabet:
      return ("atom", t)
    fail(f"{t!r} is neither an operator nor a symbol of the alphabet {list(alphabet)}")

  if not tokens:
    fail("empty formula")
  tree = disjunction()
  if peek() is not None:
    fail(f"unexpected {peek()!r}")
  return tree


def temporal_depth(f: tuple) -> int:
  if f[0] in ("atom", "true", "false"):
    return 0
  inner = max(temporal_depth(g) for g in f[1:])
  return inner + 1 if f[0] in TEMPORAL else inner


def holds(f: tuple, word: Sequence[str]) -> np.ndarray:
  """f's truth value at every position 1..len(word), by the definitions (O(n |f|))."""
  n = len(word)
  kind = f[0]
  if kind == "atom":
    return np.array([s == f[1] for s in word], dtype=bool)
  if kind in ("true", "false"):
    return np.full(n, kind == "true")
  if kind == "not":
    return ~holds(f[1], word)
  if kind in ("and", "or"):
    a, b = holds(f[1], word), holds(f[2], word)
    return a & b if kind == "and" else a | b
  a = holds(f[1], word)
  out = np.zeros(n, dtype=bool)
  if kind == "Y":
    out[1:] = a[:-1]
    return out
  if kind == "O":
    return np.logical_or.accumulate(a) if n else out
  if kind == "H":
    return np.logical_and.accumulate(a) if n else out
  b = holds(f[2], word)  # S: a S b
  last = False
  for t in range(n):
    last = bool(b[t]) or (bool(a[t]) and last)
    out[t] = last
  return out


def accepts(f: tuple, word: Sequence[str]) -> bool:
  return bool(len(word)) and bool(holds(f, word)[-1])


def temporal_nodes(f: tuple) -> list[tuple]:
  """The distinct temporal subformulas, children before parents."""
  out: list = []

  def visit(g):
    for child in g[1:]:
      if isinstance(child, tuple):
        visit(child)
    if g[0] in TEMPORAL and g not in out:
      out.append(g)
  visit(f)
  return out


def evaluate(f: tuple, symbol: str, values: dict) -> bool:
  """f at the current position, given the current values of its temporal subformulas."""
  kind = f[0]
  if kind == "atom":
    return symbol == f[1]
  if kind in ("true", "false"):
    return kind == "true"
  if kind in TEMPORAL:
    return values[f]
  if kind == "not":
    return not evaluate(f[1], symbol, values)
  a, b = evaluate(f[1], symbol, values), evaluate(f[2], symbol, values)
  return a and b if kind == "and" else a or b


def step_values(f: tuple, symbol: str, memory: dict | None) -> dict:
  """Current values of every temporal subformula; `memory` = those of the previous position
  together with each Y argument's previous value under key ('arg', node); None at t = 1."""
  values: dict = {}
  for node in temporal_nodes(f):
    kind = node[0]
    if kind == "Y":
      values[node] = bool(memory and memory[("arg", node)])
      continue
    a = evaluate(node[1], symbol, values)
    before = bool(memory and memory[node])
    if kind == "O":
      values[node] = a or before
    elif kind == "H":
      values[node] = a and (before or memory is None)
    else:
      values[node] = evaluate(node[2], symbol, values) or (a and before)
  for node in temporal_nodes(f):
    if node[0] == "Y":
      values[("arg", node)] = evaluate(node[1], symbol, values)
  return values


def formula_dfa(f: tuple, alphabet: Sequence[str]) -> tuple[automata.DFA, list, list]:
  """(DFA of L(f), its states' memories (None: start), each state's root value). State 0 is
  the start (empty word, not accepted); a state is a memory plus f's value at the position."""
  alphabet = tuple(alphabet)
  start = ("start",)
  index, order, memories, roots = {start: 0}, [start], [None], [False]
  table = []
  while len(table) < len(order):
    memory = memories[len(table)]
    row = []
    for s in alphabet:
      values = step_values(f, s, memory)
      root = evaluate(f, s, values)
      key = tuple(sorted((repr(k), v) for k, v in values.items())) + (root,)
      if key not in index:
        index[key] = len(order)
        order.append(key)
        memories.append(values)
        roots.append(root)
      row.append(index[key])
    table.append(row)
  dfa = automata.DFA(alphabet, np.array(table, np.int64).reshape(len(table), len(alphabet)),
                     0, frozenset(i for i, r in enumerate(roots) if r))
  return dfa, memories, roots


def random_formula(rng: np.random.Generator, alphabet: Sequence[str], depth: int) -> str:
  """A random formula (text) of syntax-tree depth <= `depth` using every operator."""
  if depth == 0 or rng.random() < 0.15:
    return str(rng.choice(list(alphabet)))
  op = str(rng.choice(["!", "&", "|", "Y", "S", "O", "H", "S"]))
  if op in ("&", "|", "S"):
    return (f"({random_formula(rng, alphabet, depth - 1)} {op} "
            f"{random_formula(rng, alphabet, depth - 1)})")
  return f"{op} {random_formula(rng, alphabet, depth - 1)}"

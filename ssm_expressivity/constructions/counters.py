"""Counter languages with counters of gate exactly 1 (one layer each; NONNEGATIVE).

The paper: SSMs keep and read out unbounded counters, A = 1, B = +-1 per symbol (precision
grows with log n: float32 counts exactly below 2^24).

  dyck1, shuffle-k  one counter per bracket pair (opener +1, closer -1); a closer is allowed
                    iff its counter is >= 1, EOS iff every counter is 0 (counters are >= 0 on
                    prefixes, so "sum <= 0" tests that)
  boolean-k         prefix notation: "open operand slots", h0 = 1, a symbol of arity r adds
                    r - 1; every symbol is allowed while it is >= 1, only EOS once it is 0
  a^n b^n (c^n d^n) counters #a - #x for each later letter x; with the current symbol they give
                    the next set: after a: {a, b}; after x: {x} while #x < #a, else the next
                    letter (or EOS after the last one)
"""

from __future__ import annotations

import numpy as np

from ssm_expressivity import languages
from ssm_expressivity.constructions.base import (Construction, StackBuilder, sampled_word,
                                                 sym)
from ssm_expressivity.languages import boolean as boolean_lang


# ---- Dyck-1 and Shuffle-k -------------------------------------------------------------------


def _pairs(language) -> list[tuple[str, str]]:
  # Bracket languages list their alphabet as opener, closer, opener, closer, ...
  alphabet = language.alphabet
  return list(zip(alphabet[0::2], alphabet[1::2]))


def _bracket_stress(name: str):
  def words(rng: np.random.Generator, length: int) -> list:
    language = languages.get(name)
    pairs = _pairs(language)
    half = length // 2
    out = []
    # Deepest: every counter climbs, then everything closes (in a shuffled order).
    kinds = rng.integers(0, len(pairs), half).tolist()
    opens = [pairs[j][0] for j in kinds]
    closes = [pairs[j][1] for j in kinds]
    rng.shuffle(closes)
    out.append("".join(opens) + "".join(closes))
    # Random walk on the counters, reflected at 0, with crossings between pairs.
    counts = [0] * len(pairs)
    walk = []
    for u, j in zip(rng.random(length).tolist(), rng.integers(0, len(pairs), length).tolist()):
      if counts[j] and u < 0.5:
        counts[j] -= 1
        walk.append(pairs[j][1])
      else:
        counts[j] += 1
        walk.append(pairs[j][0])
    out.append("".join(walk))
    out.append(sampled_word(language, rng, length))
    return out
  return words


def brackets(name: str):
  def factory() -> Construction:
    language = languages.get(name)
    b = StackBuilder(language.alphabet)
    layer = b.layer()
    counters = [layer.counter(f"count{j}", {sym(o): 1.0, sym(c): -1.0})
                for j, (o, c) in enumerate(_pairs(language))]
    circuit = layer.circuit
    allowed = {"$": circuit.threshold("all_closed", {n: -1.0 for n in counters}, 0.5)}
    always = circuit.constant("true", True)
    for j, (o, c) in enumerate(_pairs(language)):
      allowed[o] = always
      allowed[c] = circuit.at_least(f"open{j}", counters[j], 1)
    model, params = b.build_allowed(language, allowed)
    return Construction(name, language, model, params,
                        f"{len(counters)} counter(s) (gate 1, +1 open, -1 close)",
                        _bracket_stress(name))
  return factory


# ---- Boolean-k ------------------------------------------------------------------------------


def _arity(symbol: str) -> int:
  return 0 if symbol in boolean_lang.OPERANDS else boolean_lang.OPERATORS.index(symbol) + 1


def _boolean_stress(name: str):
  def words(rng: np.random.Generator, length: int) -> list:
    language = languages.get(name)
    operators = [s for s in language.alphabet if _arity(s)]
    unary = [s for s in operators if _arity(s) == 1]
    # Deep unary nesting, then an operand; many binary+ operators, then operands.
    out = [unary[0] * (length - 1) + "1"]
    wide = [operators[-1]] * (length // (2 * _arity(operators[-1])))
    need = 1 + sum(_arity(s) - 1 for s in wide)
    out.append("".join(wide) + "".join(rng.choice(["0", "1"], need).tolist()))
    # A random prefix: uniform symbols, but never completing before the last position.
    need, walk = 1, []
    for t in range(length):
      choices = [s for s in language.alphabet
                 if need + _arity(s) - 1 >= 1 or t == length - 1]
      s = choices[int(rng.integers(0, len(choices)))]
      need += _arity(s) - 1
      walk.append(s)
    out.append("".join(walk))
    out.append(sampled_word(language, rng, length))
    return out
  return words


def boolean(name: str):
  def factory() -> Construction:
    language = languages.get(name)
    b = StackBuilder(language.alphabet)
    layer = b.layer()
    layer.counter("need", {sym(s): float(_arity(s) - 1) for s in language.alphabet}, h0=1.0)
    circuit = layer.circuit
    incomplete = circuit.at_least("incomplete", "need", 1)
    complete = circuit.threshold("complete", {"need": -1.0}, 0.5)
    allowed = {s: incomplete for s in language.alphabet}
    allowed["$"] = complete
    model, params = b.build_allowed(language, allowed)
    return Construction(name, language, model, params,
                        "one counter of open operand slots (gate 1, h0 = 1, + arity - 1)",
                        _boolean_stress(name))
  return factory


# ---- a^n b^n (c^n (d^n)) --------------------------------------------------------------------


def _block_stress(name: str):
  def words(rng: np.random.Generator, length: int) -> list:
    language = languages.get(name)
    letters = language.alphabet
    m = len(letters)
    n = max(1, -(-length // m))  # the full word has at least `length` symbols
    full = "".join(s * n for s in letters)
    # Prefixes that stop inside each block, one short of the count.
    cut = [full[:i * n + n - 1] for i in range(1, m)]
    return [full, *cut, sampled_word(language, rng, length)]
  return words


def blocks(name: str):
  def factory() -> Construction:
    language = languages.get(name)
    letters = language.alphabet
    b = StackBuilder(letters)
    layer = b.layer()
    for j in range(1, len(letters)):
      layer.counter(f"a_minus_{letters[j]}", {sym(letters[0]): 1.0, sym(letters[j]): -1.0})
    c = layer.circuit
    behind = {j: c.at_least(f"behind_{letters[j]}", f"a_minus_{letters[j]}", 1)
              for j in range(1, len(letters))}
    allowed = {letters[0]: c.any_of("in_a", [sym(letters[0])])}
    # The block of letter j continues while it is behind #a; the next block (or EOS) starts
    # when it has caught up.
    done = {j: c.all_of(f"done_{letters[j]}", pos=[sym(letters[j])], neg=[behind[j]])
            for j in range(1, len(letters))}
    for j in range(1, len(letters)):
      stay = c.all_of(f"more_{letters[j]}", pos=[sym(letters[j]), behind[j]])
      start = sym(letters[0]) if j == 1 else done[j - 1]
      allowed[letters[j]] = c.any_of(f"next_{letters[j]}", [stay, start])
    allowed["$"] = done[len(letters) - 1]
    model, params = b.build_allowed(language, allowed)
    return Construction(name, language, model, params,
                        f"{len(letters) - 1} counters #a - #x (gate 1) and the current symbol",
                        _block_stress(name))
  return factory


CONSTRUCTIONS = {
    "dyck1": brackets("dyck1"),
    "shuffle2": brackets("shuffle2"),
    "shuffle4": brackets("shuffle4"),
    "shuffle6": brackets("shuffle6"),
    "boolean3": boolean("boolean3"),
    "boolean5": boolean("boolean5"),
    "anbn": blocks("anbn"),
    "anbncn": blocks("anbncn"),
    "anbncndn": blocks("anbncndn"),
}

"""The paper's positive results as hand-set weights of `models.diagonal_ssm.DiagonalSSM`.

    from ssm_expressivity import constructions
    constructions.names()
    c = constructions.get("bounded_dyck", k=8, depth=10)
    c.num_layers, c.state_dims, c.is_nonnegative()
    c.allowed_next_sets(word)          # == c.language.allowed_next_all(word) on prefixes of L

One module per theorem (flip_flop, bounded_dyck, counters, star_free, parity); each exposes
`CONSTRUCTIONS = {name: factory}`. A construction's name is its language id, except
`parity_signed` (language `parity`, signed gate). `parity_failure` shows the negative result.

    g = constructions.from_group("A4xZ5")   # or S4, Q8, ..., or generator permutations
    g.num_layers, g.state_dims, g.series_summary()
    g.prefix_products(word)                 # word and result: element names (g00 ...)

`from_group` (groups.py) builds a cascade of complex diagonal layers, one per factor of the
shortest abelian series (group_series.py) of a solvable group; group_precision.py measures how
long its float32 phases stay exact.

    c = constructions.from_dfa(dfa)   # any star-free DFA: a holonomy cascade of resets
                                     # (holonomy.py, star_free_compiler.py); otherwise
                                     # NotStarFreeError names a witness (u, p)
    c = constructions.from_formula("a S (b & Y c)", "abc")   # past-LTL, a layer per depth
"""

from __future__ import annotations

from ssm_expressivity import registry
from ssm_expressivity.constructions import bounded_dyck
from ssm_expressivity.constructions import counters
from ssm_expressivity.constructions import flip_flop
from ssm_expressivity.constructions import parity
from ssm_expressivity.constructions import star_free
from ssm_expressivity.constructions.base import CheckResult, Construction, check
from ssm_expressivity.constructions.past_ltl_compiler import from_formula
from ssm_expressivity.constructions.star_free_compiler import NotStarFreeError, from_dfa
from ssm_expressivity.constructions.groups import GroupConstruction, from_group

# One registry for every theorem module's CONSTRUCTIONS dict (registry.merge refuses a name
# claimed twice).
REGISTRY = registry.merge("construction", (flip_flop, bounded_dyck, counters, star_free, parity),
                          "CONSTRUCTIONS")


def names() -> list[str]:
  """Every construction name, in registry order (theorem by theorem)."""
  return REGISTRY.names()


def parameters(name: str) -> dict[str, object]:
  """The keyword parameters of construction `name` with their defaults."""
  _refuse_parity(name)
  return REGISTRY.parameters(name)


def get(name: str, **params) -> Construction:
  """The construction `name` (a language id, or `parity_signed`); ValueError naming the valid."""
  _refuse_parity(name)
  return REGISTRY.create(name, **params)


def _refuse_parity(name: str) -> None:
  if name == "parity":
    raise ValueError("no NONNEGATIVE construction exists for 'parity' (the paper's PARITY "
                     "result); 'parity_signed' uses a signed gate")


__all__ = ["CheckResult", "Construction", "REGISTRY", "check", "get", "names", "parameters",
           "GroupConstruction", "from_group", "NotStarFreeError", "from_dfa",
           "from_formula"]

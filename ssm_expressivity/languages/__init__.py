"""Formal languages of the paper: exact membership, allowed-next sets, the paper's samplers.

    from ssm_expressivity import languages
    languages.names()                      # every id
    lang = languages.get("flip_flop", p_ignore=0.8)
    lang.allowed_next("w1r")               # frozenset({'1'})

Each module registers its languages in a dict `LANGUAGES: {id: factory}`; a factory takes the
language's parameters as keyword arguments and returns a `Language`.
"""

from __future__ import annotations

from ssm_expressivity import registry
from ssm_expressivity.languages import boolean
from ssm_expressivity.languages import bounded_dyck
from ssm_expressivity.languages import counter
from ssm_expressivity.languages import dyck
from ssm_expressivity.languages import flip_flop
from ssm_expressivity.languages import regular
from ssm_expressivity.languages import tomita
from ssm_expressivity.languages import word_problem
from ssm_expressivity.languages.base import EOS, LABEL_MODES, Language

# The 27 languages of the paper's suite (Bhattamishra et al. 2020 + additions), in paper order.
SUITE = (
    "tomita1", "tomita2", "tomita3", "tomita4", "tomita5", "tomita6", "tomita7",
    "d2", "d3", "d4", "d12", "parity", "aa_star", "aaaa_star", "abab_star",
    "abcde_blocks", "ab_d_bc", "012_02", "dyck1", "shuffle2", "shuffle4", "shuffle6",
    "boolean3", "boolean5", "anbn", "anbncn", "anbncndn",
)

# Every id: the suite in paper order, then the parametrized ones.
REGISTRY = registry.merge(
    "language", (tomita, regular, dyck, boolean, counter, flip_flop, bounded_dyck, word_problem),
    "LANGUAGES", order=SUITE)


def names() -> list[str]:
  """Every registered id: the suite in paper order, then the parametrized ones."""
  return REGISTRY.names()


def parameters(name: str) -> dict[str, object]:
  """The keyword parameters of language `name` with their defaults."""
  return REGISTRY.parameters(name)


def get(name: str, **params) -> Language:
  """The language `name` with parameters `params`; ValueError naming what is valid."""
  return REGISTRY.create(name, **params)


__all__ = ["EOS", "LABEL_MODES", "Language", "REGISTRY", "SUITE", "get", "names", "parameters"]

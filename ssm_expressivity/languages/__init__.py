"""Formal languages of the paper: exact membership, allowed-next sets, the paper's samplers.

    from ssm_expressivity import languages
    languages.names()                      # every id
    lang = languages.get("flip_flop", p_ignore=0.8)
    lang.allowed_next("w1r")               # frozenset({'1'})

Each module registers its languages in a dict `LANGUAGES: {id: factory}`; a factory takes the
language's parameters as keyword arguments and returns a `Language`.
"""

from __future__ import annotations

import inspect
from typing import Callable

from ssm_expressivity.languages import boolean
from ssm_expressivity.languages import bounded_dyck
from ssm_expressivity.languages import counter
from ssm_expressivity.languages import dyck
from ssm_expressivity.languages import flip_flop
from ssm_expressivity.languages import regular
from ssm_expressivity.languages import tomita
from ssm_expressivity.languages import word_problem
from ssm_expressivity.languages.base import EOS, LABEL_MODES, Language

_MODULES = (tomita, regular, dyck, boolean, counter, flip_flop, bounded_dyck, word_problem)


def _registry() -> dict[str, Callable[..., Language]]:
  registry: dict[str, Callable[..., Language]] = {}
  for module in _MODULES:
    for name, factory in module.LANGUAGES.items():
      if name in registry:
        raise RuntimeError(f"language id {name!r} registered twice")
      registry[name] = factory
  return registry


REGISTRY = _registry()

# The 27 languages of the paper's suite (Bhattamishra et al. 2020 + additions), in paper order.
SUITE = (
    "tomita1", "tomita2", "tomita3", "tomita4", "tomita5", "tomita6", "tomita7",
    "d2", "d3", "d4", "d12", "parity", "aa_star", "aaaa_star", "abab_star",
    "abcde_blocks", "ab_d_bc", "012_02", "dyck1", "shuffle2", "shuffle4", "shuffle6",
    "boolean3", "boolean5", "anbn", "anbncn", "anbncndn",
)


def names() -> list[str]:
  """Every registered id: the suite in paper order, then the parametrized ones."""
  return list(SUITE) + sorted(n for n in REGISTRY if n not in SUITE)


def parameters(name: str) -> dict[str, object]:
  """The keyword parameters of language `name` with their defaults."""
  factory = _factory(name)
  return {
      p.name: p.default
      for p in inspect.signature(factory).parameters.values()
      if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
  }


def get(name: str, **params) -> Language:
  """The language `name` with parameters `params`; ValueError naming what is valid."""
  factory = _factory(name)
  valid = parameters(name)
  unknown = sorted(set(params) - set(valid))
  if unknown:
    listed = ", ".join(valid) if valid else "none"
    raise ValueError(
        f"language {name!r} has no parameter(s) {unknown}; valid parameters: {listed}")
  return factory(**params)


def _factory(name: str) -> Callable[..., Language]:
  if name not in REGISTRY:
    raise ValueError(f"unknown language {name!r}; valid ids: {', '.join(names())}")
  return REGISTRY[name]


__all__ = ["EOS", "LABEL_MODES", "Language", "REGISTRY", "SUITE", "get", "names", "parameters"]

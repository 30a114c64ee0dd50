"""A small name -> factory registry, shared by languages, constructions, models and experiments.

    LANGUAGES = registry.Registry("language", {"dyck1": dyck1, ...})
    LANGUAGES.create("flip_flop", p_ignore=0.8)  # factory(**params), checked against its signature
    LANGUAGES.names(), LANGUAGES.parameters("flip_flop")

An unknown name or parameter is a ValueError that lists what is valid. Entries may be given as
"module:attribute" strings, imported on first use, so that a heavy or optional entry costs
nothing until it is asked for. A registry is a mutable mapping, so an extension registers its
own entry with `REGISTRY["my_language"] = factory` (or `register`).
"""

from __future__ import annotations

import collections.abc
import importlib
import inspect
from typing import Any, Callable, Iterable, Mapping


class Registry(collections.abc.MutableMapping):
  """A mapping name -> factory with checked lookups.

  Attributes:
    kind: what the entries are ("language", "construction", ...), used in error messages.
  """

  def __init__(self, kind: str, entries: Mapping[str, Callable[..., Any] | str] = (),
               *, order: Iterable[str] | None = None):
    self.kind = kind
    self._entries: dict[str, Callable[..., Any] | str] = {}
    self.update(entries)
    self._order = tuple(order) if order is not None else None

  def update(self, entries: Mapping[str, Callable[..., Any] | str]) -> None:
    """Adds entries; a name registered twice is an error (two modules claiming one id)."""
    for name, factory in dict(entries).items():
      if name in self._entries:
        raise RuntimeError(f"{self.kind} {name!r} registered twice")
      self._entries[name] = factory

  def register(self, name: str, factory: Callable[..., Any] | str) -> None:
    """Adds one entry (an error if `name` is taken)."""
    self.update({name: factory})

  def __setitem__(self, name: str, factory: Callable[..., Any] | str) -> None:
    self._entries[name] = factory

  def __delitem__(self, name: str) -> None:
    del self._entries[name]

  def __getitem__(self, name: str) -> Callable[..., Any]:
    entry = self._entries[name]
    if isinstance(entry, str):
      module_name, _, attribute = entry.partition(":")
      entry = getattr(importlib.import_module(module_name), attribute)
      self._entries[name] = entry
    return entry

  def __iter__(self):
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._entries)

  def names(self) -> list[str]:
    """Every name: those given in `order` first (in that order), then the rest sorted."""
    if self._order is None:
      return list(self._entries)
    first = [n for n in self._order if n in self._entries]
    return first + sorted(n for n in self._entries if n not in self._order)

  def factory(self, name: str) -> Callable[..., Any]:
    """The factory of `name`; ValueError listing the valid names when unknown."""
    if not isinstance(name, str) or name not in self._entries:
      raise ValueError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}")
    return self[name]

  def parameters(self, name: str) -> dict[str, Any]:
    """The keyword parameters of `name`'s factory with their defaults."""
    return {
        p.name: p.default
        for p in inspect.signature(self.factory(name)).parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }

  def create(self, name: str, **params) -> Any:
    """`factory(**params)`; ValueError naming the valid parameters when one is unknown."""
    valid = self.parameters(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
      listed = ", ".join(valid) if valid else "none"
      raise ValueError(f"{self.kind} {name!r} has no parameter(s) {unknown}; valid "
                       f"parameters: {listed}")
    return self.factory(name)(**params)


def merge(kind: str, modules: Iterable[Any], attribute: str, **kwargs) -> Registry:
  """One Registry from the `attribute` dicts of `modules` (e.g. each module's LANGUAGES)."""
  registry = Registry(kind, **kwargs)
  for module in modules:
    registry.update(getattr(module, attribute))
  return registry

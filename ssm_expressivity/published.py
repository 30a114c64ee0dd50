"""The paper's published numbers, kept as package data (reference/sarrof2024.json).

Suite numbers are strict string accuracy in percent per validation bin; flip-flop numbers are the
training steps at which the paper's 1-layer Mamba reached zero sequence error; bounded-Dyck numbers
are close accuracy per split (dev, test, test20) per model width.
"""

from __future__ import annotations

import functools
import json
import pathlib

_PATH = pathlib.Path(__file__).resolve().parent / "reference" / "sarrof2024.json"


@functools.lru_cache(maxsize=1)
def _load() -> dict:
  with open(_PATH) as f:
    return json.load(f)


def suite(language: str) -> dict[str, list[float]] | None:
  """{"transformer": [...], "mamba1": [...], "mamba2": [...], "mamba3": [...]} or None."""
  entry = _load()["suite"].get(language)
  if entry is None:
    return None
  return {k: v for k, v in entry.items() if k != "category"}


def suite_category(language: str) -> str | None:
  entry = _load()["suite"].get(language)
  return None if entry is None else entry["category"]


def suite_languages() -> list[str]:
  return list(_load()["suite"])


def flip_flop() -> dict[str, int]:
  return dict(_load()["flip_flop"])


def bounded_dyck() -> dict:
  return dict(_load()["bounded_dyck_8_10"])

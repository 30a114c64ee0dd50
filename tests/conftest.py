"""Shared test fixtures: the paper's golden data beside the checkout (skipped when absent)."""

import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def golden_dir() -> pathlib.Path:
  """`../shared/golden`: the paper's committed datasets (first 300 lines of each file)."""
  path = SHARED / "golden"
  if not path.is_dir():
    pytest.skip("../shared/golden is absent")
  return path

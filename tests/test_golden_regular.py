"""The regular languages against the paper's committed datasets (first 300 lines per file)."""

from __future__ import annotations

import numpy as np
import pytest

from ssm_expressivity import languages

REGULAR_IDS = (
    "tomita1", "tomita2", "tomita3", "tomita4", "tomita5", "tomita6", "tomita7",
    "parity", "aa_star", "aaaa_star", "abab_star", "abcde_blocks", "ab_d_bc", "012_02",
    "d2", "d3", "d4", "d12",
)


def _pairs(folder):
  """(src file, tgt file) pairs; tgt files without a src are leftovers and are skipped."""
  for src in sorted(folder.glob("*src*.txt")):
    yield src, src.with_name(src.name.replace("src", "tgt"))


@pytest.mark.parametrize("name", REGULAR_IDS)
def test_golden_members_and_paper_labels(golden_dir, name):
  folder = golden_dir / "paper_datasets" / name
  if not folder.is_dir():
    pytest.skip(f"no golden data for {name}")
  language = languages.get(name)
  checked = 0
  for src, tgt in _pairs(folder):
    words = src.read_text().split("\n")
    targets = tgt.read_text().split("\n")
    assert len(words) == len(targets), src.name
    for line, (word, target) in enumerate(zip(words, targets)):
      where = f"{name}/{src.name}:{line + 1}"
      assert language.accepts(word), where
      assert "".join(language.labels(word, "paper")) == target, where
      checked += 1
  assert checked > 0


@pytest.mark.parametrize("name", REGULAR_IDS)
def test_golden_labels_are_paper_classes(golden_dir, name):
  folder = golden_dir / "paper_datasets" / name
  if not folder.is_dir():
    pytest.skip(f"no golden data for {name}")
  language = languages.get(name)
  classes = set(language.paper_label_classes())
  width = len(next(iter(classes)))
  seen = set()
  for _, tgt in _pairs(folder):
    for target in tgt.read_text().split("\n"):
      seen.update(target[i:i + width] for i in range(0, len(target), width))
  assert seen <= classes


def _max_depth(word):
  depth = deepest = 0
  for symbol in word:
    depth += 1 if symbol == "a" else -1
    deepest = max(deepest, depth)
  return deepest


def test_committed_d12_sampler_matches_the_committed_data_depths(golden_dir):
  folder = golden_dir / "paper_datasets" / "d12"
  if not folder.is_dir():
    pytest.skip("no golden data for d12")
  golden = [w for w in (folder / "train_src.txt").read_text().split("\n") if w]
  golden_deep = np.mean([_max_depth(w) >= 12 for w in golden])  # 96.7% of the 300 sampled
  deep = {}
  for sampler in ("paper", "committed"):
    words = languages.get("d12", sampler=sampler).paper_splits(np.random.default_rng(0))["train"]
    deep[sampler] = np.mean([_max_depth(w) >= 12 for w in words])
  # 300 golden words: a standard error of about 1 point.
  assert abs(deep["committed"] - golden_deep) < 0.04
  assert golden_deep - deep["paper"] > 0.08  # the generator as written is shallower (~83%)

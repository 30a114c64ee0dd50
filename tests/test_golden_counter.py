"""The paper's committed datasets of the counter languages, line by line.

Every input line must be a member and its paper labels must reproduce the target line; the
package's samplers must produce the same length distribution as the committed data.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssm_expressivity import languages

IDS = ("dyck1", "shuffle2", "shuffle4", "shuffle6", "boolean3", "boolean5", "anbn", "anbncn",
       "anbncndn")
FILES = (("train_src.txt", "train_tgt.txt"),) + tuple(
    (f"val_src_bin{i}.txt", f"val_tgt_bin{i}.txt") for i in range(3))


def _lines(path):
  return path.read_text().split("\n")


def _pairs(golden_dir, name, files=FILES):
  folder = golden_dir / "paper_datasets" / name
  for src, tgt in files:
    if not (folder / src).exists():
      continue
    sources, targets = _lines(folder / src), _lines(folder / tgt)
    yield src, list(zip(sources, targets))


@pytest.mark.parametrize("name", IDS)
def test_every_golden_line_is_a_member_with_matching_labels(golden_dir, name):
  language = languages.get(name)
  classes = set(language.paper_label_classes())
  checked = 0
  for src, pairs in _pairs(golden_dir, name):
    for line, (word, target) in enumerate(pairs):
      assert language.accepts(word), (src, line, word)
      labels = language.labels(word, "paper")
      assert "".join(labels) == target, (src, line, word)
      assert set(labels) <= classes
      checked += 1
  assert checked >= 100


@pytest.mark.parametrize("name", IDS)
def test_golden_lines_lie_in_the_split_windows(golden_dir, name):
  """The committed train / bin lines fit the windows our splits draw from (n for a^n b^n)."""
  language = languages.get(name)
  per_n = len(language.alphabet) if name.startswith("anbn") else 1
  windows = {w.name: w for w in language.windows}
  for (src, pairs), split in zip(_pairs(golden_dir, name), ("train", "bin0", "bin1", "bin2")):
    sizes = [len(word) // per_n for word, _ in pairs]
    window = windows[split]
    assert window.lo <= min(sizes) and max(sizes) <= window.hi, (src, min(sizes), max(sizes))
    # The windows are tight: the committed lines come close to both ends.
    assert max(sizes) >= window.hi - 0.1 * (window.hi - window.lo), src


def _length_mean_and_error(lengths):
  lengths = np.asarray(lengths, dtype=float)
  return lengths.mean(), lengths.std(ddof=1) / np.sqrt(len(lengths))


@pytest.mark.parametrize("name,split,src", [
    ("dyck1", "train", "train_src.txt"),
    ("dyck1", "bin1", "val_src_bin1.txt"),
    ("shuffle2", "train", "train_src.txt"),
    ("shuffle6", "train", "train_src.txt"),
    ("boolean3", "train", "train_src.txt"),
    ("boolean5", "bin1", "val_src_bin1.txt"),
])
def test_sampler_length_distribution_matches_golden(golden_dir, name, split, src):
  """Mean word length of 300 sampled words vs the committed 300 lines: within 5 sigma."""
  language = languages.get(name)
  golden = [w for w in _lines(golden_dir / "paper_datasets" / name / src) if w]
  sizes = {"train": 0, "bin0": 0, "bin1": 0, "bin2": 0}
  sizes[split] = len(golden)
  if name.startswith("boolean") and split == "train":
    sizes["train"] = 3 * len(golden)  # a shuffled joint corpus: take a larger one
  ours = language.paper_splits(np.random.default_rng(1), sizes)[split][:len(golden)]
  golden_mean, golden_error = _length_mean_and_error([len(w) for w in golden])
  our_mean, our_error = _length_mean_and_error([len(w) for w in ours])
  assert abs(golden_mean - our_mean) < 5 * np.hypot(golden_error, our_error), (
      golden_mean, our_mean)

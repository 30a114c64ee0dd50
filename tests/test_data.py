"""Tests of ssm_expressivity.data: encoding layout, determinism, cache, windows, batches."""

from __future__ import annotations


import numpy as np
import pytest

from ssm_expressivity import data
from ssm_expressivity import languages
from ssm_expressivity.languages.base import EOS, Language


class _EvenOnes(Language):
  """Words over {0,1} with a number of 1s divisible by `modulus` (paper inputs mask '1' after
  '0', to exercise input modes)."""

  alphabet = ("0", "1")
  category = "non_star_free"

  def __init__(self, modulus: int = 2, calls: list | None = None):
    if modulus < 1:
      raise ValueError("modulus must be >= 1")
    self.name = "fake_even_ones"
    self.modulus = modulus
    self.calls = calls

  def accepts(self, word):
    return word.count("1") % self.modulus == 0

  def allowed_next(self, prefix):
    return frozenset({"0", "1"} | ({EOS} if self.accepts(prefix) else set()))

  def sample(self, rng, length):
    if length < 1:
      raise ValueError("lengths >= 1 only")
    body = "".join(rng.choice(["0", "1"], size=length))
    while not self.accepts(body):  # flip a random 0 to 1 until the count is right
      zeros = [i for i, s in enumerate(body) if s == "0"]
      if not zeros:
        body = "0" * length
        continue
      i = int(rng.choice(zeros))
      body = body[:i] + "1" + body[i + 1:]
    return body

  def valid_lengths(self, lo, hi):
    return list(range(max(lo, 1), hi + 1))

  def paper_splits(self, rng, sizes=None):
    if self.calls is not None:
      self.calls.append(1)
    sizes = {"train": 30, "bin0": 10, "bin1": 8, **(sizes or {})}
    windows = {"train": (1, 12), "bin0": (1, 12), "bin1": (13, 20)}
    return {split: [self.sample(rng, int(rng.integers(lo, hi + 1))) for _ in range(sizes[split])]
            for split, (lo, hi) in windows.items()}

  def paper_labels(self, word):
    return ["1" if self.accepts(word[:t]) else "0" for t in range(1, len(word) + 1)]

  def paper_label_classes(self):
    return ("0", "1")

  def inputs(self, word, mode="paper"):
    if mode == "exact":
      return word
    return "".join("-" if t > 0 and word[t - 1] == "0" and s == "1" else s
                   for t, s in enumerate(word))

  def input_symbols(self, mode="paper"):
    return ("0", "1") if mode == "exact" else ("0", "1", "-")


class _BoundedBrackets(Language):
  """Dyck-1 over multi-character tokens, depth <= 3, with a begin marker and no paper classes."""

  alphabet = ("open", "close")
  category = "bounded_hierarchical"
  begin_symbol = "START"

  def __init__(self):
    self.name = "fake_brackets"

  def _depths(self, word):
    depth, out = 0, []
    for s in word:
      depth += 1 if s == "open" else -1
      out.append(depth)
    return out

  def accepts(self, word):
    depths = self._depths(word)
    return all(0 <= d <= 3 for d in depths) and (not depths or depths[-1] == 0)

  def allowed_next(self, prefix):
    depths = self._depths(prefix)
    if any(not 0 <= d <= 3 for d in depths):
      return frozenset()
    depth = depths[-1] if depths else 0
    allowed = set()
    if depth < 3:
      allowed.add("open")
    if depth > 0:
      allowed.add("close")
    if depth == 0:
      allowed.add(EOS)
    return frozenset(allowed)

  def sample(self, rng, length):
    if length % 2:
      raise ValueError("even lengths only")
    word, depth = [], 0
    for t in range(length):
      remaining = length - t
      moves = [m for m, ok in (("open", depth < 3 and depth + 1 <= remaining - 1),
                               ("close", depth > 0)) if ok]
      move = moves[int(rng.integers(len(moves)))]
      depth += 1 if move == "open" else -1
      word.append(move)
    return tuple(word)

  def valid_lengths(self, lo, hi):
    return [n for n in range(max(lo, 0), hi + 1) if n % 2 == 0]

  def paper_splits(self, rng, sizes=None):
    sizes = {"train": 12, "test": 5, **(sizes or {})}
    return {"train": [self.sample(rng, 2 * int(rng.integers(1, 6))) for _ in range(sizes["train"])],
            "test": [self.sample(rng, 2 * int(rng.integers(6, 9))) for _ in range(sizes["test"])]}

  def paper_labels(self, word):
    raise NotImplementedError


@pytest.fixture
def fake_registry(monkeypatch):
  """Registers the fake languages; returns the list that records paper_splits calls."""
  calls: list = []
  monkeypatch.setitem(languages.REGISTRY, "fake_even_ones",
                      lambda modulus=2: _EvenOnes(modulus, calls))
  monkeypatch.setitem(languages.REGISTRY, "fake_brackets", _BoundedBrackets)
  return calls


def _expected_multi_hot(language, prefix):
  allowed = language.allowed_next(prefix)
  return [1 if s in allowed else 0 for s in language.output_symbols]


def _check_layout(dataset: data.Dataset, language: Language, words, input_mode="paper"):
  begin = language.begin_symbol
  offset = 0 if begin is None else 1
  n = len(words)
  assert dataset.tokens.shape == dataset.mask.shape == (n, max(len(w) for w in words) + offset)
  assert dataset.tokens.dtype == np.int32 and dataset.mask.dtype == np.bool_
  assert dataset.next_sets.dtype == np.uint8
  np.testing.assert_array_equal(dataset.lengths, [len(w) + offset for w in words])
  for i, word in enumerate(words):
    length = len(word) + offset
    assert dataset.mask[i, :length].all() and not dataset.mask[i, length:].any()
    assert not dataset.tokens[i, length:].any() and not dataset.next_sets[i, length:].any()
    inputs = list(language.inputs(word, input_mode))
    if begin is not None and inputs[:1] != [begin]:  # the encoder adds a missing marker
      inputs = [begin] + inputs
    assert [dataset.input_symbols[k - 1] for k in dataset.tokens[i, :length]] == inputs
    expected = [_expected_multi_hot(language, word[:t]) for t in range(1 - offset, len(word) + 1)]
    np.testing.assert_array_equal(dataset.next_sets[i, :length], expected)


def test_encode_layout_single_char(fake_registry):
  del fake_registry
  language = languages.get("fake_even_ones")
  words = ["0110", "1", "11", "010011011", "0"]
  dataset = data.encode(language, words, "train", {"modulus": 2})
  _check_layout(dataset, language, words)
  assert dataset.input_symbols == ("0", "1", "-")
  assert dataset.output_symbols == ("0", "1", EOS)
  assert dataset.next_token is None
  # Paper targets decode to the paper labels; padding is -1.
  for i, word in enumerate(words):
    labels = [dataset.paper_classes[k] for k in dataset.paper_targets[i, :len(word)]]
    assert labels == language.labels(word, "paper")
    assert (dataset.paper_targets[i, len(word):] == -1).all()
  exact = data.encode(language, words, "train", input_mode="exact")
  _check_layout(exact, language, words, input_mode="exact")
  assert exact.input_symbols == ("0", "1")
  assert not np.array_equal(exact.tokens, dataset.tokens[:, :exact.tokens.shape[1]])


def test_encode_begin_marker_layout(fake_registry):
  del fake_registry
  language = languages.get("fake_brackets")
  words = [("open", "close"), ("open", "open", "close", "close", "open", "close"), ()]
  dataset = data.encode(language, words, "test")
  _check_layout(dataset, language, words)
  assert dataset.input_symbols[0] == "START"
  assert (dataset.tokens[:, 0] == 1).all()
  assert dataset.paper_targets is None and dataset.paper_classes is None
  for i, word in enumerate(words):
    expected = [dataset.output_symbols.index(s) for s in word] + [
        dataset.output_symbols.index(EOS)]
    np.testing.assert_array_equal(dataset.next_token[i, :len(word) + 1], expected)
    assert (dataset.next_token[i, len(word) + 1:] == -1).all()
  assert dataset.decode(1) == ["START", *words[1]]


def test_encode_rejects_symbols_outside_the_alphabet(fake_registry):
  del fake_registry
  with pytest.raises(ValueError, match="not in"):
    data.encode("fake_even_ones", ["0120"], "train")
  with pytest.raises(ValueError, match="input_mode"):
    data.encode("fake_even_ones", ["01"], "train", input_mode="masked")


def test_arrays_are_read_only(fake_registry):
  del fake_registry
  dataset = data.encode("fake_even_ones", ["0110"], "train")
  with pytest.raises(ValueError):
    dataset.tokens[0, 0] = 5


def _assert_same(first: data.Dataset, second: data.Dataset):
  assert first.arrays().keys() == second.arrays().keys()
  for name, array in first.arrays().items():
    other = second.arrays()[name]
    assert array.dtype == other.dtype and array.tobytes() == other.tobytes(), name
  assert (first.input_symbols, first.output_symbols, first.paper_classes, first.split) == (
      second.input_symbols, second.output_symbols, second.paper_classes, second.split)


def test_build_splits_deterministic_and_seed_dependent(fake_registry):
  del fake_registry
  first = data.build_splits("fake_even_ones", seed=3)
  again = data.build_splits("fake_even_ones", seed=3)
  other = data.build_splits("fake_even_ones", seed=4)
  assert list(first) == ["train", "bin0", "bin1"]
  for split in first:
    _assert_same(first[split], again[split])
  assert first["train"].tokens.tobytes() != other["train"].tokens.tobytes()
  assert first["train"].params == {"modulus": 2}
  language = languages.get("fake_even_ones")
  words = language.paper_splits(np.random.default_rng(3))
  for split, dataset in first.items():
    _check_layout(dataset, language, words[split])


def test_build_splits_sizes_and_params(fake_registry):
  del fake_registry
  splits = data.build_splits("fake_even_ones", {"modulus": 3}, seed=0, sizes={"train": 7})
  assert len(splits["train"]) == 7 and len(splits["bin0"]) == 10
  language = languages.get("fake_even_ones", modulus=3)
  for dataset in splits.values():
    for i in range(len(dataset)):
      assert language.accepts("".join(dataset.decode(i)).replace("-", "1"))
  with pytest.raises(ValueError, match="valid"):
    data.build_splits("fake_even_ones", {"modulo": 3})
  with pytest.raises(ValueError, match="seed"):
    data.build_splits("fake_even_ones", seed=-1)


def test_cache_hit_param_change_and_corruption(fake_registry, tmp_path):
  calls = fake_registry
  fresh = data.build_splits("fake_even_ones", seed=1, cache_dir=tmp_path)
  assert len(calls) == 1
  files = sorted(p.name for p in tmp_path.iterdir())
  assert len([f for f in files if f.endswith(".npz")]) == 3 and not any(
      f.startswith(".tmp") for f in files)

  hit = data.build_splits("fake_even_ones", seed=1, cache_dir=tmp_path)
  assert len(calls) == 1  # served from the cache
  for split in fresh:
    _assert_same(fresh[split], hit[split])
  # Default parameters given explicitly resolve to the same key.
  data.build_splits("fake_even_ones", {"modulus": 2}, seed=1, cache_dir=tmp_path)
  assert len(calls) == 1

  changed = data.build_splits("fake_even_ones", {"modulus": 3}, seed=1, cache_dir=tmp_path)
  assert len(calls) == 2  # a changed parameter never reuses the old files
  assert len(list(tmp_path.glob("*.npz"))) == 6
  language = languages.get("fake_even_ones", modulus=3)
  for i in range(len(changed["train"])):
    assert language.accepts("".join(changed["train"].decode(i)).replace("-", "1"))
  data.build_splits("fake_even_ones", seed=1, sizes={"train": 5}, cache_dir=tmp_path)
  data.build_splits("fake_even_ones", seed=2, cache_dir=tmp_path)
  assert len(calls) == 4  # so do changed sizes and seeds

  # Corrupt one file of the first build: it is rebuilt, never a crash.
  target = next(p for p in tmp_path.glob("*bin1*.npz") if _split_file_matches(p, fresh["bin1"]))
  target.write_bytes(b"not a zip file")
  rebuilt = data.build_splits("fake_even_ones", seed=1, cache_dir=tmp_path)
  assert len(calls) == 5
  for split in fresh:
    _assert_same(fresh[split], rebuilt[split])
  # Truncated file: the same.
  target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
  rebuilt = data.build_splits("fake_even_ones", seed=1, cache_dir=tmp_path)
  assert len(calls) == 6
  _assert_same(fresh["bin1"], rebuilt["bin1"])
  data.build_splits("fake_even_ones", seed=1, cache_dir=tmp_path)
  assert len(calls) == 6  # repaired


def _split_file_matches(path, dataset) -> bool:
  with np.load(path) as stored:
    return stored["tokens"].tobytes() == dataset.tokens.tobytes()


def test_sample_dataset_window_cache_and_errors(fake_registry, tmp_path):
  del fake_registry
  language = languages.get("fake_brackets")
  dataset = data.sample_dataset("fake_brackets", None, 5, 200, 3, 9, split="w",
                                cache_dir=tmp_path)
  word_lengths = dataset.lengths - 1
  assert set(word_lengths.tolist()) == {4, 6, 8}  # uniform over valid_lengths(3, 9)
  for i in range(len(dataset)):
    assert language.accepts(tuple(dataset.decode(i)[1:]))
  again = data.sample_dataset("fake_brackets", {}, 5, 200, 3, 9, split="w", cache_dir=tmp_path)
  _assert_same(dataset, again)
  assert len(list(tmp_path.glob("*.npz"))) == 1
  wider = data.sample_dataset("fake_brackets", {}, 5, 200, 3, 11, split="w", cache_dir=tmp_path)
  assert len(list(tmp_path.glob("*.npz"))) == 2 and 10 in (wider.lengths - 1)
  other = data.sample_dataset("fake_brackets", {}, 6, 200, 3, 9, split="w")
  assert dataset.tokens.tobytes() != other.tokens.tobytes()
  with pytest.raises(ValueError, match=r"fake_brackets.*\[3, 3\]"):
    data.sample_dataset("fake_brackets", {}, 0, 10, 3, 3)
  with pytest.raises(ValueError, match="min_length"):
    data.sample_dataset("fake_brackets", {}, 0, 10, 9, 3)


@pytest.mark.parametrize("shuffle,drop_remainder", [(True, False), (False, False), (True, True)])
def test_batches_cover_each_example_once_per_epoch(fake_registry, shuffle, drop_remainder):
  del fake_registry
  # Distinct words, so a row's content identifies it.
  dataset = data.encode("fake_even_ones", [format(i, "b") for i in range(1, 24)], "train")
  row_of = {dataset.tokens[i].tobytes(): i for i in range(len(dataset))}
  assert len(row_of) == len(dataset)
  orders = []
  for epoch_batches in _epochs(dataset, 5, shuffle, drop_remainder, num_epochs=2):
    seen = []
    for batch in epoch_batches:
      assert set(batch) == set(dataset.arrays())
      assert len(batch["tokens"]) == 5 or not drop_remainder and len(batch["tokens"]) == 3
      for tokens in batch["tokens"]:
        seen.append(row_of[tokens.tobytes()])
    orders.append(seen)
  for seen in orders:
    expected = 20 if drop_remainder else 23
    assert len(seen) == len(set(seen)) == expected
  if shuffle:
    assert orders[0] != orders[1]
  else:
    assert orders[0] == orders[1] == list(range(23))


def _epochs(dataset, batch_size, shuffle, drop_remainder, num_epochs):
  """Groups the batch stream into epochs."""
  per_epoch = len(dataset) // batch_size if drop_remainder else -(-len(dataset) // batch_size)
  stream = list(data.batches(dataset, batch_size, seed=7, shuffle=shuffle,
                             drop_remainder=drop_remainder, num_epochs=num_epochs))
  assert len(stream) == per_epoch * num_epochs
  return [stream[e * per_epoch:(e + 1) * per_epoch] for e in range(num_epochs)]


def test_batches_rows_match_dataset_and_are_seeded(fake_registry):
  del fake_registry
  dataset = data.build_splits("fake_even_ones", seed=0)["train"]
  first = list(data.batches(dataset, 4, seed=1))
  again = list(data.batches(dataset, 4, seed=1))
  other = list(data.batches(dataset, 4, seed=2))
  assert all(a["tokens"].tobytes() == b["tokens"].tobytes() for a, b in zip(first, again))
  assert any(a["tokens"].tobytes() != b["tokens"].tobytes() for a, b in zip(first, other))
  # Every field of a batch row comes from the same dataset row.
  for batch in first:
    for j in range(4):
      matches = [i for i in range(len(dataset))
                 if all(np.array_equal(batch[k][j], v[i]) for k, v in dataset.arrays().items())]
      assert matches
  with pytest.raises(ValueError, match="batch_size"):
    next(data.batches(dataset, 0, seed=0))
  with pytest.raises(ValueError, match="no batch"):
    next(data.batches(dataset, 1000, seed=0))


def test_split_stats(fake_registry):
  del fake_registry
  words = [("open", "close"), ("open", "close"), ("open", "open", "close", "close")]
  stats = data.split_stats(data.encode("fake_brackets", words, "x"))
  assert stats["num_words"] == 3 and stats["num_distinct"] == 2
  assert (stats["min_length"], stats["max_length"]) == (2, 4)
  assert stats["num_positions"] == 3 + 3 + 5 and stats["padded_length"] == 5


def _registered_suite():
  found = []
  for name in languages.SUITE:
    try:
      found.append(languages.get(name))
    except ValueError:
      continue
  return found


@pytest.mark.parametrize("language", _registered_suite(), ids=lambda l: l.name)
def test_real_language_windows_encode_exactly(language):
  """Real suite languages (those registered): a small window dataset has the exact layout."""
  lo, hi = 1, 16
  if not language.valid_lengths(lo, hi):
    lo, hi = 1, 40
  dataset = data.sample_dataset(language.name, None, 0, 6, lo, hi)
  assert language.begin_symbol is None
  words = ["".join(dataset.decode(i)) for i in range(len(dataset))]
  assert all(language.inputs(w) == w for w in words)  # suite inputs are the words themselves
  assert all(language.accepts(w) and lo <= len(w) <= hi for w in words)
  _check_layout(dataset, language, words)
  _assert_same(dataset, data.sample_dataset(language.name, None, 0, 6, lo, hi))


def test_bench_data_counts_and_markdown(fake_registry):
  from benchmarks import data as bench_data  # pylint: disable=g-import-not-at-top
  calls = fake_registry
  result = bench_data.run(names=["fake_even_ones", "fake_brackets", "no_such_language"], seed=0)
  assert len(calls) == 1  # built from scratch, once
  even = result["per_language"]["fake_even_ones"]
  assert even["splits"] == {"train": 30, "bin0": 10, "bin1": 8} and even["words"] == 48
  words = languages.get("fake_even_ones").paper_splits(np.random.default_rng(0))
  assert even["tokens"] == sum(len(w) for split in words.values() for w in split)
  brackets = result["per_language"]["fake_brackets"]
  assert brackets["words"] == 17
  assert result["total_words"] == 48 + 17
  assert result["total_tokens"] == even["tokens"] + brackets["tokens"]
  assert result["failed"] == ["no_such_language"]
  assert result["total_s"] == pytest.approx(even["seconds"] + brackets["seconds"])
  table = bench_data.format_markdown(result)
  assert "| fake_even_ones | 48 |" in table and "no_such_language | failed" in table


def _registered(names):
  return [n for n in names if n in languages.REGISTRY]


@pytest.mark.parametrize(
    "name", _registered(list(languages.SUITE) + ["flip_flop", "bounded_dyck"]))
def test_real_language_encode_matches_language_methods(name):
  """Sampled members of each registered language: tokens, next_sets and paper targets."""
  language = languages.get(name)
  rng = np.random.default_rng(0)
  valid = language.valid_lengths(1, 24)
  words = [language.sample(rng, int(n)) for n in rng.choice(valid, size=4)]
  dataset = data.encode(language, words, "probe", {})
  _check_layout(dataset, language, words)
  if dataset.paper_targets is not None:
    for i, word in enumerate(words):
      labels = language.labels(word, "paper")
      row = dataset.paper_targets[i, :dataset.lengths[i]]
      row = row[len(row) - len(labels):]  # a begin marker may have no paper label
      assert [dataset.paper_classes[k] for k in row] == list(labels)

"""The flip-flop language and FFL(p): membership, allowed-next sets, sampler, paper encoding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ssm_expressivity import languages
from ssm_expressivity.languages import EOS
from ssm_expressivity.languages import flip_flop as ff


def oracle(word: str) -> bool:
  """Pairs (instruction, bit); reads must return the last written bit; at least one write."""
  if len(word) == 0 or len(word) % 2:
    return False
  register = None
  for instruction, bit in zip(word[0::2], word[1::2]):
    if instruction not in "wri" or bit not in "01":
      return False
    if instruction == "w":
      register = bit
    elif instruction == "r" and bit != register:
      return False
  return register is not None


def _all_strings(max_len):
  for n in range(max_len + 1):
    for t in itertools.product(ff.ALPHABET, repeat=n):
      yield "".join(t)


@pytest.fixture(scope="module")
def language():
  return languages.get("flip_flop")


def test_spec_vector(language):
  word = "w1i0r1w0i1r0"
  assert language.accepts(word)
  assert "".join(language.inputs(word, "paper")) == "w1i0r-w0i1r-"
  assert "".join(language.labels(word, "paper")) == "-----1-----0"
  assert language.inputs(word, "exact") == word
  assert language.category == "star_free"
  assert language.alphabet == ("w", "r", "i", "0", "1")


def test_membership_matches_oracle_on_all_short_strings(language):
  members = 0
  for word in _all_strings(6):
    assert language.accepts(word) == oracle(word), word
    assert language.dfa.accepts(word) == oracle(word), word
    members += oracle(word)
  assert members > 10


def test_allowed_next_matches_enumeration(language):
  # Every live prefix of length <= 3, extended by one symbol, completes within 7 symbols.
  live = set()
  for word in _all_strings(7):
    if oracle(word):
      live.update(word[:t] for t in range(len(word) + 1))
  for prefix in _all_strings(3):
    expected = {c for c in ff.ALPHABET if prefix + c in live}
    if oracle(prefix):
      expected.add(EOS)
    assert language.allowed_next(prefix) == frozenset(expected), prefix
  assert language.allowed_next("w1r") == frozenset({"1"})
  assert language.allowed_next("w0i1") == frozenset({"w", "r", "i", EOS})


def test_dfa_is_complete_and_agrees(language):
  dfa = language.dfa
  assert dfa.alphabet == ff.ALPHABET
  assert dfa.transitions.shape == (10, 5)
  rng = np.random.default_rng(0)
  for word in ff.sample_ffl(rng, 20, 40, 0.5):
    assert dfa.accepts(word)
    broken = word[:-1] + ("1" if word[-1] == "0" else "0")  # the final read is wrong
    assert not dfa.accepts(broken) and not language.accepts(broken)


def test_allowed_next_all_matches_prefixes(language):
  rng = np.random.default_rng(1)
  words = ff.sample_ffl(rng, 3, 60, 0.5)
  words += [w[:17] + "r" + w[18:] for w in words] + ["r0w1", "w1x0", ""]
  for word in words:
    expected = [language.allowed_next(word[:t]) for t in range(1, len(word) + 1)]
    assert language.allowed_next_all(word) == expected


def test_long_word_scan(language):
  word = language.sample(np.random.default_rng(2), 100_000)
  sets = language.allowed_next_all(word)
  assert len(sets) == 100_000 and language.accepts(word)
  assert EOS in sets[-1] and all(sets[t] == {"0", "1"} or len(sets[t]) == 1
                                 for t in range(0, 100_000, 2))


@pytest.mark.parametrize("p", [0.8, 0.98, 0.1])
def test_instruction_frequencies(p):
  """Middle instructions: i with p, w and r with (1 - p) / 2 each (5 sigma, 10^5 draws)."""
  words = ff.sample_ffl(np.random.default_rng(3), 400, 512, p)
  instructions = np.array([list(w[2:-2:2]) for w in words]).ravel()
  n = instructions.size
  assert n >= 100_000
  for symbol, prob in (("i", p), ("w", (1 - p) / 2), ("r", (1 - p) / 2)):
    count = np.count_nonzero(instructions == symbol)
    assert abs(count - n * prob) < 5 * np.sqrt(n * prob * (1 - prob)), symbol


def test_bits_after_write_and_ignore_are_uniform():
  words = ff.sample_ffl(np.random.default_rng(4), 400, 512, 0.5)
  chars = np.array([list(w) for w in words])
  instructions, bits = chars[:, 0::2], chars[:, 1::2]
  for instruction in "wi":
    chosen = bits[instructions == instruction]
    n = chosen.size
    assert abs(np.count_nonzero(chosen == "1") - n / 2) < 5 * np.sqrt(n / 4)


def test_sample_ffl_structure():
  words = ff.sample_ffl(np.random.default_rng(5), 50, 20, 0.3)
  assert len(words) == 50
  for word in words:
    assert len(word) == 20 and word[0] == "w" and word[-2] == "r" and oracle(word)
  assert ff.sample_ffl(np.random.default_rng(5), 0, 20, 0.3) == []
  chunked = ff.sample_ffl(np.random.default_rng(5), 50, 20, 0.3, chunk=7)
  assert len(chunked) == 50 and all(oracle(w) for w in chunked)


def test_determinism_and_seeds(language):
  a = ff.sample_ffl(np.random.default_rng(6), 5, 64, 0.8)
  assert a == ff.sample_ffl(np.random.default_rng(6), 5, 64, 0.8)
  assert a != ff.sample_ffl(np.random.default_rng(7), 5, 64, 0.8)
  assert language.sample(np.random.default_rng(8), 64) == language.sample(
      np.random.default_rng(8), 64)


@pytest.mark.parametrize("length", [0, 2, 3, 7, -4])
def test_bad_lengths(language, length):
  with pytest.raises(ValueError, match="even lengths >= 4"):
    language.sample(np.random.default_rng(0), length)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_bad_p(p):
  with pytest.raises(ValueError, match=r"\[0, 1\)"):
    languages.get("flip_flop", p_ignore=p)
  with pytest.raises(ValueError, match=r"\[0, 1\)"):
    ff.sample_ffl(np.random.default_rng(0), 1, 8, p)


def test_bad_num_words():
  with pytest.raises(ValueError, match="num_words"):
    ff.sample_ffl(np.random.default_rng(0), -1, 8, 0.5)


def test_valid_lengths(language):
  assert language.valid_lengths(0, 10) == [4, 6, 8, 10]
  assert language.valid_lengths(5, 9) == [6, 8]
  for n in language.valid_lengths(4, 12):
    assert len(language.sample(np.random.default_rng(n), n)) == n


def test_paper_mode_masks_reads(language):
  word = language.sample(np.random.default_rng(9), 200)
  masked = language.inputs(word, "paper")
  labels = language.paper_labels(word)
  assert len(masked) == len(labels) == len(word)
  for t in range(len(word)):
    after_read = t > 0 and word[t - 1] == "r"
    assert masked[t] == ("-" if after_read else word[t])
    assert labels[t] == (word[t] if after_read else "-")
  assert set(masked) <= set(language.input_symbols("paper"))
  assert language.input_symbols("paper") == ("0", "1", "-", "r", "i", "w")
  assert language.input_symbols("exact") == ff.ALPHABET
  assert language.paper_label_classes() == ("-", "0", "1")
  with pytest.raises(ValueError, match="mode"):
    language.inputs(word, "other")


def test_exact_labels(language):
  word = "w1i0r1"
  labels = language.labels(word, "exact")
  symbols = language.output_symbols
  for t, label in enumerate(labels):
    allowed = {s for s, bit in zip(symbols, label) if bit == "1"}
    assert allowed == language.allowed_next(word[:t + 1])


def test_paper_splits(language):
  sizes = {"train": 30, "val": 400, "val_sparse": 400, "val_dense": 400}
  splits = language.paper_splits(np.random.default_rng(10), sizes)
  assert list(splits) == ["train", "val", "val_sparse", "val_dense"]
  for name, words in splits.items():
    assert len(words) == sizes[name]
    assert all(len(w) == 512 and oracle(w) for w in words)
  def ignore_rate(words):
    instructions = "".join(w[2:-2:2] for w in words)
    return instructions.count("i") / len(instructions)
  assert abs(ignore_rate(splits["val"]) - 0.8) < 0.01
  assert abs(ignore_rate(splits["val_sparse"]) - 0.98) < 0.01
  assert abs(ignore_rate(splits["val_dense"]) - 0.1) < 0.01
  again = language.paper_splits(np.random.default_rng(10), sizes)
  assert again == splits
  # The train distribution follows the language's own p.
  sparse = languages.get("flip_flop", p_ignore=0.98).paper_splits(
      np.random.default_rng(10), {"train": 200, "val": 0, "val_sparse": 0, "val_dense": 0})
  assert abs(ignore_rate(sparse["train"]) - 0.98) < 0.01
  with pytest.raises(ValueError, match="valid splits"):
    language.paper_splits(np.random.default_rng(0), {"test": 3})

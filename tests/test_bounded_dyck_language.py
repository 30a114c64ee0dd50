"""Dyck-(k, m): membership, allowed-next sets, the paper's sampler and data files."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ssm_expressivity import languages
from ssm_expressivity.data.splits import build_splits
from ssm_expressivity.languages import EOS
from ssm_expressivity.languages import bounded_dyck as bd


def oracle(word, k: int, depth: int) -> bool:
  """Repeatedly delete adjacent matching pairs; the depth bound by counting separately."""
  tokens = list(word)
  openers = {f"({t}" for t in bd.type_names(k)}
  closers = {f"{t})" for t in bd.type_names(k)}
  if any(t not in openers | closers for t in tokens):
    return False
  level = 0
  for t in tokens:
    level += 1 if t in openers else -1
    if level > depth:
      return False
  changed = True
  while changed:
    changed = False
    for i in range(len(tokens) - 1):
      if tokens[i] in openers and tokens[i + 1] == tokens[i][1:] + ")":
        del tokens[i:i + 2]
        changed = True
        break
  return not tokens


def _all_words(language, max_len):
  for n in range(max_len + 1):
    yield from itertools.product(language.alphabet, repeat=n)


@pytest.fixture(scope="module")
def paper():
  return languages.get("bounded_dyck")


def test_tokens_and_factory(paper):
  assert paper.alphabet[:8] == ("(a", "(b", "(c", "(d", "(e", "(f", "(g", "(h")
  assert paper.alphabet[8:] == ("a)", "b)", "c)", "d)", "e)", "f)", "g)", "h)")
  assert paper.begin_symbol == "START" and paper.category == "bounded_hierarchical"
  assert paper.input_symbols() == paper.alphabet + ("START",)
  assert (paper.k, paper.depth) == (8, 10)
  assert bd.type_names(28)[25:] == ["z", "aa", "bb"]
  wide = languages.get("bounded_dyck", k=30, depth=2)
  assert "(aa" in wide.alphabet and "dd)" in wide.alphabet and len(set(wide.alphabet)) == 60
  for params in ({"k": 0}, {"depth": 0}, {"k": -3}, {"k": 2.5}):
    with pytest.raises(ValueError, match=">= 1"):
      languages.get("bounded_dyck", **params)


def test_spec_vector(paper):
  word = bd.parse_line("(a (b b) a) END")
  assert word == ("(a", "(b", "b)", "a)")
  assert paper.accepts(word)
  assert paper.inputs(word) == ("START", "(a", "(b", "b)", "a)")
  assert paper.labels(word, "paper") == ["(a", "(b", "b)", "a)", EOS]
  expected = paper.expected_closers(word)
  assert [e for e in expected if e is not None] == ["a)", "b)", "a)"]
  assert expected == [None, "a)", "b)", "a)", None]


@pytest.mark.parametrize("k,depth,max_len", [(2, 2, 6), (1, 3, 8), (3, 1, 4)])
def test_membership_matches_oracle(k, depth, max_len):
  language = languages.get("bounded_dyck", k=k, depth=depth)
  members = 0
  for word in _all_words(language, max_len):
    assert language.accepts(word) == oracle(word, k, depth), word
    members += language.accepts(word)
  assert members > 2
  assert language.accepts(())


@pytest.mark.parametrize("k,depth", [(2, 2), (1, 3)])
def test_allowed_next_matches_enumeration(k, depth):
  language = languages.get("bounded_dyck", k=k, depth=depth)
  max_len = 8
  live = set()
  for word in _all_words(language, max_len):
    if oracle(word, k, depth):
      live.update(word[:t] for t in range(len(word) + 1))
  # Any live prefix of length <= 3 plus one token closes within depth <= 3 more: <= 8.
  for prefix in _all_words(language, 3):
    expected = {c for c in language.alphabet if prefix + (c,) in live}
    if oracle(prefix, k, depth):
      expected.add(EOS)
    assert language.allowed_next(prefix) == frozenset(expected), prefix


def test_allowed_next_all_matches_prefixes():
  language = languages.get("bounded_dyck", k=3, depth=2)
  rng = np.random.default_rng(0)
  for _ in range(5):
    word = language.sample(rng, 30)
    bad = word[:7] + (language.alphabet[int(rng.integers(6))],) + word[8:]
    for w in (word, bad, word + ("(a", "(b", "(c")):
      expected = [language.allowed_next(w[:t]) for t in range(1, len(w) + 1)]
      assert language.allowed_next_all(w) == expected
  assert language.allowed_next_all(("(a", "x)", "(a")) == [
      frozenset({"(a", "(b", "(c", "a)"}), frozenset(), frozenset()]


def test_labels_align_with_inputs(paper):
  word = paper.sample(np.random.default_rng(1), 40)
  inputs = paper.inputs(word)
  paper_labels = paper.labels(word, "paper")
  exact = paper.labels(word, "exact")
  assert len(inputs) == len(paper_labels) == len(exact) == len(word) + 1
  symbols = paper.output_symbols
  for t in range(len(word) + 1):
    allowed = paper.allowed_next(word[:t])
    assert exact[t] == "".join("1" if s in allowed else "0" for s in symbols)
    assert paper_labels[t] in allowed  # the next token is always allowed
  assert set(paper_labels) <= set(paper.paper_label_classes())
  assert set(paper.paper_label_classes()) == set(symbols)


def test_sample_members_of_exact_length_and_depth():
  language = languages.get("bounded_dyck", k=4, depth=3)
  rng = np.random.default_rng(2)
  deepest = 0
  for n in language.valid_lengths(0, 80):
    word = language.sample(rng, n)
    assert len(word) == n and oracle(word, 4, 3)
    deepest = max(deepest, language.max_depth(word))
  assert deepest == 3
  assert language.valid_lengths(3, 9) == [4, 6, 8]
  for bad in (3, -2, 7):
    with pytest.raises(ValueError, match="even lengths"):
      language.sample(rng, bad)
  long_word = language.sample(rng, 100_000)
  assert language.accepts(long_word) and len(language.allowed_next_all(long_word)) == 100_000


def test_paper_sampler_lengths_depth_and_first_step():
  language = languages.get("bounded_dyck", k=8, depth=3)
  stream = bd.UniformStream(np.random.default_rng(3))
  lines = [language.sample_paper(stream, 1, 60) for _ in range(4000)]
  for line in lines:
    assert oracle(line, 8, 3) and 3 <= len(line) + 1 <= 60
  # P(length 3) = P(closer right after the forced opener) * P(END) = 1/2 * 1/2.
  short = sum(len(line) == 2 for line in lines)
  assert abs(short - 1000) < 5 * np.sqrt(4000 * 0.25 * 0.75)
  # Openers are uniform over the 8 types.
  firsts = np.array([language.alphabet.index(line[0]) for line in lines])
  counts = np.bincount(firsts, minlength=8)
  assert np.all(np.abs(counts - 500) < 5 * np.sqrt(4000 / 8 * 7 / 8))
  # A minimum length forces openers until it is reached.
  longer = [language.sample_paper(stream, 41, 80) for _ in range(200)]
  assert all(41 <= len(line) + 1 <= 80 and oracle(line, 8, 3) for line in longer)
  with pytest.raises(ValueError, match="min_length"):
    language.sample_paper(stream, 10, 5)


def test_paper_splits_budgets_and_determinism(paper):
  budgets = {"train": 3000, "dev": 1000, "test": 5000, "test20": 8000}
  splits = paper.paper_splits(np.random.default_rng(4), budgets)
  assert list(splits) == ["train", "dev", "test", "test20"]
  windows = {"train": (1, 700), "dev": (1, 700), "test": (701, 1400), "test20": (701, 1400)}
  for name, words in splits.items():
    total = sum(len(w) + 1 for w in words)
    last = len(words[-1]) + 1
    assert total >= budgets[name] > total - last  # the last line overshoots the budget
    lo, hi = windows[name]
    depth = 15 if name == "test20" else 10
    assert all(lo <= len(w) + 1 <= hi and oracle(w, 8, depth) for w in words)
  # test20 is the deeper test set: most of its long lines reach depth 15, none is in Dyck(8, 10).
  deepest = [paper.max_depth(w) for w in splits["test20"]]
  assert min(deepest) > 10 and deepest.count(15) > len(deepest) / 2
  assert paper.split_params("test20") == {"depth": 15} and paper.split_params("test") == {}
  assert splits == paper.paper_splits(np.random.default_rng(4), budgets)
  assert splits != paper.paper_splits(np.random.default_rng(5), budgets)
  # A split's words do not depend on the other splits' budgets.
  alone = paper.paper_splits(np.random.default_rng(4), {"train": 0, "dev": 0, "test": 0,
                                                        "test20": 8000})
  assert alone["test20"] == splits["test20"] and alone["train"] == []
  with pytest.raises(ValueError, match="valid splits"):
    paper.paper_splits(np.random.default_rng(0), {"test21": 10})


def test_test20_is_encoded_under_its_own_depth():
  """test20's words are deeper than the language: their labels are Dyck(8, 15)'s (an opener
  is allowed at depth 10), the other splits' Dyck(8, 10)'s."""
  sizes = {"train": 0, "dev": 0, "test": 3000, "test20": 3000}
  datasets = build_splits("bounded_dyck", {"k": 8, "depth": 10}, seed=0, sizes=sizes,
                          input_mode="exact")
  assert datasets["test20"].input_symbols == datasets["test"].input_symbols
  assert datasets["test20"].output_symbols == datasets["test"].output_symbols
  assert datasets["test20"].params["depth"] == 15 and datasets["test"].params["depth"] == 10
  for name in ("test20", "test"):
    dataset = datasets[name]
    openers = [dataset.output_symbols.index(o) for o in bd.BoundedDyck(8, 10).openers]
    tokens = dataset.tokens[0, 1:dataset.lengths[0]]  # START dropped
    word = [dataset.input_symbols[t - 1] for t in tokens]
    levels = np.cumsum([1 if t.startswith("(") else -1 for t in word])
    at_ten = int(np.flatnonzero(levels == 10)[0])  # every test line goes that deep
    # Position at_ten + 1 holds the allowed-next set after word[:at_ten + 1].
    assert bool(dataset.next_sets[0, at_ten + 1, openers].any()) == (name == "test20")


def test_line_format_round_trip(tmp_path, paper):
  words = [paper.sample(np.random.default_rng(6), n) for n in (2, 10, 40)]
  path = tmp_path / "k8_m10.dev"
  bd.write_lines(path, words)
  assert path.read_text().splitlines()[0].endswith(" END")
  assert bd.read_lines(path) == words
  assert bd.format_line(("(c", "c)")) == "(c c) END"
  for bad in ("(c c)", "", "(c END c) END", "START (c c) END"):
    with pytest.raises(ValueError):
      bd.parse_line(bad)


def test_golden_dyck_8_10(golden_dir, paper):
  for name, (lo, hi) in (("k8_m10.dev", (1, 700)), ("k8_m10.test", (701, 1400))):
    words = bd.read_lines(golden_dir / "bounded_dyck" / name)
    assert len(words) >= 1000
    depths = [paper.max_depth(w) for w in words]
    for word, depth in zip(words, depths):
      assert paper.accepts(word) and 1 <= depth <= 10
      assert lo <= len(word) + 1 <= hi
    assert max(depths) == 10


def test_sampler_matches_golden_dev_statistics(golden_dir, paper):
  golden = bd.read_lines(golden_dir / "bounded_dyck" / "k8_m10.dev")
  ours = paper.paper_splits(np.random.default_rng(7), {"train": 0, "test": 0})["dev"]
  for stat in (lambda w: len(w) == 2, lambda w: len(w) > 50):
    p_golden = np.mean([stat(w) for w in golden])
    p_ours = np.mean([stat(w) for w in ours])
    error = np.sqrt(p_golden * (1 - p_golden) * (1 / len(golden) + 1 / len(ours)))
    assert abs(p_golden - p_ours) < 5 * error

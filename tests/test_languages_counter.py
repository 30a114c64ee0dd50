"""Counter languages: Dyck-1, Shuffle-k, Boolean-k, a^n b^n (c^n (d^n)).

Membership and allowed-next sets are checked against oracles written differently from the
package (string reduction, projections, a recursive parser, explicit construction) on every
short string; samplers and splits against their definitions.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from ssm_expressivity import languages
from ssm_expressivity.languages import EOS
from ssm_expressivity.languages import dyck

COUNTER_IDS = ("dyck1", "shuffle2", "shuffle4", "shuffle6", "boolean3", "boolean5", "anbn",
               "anbncn", "anbncndn")
PAIRS = ("()", "[]", "{}", "<>", "+-", "ab")
ARITY = {"0": 0, "1": 0, "~": 1, "+": 2, ">": 3, "*": 4, "^": 5}


# ---- independent oracles -------------------------------------------------------------------


def _reduces_to_empty(word: str, pair: str) -> bool:
  """Dyck-1 over `pair` by repeatedly deleting adjacent `pair`s."""
  while pair in word:
    word = word.replace(pair, "")
  return word == ""


def shuffle_oracle(k: int, word: str) -> bool:
  """Shuffle-k: every pair's projection is a Dyck-1 word (no symbol outside the pairs)."""
  pairs = PAIRS[:k]
  if any(s not in "".join(pairs) for s in word):
    return False
  return all(_reduces_to_empty("".join(s for s in word if s in p), p) for p in pairs)


def boolean_oracle(k: int, word: str) -> bool:
  """Prefix notation by recursive descent: one expression that uses the whole word."""
  symbols = {s: a for s, a in ARITY.items() if a <= k}
  return _parse_expr(word, 0, symbols) == len(word)


def _parse_expr(word: str, pos: int, symbols: dict) -> int | None:
  if pos >= len(word) or word[pos] not in symbols:
    return None
  end = pos + 1
  for _ in range(symbols[word[pos]]):
    end = _parse_expr(word, end, symbols)
    if end is None:
      return None
  return end


def counter_oracle(m: int, word: str) -> bool:
  n, rest = divmod(len(word), m)
  return n >= 1 and rest == 0 and word == "".join(c * n for c in "abcd"[:m])


ORACLES = {
    "dyck1": lambda w: shuffle_oracle(1, w),
    "shuffle2": lambda w: shuffle_oracle(2, w),
    "shuffle4": lambda w: shuffle_oracle(4, w),
    "shuffle6": lambda w: shuffle_oracle(6, w),
    "boolean3": lambda w: boolean_oracle(3, w),
    "boolean5": lambda w: boolean_oracle(5, w),
    "anbn": lambda w: counter_oracle(2, w),
    "anbncn": lambda w: counter_oracle(3, w),
    "anbncndn": lambda w: counter_oracle(4, w),
}

# (max word length enumerated, max prefix length whose Next set the enumeration settles)
# (every live prefix u of that length, and u+c, completes within the enumerated length).
BRUTE_BOUNDS = {"dyck1": (10, 4), "shuffle2": (8, 3), "shuffle4": (4, 1), "anbn": (10, 4),
                "anbncn": (9, 2), "anbncndn": (8, 1)}


def _all_strings(alphabet, max_len):
  for n in range(max_len + 1):
    for t in itertools.product(alphabet, repeat=n):
      yield "".join(t)


def test_boolean_oracle_sanity():
  assert boolean_oracle(3, "+0~0") and boolean_oracle(5, "^10101")
  assert not boolean_oracle(3, "+0") and not boolean_oracle(3, "00")
  assert not boolean_oracle(3, "*000") and not boolean_oracle(3, "")


# ---- test vectors (spec §9) and basics ------------------------------------------------------


@pytest.mark.parametrize("name,word,target", [
    ("dyck1", "(())", "1110"),
    ("shuffle2", "[()]()", "011101001000"),
    ("shuffle2", "([])", "10111000"),
    ("shuffle4", "(())", "1000100010000000"),
    ("boolean3", "+0~0", "0001"),
    ("boolean5", "^10101", "000001"),
    ("anbn", "aabb", "aabT"),
    ("anbncn", "aaabbbccc", "aaabbcccT"),
    ("anbncndn", "aaaabbbbccccdddd", "aaaabbbccccddddT"),
])
def test_spec_vectors(name, word, target):
  language = languages.get(name)
  assert language.accepts(word)
  assert "".join(language.labels(word, "paper")) == target
  assert "".join(language.paper_labels(word)) == target


@pytest.mark.parametrize("name", COUNTER_IDS)
def test_registry_and_category(name):
  language = languages.get(name)
  assert language.name == name and language.category == "counter"
  assert EOS not in language.alphabet
  assert language.output_symbols == tuple(language.alphabet) + (EOS,)
  with pytest.raises(ValueError, match="mode"):
    language.labels(language.sample(np.random.default_rng(0), language.valid_lengths(1, 12)[0]),
                    "fancy")


def test_alphabets():
  assert languages.get("dyck1").alphabet == ("(", ")")
  assert "".join(languages.get("shuffle6").alphabet) == "()[]{}<>+-ab"
  assert languages.get("boolean3").alphabet == ("0", "1", "~", "+", ">")
  assert languages.get("boolean5").alphabet == ("0", "1", "~", "+", ">", "*", "^")
  assert languages.get("anbncn").alphabet == ("a", "b", "c")


def test_shuffle_is_the_true_shuffle():
  shuffle2 = languages.get("shuffle2")
  assert shuffle2.accepts("([)]") and shuffle2.accepts("[(])")
  assert not shuffle2.accepts("(]") and not shuffle2.accepts("([)")
  assert shuffle2.allowed_next("([") == frozenset({"(", "[", ")", "]"})
  # Dyck-1 rejects unbalanced and foreign words.
  dyck1 = languages.get("dyck1")
  assert dyck1.accepts("") and not dyck1.accepts(")(") and not dyck1.accepts("(x)")


# ---- membership and allowed_next against oracles ----------------------------------------------


@pytest.mark.parametrize("name,max_len", [
    ("dyck1", 10), ("shuffle2", 6), ("shuffle4", 4), ("shuffle6", 3), ("boolean3", 5),
    ("boolean5", 4), ("anbn", 10), ("anbncn", 7), ("anbncndn", 8)])
def test_membership_matches_oracle_on_all_short_strings(name, max_len):
  language = languages.get(name)
  oracle = ORACLES[name]
  members = 0
  for word in _all_strings(language.alphabet, max_len):
    expected = oracle(word)
    assert language.accepts(word) == expected, word
    members += expected
  assert members > 1


@pytest.mark.parametrize("name", sorted(BRUTE_BOUNDS))
def test_allowed_next_matches_enumeration(name):
  """Next(u) = symbols c with u+c a prefix of some member (found by enumerating members of
  bounded length), plus EOS iff u is a member; exact for prefixes up to the settled length."""
  language = languages.get(name)
  oracle = ORACLES[name]
  max_len, max_prefix = BRUTE_BOUNDS[name]
  live = set()
  for word in _all_strings(language.alphabet, max_len):
    if oracle(word):
      live.update(word[:t] for t in range(len(word) + 1))
  for prefix in _all_strings(language.alphabet, max_prefix):
    expected = {c for c in language.alphabet if prefix + c in live}
    if oracle(prefix):
      expected.add(EOS)
    if prefix not in live:
      assert not expected
    assert language.allowed_next(prefix) == frozenset(expected), prefix


@pytest.mark.parametrize("name", ["boolean3", "boolean5"])
def test_boolean_allowed_next_by_witnesses(name):
  """c is allowed after u iff some continuation completes u+c: searched among all short
  continuations and runs of operands (which close any open slots)."""
  language = languages.get(name)
  k = int(name[-1])
  oracle = ORACLES[name]
  continuations = list(_all_strings(language.alphabet, 2)) + ["0" * j for j in range(3, 20)]
  max_prefix = 3 if k == 3 else 2
  for prefix in _all_strings(language.alphabet, max_prefix):
    expected = {c for c in language.alphabet
                if any(oracle(prefix + c + v) for v in continuations)}
    if oracle(prefix):
      expected.add(EOS)
    assert language.allowed_next(prefix) == frozenset(expected), prefix


def _mutations(rng, language, word, count):
  """`word` with one random symbol replaced: mostly dead prefixes to exercise the scans."""
  out = []
  for _ in range(count):
    if not word:
      break
    t = int(rng.integers(len(word)))
    s = language.alphabet[int(rng.integers(len(language.alphabet)))]
    out.append(word[:t] + s + word[t + 1:])
  return out


@pytest.mark.parametrize("name", COUNTER_IDS)
def test_allowed_next_all_matches_prefixes(name):
  language = languages.get(name)
  rng = np.random.default_rng(1)
  lengths = language.valid_lengths(1, 40)
  for length in lengths[:: max(1, len(lengths) // 4)]:
    word = language.sample(rng, length)
    for w in [word, word + word[:3]] + _mutations(rng, language, word, 3):
      expected = [language.allowed_next(w[:t]) for t in range(1, len(w) + 1)]
      assert language.allowed_next_all(w) == expected
  assert language.allowed_next_all("") == []
  foreign = language.alphabet[0] + "?" + language.alphabet[0]
  assert language.allowed_next_all(foreign)[1:] == [frozenset(), frozenset()]
  assert not language.accepts(foreign)


@pytest.mark.parametrize("name", COUNTER_IDS)
def test_exact_labels_are_the_allowed_next_multi_hot(name):
  language = languages.get(name)
  word = language.sample(np.random.default_rng(2), language.valid_lengths(10, 30)[0])
  labels = language.labels(word, "exact")
  assert len(labels) == len(word)
  for t, label in enumerate(labels):
    allowed = language.allowed_next(word[:t + 1])
    assert label == "".join("1" if s in allowed else "0" for s in language.output_symbols)


@pytest.mark.parametrize("name", ["dyck1", "shuffle2", "shuffle6"])
def test_shuffle_paper_labels_are_open_bits(name):
  language = languages.get(name)
  k = len(language.alphabet) // 2
  word = language.sample(np.random.default_rng(3), 30)
  labels = language.paper_labels(word)
  for t, label in enumerate(labels):
    prefix = word[:t + 1]
    bits = "".join("1" if prefix.count(p[0]) > prefix.count(p[1]) else "0" for p in PAIRS[:k])
    assert label == bits
    # The label projects Next: EOS iff no bracket is open.
    assert (EOS in language.allowed_next(prefix)) == (label == "0" * k)
  assert set(labels) <= set(language.paper_label_classes())
  assert len(language.paper_label_classes()) == 2**k


@pytest.mark.parametrize("name", ["boolean3", "boolean5"])
def test_boolean_paper_labels_mark_complete_prefixes(name):
  language = languages.get(name)
  word = language.sample(np.random.default_rng(4), 25)
  labels = language.paper_labels(word)
  assert labels == ["1" if ORACLES[name](word[:t]) else "0" for t in range(1, 26)]
  assert labels == ["0"] * 24 + ["1"]


@pytest.mark.parametrize("name,m", [("anbn", 2), ("anbncn", 3), ("anbncndn", 4)])
def test_counter_paper_labels_project_allowed_next(name, m):
  language = languages.get(name)
  word = language.sample(np.random.default_rng(0), 7 * m)
  for t, label in enumerate(language.paper_labels(word)):
    allowed = language.allowed_next(word[:t + 1])
    expected = {"a": {"a", "b"}, "T": {EOS}}.get(label, {label})
    assert allowed == frozenset(expected)
  assert language.paper_label_classes() == tuple(sorted("abcd"[:m] + "T"))
  with pytest.raises(ValueError, match="prefix of a member"):
    language.paper_labels("ba")


# ---- samplers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", COUNTER_IDS)
def test_sample_gives_members_of_the_requested_length(name):
  language = languages.get(name)
  oracle = ORACLES[name]
  rng = np.random.default_rng(5)
  lengths = language.valid_lengths(0, 60)
  assert lengths and all(oracle(language.sample(rng, n)) for n in lengths[:3])
  for n in lengths:
    word = language.sample(rng, n)
    assert len(word) == n and language.accepts(word) and oracle(word)


@pytest.mark.parametrize("name", COUNTER_IDS)
def test_valid_lengths_are_exactly_the_lengths_with_members(name):
  language = languages.get(name)
  oracle = ORACLES[name]
  max_len = max(n for n in range(4, 9) if len(language.alphabet)**n <= 30_000)
  have = {len(w) for w in _all_strings(language.alphabet, max_len) if oracle(w)}
  assert set(language.valid_lengths(0, max_len)) == have
  assert language.valid_lengths(3, 2) == []
  for n in set(range(max_len + 1)) - have:
    with pytest.raises(ValueError, match="length"):
      language.sample(np.random.default_rng(0), n)


@pytest.mark.parametrize("name,bad", [("dyck1", 7), ("shuffle2", 3), ("anbn", 5),
                                      ("anbncn", 4), ("anbncndn", 6), ("boolean3", 0),
                                      ("dyck1", -2)])
def test_sample_rejects_impossible_lengths(name, bad):
  with pytest.raises(ValueError, match="length"):
    languages.get(name).sample(np.random.default_rng(0), bad)


def test_shuffle_sampler_draws_crossing_words():
  language = languages.get("shuffle2")
  rng = np.random.default_rng(6)
  words = [language.sample(rng, 16) for _ in range(100)]
  # Some word is not well nested as a Dyck-2 word (its brackets cross).
  assert any(not _well_nested(w) for w in words)
  assert all(shuffle_oracle(2, w) for w in words)


@pytest.mark.parametrize("name", ["dyck1", "shuffle4", "boolean5"])
def test_sample_is_deterministic_per_seed(name):
  language = languages.get(name)
  n = language.valid_lengths(30, 40)[0]
  first = [language.sample(np.random.default_rng(7), n) for _ in range(3)]
  assert first[0] == first[1] == first[2]
  others = {language.sample(np.random.default_rng(seed), n) for seed in range(8, 14)}
  assert len(others) > 1


# ---- paper splits ------------------------------------------------------------------------------

SMALL = {"train": 60, "bin0": 30, "bin1": 10, "bin2": 10}
WINDOWS = {
    "dyck1": [(2, 50), (2, 50), (52, 100), (102, 150)],
    "shuffle2": [(2, 50), (2, 50), (52, 100), (100, 150)],
    "shuffle4": [(2, 100), (2, 100), (102, 150), (150, 200)],
    "shuffle6": [(2, 100), (2, 100), (102, 150), (150, 200)],
    "boolean3": [(2, 50), (2, 50), (51, 100), (100, 150)],
    "boolean5": [(2, 50), (2, 50), (51, 100), (100, 150)],
}


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_paper_splits_windows_membership_and_dedup(name):
  language = languages.get(name)
  splits = language.paper_splits(np.random.default_rng(8), SMALL)
  assert list(splits) == ["train", "bin0", "bin1", "bin2"]
  for (split, words), (lo, hi) in zip(splits.items(), WINDOWS[name]):
    assert len(words) == SMALL[split]
    assert len(set(words)) == len(words)
    assert all(lo <= len(w) <= hi and ORACLES[name](w) for w in words), split
  if name.startswith("boolean"):  # one joint corpus split in two: disjoint
    assert not set(splits["train"]) & set(splits["bin0"])
  else:  # the PCFG: well-nested words only (spec §7.3)
    assert all(_well_nested(w) for words in splits.values() for w in words)


def _well_nested(word: str) -> bool:
  closer_of = {p[0]: p[1] for p in PAIRS}
  stack = []
  for s in word:
    if s in closer_of:
      stack.append(closer_of[s])
    elif not stack or stack.pop() != s:
      return False
  return not stack


@pytest.mark.parametrize("name,windows", [
    ("anbn", [(2, 100), (2, 100), (101, 200), (200, 300)]),
    ("anbncn", [(3, 150), (3, 150), (151, 300), (300, 450)]),
    ("anbncndn", [(4, 200), (4, 200), (201, 400), (400, 600)])])
def test_counter_paper_splits_window_on_n(name, windows):
  language = languages.get(name)
  m = len(language.alphabet)
  splits = language.paper_splits(np.random.default_rng(9))
  assert list(splits) == ["train", "bin0", "bin1", "bin2"]
  for words, (lo, hi) in zip(splits.values(), windows):
    assert len(set(words)) == len(words) and len(words) <= hi - lo + 1
    assert all(counter_oracle(m, w) and lo <= len(w) // m <= hi for w in words)
  # 1000 draws over 99..148 values of n leave (almost surely) none out; 50 draws leave some.
  assert len(splits["train"]) >= windows[0][1] - windows[0][0] - 2
  assert len(splits["bin0"]) < 50
  assert len(language.paper_splits(np.random.default_rng(9), {"bin1": 1})["bin1"]) == 1


@pytest.mark.parametrize("name", ["dyck1", "boolean3", "anbn"])
def test_paper_splits_deterministic_and_seed_dependent(name):
  language = languages.get(name)
  sizes = {"train": 20, "bin0": 5, "bin1": 3, "bin2": 3}
  first = language.paper_splits(np.random.default_rng(10), sizes)
  assert first == language.paper_splits(np.random.default_rng(10), sizes)
  assert first != language.paper_splits(np.random.default_rng(11), sizes)


def test_split_sizes_are_independent_per_split():
  language = languages.get("dyck1")
  small = language.paper_splits(np.random.default_rng(12), {"train": 5, "bin0": 4, "bin1": 2,
                                                            "bin2": 2})
  larger = language.paper_splits(np.random.default_rng(12), {"train": 9, "bin0": 4, "bin1": 2,
                                                             "bin2": 2})
  assert larger["train"][:5] == small["train"]
  assert larger["bin0"] == small["bin0"] and larger["bin2"] == small["bin2"]


@pytest.mark.parametrize("name", ["shuffle2", "boolean5", "anbncn"])
def test_paper_splits_reject_bad_sizes(name):
  language = languages.get(name)
  with pytest.raises(ValueError, match="valid splits"):
    language.paper_splits(np.random.default_rng(0), {"bin7": 3})
  with pytest.raises(ValueError, match=">= 0"):
    language.paper_splits(np.random.default_rng(0), {"train": -1})


def test_draw_distinct_fails_clearly_when_the_window_is_too_small():
  words = iter(itertools.cycle(["()", "(())", "()()", ""]))
  with pytest.raises(ValueError, match="distinct words"):
    dyck.draw_distinct(lambda: next(words), 4, 2, 10, "tiny")
  assert dyck.draw_distinct(lambda: next(words), 3, 2, 10, "tiny") == ["()", "(())", "()()"]


def test_regex_oracle_agrees_with_counting_oracle():
  # A second, regex-based oracle for a^n b^n confirms the construction oracle.
  for word in _all_strings("ab", 10):
    match = re.fullmatch(r"(a+)(b+)", word)
    expected = bool(match) and len(match.group(1)) == len(match.group(2))
    assert counter_oracle(2, word) == expected


# ---- the paper's PCFG (spec §4.1): the fast sampler against the literal recursion ----------

P_WRAP, P_CONCAT = 0.5, 0.25  # p and q of spec §4.1


def reference_pcfg(rng: np.random.Generator, pairs, cur: int, max_len: int) -> str:
  """G(cur, M) of spec §4.1, literally: recursive, one draw per rule, collapse to ε."""
  if cur >= max_len:
    return ""
  u = rng.random()
  if u < P_WRAP:
    opener, closer = pairs[rng.integers(len(pairs))]
    word = opener + reference_pcfg(rng, pairs, cur + 2, max_len) + closer
  elif u < P_WRAP + P_CONCAT:
    word = reference_pcfg(rng, pairs, cur, max_len)
    word += reference_pcfg(rng, pairs, cur, max_len)
  else:
    return ""
  return word if len(word) <= max_len else ""


def exact_pcfg_laws(pairs, max_len: int) -> dict[int, dict[str, float]]:
  """Exact law over words of G(cur, M) for even cur: the rules of §4.1 iterated to their
  least fixed point on dictionaries of words (tiny M only)."""
  laws = {cur: {"": 1.0} for cur in range(max_len + max_len % 2, max_len + 2, 2)}
  for cur in range(max_len - 1 - (max_len - 1) % 2, -1, -2):
    law: dict[str, float] = {}
    while True:
      new = {"": 1.0 - P_WRAP - P_CONCAT}
      outcomes = [(o + w + c, P_WRAP / len(pairs) * pw)
                  for w, pw in laws[cur + 2].items() for o, c in pairs]
      outcomes += [(a + b, P_CONCAT * pa * pb) for a, pa in law.items() for b, pb in law.items()]
      for word, prob in outcomes:
        key = word if len(word) <= max_len else ""
        new[key] = new.get(key, 0.0) + prob
      done = max(abs(new[w] - law.get(w, 0.0)) for w in new) < 1e-15
      law = new
      if done:
        break
    laws[cur] = law
  return laws


def _max_depth(word: str) -> int:
  depth = deepest = 0
  for s in word:
    depth += 1 if s in "([{<+a" else -1
    deepest = max(deepest, depth)
  return deepest


def _top_level_blocks(word: str) -> int:
  depth = blocks = 0
  for s in word:
    depth += 1 if s in "([{<+a" else -1
    blocks += depth == 0
  return blocks


def _means_agree(ours, theirs) -> bool:
  """Two sample means within 5 standard errors."""
  ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
  error = np.hypot(ours.std(ddof=1) / np.sqrt(len(ours)), theirs.std(ddof=1) / np.sqrt(len(theirs)))
  return abs(ours.mean() - theirs.mean()) < 5 * error


def _chi_square_bound(df: int) -> float:
  """5 sigma above the mean of a chi-square with df degrees of freedom."""
  return df + 5 * np.sqrt(2 * df)


@pytest.mark.parametrize("k,max_len", [(1, 10), (2, 7)])
def test_pcfg_length_laws_match_the_exact_word_law(k, max_len):
  pairs = [tuple(p) for p in PAIRS[:k]]
  sampler = dyck.PcfgSampler(pairs, max_len)
  exact = exact_pcfg_laws(pairs, max_len)
  for level in range(sampler.num_levels + 1):
    by_length = np.zeros(max_len // 2 + 1)
    for word, prob in exact[2 * level].items():
      by_length[len(word) // 2] += prob
    np.testing.assert_allclose(sampler.length_laws[level], by_length, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k,max_len,lo", [(1, 10, 4), (2, 7, 2)])
def test_pcfg_window_draws_follow_the_exact_word_law(k, max_len, lo):
  pairs = [tuple(p) for p in PAIRS[:k]]
  law = {w: p for w, p in exact_pcfg_laws(pairs, max_len)[0].items() if len(w) >= lo}
  total = sum(law.values())
  draw = dyck.PcfgSampler(pairs, max_len).window_candidates(np.random.default_rng(5), lo, max_len)
  num_draws = 20_000
  counts: dict[str, int] = {}
  for _ in range(num_draws):
    word = draw()
    counts[word] = counts.get(word, 0) + 1
  assert set(counts) <= set(law)  # only words the grammar makes, in the window
  expected = {w: num_draws * p / total for w, p in law.items()}
  big = [w for w in law if expected[w] >= 5]
  rest_expected = num_draws - sum(expected[w] for w in big)
  rest_count = num_draws - sum(counts.get(w, 0) for w in big)
  chi2 = sum((counts.get(w, 0) - expected[w]) ** 2 / expected[w] for w in big)
  if rest_expected >= 5:
    chi2 += (rest_count - rest_expected) ** 2 / rest_expected
  df = len(big) - (rest_expected < 5)
  assert len(big) >= 20
  assert chi2 < _chi_square_bound(df), (chi2, df)


def test_pcfg_sampler_matches_the_literal_recursion():
  """Length histogram, nesting depth and top-level blocks of G(0, 40) | 16 <= |w| <= 40:
  the fast sampler against literal draws of the recursion kept in the window."""
  pairs = [tuple(p) for p in PAIRS[:2]]
  lo, hi, num_words = 16, 40, 3000
  rng = np.random.default_rng(6)
  reference = []
  while len(reference) < num_words:
    word = reference_pcfg(rng, pairs, 0, hi)
    if len(word) >= lo:
      reference.append(word)
  draw = dyck.PcfgSampler(pairs, hi).window_candidates(np.random.default_rng(7), lo, hi)
  ours = [draw() for _ in range(num_words)]
  assert all(_well_nested(w) and lo <= len(w) <= hi for w in ours)
  # Two-sample chi-square on the lengths (equal sample sizes), sparse lengths pooled.
  ours_hist = np.bincount([len(w) for w in ours], minlength=hi + 1)[lo::2]
  ref_hist = np.bincount([len(w) for w in reference], minlength=hi + 1)[lo::2]
  dense = ours_hist + ref_hist >= 10
  a = np.append(ours_hist[dense], ours_hist[~dense].sum())
  b = np.append(ref_hist[dense], ref_hist[~dense].sum())
  keep = a + b > 0
  chi2 = (((a - b) ** 2)[keep] / (a + b)[keep]).sum()
  assert dense.sum() >= 8
  assert chi2 < _chi_square_bound(int(keep.sum()) - 1), chi2
  assert _means_agree([_max_depth(w) for w in ours], [_max_depth(w) for w in reference])
  assert _means_agree([_top_level_blocks(w) for w in ours],
                      [_top_level_blocks(w) for w in reference])
  assert _means_agree([w.count("(") for w in ours], [w.count("(") for w in reference])


def test_pcfg_sampler_windows_without_words():
  sampler = dyck.PcfgSampler([("(", ")")], 10)
  with pytest.raises(ValueError, match="no word of length in"):
    sampler.draw_window(np.random.default_rng(0), 3, 5, 5, "odd window")
  with pytest.raises(ValueError, match="no word of length in"):
    sampler.draw_window(np.random.default_rng(0), 1, 12, 20, "beyond the bound")
  assert sampler.draw_window(np.random.default_rng(0), 0, 5, 5, "odd window") == []
  words = sampler.draw_window(np.random.default_rng(1), 2, 10, 10, "top")
  assert words == sampler.draw_window(np.random.default_rng(1), 2, 10, 10, "top")
  assert len(set(words)) == 2 and all(len(w) == 10 and _well_nested(w) for w in words)

"""Tomita and the other regular languages against independent oracles (spec/languages.md §2-3).

Oracles are written differently from the DFAs under test: regular expressions and counting
rules for membership, enumeration of words for Next_L, the spec's label rules on strings.
"""

from __future__ import annotations

import functools
import itertools
import re
import warnings

import numpy as np
import pytest

from ssm_expressivity import automata
from ssm_expressivity import languages
from ssm_expressivity.languages import EOS
from ssm_expressivity.languages import regular
from ssm_expressivity.languages import tomita

# ---- oracles ---------------------------------------------------------------------------------


def _tomita3(word: str) -> bool:
  # Maximal 1-run followed by a maximal 0-run: "1+0+" matches found left to right are maximal.
  return not any(len(m.group(1)) % 2 and len(m.group(2)) % 2
                 for m in re.finditer(r"(1+)(0+)", word))


def _depth_profile(word: str) -> list[int]:
  return list(itertools.accumulate(1 if c == "a" else -1 for c in word))


def _dyck(n: int):
  def member(word: str) -> bool:
    depths = _depth_profile(word)
    return all(0 <= d <= n for d in depths) and (not depths or depths[-1] == 0)
  return member


def _regex(pattern: str):
  return lambda word: re.fullmatch(pattern, word) is not None


MEMBER = {
    "tomita1": _regex(r"1*"),
    "tomita2": _regex(r"(10)*"),
    "tomita3": _tomita3,
    "tomita4": lambda w: "000" not in w,
    "tomita5": lambda w: w.count("0") % 2 == 0 and w.count("1") % 2 == 0,
    "tomita6": lambda w: (w.count("0") - w.count("1")) % 3 == 0,
    "tomita7": _regex(r"0*1*0*1*"),
    "parity": lambda w: w.count("1") % 2 == 0,
    "aa_star": _regex(r"(aa)*"),
    "aaaa_star": _regex(r"(aaaa)*"),
    "abab_star": _regex(r"(abab)*"),
    "abcde_blocks": _regex(r"a+b+c+d+e+"),
    "ab_d_bc": _regex(r"[ab]*d[bc]*"),
    "012_02": _regex(r"[012]*02*"),
    "d2": _dyck(2),
    "d3": _dyck(3),
    "d4": _dyck(4),
    "d12": _dyck(12),
}
IDS = tuple(MEMBER)
ALPHABET = {
    **{f"tomita{i}": "01" for i in range(1, 8)}, "parity": "01", "aa_star": "a",
    "aaaa_star": "a", "abab_star": "ab", "abcde_blocks": "abcde", "ab_d_bc": "abcd",
    "012_02": "012", "d2": "ab", "d3": "ab", "d4": "ab", "d12": "ab",
}
# Longest word enumerated (by alphabet size), and an upper bound on the symbols a live
# prefix needs to reach a member (default 2).
MAX_LEN = {1: 16, 2: 12, 3: 8, 4: 7, 5: 7}
COMPLETION = {"abcde_blocks": 5, "aaaa_star": 3, "abab_star": 3, "d3": 3, "d4": 4,
              "d12": 12}
STAR_FREE = {"tomita1", "tomita2", "tomita4", "tomita7", "abcde_blocks", "ab_d_bc", "012_02",
             "d2", "d3", "d4", "d12"}


def _prefix_live(name: str, prefix: str) -> bool:
  """Liveness written from the language definitions (used for labels on long words)."""
  if name == "tomita1":
    return "0" not in prefix
  if name == "tomita2":
    return re.fullmatch(r"(10)*1?", prefix) is not None
  if name == "tomita4":
    return "000" not in prefix
  if name == "tomita7":
    return re.fullmatch(r"0*1*0*1*", prefix) is not None
  raise KeyError(name)


def paper_label_oracle(name: str, prefix: str) -> str:
  """The spec's label rule for the prefix `prefix` (a prefix of a member)."""
  last = prefix[-1]
  if name in ("tomita1", "tomita2", "tomita4", "tomita7"):
    return "".join("1" if _prefix_live(name, prefix + c) else "0" for c in "01")
  if name == "tomita3":  # source quirk: a bit is 1 iff prefix + c is itself in L
    return "".join("1" if _tomita3(prefix + c) else "0" for c in "01")
  if name in ("tomita5", "tomita6", "parity", "aa_star", "aaaa_star", "abab_star"):
    return "1" if MEMBER[name](prefix) else "0"
  if name == "abcde_blocks":
    return "bcdeT"["abcde".index(last)]
  if name == "ab_d_bc":
    return "0110" if "d" in prefix else "1101"
  if name == "012_02":
    return "e" if re.fullmatch(r"[012]*02+", prefix) else "c"
  n = int(name[1:])
  depth = _depth_profile(prefix)[-1]
  return "10" if depth == 0 else "01" if depth == n else "11"


@functools.lru_cache(maxsize=None)
def brute_force(name: str):
  """(all strings up to MAX_LEN, members among them, prefixes of those members)."""
  sigma = ALPHABET[name]
  words = ["".join(t) for n in range(MAX_LEN[len(sigma)] + 1)
           for t in itertools.product(sigma, repeat=n)]
  members = [w for w in words if MEMBER[name](w)]
  prefixes = {m[:i] for m in members for i in range(len(m) + 1)}
  return words, members, prefixes


def _max_prefix_len(name: str) -> int:
  """Prefixes up to this length have all their live one-symbol extensions in `prefixes`."""
  return MAX_LEN[len(ALPHABET[name])] - 1 - COMPLETION.get(name, 2)


# ---- test vectors (spec §9) ------------------------------------------------------------------

VECTORS = [
    ("tomita1", "111", "010101"), ("tomita2", "1010", "10011001"),
    ("tomita3", "100", "011001"), ("tomita3", "11100", "0111011001"),
    ("tomita4", "00100", "1101111101"), ("tomita5", "0110", "0001"),
    ("tomita6", "00001", "00101"), ("tomita7", "0101", "11111101"),
    ("parity", "010111", "100101"), ("aa_star", "aaaa", "0101"),
    ("aaaa_star", "aaaaaaaa", "00010001"), ("abab_star", "abababab", "00010001"),
    ("abcde_blocks", "aabcdde", "bbcdeeT"), ("ab_d_bc", "aadb", "1101110101100110"),
    ("012_02", "00222", "cceee"), ("012_02", "0120", "cccc"),
    ("d2", "aabbab", "110111101110"), ("d3", "aabbaabb", "1111111011111110"),
]


@pytest.mark.parametrize("name,word,target", VECTORS)
def test_spec_vectors(name, word, target):
  assert "".join(languages.get(name).labels(word, "paper")) == target


def test_spec_vectors_exact_mode():
  # Tomita-3 exact: the next-symbol bits (over 0, 1) are 11 10 11 for "100".
  exact = languages.get("tomita3").labels("100", "exact")
  assert [e[:2] for e in exact] == ["11", "10", "11"]
  # 012_02 exact: EOS allowed exactly at 'e' positions of "ecce".
  exact = languages.get("012_02").labels("0120", "exact")
  assert "".join("e" if e[-1] == "1" else "c" for e in exact) == "ecce"


def test_registry_and_categories():
  for name in IDS:
    language = languages.get(name)
    assert language.name == name
    assert "".join(language.alphabet) == ALPHABET[name]
    assert language.category == ("star_free" if name in STAR_FREE else "non_star_free")
    assert language.output_symbols == tuple(ALPHABET[name]) + (EOS,)


@pytest.mark.parametrize("name", IDS)
def test_category_matches_star_freeness_of_dfa(name):
  language = languages.get(name)
  assert automata.is_star_free(language.dfa) == (language.category == "star_free")


# ---- exact semantics against brute force -----------------------------------------------------


@pytest.mark.parametrize("name", IDS)
def test_membership_matches_oracle(name):
  language = languages.get(name)
  words, _, _ = brute_force(name)
  mismatches = [w for w in words if language.accepts(w) != MEMBER[name](w)]
  assert not mismatches[:5]
  batch = language.accepts_many(words)
  assert batch.tolist() == [MEMBER[name](w) for w in words]


@pytest.mark.parametrize("name", IDS)
def test_dfa_is_complete_and_agrees(name):
  language = languages.get(name)
  dfa = language.dfa
  assert isinstance(dfa, automata.DFA)
  assert dfa.alphabet == language.alphabet
  assert dfa.transitions.shape == (dfa.num_states, len(language.alphabet))
  words, _, _ = brute_force(name)
  for word in words[:3000]:
    assert dfa.accepts(word) == MEMBER[name](word), word


@pytest.mark.parametrize("name", IDS)
def test_allowed_next_matches_enumeration(name):
  language = languages.get(name)
  sigma = ALPHABET[name]
  _, _, prefixes = brute_force(name)
  for n in range(_max_prefix_len(name) + 1):
    for prefix in map("".join, itertools.product(sigma, repeat=n)):
      expected = {c for c in sigma if prefix + c in prefixes}
      if MEMBER[name](prefix):
        expected.add(EOS)
      assert language.allowed_next(prefix) == frozenset(expected), prefix


@pytest.mark.parametrize("name", ["d2", "d3", "d4", "d12"])
def test_dyck_allowed_next_on_long_prefixes(name):
  n = int(name[1:])
  language = languages.get(name)
  rng = np.random.default_rng(3)
  for _ in range(20):
    word = language.sample(rng, 60)
    for prefix, allowed in zip(itertools.accumulate(word), language.allowed_next_all(word)):
      depth = _depth_profile(prefix)[-1]
      expected = {"a"} if depth < n else set()
      if depth > 0:
        expected.add("b")
      else:
        expected.add(EOS)
      assert allowed == frozenset(expected), prefix


@pytest.mark.parametrize("name", IDS)
def test_labels_on_all_short_members(name):
  language = languages.get(name)
  symbols = language.output_symbols
  _, members, _ = brute_force(name)
  for word in members[:2000]:
    paper = language.labels(word, "paper")
    exact = language.labels(word, "exact")
    allowed = language.allowed_next_all(word)
    assert len(paper) == len(exact) == len(word)
    for t in range(len(word)):
      prefix = word[:t + 1]
      assert allowed[t] == language.allowed_next(prefix)
      assert exact[t] == "".join("1" if s in allowed[t] else "0" for s in symbols)
      assert paper[t] == paper_label_oracle(name, prefix), prefix


@pytest.mark.parametrize("name", IDS)
def test_paper_labels_on_long_samples(name):
  language = languages.get(name)
  rng = np.random.default_rng(7)
  lengths = language.valid_lengths(100, 140)
  for length in rng.choice(lengths, 5):
    word = language.sample(rng, int(length))
    paper = language.labels(word, "paper")
    assert paper == [paper_label_oracle(name, word[:t + 1]) for t in range(len(word))]


@pytest.mark.parametrize("name", IDS)
def test_paper_label_classes(name):
  language = languages.get(name)
  classes = language.paper_label_classes()
  assert list(classes) == sorted(set(classes))
  _, members, _ = brute_force(name)
  seen = {label for word in members for label in language.labels(word, "paper")}
  if name == "d12":  # the label "01" needs depth 12, beyond the enumerated words
    seen |= {"01"}
  assert set(classes) == seen


def test_labels_reject_bad_input():
  language = languages.get("tomita2")
  with pytest.raises(ValueError, match="prefixes"):
    language.labels("11", "paper")  # "11" is not a prefix of (10)*
  with pytest.raises(ValueError, match="label mode"):
    language.labels("10", "other")
  assert language.labels("11", "exact") == ["100", "000"]
  # Symbols outside the alphabet: not in L, no continuation; paper labels say why.
  assert not language.accepts("12")
  assert language.accepts_many(["10", "1x0", "", "é"]).tolist() == [True, False, True, False]
  assert languages.get("abcde_blocks").allowed_next("abx") == frozenset()
  # Labels of a foreign word would be silent all-zero targets: both modes refuse it.
  for mode in ("exact", "paper"):
    with pytest.raises(ValueError, match="alphabet"):
      language.labels("1x", mode)


# ---- sampling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", IDS)
def test_valid_lengths_match_brute_force(name):
  language = languages.get(name)
  _, members, _ = brute_force(name)
  top = MAX_LEN[len(ALPHABET[name])]
  assert language.valid_lengths(0, top) == sorted({len(m) for m in members})
  assert language.valid_lengths(3, 2) == []


@pytest.mark.parametrize("name", IDS)
def test_sample_returns_members_of_the_length(name):
  language = languages.get(name)
  rng = np.random.default_rng(11)
  for length in language.valid_lengths(0, 30) + language.valid_lengths(500, 503):
    for _ in range(3):
      word = language.sample(rng, length)
      assert isinstance(word, str) and len(word) == length
      assert MEMBER[name](word), word


@pytest.mark.parametrize("name", IDS)
def test_sample_is_deterministic_and_varied(name):
  language = languages.get(name)
  length = language.valid_lengths(40, 60)[0]
  first = [language.sample(np.random.default_rng(5), length) for _ in range(2)]
  assert first[0] == first[1]
  rng = np.random.default_rng(5)
  draws = {language.sample(rng, length) for _ in range(20)}
  if name not in ("tomita1", "tomita2", "aa_star", "aaaa_star", "abab_star"):
    assert len(draws) > 1  # these five have a single word per length


@pytest.mark.parametrize("name,length", [
    ("tomita2", 3), ("aa_star", 5), ("aaaa_star", 6), ("abab_star", 7), ("abcde_blocks", 4),
    ("ab_d_bc", 0), ("012_02", 0), ("d2", 9), ("d12", 1), ("parity", -1), ("tomita1", 2.5),
])
def test_impossible_lengths_raise(name, length):
  with pytest.raises(ValueError, match=r"length"):
    languages.get(name).sample(np.random.default_rng(0), length)


def test_long_words_are_handled_in_linear_time():
  language = languages.get("d12")
  word = language.sample(np.random.default_rng(0), 100_000)
  assert MEMBER["d12"](word)
  assert language.exact_labels(word)[-1] == "101"
  assert len(language.labels(word, "paper")) == 100_000


# ---- the paper's window samplers ---------------------------------------------------------------


@pytest.mark.parametrize("index", [1, 2, 3, 4, 7])
def test_tomita_window_samplers_emit_members(index):
  # Only T5/T6 rely on rejection; the other proposers always emit members.
  rng = np.random.default_rng(index)
  words = tomita._PROPOSERS[index](rng, 2000, 1, 100)
  assert all(MEMBER[f"tomita{index}"](w) for w in words)
  assert max(map(len, words)) <= 100


def test_stop_walk_mean_length():
  # Continue with probability q = 2p = M/(M+1), M = 50 for [1, 100]; capped at 100:
  # E[min(K, 100)] = sum_{k=1}^{100} q^k.
  q = 50 / 51
  expected = sum(q**k for k in range(1, 101))
  lengths = regular._stop_walk_lengths(np.random.default_rng(1), 40000, 1, 100)
  assert abs(lengths.mean() - expected) < 0.7
  assert lengths.min() == 0 and lengths.max() == 100


def _gen_reference(rng, depth, m, rho):
  """Sequential Gen of spec §3.6, written independently of the vectorized version."""
  if depth == 0 or m <= 0:
    return ""
  word = ""
  while len(word) < m:
    inner = int(m * rho * (1 + 0.1 * rng.standard_normal()))
    word += "a" + _gen_reference(rng, depth - 1, inner, rho) + "b"
  return word


@pytest.mark.parametrize("depth,hi,rho", [(3, 100, 0.75), (4, 200, 0.5), (12, 100, 0.75)])
def test_dn_vectorized_gen_matches_sequential_reference(depth, hi, rho):
  rng = np.random.default_rng(depth)
  count = 3000
  tops = regular._rand_len(rng, np.full(count, hi), rho)
  lengths, rows, positions = regular._dn_gen(rng, depth, tops, rho)
  words = [w.decode() for w in regular._dn_words(lengths, rows, positions,
                                                 np.arange(count))]
  assert [len(w) for w in words] == lengths.tolist()
  assert all(_dyck(depth)(w) for w in words)
  reference = [_gen_reference(rng, depth, int(hi * rho * (1 + 0.1 * rng.standard_normal())),
                              rho) for _ in range(count)]
  for stat in (len, lambda w: w.count("ab"), lambda w: _depth_profile(w).count(0)):
    ours = np.mean([stat(w) for w in words])
    theirs = np.mean([stat(w) for w in reference])
    assert abs(ours - theirs) < 0.04 * theirs + 0.05


def test_dn_paper_sampler_stops_early_with_a_warning():
  language = languages.get("d2", sampler="paper")
  with pytest.warns(UserWarning, match="stopped early"):
    words = language.paper_list(np.random.default_rng(0), 1000, 2, 8)
  # Far fewer than 1000 words of D_2 fit in [2, 8]: the list ends short, unique and valid.
  assert len(words) == len(set(words)) < 1000
  assert all(_dyck(2)(w) and 2 <= len(w) <= 8 for w in words)


# ---- paper splits ------------------------------------------------------------------------------

# id -> {split: (lo, hi)} per spec §2.4 and §3.
WINDOWS = {
    **{f"tomita{i}": {"train": (1, 100), "bin0": (1, 100), "bin1": (101, 150)}
       for i in range(1, 8)},
    "parity": {"train": (2, 50), "bin0": (2, 50), "bin1": (51, 100)},
    "aa_star": {"train": (2, 500), "bin0": (2, 500), "bin1": (501, 600)},
    "aaaa_star": {"train": (4, 500), "bin0": (4, 500), "bin1": (501, 600)},
    "abab_star": {"train": (4, 500), "bin0": (4, 500), "bin1": (501, 600)},
    "abcde_blocks": {"train": (5, 200), "bin0": (5, 200), "bin1": (5, 300)},
    "ab_d_bc": {"train": (2, 49), "bin0": (2, 49), "bin1": (2, 99)},
    "012_02": {"train": (2, 49), "bin0": (2, 49), "bin1": (2, 99)},
    "d2": {"train": (2, 100), "bin0": (2, 100), "bin1": (101, 200)},  # flagged fallback
    "d3": {"train": (2, 100), "bin0": (2, 100), "bin1": (2, 200)},
    "d4": {"train": (2, 100), "bin0": (2, 100), "bin1": (2, 200)},
    "d12": {"train": (2, 100), "bin0": (2, 100), "bin1": (2, 200)},
}
for _i in (5, 6):
  WINDOWS[f"tomita{_i}"].update({"bin2": (101, 150), "bin3": (101, 150)})
JOINT_UNIQUE = {"abcde_blocks", "ab_d_bc", "012_02", "d2", "d3", "d4", "d12"}


def _small_sizes(name):
  return {split: (60 if split == "train" else 20) for split in WINDOWS[name]}


@pytest.mark.parametrize("name", IDS)
def test_paper_splits_small(name):
  language = languages.get(name)
  sizes = _small_sizes(name)
  splits = language.paper_splits(np.random.default_rng(0), sizes=sizes)
  assert list(splits) == list(WINDOWS[name])
  for split, words in splits.items():
    lo, hi = WINDOWS[name][split]
    assert words and all(lo <= len(w) <= hi and MEMBER[name](w) for w in words), split
    if split == "train":
      assert len(words) == sizes[split]
    else:  # bins are deduplicated
      assert len(set(words)) == len(words) <= sizes[split]
  if name in JOINT_UNIQUE:
    assert not set(splits["train"]) & set(splits["bin0"])
    assert len(splits["bin0"]) == sizes["bin0"]
  again = language.paper_splits(np.random.default_rng(0), sizes=sizes)
  assert again == splits
  other = language.paper_splits(np.random.default_rng(1), sizes=sizes)
  assert other["train"] != splits["train"]


def test_paper_splits_default_sizes_small_languages():
  splits = languages.get("tomita1").paper_splits(np.random.default_rng(0))
  assert len(splits["train"]) == 1000 and len(splits["train"]) > len(set(splits["train"]))
  assert 0 < len(splits["bin0"]) <= 50
  splits = languages.get("aa_star").paper_splits(np.random.default_rng(0))
  assert len(splits["train"]) == 250 and 0 < len(splits["bin1"]) <= 50


def test_paper_splits_reject_unknown_sizes():
  with pytest.raises(ValueError, match="valid splits"):
    languages.get("tomita3").paper_splits(np.random.default_rng(0), sizes={"bin2": 5})
  with pytest.raises(ValueError, match=">= 0"):
    languages.get("parity").paper_splits(np.random.default_rng(0), sizes={"train": -1})


def test_dn_sampler_parameter():
  assert languages.get("d2").sampler == "fallback"
  assert not languages.get("d2").canonical_splits
  assert languages.get("d3").canonical_splits
  assert languages.get("d12", sampler="committed").canonical_splits
  with pytest.raises(ValueError, match="paper, committed, fallback"):
    languages.get("d3", sampler="uniform")


@pytest.mark.slow
@pytest.mark.parametrize("name", IDS)
def test_paper_splits_full_size(name):
  language = languages.get(name)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # d3's early stop is expected
    splits = language.paper_splits(np.random.default_rng(0))
  expected_train = {"tomita1": 1000, "tomita2": 1000, "aa_star": 250, "aaaa_star": 125,
                    "abab_star": 125, "d2": 5000}.get(name, 10000)
  assert len(splits["train"]) == expected_train
  for split, words in splits.items():
    lo, hi = WINDOWS[name][split]
    assert all(lo <= len(w) <= hi for w in words)
    assert language.accepts_many(words).all()

"""Hand-set constructions: exact next-symbol sets at length >= 10000, sizes, NONNEGATIVE, PARITY."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from ssm_expressivity import constructions
from ssm_expressivity import languages
from ssm_expressivity.constructions import parity_failure
from ssm_expressivity.models import diagonal_ssm

LENGTH = 10_000
COUNTERS = ("dyck1", "shuffle2", "shuffle4", "shuffle6", "boolean3", "boolean5", "anbn",
            "anbncn", "anbncndn")
STAR_FREE = ("tomita1", "tomita2", "tomita4", "tomita7", "d2", "d3", "d4", "d12",
             "abcde_blocks", "ab_d_bc", "012_02")


def test_registry_covers_the_issue():
  expected = {"flip_flop", "bounded_dyck", "parity_signed", *COUNTERS, *STAR_FREE}
  assert set(constructions.names()) == expected
  for name in STAR_FREE:
    assert languages.get(name).category == "star_free"


@pytest.mark.parametrize("name", constructions.names())
def test_exact_on_long_adversarial_and_sampled_words(name):
  construction = constructions.get(name)
  words = construction.stress_words(np.random.default_rng(1), LENGTH)
  assert max(len(w) for w in words) >= LENGTH
  for word in words:
    expected = construction.language.allowed_next_all(word)
    # Every stress word is a prefix of a word of L (the domain of predictive modeling).
    assert all(expected)
    got = construction.allowed_next_sets(word)
    assert len(got) == len(word)
    wrong = [t + 1 for t, (e, g) in enumerate(zip(expected, got)) if e != g]
    assert not wrong, f"{name}: first wrong prefix length {wrong[0]} of {len(wrong)}"


def _bounded_dyck_oracle(word, k, depth):
  """Next sets of Dyck(k, depth) by an explicit stack (independent of the language module)."""
  opens = [f"({chr(97 + t)}" for t in range(k)]
  closes = [f"{chr(97 + t)})" for t in range(k)]
  stack, sets = [], []
  for token in word:
    if token in opens:
      stack.append(opens.index(token))
    else:
      assert stack.pop() == closes.index(token)
    allowed = set() if len(stack) == depth else set(opens)
    allowed |= {closes[stack[-1]]} if stack else {"$"}
    sets.append(frozenset(allowed))
  return sets


@pytest.mark.parametrize("k, depth", [(1, 3), (2, 1), (3, 4), (5, 2), (8, 10), (16, 6)])
def test_bounded_dyck_memory_bound_and_exactness(k, depth):
  construction = constructions.get("bounded_dyck", k=k, depth=depth)
  bits = math.ceil(math.log2(k)) if k > 1 else 0
  assert construction.num_layers == 2
  assert construction.state_dims == (1, depth * bits)  # a depth counter + h * ceil(log2 K)
  assert construction.is_nonnegative()
  words = construction.stress_words(np.random.default_rng(k * 100 + depth), 3000)
  for word in words:
    assert construction.allowed_next_sets(word) == _bounded_dyck_oracle(word, k, depth)
  assert any(len(w) and "(a" not in s for w in words
             for s in _bounded_dyck_oracle(w, k, depth))  # maximal depth is reached


@pytest.mark.parametrize("n", [2, 3, 12])
def test_depth_bounded_dyck_cascade_and_counter(n):
  cascade = constructions.get(f"d{n}")
  assert cascade.state_dims == (1,) * n  # one stage per layer
  for l in range(n):  # every gate is 1/4 or 1: event-driven delay cells
    gate = cascade.params["params"][f"layer_{l}"]["gate"]
    values = set(np.round(gate["bias"] + gate["kernel"].ravel(), 6)) | set(gate["bias"])
    assert values <= {0.25, 1.0}, values
  counter = constructions.get(f"d{n}", style="counter")
  assert counter.state_dims == (1,)
  words = cascade.stress_words(np.random.default_rng(n), 3000)
  # The words reach the maximal depth (a is not allowed there).
  assert any("a" not in s for w in words for s in cascade.language.allowed_next_all(w))
  for construction in (cascade, counter):
    assert constructions.check(construction, words).errors == 0


def test_sizes_stated_by_the_paper():
  flip_flop = constructions.get("flip_flop")
  assert (flip_flop.num_layers, flip_flop.state_dims) == (2, (3, 2))
  parity = constructions.get("parity_signed")
  assert (parity.num_layers, parity.state_dims) == (1, (1,))
  layer = parity.params["params"]["layer_0"]
  gate = layer["gate"]["kernel"][:, 0] + layer["gate"]["bias"][0]
  ids = {s: i + 1 for i, s in enumerate(parity.language.alphabet)}
  assert (gate[ids["1"]], gate[ids["0"]], layer["h0"][0]) == (-1.0, 1.0, 1.0)


@pytest.mark.parametrize("name", COUNTERS)
def test_counter_gates_are_exactly_one(name):
  construction = constructions.get(name)
  for l in range(construction.num_layers):
    gate = construction.params["params"][f"layer_{l}"]["gate"]
    assert not np.any(gate["kernel"]) and np.all(gate["bias"] == 1.0)


def test_nonnegative_check():
  for name in constructions.names():
    assert constructions.get(name).is_nonnegative() == (name != "parity_signed"), name
  construction = constructions.get("flip_flop")
  construction.params["params"]["layer_1"]["gate"]["bias"][0] = -0.5  # a negative gate
  assert not construction.is_nonnegative()


def test_check_detects_a_broken_construction():
  construction = constructions.get("flip_flop")
  words = construction.stress_words(np.random.default_rng(0), 2000)
  assert constructions.check(construction, words).errors == 0
  # The register cell of layer 2 never resets any more: reads after a second write go wrong.
  construction = constructions.get("flip_flop")
  gate = construction.params["params"]["layer_1"]["gate"]
  gate["kernel"][:, 0] = 0.0
  gate["bias"][0] = 1.0
  result = constructions.check(construction, words)
  assert result.errors > 0 and result.first_error is not None


def test_delay_cell_agrees_across_scan_methods():
  construction = constructions.get("tomita4")  # gate 1/4: the one non-{0, 1} gate
  words = construction.stress_words(np.random.default_rng(2), 2000)
  for method in ("associative", "chunked"):
    assert constructions.check(construction.with_scan(method), words).errors == 0


def test_user_errors():
  with pytest.raises(ValueError, match="valid"):
    constructions.get("tomita3")  # not star-free: no NONNEGATIVE construction
  with pytest.raises(ValueError, match="parity_signed"):
    constructions.get("parity")
  with pytest.raises(ValueError, match="valid parameters: k, depth"):
    constructions.get("bounded_dyck", K=3)
  with pytest.raises(ValueError, match="alphabet"):
    constructions.get("dyck1").allowed_next_sets("(x)")


def test_parity_failure_witness_on_a_random_nonnegative_ssm():
  model, params = parity_failure.random_nonnegative_ssm(seed=7, num_layers=2, min_decay=0.01)
  assert diagonal_ssm.nonnegative_gates(model, params)
  freeze = parity_failure.freeze_point(model, params, max_n=1 << 16, start=2048)
  assert freeze.n is not None and freeze.outputs_equal
  n = freeze.n
  # Independently: run 1^n and 1^(n+1) as two words; same final state and output, bit for bit,
  # while the previous step still changed the state (n is the first freeze).
  run = lambda length: model.apply(params, jnp.full((1, length), parity_failure.ONE_TOKEN),
                                   return_states=True)
  (short_scores, short_states), (long_scores, long_states) = run(n), run(n + 1)
  stacked = lambda states, t: np.concatenate([np.asarray(h[0, t]) for h in states])
  np.testing.assert_array_equal(stacked(short_states, -1), stacked(long_states, -1))
  np.testing.assert_array_equal(np.asarray(short_scores[0, -1]), np.asarray(long_scores[0, -1]))
  assert n > 1 and not np.array_equal(stacked(short_states, -2), stacked(short_states, -1))
  # The signed construction tells them apart.
  sets = constructions.get("parity_signed").allowed_next_sets("1" * (n + 1))
  assert ("$" in sets[n - 1]) != ("$" in sets[n])


def test_the_witness_does_not_apply_to_a_signed_time_invariant_gate():
  model, params = parity_failure.signed_time_invariant_ssm()
  assert diagonal_ssm.time_invariant_gates(model, params)
  assert not diagonal_ssm.nonnegative_gates(model, params)
  assert parity_failure.alternation_period(model, params, length=512) == 2
  assert parity_failure.freeze_point(model, params, max_n=2048, start=512).n is None


@pytest.mark.slow
@pytest.mark.parametrize("name", constructions.names())
def test_exact_at_100000(name):
  construction = constructions.get(name)
  words = construction.stress_words(np.random.default_rng(3), 100_000)
  assert constructions.check(construction, words).errors == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["flip_flop", "bounded_dyck", "tomita7", "anbncndn"])
def test_scan_methods_agree(name):
  construction = constructions.get(name)
  words = construction.stress_words(np.random.default_rng(4), 3000)
  for method in ("associative", "chunked"):
    assert constructions.check(construction.with_scan(method), words).errors == 0

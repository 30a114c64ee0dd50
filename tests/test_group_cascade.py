"""from_group: exact prefix products against composing the permutations directly."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import constructions_group
from ssm_expressivity import constructions
from ssm_expressivity import languages
from ssm_expressivity.constructions import group_precision
from ssm_expressivity.constructions import groups
from ssm_expressivity.languages import word_problem as wp
from ssm_expressivity.models import scan as scan_lib

SOLVABLE = ("Z60", "A4xZ5", "S3", "A4", "S4", "D8", "Q8", "Z2^3")
LAYERS = {"Z60": 1, "A4xZ5": 2, "S3": 2, "A4": 2, "S4": 3, "D8": 2, "Q8": 2, "Z2^3": 1}
STATE_DIMS = {"Z60": (1,), "A4xZ5": (1, 2), "S3": (1, 1), "A4": (1, 2), "S4": (1, 1, 2),
              "D8": (1, 1), "Q8": (1, 1), "Z2^3": (3,)}


def composed_prefix_products(perms, word):
  """Prefix products by composing the permutations themselves (apply left to right)."""
  index = {p: i for i, p in enumerate(perms)}
  current, out = perms[0], []
  for i in word:
    current = tuple(perms[i][x] for x in current)  # current, then perms[i]
    out.append(index[current])
  return out


@pytest.fixture(scope="module")
def built():
  return {name: constructions.from_group(name) for name in SOLVABLE}


@pytest.mark.parametrize("name", SOLVABLE)
def test_exact_prefix_products_at_length_10000(built, name):
  c = built[name]
  assert (c.num_layers, c.state_dims) == (LAYERS[name], STATE_DIMS[name])
  perms = [tuple(p) for p in c.group.perms.tolist()]
  rng = np.random.default_rng(0)
  word = rng.integers(0, c.group.order, 10_000)
  names = [c.alphabet[i] for i in word.tolist()]
  got = c.prefix_products(names)
  want = [c.alphabet[i] for i in composed_prefix_products(perms, word.tolist())]
  assert got == want
  # Spelled as the word-problem language spells elements and its prefix-product labels.
  language = languages.get("word_problem", group=name)
  assert c.alphabet == language.alphabet
  assert got[:500] == language.labels(tuple(names[:500]), "paper")


def test_long_words_run_in_chunks_with_the_state_carried(built, monkeypatch):
  c = built["S4"]
  word = np.random.default_rng(1).integers(0, 24, 3000)
  whole = c.scores(word + 1)
  monkeypatch.setattr(groups, "CHUNK", 1024)
  np.testing.assert_array_equal(c.scores(word + 1), whole)  # sequential scan: bit-identical
  assert c.check([word]).errors == 0


@pytest.mark.parametrize("method", ("associative", "chunked"))
def test_every_scan_method_gives_exact_products(built, method):
  c = built["A4xZ5"].with_scan(method)
  assert c.check([np.random.default_rng(2).integers(0, 60, 1000)]).errors == 0


def test_generator_lists_and_other_groups():
  s3 = constructions.from_group([(1, 0, 2), (1, 2, 0)])
  assert s3.group.perms.tolist() == wp.group("S3").perms.tolist()
  assert (s3.num_layers, s3.state_dims) == (2, (1, 1))
  # The dihedral group of order 10 (not one of the named groups): D10 > Z5 > 1.
  d10 = constructions.from_group([(1, 2, 3, 4, 0), (0, 4, 3, 2, 1)])
  assert d10.group.order == 10 and d10.series_summary() == "10 > 5 > 1 (Z2, Z5)"
  perms = [tuple(p) for p in d10.group.perms.tolist()]
  word = np.random.default_rng(3).integers(0, 10, 2000)
  assert d10.predict(word + 1)[0].tolist() == composed_prefix_products(perms, word.tolist())


@pytest.mark.parametrize("name", ("A5", "S5"))
def test_non_solvable_groups_are_refused(name):
  with pytest.raises(ValueError, match="derived series stops at a perfect subgroup of order 60"):
    constructions.from_group(name)


def test_user_errors():
  with pytest.raises(ValueError, match="valid groups: Z60, A4xZ5"):
    constructions.from_group("Z7")
  with pytest.raises(ValueError, match="not a permutation"):
    constructions.from_group([(0, 0, 1)])
  with pytest.raises(ValueError, match="trivial group"):
    constructions.from_group([(0, 1)])
  with pytest.raises(ValueError, match="not an element name"):
    constructions.from_group("S3").prefix_products(["g0", "g9"])
  with pytest.raises(ValueError, match="list of tuples"):
    constructions_group.parse_group("[(1, 0")


def test_a_broken_gate_is_caught(built):
  # Negative control: one letter's gate no longer rotates; the check must see it.
  c = built["A4xZ5"]
  params = jax.tree_util.tree_map(np.array, c.params)
  layer = params["params"]["layer_0"]
  row = 1 + 5  # the input feature of element 5 (index 0 is padding)
  assert layer["gate_imag"]["kernel"][row, 0] != 0
  layer["gate"]["kernel"][row, 0], layer["gate_imag"]["kernel"][row, 0] = 1.0, 0.0
  broken = groups.GroupConstruction(c.group, c.alphabet, c.series, c.factors, c.model, params)
  word = np.random.default_rng(4).integers(0, 60, 1000)
  result = broken.check([word])
  assert result.errors > 0 and result.first_error is not None


def test_gates_are_exact_at_quarter_turns():
  assert groups.root_of_unity(1, 4) == 1j and groups.root_of_unity(1, 2) == -1
  table = groups.gate_table([2, 4])
  assert table[0].tolist() == [1, -1] and table[1].tolist() == [1, 1j, -1, -1j]


def test_precision_measurement_sees_the_models_own_states(built):
  # The measurement's recurrence (exact cascade letters, the same gates) reproduces the
  # model's states bit for bit, so its lengths are the model's.
  c = built["A4xZ5"]
  word = np.random.default_rng(5).integers(0, 60, 1000)
  tokens = jnp.asarray(np.pad(word + 1, (0, 24))[None], jnp.int32)
  _, states = c.model.apply(c.params, tokens, return_states=True)
  products = c.group.prefix_products(word)[None]
  for state, (gates, _) in zip(states, group_precision.layer_gates(c, products)):
    h = scan_lib.linear_recurrence(gates, np.zeros_like(gates),
                                   np.ones((1, gates.shape[-1]), np.complex64),
                                   method="sequential")
    np.testing.assert_array_equal(np.asarray(state[:, :1000]), np.asarray(h))


def test_normalizing_in_phi_outlasts_the_raw_readout(built):
  # Z60 on g^T: the modulus drift breaks a readout of Re h, Im h near T = 53000, long
  # before the phase error reaches pi/60 (near T = 2.3M, see the slow test).
  exact = group_precision.measure_powers(built["Z60"], max_length=1 << 16)
  assert exact.unit_phase is None and exact.raw is not None and exact.raw < 1 << 16
  assert 0 < exact.worst_error_ratio < 0.1
  q8 = group_precision.measure_powers(built["Q8"], max_length=1 << 12)
  assert q8.worst_error_ratio == 0.0 and q8.raw is None  # Z2 and Z4: exact gates


def test_cli_report_runs(built, capsys):
  assert constructions_group.run("S3", 2000, seed=0, scan="sequential", precision_length=4096)
  out = capsys.readouterr().out
  assert "6 > 3 > 1 (Z2, Z3)" in out and "0 errors" in out


@pytest.mark.slow
def test_measured_z60_crossing_is_where_the_model_first_errs(built):
  c = built["Z60"]
  exact = group_precision.measure_powers(c, max_length=1 << 22)
  assert exact.unit_phase is not None and 2_000_000 < exact.unit_phase < 2_600_000
  element = c.alphabet.index(exact.worst[2])
  result = c.check([np.full(exact.unit_phase + 1000, element)])
  assert abs(result.first_error[1] - exact.unit_phase) < 200  # phi's own float32 rounding
  assert c.check([np.full(exact.unit_phase - 1000, element)]).errors == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", SOLVABLE)
def test_exact_at_one_million(built, name):
  c = built[name]
  word = np.random.default_rng(6).integers(0, c.group.order, 1_000_000)
  assert c.check([word]).errors == 0

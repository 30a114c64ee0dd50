"""Solvable groups as cascades of complex diagonal SSM layers: `from_group`.

Shakerinava, Khavari, Ravanbakhsh and Chandar (arXiv 2603.01959): k layers of input-dependent
complex diagonal SSMs track a group exactly when it has a subnormal series of length k with
abelian factors. The construction, for the series G = G_0 > G_1 > ... > G_k = 1 of
`group_series.abelian_series` (layer l for the factor A_l = G_{l-1} / G_l):

  Layer l reads a word y^(l-1) over G_{l-1} (for l = 1 the input word) and keeps the image of
  its prefix product Q^(l-1)_t in A_l = Z_{n_1} x ... x Z_{n_r} as r phases:
    h_t[j] = a_t[j] h_{t-1}[j],   a_t[j] = e^{2 pi i pi_l(y_t)_j / n_j},   h_0 = 1,
  so h_t[j] = e^{2 pi i c_t[j] / n_j} with c_t = pi_l(Q^(l-1)_t) (pi_l is a homomorphism).
  With a transversal r_l of A_l in G_{l-1} (r_l(0) = 1), Q^(l-1)_t = Q^(l)_t r_l(c_t), where
  Q^(l) is the prefix product of the word over G_l
    y^(l)_t = r_l(c_{t-1}) y^(l-1)_t r_l(c_t)^-1,   c_{t-1} = c_t - pi_l(y^(l-1)_t):
  a function of the layer's state *after* the update and of its current letter, so phi
  computes it position-wise (no delay gadget) and hands it to the next layer. Unrolled,
    P_t = r_k(c^k_t) ... r_2(c^2_t) r_1(c^1_t),
  so layer l also outputs the partial product s_l = r_l(c^l_t) s_{l-1} (s_0 = 1), and the last
  layer's s_k = P_t is a one-hot of the prefix product, which the head reads.

phi of layer l, as threshold units (`base.Circuit`):
  decode   "c_j = v": step(Re(u_j e^{-2 pi i v / n_j}) - cos(pi / n_j)) with u = h / |h|,
           right while the float32 phase error stays below pi / n_j (group_precision.py);
  pairs    AND units of (letter y, coordinates c) and of (partial product s, c);
  outputs  one-hots of the next letter y^(l) and of s_l: OR units over the pairs.
Gate values are e^{2 pi i v / n} rounded once to complex64, exact for quarter turns (Z2 and Z4
factors stay exact at every length); the complex layers' matmuls run in full float32.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import math
from typing import Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ssm_expressivity.constructions import group_series
from ssm_expressivity.constructions.base import PAD, CheckResult, Circuit, LayerSizes, sym
from ssm_expressivity.languages import word_problem
from ssm_expressivity.models import diagonal_ssm

# Words longer than this run in chunks of this many positions, each layer's state carried
# over as the next chunk's h0 (bit-identical to one long run with the sequential scan).
CHUNK = 1 << 14
# Pair units over all layers' phi; beyond it the Dense kernels get too large to be useful.
MAX_PAIR_UNITS = 100_000


def root_of_unity(v: int, n: int) -> complex:
  """e^{2 pi i v / n}, exact at quarter turns (1, i, -1, -i)."""
  quarter, rest = divmod(4 * v, n)
  if rest == 0:
    return (1, 1j, -1, -1j)[quarter % 4]
  return complex(np.exp(2j * np.pi * v / n))


def gate_table(orders: Sequence[int]) -> list[np.ndarray]:
  """Per cyclic order n, the complex64 gate values e^{2 pi i v / n} for v = 0..n-1."""
  return [np.array([root_of_unity(v, n) for v in range(n)], np.complex64) for n in orders]


def _bucket(length: int) -> int:
  """Padded length: the next power of two >= 64 (bounds the number of jit compilations)."""
  return max(64, 1 << max(0, int(length - 1).bit_length()))


@dataclasses.dataclass(frozen=True, eq=False)
class GroupConstruction(LayerSizes):
  """Hand-set complex DiagonalSSM weights whose outputs are a group's prefix products.

  Attributes:
    group: the group; element i is `group.perms[i]` (sorted permutations, 0 the identity).
    alphabet: element names as the word-problem language spells them (`g00` ... or `g0` ...).
    series: G = G_0 > G_1 > ... > G_k = 1, subgroups as frozensets of element indices.
    factors: the abelian factors G_{l-1} / G_l, one per layer.
    model: the `DiagonalSSM` (gate "complex"), one layer per factor.
    params: its parameters.
  """

  group: word_problem.Group
  alphabet: tuple[str, ...]
  series: tuple[frozenset, ...]
  factors: tuple[group_series.AbelianFactor, ...]
  model: diagonal_ssm.DiagonalSSM
  params: dict

  @property
  def name(self) -> str:
    return self.group.name

  def series_summary(self) -> str:
    """Subgroup orders along the series and the factors, e.g. '60 > 4 > 1 (Z15, Z2 x Z2)'."""
    orders = " > ".join(str(len(s)) for s in self.series)
    return f"{orders} ({', '.join(f.name for f in self.factors)})"

  def with_scan(self, method: str) -> "GroupConstruction":
    """The same construction run with another `scan.linear_recurrence` method."""
    return dataclasses.replace(self, model=self.model.clone(scan=method))

  @functools.cached_property
  def _index(self) -> dict[str, int]:
    return {s: i for i, s in enumerate(self.alphabet)}

  @functools.cached_property
  def _apply(self):
    return jax.jit(functools.partial(self.model.apply, return_states=True))

  def encode(self, word: Sequence[str]) -> np.ndarray:
    """Token ids (element index + 1) of a word of element names."""
    try:
      return np.fromiter((self._index[s] + 1 for s in word), np.int32, len(word))
    except KeyError as e:
      raise ValueError(f"{self.name}: {e.args[0]!r} is not an element name (names: "
                       f"{self.alphabet[0]} .. {self.alphabet[-1]})") from None

  def scores(self, tokens: np.ndarray) -> np.ndarray:
    """Head scores [len(tokens), order]; long inputs run in chunks with the state carried."""
    tokens = np.asarray(tokens, np.int32)
    width = CHUNK if len(tokens) > CHUNK else _bucket(len(tokens))
    params = jax.tree_util.tree_map(jnp.asarray, self.params)
    out = []
    for start in range(0, max(len(tokens), 1), width):
      piece = tokens[start:start + width]
      padded = np.zeros((1, width), np.int32)
      padded[0, :len(piece)] = piece
      scores, states = self._apply(params, jnp.asarray(padded))
      out.append(np.asarray(scores[0, :len(piece)]))
      params = _carry_states(params, states, len(piece) - 1)
    return np.concatenate(out)[:len(tokens)]

  def predict(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(argmax element index, whether exactly one score is > 0) at every position."""
    scores = self.scores(tokens)
    return np.argmax(scores, axis=-1), np.sum(scores > 0, axis=-1) == 1

  def prefix_products(self, word: Sequence[str]) -> list[str]:
    """The prefix products w_1, w_1 w_2, ... computed by the SSM, as element names."""
    if len(word) == 0:
      return []
    return [self.alphabet[i] for i in self.predict(self.encode(word))[0].tolist()]

  def check(self, words: Iterable[Sequence[int]]) -> CheckResult:
    """Compares the SSM's outputs with the group's multiplication table on element-index
    words; a position counts as wrong unless exactly one element scores > 0 and it is the
    prefix product. first_error: (word index, prefix length, expected name, got name)."""
    positions = errors = 0
    first = None
    for w, word in enumerate(words):
      word = np.asarray(word, np.int64)
      expected = self.group.prefix_products(word)
      got, one_hot = self.predict((word + 1).astype(np.int32))
      wrong = (got != expected) | ~one_hot
      positions += len(word)
      errors += int(wrong.sum())
      if first is None and wrong.any():
        t = int(np.argmax(wrong))
        first = (w, t + 1, self.alphabet[expected[t]], self.alphabet[got[t]])
    return CheckResult(positions, errors, first)


def _carry_states(params, states, last: int):
  """params whose h0 (real and imaginary) are each layer's state at position `last`."""
  tree = dict(params["params"])
  for l, h in enumerate(states):
    layer = dict(tree[f"layer_{l}"])
    layer["h0"], layer["h0_imag"] = jnp.real(h[0, last]), jnp.imag(h[0, last])
    tree[f"layer_{l}"] = layer
  return {"params": tree}


def _group(group) -> word_problem.Group:
  if isinstance(group, word_problem.Group):
    return group
  if isinstance(group, str):
    return word_problem.group(group)
  return word_problem.from_generators(group)


def from_group(group, scan: str = "sequential") -> GroupConstruction:
  """The cascade for `group`: a name (word_problem.GROUPS), a Group, or generator permutations.

  Raises ValueError for an unknown name, bad generators, the trivial group, a group that is
  not solvable (naming the perfect subgroup where the derived series stops), or one whose phi
  would need more than MAX_PAIR_UNITS pair units.
  """
  g = _group(group)
  if g.order == 1:
    raise ValueError("the trivial group has nothing to track (its prefix products are all 1)")
  series = group_series.abelian_series(g)
  factors = tuple(group_series.abelian_factor(g, series[l], series[l + 1])
                  for l in range(len(series) - 1))
  pairs = sum(f.order * (len(f.top) + g.order // len(f.top)) for f in factors)
  if pairs > MAX_PAIR_UNITS:
    raise ValueError(f"group {g.name} (order {g.order}) would need {pairs} pair units in phi "
                     f"(more than {MAX_PAIR_UNITS})")
  alphabet = word_problem.element_names(g.order)
  model, params = _build(g, alphabet, factors, scan)
  return GroupConstruction(g, alphabet, series, factors, model, params)


def _build(g, alphabet, factors, scan):
  symbol_features = (PAD,) + tuple(sym(s) for s in alphabet)
  letters = {y: sym(alphabet[y]) for y in range(g.order)}
  partials = None  # s_0 = 1: no feature
  features, layers, phi_features = symbol_features, [], []
  for l, factor in enumerate(factors):
    last = l == len(factors) - 1
    layer, outputs, letters, partials = _layer(g, alphabet, l, factor, features, letters,
                                               partials, last)
    layers.append(layer)
    phi_features.append(tuple(layer[k]["kernel"].shape[1] for k in sorted(layer)
                              if k.startswith("phi_")))
    features = symbol_features + tuple(outputs)
  # Head: score of element e = (output unit "P = e") - 1/2.
  index = {name: i for i, name in enumerate(features[len(symbol_features):])}
  head = np.zeros((len(index), g.order), np.float32)
  for e, name in partials.items():
    head[index[name], e] = 1.0
  params = {f"layer_{l}": layer for l, layer in enumerate(layers)}
  params["head"] = {"kernel": head, "bias": np.full(g.order, -0.5, np.float32)}
  model = diagonal_ssm.DiagonalSSM(
      vocab_size=len(symbol_features), state_dims=tuple(f.rank for f in factors),
      phi_features=tuple(phi_features), num_outputs=g.order, scan=scan, gate="complex")
  return model, {"params": params}


def _layer(g, alphabet, l, factor, features, letters, partials, last):
  """One layer's params; (params, [phi outputs], next letters, next partial products).

  letters: element of G_{l-1} -> the input feature that is on when it is the current letter;
  partials: partial product s_{l-1} -> its input feature (None for the first layer).
  """
  table, inverse, rep = g.table, g.inverse, factor.representatives
  cells = [f"L{l}.c{j}" for j in range(factor.rank)]
  state_inputs = [f"{c}.{part}" for part in ("re", "im", "ure", "uim") for c in cells]
  circuit = Circuit(state_inputs + list(features), binary=features)
  coords = list(itertools.product(*(range(n) for n in factor.orders)))
  value_unit = {}
  for j, n in enumerate(factor.orders):
    for v in range(n):
      w = root_of_unity(v, n)
      value_unit[j, v] = circuit.threshold(
          f"L{l}.c{j}={v}", {f"{cells[j]}.ure": w.real, f"{cells[j]}.uim": w.imag},
          -math.cos(math.pi / n))
  coordinate_unit = {c: value_unit[0, c[0]] if len(c) == 1 else circuit.all_of(
      f"L{l}.c={c}", pos=[value_unit[j, v] for j, v in enumerate(c)]) for c in coords}

  outputs, next_letters = [], {}
  if not last:
    by_letter = collections.defaultdict(list)
    for y, feature in letters.items():
      d = factor.coordinates[y]
      for c in coords:
        before = tuple((cj - dj) % n for cj, dj, n in zip(c, d, factor.orders))
        y_next = int(table[table[rep[before], y], inverse[rep[c]]])
        by_letter[y_next].append(circuit.all_of(f"L{l}.{alphabet[y]}@{c}",
                                                pos=[feature, coordinate_unit[c]]))
    if set(by_letter) != set(factor.bottom):
      raise AssertionError("next letters must range over the next subgroup")
    for y_next in sorted(by_letter):
      next_letters[y_next] = circuit.any_of(f"L{l}.y={alphabet[y_next]}", by_letter[y_next])
      outputs.append(next_letters[y_next])
  by_partial = collections.defaultdict(list)
  for s, feature in (partials or {0: None}).items():
    for c in coords:
      pair = coordinate_unit[c] if feature is None else circuit.all_of(
          f"L{l}.s{alphabet[s]}@{c}", pos=[feature, coordinate_unit[c]])
      by_partial[int(table[rep[c], s])].append(pair)
  next_partials = {}
  for s_next in sorted(by_partial):
    next_partials[s_next] = circuit.any_of(f"L{l}.s={alphabet[s_next]}", by_partial[s_next])
    outputs.append(next_partials[s_next])

  phi = circuit.compile(outputs)
  layer = _gates(factor, features, letters)
  for i, (kernel, bias) in enumerate(phi):
    layer[f"phi_{i}"] = {"kernel": kernel, "bias": bias}
  return layer, outputs, next_letters, next_partials


def _gates(factor, features, letters) -> dict:
  """Gate lookup tables (real and imaginary kernels), zero drive, h0 = 1."""
  index = {f: i for i, f in enumerate(features)}
  rank = factor.rank
  real, imag = np.zeros((len(features), rank), np.float32), np.zeros((len(features), rank),
                                                                     np.float32)
  real[index[PAD]] = 1.0  # padding holds the state
  tables = gate_table(factor.orders)
  for y, feature in letters.items():
    for j, v in enumerate(factor.coordinates[y]):
      real[index[feature], j], imag[index[feature], j] = tables[j][v].real, tables[j][v].imag
  zeros = np.zeros(rank, np.float32)
  return {"gate": {"kernel": real, "bias": zeros}, "gate_imag": {"kernel": imag, "bias": zeros},
          "drive": {"kernel": np.zeros_like(real), "bias": zeros},
          "drive_imag": {"kernel": np.zeros_like(real), "bias": zeros},
          "h0": np.ones(rank, np.float32), "h0_imag": zeros}

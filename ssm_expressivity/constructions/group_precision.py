"""How long the float32 phases of a `groups.GroupConstruction` stay exact, measured.

Layer l's state is a product of rounded rotations, h_t[j] = prod_s fl(e^{2 pi i v_s / n_j}),
and phi reads the right coordinate while the phase error |arg h_t[j] - 2 pi c_t[j] / n_j|
stays below pi / n_j. Rounding e^{2 pi i v / n} to complex64 moves its phase by up to about
2.3e-8 rad and its modulus by up to about 2.6e-8 (quarter turns are exact), and those errors
are systematic: a word repeating one letter multiplies the same rounded gate T times, so the
error grows about linearly in T, while on uniform random words it mostly cancels. Hence the
adversarial words here are the powers g^T of every element g (on layer 1 they repeat one
letter; every layer's letters are periodic in t with period ord(g)). Some factors never
drift at all: Z2 and Z4 gates are exact, and Z3's rounded gates 1, w, fl(w^2) are closed under
float32 multiplication (w w = fl(w^2), w fl(w^2) = 1), so its state never leaves them.

The states are recomputed with `scan.linear_recurrence` from the exact cascade letters (the
group's multiplication table), with exactly the gate values and h_0 the model uses: the
model's own states are bit-identical to these (tested), so these lengths are the model's.
Two readouts are judged: phi's, on the unit phase u = h/|h| (right iff the phase error is
< pi/n), and the plain one on Re h, Im h (right iff |h| cos(err) > cos(pi/n) and the
neighbouring value's unit stays off), which also fails once the modulus has drifted by about
1 - cos(pi/n): normalizing in phi is the cheap fix for that.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ssm_expressivity.constructions import groups
from ssm_expressivity.models import scan as scan_lib


@dataclasses.dataclass(frozen=True)
class Exactness:
  """Where the readouts first go wrong on the measured words.

  Attributes:
    searched: the longest length examined.
    unit_phase: first length at which a phase error reaches its margin pi/n, where phi's
      readout (on h/|h|) goes wrong (to within phi's own float32 rounding, about 1e-6 rad:
      some tens of positions at 2e-8 rad per step), or None.
    raw: first length at which a readout of Re h, Im h without normalization would be wrong
      (searched up to `unit_phase` when that is found).
    worst: (layer, cell, element name or word) of the unit_phase failure, or of the largest
      error relative to its margin if there is none.
    worst_error_ratio: the largest phase error / margin seen (< 1 while exact).
    half_ratio: the same over the first half of the search: worst_error_ratio about twice
      half_ratio means linear growth, about equal means bounded errors (the states cycle
      through exactly representable values, as for Z2, Z3 and Z4 factors).
  """

  searched: int
  unit_phase: int | None
  raw: int | None
  worst: tuple[int, int, str]
  worst_error_ratio: float
  half_ratio: float


def element_coordinates(construction: groups.GroupConstruction) -> list[np.ndarray]:
  """Per layer, [order, rank] int arrays: the coordinates c^l of each element P.

  P = Q^(1) r_1(c^1), Q^(1) = Q^(2) r_2(c^2), ...: c^l is the coset coordinate of Q^(l-1).
  """
  g = construction.group
  out = [np.zeros((g.order, f.rank), np.int64) for f in construction.factors]
  for element in range(g.order):
    x = element
    for l, factor in enumerate(construction.factors):
      c = factor.coordinates[x]
      out[l][element] = c
      x = int(g.table[x, g.inverse[factor.representatives[c]]])
    if x != 0:
      raise AssertionError("the cascade decomposition does not reach the identity")
  return out


def layer_gates(construction: groups.GroupConstruction, products: np.ndarray):
  """For prefix products [batch, T] (element indices), per layer: (gates [batch, T, rank]
  complex64, exact coordinates [batch, T, rank]) of the cascade."""
  out = []
  for factor, coords in zip(construction.factors, element_coordinates(construction)):
    c = coords[products]  # [batch, T, rank]
    before = np.concatenate([np.zeros_like(c[:, :1]), c[:, :-1]], axis=1)
    tables = groups.gate_table(factor.orders)
    steps = [(c[..., j] - before[..., j]) % n for j, n in enumerate(factor.orders)]
    gates = np.stack([tables[j][s] for j, s in enumerate(steps)], axis=-1)
    out.append((gates, c))
  return out


def _readout_errors(h, coords, orders):
  """Per position [batch, T, rank]: (phase error / margin, raw readout wrong)."""
  n = np.asarray(orders, np.float64)
  quarters, rest = np.divmod(4 * coords, np.asarray(orders))
  exact = np.where(rest == 0, np.array([1, 1j, -1, -1j])[quarters % 4],
                   np.exp(2j * np.pi * coords / n))  # exact at quarter turns
  ratio = h.astype(np.complex128) / exact
  err = np.abs(np.angle(ratio))
  r = np.abs(ratio)
  threshold = np.cos(np.pi / n)
  raw_wrong = (r * np.cos(err) <= threshold) | (r * np.cos(2 * np.pi / n - err) > threshold)
  return err / (np.pi / n), raw_wrong


def _first(mask: np.ndarray) -> int | None:
  """1-based position of the first True along the last flattened axis order, else None."""
  return int(np.argmax(mask)) + 1 if mask.any() else None


def _search_layer(gates, coords, orders, stop, method, chunk):
  """Runs one layer's periodic gate sequences [seq, period, rank] from h_0 = 1 up to `stop`
  positions, stopping at the first unit-phase failure; returns (first unit-phase failure,
  first raw failure, largest error ratio, that over the first half, (sequence, cell) of the
  largest)."""
  period = gates.shape[1]
  run = jax.jit(lambda a, h0: scan_lib.linear_recurrence(a, jnp.zeros_like(a), h0,
                                                         method=method))
  h0 = jnp.ones((gates.shape[0], gates.shape[-1]), jnp.complex64)
  first_phase = first_raw = None
  worst, half, worst_at = 0.0, 0.0, (0, 0)
  for start in range(0, stop, chunk):
    t = np.arange(start, min(start + chunk, stop)) % period
    h = run(jnp.asarray(gates[:, t]), h0)
    h0 = h[:, -1]
    ratio, raw_wrong = _readout_errors(np.asarray(h), coords[:, t], orders)
    if start < stop // 2:
      half = max(half, float(ratio[:, :stop // 2 - start].max()))
    if ratio.max() > worst:
      worst = float(ratio.max())
      row, _, cell = np.unravel_index(np.argmax(ratio), ratio.shape)
      worst_at = (int(row), int(cell))
    if first_raw is None and raw_wrong.any():
      first_raw = start + _first(raw_wrong.any(axis=(0, 2)))
    if (ratio >= 1).any():
      first_phase = start + _first((ratio >= 1).any(axis=(0, 2)))
      row, cell = np.argwhere((ratio >= 1)[:, first_phase - start - 1])[0]
      return first_phase, first_raw, worst, half, (int(row), int(cell))
  return first_phase, first_raw, worst, half, worst_at


def measure_powers(construction: groups.GroupConstruction, max_length: int = 1 << 22,
                   method: str = "sequential", chunk: int = 1 << 16) -> Exactness:
  """Exactness on g^T for every element g, T up to max_length (states carried over chunks).

  Elements whose layer-l gate sequences coincide (on layer 1: those with the same coset
  coordinates) are run once.
  """
  g = construction.group
  period = int(np.lcm.reduce(element_orders(g)))  # the group's exponent: at most its order
  # One period of prefix products g^1 .. g^p per element (periodic in t).
  powers = np.zeros((g.order, period), np.int64)
  current = np.zeros(g.order, np.int64)
  for t in range(period):
    current = g.table[current, np.arange(g.order)]
    powers[:, t] = current
  unit_phase = raw = None
  worst, worst_ratio, half_ratio = (0, 0, construction.alphabet[0]), 0.0, 0.0
  for l, (gates, coords) in enumerate(layer_gates(construction, powers)):
    _, rows = np.unique(gates.reshape(g.order, -1), axis=0, return_index=True)
    rows = np.sort(rows)
    # A later layer only needs searching up to the failure found so far.
    phase, layer_raw, ratio, half, (row, cell) = _search_layer(
        gates[rows], coords[rows], construction.factors[l].orders, unit_phase or max_length,
        method, chunk)
    where = (l, cell, construction.alphabet[rows[row]])
    raw = _min(raw, layer_raw)
    half_ratio = max(half_ratio, half)
    if phase is not None:  # no later than any failure found before
      unit_phase, worst, worst_ratio = phase, where, max(worst_ratio, ratio)
    elif unit_phase is None and ratio > worst_ratio:
      worst, worst_ratio = where, ratio
  return Exactness(max_length, unit_phase, raw, worst, worst_ratio, half_ratio)


def measure_words(construction: groups.GroupConstruction, words: np.ndarray,
                  method: str = "sequential") -> Exactness:
  """Exactness on given element-index words [batch, T] (e.g. uniform random ones)."""
  products = construction.group.prefix_products(np.asarray(words))
  first_phase = first_raw = None
  worst_ratio, half_ratio, worst_at = 0.0, 0.0, None
  for l, (gates, coords) in enumerate(layer_gates(construction, products)):
    h0 = jnp.ones((words.shape[0], gates.shape[-1]), jnp.complex64)
    h = scan_lib.linear_recurrence(gates, np.zeros_like(gates), h0, method=method)
    ratio, raw_wrong = _readout_errors(np.asarray(h), coords, construction.factors[l].orders)
    half_ratio = max(half_ratio, float(ratio[:, :words.shape[1] // 2].max(initial=0.0)))
    if ratio.max() > worst_ratio:
      worst_ratio = float(ratio.max())
      element_row, _, cell = np.unravel_index(np.argmax(ratio), ratio.shape)
      worst_at = (l, int(cell), f"word {element_row}")
    phase_t = _first((ratio >= 1).any(axis=(0, 2)))
    raw_t = _first(raw_wrong.any(axis=(0, 2)))
    first_phase = _min(first_phase, phase_t)
    first_raw = _min(first_raw, raw_t)
  return Exactness(words.shape[1], first_phase, first_raw, worst_at, worst_ratio, half_ratio)


def _min(a, b):
  return b if a is None else a if b is None else min(a, b)


def element_orders(g) -> np.ndarray:
  """The order of every element of the group `g`."""
  orders = np.zeros(g.order, np.int64)
  power, k = np.arange(g.order), 1
  while not orders.all():
    orders[(power == 0) & (orders == 0)] = k
    power, k = g.table[power, np.arange(g.order)], k + 1
  return orders

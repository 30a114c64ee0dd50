"""Shared machinery of the hand-set constructions: cells, threshold circuits, `Construction`.

A construction is a parameter pytree for `models.diagonal_ssm.DiagonalSSM`, built here from
named pieces instead of raw matrices:

  cells (one state dimension each; gate A and drive B affine in the layer's binary inputs):
    reset cell   A = 1 - sum(events), B = sum(value * event)   (hold, or jump to a value)
    set cell     a reset cell whose only value is 1
    counter      A = 1, B = sum(increment * symbol)
    delay cell   A = 1/4, B = v: since h_t - v_t = v_{t-1}/4 + (at most 1/12), phi reads the
                 previous value v_{t-1} of a binary feature with margin 1/12 (the one-step delay
                 gadget a cascade needs: a layer sees the lower layer's state *after* the update);
                 with an event feature e: A = 1 - 3/4 e, so it shifts only on events and phi
                 reads the value at the latest event and at the one before
  circuits (phi): threshold units step(sum(w * signal) + bias) over named signals (the layer's
    states and inputs), compiled into phi's Dense layers; signals needed later are copied
    through with step(s - 1/2) (binary signals only).

All cells but signed ones have gates in {0, 1/4, 1}: NONNEGATIVE. Reset and delay values are
exact in float32 (dyadic, bounded); counters are exact integers below 2^24.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ssm_expressivity.languages.base import Language
from ssm_expressivity.models import diagonal_ssm

PAD = "<pad>"
# Gate of a delay cell and the threshold that reads the previous bit (see module docstring).
DELAY_GATE = 0.25
DELAY_THRESHOLD = 0.125


def sym(symbol: str) -> str:
  """The name of the one-hot input feature of `symbol`."""
  return f"x={symbol}"


# ---- threshold circuits (phi) ---------------------------------------------------------------


class Circuit:
  """A feed-forward threshold circuit over named signals, compiled into phi's Dense layers."""

  def __init__(self, inputs: Sequence[str], binary: Iterable[str]):
    if len(set(inputs)) != len(inputs):
      raise ValueError("circuit input names must be unique")
    self.inputs = tuple(inputs)
    self._binary = set(binary)
    self._level = {name: 0 for name in inputs}
    self._units: dict[str, tuple[dict[str, float], float]] = {}

  def threshold(self, name: str, weights: dict[str, float], bias: float) -> str:
    """Adds the unit `name` = step(sum(w * signal) + bias); returns its name."""
    if name in self._level:
      raise ValueError(f"signal {name!r} is defined twice")
    unknown = [s for s in weights if s not in self._level]
    if unknown:
      raise ValueError(f"unit {name!r} reads unknown signals {unknown}")
    self._level[name] = 1 + max((self._level[s] for s in weights), default=0)
    self._units[name] = (dict(weights), float(bias))
    self._binary.add(name)
    return name

  # Boolean helpers over binary signals (integers for at_least).
  def all_of(self, name: str, pos: Sequence[str] = (), neg: Sequence[str] = ()) -> str:
    weights = {s: 1.0 for s in pos}
    weights.update({s: -1.0 for s in neg})
    return self.threshold(name, weights, 0.5 - len(pos))

  def any_of(self, name: str, signals: Sequence[str]) -> str:
    return self.threshold(name, {s: 1.0 for s in signals}, -0.5)

  def at_least(self, name: str, signal: str, value: float) -> str:
    """step(signal >= value) for an integer-valued signal."""
    return self.threshold(name, {signal: 1.0}, 0.5 - value)

  def constant(self, name: str, value: bool) -> str:
    return self.threshold(name, {}, 0.5 if value else -0.5)

  def compile(self, outputs: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(kernel, bias)] of phi's Dense layers; the last layer's units are `outputs`, in order."""
    if len(set(outputs)) != len(outputs) or not outputs:
      raise ValueError("circuit outputs must be a non-empty list of distinct signals")
    missing = [s for s in outputs if s not in self._level]
    if missing:
      raise ValueError(f"unknown output signals {missing}")
    depth = max(1, max(self._level[s] for s in outputs))
    # The last level at which each signal must exist (0 = not needed).
    needed = dict.fromkeys(self._level, 0)
    for s in outputs:
      needed[s] = depth
    for name in reversed(list(self._units)):  # consumers come after what they read
      if needed[name]:
        for s in self._units[name][0]:
          needed[s] = max(needed[s], self._level[name] - 1)
    for s, last in needed.items():
      if last > self._level[s] and s not in self._binary:
        raise ValueError(f"signal {s!r} is not binary and cannot be copied to a later level")
    previous = {s: i for i, s in enumerate(self.inputs)}
    layers = []
    for level in range(1, depth + 1):
      if level == depth:
        units = list(outputs)
      else:  # made at this level, or made earlier and copied on
        units = [s for s in self._level if self._level[s] <= level <= needed[s]]
      kernel = np.zeros((len(previous), len(units)), np.float32)
      bias = np.zeros(len(units), np.float32)
      for j, s in enumerate(units):
        if self._level[s] == level:
          weights, bias[j] = self._units[s]
          for src, w in weights.items():
            kernel[previous[src], j] = w
        else:  # copy a binary signal made at an earlier level
          kernel[previous[s], j], bias[j] = 1.0, -0.5
      layers.append((kernel, bias))
      previous = {s: i for i, s in enumerate(units)}
    return layers


# ---- layers and stacks ----------------------------------------------------------------------


@dataclasses.dataclass
class _Cell:
  name: str
  gate: dict[str, float]
  gate_bias: float
  drive: dict[str, float]
  drive_bias: float
  h0: float
  binary: bool


class LayerBuilder:
  """One layer: its cells (state dimensions) and its phi circuit over [cells, inputs]."""

  def __init__(self, inputs: Sequence[str]):
    self.inputs = tuple(inputs)
    self.cells: list[_Cell] = []
    self._circuit: Circuit | None = None

  def _check(self, name: str, features: Iterable[str]) -> None:
    if self._circuit is not None:
      raise ValueError("add every cell before using the layer's circuit")
    if name in self.inputs or any(c.name == name for c in self.cells):
      raise ValueError(f"name {name!r} is used twice")
    unknown = [f for f in features if f not in self.inputs]
    if unknown:
      raise ValueError(f"cell {name!r} reads features {unknown} that are not layer inputs")

  def cell(self, name: str, gate: dict[str, float], gate_bias: float,
           drive: dict[str, float] | None = None, drive_bias: float = 0.0, h0: float = 0.0,
           binary: bool = False) -> str:
    """A state dimension with A(x) = gate . x + gate_bias, B(x) = drive . x + drive_bias."""
    drive = drive or {}
    self._check(name, list(gate) + list(drive))
    self.cells.append(_Cell(name, dict(gate), gate_bias, dict(drive), drive_bias, h0, binary))
    return name

  def reset_cell(self, name: str, events: dict[str, float], h0: float = 0.0,
                 reset: str | None = None) -> str:
    """Holds its value, except on an (exclusive) event feature f, where it becomes events[f].

    Gate 1 - sum(events), or 1 - reset when `reset` (a feature that is on exactly when one of
    the events is) is given: events read from the previous layer's z should use one `reset`
    feature, so that the gate is >= 0 on every binary z, not only on the reachable ones.
    """
    binary = all(v in (0.0, 1.0) for v in events.values()) and h0 in (0.0, 1.0)
    gate = {f: -1.0 for f in events} if reset is None else {reset: -1.0}
    return self.cell(name, gate, 1.0, {f: v for f, v in events.items() if v}, 0.0, h0, binary)

  def set_cell(self, name: str, events: Sequence[str]) -> str:
    """0 until one of `events` happens, 1 from then on (several events: symbols only)."""
    return self.reset_cell(name, {f: 1.0 for f in events})

  def counter(self, name: str, increments: dict[str, float], h0: float = 0.0) -> str:
    """Gate exactly 1; adds increments[f] on feature f."""
    return self.cell(name, {}, 1.0, increments, 0.0, h0)

  def delay(self, name: str, feature: str, event: str | None = None) -> str:
    """A shift register of a binary feature: h_t = h_{t-1} / 4 + feature_t at every position,
    or, with `event`, only where the event feature is on (elsewhere it holds; the feature must
    be off there). Read it with `read_delay` / `read_latest`."""
    if event is None:
      return self.cell(name, {}, DELAY_GATE, {feature: 1.0}, 0.0)
    return self.cell(name, {event: DELAY_GATE - 1.0}, 1.0, {feature: 1.0}, 0.0)

  @property
  def circuit(self) -> Circuit:
    if self._circuit is None:
      names = [c.name for c in self.cells] + list(self.inputs)
      binary = [c.name for c in self.cells if c.binary] + list(self.inputs)
      self._circuit = Circuit(names, binary)
    return self._circuit

  def read_delay(self, name: str, cell: str, feature: str) -> str:
    """Unit `name` = the value of `feature` at the shift before the current one (0 if none).

    Valid where the register shifts now: h_t - v_t = h_{t-1} / 4, in [v/4, v/4 + 1/12].
    """
    return self.circuit.threshold(name, {cell: 1.0, feature: -1.0}, -DELAY_THRESHOLD)

  def read_latest(self, name: str, cell: str) -> str:
    """Unit `name` = the value of the latest shift (0 before any): h >= 1 if 1, <= 1/3 if 0."""
    return self.circuit.threshold(name, {cell: 1.0}, -0.5)

  def params(self, outputs: Sequence[str]) -> tuple[dict, tuple[int, ...]]:
    """The layer's parameter dict and its phi_features."""
    index = {f: i for i, f in enumerate(self.inputs)}
    n, f = len(self.cells), len(self.inputs)
    gate_k, drive_k = np.zeros((f, n), np.float32), np.zeros((f, n), np.float32)
    for j, c in enumerate(self.cells):
      for feature, w in c.gate.items():
        gate_k[index[feature], j] = w
      for feature, w in c.drive.items():
        drive_k[index[feature], j] = w
    layer = {
        "gate": {"kernel": gate_k,
                 "bias": np.array([c.gate_bias for c in self.cells], np.float32)},
        "drive": {"kernel": drive_k,
                  "bias": np.array([c.drive_bias for c in self.cells], np.float32)},
        "h0": np.array([c.h0 for c in self.cells], np.float32),
    }
    phi = self.circuit.compile(outputs)
    for i, (kernel, bias) in enumerate(phi):
      layer[f"phi_{i}"] = {"kernel": kernel, "bias": bias}
    return layer, tuple(k.shape[1] for k, _ in phi)


class StackBuilder:
  """Builds a DiagonalSSM layer by layer; layer l >= 2 reads [symbols, outputs of layer l-1]."""

  def __init__(self, symbols: Sequence[str]):
    self.symbols = tuple(symbols)
    self.symbol_features = (PAD,) + tuple(sym(s) for s in self.symbols)
    self._layers: list[tuple[dict, tuple[int, ...]]] = []
    self._state_dims: list[int] = []
    self._outputs: tuple[str, ...] = ()
    self._open: LayerBuilder | None = None

  def layer(self) -> LayerBuilder:
    if self._open is not None:
      raise ValueError("end the previous layer first")
    self._open = LayerBuilder(self.symbol_features + self._outputs)
    return self._open

  def end_layer(self, outputs: Sequence[str]) -> None:
    layer, features = self._open.params(outputs)
    self._layers.append((layer, features))
    self._state_dims.append(len(self._open.cells))
    self._outputs = tuple(outputs)
    self._open = None

  def build_allowed(self, language: Language, allowed: dict[str, str | None],
                    scan: str = "sequential"):
    """Ends the open (last) layer with outputs = the signals of `allowed` (one per symbol of
    alphabet + EOS; None: never allowed) and builds (model, params)."""
    if tuple(language.alphabet) != self.symbols:
      raise ValueError(f"the builder's symbols {self.symbols} are not {language.name}'s "
                       f"alphabet {tuple(language.alphabet)} (token ids would not match)")
    symbols = language.output_symbols
    if set(allowed) != set(symbols):
      raise ValueError(f"allowed needs exactly the keys {list(symbols)}")
    signals = list(dict.fromkeys(s for s in allowed.values() if s is not None))
    if not signals:  # a head needs at least one feature
      signals = [self._open.circuit.constant("never", False)]
    self.end_layer(signals)
    return self.build([allowed[s] for s in symbols], scan)

  def build(self, readout: Sequence[str | None], scan: str = "sequential"):
    """(model, params): head score k = signal readout[k] - 1/2 (None: never allowed)."""
    if self._open is not None or not self._layers:
      raise ValueError("end every layer (at least one) before build")
    index = {s: i for i, s in enumerate(self._outputs)}
    head_k = np.zeros((len(self._outputs), len(readout)), np.float32)
    head_b = np.full(len(readout), -0.5, np.float32)
    for k, signal in enumerate(readout):
      if signal is not None:
        head_k[index[signal], k] = 1.0
    params = {f"layer_{l}": layer for l, (layer, _) in enumerate(self._layers)}
    params["head"] = {"kernel": head_k, "bias": head_b}
    model = diagonal_ssm.DiagonalSSM(
        vocab_size=len(self.symbol_features),
        state_dims=tuple(self._state_dims),
        phi_features=tuple(f for _, f in self._layers),
        num_outputs=len(readout),
        scan=scan)
    return model, {"params": params}


# ---- constructions --------------------------------------------------------------------------


def _bucket(length: int) -> int:
  """Padded length: the next power of two >= 64 (bounds the number of jit compilations)."""
  return max(64, 1 << max(0, int(length - 1).bit_length()))


# Floats per [batch, length, width] activation of one batched call (2^26: 256 MiB in float32).
_BATCH_FLOATS = 1 << 26


@functools.partial(jax.jit, static_argnums=0)
def _apply_model(model: diagonal_ssm.DiagonalSSM, params, tokens):
  """model.apply, compiled once per model *shape* (flax modules hash by their fields), not once
  per construction: many compiled languages share layer counts and widths."""
  return model.apply(params, tokens)


class LayerSizes:
  """num_layers, state_dims and total_state_dim of a construction whose `model` is a
  DiagonalSSM (state_dims: one entry per layer; complex dimensions for complex gates)."""

  @property
  def num_layers(self) -> int:
    return len(self.model.state_dims)

  @property
  def state_dims(self) -> tuple[int, ...]:
    """State dimensions per layer."""
    return tuple(int(d) for d in self.model.state_dims)

  @property
  def total_state_dim(self) -> int:
    return sum(self.state_dims)


@dataclasses.dataclass(frozen=True, eq=False)
class Construction(LayerSizes):
  """Hand-set weights of a DiagonalSSM that predictively model a language.

  `allowed_next_sets(word)` is exact (equal to `language.allowed_next_all(word)`) on every
  prefix of a word of the language, the domain of predictive modeling; on other inputs its
  output is unspecified.
  """

  name: str
  language: Language
  model: diagonal_ssm.DiagonalSSM
  params: dict
  summary: str  # the construction in one line
  # Adversarial words of about a given length (prefixes of words of the language).
  stress_words: Callable[[np.random.Generator, int], list] = dataclasses.field(repr=False)

  def with_scan(self, method: str) -> "Construction":
    """The same construction run with another `scan.linear_recurrence` method."""
    return dataclasses.replace(self, model=self.model.clone(scan=method))

  def is_nonnegative(self) -> bool:
    """NONNEGATIVE: every gate value A(x), over every possible input x, is >= 0."""
    return diagonal_ssm.nonnegative_gates(self.model, self.params)

  def is_time_invariant(self) -> bool:
    return diagonal_ssm.time_invariant_gates(self.model, self.params)

  @functools.cached_property
  def _token_ids(self) -> dict[str, int]:
    return {s: i + 1 for i, s in enumerate(self.language.alphabet)}

  def _apply(self, params, tokens):
    return _apply_model(self.model, params, tokens)  # params are an argument: edits count

  def encode(self, word: Sequence[str]) -> np.ndarray:
    """Token ids (alphabet index + 1); a str over multi-character tokens is space-separated."""
    ids = self._token_ids
    if isinstance(word, str) and any(len(s) > 1 for s in ids):
      word = word.split()
    try:
      return np.fromiter((ids[s] for s in word), np.int32, len(word))
    except KeyError as e:
      raise ValueError(f"{self.name}: symbol {e.args[0]!r} is not in the alphabet "
                       f"{list(self.language.alphabet)}") from None

  def scores(self, word: Sequence[str]) -> np.ndarray:
    """Float32 head scores [len(word), |alphabet| + 1] after each prefix."""
    tokens = self.encode(word)
    padded = np.zeros((1, _bucket(len(tokens))), np.int32)
    padded[0, :len(tokens)] = tokens
    return np.asarray(self._apply(self.params, jnp.asarray(padded)))[0, :len(tokens)]

  def scores_many(self, words: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """`scores` of each word, computed in batches of one padded shape (one compilation, one
    call per batch; the model is causal, so the padding after a word does not change it)."""
    encoded = [self.encode(word) for word in words]
    if not encoded:
      return []
    length = _bucket(max(len(t) for t in encoded))
    widest = max([self.model.vocab_size, self.model.num_outputs, *self.model.state_dims,
                  *(f for layer in self.model.phi_features for f in layer)])
    batch = 1 << max(0, min(3, (_BATCH_FLOATS // (length * widest)).bit_length() - 1))
    out = []
    for first in range(0, len(encoded), batch):
      padded = np.zeros((batch, length), np.int32)
      chunk = encoded[first:first + batch]
      for row, tokens in enumerate(chunk):
        padded[row, :len(tokens)] = tokens
      scores = np.asarray(self._apply(self.params, jnp.asarray(padded)))
      out += [scores[row, :len(tokens)] for row, tokens in enumerate(chunk)]
    return out

  def _sets_of(self, scores: np.ndarray) -> list[frozenset]:
    symbols = self.language.output_symbols
    rows = scores > 0  # the fixed threshold: score = signal - 1/2
    cache: dict[bytes, frozenset] = {}
    sets = []
    for row in rows:
      key = row.tobytes()
      if key not in cache:
        cache[key] = frozenset(s for s, on in zip(symbols, row) if on)
      sets.append(cache[key])
    return sets

  def allowed_next_sets(self, word: Sequence[str]) -> list[frozenset]:
    """For word[:1] .. word[:n]: the symbols of alphabet + EOS whose score is > 0."""
    return self._sets_of(self.scores(word))

  def allowed_next_sets_many(self, words: Sequence[Sequence[str]]) -> list[list[frozenset]]:
    """`allowed_next_sets` of each word, run in batches (`scores_many`)."""
    return [self._sets_of(scores) for scores in self.scores_many(words)]


@dataclasses.dataclass(frozen=True)
class CheckResult:
  positions: int
  errors: int
  first_error: tuple | None  # (word index, position t (prefix word[:t]), expected, got)


def check(construction: Construction, words: Iterable[Sequence[str]]) -> CheckResult:
  """Compares allowed_next_sets with language.allowed_next_all at every position of `words`."""
  positions = errors = 0
  first = None
  words = list(words)
  for w, (word, got) in enumerate(zip(words, construction.allowed_next_sets_many(words))):
    expected = construction.language.allowed_next_all(word)
    positions += len(expected)
    for t, (e, g) in enumerate(zip(expected, got)):
      if e != g:
        errors += 1
        if first is None:
          first = (w, t + 1, set(e), set(g))
  return CheckResult(positions, errors, first)


# ---- word generators for the checks --------------------------------------------------------


def random_live_word(language: Language, rng: np.random.Generator, length: int,
                     weights: dict[str, float] | None = None) -> str:
  """A uniform-ish random walk through the live states of `language.dfa`: a prefix of L.

  `weights` biases the symbol choice (e.g. to make long runs); the walk never leaves the
  live states, so every prefix of the result has a non-empty allowed-next set.
  """
  dfa = language.dfa
  live = dfa.live_states()
  alphabet = dfa.alphabet
  w = np.array([1.0 if weights is None else weights.get(s, 1.0) for s in alphabet])
  moves = []  # per state: (live symbol indices, their cumulative probabilities)
  for q in range(dfa.num_states):
    ok = [i for i in range(len(alphabet)) if int(dfa.transitions[q, i]) in live]
    p = w[ok] / w[ok].sum() if ok else np.zeros(0)
    moves.append((ok, np.cumsum(p)))
  q, out = dfa.start, []
  for u in rng.random(length).tolist():
    ok, cdf = moves[q]
    if not ok:
      raise ValueError(f"{language.name}: the walk reached a state without live moves")
    i = ok[min(int(np.searchsorted(cdf, u, side="right")), len(ok) - 1)]
    out.append(alphabet[i])
    q = int(dfa.transitions[q, i])
  return "".join(out)


def sampled_word(language: Language, rng: np.random.Generator, length: int):
  """`language.sample` at the valid length closest to `length` (at or below it if any)."""
  lengths = language.valid_lengths(max(0, length - 64), length) or \
      language.valid_lengths(length, length + 4096)
  if not lengths:
    raise ValueError(f"{language.name} has no word of length about {length}")
  below = [n for n in lengths if n <= length]
  return language.sample(rng, max(below) if below else min(lengths))

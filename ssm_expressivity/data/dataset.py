"""Encoded words as padded arrays: `Dataset`, `encode`, batches and split statistics.

Layout of a Dataset with N words padded to T positions: position t of word w holds the input
symbol w[t] (after a begin marker at position 0 where the language has one) and the targets
for the prefix read so far. Token ids are index + 1 into `input_symbols` (0 is padding).
Pure numpy; no JAX.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ssm_expressivity import languages
from ssm_expressivity.languages.base import Language

INPUT_MODES = ("paper", "exact")
ARRAY_FIELDS = ("tokens", "mask", "lengths", "next_sets", "paper_targets", "next_token")


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """Encoded words of one split, padded to the longest word (arrays are read-only)."""

  language: str
  params: dict
  split: str
  input_symbols: tuple[str, ...]
  output_symbols: tuple[str, ...]
  paper_classes: tuple[str, ...] | None
  tokens: np.ndarray         # int32 [N, T]: index + 1 into input_symbols, 0 = padding
  mask: np.ndarray           # bool [N, T]: real positions
  lengths: np.ndarray        # int32 [N]: positions per word, begin marker included
  next_sets: np.ndarray      # uint8 [N, T, K]: multi-hot allowed_next over output_symbols
  paper_targets: np.ndarray | None  # int32 [N, T]: index into paper_classes, -1 = none
  next_token: np.ndarray | None     # int32 [N, T]: index into output_symbols, -1 = padding

  def __len__(self) -> int:
    return int(self.tokens.shape[0])

  def arrays(self) -> dict[str, np.ndarray]:
    """The array fields that are set, by name."""
    return {name: getattr(self, name) for name in ARRAY_FIELDS
            if getattr(self, name) is not None}

  def decode(self, index: int) -> list[str]:
    """The input symbols of example `index` (begin marker included)."""
    row = self.tokens[index, :self.lengths[index]]
    return [self.input_symbols[i - 1] for i in row]


# ---- encoding ----------------------------------------------------------------------------


def encode(language: Language | str, words: Sequence, split: str = "custom",
           params: Mapping[str, Any] | None = None, *, input_mode: str = "paper") -> Dataset:
  """Encodes `words` (members of `language`) as a padded Dataset.

  `language` is a Language or an id (then built with `params`); `params` is recorded in the
  Dataset. `input_mode` is passed to `language.inputs` (the paper masks some inputs).
  """
  if input_mode not in INPUT_MODES:
    raise ValueError(f"unknown input_mode {input_mode!r}; valid: {', '.join(INPUT_MODES)}")
  if isinstance(language, str):
    language = languages.get(language, **dict(params or {}))
  words = list(words)
  begin = language.begin_symbol
  offset = 1 if begin is not None else 0
  word_lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
  lengths = word_lengths + offset
  num_positions = int(lengths.max()) if len(words) else 0
  mask = np.arange(num_positions)[None, :] < lengths[:, None]

  input_symbols = tuple(language.input_symbols(input_mode))
  if begin is not None and begin not in input_symbols:
    input_symbols = (begin,) + input_symbols
  if len(set(input_symbols)) != len(input_symbols):
    raise ValueError(f"{language.name}: repeated input symbols {list(input_symbols)}")
  output_symbols = tuple(language.output_symbols)

  tokens = np.zeros(mask.shape, dtype=np.int32)
  tokens[mask] = _input_ids(language, words, input_mode, input_symbols, lengths)

  next_sets = np.zeros(mask.shape + (len(output_symbols),), dtype=np.uint8)
  set_ids, table = _next_set_ids(language, words, output_symbols, word_lengths)
  next_sets[mask] = table[set_ids]

  paper_classes, paper_targets = _paper_targets(language, words, mask, word_lengths)

  next_token = None
  if begin is not None:
    next_token = np.full(mask.shape, -1, dtype=np.int32)
    index = {s: i for i, s in enumerate(output_symbols)}
    flat = itertools.chain.from_iterable(itertools.chain(w, (languages.EOS,)) for w in words)
    next_token[mask] = _lookup(index, flat, int(lengths.sum()), language.name, "output")

  return freeze(Dataset(
      language=language.name, params=dict(params or {}), split=split,
      input_symbols=input_symbols, output_symbols=output_symbols,
      paper_classes=paper_classes, tokens=tokens, mask=mask,
      lengths=lengths.astype(np.int32), next_sets=next_sets, paper_targets=paper_targets,
      next_token=next_token))


def _lookup(index: Mapping, items, count: int, name: str, what: str) -> np.ndarray:
  try:
    return np.fromiter(map(index.__getitem__, items), dtype=np.int32, count=count)
  except KeyError as err:
    raise ValueError(
        f"{name}: {what} symbol {err.args[0]!r} is not one of {list(index)}") from None


def _input_ids(language: Language, words: list, input_mode: str,
               input_symbols: tuple[str, ...], lengths: np.ndarray) -> np.ndarray:
  """Token ids (index + 1) of every position of every word, concatenated."""
  begin = language.begin_symbol
  sequences = [language.inputs(w, input_mode) for w in words]
  if begin is not None:
    # Languages may include the marker in `inputs` or leave it to the encoder.
    sequences = [s if len(s) and s[0] == begin else [begin, *s] for s in sequences]
  got = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
  bad = np.flatnonzero(got != lengths)
  if bad.size:
    i = int(bad[0])
    raise ValueError(f"{language.name}: inputs of word {i} have {got[i]} symbols, "
                     f"expected {lengths[i]}")
  total = int(lengths.sum())
  joined = None
  if all(isinstance(s, str) and len(s) == 1 for s in input_symbols):
    try:
      parts = [s if isinstance(s, str) else "".join(s) for s in sequences]
      if all(len(p) == n for p, n in zip(parts, got)):  # every element was one character
        joined = "".join(parts)
    except TypeError:  # non-string symbols: the generic path reports them
      pass
  if joined is None:
    index = {s: i + 1 for i, s in enumerate(input_symbols)}
    return _lookup(index, itertools.chain.from_iterable(sequences), total, language.name,
                   "input")
  # Single-character symbols: map code points through a lookup table in one pass.
  codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
  symbol_codes = np.array([ord(s) for s in input_symbols], dtype=np.int64)
  table = np.zeros(max(int(symbol_codes.max(initial=0)), int(codes.max(initial=0))) + 1,
                   dtype=np.int32)
  table[symbol_codes] = np.arange(1, len(input_symbols) + 1, dtype=np.int32)
  ids = table[codes]
  if ids.size and ids.min() == 0:
    unknown = sorted({chr(c) for c in codes[ids == 0]})
    raise ValueError(f"{language.name}: input symbols {unknown} are not in "
                     f"{list(input_symbols)}")
  return ids


def _next_set_ids(language: Language, words: list, output_symbols: tuple[str, ...],
                  word_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Per position, an id into a table of distinct multi-hot allowed-next vectors."""
  begin = language.begin_symbol
  flat: list = []
  for i, word in enumerate(words):
    sets = language.allowed_next_all(word)
    if len(sets) != word_lengths[i]:
      raise ValueError(f"{language.name}: allowed_next_all gave {len(sets)} sets for a word "
                       f"of length {word_lengths[i]}")
    if begin is not None:
      flat.append(language.allowed_next(word[:0]))
    flat.extend(sets)
  # The languages return few distinct sets: encode each distinct set once.
  distinct = {s: i for i, s in enumerate(dict.fromkeys(flat))}
  table = np.zeros((max(len(distinct), 1), len(output_symbols)), dtype=np.uint8)
  position = {s: k for k, s in enumerate(output_symbols)}
  for allowed, row in distinct.items():
    unknown = sorted(set(allowed) - set(position), key=str)
    if unknown:
      raise ValueError(f"{language.name}: allowed_next symbols {unknown} are not in "
                       f"{list(output_symbols)}")
    table[row, [position[s] for s in allowed]] = 1
  ids = np.fromiter(map(distinct.__getitem__, flat), dtype=np.int32, count=len(flat))
  return ids, table


def _paper_targets(language: Language, words: list, mask: np.ndarray,
                   word_lengths: np.ndarray) -> tuple[tuple[str, ...] | None, np.ndarray | None]:
  try:
    classes = tuple(language.paper_label_classes())
  except NotImplementedError:
    return None, None
  index = {c: i for i, c in enumerate(classes)}
  labels = [language.labels(w, "paper") for w in words]
  positions = mask.sum(axis=1)
  got = np.fromiter((len(x) for x in labels), dtype=np.int64, count=len(labels))
  # With a begin marker, n labels (one per symbol) leave position 0 without a paper target.
  shifted = (language.begin_symbol is not None) & (got == word_lengths) & (got != positions)
  bad = np.flatnonzero((got != positions) & ~shifted)
  if bad.size:
    i = int(bad[0])
    raise ValueError(f"{language.name}: paper labels of word {i} have {got[i]} entries, "
                     f"expected {positions[i]}")
  targets = np.full(mask.shape, -1, dtype=np.int32)
  label_mask = mask.copy()
  if shifted.any():  # (an empty split has no column 0)
    label_mask[shifted, 0] = False
  targets[label_mask] = _lookup(index, itertools.chain.from_iterable(labels), int(got.sum()),
                                language.name, "paper label")
  return classes, targets


def freeze(dataset: Dataset) -> Dataset:
  for array in dataset.arrays().values():
    array.setflags(write=False)
  return dataset



# ---- batches and statistics ----------------------------------------------------------------


def batches(dataset: Dataset, batch_size: int, seed: int, shuffle: bool = True,
            drop_remainder: bool = True, num_epochs: int | None = 1
            ) -> Iterator[dict[str, np.ndarray]]:
  """Batches of the array fields, reshuffled every epoch by one `default_rng(seed)`.

  Each epoch visits every example once (the last partial batch is dropped when
  `drop_remainder`); `num_epochs=None` repeats forever.
  """
  if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
      or batch_size < 1:
    raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
  if num_epochs is not None and num_epochs < 0:
    raise ValueError(f"num_epochs must be >= 0 or None, got {num_epochs}")
  seed = check_seed(seed)
  n = len(dataset)
  if n == 0 or (drop_remainder and n < batch_size):
    raise ValueError(f"split {dataset.split!r} has {n} examples: no batch of {batch_size} "
                     f"(use a smaller batch_size or drop_remainder=False)")
  arrays = dataset.arrays()
  rng = np.random.default_rng(seed)
  epochs = itertools.count() if num_epochs is None else range(num_epochs)
  for _ in epochs:
    order = rng.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_remainder else n
    for start in range(0, stop, batch_size):
      rows = order[start:start + batch_size]
      yield {name: array[rows] for name, array in arrays.items()}


def split_stats(dataset: Dataset) -> dict[str, Any]:
  """Counts and length range of a split (lengths in symbols, begin marker excluded)."""
  offset = 0 if dataset.next_token is None else 1
  word_lengths = dataset.lengths.astype(np.int64) - offset
  n = len(dataset)
  distinct = len(np.unique(dataset.tokens, axis=0)) if n else 0
  return {
      "split": dataset.split,
      "num_words": n,
      "num_distinct": int(distinct),
      "num_positions": int(dataset.lengths.sum()),
      "padded_length": int(dataset.tokens.shape[1]),
      "min_length": int(word_lengths.min()) if n else None,
      "max_length": int(word_lengths.max()) if n else None,
      "mean_length": float(word_lengths.mean()) if n else None,
  }




def check_seed(seed) -> int:
  if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
    raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
  return int(seed)

"""The data of a run: its language, eval sets and train batches as a pure function of the step.

    task = pipeline.load_task(config, fields=("paper_targets",))
    batch = task.train_batch(step, seed=config.seed)   # tokens, mask, extent, targets
    task.eval_sets["bin1"]                             # data.Dataset

Seeds: `config.data.seed` draws the words (the paper's splits, sampled train and eval sets);
a run's `seed` draws its order over the train set (or, for online training words, the words
themselves). So runs of a sweep that differ only in `seed` see the same data in other orders.
Batches depend on nothing but (seed, step), which makes a resumed run bit-identical to an
uninterrupted one. Pure numpy; no JAX.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import ml_collections
import numpy as np

from ssm_expressivity import languages
from ssm_expressivity.data.dataset import Dataset
from ssm_expressivity.data.splits import build_splits, sample_dataset

ORDERS = ("shuffle", "sequential")
# Train batches are padded to their own longest word rounded up to a multiple of this, so at
# most train_length / 64 shapes compile: most paper train sets are far shorter than their
# longest word.
LENGTH_BUCKET = 64
# Class fields are padded with -1 (no target); every other field with 0.
_NO_TARGET = -1
_CLASS_FIELDS = ("paper_targets", "next_token", "top_close")
TARGET_FIELDS = ("next_sets", "paper_targets", "next_token")


@dataclasses.dataclass
class Task:
  """What a model is trained and evaluated on.

  Attributes:
    config: the run's config (its data, batch_size and seed fields are read).
    language: the run's Language.
    fields: the Dataset fields a train batch carries besides tokens and mask (targets).
    input_symbols / output_symbols / paper_classes: the symbol tables of the encoding.
    eval_sets: split name -> Dataset.
    train_set: the train Dataset, or None for fresh words every step.
    train_length: the longest padded length of a train batch.
  """

  config: ml_collections.ConfigDict
  language: languages.Language
  fields: tuple[str, ...]
  input_symbols: tuple[str, ...]
  output_symbols: tuple[str, ...]
  paper_classes: tuple[str, ...] | None
  eval_sets: dict[str, Dataset]
  train_set: Dataset | None
  train_length: int

  @property
  def vocab_size(self) -> int:
    return len(self.input_symbols) + 1  # 0 is padding

  @property
  def vocab(self) -> dict[str, Any]:
    """The symbol tables a checkpoint's embedding and head are indexed by."""
    return {"input_symbols": list(self.input_symbols),
            "output_symbols": list(self.output_symbols),
            "paper_classes": None if self.paper_classes is None else list(self.paper_classes)}

  @property
  def steps_per_epoch(self) -> int:
    """Optimizer steps per pass over the train set (1 for fresh words every step)."""
    if self.train_set is None:
      return 1
    n, size = len(self.train_set), self.config.batch_size
    if n < size:
      return 1
    return n // size if self.config.data.drop_remainder else -(-n // size)

  def num_steps(self) -> int:
    """config.num_epochs epochs of the train set when set, else config.num_steps; at most
    config.max_steps when that is set."""
    if self.config.num_epochs > 0:
      steps = self.config.num_epochs * self.steps_per_epoch
    else:
      steps = self.config.num_steps
    cap = self.config.get("max_steps", 0)
    return min(steps, cap) if cap > 0 else steps

  def train_source(self, step: int, seed: int) -> tuple[Dataset, np.ndarray]:
    """(dataset, rows) of the batch of optimizer step `step` (0-based) of a run seeded `seed`.

    Rows of -1 are empty padding rows (the short last batch of an epoch, kept at the batch's
    shape so no new program compiles).
    """
    size = self.config.batch_size
    if self.train_set is None:
      window = self.config.data.train
      dataset = sample_dataset(
          self.config.data.language, language_params(self.config, window),
          _stream_seed(seed, 23, step), size, window.min_length, window.max_length,
          split="train", input_mode=self.config.data.label_mode)
      return dataset, np.arange(size)
    n = len(self.train_set)
    if n < size:  # a train set smaller than a batch: draw with replacement
      return self.train_set, np.random.default_rng([seed, 19, step]).integers(0, n, size)
    epoch, index = divmod(step, self.steps_per_epoch)
    if self.config.data.order == "shuffle":
      order = np.random.default_rng([seed, 17, epoch]).permutation(n)
    else:  # the split's own order, every epoch (the official code's unshuffled loader)
      order = np.arange(n)
    rows = order[index * size:(index + 1) * size]
    if rows.size < size:
      rows = np.concatenate([rows, np.full(size - rows.size, -1, rows.dtype)])
    return self.train_set, rows

  def bucket_length(self, dataset: Dataset, rows: np.ndarray) -> int:
    """The padded length of a batch of `rows`: its longest word, rounded up to the bucket."""
    real = rows[rows >= 0]
    longest = int(dataset.lengths[real].max()) if real.size else 1
    return min(self.train_length, -(-longest // LENGTH_BUCKET) * LENGTH_BUCKET)

  def train_batch(self, step: int, seed: int) -> dict[str, np.ndarray]:
    """The batch of step `step` of a run seeded `seed`, padded to its own bucket."""
    dataset, rows = self.train_source(step, seed)
    return select(dataset, rows, self.fields, self.bucket_length(dataset, rows))


def select(dataset: Dataset, rows: np.ndarray, fields: tuple[str, ...],
           length: int) -> dict[str, np.ndarray]:
  """Rows of `dataset` (-1 = an empty row) as a batch padded (or cut) to `length` positions.

  Fields: tokens, mask (real positions), real (real rows), extent (every position of a real
  row before the batch's longest word ends: the positions a loader that pads to the batch's
  longest word would hand to the loss) and the Dataset `fields` (targets).
  """
  arrays = {"tokens": dataset.tokens, "mask": dataset.mask}
  arrays.update({f: getattr(dataset, f) for f in fields})
  return select_arrays(arrays, dataset.lengths, rows, length)


def select_arrays(arrays: Mapping[str, np.ndarray], lengths: np.ndarray, rows: np.ndarray,
                  length: int) -> dict[str, np.ndarray]:
  """`select` over any [N, T, ...] arrays (tokens and mask among them) of words of `lengths`."""
  rows = np.asarray(rows)
  real = rows >= 0
  safe = np.where(real, rows, 0)
  batch = {k: _pad_to(v[safe], length, k) for k, v in arrays.items()}
  for name, array in batch.items():
    array[~real] = _NO_TARGET if name in _CLASS_FIELDS else 0
  longest = int(lengths[rows[real]].max()) if real.any() else 0
  batch["extent"] = (np.arange(length)[None, :] < longest) & real[:, None]
  batch["real"] = real
  return batch


def _pad_to(array: np.ndarray, length: int, field: str) -> np.ndarray:
  current = array.shape[1]
  if current >= length:
    return np.array(array[:, :length])
  pad = [(0, 0), (0, length - current)] + [(0, 0)] * (array.ndim - 2)
  fill = _NO_TARGET if field in _CLASS_FIELDS else 0
  return np.pad(array, pad, constant_values=fill)


def stack_batches(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
  """Per-run batches on a leading runs axis, padded to the longest of them."""
  length = max(b["tokens"].shape[1] for b in batches)
  padded = [{k: (v if v.ndim == 1 else _pad_to(v, length, k)) for k, v in b.items()}
            for b in batches]
  return {k: np.stack([b[k] for b in padded]) for k in padded[0]}


def language_params(config: ml_collections.ConfigDict,
                    split: ml_collections.ConfigDict | None = None) -> dict:
  """The run's language parameters, updated by a sampled split's own `params`."""
  params = as_dict(config.data.params)
  if split is not None and split.get("params"):
    params.update(as_dict(split.params))
  return params


def as_dict(value) -> dict:
  """A plain dict from a ConfigDict field (or a mapping)."""
  return value.to_dict() if hasattr(value, "to_dict") else dict(value)


def _stream_seed(seed: int, stream: int, index: int) -> int:
  """One 32-bit seed per (seed, named stream, index): streams never share draws."""
  return int(np.random.SeedSequence([seed, stream, index]).generate_state(1)[0])


def load_task(config: ml_collections.ConfigDict, fields: tuple[str, ...],
              include_train: bool = True) -> Task:
  """Builds every dataset of `config` (cached under config.data.cache_dir when set).

  fields: the target fields train batches carry (the objective's). include_train=False skips
  a sampled train set (evaluation needs only the eval splits).
  """
  unknown = sorted(set(fields) - set(TARGET_FIELDS))
  if unknown:
    raise ValueError(f"unknown target fields {unknown}; valid: {', '.join(TARGET_FIELDS)}")
  params = language_params(config)
  language = languages.get(config.data.language, **params)
  cache_dir = config.data.cache_dir or None
  mode = config.data.label_mode
  data_seed = config.data.seed
  if config.data.source == "paper_splits":
    sizes = as_dict(config.data.sizes)
    splits = build_splits(config.data.language, params, seed=data_seed, sizes=sizes or None,
                          cache_dir=cache_dir, input_mode=mode)
    wanted = [config.data.train_split] + list(config.data.eval_splits)
    missing = [s for s in wanted if s not in splits]
    if missing:
      raise ValueError(f"{config.data.language} has no split(s) {missing}; its paper splits "
                       f"are: {', '.join(splits)}")
    train_set = splits[config.data.train_split]
    eval_sets = {name: splits[name] for name in config.data.eval_splits}
    train_length = train_set.tokens.shape[1]
  else:
    window = config.data.train
    eval_sets = {}
    for index, (name, split) in enumerate(sorted(config.data.eval.items())):
      eval_sets[name] = sample_dataset(
          config.data.language, language_params(config, split),
          _stream_seed(data_seed, 29, index + 1), split.num_words, split.min_length,
          split.max_length, split=name, cache_dir=cache_dir, input_mode=mode)
    if window.num_words > 0 and include_train:
      train_set = sample_dataset(
          config.data.language, language_params(config, window), _stream_seed(data_seed, 29, 0),
          window.num_words, window.min_length, window.max_length, split="train",
          cache_dir=cache_dir, input_mode=mode)
      train_length = train_set.tokens.shape[1]
    else:
      train_set = None
      train_length = window.max_length + (1 if language.begin_symbol else 0)
  reference = train_set if train_set is not None else next(iter(eval_sets.values()))
  for name, dataset in eval_sets.items():
    if dataset.input_symbols != reference.input_symbols:
      raise ValueError(f"eval split {name!r} has input symbols {dataset.input_symbols}, the "
                       f"train data {reference.input_symbols}: they must agree")
  absent = [f for f in fields if getattr(reference, f) is None]
  if absent:
    raise ValueError(f"{config.data.language} has no {absent[0]} targets (objective "
                     f"{config.objective!r}, label_mode {mode!r})")
  return Task(config=config, language=language, fields=tuple(fields),
              input_symbols=reference.input_symbols, output_symbols=reference.output_symbols,
              paper_classes=reference.paper_classes, eval_sets=eval_sets, train_set=train_set,
              train_length=train_length)


def task_for_evaluation(config: ml_collections.ConfigDict, fields: tuple[str, ...],
                        vocab: Mapping[str, Any], eval_sets: dict[str, Dataset]) -> Task:
  """A Task with a saved run's symbol tables and the given eval sets (no train data)."""
  language = languages.get(config.data.language, **language_params(config))
  inputs = tuple(vocab["input_symbols"])
  for name, dataset in eval_sets.items():
    if tuple(dataset.input_symbols) != inputs:
      raise ValueError(f"eval split {name!r} encodes inputs as {dataset.input_symbols}, the "
                       f"checkpoint as {inputs}")
  classes = vocab.get("paper_classes")
  return Task(config=config, language=language, fields=tuple(fields), input_symbols=inputs,
              output_symbols=tuple(vocab["output_symbols"]),
              paper_classes=None if classes is None else tuple(classes), eval_sets=eval_sets,
              train_set=None, train_length=0)


__all__ = ["LENGTH_BUCKET", "ORDERS", "Task", "TARGET_FIELDS", "language_params", "load_task",
           "select", "select_arrays", "stack_batches", "task_for_evaluation"]

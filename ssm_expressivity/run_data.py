"""The data side of a training run: train batches as a pure function of the step, eval splits.

`load_task(config)` builds (or reads from the cache) every dataset a config names and returns a
`Task`; `Task.train_batch(step)` is deterministic in (config.seed, step), which is what makes a
resumed run bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from ssm_expressivity import configlib
from ssm_expressivity import data
from ssm_expressivity import languages

# Array fields a batch carries per objective / label mode.
_TARGET_FIELD = {("next_set", "paper"): "paper_targets", ("next_set", "exact"): "next_sets",
                 ("next_token", "paper"): "next_token", ("next_token", "exact"): "next_token"}


_LENGTH_BUCKET = 64


@dataclasses.dataclass
class Task:
  """What a model is trained and evaluated on."""

  config: ml_collections.ConfigDict
  language: languages.Language
  input_symbols: tuple[str, ...]
  output_symbols: tuple[str, ...]
  paper_classes: tuple[str, ...] | None
  eval_sets: dict[str, data.Dataset]
  train_set: data.Dataset | None  # None: fresh words every step
  train_length: int  # padded length of every train batch

  @property
  def target_field(self) -> str:
    return _TARGET_FIELD[(self.config.objective, self.config.data.label_mode)]

  @property
  def vocab_size(self) -> int:
    return len(self.input_symbols) + 1  # 0 is padding

  @property
  def num_outputs(self) -> int:
    if self.target_field == "paper_targets":
      return len(self.paper_classes)
    return len(self.output_symbols)

  def train_batch(self, step: int) -> dict[str, np.ndarray]:
    """The batch of optimizer step `step` (0-based): a pure function of (seed, step)."""
    size = self.config.batch_size
    if self.train_set is None:
      window = self.config.data.train
      dataset = data.sample_dataset(
          self.config.data.language, language_params(self.config, window),
          _step_seed(self.config, step),
          size, window.min_length, window.max_length, split="train",
          input_mode=self.config.data.label_mode)
      return select(dataset, np.arange(size), self.target_field, self.train_length)
    n = self.train_set.tokens.shape[0]
    if n >= size:
      per_epoch = n // size
      epoch, index = divmod(step, per_epoch)
      order = np.random.default_rng([self.config.seed, 17, epoch]).permutation(n)
      rows = order[index * size:(index + 1) * size]
    else:  # a train set smaller than a batch: draw with replacement
      rows = np.random.default_rng([self.config.seed, 19, step]).integers(0, n, size)
    # Pad to the batch's own longest word (rounded up to a multiple of 64, so at most
    # train_length / 64 shapes compile): most paper train sets are far shorter than their
    # longest word.
    longest = int(self.train_set.lengths[rows].max())
    length = min(self.train_length, -(-longest // _LENGTH_BUCKET) * _LENGTH_BUCKET)
    return select(self.train_set, rows, self.target_field, length)


def select(dataset: data.Dataset, rows: np.ndarray, target_field: str,
           length: int) -> dict[str, np.ndarray]:
  """Rows of `dataset` as a batch dict padded (or cut) to `length` positions."""
  batch = {"tokens": dataset.tokens[rows], "mask": dataset.mask[rows],
           target_field: getattr(dataset, target_field)[rows]}
  return {k: _pad_to(v, length, k) for k, v in batch.items()}


def _pad_to(array: np.ndarray, length: int, field: str) -> np.ndarray:
  current = array.shape[1]
  if current >= length:
    return array[:, :length]
  pad = [(0, 0), (0, length - current)] + [(0, 0)] * (array.ndim - 2)
  fill = -1 if field in ("paper_targets", "next_token") else 0
  return np.pad(array, pad, constant_values=fill)


def language_params(config: ml_collections.ConfigDict,
                    split: ml_collections.ConfigDict | None = None) -> dict:
  """The run's language parameters, updated by a sampled split's own `params`."""
  params = _as_dict(config.data.params)
  if split is not None and split.get("params"):
    params.update(_as_dict(split.params))
  return params


def _as_dict(value) -> dict:
  """A plain dict from a ConfigDict field (or a dict)."""
  return value.to_dict() if hasattr(value, "to_dict") else dict(value)


def _step_seed(config: ml_collections.ConfigDict, step: int) -> int:
  return int(np.random.SeedSequence([config.seed, 23, step]).generate_state(1)[0])


def _split_seed(config: ml_collections.ConfigDict, index: int) -> int:
  return int(np.random.SeedSequence([config.seed, 29, index]).generate_state(1)[0])


def load_task(config: ml_collections.ConfigDict, include_train: bool = True) -> Task:
  """Builds every dataset of `config` (cached under config.data.cache_dir when set).

  include_train=False skips a sampled train set (evaluation needs only the eval splits).
  """
  configlib.validate(config)
  params = language_params(config)
  language = languages.get(config.data.language, **params)
  cache_dir = config.data.cache_dir or None
  mode = config.data.label_mode
  if config.data.source == "paper_splits":
    sizes = _as_dict(config.data.sizes)
    splits = data.build_splits(config.data.language, params, seed=config.seed,
                               sizes=sizes or None, cache_dir=cache_dir, input_mode=mode)
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
      eval_sets[name] = data.sample_dataset(
          config.data.language, language_params(config, split), _split_seed(config, index + 1),
          split.num_words, split.min_length, split.max_length, split=name,
          cache_dir=cache_dir, input_mode=mode)
    if window.num_words > 0 and include_train:
      train_set = data.sample_dataset(
          config.data.language, language_params(config, window), _split_seed(config, 0),
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
  return Task(config=config, language=language, input_symbols=reference.input_symbols,
              output_symbols=reference.output_symbols, paper_classes=reference.paper_classes,
              eval_sets=eval_sets, train_set=train_set, train_length=train_length)


VOCAB_FILE = "vocab.json"


def save_vocab(workdir, task: Task) -> None:
  """Writes the symbol tables a checkpoint's embedding and head are indexed by."""
  import json  # pylint: disable=g-import-not-at-top
  import pathlib  # pylint: disable=g-import-not-at-top
  record = {"input_symbols": list(task.input_symbols),
            "output_symbols": list(task.output_symbols),
            "paper_classes": None if task.paper_classes is None else list(task.paper_classes)}
  path = pathlib.Path(workdir) / VOCAB_FILE
  tmp = path.with_suffix(".tmp")
  tmp.write_text(json.dumps(record, indent=2))
  tmp.replace(path)


def task_for_evaluation(config: ml_collections.ConfigDict, vocab: dict,
                        eval_sets: dict[str, data.Dataset]) -> Task:
  """A Task with the run's symbol tables and the given eval sets (no train data)."""
  language = languages.get(config.data.language, **language_params(config))
  inputs = tuple(vocab["input_symbols"])
  for name, dataset in eval_sets.items():
    if tuple(dataset.input_symbols) != inputs:
      raise ValueError(f"eval split {name!r} encodes inputs as {dataset.input_symbols}, the "
                       f"checkpoint as {inputs}")
  classes = vocab.get("paper_classes")
  return Task(config=config, language=language, input_symbols=inputs,
              output_symbols=tuple(vocab["output_symbols"]),
              paper_classes=None if classes is None else tuple(classes), eval_sets=eval_sets,
              train_set=None, train_length=0)

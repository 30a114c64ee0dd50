"""The paper's splits and sampled length windows, encoded, with an on-disk cache.

    splits = data.build_splits("dyck1", seed=0, cache_dir="~/.cache/ssm_data")
    window = data.sample_dataset("flip_flop", {"p_ignore": 0.98}, 0, 500, 256, 256)

Pure numpy; no JAX.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
from typing import Any, Mapping

import numpy as np

from ssm_expressivity import languages
from ssm_expressivity.data.dataset import ARRAY_FIELDS, Dataset, check_seed, encode, freeze
from ssm_expressivity.languages.base import Language

# Bump when the encoding or the file layout changes: old cache files are then never read.
DATA_FORMAT_VERSION = 1


def _resolve_params(name: str, params: Mapping[str, Any] | None) -> dict:
  """The language's full parameters (defaults filled in), so equal datasets share a key."""
  defaults = languages.parameters(name)
  params = dict(params or {})
  unknown = sorted(set(params) - set(defaults))
  if unknown:
    listed = ", ".join(defaults) if defaults else "none"
    raise ValueError(f"language {name!r} has no parameter(s) {unknown}; valid: {listed}")
  return {**defaults, **params}


def build_splits(name: str, params: Mapping[str, Any] | None = None, seed: int = 0,
                 sizes: Mapping[str, int] | None = None, cache_dir: str | os.PathLike | None = None,
                 *, input_mode: str = "paper") -> dict[str, Dataset]:
  """The paper's train set and test bins of language `name`, encoded.

  Words come from `language.paper_splits(np.random.default_rng(seed), sizes)`. With a
  `cache_dir`, each split is stored as one .npz keyed by everything that determines it.
  """
  seed = check_seed(seed)
  params = _resolve_params(name, params)
  sizes = None if sizes is None else {str(k): int(v) for k, v in sizes.items()}
  language = languages.get(name, **params)
  cache = _Cache(cache_dir) if cache_dir is not None else None
  key = ""
  if cache is not None:
    key = _key(language, "paper_splits", params=params, seed=seed, sizes=sizes,
               input_mode=input_mode)
    cached = cache.load_splits(key)
    if cached is not None:
      return cached
  words = language.paper_splits(np.random.default_rng(seed), sizes)
  datasets = {}
  for split, split_words in words.items():
    split_params = {**params, **language.split_params(split)}
    owner = language if split_params == params else languages.get(name, **split_params)
    datasets[split] = encode(owner, split_words, split, split_params, input_mode=input_mode)
  if cache is not None:
    cache.save_splits(key, name, datasets)
  return datasets


def sample_dataset(name: str, params: Mapping[str, Any] | None, seed: int, num_words: int,
                   min_length: int, max_length: int, split: str = "custom",
                   cache_dir: str | os.PathLike | None = None, *,
                   input_mode: str = "paper") -> Dataset:
  """`num_words` members with lengths uniform over `valid_lengths(min_length, max_length)`."""
  seed = check_seed(seed)
  params = _resolve_params(name, params)
  for arg, value in (("num_words", num_words), ("min_length", min_length),
                     ("max_length", max_length)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
      raise ValueError(f"{arg} must be a non-negative integer, got {value!r}")
  if min_length > max_length:
    raise ValueError(f"min_length {min_length} is greater than max_length {max_length}")
  language = languages.get(name, **params)
  valid = np.asarray(language.valid_lengths(int(min_length), int(max_length)), dtype=np.int64)
  if valid.size == 0:
    raise ValueError(f"language {name!r} ({params}) has no word with length in "
                     f"[{min_length}, {max_length}]; choose another length window")
  cache = _Cache(cache_dir) if cache_dir is not None else None
  key = ""
  if cache is not None:
    key = _key(language, "window", params=params, seed=seed, num_words=int(num_words),
               min_length=int(min_length), max_length=int(max_length), split=split,
               input_mode=input_mode)
    cached = cache.load(key, name, split)
    if cached is not None:
      return cached
  rng = np.random.default_rng(seed)
  lengths = rng.choice(valid, size=int(num_words))
  words = [language.sample(rng, int(n)) for n in lengths]
  dataset = encode(language, words, split, params, input_mode=input_mode)
  if cache is not None:
    cache.save(key, dataset)
  return dataset


# ---- cache -------------------------------------------------------------------------------


def _code_fingerprint() -> str:
  """Hash of the language sources and the encoding code: edited code never reuses a stale file."""
  digest = hashlib.sha256()
  package = pathlib.Path(languages.__file__).parent
  own = pathlib.Path(__file__).parent
  for path in sorted(package.glob("*.py")) + [own / "dataset.py", own / "splits.py"]:
    digest.update(path.name.encode())
    digest.update(path.read_bytes())
  return digest.hexdigest()


def _json_default(value):
  if isinstance(value, np.generic):
    return value.item()
  if isinstance(value, (tuple, set, frozenset)):
    return sorted(value, key=repr) if not isinstance(value, tuple) else list(value)
  return repr(value)


def _key(language: Language, kind: str, **fields) -> str:
  payload = {"format": DATA_FORMAT_VERSION, "kind": kind, "language": language.name,
             "code": _code_fingerprint(), **fields}
  text = json.dumps(payload, sort_keys=True, default=_json_default)
  return hashlib.sha256(text.encode()).hexdigest()


class _Cache:
  """One .npz per dataset under `root`; writes are atomic, unreadable files are misses."""

  def __init__(self, root: str | os.PathLike):
    self.root = pathlib.Path(root).expanduser()
    self.root.mkdir(parents=True, exist_ok=True)

  def _path(self, key: str, name: str, split: str) -> pathlib.Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{name}-{split}")
    return self.root / f"{safe}-{key[:32]}.npz"

  def _manifest(self, key: str, name: str) -> pathlib.Path:
    return self._path(key, name, "splits").with_suffix(".json")

  def load(self, key: str, name: str, split: str) -> Dataset | None:
    path = self._path(_split_key(key, split), name, split)
    try:
      with np.load(path, allow_pickle=False) as stored:
        meta = json.loads(str(stored["meta"]))
        if meta.get("key") != _split_key(key, split):
          return None
        arrays = {f: np.array(stored[f]) for f in ARRAY_FIELDS if f in meta["fields"]}
      dataset = Dataset(
          language=meta["language"], params=meta["params"], split=meta["split"],
          input_symbols=tuple(meta["input_symbols"]),
          output_symbols=tuple(meta["output_symbols"]),
          paper_classes=(None if meta["paper_classes"] is None
                         else tuple(meta["paper_classes"])),
          paper_targets=arrays.pop("paper_targets", None),
          next_token=arrays.pop("next_token", None), **arrays)
      _validate(dataset)
      return freeze(dataset)
    except Exception:  # pylint: disable=broad-except
      # Missing, truncated or otherwise unreadable: the caller rebuilds and overwrites it.
      return None

  def save(self, key: str, dataset: Dataset) -> None:
    split_key = _split_key(key, dataset.split)
    meta = {"key": split_key, "language": dataset.language, "params": dataset.params,
            "split": dataset.split, "input_symbols": list(dataset.input_symbols),
            "output_symbols": list(dataset.output_symbols),
            "paper_classes": (None if dataset.paper_classes is None
                              else list(dataset.paper_classes)),
            "fields": list(dataset.arrays())}
    meta_text = json.dumps(meta, default=_json_default)
    self._atomic_write(self._path(split_key, dataset.language, dataset.split),
                       lambda f: np.savez(f, meta=np.array(meta_text), **dataset.arrays()))

  def load_splits(self, key: str) -> dict[str, Dataset] | None:
    for path in self.root.glob(f"*-splits-{key[:32]}.json"):
      try:
        manifest = json.loads(path.read_text())
        if manifest.get("key") != key:
          continue
        datasets = {}
        for split in manifest["splits"]:
          dataset = self.load(key, manifest["language"], split)
          if dataset is None:
            return None
          datasets[split] = dataset
        return datasets
      except Exception:  # pylint: disable=broad-except
        return None
    return None

  def save_splits(self, key: str, name: str, datasets: Mapping[str, Dataset]) -> None:
    for dataset in datasets.values():
      self.save(key, dataset)
    manifest = json.dumps({"key": key, "language": name, "splits": list(datasets)})
    self._atomic_write(self._manifest(key, name), lambda f: f.write(manifest.encode()))

  def _atomic_write(self, path: pathlib.Path, write) -> None:
    handle = tempfile.NamedTemporaryFile(dir=self.root, prefix=".tmp-", suffix=".part",
                                         delete=False)
    try:
      with handle:
        write(handle)
      os.replace(handle.name, path)
    except BaseException:
      pathlib.Path(handle.name).unlink(missing_ok=True)
      raise


def _split_key(key: str, split: str) -> str:
  return hashlib.sha256(f"{key}/{split}".encode()).hexdigest()


def _validate(dataset: Dataset) -> None:
  """Shape and consistency checks of a loaded dataset (a failed check means a rebuild)."""
  n, t = dataset.tokens.shape
  k = len(dataset.output_symbols)
  if dataset.tokens.dtype != np.int32 or dataset.mask.dtype != np.bool_:
    raise ValueError("bad dtypes")
  if dataset.mask.shape != (n, t) or dataset.lengths.shape != (n,):
    raise ValueError("bad shapes")
  if dataset.next_sets.shape != (n, t, k) or dataset.next_sets.dtype != np.uint8:
    raise ValueError("bad next_sets")
  for extra in (dataset.paper_targets, dataset.next_token):
    if extra is not None and (extra.shape != (n, t) or extra.dtype != np.int32):
      raise ValueError("bad targets")
  if not np.array_equal(dataset.mask, np.arange(t)[None, :] < dataset.lengths[:, None]):
    raise ValueError("mask and lengths disagree")
  if (dataset.tokens[dataset.mask] == 0).any() or dataset.tokens[~dataset.mask].any():
    raise ValueError("tokens and mask disagree")

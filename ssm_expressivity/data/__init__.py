"""Datasets as padded arrays: encoding, the paper's splits, length windows, cache, batches.

    from ssm_expressivity import data
    splits = data.build_splits("dyck1", seed=0, cache_dir="~/.cache/ssm_data")
    train = splits["train"]                      # data.Dataset
    for batch in data.batches(train, 32, seed=0):
      batch["tokens"], batch["mask"], batch["next_sets"]

Modules: `dataset` (the Dataset layout and `encode`), `splits` (the paper's splits, sampled
windows and their cache), `pipeline` (the batches and eval sets of a training run). Pure numpy;
no JAX.
"""

from ssm_expressivity.data.dataset import (ARRAY_FIELDS, INPUT_MODES, Dataset, batches, encode,
                                           split_stats)
from ssm_expressivity.data.splits import DATA_FORMAT_VERSION, build_splits, sample_dataset

__all__ = ["ARRAY_FIELDS", "DATA_FORMAT_VERSION", "INPUT_MODES", "Dataset", "batches",
           "build_splits", "encode", "sample_dataset", "split_stats"]

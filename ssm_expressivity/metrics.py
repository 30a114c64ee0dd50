"""Accuracy metrics of the paper, on numpy arrays (pure functions, no JAX).

Conventions: arrays are [num_strings, length, ...] with a boolean `mask` [num_strings, length]
marking real positions. A string counts as correct under *strict* accuracy only if every one of
its masked positions is correct.
"""

from __future__ import annotations

import numpy as np


def position_correct_sets(logits: np.ndarray, next_sets: np.ndarray,
                          threshold: float = 0.0) -> np.ndarray:
  """Per position: the thresholded multi-hot prediction equals the target set exactly.

  logits: [N, T, K] (sigmoid logits; threshold 0 = probability 0.5); next_sets: [N, T, K].
  """
  predicted = logits > threshold
  return np.all(predicted == next_sets.astype(bool), axis=-1)


def position_correct_classes(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
  """Per position: argmax over classes equals the target class index."""
  return np.argmax(scores, axis=-1) == targets


def strict_accuracy(position_correct: np.ndarray, mask: np.ndarray) -> float:
  """Fraction of strings whose every masked position is correct."""
  if position_correct.shape[0] == 0:
    return float("nan")
  ok = np.all(position_correct | ~mask.astype(bool), axis=1)
  return float(ok.mean())


def per_string_correct(position_correct: np.ndarray, mask: np.ndarray) -> np.ndarray:
  return np.all(position_correct | ~mask.astype(bool), axis=1)


def position_accuracy(position_correct: np.ndarray, mask: np.ndarray) -> float:
  """Fraction of masked positions that are correct, pooled over strings."""
  mask = mask.astype(bool)
  total = mask.sum()
  if total == 0:
    return float("nan")
  return float((position_correct & mask).sum() / total)


def close_accuracy(log_probs: np.ndarray, top_close: np.ndarray, closer_ids: np.ndarray,
                   ratio: float = 0.8) -> tuple[int, int]:
  """The bounded-Dyck close accuracy of the paper: (correct, evaluated) positions.

  log_probs: [N, T, V] next-token log-probabilities; top_close: [N, T] index of the closer of the
  bracket on top of the stack after the input at t, or -1 where the stack is empty or the position
  is padding; closer_ids: the vocabulary indices of all closers. A position counts as correct when
  P(correct closer) / sum of P(closer) over all closers > ratio.
  """
  evaluated = top_close >= 0
  if not evaluated.any():
    return 0, 0
  closer_log_probs = log_probs[..., closer_ids]
  # Normalize among closers in log space for stability.
  shift = closer_log_probs.max(axis=-1, keepdims=True)
  closer_probs = np.exp(closer_log_probs - shift)
  closer_probs /= closer_probs.sum(axis=-1, keepdims=True)
  position_of = {int(c): i for i, c in enumerate(closer_ids)}
  lookup = np.full(max(position_of) + 1, -1, dtype=np.int64)
  for c, i in position_of.items():
    lookup[c] = i
  target = lookup[np.where(evaluated, top_close, closer_ids[0])]
  chosen = np.take_along_axis(closer_probs, target[..., None], axis=-1)[..., 0]
  correct = (chosen > ratio) & evaluated
  return int(correct.sum()), int(evaluated.sum())

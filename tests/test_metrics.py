"""Metrics against hand-computed values."""

import numpy as np

from configs import bounded_dyck
from ssm_expressivity import data
from ssm_expressivity import languages
from ssm_expressivity import metrics
from ssm_expressivity.data import pipeline
from ssm_expressivity.training import objectives


def _close_accuracy(logits, dataset):
  """Close accuracy by the training objective (on device), from one eval batch."""
  objective = objectives.from_config(bounded_dyck.get_config("quick"))
  objective = objective.with_vocab({"output_symbols": list(dataset.output_symbols)})
  batch = pipeline.select_arrays(objective.eval_arrays(dataset), dataset.lengths,
                                 np.arange(len(dataset)), dataset.tokens.shape[1])
  sums = objective.row_sums(logits, batch)
  return objective.finish({k: float(np.sum(v)) for k, v in sums.items()})["close_acc"]


def test_strict_and_position_accuracy():
  correct = np.array([[True, True, False], [True, True, True], [False, True, True]])
  mask = np.array([[True, True, False], [True, True, True], [True, True, True]])
  # Row 0's wrong position is padding, so rows 0 and 1 are right, row 2 is not.
  assert metrics.strict_accuracy(correct, mask) == 2 / 3
  assert metrics.position_accuracy(correct, mask) == 7 / 8


def test_sets_and_classes():
  logits = np.array([[[1.0, -1.0, 2.0], [-1.0, -1.0, 0.5]]])
  sets = np.array([[[1, 0, 1], [0, 1, 1]]], dtype=np.uint8)
  assert metrics.position_correct_sets(logits, sets).tolist() == [[True, False]]
  assert metrics.position_correct_classes(logits, np.array([[2, 2]])).tolist() == [[True, True]]


def test_close_accuracy_on_the_spec_vector():
  # `(a (b b) a) END`: input START (a (b b) a); close accuracy is evaluated at the 3 positions
  # with a non-empty stack, expecting a), b), a).
  language = languages.get("bounded_dyck", k=2, depth=3)
  dataset = data.encode(language, [("(a", "(b", "b)", "a)")], "test")
  outputs = list(dataset.output_symbols)
  logits = np.zeros((1, dataset.tokens.shape[1], len(outputs)), np.float32)
  expected = ["a)", "b)", "a)"]
  for t, closer in enumerate(expected, start=1):
    logits[0, t, outputs.index(closer)] = 5.0  # ~0.99 of the closer mass
  logits[0, 3, outputs.index("b)")] = 6.0  # position 3 now prefers the wrong closer
  assert np.isclose(_close_accuracy(logits, dataset), 2 / 3)
  # The numpy reference of the paper's metric agrees.
  top = objectives.top_close(dataset)
  closers = np.array([outputs.index(c) for c in ("a)", "b)")])
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  assert metrics.close_accuracy(log_probs, top, closers) == (2, 3)
  logits[0, 3, outputs.index("b)")] = 0.0
  assert np.isclose(_close_accuracy(logits, dataset), 1.0)

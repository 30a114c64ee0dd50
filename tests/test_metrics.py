"""Metrics against hand-computed values."""

import numpy as np

from ssm_expressivity import data
from ssm_expressivity import languages
from ssm_expressivity import metrics
from ssm_expressivity import steps


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
  assert np.isclose(steps.close_accuracy(logits, dataset), 2 / 3)
  logits[0, 3, outputs.index("b)")] = 0.0
  assert np.isclose(steps.close_accuracy(logits, dataset), 1.0)

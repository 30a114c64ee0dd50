"""The jitted pieces of a run: the model from its config, the loss, the train step, evaluation."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ssm_expressivity import metrics
from ssm_expressivity.models import tagger


def make_model(config: ml_collections.ConfigDict, task) -> nn.Module:
  return tagger.make_tagger(config.model, task.vocab_size, task.num_outputs)


def _masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
  mask = mask.astype(jnp.float32)
  return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def loss_and_correct(logits: jax.Array, batch: dict[str, jax.Array], loss: str,
                     target_field: str) -> tuple[jax.Array, jax.Array]:
  """(mean loss over real positions, per-position correctness [B, T])."""
  logits = logits.astype(jnp.float32)
  mask = batch["mask"]
  if target_field == "next_sets":
    targets = batch["next_sets"].astype(jnp.float32)
    if loss == "bce":
      per_position = optax.sigmoid_binary_cross_entropy(logits, targets).mean(-1)
    elif loss == "mse":
      per_position = jnp.mean((jax.nn.sigmoid(logits) - targets) ** 2, axis=-1)
    else:
      raise ValueError(f"loss {loss!r} does not apply to multi-hot next-set targets; use "
                       "bce or mse")
    correct = jnp.all((logits > 0) == (targets > 0.5), axis=-1)
    return _masked_mean(per_position, mask), correct
  targets = batch[target_field]
  safe_targets = jnp.maximum(targets, 0)
  if loss == "ce":
    per_position = optax.softmax_cross_entropy_with_integer_labels(logits, safe_targets)
  elif loss == "mse":  # the paper's: MSE between sigmoid outputs and one-hot classes
    one_hot = jax.nn.one_hot(safe_targets, logits.shape[-1])
    per_position = jnp.mean((jax.nn.sigmoid(logits) - one_hot) ** 2, axis=-1)
  else:
    per_position = optax.sigmoid_binary_cross_entropy(
        logits, jax.nn.one_hot(safe_targets, logits.shape[-1])).mean(-1)
  correct = jnp.argmax(logits, axis=-1) == targets
  return _masked_mean(per_position, mask), correct


def make_train_step(model: nn.Module, optimizer: optax.GradientTransformation,
                    config: ml_collections.ConfigDict, task):
  target_field = task.target_field

  def train_step(params, opt_state, batch):
    def loss_fn(p):
      logits = model.apply(p, batch["tokens"])
      loss, correct = loss_and_correct(logits, batch, config.loss, target_field)
      return loss, correct

    (loss, correct), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, opt_state, loss, _masked_mean(correct, batch["mask"])

  return train_step


class Evaluator:
  """Strict / per-position accuracy (and close accuracy for next-token runs) per eval split."""

  def __init__(self, model: nn.Module, config: ml_collections.ConfigDict, task):
    self._model = model
    self._config = config
    self._task = task
    self._apply = jax.jit(model.apply)

  def logits(self, params: Any, tokens: np.ndarray) -> np.ndarray:
    """Model outputs for every row of `tokens`, in fixed-size batches (one compile per shape)."""
    size = self._config.eval_batch_size
    out = []
    for start in range(0, tokens.shape[0], size):
      chunk = tokens[start:start + size]
      rows = chunk.shape[0]
      if rows < size and tokens.shape[0] > size:  # pad the last batch to the compiled shape
        chunk = np.concatenate([chunk, np.zeros((size - rows,) + chunk.shape[1:], chunk.dtype)])
      out.append(np.asarray(self._apply(params, jnp.asarray(chunk)))[:rows])
    return np.concatenate(out) if out else np.zeros((0,) + tokens.shape[1:] + (1,))

  def evaluate_dataset(self, params: Any, dataset) -> dict[str, float]:
    logits = self.logits(params, dataset.tokens)
    field = self._task.target_field
    if field == "next_sets":
      correct = metrics.position_correct_sets(logits, dataset.next_sets)
    elif field == "paper_targets":
      correct = metrics.position_correct_classes(logits, dataset.paper_targets)
    else:  # next-token runs: a position is right when the argmax is an allowed next symbol
      choice = np.argmax(logits, axis=-1)
      correct = np.take_along_axis(dataset.next_sets, choice[..., None], axis=-1)[..., 0] > 0
    result = {
        "strict_acc": metrics.strict_accuracy(correct, dataset.mask),
        "position_acc": metrics.position_accuracy(correct, dataset.mask),
        "num_strings": int(dataset.tokens.shape[0]),
        "min_length": int(dataset.lengths.min()) if dataset.lengths.size else 0,
        "max_length": int(dataset.lengths.max()) if dataset.lengths.size else 0,
    }
    if field == "next_token":
      result["close_acc"] = close_accuracy(logits, dataset)
    return result

  def evaluate(self, params: Any) -> dict[str, dict[str, float]]:
    return {name: self.evaluate_dataset(params, dataset)
            for name, dataset in self._task.eval_sets.items()}


def close_accuracy(logits: np.ndarray, dataset) -> float:
  """The paper's bounded-Dyck close accuracy of next-token `logits` on `dataset`."""
  inputs = dataset.input_symbols
  outputs = list(dataset.output_symbols)
  closer_ids = np.array([i for i, s in enumerate(outputs) if s.endswith(")")])
  closer_of = {s[1:]: outputs.index(s[1:] + ")") for s in inputs if s.startswith("(")}
  top_close = np.full(dataset.tokens.shape, -1, dtype=np.int64)
  for row in range(dataset.tokens.shape[0]):
    stack: list[int] = []
    for t in range(int(dataset.lengths[row])):
      symbol = inputs[dataset.tokens[row, t] - 1]
      if symbol.startswith("("):
        stack.append(closer_of[symbol[1:]])
      elif symbol.endswith(")") and stack:
        stack.pop()
      if stack:
        top_close[row, t] = stack[-1]
  log_probs = np.asarray(jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), axis=-1))
  correct, evaluated = metrics.close_accuracy(log_probs, top_close, closer_ids)
  return correct / evaluated if evaluated else float("nan")

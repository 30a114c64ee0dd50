"""One object per (objective, label mode, loss): targets, loss, correctness and extra metrics.

    objective = objectives.from_config(config)
    objective.target_field                      # the Dataset field trained on
    loss = objective.loss(logits, batch)        # scalar, jnp
    sums = objective.row_sums(logits, batch)    # per-row counts for evaluation metrics

Kinds:
  "classes": one class per position (the paper's per-position classes, or a word problem's
             prefix products), scored by argmax. Losses: "mse" (the official code's: MSE
             between the raw outputs and the one-hot class), "sigmoid_mse" (MSE after a
             sigmoid), "ce", "bce".
  "sets":    the multi-hot allowed-next set over alphabet + EOS. Losses: "bce", "sigmoid_mse"
             (both thresholded at logit 0), "mse" (raw outputs, thresholded at 0.5).
  "next_token": language-model cross-entropy on the next symbol; a position counts as right
             when the argmax is an allowed next symbol; bounded Dyck adds the paper's close
             accuracy.

`train_on_padding` reproduces the official CE scripts: a padding class 0 before the real
classes (which shift to 1..), targets padded with it and no ignore index, so every position of
a batch up to its longest word enters the loss (and, at evaluation, the strict accuracy).
`output_width="official"` gives the official head width, max(#input symbols, #classes) with
dummy classes (+1 for the padding class); `loss_average="padded"` divides the loss by every
position of the padded batch, as the official MSE script's torch mean over zeroed padding.
Everything here is jnp and runs inside jit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

LOSSES = {"classes": ("mse", "sigmoid_mse", "ce", "bce"), "sets": ("bce", "sigmoid_mse", "mse"),
          "next_token": ("ce",)}
OBJECTIVES = ("next_set", "next_token")
OUTPUT_WIDTHS = ("classes", "official")
LOSS_AVERAGES = ("real", "padded")
# Close accuracy: a position counts when P(correct closer) / P(any closer) exceeds this.
CLOSE_RATIO = 0.8


@dataclasses.dataclass(frozen=True)
class Objective:
  """Attributes:
    kind: "classes", "sets" or "next_token".
    loss_name: one of LOSSES[kind].
    target_field: "paper_targets", "next_sets" or "next_token".
    train_on_padding: padded positions up to the batch's longest word are targets of a
      padding class 0 (the real classes are 1..).
    official_width: the head has max(#input symbols, #classes) outputs (+1 with padding).
    average_over_padding: the loss is the sum over loss positions divided by every position
      of the padded batch (real rows up to the longest word).
    closer_ids: next_token on bounded Dyck: output indices of the closers (close accuracy).
  """
  kind: str
  loss_name: str
  target_field: str
  train_on_padding: bool = False
  official_width: bool = False
  average_over_padding: bool = False
  closer_ids: tuple[int, ...] = ()

  def with_vocab(self, vocab: dict[str, Any]) -> "Objective":
    """This objective with what it needs to know of the run's symbol tables."""
    if self.kind != "next_token":
      return self
    outputs = vocab["output_symbols"]
    closers = tuple(i for i, s in enumerate(outputs) if s.endswith(")"))
    return dataclasses.replace(self, closer_ids=closers)

  # ---- what the model outputs -----------------------------------------------------------

  def num_outputs(self, vocab: dict[str, Any]) -> int:
    if self.target_field != "paper_targets":
      return len(vocab["output_symbols"])
    width = len(vocab["paper_classes"])
    if self.official_width:  # dummy classes up to the input alphabet's size
      width = max(width, len(vocab["input_symbols"]))
    return width + 1 if self.train_on_padding else width

  # ---- training ------------------------------------------------------------------------------

  def _positions(self, batch) -> jax.Array:
    """Positions whose targets enter the loss and the strict accuracy."""
    return batch["extent"] if self.train_on_padding else batch["mask"]

  def _classes(self, batch) -> jax.Array:
    targets = batch[self.target_field]
    if self.train_on_padding:
      return jnp.where(batch["mask"], targets + 1, 0)
    return targets

  def per_position_loss(self, logits: jax.Array, batch) -> jax.Array:
    """[B, T] loss of every position (meaningless where `_positions` is False)."""
    logits = logits.astype(jnp.float32)
    if self.kind == "sets":
      targets = batch["next_sets"].astype(jnp.float32)
      if self.loss_name == "bce":
        return optax.sigmoid_binary_cross_entropy(logits, targets).mean(-1)
      outputs = jax.nn.sigmoid(logits) if self.loss_name == "sigmoid_mse" else logits
      return jnp.mean((outputs - targets) ** 2, axis=-1)
    classes = jnp.maximum(self._classes(batch), 0)
    if self.loss_name == "ce":
      return optax.softmax_cross_entropy_with_integer_labels(logits, classes)
    one_hot = jax.nn.one_hot(classes, logits.shape[-1])
    if self.loss_name == "bce":
      return optax.sigmoid_binary_cross_entropy(logits, one_hot).mean(-1)
    outputs = jax.nn.sigmoid(logits) if self.loss_name == "sigmoid_mse" else logits
    return jnp.mean((outputs - one_hot) ** 2, axis=-1)

  def loss(self, logits: jax.Array, batch) -> jax.Array:
    """Mean of the per-position loss over the loss positions of the batch."""
    weights = self._positions(batch).astype(jnp.float32)
    total = jnp.sum(self.per_position_loss(logits, batch) * weights)
    return total / jnp.maximum(jnp.sum(self._denominator(batch)), 1.0)

  def _denominator(self, batch) -> jax.Array:
    """[B, T] positions the loss is averaged over."""
    if self.average_over_padding:
      return batch["extent"].astype(jnp.float32)
    return self._positions(batch).astype(jnp.float32)

  def position_correct(self, logits: jax.Array, batch) -> jax.Array:
    """[B, T] bool: the prediction at each position is right."""
    if self.kind == "sets":
      threshold = 0.5 if self.loss_name == "mse" else 0.0
      predicted = logits > threshold
      return jnp.all(predicted == (batch["next_sets"] > 0), axis=-1)
    choice = jnp.argmax(logits, axis=-1)
    if self.kind == "next_token":
      # Without an output projection the logits are wider than the vocabulary: an argmax
      # past it is wrong.
      symbols = batch["next_sets"].shape[-1]
      inside = jnp.minimum(choice, symbols - 1)
      allowed = jnp.take_along_axis(batch["next_sets"], inside[..., None], axis=-1)[..., 0]
      return (allowed > 0) & (choice < symbols)
    return choice == self._classes(batch)

  def train_position_accuracy(self, logits: jax.Array, batch) -> jax.Array:
    correct = self.position_correct(logits, batch).astype(jnp.float32)
    mask = batch["mask"].astype(jnp.float32)
    return jnp.sum(correct * mask) / jnp.maximum(jnp.sum(mask), 1.0)

  # ---- evaluation ------------------------------------------------------------------------------

  @property
  def fields(self) -> tuple[str, ...]:
    """The Dataset fields a batch carries besides tokens and mask."""
    if self.kind == "next_token":
      return ("next_token", "next_sets")
    return (self.target_field,)

  def eval_arrays(self, dataset) -> dict[str, np.ndarray]:
    """Every [N, T, ...] array an evaluation batch of `dataset` needs."""
    arrays = {"tokens": dataset.tokens, "mask": dataset.mask}
    arrays.update({f: getattr(dataset, f) for f in self.fields})
    if self.closer_ids:
      arrays["top_close"] = top_close(dataset)
    return arrays

  def row_sums(self, logits: jax.Array, batch) -> dict[str, jax.Array]:
    """Per-row counts that add up over batches into the metrics of `finish`."""
    counted = self._positions(batch)
    correct = self.position_correct(logits, batch)
    mask = batch["mask"]
    weights = counted.astype(jnp.float32)
    real = batch["real"]
    sums = {
        "strings": real.astype(jnp.float32),
        "strings_correct": (jnp.all(correct | ~counted, axis=1) & real).astype(jnp.float32),
        "positions": jnp.sum(mask, axis=1).astype(jnp.float32),
        "positions_correct": jnp.sum(correct & mask, axis=1).astype(jnp.float32),
        "loss": jnp.sum(self.per_position_loss(logits, batch) * weights, axis=1),
        "loss_positions": jnp.sum(self._denominator(batch), axis=1),
    }
    if "top_close" in batch:
      closes, evaluated = _close_correct(logits, batch["top_close"],
                                         jnp.asarray(self.closer_ids, jnp.int32))
      sums["close_correct"] = jnp.sum(closes, axis=1).astype(jnp.float32)
      sums["close_positions"] = jnp.sum(evaluated, axis=1).astype(jnp.float32)
    return sums

  @staticmethod
  def finish(sums: dict[str, float]) -> dict[str, float]:
    """Metrics from summed `row_sums`: strict_acc, position_acc, loss (and close_acc)."""
    def ratio(num, den):
      return float(num / den) if den else float("nan")
    metrics = {"strict_acc": ratio(sums["strings_correct"], sums["strings"]),
               "position_acc": ratio(sums["positions_correct"], sums["positions"]),
               "loss": ratio(sums["loss"], sums["loss_positions"])}
    if "close_positions" in sums:
      metrics["close_acc"] = ratio(sums["close_correct"], sums["close_positions"])
    return metrics


def _close_correct(logits: jax.Array, top_close: jax.Array, closer_ids: jax.Array):
  """The paper's bounded-Dyck close accuracy per position (see metrics.close_accuracy)."""
  closer_logits = jnp.take(logits.astype(jnp.float32), closer_ids, axis=-1)
  closer_probs = jax.nn.softmax(closer_logits, axis=-1)  # normalized among the closers
  evaluated = top_close >= 0
  position = jnp.argmax(closer_ids[None, None, :] == jnp.maximum(top_close, 0)[..., None],
                        axis=-1)
  chosen = jnp.take_along_axis(closer_probs, position[..., None], axis=-1)[..., 0]
  return (chosen > CLOSE_RATIO) & evaluated, evaluated


def top_close(dataset) -> np.ndarray:
  """[N, T] output index of the closer of the bracket on top of the stack after the input at t
  (-1 where the stack is empty or t is padding), for a bounded-Dyck next-token Dataset."""
  inputs = dataset.input_symbols
  outputs = list(dataset.output_symbols)
  closer_of = {i + 1: outputs.index(s[1:] + ")") for i, s in enumerate(inputs)
               if s.startswith("(")}
  closing = {i + 1 for i, s in enumerate(inputs) if s.endswith(")")}
  result = np.full(dataset.tokens.shape, -1, dtype=np.int32)
  for row in range(dataset.tokens.shape[0]):
    stack: list[int] = []
    tokens = dataset.tokens[row, :int(dataset.lengths[row])].tolist()
    for t, token in enumerate(tokens):
      if token in closer_of:
        stack.append(closer_of[token])
      elif token in closing and stack:
        stack.pop()
      if stack:
        result[row, t] = stack[-1]
  return result


def from_config(config: ml_collections.ConfigDict) -> Objective:
  """The objective of `config` (config.objective, config.data.label_mode, config.loss)."""
  if config.objective not in OBJECTIVES:
    raise ValueError(f"config.objective={config.objective!r} is not valid; valid: "
                     f"{', '.join(OBJECTIVES)}")
  if config.objective == "next_token":
    kind, field = "next_token", "next_token"
  elif config.data.label_mode == "paper":
    kind, field = "classes", "paper_targets"
  else:
    kind, field = "sets", "next_sets"
  if config.loss not in LOSSES[kind]:
    raise ValueError(f"config.loss={config.loss!r} does not apply to {kind} targets "
                     f"(objective {config.objective!r}, label_mode "
                     f"{config.data.label_mode!r}); valid: {', '.join(LOSSES[kind])}")
  if config.train_on_padding and kind != "classes":
    raise ValueError("config.train_on_padding applies to class targets (label_mode='paper') "
                     "only")
  # Runs written before these fields existed have neither (their defaults then).
  width, average = config.get("output_width", "classes"), config.get("loss_average", "real")
  if width not in OUTPUT_WIDTHS:
    raise ValueError(f"config.output_width={width!r} is not valid; valid: "
                     f"{', '.join(OUTPUT_WIDTHS)}")
  if average not in LOSS_AVERAGES:
    raise ValueError(f"config.loss_average={average!r} is not valid; valid: "
                     f"{', '.join(LOSS_AVERAGES)}")
  if width == "official" and kind != "classes":
    raise ValueError("config.output_width='official' applies to class targets "
                     "(label_mode='paper') only")
  return Objective(kind, config.loss, field, bool(config.train_on_padding),
                   official_width=width == "official",
                   average_over_padding=average == "padded")

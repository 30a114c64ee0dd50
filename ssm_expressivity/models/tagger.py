"""Sequence tagger: token embedding -> backbone stack -> per-position linear head.

`make_tagger({"name": "mamba", "num_layers": 2, "d_model": 64, ...}, vocab_size, num_outputs)`
builds the module; the config's other keys are the chosen stack's constructor fields.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from ssm_expressivity.models import backbones

STACKS = backbones.STACKS


def stack_fields(stack_class: type[nn.Module]) -> dict[str, bool]:
  """Constructor fields of a linen stack -> whether the field is required (has no default)."""
  fields = {}
  for field in dataclasses.fields(stack_class):
    if field.name in ("parent", "name") or not field.init:
      continue
    fields[field.name] = (field.default is dataclasses.MISSING
                          and field.default_factory is dataclasses.MISSING)
  return fields


def _accepts_deterministic(stack: nn.Module) -> bool:
  return "deterministic" in inspect.signature(type(stack).__call__).parameters


class SequenceTagger(nn.Module):
  """int32 tokens [batch, length] -> float32 logits [batch, length, num_outputs].

  Params: `embed` (nn.Embed), `backbone` (the stack), `head` (nn.Dense). Token 0 is padding
  by convention; it is embedded like any token, and causal backbones keep it from affecting
  earlier (real) positions.
  """

  backbone: nn.Module
  vocab_size: int
  num_outputs: int
  d_model: int
  # False: no output projection, the backbone's d_model-wide outputs are the logits (the
  # official bounded-Dyck Mamba); the targets index the first num_outputs of them.
  head: bool = True

  @nn.compact
  def __call__(self, tokens: jnp.ndarray, deterministic: bool = True) -> jnp.ndarray:
    x = nn.Embed(self.vocab_size, self.d_model, name="embed")(tokens)
    if _accepts_deterministic(self.backbone):
      x = self.backbone(x, deterministic=deterministic)
    else:
      x = self.backbone(x)
    if not self.head:
      return x.astype(jnp.float32)
    return nn.Dense(self.num_outputs, name="head")(x).astype(jnp.float32)


def _as_dict(model_config: Any) -> dict[str, Any]:
  if hasattr(model_config, "to_dict"):  # ml_collections.ConfigDict / FrozenConfigDict
    return dict(model_config.to_dict())
  if isinstance(model_config, collections.abc.Mapping):
    return dict(model_config)
  raise ValueError("model_config must be a dict or an ml_collections.ConfigDict, got "
                   f"{type(model_config).__name__}")


def make_tagger(model_config: Any, vocab_size: int, num_outputs: int,
                head: bool = True) -> SequenceTagger:
  """A SequenceTagger whose backbone is `STACKS[model_config["name"]](**other fields)`.

  Raises ValueError for an unknown name (listing the names), an unknown or missing field
  (listing the valid fields of that stack), or a bad vocab_size / num_outputs.
  """
  config = _as_dict(model_config)
  name = config.pop("name", None)
  if name not in STACKS:
    raise ValueError(f"unknown model name {name!r}; valid names: {sorted(STACKS)}")
  for arg_name, value in (("vocab_size", vocab_size), ("num_outputs", num_outputs)):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
      raise ValueError(f"{arg_name} must be a positive integer, got {value!r}")
  stack_class = STACKS[name]
  fields = stack_fields(stack_class)
  unknown = sorted(set(config) - set(fields))
  if unknown:
    raise ValueError(f"unknown field(s) {unknown} for model {name!r}; valid fields: "
                     f"{['name'] + sorted(fields)}")
  missing = sorted(field for field, required in fields.items()
                   if required and field not in config)
  if missing:
    raise ValueError(f"model {name!r} needs field(s) {missing}; valid fields: "
                     f"{['name'] + sorted(fields)}")
  if not head and num_outputs > config["d_model"]:
    raise ValueError(f"without an output projection d_model ({config['d_model']}) must be "
                     f">= the number of outputs ({num_outputs})")
  backbone = stack_class(**config)
  return SequenceTagger(backbone=backbone, vocab_size=vocab_size, num_outputs=num_outputs,
                        d_model=config["d_model"], head=head)

"""The backbones a config can name, each with its own config fields, defaults and comments.

    config.model = backbones.model_config("transformer", num_layers=2, d_model=64)
    backbones.names()                      # ["mamba", "transformer", "lstm", "ids4"]
    backbones.describe("mamba")            # field -> (default, comment)

Every model config has `name`, `num_layers` and `d_model`; the rest is the backbone's own. So
changing `model.name` changes the field set (`switch(config.model, "lstm")`), and a field of
another backbone is a clear error instead of being passed on silently.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import ml_collections

from ssm_expressivity import registry


@dataclasses.dataclass(frozen=True)
class Backbone:
  """A stack class (imported on first use) and its config fields.

  Attributes:
    name: the `model.name` that selects it.
    stack: "module:Class" of the linen stack, [batch, length, d_model] -> same shape.
    fields: field -> (default, one-line comment) beyond name, num_layers and d_model.
  """
  name: str
  stack: str
  fields: Mapping[str, tuple[Any, str]]


COMMON_FIELDS = {
    "num_layers": (1, "stacked residual layers"),
    "d_model": (64, "embedding / residual width"),
}

_BACKBONES = (
    Backbone("mamba", "ssm_expressivity.models.mamba:MambaStack", {
        "d_state": (16, "SSM state size per channel"),
        "d_conv": (4, "causal depthwise convolution width"),
        "expand": (2, "d_inner = expand * d_model"),
        "gate": ("nonnegative",
                 "nonnegative (Mamba) | signed (-1, 1) | time_invariant | complex (rotations)"),
        "scan": ("auto", "linear-recurrence method (models.scan.SCAN_METHODS)"),
    }),
    Backbone("transformer", "ssm_expressivity.models.transformer:TransformerStack", {
        "num_heads": (4, "attention heads (d_model must be divisible by it)"),
        "mlp_ratio": (4, "MLP hidden width = mlp_ratio * d_model"),
        "pos_encoding": ("sinusoidal", "sinusoidal (any length) | learned (max_len) | none"),
        "max_len": (2048, "longest input of a learned positional encoding"),
        "dropout_rate": (0.0, "dropout on embeddings, attention and residual branches"),
    }),
    Backbone("lstm", "ssm_expressivity.models.lstm:LSTMStack", {}),
    Backbone("ids4", "ssm_expressivity.models.ids4:IDS4Stack", {
        "d_state": (8, "rows and columns of each head's matrix state"),
        "num_heads": (1, "channel groups, each with its own input-dependent A matrix"),
    }),
)

BACKBONES = registry.Registry("model name", {b.name: b for b in _BACKBONES})
# name -> the stack class, imported when first looked up.
STACKS = registry.Registry("model name", {b.name: b.stack for b in _BACKBONES})


def names() -> list[str]:
  return BACKBONES.names()


def describe(name: str) -> dict[str, tuple[Any, str]]:
  """Every field of backbone `name` (the common ones first) -> (default, comment)."""
  return {**COMMON_FIELDS, **BACKBONES.factory(name).fields}


def model_config(name: str, **values) -> ml_collections.ConfigDict:
  """The model config of backbone `name`: its defaults, updated by `values`."""
  fields = describe(name)
  unknown = sorted(set(values) - set(fields))
  if unknown:
    raise ValueError(f"model {name!r} has no field(s) {unknown}; valid fields: "
                     f"{', '.join(['name', *fields])}")
  config = ml_collections.ConfigDict({"name": name})
  for field, (default, _) in fields.items():
    config[field] = values.get(field, default)
  return config


def switch(model: ml_collections.ConfigDict | Mapping[str, Any],
           name: str) -> ml_collections.ConfigDict:
  """`model` as backbone `name`: the common fields are kept, the others reset to defaults.

  Fields the two backbones share (e.g. mamba's and ids4's d_state) keep their value only when
  they are common fields; a backbone's own fields always start from its own defaults.
  """
  current = dict(model.to_dict() if hasattr(model, "to_dict") else model)
  if current.get("name") == name:
    return ml_collections.ConfigDict(current)
  kept = {k: current[k] for k in COMMON_FIELDS if k in current}
  return model_config(name, **kept)

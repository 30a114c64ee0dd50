"""PARITY with a signed gate: one layer, one state dimension (NOT NONNEGATIVE).

With gates in [-1, 1] (Grazzi et al. 2024): A(1) = -1, A(0) = +1, B = 0, h_0 = 1, so
h_t = (-1)^(number of 1s), exact in float32. EOS is allowed iff h_t > 0; 0 and 1 always.
No NONNEGATIVE SSM does this at every length with finite precision (see parity_failure.py).
"""

from __future__ import annotations

import numpy as np

from ssm_expressivity import languages
from ssm_expressivity.constructions.base import Construction, StackBuilder, sampled_word, sym


def _stress(rng: np.random.Generator, length: int) -> list:
  language = languages.get("parity")
  return ["1" * length, "".join(rng.choice(["0", "1"], length).tolist()),
          "10" * (length // 2), sampled_word(language, rng, length)]


def parity_signed() -> Construction:
  language = languages.get("parity")
  b = StackBuilder(language.alphabet)
  layer = b.layer()
  layer.cell("sign", {sym("0"): 1.0, sym("1"): -1.0}, 0.0, h0=1.0)
  c = layer.circuit
  even = c.threshold("even", {"sign": 1.0}, 0.0)
  always = c.constant("true", True)
  model, params = b.build_allowed(language, {"0": always, "1": always, "$": even})
  return Construction("parity_signed", language, model, params,
                      "one cell, gate -1 on 1 and +1 on 0, h0 = 1 (signed, not NONNEGATIVE)",
                      _stress)


CONSTRUCTIONS = {"parity_signed": parity_signed}

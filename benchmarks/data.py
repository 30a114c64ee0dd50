"""Data benchmark: build and encode the paper's splits of the suite from scratch, timed.

    from benchmarks import data as bench_data
    result = bench_data.run()              # every language of languages.SUITE, seed 0
    print(bench_data.format_markdown(result))

Sampling (`paper_splits`) and encoding (`data.encode`) are timed separately with
`time.perf_counter` on the calling thread; nothing is cached.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Sequence

import numpy as np

from ssm_expressivity import data
from ssm_expressivity import languages


def run(names: Sequence[str] | None = None, seed: int = 0) -> dict[str, Any]:
  """Times building (sampling + encoding) the full paper splits of each language.

  Returns {"per_language": {name: {"sample_s", "encode_s", "seconds", "words", "tokens",
  "splits": {split: words},
  "warnings": [...]}}, "total_s", "total_words", "total_tokens", "seed"}. A language
  that fails to build gets {"error": message} and is left out of the totals.
  """
  names = list(languages.SUITE if names is None else names)
  unknown = [n for n in names if n not in languages.REGISTRY]
  per_language: dict[str, dict[str, Any]] = {}
  for name in names:
    if name in unknown:
      per_language[name] = {"error": f"language {name!r} is not registered"}
      continue
    try:
      per_language[name] = _time_language(name, seed)
    except Exception as err:  # pylint: disable=broad-except
      # A benchmark reports a broken language instead of hiding the other timings.
      per_language[name] = {"error": f"{type(err).__name__}: {err}"}
  done = [r for r in per_language.values() if "error" not in r]
  return {
      "seed": seed,
      "per_language": per_language,
      "total_s": float(sum(r["seconds"] for r in done)),
      "total_sample_s": float(sum(r["sample_s"] for r in done)),
      "total_encode_s": float(sum(r["encode_s"] for r in done)),
      "total_words": int(sum(r["words"] for r in done)),
      "total_tokens": int(sum(r["tokens"] for r in done)),
      "failed": sorted(n for n, r in per_language.items() if "error" in r),
  }


def _time_language(name: str, seed: int) -> dict[str, Any]:
  # Samplers warn about early stops (e.g. d3): keep the messages with the timings.
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    start = time.perf_counter()
    language = languages.get(name)
    words = language.paper_splits(np.random.default_rng(seed))
    sampled = time.perf_counter()
    encoded = {split: data.encode(language, split_words, split, {})
               for split, split_words in words.items()}
    done = time.perf_counter()
  return {
      "sample_s": sampled - start,
      "encode_s": done - sampled,
      "seconds": done - start,
      "words": int(sum(len(d) for d in encoded.values())),
      "tokens": int(sum(int(d.lengths.sum()) for d in encoded.values())),
      "splits": {split: len(d) for split, d in encoded.items()},
      "warnings": [str(w.message) for w in caught],
  }


def format_markdown(result: dict[str, Any]) -> str:
  """A markdown table of `run`'s result, one row per language and a total row."""
  lines = [
      f"Paper splits built from scratch (seed {result['seed']}), one process, no cache.",
      "",
      "| language | words | tokens | sample s | encode s | total s | tokens/s |",
      "|---|---:|---:|---:|---:|---:|---:|",
  ]
  for name, row in result["per_language"].items():
    if "error" in row:
      lines.append(f"| {name} | failed: {row['error']} | | | | | |")
      continue
    rate = row["tokens"] / row["seconds"] if row["seconds"] > 0 else float("inf")
    lines.append(f"| {name} | {row['words']} | {row['tokens']} | {row['sample_s']:.2f} | "
                 f"{row['encode_s']:.2f} | {row['seconds']:.2f} | {rate:,.0f} |")
  total_rate = (result["total_tokens"] / result["total_s"] if result["total_s"] > 0
                else float("inf"))
  lines.append(f"| **total** | {result['total_words']} | {result['total_tokens']} | "
               f"{result['total_sample_s']:.2f} | {result['total_encode_s']:.2f} | "
               f"{result['total_s']:.2f} | {total_rate:,.0f} |")
  notes = [f"- {name}: {message}" for name, row in result["per_language"].items()
           for message in row.get("warnings", [])]
  if notes:
    lines += ["", "Warnings:", *notes]
  return "\n".join(lines) + "\n"

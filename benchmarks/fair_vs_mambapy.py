"""Times one implementation at one shape in this process; run each in its own process, one
after the other, on a quiet machine (worker threads of XLA and torch keep spinning after a
step and slow whatever runs next in the same process):

    for shape in 32,256,64,2 32,100,16,1; do
      python -m benchmarks.fair_vs_mambapy ours $shape      # or ours:chunked, ...
      python -m benchmarks.fair_vs_mambapy mambapy $shape   # needs the bench extra
    done

`ours:METHOD` times a given scan method (default auto). Prints one JSON line: tokens/s,
median and min ms, and the 1-minute load when it finished.
"""

import json
import os
import sys

from benchmarks import models as bench_models


def main(argv: list[str]) -> None:
  impl, _, method = argv[1].partition(":") if len(argv) == 3 else ("", "", "")
  if impl not in ("ours", "mambapy") or (impl == "mambapy" and method):
    sys.exit("usage: fair_vs_mambapy.py ours[:METHOD]|mambapy BATCH,LENGTH,D_MODEL,LAYERS")
  shape = bench_models.StackShape(*[int(v) for v in argv[2].split(",")])
  if impl == "ours":
    fn, args = bench_models._stack_case(shape, method or "auto")  # pylint: disable=protected-access
    row = bench_models.measure_jax(fn, args, shape.batch * shape.length, repeats=15)
  else:
    row = bench_models.measure_mambapy(shape, repeats=10)
    if row is None:
      sys.exit("error: mambapy is not installed (pip install -e '.[bench]')")
  print(json.dumps({"impl": argv[1], "shape": argv[2], "load_after": os.getloadavg()[0], **row}))


if __name__ == "__main__":
  main(sys.argv)

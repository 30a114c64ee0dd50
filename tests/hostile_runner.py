"""Runs many launcher command lines fast: imports the heavy libraries once, then forks a fresh
child per command line (absl flags are process-global, so each command needs its own process).

    python tests/hostile_runner.py < cases.json > results.json

Input: a JSON list of argv lists, each starting with the launcher module. Output: a JSON list
of {"code": exit code, "output": stdout + stderr}. No JAX computation runs before the forks,
so each child starts its backend on its own.
"""

import json
import os
import pathlib
import runpy
import sys
import time
import traceback

# The checkout this file is in, ahead of any installed copy (python puts tests/ on the path).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def _run_in_child(argv: list[str]) -> tuple[int, str]:
  read_end, write_end = os.pipe()
  pid = os.fork()
  if pid == 0:  # the child: run the launcher as `python -m <module> <args>` would
    os.close(read_end)
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    sys.argv = list(argv)
    try:
      runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
      code = 0
    except SystemExit as e:
      code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # pylint: disable=broad-except
      traceback.print_exc()
      code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
  os.close(write_end)
  with os.fdopen(read_end, "rb") as pipe:
    output = pipe.read().decode(errors="replace")
  _, status = os.waitpid(pid, 0)
  return os.waitstatus_to_exitcode(status), output


def main():
  cases = json.load(sys.stdin)
  import flax.linen  # pylint: disable=g-import-not-at-top,unused-import
  import orbax.checkpoint  # pylint: disable=g-import-not-at-top,unused-import
  import ssm_expressivity.reproduce  # pylint: disable=g-import-not-at-top,unused-import
  import ssm_expressivity.training.loop  # pylint: disable=g-import-not-at-top,unused-import
  results = []
  for argv in cases:
    start = time.perf_counter()
    code, output = _run_in_child(argv)
    results.append({"code": code, "output": output, "seconds": time.perf_counter() - start})
  json.dump(results, sys.stdout)


if __name__ == "__main__":
  main()

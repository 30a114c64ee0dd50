"""Shared launcher plumbing: user errors end with one clear line and exit code 1."""

from __future__ import annotations

import functools
import importlib.util
import logging as std_logging
import sys
from typing import Callable

from absl import flags
from absl import logging

from ssm_expressivity.training import loop
from ssm_expressivity.training.rundir import CheckpointError

# Errors a user can cause; anything else is a bug and keeps its traceback.
# OSError covers what the file system refuses (a missing path, a file where a directory goes, a
# read-only or full disk): the user's environment, not a bug of the package.
USER_ERRORS = (ValueError, KeyError, CheckpointError, loop.TrainingDiverged, OSError)


class _QuietLibraries(std_logging.Filter):
  """Drops INFO chatter of checkpointing libraries so progress lines stay readable."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    noisy = any(part in record.pathname for part in ("/orbax/", "/etils/", "xla_bridge"))
    return record.levelno >= std_logging.WARNING or not noisy


def setup_logging() -> None:
  logging.set_verbosity(logging.INFO)
  logging.get_absl_handler().addFilter(_QuietLibraries())


def use_compilation_cache(directory: str) -> None:
  """Keeps every compiled program in `directory` (JAX's persistent cache), so a program whose
  HLO was compiled before (a resumed run, or a sweep's runs that differ only in data, such as
  the word problems' groups at one length and depth) loads instead of compiling: measured
  10 s -> 1.7 s per Mamba program on the 2-core CPU (benchmarks/word_problems.md)."""
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def user_errors_exit(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
  """Wraps an absl main so user errors print `error: ...` and exit 1 (no traceback)."""

  @functools.wraps(main)
  def wrapped(argv):
    try:
      return main(argv)
    except USER_ERRORS as e:
      message = e.args[0] if isinstance(e, KeyError) and e.args else e
      if isinstance(e, OSError) and e.filename is not None:
        message = f"{e.strerror or e}: {e.filename}"
      logging.flush()
      print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
      sys.exit(1)

  return wrapped


def parse_flags(argv: list[str]) -> list[str]:
  """absl flags parser that turns a bad flag or config override into one clear line.

  `--config.model.name=X` is moved into the config arg (`--config=file:arg,model=X`), so the
  config is built with backbone X's fields and overrides of them apply.
  """
  argv = _model_name_into_config_arg(argv)
  sys.argv[:] = argv  # ml_collections reads the config overrides from sys.argv
  try:
    rest = flags.FLAGS(argv)
    if "config" in flags.FLAGS and flags.FLAGS["config"].present:
      flags.FLAGS.config.keys()  # a config file that failed to load raises here
    return rest
  except Exception as e:  # pylint: disable=broad-except
    print(f"error: {_explain_flag_error(argv, e)}", file=sys.stderr)
    sys.exit(1)


def _model_name_into_config_arg(argv: list[str]) -> list[str]:
  names = [a.split("=", 1)[1] for a in argv if a.startswith("--config.model.name=")]
  if not names:
    return argv
  out = []
  for arg in argv:
    if arg.startswith("--config.model.name="):
      continue
    if arg.startswith("--config="):
      spec = arg.split("=", 1)[1]
      path, sep, config_arg = spec.partition(":")
      tokens = [t for t in config_arg.split(",") if t.strip() and not t.startswith("model=")]
      arg = f"--config={path}:" + ",".join(tokens + [f"model={names[-1]}"])
    out.append(arg)
  return out


def _explain_flag_error(argv: list[str], error: Exception) -> str:
  config, config_error = load_config_from_argv(argv)
  if config_error is not None:
    return f"--config: {config_error}"
  if config is not None:
    for arg in argv[1:]:
      if not arg.startswith("--config."):
        continue
      path = arg[len("--config."):].split("=", 1)[0].split(".")
      node, where = config, "config"
      for part in path:
        if not hasattr(node, "keys") or part not in node:
          valid = ", ".join(sorted(node.keys())) if hasattr(node, "keys") else "none"
          return (f"{arg.split('=', 1)[0]}: {where} has no field {part!r}; valid fields of "
                  f"{where}: {valid}")
        node, where = node[part], f"{where}.{part}"
  message = str(error).strip().strip("'\"").replace("\\n", " ").replace("\n", " ")
  return message


def load_config_file(value: str):
  """`path[:arg]` -> the config its get_config(arg) returns, and the module; ValueError on a
  file that cannot be loaded."""
  path, _, config_arg = value.partition(":")
  import pathlib  # pylint: disable=g-import-not-at-top
  if not pathlib.Path(path).is_file():
    raise ValueError(f"cannot load config file {path!r}: it is not a file")
  try:
    spec = importlib.util.spec_from_file_location("_user_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"cannot load config file {path!r} ({type(e).__name__}: {e})") from None
  config = module.get_config(config_arg) if config_arg else module.get_config()
  return config, module


def load_config_from_argv(argv: list[str]):
  for index, arg in enumerate(argv):
    value = None
    if arg.startswith("--config="):
      value = arg.split("=", 1)[1]
    elif arg == "--config" and index + 1 < len(argv):
      value = argv[index + 1]
    if value is None:
      continue
    try:
      return load_config_file(value)[0], None
    except Exception as e:  # pylint: disable=broad-except
      return None, str(e)
  return None, None

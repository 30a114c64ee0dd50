"""The "native" selective scan: a C++ CPU kernel (native/selective_scan.cc) through XLA's FFI.

The kernel runs the loop over time itself, with a batch row's [D, N] state in L1 and the
updates, exponentials and readout vectorized over d, so the scan is not L small XLA while-loop
steps. Its forward keeps one state per `checkpoint_every` positions; its backward recomputes a
chunk's states and gates from them and runs the reversed recurrence (as the "chunked" method's
custom VJP does), giving the gradients of x, dt, A, B, C and h0 in one call.

The library is compiled on first use (never at import) with the system C++ compiler into a
per-user cache, keyed by a hash of the source, the flags, the compiler's version, jaxlib's
version and the CPU's feature flags (the code is built with -march=native), then loaded with
ctypes and its two handlers registered once per process. Environment:
  SSM_EXPRESSIVITY_CXX           the compiler (default "g++");
  SSM_EXPRESSIVITY_NATIVE_CACHE  the cache directory (default ~/.cache/ssm_expressivity).
If the compiler is missing or the build fails, `selective_scan` raises NativeScanUnavailable;
nothing else in the package depends on the kernel.

Under jax.vmap the FFI calls broadcast every operand to the vmapped axes
(vmap_method="broadcast_all"); the kernel treats A's leading axes as independent groups of
rows (A [G..., D, N], x [G..., B, L, D]) and sums dA within each group.

The FFI calls have no sharding rule: in a program whose operands are sharded over several
devices, XLA gathers them and runs the kernel whole on every device (correct, not parallel), so
"auto" does not pick "native" when there is more than one device.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import pathlib
import platform
import shutil
import subprocess
import tempfile
import warnings

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

SOURCE = pathlib.Path(__file__).parent / "native" / "selective_scan.cc"
CXX_FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno")
_FORWARD_TARGET = "ssm_expressivity_selective_scan_forward"
_BACKWARD_TARGET = "ssm_expressivity_selective_scan_backward"

# The backward keeps a chunk's states and its decays (chunk * N * D floats each) in buffers
# that should stay in L2 (1 MiB here): each holds at most this many floats (16 positions at
# D 128, N 16). 8k measured 10% slower, 128k the same.
_CHUNK_STATE_ELEMENTS = 32768
_MAX_CHECKPOINT_EVERY = 64

# Threads of XLA's intra-op pool the kernel spreads batch rows over (0: all of them). Read when
# a call is traced.
MAX_THREADS = 0

_library = None  # the loaded ctypes library once its targets are registered
_unavailable = None  # why "auto" found the kernel unavailable in this process, once it tried


class NativeScanUnavailable(RuntimeError):
  """The native kernel could not be built or loaded (no C++ compiler, or a failed build)."""


def compiler() -> str:
  return os.environ.get("SSM_EXPRESSIVITY_CXX", "g++")


def cache_dir() -> pathlib.Path:
  default = pathlib.Path.home() / ".cache" / "ssm_expressivity"
  return pathlib.Path(os.environ.get("SSM_EXPRESSIVITY_NATIVE_CACHE", default))


def _cpu_flags() -> str:
  """The CPU feature flags (-march=native builds for them), or "" where /proc is absent."""
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
      for line in cpuinfo:
        if line.startswith(("flags", "Features")):
          return line
  except OSError:
    pass
  return ""


def build(cxx: str | None = None, directory: pathlib.Path | None = None) -> pathlib.Path:
  """The path of the compiled library, compiling it unless the cache already has it."""
  cxx = cxx or compiler()
  directory = pathlib.Path(directory or cache_dir())
  cxx_path = shutil.which(cxx)
  if cxx_path is None:
    raise NativeScanUnavailable(
        f"scan method 'native' needs a C++ compiler: {cxx!r} was not found (set "
        f"SSM_EXPRESSIVITY_CXX, or use method 'chunked' or 'sequential')")
  try:
    version = subprocess.run([cxx_path, "--version"], capture_output=True, text=True,
                             check=True, timeout=60).stdout
  except (OSError, subprocess.SubprocessError) as error:
    raise NativeScanUnavailable(
        f"scan method 'native': {cxx_path} --version failed: {error}") from error
  key = hashlib.sha256()
  for part in (SOURCE.read_bytes(), " ".join(CXX_FLAGS).encode(), version.encode(),
               jaxlib.__version__.encode(), platform.machine().encode(), _cpu_flags().encode()):
    key.update(part)
    key.update(b"\0")
  library = directory / f"selective_scan_{key.hexdigest()[:20]}.so"
  if library.exists():
    return library
  # Compile to a temporary name and rename, so concurrent processes never load a partial file.
  try:
    directory.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(suffix=".so", dir=directory)
    os.close(fd)
  except OSError as error:
    raise NativeScanUnavailable(f"scan method 'native': cannot write its cache {directory}: "
                                f"{error} (set SSM_EXPRESSIVITY_NATIVE_CACHE)") from error
  command = [cxx_path, *CXX_FLAGS, "-isystem", jax.ffi.include_dir(), str(SOURCE), "-o", partial]
  try:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
  except (OSError, subprocess.SubprocessError) as error:
    os.unlink(partial)
    raise NativeScanUnavailable(f"scan method 'native': compiling failed: {error}") from error
  if result.returncode != 0:
    os.unlink(partial)
    raise NativeScanUnavailable(
        f"scan method 'native': compiling {SOURCE.name} failed ({' '.join(command)}):\n"
        f"{result.stderr[-4000:]}")
  os.replace(partial, library)
  return library


def ensure_registered() -> None:
  """Builds (or finds in the cache) and loads the kernel, registering its FFI targets once."""
  global _library
  if _library is not None:
    return
  path = build()
  try:
    library = ctypes.cdll.LoadLibrary(str(path))
  except OSError as error:
    raise NativeScanUnavailable(
        f"scan method 'native': loading {path} failed: {error}") from error
  for target, symbol in ((_FORWARD_TARGET, library.SsmSelectiveScanForward),
                         (_BACKWARD_TARGET, library.SsmSelectiveScanBackward)):
    jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(symbol), platform="cpu")
  _library = library


def available() -> bool:
  """Whether the kernel builds and loads here; warns (once per process) with the reason if not.

  "auto" on the CPU asks this and runs "chunked" when it is False.
  """
  global _unavailable
  if _library is not None:
    return True
  if _unavailable is None:
    try:
      ensure_registered()
      return True
    except NativeScanUnavailable as error:
      _unavailable = str(error)
      warnings.warn(f"{error}; scan method 'auto' runs 'chunked' instead", RuntimeWarning)
  return False


def checkpoint_every(length: int, width: int, state: int) -> int:
  """Positions per checkpoint: the longest chunk whose states fit the L2 budget, balanced."""
  from ssm_expressivity.models import scan  # pylint: disable=import-outside-toplevel
  limit = max(4, min(_MAX_CHECKPOINT_EVERY, _CHUNK_STATE_ELEMENTS // max(width * state, 1)))
  return scan.balanced_chunk(length, limit)


def _attributes(signed, every):
  return {"signed_gate": np.bool_(signed), "checkpoint_every": np.int64(every),
          "max_threads": np.int64(MAX_THREADS)}


def _forward(x, dt, A, B, C, h0, signed, every):
  batch, length, width = x.shape
  state = A.shape[1]
  num_chunks = -(-length // every)
  f32 = jnp.float32
  call = jax.ffi.ffi_call(
      _FORWARD_TARGET,
      (jax.ShapeDtypeStruct(x.shape, f32),
       jax.ShapeDtypeStruct((batch, num_chunks, state, width), f32)),
      vmap_method="broadcast_all")
  return call(x, dt, A, B, C, h0, **_attributes(signed, every))


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7))
def _native(x, dt, A, B, C, h0, signed, every):
  return _forward(x, dt, A, B, C, h0, signed, every)[0]


def _native_fwd(x, dt, A, B, C, h0, signed, every):
  y, checkpoints = _forward(x, dt, A, B, C, h0, signed, every)
  return y, (x, dt, A, B, C, checkpoints)


def _native_bwd(signed, every, residuals, dy):
  x, dt, A, B, C, checkpoints = residuals
  f32 = jnp.float32
  shapes = (x.shape, x.shape, A.shape, B.shape, C.shape, (x.shape[0],) + A.shape)
  call = jax.ffi.ffi_call(_BACKWARD_TARGET, tuple(jax.ShapeDtypeStruct(s, f32) for s in shapes),
                          vmap_method="broadcast_all")
  return tuple(call(x, dt, A, B, C, checkpoints, jnp.asarray(dy, f32),
                    **_attributes(signed, every)))


_native.defvjp(_native_fwd, _native_bwd)


def selective_scan(x, dt, A, B, C, h0, signed: bool):
  """scan.selective_scan's "native" method on checked float32 inputs (h0 given, length >= 1)."""
  ensure_registered()
  every = checkpoint_every(x.shape[1], x.shape[2], A.shape[1])
  return _native(x, dt, A, B, C, h0, bool(signed), every)

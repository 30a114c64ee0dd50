"""The "native" selective scan (C++ through XLA's FFI) against float64 references and the
other methods: values, gradients of all six inputs, odd shapes, jit, vmap, a Mamba stack, and
the error when no compiler is available."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ssm_expressivity.models import mamba
from ssm_expressivity.models import native_scan
from ssm_expressivity.models import scan
from test_scan import _selective_inputs, reference_selective
from tests_support import directional_difference

needs_compiler = pytest.mark.skipif(shutil.which(native_scan.compiler()) is None,
                                    reason="no C++ compiler for the native scan")

ARGNUMS = tuple(range(6))


def _f32(args):
  return tuple(jnp.float32(v) for v in args)


def _grads(method, args, dy, signed=False):
  loss = lambda *a: jnp.sum(scan.selective_scan(*a, signed=signed, method=method) * dy)
  return jax.jit(jax.grad(loss, argnums=ARGNUMS))(*_f32(args))


# (batch, length, width, state): the suite's defaults, length 1, batch 1, a length that is no
# multiple of any checkpoint interval, N not a multiple of 8, D over one vector width.
SHAPES = [(2, 19, 3, 4), (3, 1, 5, 3), (1, 67, 9, 7), (2, 130, 20, 16), (2, 33, 17, 5)]


@pytest.mark.parametrize("signed", (False, True))
@pytest.mark.parametrize("shape", SHAPES)
@needs_compiler
def test_values_and_gradients_match_float64(shape, signed):
  rng = np.random.default_rng(0)
  args = _selective_inputs(rng, *shape)
  dy = rng.normal(size=args[0].shape)
  y = scan.selective_scan(*args, signed=signed, method="native")
  assert y.dtype == jnp.float32 and y.shape == args[0].shape
  ref = reference_selective(*args, signed)
  np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ref).max()))

  grads = _grads("native", args, dy, signed)
  ref_loss = lambda *a: np.sum(reference_selective(*a, signed) * dy)
  for i, grad in enumerate(grads):
    assert grad.shape == args[i].shape
    # Directional derivative along a random direction, by float64 central differences.
    v = rng.normal(size=args[i].shape)
    fd = directional_difference(ref_loss, args, i, v)
    np.testing.assert_allclose(np.sum(np.asarray(grad, np.float64) * v), fd, rtol=2e-4,
                               atol=1e-4 * max(1.0, abs(fd)))


@pytest.mark.parametrize("signed", (False, True))
@needs_compiler
def test_gradients_equal_the_sequential_method(signed):
  rng = np.random.default_rng(1)
  args = _selective_inputs(rng, 3, 70, 12, 16)
  dy = rng.normal(size=args[0].shape)
  for got, want in zip(_grads("native", args, dy, signed), _grads("sequential", args, dy, signed)):
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * float(jnp.abs(want).max()))


@needs_compiler
def test_without_h0_starts_from_zero():
  rng = np.random.default_rng(2)
  x, dt, A, B, C, h0 = _selective_inputs(rng, 2, 11, 4, 3)
  y = scan.selective_scan(x, dt, A, B, C, method="native")
  np.testing.assert_allclose(y, reference_selective(x, dt, A, B, C, 0 * h0, False), rtol=1e-5,
                             atol=1e-5)
  loss = lambda *a: jnp.sum(scan.selective_scan(*a, method="native") ** 2)
  want = lambda *a: jnp.sum(scan.selective_scan(*a, method="sequential") ** 2)
  for got, ref in zip(jax.grad(loss, argnums=(0, 1, 2, 3, 4))(*_f32((x, dt, A, B, C))),
                      jax.grad(want, argnums=(0, 1, 2, 3, 4))(*_f32((x, dt, A, B, C)))):
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-5)


@needs_compiler
def test_vmap_of_grad_equals_a_loop_of_grads():
  # Every input differs along the vmapped (runs) axis, A included, as in a vmapped train step.
  rng = np.random.default_rng(3)
  runs = [_f32(_selective_inputs(rng, 2, 13, 5, 6)) for _ in range(3)]
  dy = jnp.float32(rng.normal(size=(3, 2, 13, 5)))

  def grad_fn(args, dy):
    loss = lambda *a: jnp.sum(scan.selective_scan(*a, signed=True, method="native") * dy)
    return jax.grad(loss, argnums=ARGNUMS)(*args)

  stacked = tuple(jnp.stack(v) for v in zip(*runs))
  batched = jax.jit(jax.vmap(grad_fn))(stacked, dy)
  for r, args in enumerate(runs):
    for got, want in zip(batched, grad_fn(args, dy[r])):
      np.testing.assert_allclose(got[r], want, rtol=1e-5, atol=1e-5 * float(jnp.abs(want).max()))


@needs_compiler
def test_vmap_over_data_with_shared_parameters():
  # Only x is vmapped: A, B, C, h0 are shared, so their gradients sum over the mapped axis.
  rng = np.random.default_rng(4)
  x, dt, A, B, C, h0 = _f32(_selective_inputs(rng, 2, 9, 4, 3))
  xs = jnp.stack([x, 2 * x, -x])

  def loss(A, B, method):
    run = lambda x: scan.selective_scan(x, dt, A, B, C, h0, method=method)
    return jnp.sum(jax.vmap(run)(xs) ** 2)

  got = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)(A, B, "native")
  want = jax.grad(loss, argnums=(0, 1))(A, B, "sequential")
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5 * float(jnp.abs(w).max()))


@needs_compiler
def test_mamba_stack_forward_and_backward_equal_sequential():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 21, 16))
  # A random projection of the output: sum(y ** 2) after the final norm is nearly scale
  # invariant, which leaves the inner layers' gradients to cancellation (every method then
  # differs from the others by ~1%).
  w = jax.random.normal(jax.random.PRNGKey(2), x.shape)
  models = {m: mamba.MambaStack(2, 16, d_state=16, scan=m) for m in ("native", "sequential")}
  params = models["sequential"].init(jax.random.PRNGKey(1), x)

  def value_and_grad(method):
    loss = lambda p: jnp.sum(models[method].apply(p, x) * w)
    return jax.jit(jax.value_and_grad(loss))(params)

  (loss_n, grads_n), (loss_s, grads_s) = value_and_grad("native"), value_and_grad("sequential")
  np.testing.assert_allclose(loss_n, loss_s, rtol=1e-5)
  for got, want in zip(jax.tree_util.tree_leaves(grads_n), jax.tree_util.tree_leaves(grads_s)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(jnp.abs(want).max()))


def test_linear_recurrence_runs_chunked_for_native():
  rng = np.random.default_rng(5)
  a = rng.uniform(-1, 1, (2, 9, 3)) + 1j * rng.uniform(-1, 1, (2, 9, 3))
  b = rng.normal(size=(2, 9, 3))
  np.testing.assert_array_equal(scan.linear_recurrence(a, b, method="native"),
                                scan.linear_recurrence(a, b, method="chunked"))


def test_missing_compiler_raises_one_clear_error(monkeypatch, tmp_path):
  monkeypatch.setattr(native_scan, "_library", None)  # as in a fresh process
  monkeypatch.setenv("SSM_EXPRESSIVITY_CXX", str(tmp_path / "no-such-g++"))
  monkeypatch.setenv("SSM_EXPRESSIVITY_NATIVE_CACHE", str(tmp_path / "cache"))
  x, dt, A, B, C, h0 = _selective_inputs(np.random.default_rng(6), 1, 3, 2, 2)
  with pytest.raises(native_scan.NativeScanUnavailable, match="needs a C\\+\\+ compiler"):
    scan.selective_scan(x, dt, A, B, C, h0, method="native")
  # The other methods do not need it.
  scan.selective_scan(x, dt, A, B, C, h0, method="chunked")


@needs_compiler
def test_failed_build_raises_with_the_compiler_output(monkeypatch, tmp_path):
  monkeypatch.setattr(native_scan, "_library", None)
  broken = tmp_path / "broken.cc"
  broken.write_text("this is not C++\n")
  monkeypatch.setattr(native_scan, "SOURCE", broken)
  monkeypatch.setenv("SSM_EXPRESSIVITY_NATIVE_CACHE", str(tmp_path / "cache"))
  with pytest.raises(native_scan.NativeScanUnavailable, match="compiling broken.cc failed"):
    native_scan.ensure_registered()
  assert not list((tmp_path / "cache").glob("*.so"))  # no partial library left behind


@needs_compiler
def test_library_is_cached_by_source_and_flags():
  first = native_scan.build()
  built = first.stat().st_mtime_ns
  assert native_scan.build() == first and first.stat().st_mtime_ns == built  # found, not rebuilt
  assert first.parent == native_scan.cache_dir() and native_scan.SOURCE.exists()


def test_importing_scan_builds_and_loads_nothing():
  code = ("import sys; from ssm_expressivity.models import scan, mamba; "
          "assert 'ssm_expressivity.models.native_scan' not in sys.modules")
  subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_auto_without_a_compiler_warns_once_and_runs_chunked(monkeypatch, tmp_path):
  monkeypatch.setattr(native_scan, "_library", None)
  monkeypatch.setattr(native_scan, "_unavailable", None)
  monkeypatch.setitem(scan.AUTO_METHOD, jax.default_backend(), "native")
  monkeypatch.setenv("SSM_EXPRESSIVITY_CXX", str(tmp_path / "no-such-g++"))
  args = _selective_inputs(np.random.default_rng(7), 2, 5, 3, 2)
  with pytest.warns(RuntimeWarning, match="runs 'chunked' instead"):
    y = scan.selective_scan(*args, method="auto")
  np.testing.assert_array_equal(y, scan.selective_scan(*args, method="chunked"))
  assert not native_scan.available()  # decided once per process, no second warning or build


@needs_compiler
def test_auto_with_several_devices_runs_chunked_not_a_gathered_kernel(tmp_path):
  # Sharded over two forced host devices, "native" gathers (no sharding rule); "auto" must not.
  code = """
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from ssm_expressivity.models import scan
mesh = Mesh(np.array(jax.devices()), ("runs",))
put = lambda v: jax.device_put(np.float32(v), NamedSharding(mesh, PartitionSpec("runs")))
x, dt = put(np.ones((2, 1, 4, 3))), put(np.full((2, 1, 4, 3), 0.1))
A, B = put(-np.ones((2, 3, 2))), put(np.ones((2, 1, 4, 2)))
def hlo(method):
  run = lambda *a: jnp.sum(scan.selective_scan(*a, method=method) ** 2)
  grad = jax.jit(jax.vmap(jax.grad(run, argnums=(0, 2))))
  return grad.lower(x, dt, A, B, B).compile().as_text()
assert "all-gather" in hlo("native") and "all-gather" not in hlo("auto")
"""
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  subprocess.run([sys.executable, "-c", code], check=True, timeout=300, env=env)

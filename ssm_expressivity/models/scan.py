"""Linear recurrences h_t = a_t * h_{t-1} + b_t and Mamba's fused selective scan.

`linear_recurrence` scans given `a`, `b` along axis 1 of [batch, length, ...] arrays.
`selective_scan` is the Mamba-1 special case with the discretization and the readout fused in,
  h_t[d, n] = a_t[d, n] h_{t-1}[d, n] + dt_t[d] B_t[n] x_t[d],   y_t[d] = sum_n C_t[n] h_t[d, n],
  a_t[d, n] = exp(dt_t[d] A[d, n])  (or 2 exp(dt_t[d] A[d, n]) - 1 for the signed gate),
so the "sequential" and "chunked" methods never hold [batch, length, d_inner, d_state] arrays of
a and b.

Methods:
  "associative": jax.lax.associative_scan (parallel, O(log L) depth, the reference form).
  "sequential":  a loop over positions (lax.fori_loop / lax.scan); its custom VJP keeps one
                 state per position for the reversed loop.
  "chunked":     a loop over chunks of `chunk_size` positions; the backward pass keeps only the
                 state at each chunk start and recomputes a chunk's states when it reaches it
                 (rematerialization written into the custom VJP, as jax.checkpoint would, but
                 without autodiff's per-step residuals), so it holds O(L / chunk_size +
                 chunk_size) states.
  "native":      selective_scan only: a C++ CPU kernel through XLA's FFI (models/native_scan.py),
                 the loop over time in C++ with checkpointed states for the backward pass,
                 compiled on first use. `linear_recurrence` (real or complex gates) runs
                 "chunked" for it, so a model built with scan="native" still runs its complex
                 or diagonal-SSM layers.
  "auto":        `AUTO_METHOD[jax.default_backend()]`.

Every method accumulates in float32 whatever the input dtype, and every custom VJP uses the fact
that the backward pass of a linear recurrence is the reversed recurrence
  g_t = dL/dh_t + a_{t+1} g_{t+1},   dL/db_t = g_t,   dL/da_t = g_t h_{t-1},   dL/dh_0 = a_1 g_1.

`linear_recurrence` also takes complex `a`, `b`, `h0` (complex gates: rotations e^{i theta}, with
or without decay) and then runs in complex64. The same custom VJPs serve, unchanged: JAX's
cotangent of a complex value z under a real loss L is dL/dRe(z) - i dL/dIm(z), and it
transposes a complex-linear map without conjugating it (the cotangent of h = a x with respect
to x is a times that of h), and h_t is complex-linear in h_{t-1}, b_t and, separately, a_t.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

SCAN_METHODS = ("associative", "sequential", "chunked", "native", "auto")

# CPU until 2026-12-04: "chunked", from an in-process run of python -m experiments.benchmark
# under load 4-5 (the benchmarks/cpu.json of before 2026-12-04). On the CPU, "chunked" is
# the fastest forward+backward of the Mamba stack (B=32, L=256, d_model=64, 2 layers: 25.1k
# tokens/s vs 19.0k sequential and 5.6k associative) and of the selective scan at L=1024, is
# within 20% of "sequential" on the scan alone at L <= 256, and holds the least memory (2.6% of
# associative's temp at L=1024).
# A fair, idle per-process run (benchmarks/cpu-fair.md, 2026-12-04 00:14) then had "sequential"
# 6-26% faster than "chunked" at B32 L256 d64 2 layers and two suite shapes.
# CPU: "native" since 2026-12-04, measured fastest side by side (benchmarks/native-cpu.jsonl:
# python -m benchmarks.fair_vs_mambapy ours:METHOD SHAPE, each in its own process, native,
# sequential, chunked alternating, two rounds, nice 19 under 1-minute load 3.5-6.2): median ms
# of the Mamba stack's forward+backward, native vs chunked, at B32 L256 d_model 64 2 layers 230 vs
# 313 and 248 vs 410 (1.4-1.7x), B32 L100 d16 1 layer 3.9 vs 14.2 and 5.2 vs 15.3 (3.0-3.6x),
# B32 L50 d64 2.5x / 2.3x, B10 L100 d128 3.4x / 4.2x; native vs sequential 1.8-5.2x. Without
# a C++ compiler (with one warning) or with more than one device (forced host devices: the
# kernel has no sharding rule) "auto" runs "chunked" in selective_scan; `linear_recurrence`
# runs "chunked" for "native" either way.
# GPU: "associative", measured fastest at the headline and all six suite shapes on one H200
# (benchmarks/gpu-accelerator.md, 2026-12-04: sequential 4-16x and chunked 8-31x slower; a
# loop of L small steps leaves the device idle). TPU: not measured; "associative" for the
# same reason.
AUTO_METHOD = {"cpu": "native", "gpu": "associative", "tpu": "associative"}

DEFAULT_CHUNK_SIZE = 64

# Positions per loop body of the selective scan's lax.scan loops: unrolling measured no faster
# on the CPU (and slower for "chunked"), so 1.
_UNROLL = 1

# The loop methods of selective_scan run the batch in blocks whose per-step state [rows, D, N]
# has about this many elements (64 KiB: the L1/L2 working set). Measured on the 2-core CPU at
# batch 32, d_inner 128: 1.8x faster forward+backward than the whole batch in one loop.
_BLOCK_STATE_ELEMENTS = 16384


def resolve_method(method: str) -> str:
  """The concrete method for `method` ("auto" -> the backend's fastest measured one)."""
  if method not in SCAN_METHODS:
    raise ValueError(f"unknown scan method {method!r}; valid: {', '.join(SCAN_METHODS)}")
  if method == "auto":
    return AUTO_METHOD.get(jax.default_backend(), "associative")
  return method


def _check_chunk_size(chunk_size: int) -> int:
  if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
    raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
  return chunk_size


def balanced_chunk(length: int, chunk_size: int) -> int:
  """The chunk length, at most `chunk_size`, that splits `length` into as few and as even
  chunks as possible.

  The fewest chunks is ceil(length / chunk_size) either way; spreading the positions evenly
  pads fewer than that many positions instead of up to chunk_size - 1 (length 4 with chunk_size
  64 ran 64 steps, 16 of them padding; length 100 ran 128). Memory stays O(L / chunk + chunk).
  """
  num_chunks = -(-length // chunk_size)
  return -(-length // num_chunks)


# ---------------------------------------------------------------------------------------------
# Associative-scan building blocks.


def _assoc_combine(left, right):
  a_l, b_l = left
  a_r, b_r = right
  return a_r * a_l, a_r * b_l + b_r


def _assoc_forward(a, b, h0, axis):
  """All h_t along `axis` by associative scan; h0 enters through the first b."""
  first_b = jax.lax.index_in_dim(b, 0, axis, keepdims=False)
  first_a = jax.lax.index_in_dim(a, 0, axis, keepdims=False)
  b = jax.lax.dynamic_update_index_in_dim(b, first_b + first_a * h0, 0, axis)
  _, h = jax.lax.associative_scan(_assoc_combine, (a, b), axis=axis)
  return h


def _assoc_reverse(a, dh, carry, axis):
  """g_t = dh_t + a_{t+1} g_{t+1} along `axis` by associative scan, `carry` entering at the end.

  Returns (g, a_1 g_1): the second is the gradient with respect to the initial state.
  """
  length = a.shape[axis]
  # g_t = dh_t + a_{t+1} g_{t+1}: shift a left by one; the carry enters at the last position.
  a_next = jnp.concatenate(
      [jax.lax.slice_in_dim(a, 1, length, axis=axis), jnp.zeros_like(
          jax.lax.slice_in_dim(a, 0, 1, axis=axis))], axis=axis)
  last = jax.lax.index_in_dim(dh, length - 1, axis, keepdims=False)
  dh = jax.lax.dynamic_update_index_in_dim(dh, last + carry, length - 1, axis)
  _, g = jax.lax.associative_scan(_assoc_combine, (a_next, dh), reverse=True, axis=axis)
  first_a = jax.lax.index_in_dim(a, 0, axis, keepdims=False)
  first_g = jax.lax.index_in_dim(g, 0, axis, keepdims=False)
  return g, first_a * first_g


# ---------------------------------------------------------------------------------------------
# linear_recurrence


def _previous_states(h, h0):
  """[h_0, h_1, ..., h_{L-1}] from h = [h_1..h_L] (batch-major) and h0."""
  return jnp.concatenate([h0[:, None], h[:, :-1]], axis=1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _associative(a, b, h0, unused_chunk_size):
  return _assoc_forward(a, b, h0, axis=1)


def _associative_fwd(a, b, h0, chunk_size):
  h = _associative(a, b, h0, chunk_size)
  return h, (a, h, h0)


def _associative_bwd(unused_chunk_size, residuals, dh):
  a, h, h0 = residuals
  g, dh0 = _assoc_reverse(a, dh, jnp.zeros_like(h0), axis=1)
  return g * _previous_states(h, h0), g, dh0


_associative.defvjp(_associative_fwd, _associative_bwd)


def _index(x, t):
  return jax.lax.dynamic_index_in_dim(x, t, axis=1, keepdims=False)


def _put(buffer, value, t):
  return jax.lax.dynamic_update_index_in_dim(buffer, value, t, axis=1)


def _loop_forward(a, b, h, out, lo, hi, offset=0):
  """h_t = a_t h_{t-1} + b_t for t in [lo, hi) along axis 1, written to out[:, t - offset].

  Batch-major loops index axis 1 in place, so no [B, L, ...] array is ever transposed.
  """

  def body(t, carry):
    h, out = carry
    h = _index(a, t) * h + _index(b, t)
    return h, _put(out, h, t - offset)

  return jax.lax.fori_loop(lo, hi, body, (h, out))


def _loop_reverse(a, dh, hs, h_first, carry, da, db, lo, hi, offset=0):
  """t = hi - 1 .. lo: g_t = dh_t + carry, da_t = g_t h_{t-1}, db_t = g_t, carry = a_t g_t.

  hs[:, t - offset] holds h_t; h_{lo - 1} is h_first. Returns (carry, da, db).
  """

  def body(i, state):
    carry, da, db = state
    t = hi - 1 - i
    g = _index(dh, t) + carry
    h_prev = jnp.where(t > lo, _index(hs, jnp.maximum(t - 1 - offset, 0)), h_first)
    return _index(a, t) * g, _put(da, g * h_prev, t), _put(db, g, t)

  return jax.lax.fori_loop(0, hi - lo, body, (carry, da, db))


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _sequential(a, b, h0, unused_chunk_size):
  return _loop_forward(a, b, h0, jnp.zeros_like(b), 0, a.shape[1])[1]


def _sequential_fwd(a, b, h0, chunk_size):
  h = _sequential(a, b, h0, chunk_size)
  return h, (a, h, h0)


def _sequential_bwd(unused_chunk_size, residuals, dh):
  a, h, h0 = residuals
  dh0, da, db = _loop_reverse(a, dh, h, h0, jnp.zeros_like(h0), jnp.zeros_like(a),
                              jnp.zeros_like(a), 0, a.shape[1])
  return da, db, dh0


_sequential.defvjp(_sequential_fwd, _sequential_bwd)


def _chunked_forward(a, b, h0, chunk_size):
  """(h, states before each chunk [num_chunks, B, ...]) by loops over chunks."""
  length = a.shape[1]
  num_chunks = -(-length // chunk_size)

  def chunk(c, carry):
    h, out, starts = carry
    starts = starts.at[c].set(h)
    lo = c * chunk_size
    h, out = _loop_forward(a, b, h, out, lo, jnp.minimum(lo + chunk_size, length))
    return h, out, starts

  starts = jnp.zeros((num_chunks,) + h0.shape, h0.dtype)
  _, out, starts = jax.lax.fori_loop(0, num_chunks, chunk, (h0, jnp.zeros_like(b), starts))
  return out, starts


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _chunked(a, b, h0, chunk_size):
  return _chunked_forward(a, b, h0, chunk_size)[0]


def _chunked_fwd(a, b, h0, chunk_size):
  h, starts = _chunked_forward(a, b, h0, chunk_size)
  # Only a, b (the caller holds them anyway) and one state per chunk are kept.
  return h, (a, b, starts)


def _chunked_bwd(chunk_size, residuals, dh):
  a, b, starts = residuals
  length = a.shape[1]
  num_chunks = starts.shape[0]
  local_shape = (a.shape[0], min(chunk_size, length)) + a.shape[2:]

  def chunk(i, state):
    carry, da, db = state
    c = num_chunks - 1 - i
    lo = c * chunk_size
    hi = jnp.minimum(lo + chunk_size, length)
    # Recompute this chunk's states (the forward pass kept only its start).
    _, hs = _loop_forward(a, b, starts[c], jnp.zeros(local_shape, a.dtype), lo, hi, offset=lo)
    return _loop_reverse(a, dh, hs, starts[c], carry, da, db, lo, hi, offset=lo)

  dh0, da, db = jax.lax.fori_loop(
      0, num_chunks, chunk, (jnp.zeros_like(starts[0]), jnp.zeros_like(a), jnp.zeros_like(a)))
  return da, db, dh0


_chunked.defvjp(_chunked_fwd, _chunked_bwd)


def _split_chunks(x, chunk_size):
  """[B, L, ...] -> [num_chunks, chunk, B, ...] (time-major chunks), padding L at the end."""
  length = x.shape[1]
  num_chunks = -(-length // chunk_size)
  pad = num_chunks * chunk_size - length
  x = jnp.moveaxis(x, 1, 0)
  if pad:
    x = jnp.concatenate([x, jnp.zeros((pad,) + x.shape[1:], x.dtype)], axis=0)
  return x.reshape((num_chunks, chunk_size) + x.shape[1:])


def _join_chunks(x, length):
  """Inverse of `_split_chunks`."""
  x = x.reshape((-1,) + x.shape[2:])[:length]
  return jnp.moveaxis(x, 0, 1)


_RECURRENCES = {"associative": _associative, "sequential": _sequential, "chunked": _chunked}


def state_dtype(*arrays) -> jnp.dtype:
  """complex64 when any of `arrays` (None is skipped) is complex, else float32."""
  if any(x is not None and jnp.iscomplexobj(x) for x in arrays):
    return jnp.dtype(jnp.complex64)
  return jnp.dtype(jnp.float32)


def linear_recurrence(a, b, h0=None, method: str = "auto", *,
                      chunk_size: int = DEFAULT_CHUNK_SIZE):
  """Every h_t of h_t = a_t * h_{t-1} + b_t, t = 1..L, with h_0 = h0 (zeros if None).

  Args:
    a: [batch, length, ...] multipliers (any float or complex dtype; any sign or phase).
    b: [batch, length, ...] inputs, same shape as `a`.
    h0: optional [batch, ...] initial state.
    method: one of SCAN_METHODS ("native" runs "chunked": the kernel is selective_scan's only).
    chunk_size: positions per chunk of the "chunked" method.

  Returns:
    [batch, length, ...] array of h_1..h_L: complex64 when any of a, b, h0 is complex (the
    others are promoted, and their gradients are the real parts of the complex ones), else
    float32.
  """
  method = resolve_method(method)
  if method == "native":
    method = "chunked"
  chunk_size = _check_chunk_size(chunk_size)
  a = jnp.asarray(a)
  b = jnp.asarray(b)
  if a.shape != b.shape or a.ndim < 2:
    raise ValueError(
        f"a and b must have the same shape [batch, length, ...]; got {a.shape} and {b.shape}")
  state_shape = a.shape[:1] + a.shape[2:]
  dtype = state_dtype(a, b, h0)
  if h0 is None:
    h0 = jnp.zeros(state_shape, dtype)
  h0 = jnp.asarray(h0)
  if h0.shape != state_shape:
    raise ValueError(f"h0 must have shape [batch, ...] = {state_shape}; got {h0.shape}")
  a, b, h0 = (jnp.asarray(x, dtype) for x in (a, b, h0))
  if a.shape[1] == 0:
    return b
  return _RECURRENCES[method](a, b, h0, balanced_chunk(a.shape[1], chunk_size))


# ---------------------------------------------------------------------------------------------
# selective_scan: Mamba's discretization and readout fused into the recurrence.


def gate_values(dt, A, signed: bool = False):
  """a = exp(dt A) in (0, 1], or 2 exp(dt A) - 1 in (-1, 1] when signed; dt [..., D], A [D, N]."""
  decay = jnp.exp(dt[..., None] * A)
  return 2.0 * decay - 1.0 if signed else decay


def _selective_steps(x, dt, A, B, C, h0, signed, readout=True, keep=False):
  """Time-major fused forward: x, dt [T, b, D]; B, C [T, b, N]; h0 [b, D, N].

  Returns (y [T, b, D] or None, the states before each update [T, b, D, N] or None, h_T).
  """

  def step(h, inputs):
    x_t, dt_t, B_t, C_t = inputs
    h_new = gate_values(dt_t, A, signed) * h + (dt_t * x_t)[..., None] * B_t[..., None, :]
    y_t = jnp.einsum("bdn,bn->bd", h_new, C_t) if readout else None
    return h_new, (y_t, h if keep else None)

  h, (y, h_prev) = jax.lax.scan(step, h0, (x, dt, B, C), unroll=_UNROLL)
  return y, h_prev, h


def _selective_steps_reverse(x, dt, A, B, C, h_prev, dy, carry, signed):
  """Reverse pass over time-major inputs given the states before each update.

  carry = (dL/dh flowing into the last state from later positions, running dA).
  Returns (carry at the start, (dx, ddt, dB, dC) time-major).
  """

  def step(c, inputs):
    g_next, dA = c
    x_t, dt_t, B_t, C_t, hp_t, dy_t = inputs
    decay = jnp.exp(dt_t[..., None] * A)
    a_t = 2.0 * decay - 1.0 if signed else decay
    dtx = dt_t * x_t
    h_t = a_t * hp_t + dtx[..., None] * B_t[..., None, :]
    g = dy_t[..., None] * C_t[..., None, :] + g_next
    # d a_t / d(dt A) = decay (or 2 decay when signed).
    d_log = g * hp_t * (2.0 * decay if signed else decay)
    gb = jnp.einsum("bdn,bn->bd", g, B_t)
    ddt = jnp.einsum("bdn,dn->bd", d_log, A) + gb * x_t
    dx = gb * dt_t
    dB = jnp.einsum("bdn,bd->bn", g, dtx)
    dC = jnp.einsum("bdn,bd->bn", h_t, dy_t)
    dA = dA + jnp.einsum("bdn,bd->dn", d_log, dt_t)
    return (a_t * g, dA), (dx, ddt, dB, dC)

  return jax.lax.scan(step, carry, (x, dt, B, C, h_prev, dy), reverse=True, unroll=_UNROLL)


def _time_major(*arrays):
  return tuple(jnp.moveaxis(x, 1, 0) for x in arrays)


def _batch_major(*arrays):
  return tuple(jnp.moveaxis(x, 0, 1) for x in arrays)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _selective_sequential(x, dt, A, B, C, h0, signed):
  xt, dtt, Bt, Ct = _time_major(x, dt, B, C)
  return jnp.moveaxis(_selective_steps(xt, dtt, A, Bt, Ct, h0, signed)[0], 0, 1)


def _selective_sequential_fwd(x, dt, A, B, C, h0, signed):
  xt, dtt, Bt, Ct = _time_major(x, dt, B, C)
  y, h_prev, _ = _selective_steps(xt, dtt, A, Bt, Ct, h0, signed, keep=True)
  return jnp.moveaxis(y, 0, 1), (x, dt, A, B, C, h_prev)


def _selective_sequential_bwd(signed, residuals, dy):
  x, dt, A, B, C, h_prev = residuals
  xt, dtt, Bt, Ct, dyt = _time_major(x, dt, B, C, dy)
  carry = (jnp.zeros_like(h_prev[0]), jnp.zeros_like(A))
  (dh0, dA), grads = _selective_steps_reverse(xt, dtt, A, Bt, Ct, h_prev, dyt, carry, signed)
  dx, ddt, dB, dC = _batch_major(*grads)
  return dx, ddt, dA, dB, dC, dh0


_selective_sequential.defvjp(_selective_sequential_fwd, _selective_sequential_bwd)


def _selective_chunks(x, dt, B, C, chunk_size):
  """Time-major chunks [num_chunks, chunk, b, ...]; padding has dt = x = 0 (a = 1, b = 0)."""
  return tuple(_split_chunks(v, chunk_size) for v in (x, dt, B, C))


@functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7))
def _selective_chunked(x, dt, A, B, C, h0, signed, chunk_size):
  length = x.shape[1]

  def chunk(h, inputs):
    x_c, dt_c, B_c, C_c = inputs
    y, _, h = _selective_steps(x_c, dt_c, A, B_c, C_c, h, signed)
    return h, y

  _, y = jax.lax.scan(chunk, h0, _selective_chunks(x, dt, B, C, chunk_size))
  return _join_chunks(y, length)


def _selective_chunked_fwd(x, dt, A, B, C, h0, signed, chunk_size):
  length = x.shape[1]

  def chunk(h, inputs):
    x_c, dt_c, B_c, C_c = inputs
    y, _, h_end = _selective_steps(x_c, dt_c, A, B_c, C_c, h, signed)
    return h_end, (y, h)

  _, (y, starts) = jax.lax.scan(chunk, h0, _selective_chunks(x, dt, B, C, chunk_size))
  return _join_chunks(y, length), (x, dt, A, B, C, starts)


def _selective_chunked_bwd(signed, chunk_size, residuals, dy):
  x, dt, A, B, C, starts = residuals
  length = x.shape[1]
  chunks = _selective_chunks(x, dt, B, C, chunk_size)
  dy_chunks = _split_chunks(dy, chunk_size)

  def chunk(carry, inputs):
    x_c, dt_c, B_c, C_c, dy_c, start = inputs
    # Recompute this chunk's states (the forward pass kept only `start`).
    _, h_prev, _ = _selective_steps(x_c, dt_c, A, B_c, C_c, start, signed, readout=False,
                                    keep=True)
    return _selective_steps_reverse(x_c, dt_c, A, B_c, C_c, h_prev, dy_c, carry, signed)

  carry = (jnp.zeros_like(starts[0]), jnp.zeros_like(A))
  (dh0, dA), grads = jax.lax.scan(chunk, carry, (*chunks, dy_chunks, starts), reverse=True)
  dx, ddt, dB, dC = (_join_chunks(g, length) for g in grads)
  return dx, ddt, dA, dB, dC, dh0


_selective_chunked.defvjp(_selective_chunked_fwd, _selective_chunked_bwd)


def _selective_associative(x, dt, A, B, C, h0, signed):
  """Materialized a, b [b, L, D, N] and the associative linear recurrence."""
  a = gate_values(dt, A, signed)
  b = (dt * x)[..., None] * B[..., None, :]
  h = linear_recurrence(a, b, h0, method="associative")
  return jnp.einsum("bldn,bln->bld", h, C)


def _batch_block(batch: int, state_size: int) -> int:
  """Batch rows per block so that one step's state stays about _BLOCK_STATE_ELEMENTS."""
  return max(1, min(batch, _BLOCK_STATE_ELEMENTS // max(state_size, 1)))


def _over_batch_blocks(fn, block, *arrays):
  """fn over blocks of `block` batch rows, one block after another (lax.map).

  Rows are independent, so this changes nothing but the loops' working set. A batch that is
  not a multiple of `block` is padded with zero rows (dt = x = 0: a = 1, b = 0, y = 0).
  """
  batch = arrays[0].shape[0]
  if block >= batch:
    return fn(*arrays)
  num_blocks = -(-batch // block)
  pad = num_blocks * block - batch

  def split(v):
    if pad:
      v = jnp.concatenate([v, jnp.zeros((pad,) + v.shape[1:], v.dtype)], axis=0)
    return v.reshape((num_blocks, block) + v.shape[1:])

  out = jax.lax.map(lambda blocks: fn(*blocks), tuple(split(v) for v in arrays))
  return out.reshape((num_blocks * block,) + out.shape[2:])[:batch]


def selective_scan(x, dt, A, B, C, h0=None, *, signed: bool = False, method: str = "auto",
                   chunk_size: int = DEFAULT_CHUNK_SIZE):
  """Mamba's selective scan y_t[d] = sum_n C_t[n] h_t[d, n] (without the D skip term).

  h_t[d, n] = a_t[d, n] h_{t-1}[d, n] + dt_t[d] B_t[n] x_t[d] with a_t = exp(dt_t A) (ZOH for A,
  Euler for B), or a_t = 2 exp(dt_t A) - 1 when `signed`.

  Args:
    x, dt: [batch, length, D] input and step size (dt > 0 for the usual gate range).
    A: [D, N] (negative for Mamba).
    B, C: [batch, length, N].
    h0: optional [batch, D, N] initial state.
    signed: the signed gate 2 exp(dt A) - 1 in (-1, 1].
    method: one of SCAN_METHODS.
    chunk_size: positions per chunk of the "chunked" method ("native" picks its own
      checkpoint interval from the state size).

  Returns:
    float32 [batch, length, D].

  Raises:
    native_scan.NativeScanUnavailable: for method "native" when its kernel cannot be built.
  """
  requested, method = method, resolve_method(method)
  chunk_size = _check_chunk_size(chunk_size)
  x, dt, A, B, C = (jnp.asarray(v) for v in (x, dt, A, B, C))
  if x.ndim != 3 or dt.shape != x.shape:
    raise ValueError(f"x and dt must both be [batch, length, D]; got {x.shape} and {dt.shape}")
  batch, length, width = x.shape
  if A.ndim != 2 or A.shape[0] != width:
    raise ValueError(f"A must be [D, N] with D = {width}; got {A.shape}")
  state = A.shape[1]
  for name, v in (("B", B), ("C", C)):
    if v.shape != (batch, length, state):
      raise ValueError(f"{name} must be [batch, length, N] = {(batch, length, state)}; "
                       f"got {v.shape}")
  if h0 is None:
    h0 = jnp.zeros((batch, width, state), jnp.float32)
  h0 = jnp.asarray(h0)
  if h0.shape != (batch, width, state):
    raise ValueError(f"h0 must be [batch, D, N] = {(batch, width, state)}; got {h0.shape}")
  x, dt, A, B, C, h0 = (jnp.asarray(v, jnp.float32) for v in (x, dt, A, B, C, h0))
  if length == 0:
    return x
  if method == "associative":
    return _selective_associative(x, dt, A, B, C, h0, signed)
  if method == "native":
    # Imported here so that importing scan never builds or loads the kernel.
    from ssm_expressivity.models import native_scan  # pylint: disable=import-outside-toplevel
    # "auto" runs "chunked" instead without a compiler (available() warned once), and with more
    # than one device: the kernel has no sharding rule, so under a mesh XLA would gather its
    # operands and run it whole on every device.
    if requested != "auto" or (jax.device_count() == 1 and native_scan.available()):
      return native_scan.selective_scan(x, dt, A, B, C, h0, signed)
    method = "chunked"
  if method == "sequential":
    scan_block = lambda x, dt, B, C, h0: _selective_sequential(x, dt, A, B, C, h0, signed)
  else:
    chunk = balanced_chunk(length, chunk_size)
    scan_block = lambda x, dt, B, C, h0: _selective_chunked(x, dt, A, B, C, h0, signed, chunk)
  return _over_batch_blocks(scan_block, _batch_block(batch, width * state), x, dt, B, C, h0)

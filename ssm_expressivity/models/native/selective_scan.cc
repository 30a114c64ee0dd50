// Mamba's selective scan on the CPU, forward and backward, as two XLA FFI handlers.
//
//   h_t[d, n] = a_t[d, n] h_{t-1}[d, n] + dt_t[d] B_t[n] x_t[d],   y_t[d] = sum_n C_t[n] h_t[d, n]
//   a_t = exp(dt_t[d] A[d, n])   or   2 exp(dt_t[d] A[d, n]) - 1 (signed gate).
//
// Layout: inside the kernel a batch row's state is [N][Dp] (d fastest, Dp = D rounded up to the
// vector width, the padding lanes held at dt = x = 0 so they stay 0), so every update, the
// readout over n and the backward's sums over n are vertical vector operations; only dB and dC
// (sums over d) need one horizontal sum per n and step. The loop over time runs here, so the
// state stays in L1 for the whole sequence.
//
// The forward writes y and the state at the start of every `checkpoint_every` positions
// ([rows, num_chunks, N, D]); the backward recomputes each chunk's states and gates from its
// checkpoint into a small buffer (kept in L2) and runs the reversed recurrence over it.
//
// Leading dimensions beyond [B, L, D] (from jax.vmap, vmap_method="broadcast_all") are groups:
// A has shape [G..., D, N], x [G..., B, L, D]; dA is [G..., D, N], summed over each group's rows.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

#if defined(__AVX512F__)
constexpr int kWidth = 16;
#else
constexpr int kWidth = 8;
#endif

typedef float Vec __attribute__((vector_size(kWidth * 4)));
typedef int32_t IVec __attribute__((vector_size(kWidth * 4)));

inline Vec Splat(float v) { return Vec{} + v; }

inline Vec Load(const float* p) { return *reinterpret_cast<const Vec*>(p); }

inline void Store(float* p, Vec v) { *reinterpret_cast<Vec*>(p) = v; }

inline float HorizontalSum(Vec v) {
  float total = 0.0f;
  for (int i = 0; i < kWidth; ++i) total += v[i];
  return total;
}

// exp(v) lane by lane: v = k ln2 + r with |r| <= ln2 / 2 (ln2 split in two so k ln2 is exact),
// e^r by its degree-7 Taylor polynomial (truncation error < 1e-8 relative, below float
// rounding), times 2^k built in the exponent bits. Inputs are clamped to the float range, so
// very negative v gives ~1e-38 instead of a denormal or 0 (absolute error < 2e-38).
inline Vec Exp(Vec v) {
  const Vec kMax = Splat(88.37f), kMin = Splat(-87.33f);
  v = v > kMax ? kMax : v;
  v = v < kMin ? kMin : v;
  // Round v / ln2 to the nearest integer by the 1.5 * 2^23 trick (no conversion instruction).
  const Vec kShift = Splat(12582912.0f);
  Vec k = v * Splat(1.44269504088896341f) + kShift;
  k = k - kShift;
  Vec r = v - k * Splat(0.693359375f);
  r = r - k * Splat(-2.12194440e-4f);
  Vec p = Splat(1.0f / 5040.0f);
  p = p * r + Splat(1.0f / 720.0f);
  p = p * r + Splat(1.0f / 120.0f);
  p = p * r + Splat(1.0f / 24.0f);
  p = p * r + Splat(1.0f / 6.0f);
  p = p * r + Splat(0.5f);
  p = p * r + Splat(1.0f);
  p = p * r + Splat(1.0f);
  IVec bits = (__builtin_convertvector(k, IVec) + 127) << 23;
  Vec scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// 64-byte aligned float scratch, zero-initialized.
class Scratch {
 public:
  explicit Scratch(size_t size) : storage_(size + 16, 0.0f) {
    uintptr_t address = reinterpret_cast<uintptr_t>(storage_.data());
    data_ = storage_.data() + ((64 - address % 64) % 64) / sizeof(float);
  }
  float* data() { return data_; }

 private:
  std::vector<float> storage_;
  float* data_;
};

struct Shape {
  int64_t groups, rows_per_group, length, width, state, padded_width, num_chunks, chunk;
};

// Shapes from the buffers, or an error naming the mismatch.
ffi::Error ReadShape(ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dt,
                     ffi::Buffer<ffi::F32> a_mat, ffi::Buffer<ffi::F32> b_mat,
                     ffi::Buffer<ffi::F32> c_mat, int64_t chunk, Shape* shape) {
  auto x_dims = x.dimensions();
  auto a_dims = a_mat.dimensions();
  if (x_dims.size() < 3 || a_dims.size() < 2 || chunk < 1) {
    return ffi::Error::InvalidArgument("selective_scan: x must be [..., B, L, D], A [..., D, N]");
  }
  Shape s;
  s.length = x_dims[x_dims.size() - 2];
  s.width = x_dims[x_dims.size() - 1];
  s.state = a_dims[a_dims.size() - 1];
  if (a_dims[a_dims.size() - 2] != s.width || s.length < 1 || s.width < 1 || s.state < 1) {
    return ffi::Error::InvalidArgument("selective_scan: A must be [..., D, N] with x's D");
  }
  s.groups = a_mat.element_count() / (s.width * s.state);
  int64_t rows = x.element_count() / (s.length * s.width);
  if (s.groups < 1 || rows % s.groups != 0 || dt.element_count() != x.element_count() ||
      b_mat.element_count() != static_cast<size_t>(rows * s.length * s.state) ||
      c_mat.element_count() != b_mat.element_count()) {
    return ffi::Error::InvalidArgument("selective_scan: inconsistent x, dt, A, B, C shapes");
  }
  s.rows_per_group = rows / s.groups;
  s.padded_width = (s.width + kWidth - 1) / kWidth * kWidth;
  s.chunk = chunk;
  s.num_chunks = (s.length + chunk - 1) / chunk;
  *shape = s;
  return ffi::Error::Success();
}

// A [D, N] -> [N][Dp] (padding 0).
void TransposeA(const float* a_mat, const Shape& s, float* a_t) {
  for (int64_t d = 0; d < s.width; ++d)
    for (int64_t n = 0; n < s.state; ++n) a_t[n * s.padded_width + d] = a_mat[d * s.state + n];
}

// One position's row of x, dt or dy into a padded buffer (its padding lanes stay 0).
inline void LoadRow(const float* src, int64_t width, float* dst) {
  std::memcpy(dst, src, width * sizeof(float));
}

template <bool kSigned>
inline Vec Gate(Vec decay) {
  return kSigned ? decay + decay - Splat(1.0f) : decay;
}

// Forward over one batch row: y [L, D], checkpoints [num_chunks, N, D].
template <bool kSigned>
void ForwardRow(const float* x, const float* dt, const float* b_mat, const float* c_mat,
                const float* h0, const float* a_t, const Shape& s, float* y, float* checkpoints,
                float* h, float* dt_row, float* x_row, float* y_row) {
  const int64_t dp = s.padded_width, width = s.width, state = s.state;
  std::fill(h, h + state * dp, 0.0f);
  for (int64_t d = 0; d < width; ++d)
    for (int64_t n = 0; n < state; ++n) h[n * dp + d] = h0[d * state + n];
  for (int64_t t = 0; t < s.length; ++t) {
    if (t % s.chunk == 0) {
      float* out = checkpoints + (t / s.chunk) * state * width;
      for (int64_t n = 0; n < state; ++n) std::memcpy(out + n * width, h + n * dp, width * 4);
    }
    LoadRow(dt + t * width, width, dt_row);
    LoadRow(x + t * width, width, x_row);
    const float* b_t = b_mat + t * state;
    const float* c_t = c_mat + t * state;
    for (int64_t k = 0; k < dp; k += kWidth) {
      const Vec dt_v = Load(dt_row + k);
      const Vec dtx_v = dt_v * Load(x_row + k);
      Vec y_v = Splat(0.0f);
      for (int64_t n = 0; n < state; ++n) {
        float* h_n = h + n * dp + k;
        const Vec a_v = Gate<kSigned>(Exp(dt_v * Load(a_t + n * dp + k)));
        const Vec h_v = a_v * Load(h_n) + dtx_v * b_t[n];
        Store(h_n, h_v);
        y_v += h_v * c_t[n];
      }
      Store(y_row + k, y_v);
    }
    std::memcpy(y + t * width, y_row, width * 4);
  }
}

// Backward over one batch row. Accumulates into d_a_t [N][Dp]; writes dx, ddt [L, D],
// dB, dC [L, N], dh0 [D, N]. `states` and `decays` hold chunk * N * Dp floats each.
template <bool kSigned>
void BackwardRow(const float* x, const float* dt, const float* b_mat, const float* c_mat,
                 const float* checkpoints, const float* dy, const float* a_t, const Shape& s,
                 float* dx, float* ddt, float* db, float* dc, float* dh0, float* d_a_t,
                 float* states, float* decays, float* carry, float* h, float* dt_row,
                 float* x_row, float* dy_row, float* out_row, float* out_row2, Vec* db_acc,
                 Vec* dc_acc) {
  const int64_t dp = s.padded_width, width = s.width, state = s.state, plane = state * dp;
  std::fill(carry, carry + plane, 0.0f);
  for (int64_t c = s.num_chunks - 1; c >= 0; --c) {
    const int64_t lo = c * s.chunk, hi = std::min(lo + s.chunk, s.length);
    // Recompute the chunk's states before each update, and its decays, from the checkpoint.
    const float* start = checkpoints + c * state * width;
    for (int64_t n = 0; n < state; ++n) std::memcpy(h + n * dp, start + n * width, width * 4);
    for (int64_t t = lo; t < hi; ++t) {
      float* states_t = states + (t - lo) * plane;
      float* decays_t = decays + (t - lo) * plane;
      std::memcpy(states_t, h, plane * 4);
      LoadRow(dt + t * width, width, dt_row);
      LoadRow(x + t * width, width, x_row);
      const float* b_t = b_mat + t * state;
      for (int64_t k = 0; k < dp; k += kWidth) {
        const Vec dt_v = Load(dt_row + k);
        const Vec dtx_v = dt_v * Load(x_row + k);
        for (int64_t n = 0; n < state; ++n) {
          const int64_t i = n * dp + k;
          const Vec decay = Exp(dt_v * Load(a_t + i));
          Store(decays_t + i, decay);
          Store(h + i, Gate<kSigned>(decay) * Load(h + i) + dtx_v * b_t[n]);
        }
      }
    }
    // The reversed recurrence g_t = C_t dy_t + a_{t+1} g_{t+1} over the chunk.
    for (int64_t t = hi - 1; t >= lo; --t) {
      const float* states_t = states + (t - lo) * plane;
      const float* decays_t = decays + (t - lo) * plane;
      LoadRow(dt + t * width, width, dt_row);
      LoadRow(x + t * width, width, x_row);
      LoadRow(dy + t * width, width, dy_row);
      const float* b_t = b_mat + t * state;
      const float* c_t = c_mat + t * state;
      for (int64_t n = 0; n < state; ++n) db_acc[n] = dc_acc[n] = Splat(0.0f);
      for (int64_t k = 0; k < dp; k += kWidth) {
        const Vec dt_v = Load(dt_row + k), x_v = Load(x_row + k), dy_v = Load(dy_row + k);
        const Vec dtx_v = dt_v * x_v;
        Vec gb = Splat(0.0f), ddt_v = Splat(0.0f);
        for (int64_t n = 0; n < state; ++n) {
          const int64_t i = n * dp + k;
          const Vec decay = Load(decays_t + i), h_prev = Load(states_t + i);
          const Vec a_v = Gate<kSigned>(decay);
          const Vec g = dy_v * c_t[n] + Load(carry + i);
          // d a_t / d(dt A) = decay (2 decay for the signed gate).
          const Vec d_log = g * h_prev * (kSigned ? decay + decay : decay);
          gb += g * b_t[n];
          ddt_v += d_log * Load(a_t + i);
          Store(d_a_t + i, Load(d_a_t + i) + d_log * dt_v);
          db_acc[n] += g * dtx_v;
          dc_acc[n] += (a_v * h_prev + dtx_v * b_t[n]) * dy_v;
          Store(carry + i, a_v * g);
        }
        Store(out_row + k, gb * dt_v);
        Store(out_row2 + k, ddt_v + gb * x_v);
      }
      std::memcpy(dx + t * width, out_row, width * 4);
      std::memcpy(ddt + t * width, out_row2, width * 4);
      for (int64_t n = 0; n < state; ++n) {
        db[t * state + n] = HorizontalSum(db_acc[n]);
        dc[t * state + n] = HorizontalSum(dc_acc[n]);
      }
    }
  }
  for (int64_t d = 0; d < width; ++d)
    for (int64_t n = 0; n < state; ++n) dh0[d * state + n] = carry[n * dp + d];
}

// Runs worker(row) for every row in [0, rows) on up to `max_workers` threads of XLA's intra-op
// pool, the calling thread included. Rows are claimed one at a time from a shared counter, and
// the caller works through whatever is unclaimed itself, so it only ever waits for rows already
// running on another thread (never for a task the pool has not started, which could deadlock a
// busy pool). A task that starts after every row is claimed touches nothing but the counter
// (kept alive by the shared_ptr). `make_worker()` gives each thread its own scratch.
struct RowProgress {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mutex;
  std::condition_variable finished;
};

template <typename MakeWorker>
void ForEachRow(ffi::ThreadPool& pool, int64_t rows, int64_t max_workers,
                MakeWorker make_worker) {
  auto progress = std::make_shared<RowProgress>();
  auto task = [progress, rows, make_worker]() {
    int64_t row = progress->next.fetch_add(1);
    if (row >= rows) return;
    auto worker = make_worker();
    int64_t count = 0;
    for (; row < rows; row = progress->next.fetch_add(1), ++count) worker(row);
    if (progress->done.fetch_add(count) + count == rows) {
      std::lock_guard<std::mutex> lock(progress->mutex);
      progress->finished.notify_all();
    }
  };
  const int64_t workers = std::max<int64_t>(1, std::min(rows, max_workers));
  for (int64_t i = 1; i < workers; ++i) pool.Schedule([task] { task(); });
  task();
  std::unique_lock<std::mutex> lock(progress->mutex);
  progress->finished.wait(lock, [&] { return progress->done.load() == rows; });
}

int64_t MaxWorkers(ffi::ThreadPool& pool, int64_t max_threads) {
  const int64_t available = std::max<int64_t>(1, pool.num_threads());
  return max_threads > 0 ? std::min(max_threads, available) : available;
}

ffi::Error SelectiveScanForward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x,
                                ffi::Buffer<ffi::F32> dt, ffi::Buffer<ffi::F32> a_mat,
                                ffi::Buffer<ffi::F32> b_mat, ffi::Buffer<ffi::F32> c_mat,
                                ffi::Buffer<ffi::F32> h0, bool signed_gate,
                                int64_t checkpoint_every, int64_t max_threads,
                                ffi::ResultBuffer<ffi::F32> y,
                                ffi::ResultBuffer<ffi::F32> checkpoints) {
  Shape s;
  ffi::Error error = ReadShape(x, dt, a_mat, b_mat, c_mat, checkpoint_every, &s);
  if (error.failure()) return error;
  const int64_t rows = s.groups * s.rows_per_group, plane = s.state * s.padded_width;
  if (h0.element_count() != static_cast<size_t>(rows * s.width * s.state) ||
      y->element_count() != x.element_count() ||
      checkpoints->element_count() !=
          static_cast<size_t>(rows * s.num_chunks * s.state * s.width)) {
    return ffi::Error::InvalidArgument("selective_scan: h0, y or checkpoint shape mismatch");
  }
  const int64_t dp = s.padded_width;
  Scratch a_t(s.groups * plane);
  for (int64_t g = 0; g < s.groups; ++g)
    TransposeA(a_mat.typed_data() + g * s.width * s.state, s, a_t.data() + g * plane);
  const int64_t seq = s.length * s.width, seq_state = s.length * s.state;
  const int64_t ckpt_size = s.num_chunks * s.state * s.width;
  auto make_worker = [&]() {
    auto scratch = std::make_shared<Scratch>(plane + 3 * dp);
    return [&, scratch](int64_t r) {
      float* h = scratch->data();
      float* dt_row = h + plane;
      float* x_row = dt_row + dp;
      float* y_row = x_row + dp;
      auto run = signed_gate ? ForwardRow<true> : ForwardRow<false>;
      run(x.typed_data() + r * seq, dt.typed_data() + r * seq, b_mat.typed_data() + r * seq_state,
          c_mat.typed_data() + r * seq_state, h0.typed_data() + r * s.width * s.state,
          a_t.data() + (r / s.rows_per_group) * plane, s, y->typed_data() + r * seq,
          checkpoints->typed_data() + r * ckpt_size, h, dt_row, x_row, y_row);
    };
  };
  ForEachRow(pool, rows, MaxWorkers(pool, max_threads), make_worker);
  return ffi::Error::Success();
}

ffi::Error SelectiveScanBackward(
    ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dt,
    ffi::Buffer<ffi::F32> a_mat, ffi::Buffer<ffi::F32> b_mat, ffi::Buffer<ffi::F32> c_mat,
    ffi::Buffer<ffi::F32> checkpoints, ffi::Buffer<ffi::F32> dy, bool signed_gate,
    int64_t checkpoint_every, int64_t max_threads, ffi::ResultBuffer<ffi::F32> dx,
    ffi::ResultBuffer<ffi::F32> ddt, ffi::ResultBuffer<ffi::F32> da,
    ffi::ResultBuffer<ffi::F32> db, ffi::ResultBuffer<ffi::F32> dc,
    ffi::ResultBuffer<ffi::F32> dh0) {
  Shape s;
  ffi::Error error = ReadShape(x, dt, a_mat, b_mat, c_mat, checkpoint_every, &s);
  if (error.failure()) return error;
  const int64_t rows = s.groups * s.rows_per_group;
  if (dy.element_count() != x.element_count() ||
      checkpoints.element_count() !=
          static_cast<size_t>(rows * s.num_chunks * s.state * s.width)) {
    return ffi::Error::InvalidArgument("selective_scan: dy or checkpoint shape mismatch");
  }
  const int64_t dp = s.padded_width, plane = s.state * dp;
  Scratch a_t(s.groups * plane);
  for (int64_t g = 0; g < s.groups; ++g)
    TransposeA(a_mat.typed_data() + g * s.width * s.state, s, a_t.data() + g * plane);
  // Each row's dA goes to its own plane, summed below in row order: the result does not depend
  // on which thread ran which row.
  Scratch d_a_rows(rows * plane);
  const int64_t seq = s.length * s.width, seq_state = s.length * s.state;
  const int64_t ckpt_size = s.num_chunks * s.state * s.width;
  auto make_worker = [&]() {
    auto scratch = std::make_shared<Scratch>((2 + 2 * s.chunk) * plane + 5 * dp);
    auto accumulators = std::make_shared<std::vector<Vec>>(2 * s.state);
    return [&, scratch, accumulators](int64_t r) {
      float* carry = scratch->data();
      float* h = carry + plane;
      float* states = h + plane;
      float* decays = states + s.chunk * plane;
      float* dt_row = decays + s.chunk * plane;
      float* x_row = dt_row + dp;
      float* dy_row = x_row + dp;
      float* out_row = dy_row + dp;
      float* out_row2 = out_row + dp;
      auto run = signed_gate ? BackwardRow<true> : BackwardRow<false>;
      run(x.typed_data() + r * seq, dt.typed_data() + r * seq, b_mat.typed_data() + r * seq_state,
          c_mat.typed_data() + r * seq_state, checkpoints.typed_data() + r * ckpt_size,
          dy.typed_data() + r * seq, a_t.data() + (r / s.rows_per_group) * plane, s,
          dx->typed_data() + r * seq, ddt->typed_data() + r * seq,
          db->typed_data() + r * seq_state, dc->typed_data() + r * seq_state,
          dh0->typed_data() + r * s.width * s.state, d_a_rows.data() + r * plane, states, decays,
          carry, h, dt_row, x_row, dy_row, out_row, out_row2, accumulators->data(),
          accumulators->data() + s.state);
    };
  };
  ForEachRow(pool, rows, MaxWorkers(pool, max_threads), make_worker);
  for (int64_t g = 0; g < s.groups; ++g) {
    float* total = d_a_rows.data() + g * s.rows_per_group * plane;
    for (int64_t r = 1; r < s.rows_per_group; ++r) {
      const float* row = total + r * plane;
      for (int64_t i = 0; i < plane; ++i) total[i] += row[i];
    }
    float* da_g = da->typed_data() + g * s.width * s.state;
    for (int64_t d = 0; d < s.width; ++d)
      for (int64_t n = 0; n < s.state; ++n) da_g[d * s.state + n] = total[n * dp + d];
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(SsmSelectiveScanForward, SelectiveScanForward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // x
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dt
                                  .Arg<ffi::Buffer<ffi::F32>>()  // A
                                  .Arg<ffi::Buffer<ffi::F32>>()  // B
                                  .Arg<ffi::Buffer<ffi::F32>>()  // C
                                  .Arg<ffi::Buffer<ffi::F32>>()  // h0
                                  .Attr<bool>("signed_gate")
                                  .Attr<int64_t>("checkpoint_every")
                                  .Attr<int64_t>("max_threads")
                                  .Ret<ffi::Buffer<ffi::F32>>()  // y
                                  .Ret<ffi::Buffer<ffi::F32>>());  // checkpoints

XLA_FFI_DEFINE_HANDLER_SYMBOL(SsmSelectiveScanBackward, SelectiveScanBackward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // x
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dt
                                  .Arg<ffi::Buffer<ffi::F32>>()  // A
                                  .Arg<ffi::Buffer<ffi::F32>>()  // B
                                  .Arg<ffi::Buffer<ffi::F32>>()  // C
                                  .Arg<ffi::Buffer<ffi::F32>>()  // checkpoints
                                  .Arg<ffi::Buffer<ffi::F32>>()  // dy
                                  .Attr<bool>("signed_gate")
                                  .Attr<int64_t>("checkpoint_every")
                                  .Attr<int64_t>("max_threads")
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dx
                                  .Ret<ffi::Buffer<ffi::F32>>()  // ddt
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dA
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dB
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dC
                                  .Ret<ffi::Buffer<ffi::F32>>());  // dh0

// CPU kernels of the DIIRF filter and FCAM gate.
//
// Two kinds of loop, each run with at::parallel_for:
//  - recurrences over tasks of (b, l, a block of kBlock pixels): the filter forward, and the
//    adjoint backward. They touch the small logit-sized tensors only.
//  - streams over the feature rows (b, t, c), which move almost all of the gate's bytes: the
//    forward's out = feat * s, the backward's grad_feat = grad * s and channel sum of grad * feat.
//    Each thread walks one contiguous range of memory, so the hardware prefetchers keep up.
// The gate's s = sigmoid(y) and dL/dy live in a scratch tensor of logits' size, (B, T, L, HW).
// Every inner loop runs over contiguous pixels, so the compiler vectorises it. Arithmetic is in
// the accumulation type acc_t (float, or double for double inputs).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../diirf.h"

namespace fasstream {
namespace {

constexpr int64_t kBlock = CpuKernels::kBlock;
constexpr int64_t kStreamBlock = 4096;  // pixels of one (b, t, l) row per backward stream task

// Element loads and stores of the streams, in acc_t. c10's bfloat16 conversion branches on NaN
// for every element, which keeps the compiler from vectorising the loop; the bit-level version
// here (round to nearest even, NaN kept a quiet NaN) gives the same values and vectorises.
template <typename scalar_t>
struct Elem {
  using acc_t = at::opmath_type<scalar_t>;
  static acc_t load(const scalar_t* p, int64_t q) { return acc_t(p[q]); }
  static void store(scalar_t* p, int64_t q, acc_t v) { p[q] = scalar_t(v); }
};

template <>
struct Elem<c10::BFloat16> {
  static float load(const c10::BFloat16* p, int64_t q) {
    const uint32_t bits = uint32_t(reinterpret_cast<const uint16_t*>(p)[q]) << 16;
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  static void store(c10::BFloat16* p, int64_t q, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof v);
    const uint16_t rounded = uint16_t((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    reinterpret_cast<uint16_t*>(p)[q] = v != v ? uint16_t(0x7FC0) : rounded;
  }
};

// The streams' row loops are built for AVX-512, AVX2 and baseline x86-64 and picked at load time
// (GCC function multiversioning): the extension's own flags target baseline x86-64 (SSE2), which
// leaves bfloat16 rows compute-bound and rows in cache short of the bandwidth.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FASSTREAM_ROW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASSTREAM_ROW_CLONES
#endif

// out = feat * s over one row.
template <typename scalar_t, typename acc_t>
FASSTREAM_ROW_CLONES void scale_row(const scalar_t* __restrict__ f, const acc_t* __restrict__ s,
                                    scalar_t* __restrict__ out, int64_t n) {
  for (int64_t q = 0; q < n; ++q) Elem<scalar_t>::store(out, q, Elem<scalar_t>::load(f, q) * s[q]);
}

// grad_feat = grad * s and dot += grad * feat over one row.
template <typename scalar_t, typename acc_t>
FASSTREAM_ROW_CLONES void grad_row(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ f,
                                   const acc_t* __restrict__ s, acc_t* __restrict__ dot,
                                   scalar_t* __restrict__ grad_feat, int64_t n) {
  for (int64_t q = 0; q < n; ++q) {
    const acc_t g = Elem<scalar_t>::load(grad, q);
    dot[q] += g * Elem<scalar_t>::load(f, q);
    Elem<scalar_t>::store(grad_feat, q, g * s[q]);
  }
}

// exp(v) for float in plain arithmetic the compiler vectorises (libm's expf is a call per element):
// v = n ln2 + r with |r| <= ln2/2, exp(r) by the Cephes polynomial (max relative error about 2e-7),
// 2^n put into the exponent bits. Inputs are clamped to [-87.3, 88.3], where 2^n stays a normal float.
inline float exp_vec(float v) {
  v = std::min(std::max(v, -87.3f), 88.3f);
  const float n = (v * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (v - n * 0.693359375f) + n * 2.12194440e-4f;  // v - n ln2, ln2 in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const uint32_t bits = uint32_t(int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float exp_acc(float v) { return exp_vec(v); }
inline double exp_acc(double v) { return std::exp(v); }

// s = sigmoid(y) over one row.
template <typename acc_t>
FASSTREAM_ROW_CLONES void sigmoid_row(const acc_t* __restrict__ y, acc_t* __restrict__ s, int64_t n) {
  for (int64_t q = 0; q < n; ++q) s[q] = acc_t(1) / (acc_t(1) + exp_acc(-y[q]));
}

template <typename acc_t>
struct Coeffs {
  acc_t b0, b1, b2, a1, a2;
  Coeffs(const Problem& p, int64_t l)
      : Coeffs(p.coeffs.const_data_ptr<acc_t>() + 5 * (p.shared_coeffs() ? 0 : l)) {}
  explicit Coeffs(const acc_t* c) : b0(c[0]), b1(c[1]), b2(c[2]), a1(c[3]), a2(c[4]) {}
};

// A recurrence task: batch b, logit channel l, pixels [p0, p0 + n) of every (b, t, l) row.
struct Task {
  int64_t b, l, p0, n;
};

inline int64_t recurrence_tasks(const Problem& p) { return p.B * p.L * pixel_blocks(p.HW, kBlock); }

inline Task task_of(const Problem& p, int64_t i) {
  const int64_t nblk = pixel_blocks(p.HW, kBlock);
  Task t;
  t.p0 = (i % nblk) * kBlock;
  t.l = (i / nblk) % p.L;
  t.b = i / nblk / p.L;
  t.n = std::min(kBlock, p.HW - t.p0);
  return t;
}

// Offset of the first pixel of (b, t, l) in a (B, T, L, HW) tensor: x, the scratch, grad_x.
inline int64_t xrow(const Problem& p, int64_t b, int64_t t, int64_t l) { return ((b * p.T + t) * p.L + l) * p.HW; }

// Runs eqs (1)-(3) over the task's pixels, writes step t's y to ys + t * ystride and hands it
// to `emit(t, y)`.
template <typename scalar_t, typename acc_t, typename Emit>
void run_filter(const Problem& p, const Task& tk, acc_t* __restrict__ h1, acc_t* __restrict__ h2, acc_t* ys,
                int64_t ystride, Emit emit) {
  const scalar_t* x = p.x.const_data_ptr<scalar_t>();
  const Coeffs<acc_t> c(p, tk.l);
  std::fill(h1, h1 + tk.n, acc_t(0));
  std::fill(h2, h2 + tk.n, acc_t(0));
  for (int64_t t = 0; t < p.T; ++t) {
    const scalar_t* __restrict__ xr = x + xrow(p, tk.b, t, tk.l) + tk.p0;
    acc_t* __restrict__ y = ys + t * ystride;
    for (int64_t q = 0; q < tk.n; ++q) {
      const acc_t xn = xr[q];
      const acc_t yn = c.b0 * xn + h1[q];
      h1[q] = c.b1 * xn + h2[q] - c.a1 * yn;
      h2[q] = c.b2 * xn - c.a2 * yn;
      y[q] = yn;
    }
    emit(t, static_cast<const acc_t*>(y));
  }
}

// Filter mode: out = y. Gate mode: scratch = s = sigmoid(y), for the streams.
template <typename scalar_t, typename acc_t>
void filter_pass(const Problem& p, scalar_t* out, acc_t* scratch) {
  at::parallel_for(0, recurrence_tasks(p), 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> buf(3 * kBlock);
    for (int64_t i = begin; i < end; ++i) {
      const Task tk = task_of(p, i);
      run_filter<scalar_t>(p, tk, buf.data(), buf.data() + kBlock, buf.data() + 2 * kBlock, 0,
                           [&](int64_t t, const acc_t* y) {
                             const int64_t r = xrow(p, tk.b, t, tk.l) + tk.p0;
                             if (out != nullptr) {
                               for (int64_t q = 0; q < tk.n; ++q) out[r + q] = scalar_t(y[q]);
                             } else {
                               sigmoid_row(y, scratch + r, tk.n);
                             }
                           });
    }
  });
}

template <typename scalar_t>
void forward_kernel(const Problem& p, at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  scalar_t* o = out.mutable_data_ptr<scalar_t>();
  if (!p.gate) {
    filter_pass<scalar_t, acc_t>(p, o, nullptr);
    return;
  }
  at::Tensor s = at::empty_like(p.x, p.coeffs.options());
  acc_t* sv = s.mutable_data_ptr<acc_t>();
  filter_pass<scalar_t, acc_t>(p, nullptr, sv);
  // out row (b, t, c) = feat row * s row (b, t, c / G): the rows in memory order.
  const scalar_t* feat = p.feat.const_data_ptr<scalar_t>();
  const int64_t G = p.groups(), HW = p.HW;
  at::parallel_for(0, p.B * p.T * p.C, std::max<int64_t>(1, 16384 / HW), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      scale_row(feat + r * HW, sv + (r / p.C * p.L + r % p.C / G) * HW, o + r * HW, HW);
    }
  });
}

// Gate backward stream: for each (b, t, l) row, grad_feat = grad * s over its G channels, and
// the scratch's s turns into dL/dy = s (1 - s) sum_g grad * feat.
template <typename scalar_t, typename acc_t>
void gate_backward_stream(const Problem& p, const scalar_t* go, scalar_t* gf, acc_t* scratch) {
  const scalar_t* feat = p.feat.const_data_ptr<scalar_t>();
  const int64_t G = p.groups(), HW = p.HW, nblk = pixel_blocks(HW, kStreamBlock);
  at::parallel_for(0, p.B * p.T * p.L * nblk, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> dotbuf(kStreamBlock);
    acc_t* __restrict__ dot = dotbuf.data();
    for (int64_t i = begin; i < end; ++i) {
      const int64_t btl = i / nblk, p0 = (i % nblk) * kStreamBlock, n = std::min(kStreamBlock, HW - p0);
      acc_t* __restrict__ s = scratch + btl * HW + p0;
      std::fill(dot, dot + n, acc_t(0));
      for (int64_t g = 0; g < G; ++g) {
        const int64_t r = (btl * G + g) * HW + p0;  // feature row (b, t, l * G + g)
        grad_row(go + r, feat + r, static_cast<const acc_t*>(s), dot, gf + r, n);
      }
      for (int64_t q = 0; q < n; ++q) s[q] = s[q] * (acc_t(1) - s[q]) * dot[q];
    }
  });
}

// Adjoint of the filter, per recurrence task, from dL/dy (gy, laid out like x): g[n] = gy[n] -
// a1 g[n+1] - a2 g[n+2] gives dL/dx[n] = b0 g[n] + b1 g[n+1] + b2 g[n+2], dL/db_k = sum g[n] x[n-k],
// dL/da_k = -sum g[n] y[n-k]. y is recomputed from x. Writes grad_x and one partials row a task.
template <typename scalar_t, typename acc_t, typename gy_t>
void adjoint_pass(const Problem& p, const gy_t* gy, scalar_t* gx, acc_t* part) {
  const scalar_t* x = p.x.const_data_ptr<scalar_t>();
  const int64_t T = p.T;
  at::parallel_for(0, recurrence_tasks(p), 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> ys(T * kBlock), buf(4 * kBlock);
    acc_t* __restrict__ g1 = buf.data();
    acc_t* __restrict__ g2 = g1 + kBlock;
    for (int64_t i = begin; i < end; ++i) {
      const Task tk = task_of(p, i);
      const int64_t n = tk.n;
      run_filter<scalar_t>(p, tk, buf.data() + 2 * kBlock, buf.data() + 3 * kBlock, ys.data(), kBlock,
                           [](int64_t, const acc_t*) {});
      const Coeffs<acc_t> c(p, tk.l);
      acc_t db0 = 0, db1 = 0, db2 = 0, da1 = 0, da2 = 0;
      std::fill(g1, g1 + n, acc_t(0));
      std::fill(g2, g2 + n, acc_t(0));
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t r = xrow(p, tk.b, t, tk.l) + tk.p0;
        const gy_t* __restrict__ gyr = gy + r;
        const scalar_t* __restrict__ xr = x + r;
        scalar_t* __restrict__ gxr = gx + r;
#pragma omp simd reduction(+ : db0)
        for (int64_t q = 0; q < n; ++q) {
          const acc_t gn = acc_t(gyr[q]) - c.a1 * g1[q] - c.a2 * g2[q];
          gxr[q] = scalar_t(c.b0 * gn + c.b1 * g1[q] + c.b2 * g2[q]);
          db0 += gn * acc_t(xr[q]);
          g2[q] = g1[q];
          g1[q] = gn;
        }
        if (t >= 1) {
          const scalar_t* __restrict__ xp = x + r - p.L * p.HW;  // x[t - 1]
          const acc_t* __restrict__ yp = ys.data() + (t - 1) * kBlock;
#pragma omp simd reduction(+ : db1, da1)
          for (int64_t q = 0; q < n; ++q) {
            db1 += g1[q] * acc_t(xp[q]);
            da1 -= g1[q] * yp[q];
          }
        }
        if (t >= 2) {
          const scalar_t* __restrict__ xp = x + r - 2 * p.L * p.HW;  // x[t - 2]
          const acc_t* __restrict__ yp = ys.data() + (t - 2) * kBlock;
#pragma omp simd reduction(+ : db2, da2)
          for (int64_t q = 0; q < n; ++q) {
            db2 += g1[q] * acc_t(xp[q]);
            da2 -= g1[q] * yp[q];
          }
        }
      }
      acc_t* out = part + 5 * i;  // partials are (B, L, nblocks, 5), the task order
      out[0] = db0, out[1] = db1, out[2] = db2, out[3] = da1, out[4] = da2;
    }
  });
}

template <typename scalar_t>
at::Tensor backward_kernel(const Problem& p, const at::Tensor& grad, at::Tensor& grad_feat, at::Tensor& grad_x) {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* go = grad.const_data_ptr<scalar_t>();
  scalar_t* gx = grad_x.mutable_data_ptr<scalar_t>();
  at::Tensor partials = at::empty({p.B, p.L, pixel_blocks(p.HW, kBlock), 5}, p.coeffs.options());
  acc_t* part = partials.mutable_data_ptr<acc_t>();
  if (!p.gate) {
    adjoint_pass<scalar_t, acc_t>(p, go, gx, part);  // dL/dy is the incoming gradient
    return partials;
  }
  at::Tensor scratch = at::empty_like(p.x, p.coeffs.options());
  acc_t* s = scratch.mutable_data_ptr<acc_t>();
  filter_pass<scalar_t, acc_t>(p, nullptr, s);
  gate_backward_stream<scalar_t, acc_t>(p, go, grad_feat.mutable_data_ptr<scalar_t>(), s);
  adjoint_pass<scalar_t, acc_t>(p, static_cast<const acc_t*>(s), gx, part);
  return partials;
}

}  // namespace

void CpuKernels::forward(const Problem& p, at::Tensor& out) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.x.scalar_type(), "diirf_forward_cpu",
                                  [&] { forward_kernel<scalar_t>(p, out); });
}

at::Tensor CpuKernels::backward(const Problem& p, const at::Tensor& grad, at::Tensor& grad_feat,
                                at::Tensor& grad_x) {
  return AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.x.scalar_type(), "diirf_backward_cpu",
                                         [&] { return backward_kernel<scalar_t>(p, grad, grad_feat, grad_x); });
}

TORCH_LIBRARY_IMPL(fasstream, CPU, m) {
  m.impl("diirf_gate", &gate_forward<CpuKernels>);
  m.impl("diirf_gate_backward", &gate_backward<CpuKernels>);
  m.impl("diirf", &filter_forward<CpuKernels>);
  m.impl("diirf_backward", &filter_backward<CpuKernels>);
}

}  // namespace fasstream

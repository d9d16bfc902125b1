// CPU kernels of the DIIRF filter and FCAM gate.
//
// Work is split into tasks of (b, l, a block of kBlock pixels), run with at::parallel_for.
// Inside a task every loop runs over contiguous pixels, so the compiler vectorises it.
// Arithmetic is in the accumulation type (float, or double for double inputs).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <vector>

#include "../diirf.h"

namespace fasstream {
namespace {

template <typename acc_t>
struct Coeffs {
  acc_t b0, b1, b2, a1, a2;
  Coeffs(const acc_t* c) : b0(c[0]), b1(c[1]), b2(c[2]), a1(c[3]), a2(c[4]) {}
};

// Index helpers: tensors are (B, T, channels, HW) contiguous.
struct Task {
  int64_t b, l, p0, n;  // batch, logit channel, first pixel, pixel count
};

inline Task task_of(const Problem& p, int64_t i) {
  const int64_t nblk = pixel_blocks(p.HW, CpuKernels::kBlock);
  Task t;
  t.p0 = (i % nblk) * CpuKernels::kBlock;
  t.l = (i / nblk) % p.L;
  t.b = i / nblk / p.L;
  t.n = std::min(CpuKernels::kBlock, p.HW - t.p0);
  return t;
}

inline int64_t row(const Problem& p, int64_t b, int64_t t, int64_t channels, int64_t c) {
  return ((b * p.T + t) * channels + c) * p.HW;
}

template <typename acc_t>
inline acc_t sigmoid(acc_t v) {
  return acc_t(1) / (acc_t(1) + std::exp(-v));
}

template <typename scalar_t>
void forward_kernel(const Problem& p, at::Tensor& out) {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* x = p.x.const_data_ptr<scalar_t>();
  const scalar_t* feat = p.gate ? p.feat.const_data_ptr<scalar_t>() : nullptr;
  scalar_t* o = out.mutable_data_ptr<scalar_t>();
  const acc_t* coeffs = p.coeffs.const_data_ptr<acc_t>();
  const int64_t G = p.groups();
  const int64_t ntasks = p.B * p.L * pixel_blocks(p.HW, CpuKernels::kBlock);
  at::parallel_for(0, ntasks, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> buf(3 * CpuKernels::kBlock);
    acc_t* __restrict__ h1 = buf.data();
    acc_t* __restrict__ h2 = h1 + CpuKernels::kBlock;
    acc_t* __restrict__ s = h2 + CpuKernels::kBlock;
    for (int64_t i = begin; i < end; ++i) {
      const Task tk = task_of(p, i);
      const Coeffs<acc_t> c(coeffs + 5 * (p.shared_coeffs() ? 0 : tk.l));
      std::fill(h1, h1 + tk.n, acc_t(0));
      std::fill(h2, h2 + tk.n, acc_t(0));
      for (int64_t t = 0; t < p.T; ++t) {
        const scalar_t* xr = x + row(p, tk.b, t, p.L, tk.l) + tk.p0;
        for (int64_t q = 0; q < tk.n; ++q) {
          const acc_t xn = xr[q];
          const acc_t yn = c.b0 * xn + h1[q];
          h1[q] = c.b1 * xn + h2[q] - c.a1 * yn;
          h2[q] = c.b2 * xn - c.a2 * yn;
          s[q] = yn;
        }
        if (!p.gate) {
          scalar_t* orow = o + row(p, tk.b, t, p.L, tk.l) + tk.p0;
          for (int64_t q = 0; q < tk.n; ++q) orow[q] = scalar_t(s[q]);
          continue;
        }
        for (int64_t q = 0; q < tk.n; ++q) s[q] = sigmoid(s[q]);
        for (int64_t g = 0; g < G; ++g) {
          const int64_t r = row(p, tk.b, t, p.C, tk.l * G + g) + tk.p0;
          for (int64_t q = 0; q < tk.n; ++q) o[r + q] = scalar_t(acc_t(feat[r + q]) * s[q]);
        }
      }
    }
  });
}

// Backward of one task: a forward pass that recomputes y and finds dL/dy (through the gate),
// then a reverse pass for the adjoint g[n] = dL/dy[n] - a1 g[n+1] - a2 g[n+2], which gives
// dL/dx[n] = b0 g[n] + b1 g[n+1] + b2 g[n+2], dL/db_k = sum g[n] x[n-k], dL/da_k = -sum g[n] y[n-k].
template <typename scalar_t>
at::Tensor backward_kernel(const Problem& p, const at::Tensor& grad, at::Tensor& grad_feat, at::Tensor& grad_x) {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* x = p.x.const_data_ptr<scalar_t>();
  const scalar_t* feat = p.gate ? p.feat.const_data_ptr<scalar_t>() : nullptr;
  const scalar_t* go = grad.const_data_ptr<scalar_t>();
  scalar_t* gf = p.gate ? grad_feat.mutable_data_ptr<scalar_t>() : nullptr;
  scalar_t* gx = grad_x.mutable_data_ptr<scalar_t>();
  const acc_t* coeffs = p.coeffs.const_data_ptr<acc_t>();
  const int64_t G = p.groups(), T = p.T, K = CpuKernels::kBlock;
  at::Tensor partials = at::empty({p.B, p.L, pixel_blocks(p.HW, K), 5}, p.coeffs.options());  // one row a task
  acc_t* part = partials.mutable_data_ptr<acc_t>();
  const int64_t ntasks = p.B * p.L * pixel_blocks(p.HW, K);
  at::parallel_for(0, ntasks, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> ys(T * K), gys(T * K), buf(5 * K);
    acc_t* __restrict__ h1 = buf.data();
    acc_t* __restrict__ h2 = h1 + K;
    acc_t* __restrict__ dot = h2 + K;
    acc_t* __restrict__ g1 = dot + K;
    acc_t* __restrict__ g2 = g1 + K;
    for (int64_t i = begin; i < end; ++i) {
      const Task tk = task_of(p, i);
      const Coeffs<acc_t> c(coeffs + 5 * (p.shared_coeffs() ? 0 : tk.l));
      std::fill(h1, h1 + tk.n, acc_t(0));
      std::fill(h2, h2 + tk.n, acc_t(0));
      for (int64_t t = 0; t < T; ++t) {
        const int64_t xrow = row(p, tk.b, t, p.L, tk.l) + tk.p0;
        acc_t* y = ys.data() + t * K;
        acc_t* gy = gys.data() + t * K;
        for (int64_t q = 0; q < tk.n; ++q) {
          const acc_t xn = x[xrow + q];
          const acc_t yn = c.b0 * xn + h1[q];
          h1[q] = c.b1 * xn + h2[q] - c.a1 * yn;
          h2[q] = c.b2 * xn - c.a2 * yn;
          y[q] = yn;
        }
        if (!p.gate) {
          for (int64_t q = 0; q < tk.n; ++q) gy[q] = go[xrow + q];
          continue;
        }
        // gy = s (1 - s) * sum_c grad_out * feat;  grad_feat = grad_out * s.
        std::fill(dot, dot + tk.n, acc_t(0));
        for (int64_t q = 0; q < tk.n; ++q) gy[q] = sigmoid(y[q]);  // s, for now
        for (int64_t g = 0; g < G; ++g) {
          const int64_t r = row(p, tk.b, t, p.C, tk.l * G + g) + tk.p0;
          for (int64_t q = 0; q < tk.n; ++q) {
            const acc_t gq = go[r + q];
            dot[q] += gq * acc_t(feat[r + q]);
            gf[r + q] = scalar_t(gq * gy[q]);
          }
        }
        for (int64_t q = 0; q < tk.n; ++q) gy[q] = gy[q] * (acc_t(1) - gy[q]) * dot[q];
      }
      acc_t db0 = 0, db1 = 0, db2 = 0, da1 = 0, da2 = 0;
      std::fill(g1, g1 + tk.n, acc_t(0));
      std::fill(g2, g2 + tk.n, acc_t(0));
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t xrow = row(p, tk.b, t, p.L, tk.l) + tk.p0;
        const acc_t* gy = gys.data() + t * K;
        for (int64_t q = 0; q < tk.n; ++q) {
          const acc_t gn = gy[q] - c.a1 * g1[q] - c.a2 * g2[q];
          gx[xrow + q] = scalar_t(c.b0 * gn + c.b1 * g1[q] + c.b2 * g2[q]);
          db0 += gn * acc_t(x[xrow + q]);
          g2[q] = g1[q];
          g1[q] = gn;
        }
        if (t >= 1) {
          const int64_t xprev = row(p, tk.b, t - 1, p.L, tk.l) + tk.p0;
          const acc_t* yprev = ys.data() + (t - 1) * K;
          for (int64_t q = 0; q < tk.n; ++q) {
            db1 += g1[q] * acc_t(x[xprev + q]);
            da1 -= g1[q] * yprev[q];
          }
        }
        if (t >= 2) {
          const int64_t xprev2 = row(p, tk.b, t - 2, p.L, tk.l) + tk.p0;
          const acc_t* yprev2 = ys.data() + (t - 2) * K;
          for (int64_t q = 0; q < tk.n; ++q) {
            db2 += g1[q] * acc_t(x[xprev2 + q]);
            da2 -= g1[q] * yprev2[q];
          }
        }
      }
      acc_t* out = part + 5 * i;  // partials are (B, L, nblocks, 5), the task order
      out[0] = db0, out[1] = db1, out[2] = db2, out[3] = da1, out[4] = da2;
    }
  });
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

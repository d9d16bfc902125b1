// CUDA kernels of the DIIRF filter and FCAM gate.
//
// One thread per pixel of one (b, l): the filter state stays in registers, T is walked in
// order, and neighbouring threads touch neighbouring pixels, so every load and store is
// coalesced. Block i handles pixels [i % nblk * kBlock, ...) of (b, l) = divmod(i / nblk, L),
// the same order as the (B, L, nblk, 5) coefficient-gradient partials. Arithmetic is in fp32
// (fp64 for double). Partials are written per block and summed by the host: deterministic.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../diirf.h"

namespace fasstream {
namespace {

constexpr int kThreads = static_cast<int>(CudaKernels::kBlock);

struct Geometry {
  int64_t T, C, L, HW, G, nblk;
  bool gate, shared;
};

Geometry geometry_of(const Problem& p) {
  return {p.T, p.C, p.L, p.HW, p.groups(), pixel_blocks(p.HW, CudaKernels::kBlock), p.gate, p.shared_coeffs()};
}

struct Pixel {
  int64_t b, l, q;  // batch, logit channel, pixel
  bool valid;
};

__device__ inline Pixel pixel_of(const Geometry& g) {
  const int64_t blk = blockIdx.x;
  Pixel px;
  px.q = (blk % g.nblk) * kThreads + threadIdx.x;
  px.l = (blk / g.nblk) % g.L;
  px.b = blk / g.nblk / g.L;
  px.valid = px.q < g.HW;
  return px;
}

__device__ inline int64_t row(const Geometry& g, int64_t b, int64_t t, int64_t channels, int64_t c) {
  return ((b * g.T + t) * channels + c) * g.HW;
}

template <typename acc_t>
__device__ inline acc_t sigmoid(acc_t v) {
  return acc_t(1) / (acc_t(1) + exp(-v));
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads) forward_kernel(Geometry g, const scalar_t* __restrict__ x,
                                                           const scalar_t* __restrict__ feat,
                                                           const acc_t* __restrict__ coeffs,
                                                           scalar_t* __restrict__ out) {
  const Pixel px = pixel_of(g);
  if (!px.valid) return;
  const acc_t* c = coeffs + 5 * (g.shared ? 0 : px.l);
  const acc_t b0 = c[0], b1 = c[1], b2 = c[2], a1 = c[3], a2 = c[4];
  acc_t h1 = 0, h2 = 0;
  for (int64_t t = 0; t < g.T; ++t) {
    const int64_t xi = row(g, px.b, t, g.L, px.l) + px.q;
    const acc_t xn = static_cast<acc_t>(x[xi]);
    const acc_t yn = b0 * xn + h1;
    h1 = b1 * xn + h2 - a1 * yn;
    h2 = b2 * xn - a2 * yn;
    if (!g.gate) {
      out[xi] = static_cast<scalar_t>(yn);
      continue;
    }
    const acc_t s = sigmoid(yn);
    const int64_t r = row(g, px.b, t, g.C, px.l * g.G) + px.q;
#pragma unroll 4
    for (int64_t k = 0; k < g.G; ++k) {
      const int64_t i = r + k * g.HW;
      out[i] = static_cast<scalar_t>(static_cast<acc_t>(feat[i]) * s);
    }
  }
}

template <typename acc_t>
__device__ inline acc_t block_sum(acc_t v, acc_t* shared) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = threadIdx.x < kThreads / 32 ? shared[threadIdx.x] : acc_t(0);
  if (warp == 0)
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

// Backward: recompute y forward (kept with dL/dy in a per-pixel scratch), then the adjoint
// g[n] = dL/dy[n] - a1 g[n+1] - a2 g[n+2] backward; see cpu/diirf_cpu.cpp for the algebra.
template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads) backward_kernel(Geometry g, const scalar_t* __restrict__ x,
                                                            const scalar_t* __restrict__ feat,
                                                            const scalar_t* __restrict__ go,
                                                            const acc_t* __restrict__ coeffs,
                                                            scalar_t* __restrict__ gf, scalar_t* __restrict__ gx,
                                                            acc_t* __restrict__ ys, acc_t* __restrict__ gys,
                                                            acc_t* __restrict__ partials) {
  __shared__ acc_t shared[kThreads / 32];
  const Pixel px = pixel_of(g);
  acc_t d[5] = {0, 0, 0, 0, 0};  // db0, db1, db2, da1, da2
  if (px.valid) {
    const acc_t* c = coeffs + 5 * (g.shared ? 0 : px.l);
    const acc_t b0 = c[0], b1 = c[1], b2 = c[2], a1 = c[3], a2 = c[4];
    acc_t h1 = 0, h2 = 0;
    for (int64_t t = 0; t < g.T; ++t) {
      const int64_t xi = row(g, px.b, t, g.L, px.l) + px.q;
      const acc_t xn = static_cast<acc_t>(x[xi]);
      const acc_t yn = b0 * xn + h1;
      h1 = b1 * xn + h2 - a1 * yn;
      h2 = b2 * xn - a2 * yn;
      ys[xi] = yn;
      if (!g.gate) {
        gys[xi] = static_cast<acc_t>(go[xi]);
        continue;
      }
      const acc_t s = sigmoid(yn);
      const int64_t r = row(g, px.b, t, g.C, px.l * g.G) + px.q;
      acc_t dot = 0;
#pragma unroll 4
      for (int64_t k = 0; k < g.G; ++k) {
        const int64_t i = r + k * g.HW;
        const acc_t gq = static_cast<acc_t>(go[i]);
        dot += gq * static_cast<acc_t>(feat[i]);
        gf[i] = static_cast<scalar_t>(gq * s);
      }
      gys[xi] = s * (acc_t(1) - s) * dot;
    }
    acc_t g1 = 0, g2 = 0;                       // g[n+1], g[n+2]
    acc_t x1 = 0, x2 = 0, y1 = 0, y2 = 0;       // x[n-1], x[n-2], y[n-1], y[n-2]
    const int64_t stride = g.L * g.HW;          // one time step
    const int64_t last = row(g, px.b, g.T - 1, g.L, px.l) + px.q;
    if (g.T >= 2) x1 = static_cast<acc_t>(x[last - stride]), y1 = ys[last - stride];
    if (g.T >= 3) x2 = static_cast<acc_t>(x[last - 2 * stride]), y2 = ys[last - 2 * stride];
    for (int64_t t = g.T - 1; t >= 0; --t) {
      const int64_t xi = last - (g.T - 1 - t) * stride;
      const acc_t xn = static_cast<acc_t>(x[xi]);
      const acc_t gn = gys[xi] - a1 * g1 - a2 * g2;
      gx[xi] = static_cast<scalar_t>(b0 * gn + b1 * g1 + b2 * g2);
      d[0] += gn * xn;
      d[1] += gn * x1;
      d[2] += gn * x2;
      d[3] -= gn * y1;
      d[4] -= gn * y2;
      g2 = g1, g1 = gn;
      x1 = x2, y1 = y2;  // slide the window one step back
      if (t >= 3) x2 = static_cast<acc_t>(x[xi - 3 * stride]), y2 = ys[xi - 3 * stride];
      else x2 = 0, y2 = 0;
    }
  }
  for (int k = 0; k < 5; ++k) {
    const acc_t v = block_sum(d[k], shared);
    if (threadIdx.x == 0) partials[5 * static_cast<int64_t>(blockIdx.x) + k] = v;
  }
}

int64_t grid_of(const Problem& p) {
  const int64_t blocks = p.B * p.L * pixel_blocks(p.HW, CudaKernels::kBlock);
  TORCH_CHECK(blocks < (int64_t(1) << 31), "diirf: too many pixels for one launch (", blocks, " blocks).");
  return blocks;
}

}  // namespace

void CudaKernels::forward(const Problem& p, at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(p.x.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  const Geometry g = geometry_of(p);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.x.scalar_type(), "diirf_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    forward_kernel<scalar_t, acc_t><<<grid_of(p), kThreads, 0, stream>>>(
        g, p.x.const_data_ptr<scalar_t>(), p.gate ? p.feat.const_data_ptr<scalar_t>() : nullptr,
        p.coeffs.const_data_ptr<acc_t>(), out.mutable_data_ptr<scalar_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void CudaKernels::backward(const Problem& p, const at::Tensor& grad, at::Tensor& grad_feat, at::Tensor& grad_x,
                           at::Tensor& partials) {
  const c10::cuda::CUDAGuard guard(p.x.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  const Geometry g = geometry_of(p);
  at::Tensor scratch = at::empty({2, p.x.numel()}, p.coeffs.options());  // y and dL/dy
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.x.scalar_type(), "diirf_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    acc_t* ys = scratch.mutable_data_ptr<acc_t>();
    backward_kernel<scalar_t, acc_t><<<grid_of(p), kThreads, 0, stream>>>(
        g, p.x.const_data_ptr<scalar_t>(), p.gate ? p.feat.const_data_ptr<scalar_t>() : nullptr,
        grad.const_data_ptr<scalar_t>(), p.coeffs.const_data_ptr<acc_t>(),
        p.gate ? grad_feat.mutable_data_ptr<scalar_t>() : nullptr, grad_x.mutable_data_ptr<scalar_t>(), ys,
        ys + p.x.numel(), partials.mutable_data_ptr<acc_t>());
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

TORCH_LIBRARY_IMPL(fasstream, CUDA, m) {
  m.impl("diirf_gate", &gate_forward<CudaKernels>);
  m.impl("diirf_gate_backward", &gate_backward<CudaKernels>);
  m.impl("diirf", &filter_forward<CudaKernels>);
  m.impl("diirf_backward", &filter_backward<CudaKernels>);
}

}  // namespace fasstream

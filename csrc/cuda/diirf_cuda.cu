// CUDA kernels of the DIIRF filter and FCAM gate.
//
// The gate moves C feature channels per logit pixel, so its kernels spread the channels over
// threads: a block is kTile pixel vectors (V neighbouring pixels, 16-byte loads when the layout
// allows) by kSlices channel slices of kSliceCh channels, and a tile's channels may span several
// blocks (slice groups). Each thread re-runs the cheap 1-channel recurrence for its pixels
// (logits come from L1/L2) and walks T in order, the filter state in registers.
// The gate backward is one kernel: every block writes grad_feat and its channel sums of
// grad_out * feat per (b, t, pixel); the last block of a tile to finish (an arrival counter)
// adds the slice groups' sums in order and runs the adjoint recurrence for the tile's pixels,
// writing grad_logits and the tile's coefficient-gradient partials, summed by the host. Every
// sum has a fixed order: the results are deterministic.
// The filter alone (every channel its own signal) runs one thread per pixel.
// Arithmetic is in fp32 (fp64 for double).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../diirf.h"

namespace fasstream {
namespace {

constexpr int kThreads = 256;              // threads per block
constexpr int kTile = 32;                  // gate kernels: pixel vectors per block row
constexpr int kSlices = kThreads / kTile;  // channel slices per block
constexpr int kSliceCh = 4;                // channels per slice

template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// Whole-vector loads and stores as one 16-byte (or element-sized) access: element-wise copies
// of a Vec would compile to V narrow stores.
template <int V, typename T>
__device__ inline Vec<T, V> load(const T* p) {
  Vec<T, V> v;
  if constexpr (sizeof(v) == 16) {
    const uint4 u = *reinterpret_cast<const uint4*>(p);
    memcpy(&v, &u, 16);
  } else {
    v = *reinterpret_cast<const Vec<T, V>*>(p);
  }
  return v;
}

template <int V, typename T>
__device__ inline void store(T* p, const Vec<T, V>& v) {
  if constexpr (sizeof(v) == 16) {  // nvcc splits a plain uint4 store of these bits into 4 stores
    uint4 u;
    memcpy(&u, &v, 16);
    asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(u.x), "r"(u.y), "r"(u.z), "r"(u.w)
                 : "memory");
  } else {
    *reinterpret_cast<Vec<T, V>*>(p) = v;
  }
}

template <typename acc_t>
__device__ inline acc_t sigmoid(acc_t v) {
  return acc_t(1) / (acc_t(1) + exp(-v));
}

template <typename acc_t>
struct Coeffs {
  acc_t b0, b1, b2, a1, a2;
};

template <typename acc_t>
__device__ inline Coeffs<acc_t> coeffs_of(const acc_t* coeffs, bool shared, int64_t l) {
  const acc_t* c = coeffs + 5 * (shared ? 0 : l);
  return {c[0], c[1], c[2], c[3], c[4]};
}

// One step of eqs (1)-(3) (transposed direct form II): returns y[n], updates the state.
template <typename acc_t>
__device__ inline acc_t step(const Coeffs<acc_t>& k, acc_t xn, acc_t& h1, acc_t& h2) {
  const acc_t yn = k.b0 * xn + h1;
  h1 = k.b1 * xn + h2 - k.a1 * yn;
  h2 = k.b2 * xn - k.a2 * yn;
  return yn;
}

// ---- gate kernels: pixel vectors x channel slices ----

struct GateGeometry {
  int64_t B, T, C, L, HW, G;
  int64_t ntile, nsg;  // pixel tiles per (b, l); slice groups (blocks along the channels)
  bool shared;
};

struct GateWork {
  int64_t b, l, tile, sg;
  int64_t q;   // first pixel of this thread's vector
  int64_t k0;  // first channel of this thread's slice, within the logit channel's group
  int kn;      // channels in the slice (0 for threads past the last pixel or channel)
};

__device__ inline GateWork gate_work(const GateGeometry& g, int V) {
  int64_t blk = blockIdx.x;
  GateWork w;
  w.sg = blk % g.nsg, blk /= g.nsg;  // slice groups of one pixel tile are neighbours: they share logits in L2
  w.tile = blk % g.ntile, blk /= g.ntile;
  w.l = blk % g.L;
  w.b = blk / g.L;
  w.q = (w.tile * kTile + threadIdx.x) * V;
  w.k0 = (w.sg * kSlices + threadIdx.y) * kSliceCh;
  w.kn = w.q < g.HW ? static_cast<int>(max(int64_t(0), min(int64_t(kSliceCh), g.G - w.k0))) : 0;
  return w;
}

__device__ inline int64_t gate_row(const GateGeometry& g, int64_t b, int64_t t, int64_t channels, int64_t c) {
  return ((b * g.T + t) * channels + c) * g.HW;
}

// s = sigmoid(y[t]) for the V pixels of `w`, advancing their filter state.
template <int V, typename scalar_t, typename acc_t>
__device__ inline void gate_step(const GateGeometry& g, const GateWork& w, int64_t t, const scalar_t* x,
                                 const Coeffs<acc_t>& k, acc_t* h1, acc_t* h2, acc_t* s) {
  const Vec<scalar_t, V> xv = load<V>(x + gate_row(g, w.b, t, g.L, w.l) + w.q);
#pragma unroll
  for (int v = 0; v < V; ++v) s[v] = sigmoid(step(k, static_cast<acc_t>(xv.v[v]), h1[v], h2[v]));
}

template <int V, typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads) gate_forward_kernel(GateGeometry g, const scalar_t* __restrict__ x,
                                                                const scalar_t* __restrict__ feat,
                                                                const acc_t* __restrict__ coeffs,
                                                                scalar_t* __restrict__ out) {
  const GateWork w = gate_work(g, V);
  if (w.kn == 0) return;
  const Coeffs<acc_t> k = coeffs_of(coeffs, g.shared, w.l);
  acc_t h1[V] = {}, h2[V] = {}, s[V];
  for (int64_t t = 0; t < g.T; ++t) {
    gate_step<V>(g, w, t, x, k, h1, h2, s);
    const int64_t r = gate_row(g, w.b, t, g.C, w.l * g.G + w.k0) + w.q;
    Vec<scalar_t, V> f[kSliceCh];
#pragma unroll
    for (int j = 0; j < kSliceCh; ++j)
      if (j < w.kn) f[j] = load<V>(feat + r + j * g.HW);
#pragma unroll
    for (int j = 0; j < kSliceCh; ++j) {
      if (j >= w.kn) break;
#pragma unroll
      for (int v = 0; v < V; ++v) f[j].v[v] = static_cast<scalar_t>(static_cast<acc_t>(f[j].v[v]) * s[v]);
      store<V>(out + r + j * g.HW, f[j]);
    }
  }
}

// ---- the adjoint recurrence of one pixel ----

// Sum over the block of one value per thread; every thread of the block must call it.
template <typename acc_t>
__device__ inline acc_t block_sum(acc_t v, acc_t* shared) {
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  __syncthreads();
  if ((tid & 31) == 0) shared[tid >> 5] = v;
  __syncthreads();
  v = tid < kThreads / 32 ? shared[tid] : acc_t(0);
  if (tid < 32)
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

struct Pixels {
  int64_t T, L, HW;
  int64_t plane;  // B * T * L * HW: one scratch plane
  int64_t nsg;    // gate: planes of channel sums to add in dL/dy; 0: dL/dy is grad_y (the filter)
};

// Recompute y forward (kept with dL/dy in fp32 scratch: ys, gys), then the adjoint
// g[n] = dL/dy[n] - a1 g[n+1] - a2 g[n+2] backward, writing grad_x and adding the coefficient
// gradients to d = (db0, db1, db2, da1, da2); see cpu/diirf_cpu.cpp for the algebra.
// Gate: dL/dy = s (1 - s) times the channel sums in gys (slice group 0) and the planes after it,
// written by other blocks, so read through L2.
template <typename scalar_t, typename acc_t>
__device__ inline void pixel_adjoint(const Pixels& g, int64_t b, int64_t l, int64_t q, const Coeffs<acc_t>& k,
                                     const scalar_t* __restrict__ x, const scalar_t* __restrict__ gy,
                                     scalar_t* __restrict__ gx, acc_t* __restrict__ ys, acc_t* __restrict__ gys,
                                     acc_t* d) {
  const int64_t stride = g.L * g.HW;  // one time step
  const int64_t first = (b * g.T * g.L + l) * g.HW + q;
  acc_t h1 = 0, h2 = 0;
  for (int64_t t = 0; t < g.T; ++t) {
    const int64_t xi = first + t * stride;
    const acc_t yn = step(k, static_cast<acc_t>(x[xi]), h1, h2);
    ys[xi] = yn;
    if (g.nsg == 0) {
      gys[xi] = static_cast<acc_t>(gy[xi]);
      continue;
    }
    acc_t dot = 0;
    for (int64_t sg = 0; sg < g.nsg; ++sg) dot += __ldcg(gys + sg * g.plane + xi);
    const acc_t s = sigmoid(yn);
    gys[xi] = s * (acc_t(1) - s) * dot;
  }
  acc_t g1 = 0, g2 = 0;                  // g[n+1], g[n+2]
  acc_t x1 = 0, x2 = 0, y1 = 0, y2 = 0;  // x[n-1], x[n-2], y[n-1], y[n-2]
  const int64_t last = first + (g.T - 1) * stride;
  if (g.T >= 2) x1 = static_cast<acc_t>(x[last - stride]), y1 = ys[last - stride];
  if (g.T >= 3) x2 = static_cast<acc_t>(x[last - 2 * stride]), y2 = ys[last - 2 * stride];
  for (int64_t t = g.T - 1; t >= 0; --t) {
    const int64_t xi = first + t * stride;
    const acc_t xn = static_cast<acc_t>(x[xi]);
    const acc_t gn = gys[xi] - k.a1 * g1 - k.a2 * g2;
    gx[xi] = static_cast<scalar_t>(k.b0 * gn + k.b1 * g1 + k.b2 * g2);
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

template <typename acc_t>
__device__ inline void write_partials(acc_t* d, acc_t* shared, acc_t* out) {
  for (int k = 0; k < 5; ++k) {
    const acc_t v = block_sum(d[k], shared);
    if (threadIdx.x == 0 && threadIdx.y == 0) out[k] = v;
  }
}

// ---- gate backward ----

// grad_feat = grad_out * s; this block's sum over its channels of grad_out * feat for every
// (b, t, pixel) goes to sums[sg]. The tile's last block then finishes dL/dlogits and the tile's
// coefficient partials (arrivals: one zeroed counter per tile).
template <int V, typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads) gate_backward_kernel(
    GateGeometry g, const scalar_t* __restrict__ x, const scalar_t* __restrict__ feat,
    const scalar_t* __restrict__ go, const acc_t* __restrict__ coeffs, scalar_t* __restrict__ gf,
    scalar_t* __restrict__ gx, acc_t* __restrict__ ys, acc_t* __restrict__ sums, unsigned* __restrict__ arrivals,
    acc_t* __restrict__ partials) {
  __shared__ acc_t red[kSlices][kTile * V];
  __shared__ bool last;
  const GateWork w = gate_work(g, V);
  const Coeffs<acc_t> k = coeffs_of(coeffs, g.shared, w.l);
  const int64_t plane = g.B * g.T * g.L * g.HW;
  const int lane = threadIdx.y * kTile + threadIdx.x;  // the tile's pixel this thread sums and finishes
  const int64_t column = w.tile * kTile * V + lane;
  const bool owns_column = lane < kTile * V && column < g.HW;
  acc_t h1[V] = {}, h2[V] = {}, s[V];
  for (int64_t t = 0; t < g.T; ++t) {
    acc_t dot[V] = {};
    if (w.kn > 0) {
      gate_step<V>(g, w, t, x, k, h1, h2, s);
      const int64_t r = gate_row(g, w.b, t, g.C, w.l * g.G + w.k0) + w.q;
      Vec<scalar_t, V> gq[kSliceCh], f[kSliceCh];
#pragma unroll
      for (int j = 0; j < kSliceCh; ++j)
        if (j < w.kn) gq[j] = load<V>(go + r + j * g.HW), f[j] = load<V>(feat + r + j * g.HW);
#pragma unroll
      for (int j = 0; j < kSliceCh; ++j) {
        if (j >= w.kn) break;
#pragma unroll
        for (int v = 0; v < V; ++v) {
          const acc_t gv = static_cast<acc_t>(gq[j].v[v]);
          dot[v] += gv * static_cast<acc_t>(f[j].v[v]);
          gq[j].v[v] = static_cast<scalar_t>(gv * s[v]);
        }
        store<V>(gf + r + j * g.HW, gq[j]);
      }
    }
#pragma unroll
    for (int v = 0; v < V; ++v) red[threadIdx.y][threadIdx.x * V + v] = dot[v];
    __syncthreads();
    if (owns_column) {
      acc_t sum = 0;
#pragma unroll
      for (int y = 0; y < kSlices; ++y) sum += red[y][lane];
      sums[w.sg * plane + gate_row(g, w.b, t, g.L, w.l) + column] = sum;
    }
    __syncthreads();
  }
  // Publish this block's sums, then count it in; the tile's last block goes on.
  __threadfence();
  __syncthreads();
  const int64_t tile = (w.b * g.L + w.l) * g.ntile + w.tile;
  if (lane == 0) last = atomicAdd(arrivals + tile, 1u) == static_cast<unsigned>(g.nsg - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  acc_t d[5] = {0, 0, 0, 0, 0};
  if (owns_column)
    pixel_adjoint<scalar_t, acc_t>({g.T, g.L, g.HW, plane, g.nsg}, w.b, w.l, column, k, x, nullptr, gx, ys, sums, d);
  write_partials(d, &red[0][0], partials + 5 * tile);
}

// ---- the filter alone: one thread per pixel of one (b, l) ----

struct Pixel {
  int64_t b, l, q;  // batch, channel, pixel
  bool valid;
};

// Block i handles pixels [i % nblk * kThreads, ...) of (b, l) = divmod(i / nblk, L), the order of
// the (B, L, nblk, 5) coefficient-gradient partials.
__device__ inline Pixel pixel_of(int64_t L, int64_t HW) {
  const int64_t nblk = (HW + kThreads - 1) / kThreads, blk = blockIdx.x;
  Pixel px;
  px.q = (blk % nblk) * kThreads + threadIdx.x;
  px.l = (blk / nblk) % L;
  px.b = blk / nblk / L;
  px.valid = px.q < HW;
  return px;
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads) filter_forward_kernel(Pixels g, bool shared,
                                                                  const scalar_t* __restrict__ x,
                                                                  const acc_t* __restrict__ coeffs,
                                                                  scalar_t* __restrict__ out) {
  const Pixel px = pixel_of(g.L, g.HW);
  if (!px.valid) return;
  const Coeffs<acc_t> k = coeffs_of(coeffs, shared, px.l);
  acc_t h1 = 0, h2 = 0;
  for (int64_t t = 0; t < g.T; ++t) {
    const int64_t xi = ((px.b * g.T + t) * g.L + px.l) * g.HW + px.q;
    out[xi] = static_cast<scalar_t>(step(k, static_cast<acc_t>(x[xi]), h1, h2));
  }
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads) filter_backward_kernel(Pixels g, bool shared,
                                                                   const scalar_t* __restrict__ x,
                                                                   const scalar_t* __restrict__ gy,
                                                                   const acc_t* __restrict__ coeffs,
                                                                   scalar_t* __restrict__ gx, acc_t* __restrict__ ys,
                                                                   acc_t* __restrict__ gys,
                                                                   acc_t* __restrict__ partials) {
  __shared__ acc_t shared_sums[kThreads / 32];
  const Pixel px = pixel_of(g.L, g.HW);
  acc_t d[5] = {0, 0, 0, 0, 0};
  if (px.valid) pixel_adjoint<scalar_t, acc_t>(g, px.b, px.l, px.q, coeffs_of(coeffs, shared, px.l), x, gy, gx, ys, gys, d);
  write_partials(d, shared_sums, partials + 5 * static_cast<int64_t>(blockIdx.x));
}

// ---- launch ----

int64_t checked_grid(int64_t blocks) {
  TORCH_CHECK(blocks < (int64_t(1) << 31), "diirf: too many pixels for one launch (", blocks, " blocks).");
  return blocks;
}

Pixels filter_pixels(const Problem& p) { return {p.T, p.L, p.HW, p.x.numel(), 0}; }

int64_t filter_grid(const Problem& p) { return checked_grid(p.B * p.L * pixel_blocks(p.HW, kThreads)); }

GateGeometry gate_geometry(const Problem& p, int V) {
  const int64_t G = p.groups();
  return {p.B, p.T, p.C, p.L, p.HW, G, pixel_blocks(p.HW / V, kTile), pixel_blocks(G, kSlices * kSliceCh),
          p.shared_coeffs()};
}

int64_t gate_grid(const GateGeometry& g) { return checked_grid(g.B * g.L * g.ntile * g.nsg); }

// 16-byte vectors of V = 16 / sizeof(scalar_t) pixels when every row starts 16-byte aligned.
template <typename scalar_t>
bool vectorizable(const Problem& p, std::initializer_list<const void*> ptrs) {
  constexpr int64_t V = 16 / sizeof(scalar_t);
  bool ok = p.HW % V == 0;
  for (const void* ptr : ptrs) ok = ok && reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
  return ok;
}

template <int V, typename scalar_t, typename acc_t>
at::Tensor launch_gate_backward(const Problem& p, const at::Tensor& grad, at::Tensor& grad_feat, at::Tensor& grad_x,
                                cudaStream_t stream) {
  const GateGeometry g = gate_geometry(p, V);
  const int64_t tiles = p.B * p.L * g.ntile;
  at::Tensor scratch = at::empty({1 + g.nsg, p.x.numel()}, p.coeffs.options());  // y, then the channel sums
  at::Tensor arrivals = at::zeros({tiles}, p.x.options().dtype(at::kInt));
  at::Tensor partials = at::empty({p.B, p.L, g.ntile, 5}, p.coeffs.options());
  acc_t* ys = scratch.mutable_data_ptr<acc_t>();
  gate_backward_kernel<V, scalar_t, acc_t><<<gate_grid(g), dim3(kTile, kSlices), 0, stream>>>(
      g, p.x.const_data_ptr<scalar_t>(), p.feat.const_data_ptr<scalar_t>(), grad.const_data_ptr<scalar_t>(),
      p.coeffs.const_data_ptr<acc_t>(), grad_feat.mutable_data_ptr<scalar_t>(), grad_x.mutable_data_ptr<scalar_t>(),
      ys, ys + p.x.numel(), reinterpret_cast<unsigned*>(arrivals.mutable_data_ptr<int>()),
      partials.mutable_data_ptr<acc_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return partials;
}

}  // namespace

void CudaKernels::forward(const Problem& p, at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(p.x.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.x.scalar_type(), "diirf_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* x = p.x.const_data_ptr<scalar_t>();
    const acc_t* coeffs = p.coeffs.const_data_ptr<acc_t>();
    scalar_t* o = out.mutable_data_ptr<scalar_t>();
    if (!p.gate) {
      filter_forward_kernel<scalar_t, acc_t><<<filter_grid(p), kThreads, 0, stream>>>(filter_pixels(p),
                                                                                       p.shared_coeffs(), x, coeffs, o);
      return;
    }
    const scalar_t* feat = p.feat.const_data_ptr<scalar_t>();
    const dim3 block(kTile, kSlices);
    constexpr int V = 16 / sizeof(scalar_t);
    if (vectorizable<scalar_t>(p, {x, feat, o})) {
      const GateGeometry g = gate_geometry(p, V);
      gate_forward_kernel<V, scalar_t, acc_t><<<gate_grid(g), block, 0, stream>>>(g, x, feat, coeffs, o);
    } else {
      const GateGeometry g = gate_geometry(p, 1);
      gate_forward_kernel<1, scalar_t, acc_t><<<gate_grid(g), block, 0, stream>>>(g, x, feat, coeffs, o);
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::Tensor CudaKernels::backward(const Problem& p, const at::Tensor& grad, at::Tensor& grad_feat,
                                 at::Tensor& grad_x) {
  const c10::cuda::CUDAGuard guard(p.x.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  return AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.x.scalar_type(), "diirf_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    constexpr int V = 16 / sizeof(scalar_t);
    if (p.gate) {
      const bool vec = vectorizable<scalar_t>(p, {p.x.const_data_ptr(), grad.const_data_ptr(), p.feat.const_data_ptr(),
                                                  grad_feat.const_data_ptr()});
      return vec ? launch_gate_backward<V, scalar_t, acc_t>(p, grad, grad_feat, grad_x, stream)
                 : launch_gate_backward<1, scalar_t, acc_t>(p, grad, grad_feat, grad_x, stream);
    }
    at::Tensor scratch = at::empty({2, p.x.numel()}, p.coeffs.options());  // y and dL/dy
    at::Tensor partials = at::empty({p.B, p.L, pixel_blocks(p.HW, kThreads), 5}, p.coeffs.options());
    acc_t* ys = scratch.mutable_data_ptr<acc_t>();
    filter_backward_kernel<scalar_t, acc_t><<<filter_grid(p), kThreads, 0, stream>>>(
        filter_pixels(p), p.shared_coeffs(), p.x.const_data_ptr<scalar_t>(), grad.const_data_ptr<scalar_t>(),
        p.coeffs.const_data_ptr<acc_t>(), grad_x.mutable_data_ptr<scalar_t>(), ys, ys + p.x.numel(),
        partials.mutable_data_ptr<acc_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return partials;
  });
}

TORCH_LIBRARY_IMPL(fasstream, CUDA, m) {
  m.impl("diirf_gate", &gate_forward<CudaKernels>);
  m.impl("diirf_gate_backward", &gate_backward<CudaKernels>);
  m.impl("diirf", &filter_forward<CudaKernels>);
  m.impl("diirf_backward", &filter_backward<CudaKernels>);
}

}  // namespace fasstream

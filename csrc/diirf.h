// DIIRF filter and FCAM gate: the problem description shared by the op wrappers and the
// CPU/CUDA kernels. The schema lives in diirf.cpp; kernels in cpu/ and cuda/.
#pragma once

#include <ATen/ATen.h>

namespace fasstream {

// One call of the op, inputs checked and made contiguous.
//
// Filtered tensor x: (B, T, L, HW). Gate mode: feat (B, T, C, HW) with C = L * G, and logit
// channel l gates feature channels [l*G, (l+1)*G). Filter mode: feat undefined, G = 1.
// coeffs: (K, 5) in the accumulation dtype (float, or double for double inputs), K = 1
// (one filter for every channel) or K = L (one filter per channel).
struct Problem {
  at::Tensor feat;
  at::Tensor x;
  at::Tensor coeffs;
  int64_t B = 0, T = 0, C = 0, L = 0, HW = 0;
  bool gate = false;

  int64_t groups() const { return gate ? C / L : 1; }
  bool shared_coeffs() const { return coeffs.size(0) == 1; }
};

// Number of blocks of `block` pixels that cover HW pixels.
inline int64_t pixel_blocks(int64_t HW, int64_t block) { return (HW + block - 1) / block; }

Problem make_gate_problem(const at::Tensor& feat, const at::Tensor& logits, const at::Tensor& coeffs,
                          const char* op);
Problem make_filter_problem(const at::Tensor& x, const at::Tensor& coeffs, const char* op);
void check_grad(const at::Tensor& grad, const at::Tensor& like, const char* op, const char* name);

// Sums per-block coefficient-gradient partials (B, L, nblocks, 5) into coeffs' shape and dtype.
at::Tensor reduce_coeff_partials(const at::Tensor& partials, const at::Tensor& coeffs);

// Backend kernels, called with at least one element. `out` has feat's shape (gate) or x's shape
// (filter). The backward writes grad_feat (gate mode only) and grad_x, and returns the
// coefficient-gradient partials (B, L, n, 5): one row per block of pixels, in a fixed order.
struct CpuKernels {
  static constexpr int64_t kBlock = 1024;  // pixels per task
  static void forward(const Problem& p, at::Tensor& out);
  static at::Tensor backward(const Problem& p, const at::Tensor& grad, at::Tensor& grad_feat, at::Tensor& grad_x);
};

struct CudaKernels {
  static void forward(const Problem& p, at::Tensor& out);
  static at::Tensor backward(const Problem& p, const at::Tensor& grad, at::Tensor& grad_feat, at::Tensor& grad_x);
};

// Partials of an empty problem: they sum to zero gradients.
inline at::Tensor no_partials(const Problem& p) { return at::zeros({p.B, p.L, 0, 5}, p.coeffs.options()); }

// The op bodies, shared by every backend: check, allocate, launch, reduce.
template <class Backend>
at::Tensor gate_forward(const at::Tensor& feat, const at::Tensor& logits, const at::Tensor& coeffs) {
  Problem p = make_gate_problem(feat, logits, coeffs, "diirf_gate");
  at::Tensor out = at::empty_like(p.feat);
  if (out.numel() > 0) Backend::forward(p, out);
  return out.view(feat.sizes());
}

template <class Backend>
std::tuple<at::Tensor, at::Tensor, at::Tensor> gate_backward(const at::Tensor& grad_out, const at::Tensor& feat,
                                                             const at::Tensor& logits, const at::Tensor& coeffs) {
  Problem p = make_gate_problem(feat, logits, coeffs, "diirf_gate_backward");
  check_grad(grad_out, feat, "diirf_gate_backward", "grad_out");
  at::Tensor grad = grad_out.to(p.feat.scalar_type()).contiguous();
  at::Tensor grad_feat = at::empty_like(p.feat);
  at::Tensor grad_x = at::empty_like(p.x);
  at::Tensor partials = p.x.numel() > 0 ? Backend::backward(p, grad, grad_feat, grad_x) : no_partials(p);
  return {grad_feat.view(feat.sizes()), grad_x.view(logits.sizes()).to(logits.scalar_type()),
          reduce_coeff_partials(partials, coeffs)};
}

template <class Backend>
at::Tensor filter_forward(const at::Tensor& x, const at::Tensor& coeffs) {
  Problem p = make_filter_problem(x, coeffs, "diirf");
  at::Tensor out = at::empty_like(p.x);
  if (out.numel() > 0) Backend::forward(p, out);
  return out.view(x.sizes());
}

template <class Backend>
std::tuple<at::Tensor, at::Tensor> filter_backward(const at::Tensor& grad_y, const at::Tensor& x,
                                                   const at::Tensor& coeffs) {
  Problem p = make_filter_problem(x, coeffs, "diirf_backward");
  check_grad(grad_y, x, "diirf_backward", "grad_y");
  at::Tensor grad = grad_y.to(p.x.scalar_type()).contiguous();
  at::Tensor grad_feat;  // no features in filter mode
  at::Tensor grad_x = at::empty_like(p.x);
  at::Tensor partials = p.x.numel() > 0 ? Backend::backward(p, grad, grad_feat, grad_x) : no_partials(p);
  return {grad_x.view(x.sizes()), reduce_coeff_partials(partials, coeffs)};
}

}  // namespace fasstream

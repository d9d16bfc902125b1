// The fasstream op library: schemas, input checks and the Python module entry point.
// Kernels are registered beside their code in cpu/ and cuda/; fake kernels and autograd are
// registered from Python (fasstream/ops/diirf.py).
#include "diirf.h"

#include <Python.h>
#include <torch/library.h>

namespace fasstream {
namespace {

void check_floating(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), op, ": ", name, " has dtype ", t.scalar_type(),
              "; expected float16, bfloat16, float32 or float64. Fix: cast ", name, " with .float().");
}

void check_same_device(const at::Tensor& t, const at::Tensor& ref, const char* op, const char* name,
                       const char* ref_name) {
  TORCH_CHECK(t.device() == ref.device(), op, ": ", name, " is on ", t.device(), " but ", ref_name, " is on ",
              ref.device(), ". Fix: move all inputs to one device, e.g. ", name, ".to(", ref_name, ".device).");
}

// coeffs: (5,) or (K, 5) with K == 1 or K == channels. Returns (K, 5) in the accumulation dtype
// of `input`: double for double inputs, float otherwise.
at::Tensor checked_coeffs(const at::Tensor& coeffs, const at::Tensor& input, int64_t channels, const char* op,
                          const char* what) {
  check_floating(coeffs, op, "coeffs");
  const bool flat = coeffs.dim() == 1 && coeffs.size(0) == 5;
  const bool rows = coeffs.dim() == 2 && coeffs.size(1) == 5 && (coeffs.size(0) == 1 || coeffs.size(0) == channels);
  TORCH_CHECK(flat || rows, op, ": coeffs must hold the 5 filter values (b0, b1, b2, a1, a2): shape (5,), or (",
              channels, ", 5) for one filter per channel of ", what, "; got shape ", coeffs.sizes(), ".");
  const auto acc = input.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  return coeffs.reshape({-1, 5}).to(acc).contiguous();
}

int64_t check_time(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(t.size(1) >= 1, op, ": ", name, " has T = 0 time steps (shape ", t.sizes(),
              "); the filter needs at least one frame.");
  return t.size(1);
}

}  // namespace

Problem make_gate_problem(const at::Tensor& feat, const at::Tensor& logits, const at::Tensor& coeffs,
                          const char* op) {
  TORCH_CHECK(feat.dim() == 5, op, ": feat must be 5-D (B, T, C, H, W); got shape ", feat.sizes(),
              ". Fix: stack frames as (batch, time, channels, height, width).");
  TORCH_CHECK(logits.dim() == 5, op, ": logits must be 5-D (B, T, 1, H, W); got shape ", logits.sizes(), ".");
  check_floating(feat, op, "feat");
  check_floating(logits, op, "logits");
  check_same_device(logits, feat, op, "logits", "feat");
  check_same_device(coeffs, feat, op, "coeffs", "feat");
  const int64_t B = feat.size(0), T = feat.size(1), C = feat.size(2), H = feat.size(3), W = feat.size(4);
  TORCH_CHECK(logits.size(0) == B && logits.size(1) == T && logits.size(3) == H && logits.size(4) == W, op,
              ": logits must have shape (B, T, 1, H, W) = (", B, ", ", T, ", 1, ", H, ", ", W,
              ") to match feat of shape ", feat.sizes(), "; got ", logits.sizes(), ".");
  TORCH_CHECK(C >= 1, op, ": feat has C = 0 channels (shape ", feat.sizes(), ").");
  const int64_t L = logits.size(2);
  const bool per_channel = coeffs.dim() == 2 && coeffs.size(0) == C && C > 1;
  TORCH_CHECK(L == 1 || (L == C && per_channel), op, ": logits must have 1 channel (B, T, 1, H, W), the map made by ",
              "FCAM's Conv3x3; got ", L, " channels (shape ", logits.sizes(), "). Per-channel gating needs ",
              "logits with C = ", C, " channels and coeffs of shape (", C, ", 5).");
  Problem p;
  p.coeffs = checked_coeffs(coeffs, feat, L, op, "logits");
  check_time(feat, op, "feat");
  p.feat = feat.contiguous();
  p.x = logits.to(feat.scalar_type()).contiguous();
  p.B = B, p.T = T, p.C = C, p.L = L, p.HW = H * W;
  p.gate = true;
  return p;
}

Problem make_filter_problem(const at::Tensor& x, const at::Tensor& coeffs, const char* op) {
  TORCH_CHECK(x.dim() == 5, op, ": x must be 5-D (B, T, C, H, W); got shape ", x.sizes(),
              ". Fix: stack frames as (batch, time, channels, height, width).");
  check_floating(x, op, "x");
  check_same_device(coeffs, x, op, "coeffs", "x");
  Problem p;
  p.coeffs = checked_coeffs(coeffs, x, x.size(2), op, "x");
  check_time(x, op, "x");
  p.x = x.contiguous();
  p.B = x.size(0), p.T = x.size(1), p.C = x.size(2), p.L = x.size(2), p.HW = x.size(3) * x.size(4);
  p.gate = false;
  return p;
}

void check_grad(const at::Tensor& grad, const at::Tensor& like, const char* op, const char* name) {
  TORCH_CHECK(grad.sizes() == like.sizes(), op, ": ", name, " must have the output's shape ", like.sizes(),
              "; got ", grad.sizes(), ".");
  check_floating(grad, op, name);
  check_same_device(grad, like, op, name, "the input");
}

at::Tensor reduce_coeff_partials(const at::Tensor& partials, const at::Tensor& coeffs) {
  const bool shared = coeffs.dim() == 1 || coeffs.size(0) == 1;
  at::Tensor sum = shared ? partials.sum(at::IntArrayRef{0, 1, 2}).view(coeffs.sizes())  // (5,) or (1, 5)
                          : partials.sum(at::IntArrayRef{0, 2});                       // (L, 5)
  return sum.to(coeffs.scalar_type());
}

TORCH_LIBRARY(fasstream, m) {
  m.def("diirf_gate(Tensor feat, Tensor logits, Tensor coeffs) -> Tensor", {at::Tag::pt2_compliant_tag});
  m.def("diirf_gate_backward(Tensor grad_out, Tensor feat, Tensor logits, Tensor coeffs) -> (Tensor, Tensor, Tensor)",
        {at::Tag::pt2_compliant_tag});
  m.def("diirf(Tensor x, Tensor coeffs) -> Tensor", {at::Tag::pt2_compliant_tag});
  m.def("diirf_backward(Tensor grad_y, Tensor x, Tensor coeffs) -> (Tensor, Tensor)", {at::Tag::pt2_compliant_tag});
}

}  // namespace fasstream

// `import fasstream._C` loads this library, whose static initialisers register the ops.
extern "C" PyObject* PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", "fasstream compiled ops", -1, nullptr};
  return PyModule_Create(&module);
}

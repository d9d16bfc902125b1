"""The compiled DIIRF ops against the pure-PyTorch reference: values, gradients, registration."""
from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from fasstream.ops import diirf, diirf_gate, reference

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

# (rtol, atol relative to the reference's largest magnitude): low-precision inputs are rounded
# once on the way in and once on the way out; arithmetic is fp32 throughout.
TOL = {torch.float64: (1e-9, 1e-10), torch.float32: (2e-4, 2e-5), torch.bfloat16: (2e-2, 2e-2),
       torch.float16: (4e-3, 4e-3)}

SEEDS = st.integers(0, 2**32 - 1)
"""Seeds of the tensors a hypothesis example draws: part of the example, so a failure replays."""


@st.composite
def filters(draw, rows: int = 1):
    """Coefficients (rows, 5) of stable filters, poles anywhere up to radius 0.99."""
    out = []
    for _ in range(rows):
        b = [draw(st.floats(-1.5, 1.5)) for _ in range(3)]
        if draw(st.booleans()):  # complex pair r e^{+-i theta}
            r, theta = draw(st.floats(0.0, 0.99)), draw(st.floats(0.0, math.pi))
            a1, a2 = -2 * r * math.cos(theta), r * r
        else:  # two real poles
            p1, p2 = draw(st.floats(-0.99, 0.99)), draw(st.floats(-0.99, 0.99))
            a1, a2 = -(p1 + p2), p1 * p2
        out.append(b + [a1, a2])
    return torch.tensor(out, dtype=torch.float64)


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, what: str,
                 fp32: torch.Tensor | None = None) -> None:
    """``actual`` against the float64 reference ``expected`` within TOL[dtype]; ``fp32``, the reference computed in
    float32 (the op's arithmetic): twice its own error is allowed on top, since a filter near the edge of stability
    (a double pole at radius 0.99) amplifies float32 rounding in any implementation of the recurrence."""
    rtol, atol = TOL[dtype]
    if what == "grad_coeffs" and dtype == torch.float32:
        # a sum over every (b, t, pixel) of recurrence states: with poles up to radius 0.99 the fp32
        # rounding of the states grows with the filter's memory (up to T / (1 - r) ulps); 4e-4 was seen
        rtol = 5 * rtol
    scale = max(expected.abs().max().item(), 1.0)
    slack = 0.0 if fp32 is None else 2 * (fp32.double() - expected).abs().max().item()
    torch.testing.assert_close(actual.double(), expected.double(), rtol=rtol, atol=atol * scale + slack,
                               msg=lambda m: f"{what}: {m}")


def randn(gen: torch.Generator, *shape, device="cpu") -> torch.Tensor:
    """float64 normal samples from ``gen`` (seeded from a hypothesis draw, so a failure replays), on ``device``."""
    return torch.randn(*shape, generator=gen, dtype=torch.float64).to(device)


def gate_case(gen, device, dtype, B, T, C, H, W, per_channel, coeffs):
    feat = randn(gen, B, T, C, H, W, device=device).to(dtype)
    logits = (2 * randn(gen, B, T, C if per_channel else 1, H, W, device=device)).to(dtype)
    coeffs = (coeffs if per_channel else coeffs[0]).to(device)
    return feat, logits, coeffs


def check_gate_against_reference(gen, feat, logits, coeffs):
    """Forward and every gradient of the op against the float64 reference on the same (rounded) inputs."""
    dtype = feat.dtype
    leaves = [t.detach().requires_grad_() for t in (feat, logits, coeffs)]  # keeps storage offsets
    out = diirf_gate(*leaves)
    assert out.dtype == dtype and out.shape == feat.shape
    refs = [t.detach().double().requires_grad_() for t in (feat, logits, coeffs)]
    expected = reference.diirf_gate(*refs)
    refs32 = [t.detach().float().requires_grad_() for t in (feat, logits, coeffs)]
    in_fp32 = reference.diirf_gate(*refs32) if dtype != torch.float64 else None
    assert_close(out, expected, dtype, "out", in_fp32)
    grad_out = randn(gen, *expected.shape, device=expected.device).to(dtype)
    got = torch.autograd.grad(out, leaves, grad_out)
    want = torch.autograd.grad(expected, refs, grad_out.double())
    want32 = torch.autograd.grad(in_fp32, refs32, grad_out.float()) if in_fp32 is not None else [None] * 3
    for name, g, w, w32, leaf in zip(("grad_feat", "grad_logits", "grad_coeffs"), got, want, want32, leaves):
        assert g.dtype == leaf.dtype and g.shape == leaf.shape, name
        assert_close(g, w, dtype, name, w32)


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), B=st.integers(1, 3), T=st.integers(1, 32), C=st.integers(1, 5), H=st.integers(1, 9),
       W=st.integers(1, 9), per_channel=st.booleans(),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16, torch.float16]))
def test_gate_matches_reference(device, data, B, T, C, H, W, per_channel, dtype):
    coeffs = data.draw(filters(C))
    gen = torch.Generator().manual_seed(data.draw(SEEDS))
    check_gate_against_reference(gen, *gate_case(gen, device, dtype, B, T, C, H, W, per_channel, coeffs))


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), B=st.integers(1, 3), T=st.integers(1, 32), C=st.integers(1, 4), HW=st.integers(1, 300),
       per_channel=st.booleans(), dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16]))
def test_filter_matches_reference(device, data, B, T, C, HW, per_channel, dtype):
    coeffs = data.draw(filters(C)).to(device)
    coeffs = coeffs if per_channel else coeffs[0]
    gen = torch.Generator().manual_seed(data.draw(SEEDS))
    x = randn(gen, B, T, C, 1, HW, device=device).to(dtype).requires_grad_()
    c = coeffs.clone().requires_grad_()
    y = diirf(x, c)
    xr, cr = x.detach().double().requires_grad_(), coeffs.clone().requires_grad_()
    expected = reference.diirf(xr, cr)
    x32, c32 = x.detach().float().requires_grad_(), coeffs.float().requires_grad_()
    in_fp32 = reference.diirf(x32, c32) if dtype != torch.float64 else None
    assert_close(y, expected, dtype, "y", in_fp32)
    grad_y = randn(gen, *expected.shape, device=device).to(dtype)  # the reference gets the same rounded cotangent
    gx, gc = torch.autograd.grad(y, (x, c), grad_y)
    wx, wc = torch.autograd.grad(expected, (xr, cr), grad_y.double())
    w32 = torch.autograd.grad(in_fp32, (x32, c32), grad_y.float()) if in_fp32 is not None else (None, None)
    assert_close(gx, wx, dtype, "grad_x", w32[0])
    assert_close(gc, wc, dtype, "grad_coeffs", w32[1])


@pytest.mark.parametrize("device", DEVICES)
def test_gate_with_a_double_pole_at_radius_099_in_float32(device):
    """A filter at the edge of stability (found by hypothesis): float32 gradients are off the float64 ones by
    about 4e-4, as much as the reference's own float32 gradients are, and within that."""
    coeffs = torch.tensor([[0, 0, 0, 0, 0], [0, 1, 0, -1.98, 0.9801]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    check_gate_against_reference(gen, *gate_case(gen, device, torch.float32, 2, 28, 2, 2, 3, True, coeffs))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_many_pixel_blocks(device, per_channel):
    """More pixels than one CPU task or CUDA block holds, with a partial last block."""
    coeffs = torch.tensor([[0.7, -0.2, 0.4, -1.2, 0.5], [0.3, 0.3, 0.3, 0.5, 0.2]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    check_gate_against_reference(gen, *gate_case(gen, device, torch.float64, 2, 3, 2, 67, 71, per_channel, coeffs))


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), B=st.integers(1, 2), T=st.integers(1, 6), C=st.integers(1, 100), H=st.integers(1, 40),
       W=st.sampled_from([1, 3, 8, 16, 40]), misaligned=st.booleans(),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16, torch.float16]))
def test_gate_wide_channels_and_vector_layouts(device, data, B, T, C, H, W, misaligned, dtype):
    """Many channels per logit pixel (several CUDA channel blocks, a partial last slice), rows that
    allow 16-byte vectors or not, and inputs that start off a 16-byte boundary."""
    coeffs = data.draw(filters(1))
    gen = torch.Generator().manual_seed(data.draw(SEEDS))
    feat, logits, coeffs = gate_case(gen, device, dtype, B, T, C, H, W, False, coeffs)
    if misaligned:  # the same values one element into a larger buffer
        feat = torch.cat([feat.new_zeros(1), feat.flatten()])[1:].view(feat.shape)
        logits = torch.cat([logits.new_zeros(1), logits.flatten()])[1:].view(logits.shape)
    check_gate_against_reference(gen, feat, logits, coeffs)


def test_bfloat16_rounds_like_torch():
    """bfloat16 feature rows are stored by the CPU kernels' own bit-level rounding: it must give torch's
    values exactly (round to nearest even, ties included, inf and NaN kept), here against the float32
    op's results rounded by torch: both compute the same float32 products."""
    torch.manual_seed(0)
    feat = torch.randn(1, 2, 8, 256, 256).to(torch.bfloat16)  # 1M products: about 16 exact ties
    feat.view(-1)[:4] = torch.tensor([float("nan"), float("inf"), -float("inf"), 3.3e38])
    logits = (4 * torch.randn(1, 2, 1, 256, 256)).to(torch.bfloat16)
    grad = torch.randn(feat.shape).to(torch.bfloat16)
    coeffs = torch.tensor([0.7, -0.2, 0.4, -1.2, 0.5])
    exact = diirf_gate(feat.float(), logits.float(), coeffs)
    ties = (exact.view(torch.int32) & 0xFFFF) == 0x8000
    assert ties.sum() > 0, "no product half-way between two bfloat16 values: pick another seed"
    torch.testing.assert_close(diirf_gate(feat, logits, coeffs), exact.bfloat16(), rtol=0, atol=0, equal_nan=True)
    grad_feat = torch.ops.fasstream.diirf_gate_backward(grad, feat, logits, coeffs)[0]
    want = torch.ops.fasstream.diirf_gate_backward(grad.float(), feat.float(), logits.float(), coeffs)[0]
    torch.testing.assert_close(grad_feat, want.bfloat16(), rtol=0, atol=0, equal_nan=True)


def test_impulse_response_follows_eqs_1_to_3():
    """A unit impulse through b = (1, 0, 0), a = (-2 r cos w, r^2) rings as r^n sin((n+1) w) / sin w."""
    r, w, T = 0.9, 0.7, 12
    coeffs = torch.tensor([1.0, 0.0, 0.0, -2 * r * math.cos(w), r * r], dtype=torch.float64)
    x = torch.zeros(1, T, 1, 1, 1, dtype=torch.float64)
    x[0, 0] = 1
    n = torch.arange(T, dtype=torch.float64)
    expected = r ** n * torch.sin((n + 1) * w) / math.sin(w)
    torch.testing.assert_close(diirf(x, coeffs).flatten(), expected)
    torch.testing.assert_close(reference.diirf(x, coeffs).flatten(), expected)


@pytest.mark.parametrize("per_channel", [False, True])
def test_gradcheck_float64(per_channel):
    C = 3
    feat = torch.randn(2, 5, C, 3, 4, dtype=torch.float64, requires_grad=True)
    logits = torch.randn(2, 5, C if per_channel else 1, 3, 4, dtype=torch.float64, requires_grad=True)
    coeffs = torch.tensor([[0.5, -0.3, 0.2, -0.6, 0.25]] * (C if per_channel else 1), dtype=torch.float64)
    coeffs = (coeffs if per_channel else coeffs[0]).requires_grad_()
    assert torch.autograd.gradcheck(diirf_gate, (feat, logits, coeffs))
    assert torch.autograd.gradcheck(diirf, (logits, coeffs))


def test_gradcheck_non_contiguous():
    base = torch.randn(2, 6, 4, 5, 3, dtype=torch.float64)
    feat = base.transpose(3, 4).requires_grad_()  # (2, 6, 4, 3, 5), strided
    logits = torch.randn(2, 6, 2, 3, 10, dtype=torch.float64)[:, :, :1, :, ::2].requires_grad_()
    coeffs = torch.tensor([0.4, 0.1, -0.2, 0.3, -0.5, 9.0], dtype=torch.float64)[:5].requires_grad_()
    assert not feat.is_contiguous() and not logits.is_contiguous()
    assert torch.autograd.gradcheck(diirf_gate, (feat, logits, coeffs))
    torch.testing.assert_close(diirf_gate(feat, logits, coeffs), reference.diirf_gate(feat, logits, coeffs))


def _opcheck_samples(device):
    kw = dict(device=device, dtype=torch.float32)
    yield (torch.randn(2, 4, 3, 5, 6, **kw), torch.randn(2, 4, 1, 5, 6, **kw), torch.tensor([0.5, 0.3, 0.2, -0.4, 0.1], **kw))
    yield (torch.randn(1, 3, 2, 4, 4, **kw), torch.randn(1, 3, 2, 4, 4, **kw), torch.rand(2, 5, **kw) * 0.5)


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    ops = torch.ops.fasstream
    for feat, logits, coeffs in _opcheck_samples(device):
        for requires_grad in (False, True):
            args = [t.clone().requires_grad_(requires_grad) for t in (feat, logits, coeffs)]
            torch.library.opcheck(ops.diirf_gate.default, tuple(args))
            torch.library.opcheck(ops.diirf.default, (args[1], args[2]))
        torch.library.opcheck(ops.diirf_gate_backward.default, (torch.randn_like(feat), feat, logits, coeffs))
        torch.library.opcheck(ops.diirf_backward.default, (torch.randn_like(logits), logits, coeffs))


class _Fcam(torch.nn.Module):
    def __init__(self, C):
        super().__init__()
        self.conv = torch.nn.Conv2d(C, 1, 3, padding=1)
        self.coeffs = torch.nn.Parameter(torch.tensor([0.6, -0.3, 0.1, -0.5, 0.2]))

    def forward(self, feat):
        B, T, C, H, W = feat.shape
        logits = self.conv(feat.flatten(0, 1)).view(B, T, 1, H, W)
        return diirf_gate(feat, logits, self.coeffs)


def test_compile_fullgraph_no_graph_break():
    torch._dynamo.reset()
    model = _Fcam(4)
    feat = torch.randn(2, 4, 4, 8, 8, requires_grad=True)
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(feat)
    expected = model(feat)
    torch.testing.assert_close(out, expected)
    (g_compiled,) = torch.autograd.grad(out.square().sum(), model.coeffs)
    (g_eager,) = torch.autograd.grad(expected.square().sum(), model.coeffs)
    torch.testing.assert_close(g_compiled, g_eager, rtol=1e-4, atol=1e-5)
    explanation = torch._dynamo.explain(model)(feat)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1


class _DtypeLog(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls.append((str(func), [a.dtype for a in args if isinstance(a, torch.Tensor)],
                           [tuple(a.shape) for a in args if isinstance(a, torch.Tensor)]))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("device", DEVICES)
def test_autocast_bf16_keeps_feat_bf16(device):
    model = _Fcam(8).to(device)
    feat = torch.randn(2, 4, 8, 16, 16, device=device)
    with torch.autocast(device, dtype=torch.bfloat16):
        feat_bf16 = torch.nn.functional.relu(model.conv.weight.new_ones(()) * feat.to(torch.bfloat16))
        with _DtypeLog() as log:
            out = model(feat_bf16)
    assert out.dtype == torch.bfloat16
    gate_calls = [c for c in log.calls if c[0].startswith("fasstream.diirf_gate")]
    assert gate_calls and gate_calls[0][1][0] == torch.bfloat16
    feat_shape = tuple(feat.shape)
    fp32_copies = [c for c in log.calls if "_to_copy" in c[0] and c[2] and c[2][0] == feat_shape]
    assert not fp32_copies, f"feat was copied: {fp32_copies}"
    ref = reference.diirf_gate(feat_bf16.float(), model.conv(feat_bf16.float().flatten(0, 1)).view(2, 4, 1, 16, 16),
                               model.coeffs.detach())
    torch.testing.assert_close(out.float(), ref, rtol=3e-2, atol=3e-2)


def test_zero_size_batch():
    out = diirf_gate(torch.randn(0, 4, 3, 5, 5), torch.randn(0, 4, 1, 5, 5), torch.randn(5))
    assert out.shape == (0, 4, 3, 5, 5)


# ---- invalid inputs: every case raises an error that names the argument and the expectation ----

def _valid():
    return torch.randn(2, 4, 3, 5, 6), torch.randn(2, 4, 1, 5, 6), torch.randn(5)


INVALID = {
    "feat rank": (lambda f, l, c: (f[0], l, c), r"feat must be 5-D \(B, T, C, H, W\)"),
    "logits rank": (lambda f, l, c: (f, l[:, :, 0], c), r"logits must be 5-D"),
    "batch mismatch": (lambda f, l, c: (f, l[:1], c), r"logits must have shape \(B, T, 1, H, W\) = \(2, 4, 1, 5, 6\)"),
    "time mismatch": (lambda f, l, c: (f, l[:, :3], c), r"logits must have shape .* = \(2, 4, 1, 5, 6\)"),
    "height mismatch": (lambda f, l, c: (f, l[..., :4, :], c), r"logits must have shape"),
    "width mismatch": (lambda f, l, c: (f, l[..., :5], c), r"logits must have shape"),
    "logits channels": (lambda f, l, c: (f, l.expand(2, 4, 2, 5, 6), c), r"logits must have 1 channel"),
    "logits C channels without per-channel coeffs": (lambda f, l, c: (f, l.expand(2, 4, 3, 5, 6), c),
                                                     r"logits must have 1 channel .* coeffs of shape \(3, 5\)"),
    "coeffs 4 values": (lambda f, l, c: (f, l, c[:4]), r"coeffs must hold the 5 filter values .* got shape \[4\]"),
    "coeffs 6 values": (lambda f, l, c: (f, l, torch.randn(6)), r"coeffs must hold the 5 filter values"),
    "coeffs rows": (lambda f, l, c: (f, l, torch.randn(3, 5)), r"coeffs must hold the 5 filter values .* \(1, 5\)"),
    "feat dtype": (lambda f, l, c: (f.int(), l, c), r"feat has dtype \S+; expected float16, bfloat16, float32 or float64"),
    "logits dtype": (lambda f, l, c: (f, l.long(), c), r"logits has dtype \S+; expected float16"),
    "coeffs dtype": (lambda f, l, c: (f, l, c.int()), r"coeffs has dtype \S+; expected float16"),
    "complex feat": (lambda f, l, c: (f.to(torch.complex64), l, c), r"feat has dtype \S+; expected float16"),
    "zero time steps": (lambda f, l, c: (f[:, :0], l[:, :0], c), r"T = 0 time steps"),
    "mixed devices": (lambda f, l, c: (f, l.to("meta"), c), r"logits is on meta but feat is on cpu"),
    "coeffs device": (lambda f, l, c: (f, l, c.to("meta")), r"coeffs is on meta but feat is on cpu"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_gate_inputs_raise_clear_errors(case):
    make, pattern = INVALID[case]
    args = make(*_valid())
    with pytest.raises(RuntimeError, match=pattern):
        diirf_gate(*args)


@pytest.mark.parametrize("case", [c for c in INVALID if "device" not in c])
def test_invalid_gate_inputs_raise_when_traced(case):
    """The fake kernels check the same things, so torch.compile fails with the same message."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    make, pattern = INVALID[case]
    with FakeTensorMode() as mode:
        args = [mode.from_tensor(t) for t in make(*_valid())]
        with pytest.raises(RuntimeError, match=pattern):
            diirf_gate(*args)


def test_invalid_filter_inputs():
    with pytest.raises(RuntimeError, match=r"x must be 5-D"):
        diirf(torch.randn(4, 3, 5, 6), torch.randn(5))
    with pytest.raises(RuntimeError, match=r"coeffs must hold the 5 filter values .* \(3, 5\)"):
        diirf(torch.randn(2, 4, 3, 5, 6), torch.randn(2, 5))
    with pytest.raises(RuntimeError, match=r"grad_y must have the output's shape"):
        torch.ops.fasstream.diirf_backward(torch.randn(1, 4, 3, 5, 6), torch.randn(2, 4, 3, 5, 6), torch.randn(5))


@cuda_only
def test_cuda_mixed_devices():
    feat, logits, coeffs = _valid()
    with pytest.raises(RuntimeError, match=r"logits is on cpu but feat is on cuda"):
        diirf_gate(feat.cuda(), logits, coeffs.cuda())


@cuda_only
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_cuda_eulernet_level_shape(dtype):
    """One EulerNet level at full size on the GPU, against the CPU kernel in float64."""
    coeffs = torch.tensor([[0.5, 0.3, 0.2, -0.4, 0.1]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    check_gate_against_reference(gen, *gate_case(gen, "cuda", dtype, 2, 4, 64, 128, 128, False, coeffs))


def test_cuda_kernels_are_built_where_nvcc_is():
    """Where nvcc is (CI: CUDA_HOME=/usr/local/cuda), the build compiles the CUDA kernels even with no GPU,
    and every op has a CUDA kernel registered; FASSTREAM_SKIP_CUDA=1 builds are exempt."""
    import os
    from pathlib import Path

    nvcc = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")
    if os.environ.get("FASSTREAM_SKIP_CUDA", "0").lower() in ("1", "true", "yes") or not nvcc.exists():
        pytest.skip("built without nvcc")
    for op in ("diirf_gate", "diirf_gate_backward", "diirf", "diirf_backward"):
        assert torch._C._dispatch_has_kernel_for_dispatch_key(f"fasstream::{op}", "CUDA"), (
            f"fasstream::{op} has no CUDA kernel although {nvcc} exists: the extension was built CPU-only. "
            "Fix: rebuild with `make build` (FORCE_CUDA=1 if nvcc is elsewhere).")


def test_extension_shares_the_c_plus_plus_runtime():
    """The op library must load libstdc++ dynamically, like torch: a copy linked in statically
    (some toolchains' g++ wrappers do this) turns every error the op raises into a segfault."""
    import shutil

    import fasstream._C as ext

    if shutil.which("ldd") is None:
        pytest.skip("ldd not available")
    libs = subprocess.run(["ldd", ext.__file__], capture_output=True, text=True, check=True).stdout
    assert "libstdc++" in libs, (
        f"{ext.__file__} does not load libstdc++.so dynamically; it was built by a compiler that links it "
        "statically. Fix: rebuild with the system compiler, e.g. CC=/usr/bin/gcc CXX=/usr/bin/g++ make build.")


def test_import_needs_only_torch_and_numpy():
    """`import fasstream.ops` loads no top-level package beyond what torch and numpy load themselves."""
    code = ("import sys, torch, numpy; top = lambda: {m.split('.')[0] for m in sys.modules}; before = top(); "
            "import fasstream, fasstream.ops; print(sorted(top() - before - {'fasstream'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

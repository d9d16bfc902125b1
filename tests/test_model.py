"""EulerNet and its parts: shapes, ablation switches, FCAM against the reference, gradients, config, compile."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fasstream.model import FCAM, FRAMES, CDConv2d, EulerNet, LevelConcat, ResidualPyramid, score
from fasstream.model.fcam import INIT_COEFFS
from fasstream.ops import reference


def clips(batch: int, size: int) -> torch.Tensor:
    return torch.rand(batch, FRAMES, 3, size, size)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class _ParamCounts:
    """Adds a section with EulerNet's parameter counts to pytest's terminal summary."""

    def __init__(self, lines: list[str]):
        self.lines = lines

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_sep("-", "EulerNet parameter counts")
        for line in self.lines:
            terminalreporter.write_line(line)


def test_parameter_counts(request):
    counts = {w: n_params(EulerNet(w)) for w in ("tiny", "base")}
    assert 10_000 < counts["tiny"] < 100_000
    assert 2_000_000 < counts["base"] < 3_000_000  # CDCN: about 2.3M
    lines = [f"{w}: {n:,} parameters" for w, n in counts.items()]
    lines += [f"base, fcam={f}, pyramid={p}: {n_params(EulerNet('base', fcam=f, pyramid=p)):,}"
              for f, p in ((False, True), (True, False), (False, False))]
    request.config.pluginmanager.register(_ParamCounts(lines), "eulernet-param-counts")


def test_tiny_output_shape_and_range():
    maps = EulerNet("tiny")(clips(2, 256))
    assert maps.shape == (2, FRAMES, 1, 32, 32)
    assert maps.min() >= 0 and maps.max() <= 1


def test_base_output_shape():
    model = EulerNet("base", size=64).eval()
    with torch.no_grad():
        maps = model(clips(1, 64))
    assert maps.shape == (1, FRAMES, 1, 8, 8)


@pytest.mark.parametrize("fcam", [True, False])
@pytest.mark.parametrize("pyramid", [True, False])
def test_ablation_switches(fcam, pyramid):
    model = EulerNet("tiny", fcam=fcam, pyramid=pyramid, size=32)
    kinds = {type(m) for m in model.modules()}
    assert (FCAM in kinds) == fcam
    assert sum(isinstance(m, FCAM) for m in model.modules()) == (3 if fcam else 0)
    assert isinstance(model.fuse, ResidualPyramid if pyramid else LevelConcat)
    assert model(clips(1, 32)).shape == (1, FRAMES, 1, 4, 4)


def test_training_step_reaches_every_fcam_coefficient():
    """Acceptance: one L2 step on 256x256 clips gives every FCAM's 5 coefficients a finite, non-zero gradient."""
    model = EulerNet("tiny")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    target = (torch.rand(2, FRAMES, 1, 32, 32) > 0.5).float()
    loss = F.mse_loss(model(clips(2, 256)), target)
    loss.backward()
    fcams = [m for m in model.modules() if isinstance(m, FCAM)]
    assert len(fcams) == 3
    before = [f.coeffs.detach().clone() for f in fcams]
    for i, f in enumerate(fcams):
        g = f.coeffs.grad
        assert g is not None and g.shape == (5,), f"FCAM {i}: no gradient on coeffs"
        assert torch.isfinite(g).all(), f"FCAM {i}: non-finite coeffs gradient {g}"
        assert (g != 0).all(), f"FCAM {i}: a coefficient got zero gradient: {g}"
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    opt.step()
    assert all(not torch.equal(f.coeffs.detach(), b) for f, b in zip(fcams, before))


def test_fcam_matches_reference_composition():
    fcam = FCAM(6)
    with torch.no_grad():
        fcam.coeffs.copy_(torch.tensor([0.8, -0.4, 0.2, -0.5, 0.2]))
    x = torch.randn(2, FRAMES, 6, 10, 12, requires_grad=True)
    out = fcam(x)
    grads = torch.autograd.grad(out.square().sum(), [x, fcam.compress.weight, fcam.coeffs])

    x_ref = x.detach().clone().requires_grad_()
    w_ref = fcam.compress.weight.detach().clone().requires_grad_()
    c_ref = fcam.coeffs.detach().clone().requires_grad_()
    logits = F.conv2d(x_ref.flatten(0, 1), w_ref, fcam.compress.bias, padding=1).unflatten(0, (2, FRAMES))
    ref = reference.diirf_gate(x_ref, logits, c_ref)
    grads_ref = torch.autograd.grad(ref.square().sum(), [x_ref, w_ref, c_ref])

    torch.testing.assert_close(out, ref)
    for name, g, g_ref in zip(("input", "conv weight", "coeffs"), grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-4, msg=lambda m, n=name: f"grad of {n}: {m}")


def test_fcam_init_is_stable_and_passes_dc():
    b0, b1, b2, a1, a2 = INIT_COEFFS
    assert np.abs(np.roots([1.0, a1, a2])).max() < 1
    dc_gain = (b0 + b1 + b2) / (1 + a1 + a2)
    assert 0.3 < dc_gain < 1.0
    torch.testing.assert_close(FCAM(4).coeffs.detach(), torch.tensor(INIT_COEFFS))


def test_fcam_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"\(B, T, 4, H, W\)"):
        FCAM(4)(torch.randn(1, FRAMES, 3, 8, 8))


def test_cdc_equals_plain_conv_minus_centre_term():
    conv = CDConv2d(3, 5)
    x = torch.randn(2, 3, 9, 9)
    w = conv.weight
    expected = F.conv2d(x, w, padding=1) - conv.theta * F.conv2d(x, w.sum(dim=(2, 3), keepdim=True))
    torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("widths", [(4, 4, 4), (4, 6, 8)])
def test_residual_pyramid_follows_eqs_4_to_6(widths):
    pyr = ResidualPyramid(widths).eval()
    c1, c2, c3 = widths
    assert isinstance(pyr.proj64, torch.nn.Identity) == (c1 == c2)
    assert isinstance(pyr.proj32, torch.nn.Identity) == (c2 == c3)
    f128, f64, f32 = torch.randn(2, c1, 16, 16), torch.randn(2, c2, 8, 8), torch.randn(2, c3, 4, 4)

    def up(x, size):
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    s128 = pyr.conv128(f128 - up(pyr.proj64(f64), 16))
    s64 = pyr.conv64(f64 - up(pyr.proj32(f32), 8))
    expected = torch.cat([F.avg_pool2d(s128, 4), F.avg_pool2d(s64, 2), f32], dim=1)
    out = pyr(f128, f64, f32)
    assert out.shape == (2, pyr.out_channels, 4, 4) and pyr.out_channels == sum(widths)
    torch.testing.assert_close(out, expected)


def test_level_concat_pools_and_concatenates():
    f128, f64, f32 = torch.randn(1, 2, 16, 16), torch.randn(1, 3, 8, 8), torch.randn(1, 4, 4, 4)
    out = LevelConcat((2, 3, 4))(f128, f64, f32)
    torch.testing.assert_close(out, torch.cat([F.avg_pool2d(f128, 4), F.avg_pool2d(f64, 2), f32], dim=1))


def test_config_round_trip():
    model = EulerNet("tiny", fcam=False, pyramid=True, size=32).eval()
    cfg = model.config
    assert cfg == {"width": "tiny", "fcam": False, "pyramid": True, "size": 32, "skip_first": False}
    rebuilt = EulerNet.from_config({**cfg, "label": "position"}).eval()  # a checkpoint's extra keys are ignored
    assert rebuilt.config == cfg
    rebuilt.load_state_dict(model.state_dict())
    x = clips(1, 32)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x))


def test_skip_first_maps_frames_2_to_4_and_keeps_frame_1_as_their_past():
    torch.manual_seed(0)
    full = EulerNet("tiny", size=32).eval()
    skip = EulerNet.from_config({**full.config, "skip_first": True}).eval()
    skip.load_state_dict(full.state_dict())
    x = clips(2, 32)
    with torch.no_grad():
        maps, kept = full(x), skip(x)
        assert kept.shape == (2, 3, 1, 4, 4) and skip.mapped_frames == 3
        torch.testing.assert_close(kept, maps[:, 1:])  # the same maps, the first left out
        changed = x.clone()
        changed[:, 0] = torch.rand_like(changed[:, 0])
        assert (skip(changed) - kept).abs().max() > 1e-7  # frame 1 still reaches them through the DIIRF
    no_fcam = EulerNet("tiny", fcam=False, size=32, skip_first=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(no_fcam(changed), no_fcam(x), rtol=0, atol=0)  # without FCAM nothing crosses frames


@pytest.mark.parametrize("cfg, match", [
    ({"fcam": True}, "needs a 'width'"),
    ({"width": "huge"}, "width must be one of"),
    ({"width": "tiny", "size": 100}, "multiple of 8"),
])
def test_bad_config_raises(cfg, match):
    with pytest.raises(ValueError, match=match):
        EulerNet.from_config(cfg)


@pytest.mark.parametrize("shape, fix", [
    ((1, 3, 3, 32, 32), "4 frames"),
    ((1, FRAMES, 3, 64, 64), "crop faces to 32x32"),
    ((1, FRAMES, 32, 32, 3), "RGB channels on dim 2"),
    ((FRAMES, 3, 32, 32), "stack frames"),
])
def test_bad_input_shape_names_expected_shape(shape, fix):
    model = EulerNet("tiny", size=32)
    with pytest.raises(ValueError, match=r"\(B, 4, 3, 32, 32\)") as err:
        model(torch.rand(shape))
    assert fix in str(err.value) and str(tuple(shape)) in str(err.value)


def test_uint8_input_is_rejected():
    with pytest.raises(ValueError, match="float"):
        EulerNet("tiny", size=32)(torch.zeros(1, FRAMES, 3, 32, 32, dtype=torch.uint8))


def test_score_is_clip_mean():
    maps = torch.rand(3, FRAMES, 1, 8, 8)
    torch.testing.assert_close(score(maps), maps.mean(dim=(1, 2, 3, 4)))
    with pytest.raises(ValueError, match="maps must be"):
        score(torch.rand(5))


def test_bf16_autocast_keeps_bf16_and_agrees():
    model = EulerNet("tiny", size=32).eval()
    x = clips(2, 32)
    with torch.no_grad():
        full = model(x)
        seen = []
        for m in model.modules():
            if isinstance(m, FCAM):
                m.register_forward_hook(lambda mod, args, out: seen.append((args[0].dtype, out.dtype)))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(x)
    assert half.dtype == torch.bfloat16
    assert seen == [(torch.bfloat16, torch.bfloat16)] * 3  # the gate op made no float32 copy of the features
    torch.testing.assert_close(half.float(), full, rtol=0, atol=5e-2)


def test_fcam_compiles_fullgraph_with_inductor():
    fcam = FCAM(4)
    x = torch.randn(2, FRAMES, 4, 8, 8, requires_grad=True)
    compiled = torch.compile(fcam, fullgraph=True)
    out = compiled(x)
    (g,) = torch.autograd.grad(out.sum(), x)
    (g_eager,) = torch.autograd.grad(fcam(x).sum(), x)
    torch.testing.assert_close(out, fcam(x))
    torch.testing.assert_close(g, g_eager)


def test_whole_model_traces_fullgraph_with_backward():
    """Tracing forward and backward of the whole model (aot_eager) proves no graph breaks and working fake kernels."""
    model = EulerNet("tiny", size=32)
    x = clips(2, 32)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    compiled(x).square().mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model(x).square().mean().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(grads[n], p.grad, rtol=1e-4, atol=1e-5, msg=lambda m, n=n: f"{n}: {m}")

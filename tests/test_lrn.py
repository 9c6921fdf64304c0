"""§3.3's response normalisation, pinned to the formula computed by a plain loop."""

import pytest
import torch

from alexnet import paper
from alexnet.layers import local_response_norm


def lrn_by_loop(a: torch.Tensor, per_term_alpha: float, k=2.0, n=5, beta=0.75) -> torch.Tensor:
    """b[i] = a[i] / (k + alpha * sum_{j=max(0,i-n/2)}^{min(N-1,i+n/2)} a[j]^2)^beta, at each (x,y)."""
    batch, channels, height, width = a.shape
    b = torch.empty_like(a)
    for s in range(batch):
        for i in range(channels):
            lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
            for y in range(height):
                for x in range(width):
                    total = sum(float(a[s, j, y, x]) ** 2 for j in range(lo, hi + 1))
                    b[s, i, y, x] = a[s, i, y, x] / (k + per_term_alpha * total) ** beta
    return b


@pytest.fixture
def activations():
    g = torch.Generator().manual_seed(0)
    # large values so the normalisation term is far from negligible (ReLU outputs ~ tens)
    return torch.rand(2, 7, 3, 2, generator=g, dtype=torch.float64) * 60


def test_code_reading_divides_alpha_by_n(activations):
    expected = lrn_by_loop(activations, per_term_alpha=1e-4 / 5)
    got = local_response_norm("code").double()(activations)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("reading, per_term", [("code", 1e-4 / 5), ("text", 1e-4)])
def test_float32_equals_the_loop(activations, reading, per_term):
    got = local_response_norm(reading)(activations.float())
    torch.testing.assert_close(got, lrn_by_loop(activations, per_term).float(), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("reading", ["code", "text"])
@pytest.mark.parametrize("beta", [0.75, 0.6])  # 0.75 takes the rsqrt path, others pow
def test_hand_written_backward_passes_gradcheck(reading, beta):
    lrn = local_response_norm(reading)
    lrn.beta = beta
    lrn.alpha = lrn.alpha * 50  # a strong normalisation, so the window term's gradient matters
    x = (torch.rand(2, 7, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 20).requires_grad_()
    assert torch.autograd.gradcheck(lrn, (x,), eps=1e-6, atol=1e-8)


@pytest.mark.parametrize("reading", ["code", "text"])
def test_equals_pytorchs_layer_forward_and_backward(reading):
    ours = local_response_norm(reading)
    theirs = torch.nn.LocalResponseNorm(ours.size, ours.alpha, ours.beta, ours.k)
    x = (torch.rand(4, 48, 9, 9, generator=torch.Generator().manual_seed(2)) * 40).requires_grad_()
    g = torch.randn(4, 48, 9, 9, generator=torch.Generator().manual_seed(3))
    a, b = ours(x), theirs(x)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.autograd.grad(a, x, g)[0], torch.autograd.grad(b, x, g)[0], rtol=1e-4, atol=1e-6)


def test_text_reading_applies_alpha_to_every_term(activations):
    expected = lrn_by_loop(activations, per_term_alpha=1e-4)
    got = local_response_norm("text").double()(activations)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_the_two_readings_differ_and_k_is_two(activations):
    code, text = local_response_norm("code"), local_response_norm("text")
    assert not torch.allclose(code.double()(activations), text.double()(activations))
    assert code.k == paper.LRN_K == 2.0  # PyTorch's default k is 1: the trap Caffe fell into
    # with all-zero neighbours the output is a / k^beta exactly
    one = torch.zeros(1, 5, 1, 1, dtype=torch.float64)
    one[0, 2] = 1e-6
    assert float(code.double()(one)[0, 2]) == pytest.approx(1e-6 / 2**0.75, rel=1e-9)


def test_an_even_window_is_refused():
    from alexnet.layers import LocalResponseNorm

    with pytest.raises(ValueError, match="must be odd"):
        LocalResponseNorm(4)


def test_per_column_lrn_keeps_each_window_inside_its_column():
    """The original code: each GPU normalised its own 48 (128) maps, so a window near the middle
    stops at the column's edge instead of reaching into the other column's channels."""
    a = torch.rand(2, 8, 3, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 60  # 2 columns of 4
    per_column = local_response_norm("code", groups=2).double()(a)
    expected = torch.cat([lrn_by_loop(half, paper.LRN_ALPHA / paper.LRN_SIZE) for half in a.chunk(2, dim=1)], dim=1)
    torch.testing.assert_close(per_column, expected)
    whole = local_response_norm("code").double()(a)
    assert not torch.allclose(per_column[:, 2:6], whole[:, 2:6])  # the channels beside the seam differ
    a_grad = a.clone().requires_grad_()
    assert torch.autograd.gradcheck(local_response_norm("code", groups=2).double(), (a_grad,))


def test_conv1_lrn_before_the_relu_as_the_code_ran():
    from torch import nn

    from alexnet.model import AlexNet

    text, code = AlexNet(stem="cifar", input_size=28, width=0.125), AlexNet(stem="cifar", input_size=28, width=0.125,
                                                                           conv1_lrn_before_act=True)
    assert list(text.features._modules)[:4] == ["conv1", "act1", "norm1", "pool1"]
    assert list(code.features._modules)[:4] == ["conv1", "norm1", "act1", "pool1"]
    code.load_state_dict(text.state_dict())  # same weights: the switch moves a layer, adds none
    x = torch.randn(2, 3, 28, 28) * 50
    conv = code.features.conv1(x)
    expected = nn.functional.max_pool2d(torch.relu(code.features.norm1(conv)), 3, 2, ceil_mode=True)
    torch.testing.assert_close(code.features[:4](x), expected)
    assert not torch.allclose(text.features[:4](x), expected)


@pytest.mark.parametrize("groups", [1, 2])
def test_without_autograd_the_same_numbers_come_from_plain_ops(groups):
    """No gradient needed (evaluation, a TorchScript trace, an ONNX export): plain tensor ops
    instead of the autograd.Function, bit for bit the same forward."""
    lrn = local_response_norm("code", groups=groups)
    x = torch.rand(2, 8, 5, 5, generator=torch.Generator().manual_seed(4)) * 40
    with torch.no_grad():
        plain = lrn(x)
    assert torch.equal(plain, lrn(x.clone().requires_grad_()).detach())
    assert "_ResponseNorm" not in str(torch.jit.trace(lrn, x).graph)  # a trace records plain ops only


@pytest.mark.parametrize("mode", ["fp16 input", "fp16 autocast", "bf16 autocast", "bf16 input"])
def test_large_activations_are_normalised_exactly_in_low_precision(mode):
    """Five neighbouring channels at |a| = 120: Σ a² = 72,000 > fp16's 65,504. Computed in the
    input's dtype the window sum is inf and the output 0.0 instead of ~47 — with no NaN for a
    loss scaler to notice. The net's LRN computes in fp32 whatever comes in."""
    lrn = local_response_norm("text")  # per-term alpha 1e-4: d = 2 + 1e-4 · 72,000 = 9.2
    x = torch.full((2, 8, 3, 3), 120.0)
    x[:, ::2] *= -1
    x.requires_grad_(True)
    expected = lrn(x)
    # away from the edge channels the window holds five: b = 120 / 9.2^0.75 ≈ 22.7 by hand
    interior = expected[:, 2:-2].detach().abs()
    torch.testing.assert_close(interior, torch.full_like(interior, 120 / 9.2**0.75))
    low = torch.float16 if "fp16" in mode else torch.bfloat16
    if "input" in mode:
        out = lrn(x.detach().to(low).requires_grad_(True))
    else:  # as in the net: a convolution under autocast hands the LRN its low-precision output
        conv = torch.nn.Conv2d(8, 8, 1, bias=False)
        torch.nn.init.dirac_(conv.weight)
        with torch.autocast("cpu", dtype=low):
            out = lrn(conv(x))
    assert out.dtype == low
    torch.testing.assert_close(out.float(), expected, rtol=1e-2, atol=0.0)
    out.float().sum().backward()  # and the gradient is finite, as in fp32
    assert all(torch.isfinite(t.grad).all() for t in (x, out) if t.grad is not None) and (
        x.grad is not None or "input" in mode)


@pytest.mark.parametrize("groups", [1, 2])
def test_the_fused_path_equals_the_eager_one_forward_and_backward(groups):
    """The CUDA path (torch.compile of out-of-place ops, fused by Inductor) forced on the CPU:
    the same numbers as the eager path to float rounding, forward and backward, edges included."""
    eager, fused = (local_response_norm("code", groups=groups) for _ in range(2))
    fused.fused = True
    x = torch.rand(4, 16, 6, 6, generator=torch.Generator().manual_seed(5)) * 40
    grad = torch.randn(4, 16, 6, 6, generator=torch.Generator().manual_seed(6))
    outputs, grads = [], []
    for lrn in (eager, fused):
        a = x.clone().requires_grad_(True)
        out = lrn(a)
        out.backward(grad)
        outputs.append(out.detach())
        grads.append(a.grad)
    assert not type(fused).fused_failed  # the compiled kernel ran, not the fallback
    with torch.no_grad():  # evaluation stays eager: no compile per evaluation batch shape
        torch.testing.assert_close(fused(x), outputs[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-6)

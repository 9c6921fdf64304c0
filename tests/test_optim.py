"""The original code's optimiser: §5's momentum form against a hand computation, and its
per-parameter learning rates and decay."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from alexnet.optim import PaperSGD, parameter_groups, sgd


def test_paper_momentum_form_matches_a_hand_computation():
    w = nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = PaperSGD([w], lr=0.1, momentum=0.9, weight_decay=0.01)
    v, x = 0.0, 1.0
    for g in (0.5, -0.2, 0.3):
        w.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        v = 0.9 * v - 0.01 * 0.1 * x - 0.1 * g  # v ← 0.9·v − 0.0005·ε·w − ε·∇ (here λ = 0.01)
        x = x + v
        assert w.item() == pytest.approx(x, abs=1e-15)
    # by hand: v1 = −0.001 − 0.05 = −0.051, w1 = 0.949; v2 = −0.0459 − 0.000949 + 0.02 = −0.026849,
    # w2 = 0.922151; v3 = −0.0241641 − 0.000922151 − 0.03 = −0.055086251, w3 = 0.867064749
    assert (v, w.item()) == pytest.approx((-0.055086251, 0.867064749), abs=1e-12)


def test_paper_form_equals_pytorch_sgd_at_constant_lr_and_differs_after_a_drop():
    torch.manual_seed(0)
    grads = [torch.randn(4, dtype=torch.float64) for _ in range(6)]
    a = nn.Parameter(torch.ones(4, dtype=torch.float64))
    b = nn.Parameter(torch.ones(4, dtype=torch.float64))
    ours, theirs = PaperSGD([a], lr=0.1, momentum=0.9, weight_decay=5e-4), torch.optim.SGD([b], lr=0.1, momentum=0.9, weight_decay=5e-4)
    for g in grads[:5]:
        a.grad, b.grad = g.clone(), g.clone()
        ours.step(), theirs.step()
    torch.testing.assert_close(a, b)  # same weights while ε is constant
    # ε drops 0.1 → 0.01. PyTorch: w − ε₂·(m·buf + g + λw); the paper: w + m·v − λε₂w − ε₂g, v = −ε₁·buf
    buf = theirs.state[b]["momentum_buffer"].clone()
    w, g = a.detach().clone(), grads[5]
    for opt in (ours, theirs):
        opt.param_groups[0]["lr"] = 0.01
    a.grad, b.grad = g.clone(), g.clone()
    ours.step(), theirs.step()
    torch.testing.assert_close(b.detach(), w - 0.01 * (0.9 * buf + g + 5e-4 * w))
    torch.testing.assert_close(a.detach(), w + 0.9 * (-0.1 * buf) - 5e-4 * 0.01 * w - 0.01 * g)
    assert not torch.allclose(a, b)


def test_biases_at_twice_the_rate_without_decay_as_the_code_ran():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    groups = parameter_groups(net, lr=0.01, weight_decay=5e-4, bias_lr_mult=2.0, bias_weight_decay=False)
    weights, biases = groups
    assert [p.shape for p in weights["params"]] == [(4, 3), (2, 4)] and (weights["lr"], weights["weight_decay"]) == (0.01, 5e-4)
    assert [p.shape for p in biases["params"]] == [(4,), (2,)] and (biases["lr"], biases["weight_decay"]) == (0.02, 0.0)
    # the default is one group: exactly PyTorch's SGD over all parameters
    (only,) = parameter_groups(net, lr=0.01, weight_decay=5e-4)
    assert len(only["params"]) == 4
    # a bias with zero gradient and no decay stays put; a weight decays
    opt = sgd(net, lr=0.01, momentum=0.0, weight_decay=5e-4, momentum_form="paper", bias_lr_mult=2.0,
              bias_weight_decay=False, layer_weight_decay=None)
    before = [p.detach().clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = list(net.parameters())
    assert torch.equal(after[1], before[1]) and not torch.equal(after[0], before[0])


def test_recipe_code_reaches_the_optimizer_and_plateau_drops_keep_the_bias_ratio():
    from alexnet.training import build_module
    from conftest import make_config

    module = build_module(make_config("recipe=code", "model.width=0.125"), num_classes=10)
    opt = module.configure_optimizers()
    assert isinstance(opt, PaperSGD)
    weights, biases = opt.param_groups
    assert biases["lr"] == 2 * weights["lr"] and biases["weight_decay"] == 0.0 < weights["weight_decay"]
    for _ in range(4):  # a plateau long enough for one drop (patience 2)
        module.scheduler.step(0.5)
    weights, biases = opt.param_groups
    assert weights["lr"] == pytest.approx(0.1 * 0.003) and biases["lr"] == pytest.approx(2 * weights["lr"])
    paper = build_module(make_config("model.width=0.125"), num_classes=10).configure_optimizers()
    assert type(paper) is torch.optim.SGD and len(paper.param_groups) == 1


def test_paper_sgd_resumes_exactly_from_its_state_dict():
    torch.manual_seed(0)
    grads = [torch.randn(5, dtype=torch.float64) for _ in range(4)]
    a = nn.Parameter(torch.ones(5, dtype=torch.float64))
    opt = PaperSGD([a], lr=0.1, momentum=0.9, weight_decay=5e-4)
    for g in grads[:2]:
        a.grad = g.clone()
        opt.step()
    b = nn.Parameter(a.detach().clone())
    resumed = PaperSGD([b], lr=0.1, momentum=0.9, weight_decay=5e-4)
    saved = io.BytesIO()
    torch.save(opt.state_dict(), saved)  # the velocity travels in the checkpoint
    saved.seek(0)
    resumed.load_state_dict(torch.load(saved, weights_only=True))
    for g in grads[2:]:
        a.grad, b.grad = g.clone(), g.clone()
        opt.step(), resumed.step()
    assert torch.equal(a, b)

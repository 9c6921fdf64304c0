"""The optimiser as the original code ran it: §5's momentum form and per-parameter learning
rates and weight decay (biases at twice the rate, without decay: layers-145.cfg's epsB, wc).

PyTorch's SGD keeps buf ← m·buf + g + λ·w and steps w ← w − ε·buf. The paper writes
v ← m·v − λ·ε·w − ε·g, w ← w + v. While ε is constant the two are the same sequence of
weights; when ε drops, PyTorch's next step shrinks at once (ε multiplies the whole history),
while the paper's velocity keeps the momentum gathered at the old rate and lets it decay.
"""

from __future__ import annotations

import torch
from torch import nn


class PaperSGD(torch.optim.Optimizer):
    """§5's update: v ← m·v − λ·ε·w − ε·∇w, then w ← w + v (per parameter group: lr ε,
    momentum m, weight_decay λ)."""

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            velocities = []
            for p in params:
                if "velocity" not in self.state[p]:
                    self.state[p]["velocity"] = torch.zeros_like(p)
                velocities.append(self.state[p]["velocity"])
            lr, m, wd = group["lr"], group["momentum"], group["weight_decay"]
            torch._foreach_mul_(velocities, m)
            if wd:
                torch._foreach_add_(velocities, params, alpha=-wd * lr)
            torch._foreach_add_(velocities, [p.grad for p in params], alpha=-lr)
            torch._foreach_add_(params, velocities)
        return loss


# recipe.momentum_form → the optimiser that keeps that form
MOMENTUM_FORMS: dict[str, type[torch.optim.Optimizer]] = {"pytorch": torch.optim.SGD,
                                                          "paper": PaperSGD}


def parameter_groups(net: nn.Module, lr: float, weight_decay: float, bias_lr_mult: float = 1.0,
                     bias_weight_decay: bool = True,
                     layer_weight_decay: dict[str, float] | None = None) -> list[dict]:
    """Weights at (lr, weight_decay, or the layer's own decay from `layer_weight_decay`, as
    cuda-convnet's per-layer `wc`); biases at (bias_lr_mult · lr, the same decay or 0). One
    group when biases and layers are treated alike, so the default optimiser is exactly
    PyTorch's SGD over all parameters."""
    layer_weight_decay = dict(layer_weight_decay or {})
    if bias_lr_mult == 1.0 and bias_weight_decay and not layer_weight_decay:
        return [{"params": list(net.parameters()), "lr": lr, "weight_decay": weight_decay}]
    named = list(net.named_parameters())
    layers = {name.split(".")[-2] for name, _ in named if "." in name}
    unknown = sorted(set(layer_weight_decay) - layers)
    if unknown:
        raise ValueError(f"recipe.layer_weight_decay names {unknown}, which this net does not have "
                         f"(it has {sorted(layers)})")
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, p in named:
        decay = layer_weight_decay.get(name.split(".")[-2] if "." in name else name, weight_decay)
        if name.endswith("bias"):
            key = (lr * bias_lr_mult, decay if bias_weight_decay else 0.0)
        else:
            key = (lr, decay)
        groups.setdefault(key, []).append(p)
    return [{"params": params, "lr": g_lr, "weight_decay": g_wd}
            for (g_lr, g_wd), params in groups.items()]


def sgd(net: nn.Module, *, lr: float, momentum: float, weight_decay: float, momentum_form: str,
        bias_lr_mult: float, bias_weight_decay: bool,
        layer_weight_decay: dict[str, float] | None) -> torch.optim.Optimizer:
    """PyTorch's SGD (`momentum_form="pytorch"`) or the paper's (`"paper"`), over
    `parameter_groups` (the recipe's values, checked by config_checks)."""
    groups = parameter_groups(net, lr, weight_decay, bias_lr_mult, bias_weight_decay,
                              layer_weight_decay)
    return MOMENTUM_FORMS[momentum_form](groups, lr=lr, momentum=momentum,
                                         weight_decay=weight_decay)

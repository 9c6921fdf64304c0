"""The paper's CIFAR-10 net (cuda-convnet's layers-conv-local-11pct.cfg) and its locally
connected layer, against plain loops and hand counts."""

from __future__ import annotations

import pytest
import torch

from alexnet.convnet4 import ConvNet4, ConvNet4Config
from alexnet.layers import LocallyConnected2d


def local_loop(x, weight, bias, k, stride, padding):
    """out[b, o, i, j] = Σ_{c, u, v} w[(i, j), o, (c, u, v)] · x_pad[b, c, i·s + u, j·s + v] + bias[(i, j), o]."""
    xp = torch.nn.functional.pad(x, (padding,) * 4)
    b, c = x.shape[:2]
    n = int(weight.shape[0] ** 0.5)
    out = torch.zeros(b, weight.shape[1], n, n, dtype=x.dtype)
    for i in range(n):
        for j in range(n):
            w = weight[i * n + j].view(-1, c, k, k)
            patch = xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            for o in range(w.shape[0]):
                out[:, o, i, j] = (patch * w[o]).sum((1, 2, 3)) + bias[i * n + j, o]
    return out


@pytest.mark.parametrize("size, k, stride, padding", [(6, 3, 1, 1), (7, 3, 2, 0), (5, 2, 1, 0)])
def test_locally_connected_layer_equals_the_loop(size, k, stride, padding):
    torch.manual_seed(0)
    layer = LocallyConnected2d(3, 4, size, k, stride=stride, padding=padding).double()
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    expected = local_loop(x, layer.weight, layer.bias, k, stride, padding)
    assert layer.out_size == expected.shape[-1]
    torch.testing.assert_close(layer(x), expected)


def test_locally_connected_layer_has_a_filter_per_position_and_gradients_check():
    torch.manual_seed(0)
    layer = LocallyConnected2d(2, 3, 4, 3, padding=1).double()
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    # unshared: changing the filter of one position changes that position's output only
    before = layer(x).detach()
    with torch.no_grad():
        layer.weight[5] += 1.0
    changed = (layer(x).detach() != before).any(0).any(0)  # (4, 4) positions
    assert changed.sum() == 1 and changed.view(-1)[5]


def test_locally_connected_layer_rejects_maps_smaller_than_its_kernel():
    with pytest.raises(ValueError, match="cannot take 2-px maps"):
        LocallyConnected2d(3, 4, 2, 3)
    with pytest.raises(ValueError, match=r"built for 6-px maps got \(5, 5\).*data.crop_size"):
        LocallyConnected2d(3, 4, 6, 3, padding=1)(torch.zeros(1, 3, 5, 5))


def test_parameter_count_and_map_sizes_follow_the_config_file():
    net = ConvNet4()
    count = (3 * 25 * 64 + 64) + (64 * 25 * 64 + 64)  # conv1, conv2: shared filters
    count += 6 * 6 * (64 * 64 * 9 + 64)  # local3: a 64×(64·3·3) filter bank and biases at each of 6×6 positions
    count += 6 * 6 * (32 * 64 * 9 + 32)  # local4
    count += 32 * 6 * 6 * 10 + 10  # fc10
    assert sum(p.numel() for p in net.parameters()) == count == 2_112_970
    x = torch.zeros(1, 3, 24, 24)
    sizes = {}
    for name, layer in net.features.named_children():
        x = layer(x)
        sizes[name] = tuple(x.shape[1:])
    assert sizes["pool1"] == (64, 12, 12) and sizes["pool2"] == (64, 6, 6) and sizes["local4"] == (32, 6, 6)


def test_response_norm_is_cuda_convnets_cmrnorm():
    """b = a / (1 + (0.001 / 9) · Σ a²)^0.75 over the 9 channels centred on each, zeros beyond."""
    net = ConvNet4()
    x = torch.rand(2, 12, 3, 3, dtype=torch.float64) * 20
    expected = torch.empty_like(x)
    for i in range(12):
        window = x[:, max(0, i - 4) : i + 5]
        expected[:, i] = x[:, i] / (1 + 0.001 / 9 * (window**2).sum(1)) ** 0.75
    torch.testing.assert_close(net.features.norm1.double()(x), expected)


def test_switches_change_one_thing_and_arms_of_a_seed_start_equal():
    base = ConvNet4(ConvNet4Config()).initialize(seed=3)
    no_norm = ConvNet4(ConvNet4Config(norm=False)).initialize(seed=3)
    tanh = ConvNet4(ConvNet4Config(activation="tanh")).initialize(seed=3)
    names = list(base.features._modules)
    assert [n for n in names if n not in no_norm.features._modules] == ["norm1", "norm2"]
    assert isinstance(tanh.features.act3, torch.nn.Tanh) and isinstance(base.features.act3, torch.nn.ReLU)
    for other in (no_norm, tanh):
        for (name, a), b in zip(base.state_dict().items(), other.state_dict().values(), strict=True):
            assert torch.equal(a, b), name
    other_seed = ConvNet4().initialize(seed=4)
    assert not torch.equal(base.features.conv2.weight, other_seed.features.conv2.weight)


def test_init_uses_the_config_files_standard_deviations():
    net = ConvNet4().initialize(seed=0)
    for name, std in (("conv1", 1e-4), ("conv2", 0.01), ("local3", 0.04), ("local4", 0.04), ("fc10", 0.01)):
        layer = net.learned_layers()[name]
        assert abs(layer.weight.std().item() / std - 1) < 0.05, name
        assert torch.count_nonzero(layer.bias) == 0


def test_bad_values_get_one_line():
    with pytest.raises(ValueError, match="model.activation='sigmoid'"):
        ConvNet4Config(activation="sigmoid")
    with pytest.raises(ValueError, match="at least 8 px"):
        ConvNet4Config(input_size=4)


def test_convnet4_trains_through_the_platform_with_cuda_convnets_recipe(tmp_path):
    from alexnet.training import build_module, train
    from conftest import make_config

    run = ("model=convnet4", "recipe=cuda_convnet", "data.crop_size=24", "data.pca_lighting=false",
           "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
           "logger.wandb.enabled=false", "callbacks.checkpoint.enabled=false", "callbacks.progress_bar=none")
    cfg = make_config(*run)
    groups = {(g["lr"], g["weight_decay"]): len(g["params"]) for g in build_module(cfg, 10).configure_optimizers().param_groups}
    # weights: conv1, conv2 undecayed; local3, local4 at 0.004; fc10 at 0.01; all five biases at 2× lr, undecayed
    assert groups == {(0.001, 0.0): 2, (0.002, 0.0): 5, (0.001, 0.004): 2, (0.001, 0.01): 1}
    summary = train(cfg, tmp_path)
    assert summary["status"] == "completed" and summary["parameters"] == 2_112_970
    assert summary["model"]["arch"] == "convnet4" and summary["test/top1_err"] is not None
    assert summary["first_step_s"] > 0  # recorded for every fit: with compile=true, the compile time


def test_an_alexnet_switch_on_convnet4_or_a_mismatched_recipe_gets_one_line():
    from alexnet.module import build_net

    with pytest.raises(ValueError, match=r"model.width is not a switch of model.arch=convnet4"):
        build_net({"arch": "convnet4", "width": 0.5}, "cuda_convnet")
    with pytest.raises(ValueError, match="convnet4 takes recipe=cuda_convnet"):
        build_net({"arch": "convnet4"}, "code_fan_in")


def test_figure1_runs_stop_once_they_reach_the_threshold_and_count_that_epoch(tmp_path):
    """ablate_cifar_relu's runs end at the first epoch whose eval-mode training error is below
    the threshold (the later epochs measure nothing); the report's Figure 1 measure counts the
    same epoch. A threshold never reached trains every epoch (censored)."""
    from alexnet.report.collect import find_runs
    from alexnet.report.measures import epochs_to_threshold, epochs_trained
    from alexnet.training import train
    from conftest import make_config

    tiny = ("experiment=ablate_cifar_relu", "data.stored_size=24", "data.crop_size=24", "trainer.max_epochs=3",
            "trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "logger.wandb.enabled=false",
            "callbacks.checkpoint.enabled=false", "callbacks.progress_bar=none")
    for name, threshold, epochs in (("reached", 0.999, 1), ("never", 0.0, 3)):
        cfg = make_config(*tiny, f"callbacks.early_stopping.stopping_threshold={threshold}")
        summary = train(cfg, tmp_path / name)
        assert summary["status"] == "completed" and summary["epochs"] == epochs
        (run,) = find_runs([tmp_path / name])
        assert epochs_trained(run) == epochs
        assert epochs_to_threshold(run, threshold) == (1 if name == "reached" else None)

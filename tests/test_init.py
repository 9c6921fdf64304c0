"""The named initialisations against §5 and the original code."""

import math

import pytest
import torch

from alexnet.init import initialize
from alexnet.model import AlexNet


@pytest.fixture(scope="module")
def full_nets():
    torch.manual_seed(0)
    return {s: initialize(AlexNet(), s) for s in ("paper", "code", "code_fan_in")}


def test_paper_init_is_n0_001_with_biases_one_in_conv2_4_5_fc6_7(full_nets):
    layers = full_nets["paper"].learned_layers()
    for name, layer in layers.items():
        assert layer.weight.mean().item() == pytest.approx(0.0, abs=2e-3)
        assert layer.weight.std().item() == pytest.approx(0.01, rel=0.05), name
        expected_bias = 1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7") else 0.0
        assert torch.all(layer.bias == expected_bias), name


def test_code_init_draws_conv3_to_conv5_from_n0_003(full_nets):
    layers = full_nets["code"].learned_layers()
    for name in ("conv3", "conv4", "conv5"):
        assert layers[name].weight.std().item() == pytest.approx(0.03, rel=0.05)
    for name in ("conv1", "conv2", "fc6", "fc7", "fc8"):
        assert layers[name].weight.std().item() == pytest.approx(0.01, rel=0.05)


def test_code_fan_in_equals_code_on_the_full_net_and_rescales_narrow_nets(full_nets):
    full = full_nets["code_fan_in"].learned_layers()
    for name, std in {"conv1": 0.01, "conv3": 0.03, "fc6": 0.01}.items():
        assert full[name].weight.std().item() == pytest.approx(std, rel=0.05)
    narrow = initialize(AlexNet(stem="cifar", input_size=28, width=0.5, num_classes=10), "code_fan_in")
    layers = narrow.learned_layers()
    # conv3 fan-in: 3·3·256 in the paper's net, 3·3·128 here → std 0.03·√2
    assert layers["conv3"].weight.std().item() == pytest.approx(0.03 * math.sqrt(2), rel=0.05)
    # conv1 (CIFAR stem): fan-in 5·5·3 against the paper's 11·11·3
    assert layers["conv1"].weight.std().item() == pytest.approx(0.01 * math.sqrt(363 / 75), rel=0.1)


def test_kaiming_has_zero_biases_and_he_std():
    net = initialize(AlexNet(stem="cifar", input_size=32, width=0.5, num_classes=10), "kaiming")
    conv3 = net.learned_layers()["conv3"]
    fan_in = conv3.weight[0].numel()
    assert conv3.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    assert all(torch.all(m.bias == 0) for m in net.learned_layers().values())


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="recipe.init='xavier'"):
        initialize(AlexNet(stem="cifar", input_size=32, width=0.25), "xavier")

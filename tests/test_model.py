"""The net against the paper's table (§3.5): parameter counts, map sizes, columns, switches."""

import pytest
import torch
from torch import nn

from alexnet.model import AlexNet, AlexNetConfig, count_parameters


def conv(out, k, fan_in_channels):
    return out * k * k * fan_in_channels + out  # weights + biases


def fc(n_in, n_out):
    return n_in * n_out + n_out


def test_two_column_net_has_the_papers_parameter_count():
    # §3.5, Figure 2. Kernel shapes as the paper gives them; grouped layers see only their
    # own column's half of the previous layer (48, 128 or 192 channels).
    expected = (
        conv(96, 11, 3)  # conv1: 96 kernels 11×11×3                    =     34,944
        + conv(256, 5, 48)  # conv2: 256 kernels 5×5×48 (own column)     =    307,456
        + conv(384, 3, 256)  # conv3: 384 kernels 3×3×256 (both columns) =    885,120
        + conv(384, 3, 192)  # conv4: 384 kernels 3×3×192 (own column)   =    663,936
        + conv(256, 3, 192)  # conv5: 256 kernels 3×3×192 (own column)   =    442,624
        + fc(6 * 6 * 256, 4096)  # fc6                                   = 37,752,832
        + fc(4096, 4096)  # fc7                                          = 16,781,312
        + fc(4096, 1000)  # fc8                                          =  4,097,000
    )
    assert expected == 60_965_224  # the figure Caffe's bvlc_alexnet reports, too
    assert count_parameters(AlexNet()) == expected


def test_one_column_net_is_footnote_5s():
    # 48-128-192-192-256 kernels, nothing grouped, fc layers unchanged.
    expected = (
        conv(48, 11, 3) + conv(128, 5, 48) + conv(192, 3, 128) + conv(192, 3, 192)
        + conv(256, 3, 192) + fc(6 * 6 * 256, 4096) + fc(4096, 4096) + fc(4096, 1000)
    )
    net = AlexNet(columns=1)
    assert count_parameters(net) == expected == 59_798_312
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [48, 128, 192, 192, 256]
    assert all(c.groups == 1 for c in convs)


@pytest.mark.parametrize("removed, expected", [
    # without conv4: conv3's 384 maps feed conv5 (3×3×192 per column, as before)
    ("conv4", conv(96, 11, 3) + conv(256, 5, 48) + conv(384, 3, 256) + conv(256, 3, 192)
     + fc(6 * 6 * 256, 4096) + fc(4096, 4096) + fc(4096, 1000)),
    # without conv3: conv2's 256 maps feed conv4, each column its own 128, and nothing crosses
    ("conv3", conv(96, 11, 3) + conv(256, 5, 48) + conv(384, 3, 128) + conv(256, 3, 192)
     + fc(6 * 6 * 256, 4096) + fc(4096, 4096) + fc(4096, 1000)),
])
def test_removing_a_middle_conv_layer_keeps_every_other_layer_and_its_init(removed, expected):
    net = AlexNet(remove=removed)
    assert removed not in net.learned_layers() and len(net.learned_layers()) == 7
    assert count_parameters(net) == expected
    assert net.feature_sizes()["pool5"] == (256, 6, 6)  # the map sizes stay
    from alexnet.init import initialize

    full, short = initialize(AlexNet(), "code_fan_in", seed=5), initialize(AlexNet(remove=removed), "code_fan_in", seed=5)
    same_shape = [n for n, m in short.learned_layers().items() if m.weight.shape == full.learned_layers()[n].weight.shape]
    assert len(same_shape) >= 6  # every layer but the one fed by the removed layer, when its shape changes
    for name in same_shape:
        assert torch.equal(short.learned_layers()[name].weight, full.learned_layers()[name].weight), name
    with pytest.raises(ValueError, match=r"model.remove='conv5' is not one of \[None, 'conv3', 'conv4'\]"):
        AlexNet(remove="conv5")


def test_grouping_follows_the_table():
    layers = AlexNet().learned_layers()
    assert {n: layers[n].groups for n in ("conv1", "conv2", "conv3", "conv4", "conv5")} == {
        "conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2,
    }


@pytest.mark.parametrize("size", [227, 224])
def test_feature_maps_are_55_27_13_6(size):
    sizes = AlexNet(input_size=size).feature_sizes()
    assert sizes["conv1"] == (96, 55, 55)
    assert sizes["pool1"] == (96, 27, 27)
    assert sizes["conv2"] == (256, 27, 27)
    assert sizes["pool2"] == (256, 13, 13)
    assert sizes["conv5"] == (256, 13, 13)
    assert sizes["pool5"] == (256, 6, 6)


def test_224_input_gets_the_codes_right_bottom_zeros_only():
    net = AlexNet(input_size=224)
    assert net.features.pad1.amount == 3
    assert "pad1" not in dict(AlexNet(input_size=227).features.named_children())
    x = torch.randn(1, 3, 224, 224)
    padded = net.features.pad1(x)
    assert padded.shape[-2:] == (227, 227)
    assert torch.equal(padded[..., :224, :224], x)
    assert padded[..., 224:, :].abs().sum() == 0 and padded[..., :, 224:].abs().sum() == 0


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(input_size=224), dict(stem="cifar", input_size=32, width=0.25),
     dict(stem="cifar", input_size=28, width=0.25), dict(stem="cifar", input_size=24, width=0.25)],
)
def test_both_pooling_arms_give_equal_sizes(kwargs):
    over = AlexNet(pool="overlapping", **kwargs)
    non = AlexNet(pool="non_overlapping", **kwargs)
    assert over.feature_sizes() == non.feature_sizes()
    assert count_parameters(over) == count_parameters(non)
    assert over.features.pool1.kernel_size == 3 and non.features.pool1.kernel_size == 2


def test_fc6_width_follows_the_input_size():
    assert AlexNet().classifier.fc6.in_features == 9216
    assert AlexNet(stem="cifar", input_size=32, width=0.5).classifier.fc6.in_features == 4 * 4 * 128
    assert AlexNet(stem="cifar", input_size=28, width=0.5).classifier.fc6.in_features == 3 * 3 * 128


def test_columns_do_not_see_each_other_in_conv2_conv4_conv5():
    # With two columns an output channel of column 1 must get no gradient from column 2's inputs.
    torch.manual_seed(0)
    net = AlexNet(stem="cifar", input_size=32, width=0.25, num_classes=10).eval()
    for name in ("conv2", "conv4", "conv5"):
        layer = net.features.get_submodule(name)
        half_in = layer.in_channels // 2
        x = torch.randn(2, layer.in_channels, 8, 8, requires_grad=True)
        layer(x)[:, 0].sum().backward()  # an output channel of the first column
        assert x.grad[:, half_in:].abs().sum() == 0, name
        assert x.grad[:, :half_in].abs().sum() > 0, name
    # conv3 connects both columns
    conv3 = net.features.conv3
    x = torch.randn(2, conv3.in_channels, 8, 8, requires_grad=True)
    conv3(x)[:, 0].sum().backward()
    assert x.grad[:, conv3.in_channels // 2 :].abs().sum() > 0


def test_dropout_is_on_fc6_and_fc7_outputs_and_softmax_is_left_to_the_loss():
    names = [n for n, _ in AlexNet().classifier.named_children()]
    assert names == ["flatten", "fc6", "act6", "drop6", "fc7", "act7", "drop7", "fc8"]
    assert AlexNet(dropout=0.0).classifier.drop6.p == 0.0


@pytest.mark.parametrize(
    "switch, other",
    [("activation", "tanh"), ("lrn", False), ("pool", "non_overlapping"), ("dropout", 0.0),
     ("lrn_reading", "text")],
)
def test_each_switch_changes_exactly_one_thing(switch, other):
    base = AlexNet(stem="cifar", input_size=32, width=0.25)
    flipped = AlexNet(stem="cifar", input_size=32, width=0.25, **{switch: other})
    a, b = str(base).splitlines(), str(flipped).splitlines()
    changed = [(x, y) for x, y in zip(a, b, strict=False) if x != y]
    if switch == "lrn":  # the two LRN layers disappear, nothing else changes
        assert [line for line in a if "LocalResponseNorm" not in line] == b
    elif switch == "activation":
        assert all("ReLU" in x and "Tanh" in y for x, y in changed) and len(changed) == 7
    else:
        assert len(a) == len(b) and 1 <= len(changed) <= 3
    assert count_parameters(base) == count_parameters(flipped)


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(activation="sigmoid"), "model.activation='sigmoid'"), (dict(columns=3), "model.columns=3"),
     (dict(pool="avg"), "model.pool='avg'"), (dict(dropout=1.5), "model.dropout=1.5"),
     (dict(width=0), "model.width=0"), (dict(stem="mnist"), "model.stem='mnist'"),
     (dict(lrn_reading="paper"), "model.lrn_reading='paper'"), (dict(lrn="yes"), "model.lrn='yes'")],
)
def test_impossible_values_name_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        AlexNetConfig(**kwargs)


def test_width_keeps_whole_columns():
    cfg = AlexNetConfig(width=0.3)
    assert all(w % 2 == 0 for w in cfg.conv_widths())
    assert AlexNet(stem="cifar", input_size=32, width=0.3, num_classes=10)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)

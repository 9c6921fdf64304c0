"""§5's optimiser and learning-rate schedule as the LightningModule sets them up."""

import lightning as L
import pytest
import torch

from alexnet.module import AlexNetModule
from conftest import recipe

TINY = {"stem": "cifar", "input_size": 32, "width": 0.125, "num_classes": 10}


def test_sgd_with_the_papers_momentum_and_weight_decay():
    module = AlexNetModule(model=TINY, **recipe(lr=0.01))
    optimizer = module.configure_optimizers()
    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.01, 0.9, 0.0005)
    assert sum(p.numel() for p in group["params"]) == module.num_parameters


def test_plateau_divides_by_ten_at_most_three_times():
    module = AlexNetModule(model=TINY, **recipe(lr=0.01, plateau_patience=1))
    optimizer = module.configure_optimizers()
    rates = []
    for _ in range(20):  # the validation error never improves
        module.scheduler.step(0.5)
        rates.append(optimizer.param_groups[0]["lr"])
    levels = sorted({round(r, 12) for r in rates}, reverse=True)
    assert levels == pytest.approx([1e-2, 1e-3, 1e-4, 1e-5])  # three drops, then no more
    assert rates[-1] == pytest.approx(1e-5)
    assert rates[:2] == [0.01, 0.01]  # patience 1: the first drop comes after two bad epochs


def test_plateau_waits_while_the_error_improves():
    module = AlexNetModule(model=TINY, **recipe(lr=0.01, plateau_patience=2))
    optimizer = module.configure_optimizers()
    for err in (0.9, 0.8, 0.7, 0.6, 0.5):
        module.scheduler.step(err)
    assert optimizer.param_groups[0]["lr"] == 0.01


def test_step_schedule_drops_at_the_milestones():
    module = AlexNetModule(model=TINY, **recipe(lr=0.01, schedule="step", step_milestones=(2, 4)))
    optimizer = module.configure_optimizers()
    rates = []
    for _ in range(5):
        rates.append(optimizer.param_groups[0]["lr"])
        module.scheduler.step()
    assert rates == pytest.approx([0.01, 0.01, 1e-3, 1e-3, 1e-4])


@pytest.mark.parametrize("max_epochs, drops", [(6, [4, 5]), (18, [12, 15]), (12, [8, 10]),
                                               (4, [3, 3]), (2, [1, 1])])
def test_budget_schedule_places_its_drops_at_fractions_of_the_run(max_epochs, drops):
    module = AlexNetModule(model=TINY, **recipe(lr=0.01, schedule="budget", budget_drops=(0.667, 0.833)))
    module.trainer = L.Trainer(max_epochs=max_epochs, logger=False, enable_checkpointing=False)
    optimizer = module.configure_optimizers()
    rates = []
    for _ in range(max_epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        module.scheduler.step()
    expected = [0.01 * 0.1 ** sum(e >= d for d in drops) for e in range(max_epochs)]
    assert rates == pytest.approx(expected) and module.lr_drop_epochs() == drops


@pytest.mark.parametrize("max_epochs", [1, -1])
def test_a_budget_needs_a_run_of_two_epochs_or_more(max_epochs):
    module = AlexNetModule(model=TINY, **recipe(lr=0.01, schedule="budget", budget_drops=(0.667, 0.833)))
    module.trainer = L.Trainer(max_epochs=max_epochs, logger=False, enable_checkpointing=False)
    with pytest.raises(ValueError, match=f"trainer.max_epochs, which is {max_epochs}: set it to 2"):
        module.configure_optimizers()


def test_test_outcomes_score_the_centre_view_and_the_averaged_ten_crops_of_one_pass():
    module = AlexNetModule(model=TINY | {"input_size": 28}, **recipe()).eval()
    x, y = torch.randn(6, 10, 3, 28, 28), torch.arange(6)
    out = module.test_outcomes(x, y)
    with torch.no_grad():
        centre = module(x[:, 4])
        averaged = torch.stack([module(x[:, v]).softmax(-1) for v in range(10)], 1).mean(1)
    assert out["center_top1"].tolist() == (centre.argmax(1) == y).long().tolist()
    assert out["tencrop_top1"].tolist() == (averaged.argmax(1) == y).long().tolist()
    in_top5 = [int(label in row) for label, row in zip(y.tolist(), centre.topk(5).indices.tolist(), strict=True)]
    assert out["center_top5"].tolist() == in_top5
    torch.testing.assert_close(out["center_loss"], torch.nn.functional.cross_entropy(centre, y, reduction="none"))
    assert set(module.test_outcomes(x[:, 4], y)) == {"label", "center_top1", "center_top5", "center_loss"}


def test_compile_switch_compiles_the_net_in_place_keeping_checkpoint_keys():
    plain = AlexNetModule(model={"stem": "cifar", "width": 0.125, "input_size": 28, "num_classes": 10}, **recipe(seed=0))
    compiled = AlexNetModule(model={"stem": "cifar", "width": 0.125, "input_size": 28, "num_classes": 10},
                             **recipe(seed=0, compile=True))
    plain.configure_model()
    compiled.configure_model()
    compiled.configure_model()  # a second fit (or validate) in the same process does not wrap it twice
    assert plain.net._compiled_call_impl is None and compiled.net._compiled_call_impl is not None
    assert list(compiled.state_dict()) == list(plain.state_dict())  # checkpoints load either way
    assert "compile" not in compiled.hparams  # and scoring a checkpoint does not compile it


def test_channels_last_changes_the_memory_layout_not_the_net_or_its_training():
    kwargs = {"model": {"stem": "cifar", "width": 0.125, "input_size": 28, "num_classes": 10}, **recipe(seed=0)}
    plain, nhwc = AlexNetModule(**kwargs), AlexNetModule(**kwargs, channels_last=True)
    nhwc.configure_model()
    conv2 = nhwc.net.features.conv2.weight
    assert conv2.is_contiguous(memory_format=torch.channels_last) and not conv2.is_contiguous()
    x, y = torch.randn(8, 3, 28, 28), torch.randint(0, 10, (8,))
    for module in (plain, nhwc):  # one SGD step each, the same dropout masks
        optimizer = module.configure_optimizers()
        torch.manual_seed(1)
        module.loss(module(x), y).backward()
        optimizer.step()
    for (name, a), b in zip(plain.state_dict().items(), nhwc.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)  # the same weights, other rounding
    assert "channels_last" not in nhwc.hparams  # a checkpoint loads into NCHW (the default) unchanged


def test_a_training_step_asks_the_device_nothing_a_gpu_would_wait_for(monkeypatch):
    """On a GPU each host sync empties its queue: the step's metric updates make none (weights
    made on the device, no argument or NaN checks, the rate copied only when it changes), and
    the loss is checked for finiteness only every FINITE_CHECK_EVERY steps and at each epoch's
    end. Counted here as Tensor → Python conversions, the syncs a CUDA tensor would force."""
    from types import SimpleNamespace

    import alexnet.module as module_file

    module = AlexNetModule(model=TINY, **recipe(lr=0.01))
    optimizer = module.configure_optimizers()
    monkeypatch.setattr(AlexNetModule, "trainer", SimpleNamespace(optimizers=[optimizer]))
    monkeypatch.setattr(AlexNetModule, "log", lambda *a, **k: None)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    conversions = []
    for name in ("__bool__", "item", "tolist", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda t, *a, _o=original, _n=name, **k:
                            conversions.append(_n) or _o(t, *a, **k))
    monkeypatch.setattr(module_file, "FINITE_CHECK_EVERY", 10)
    checks = []
    monkeypatch.setattr(AlexNetModule, "_check_finite", lambda self: checks.append(1))
    monkeypatch.setattr(AlexNetModule, "_syncs_are_free", False)  # as on a GPU
    for step in range(1, 10):
        module.training_step((x, y), step)
    assert conversions == [] and checks == []  # steps 1-9: no sync, no check
    module.training_step((x, y), 10)
    assert checks == [1]


def test_a_loss_that_is_not_finite_is_caught_at_the_next_check():
    module = AlexNetModule(model=TINY, **recipe(lr=0.01))
    module._finite = torch.tensor(True) & torch.isfinite(torch.tensor(float("nan")))
    with pytest.raises(FloatingPointError, match="not finite by step 0: lower recipe.lr"):
        module._check_finite()
    module._finite = torch.tensor(True)
    module._check_finite()  # finite: nothing said, the flag starts over
    assert module._finite is None


def test_the_epoch_means_are_weighted_by_batch_size():
    """The running loss and the validation loss are means over images, not over batches (the
    last batch is smaller, and DDP ranks hold unequal shards): 5 images at 1.0, 4 at 2.0."""
    module = AlexNetModule(model=TINY, **recipe(lr=0.01))
    for metric in (module.train_loss, module.val_loss):
        metric.update(torch.tensor(1.0), torch.tensor(5.0))
        metric.update(torch.tensor(2.0), torch.tensor(4.0))
        assert float(metric.compute()) == pytest.approx(13 / 9)


@pytest.mark.parametrize("device, expected", [("cpu", False), ("cuda", True)])
def test_channels_last_auto_is_on_for_cuda_devices_only(device, expected):
    from types import SimpleNamespace

    module = AlexNetModule(model=TINY, **recipe(channels_last=None))  # config: channels_last=auto
    module._trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(device)))
    module.configure_model()
    assert module.channels_last is expected
    assert module.net.features.conv2.weight.is_contiguous(memory_format=torch.channels_last) is expected

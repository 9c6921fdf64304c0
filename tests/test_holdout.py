"""The held-out validation split, the test pass that ends a fit, the eval-mode training error,
and the paired design: arms of one seed start from the same weights and see the same batches."""

import csv
import json

import lightning as L
import numpy as np
import pytest
import torch

from alexnet import checkpoint
from alexnet.data.datamodule import AlexNetDataModule
from alexnet.data.splits import split_training_rows
from alexnet.data.transforms import center_crop, center_offsets
from alexnet.evaluation import evaluate
from alexnet.training import ConfigError, build, train
from conftest import data_args, make_config, write_image_folder
from test_evaluate import SMALL, eval_config

TINY = ["debug=tiny", "callbacks.progress_bar=none"]


@pytest.fixture
def folder(tmp_path):
    """3 classes × 10 training images, 3 × 3 test images."""
    return write_image_folder(tmp_path / "d", per_class=(10, 3))


def datamodule(root, **kw):
    dm = AlexNetDataModule(**data_args(str(root), stored_size=32, crop_size=28, batch_size=4, **kw))
    dm.setup()
    return dm


# -- the holdout ---------------------------------------------------------------------------------
def test_holdout_is_class_balanced_disjoint_and_shrinks_the_training_set(folder):
    whole = datamodule(folder)
    assert whole.val_is_test and len(whole.train_set) == 30 and whole.val_set is whole.test_set
    for holdout in (0.2, 6, 7):  # 7 of 30: 2.33 per class, rounded down
        dm = datamodule(folder, holdout=holdout)
        held, kept = set(dm.val_set.rows.tolist()), set(dm.train_set.rows.tolist())
        assert np.bincount(dm.val_set.labels.numpy()).tolist() == [2, 2, 2], holdout
        assert not held & kept and held | kept == set(range(30))
        assert len(dm.train_set) == 30 - len(dm.val_set) == 24
        assert len(dm.test_set) == 9 and not dm.val_is_test
        d = dm.describe()
        assert (d["train_images"], d["val_images"], d["test_images"], d["val_is_test"]) == (24, 6, 9, False)


def test_smaller_classes_give_proportionally_fewer_images():
    labels = np.array([0] * 40 + [1] * 20 + [2] * 10)
    _, held, _ = split_training_rows(labels, 0.1, None, seed=0, classes=3)
    assert np.bincount(labels[held]).tolist() == [4, 2, 1]
    _, held, _ = split_training_rows(labels, 14, None, seed=0, classes=3)
    assert np.bincount(labels[held]).tolist() == [8, 4, 2]


def test_the_holdout_is_the_same_for_every_run_seed_and_changes_with_holdout_seed(folder):
    def picked(*overrides):
        dm, _ = build(make_config(*TINY, "data=folder", f"data.root={folder}", "data.holdout=6",
                                  "data.train_eval=5", *overrides))
        dm.setup()
        return dm.val_set.rows.tolist(), dm.train_eval_set.rows.tolist()

    seed0, seed1, other = picked("seed=0"), picked("seed=1"), picked("seed=0", "data.holdout_seed=1")
    assert seed0 == seed1
    assert seed0[0] != other[0] and seed0[1] != other[1]
    assert not set(seed0[0]) & set(seed0[1])  # train_eval images are training images


@pytest.mark.parametrize("value, message", [
    ("1.5", "data.holdout=1.5 is neither a fraction in (0, 1) nor an image count"),
    ("-3", "data.holdout=-3 is neither"),
    ("true", "data.holdout=True is neither"),
    ("30", "data.holdout=30 is not smaller than the 30 training images"),
    ("2", "data.holdout=2 holds out fewer images than the 3 classes"),
    ("0.05", "data.holdout=0.05 holds out no image of 30 training images"),
])
def test_bad_holdouts_fail_in_one_line_before_any_file_is_written(tmp_path, folder, value, message):
    with pytest.raises(ConfigError) as e:
        train(make_config(*TINY, "data=folder", f"data.root={folder}", f"data.holdout={value}"), tmp_path / "job")
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert not (tmp_path / "job").exists()


# -- the test split, once, on the final weights --------------------------------------------------
def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("ten_crop", [True, False])
def test_test_metrics_equal_an_independent_evaluation_of_the_final_weights(tmp_path, folder, ten_crop):
    data = ["data=folder", f"data.root={folder}", "data.holdout=6", f"data.ten_crop={ten_crop}"]
    summary = train(make_config(*SMALL, *data, "trainer.max_epochs=2", "logger.csv=true"), tmp_path / "job")
    job = tmp_path / "job"
    assert summary == json.loads((job / "summary.json").read_text())
    assert summary["data"]["test_images"] == 9 and summary["data"]["val_images"] == 6
    assert summary["final_train_all/top1_err"] is None  # data.train_all is off
    assert summary["data"]["train_all_images"] == 0
    ckpt = job / "checkpoints" / "last.ckpt"  # the weights after the last epoch
    centre = evaluate(eval_config(f"ckpt={ckpt}", *data[:2], "data.ten_crop=false"))
    assert centre["images"] == 9
    assert summary["test/top1_err"] == pytest.approx(centre["test/top1_err"])  # named by its split
    assert summary["test/top5_err"] == pytest.approx(centre["test/top5_err"])
    assert summary["test/loss"] == pytest.approx(centre["test/loss"], rel=1e-5)
    rows = read_csv(job / "test_outcomes.csv")
    assert len(rows) == 9 and [int(r["label"]) for r in rows] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert np.mean([int(r["center_top1"]) for r in rows]) == pytest.approx(1 - summary["test/top1_err"])
    assert np.mean([int(r["center_top5"]) for r in rows]) == pytest.approx(1 - summary["test/top5_err"])
    if ten_crop:
        ten = evaluate(eval_config(f"ckpt={ckpt}", *data[:2], "data.ten_crop=true"))
        assert summary["test/tencrop_top1_err"] == pytest.approx(ten["test/top1_err"])
        assert summary["test/tencrop_top5_err"] == pytest.approx(ten["test/top5_err"])
        assert summary["test/top1_err"] == pytest.approx(ten["test/center_top1_err"])
        assert np.mean([int(r["tencrop_top1"]) for r in rows]) == pytest.approx(1 - summary["test/tencrop_top1_err"])
        assert list(rows[0]) == ["label", "center_top1", "center_top5", "tencrop_top1", "tencrop_top5"]
    else:
        assert summary["test/tencrop_top1_err"] is None and list(rows[0]) == ["label", "center_top1", "center_top5"]
    # once: not an epoch metric, and one row in the loggers' record
    assert not any(k.startswith("test/") for k in read_csv(job / "metrics.csv")[0])
    logged = [r for r in read_csv(job / "csv" / "metrics.csv") if r.get("test/top1_err")]
    assert len(logged) == 1


def test_ten_crop_validation_during_fit_is_centre_only(tmp_path, folder):
    data = ["data=folder", f"data.root={folder}", "data.holdout=null", "trainer.max_epochs=2", "recipe.plateau_patience=0"]
    ten = train(make_config(*SMALL, *data, "data.ten_crop=true"), tmp_path / "ten")
    centre = train(make_config(*SMALL, *data, "data.ten_crop=false"), tmp_path / "centre")
    assert ten["data"]["val_is_test"] and ten["final_val/top1_err"] == centre["final_val/top1_err"]
    assert {r["val/crops"] for r in read_csv(tmp_path / "ten" / "metrics.csv")} == {"1.0"}
    assert ten["test/top1_err"] == centre["test/top1_err"] and ten["test/tencrop_top1_err"] is not None


def test_a_failed_fit_writes_no_test_metrics(tmp_path, folder):
    with pytest.raises(FloatingPointError):  # the loss diverges during the first epoch
        train(make_config(*SMALL, "data=folder", f"data.root={folder}", "data.holdout=6", "recipe.lr=1e30",
                          "recipe.init=kaiming"), tmp_path / "job")
    summary = json.loads((tmp_path / "job" / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert all(summary[k] is None for k in ("test/top1_err", "test/top5_err", "test/loss"))
    assert not (tmp_path / "job" / "test_outcomes.csv").exists()


# -- the honest training error -------------------------------------------------------------------
def test_train_eval_error_is_measured_with_dropout_off_and_without_augmentation(folder):
    cfg = make_config(*SMALL, "data=folder", f"data.root={folder}", "data.holdout=6", "data.train_eval=8",
                      "model.dropout=0.5", "data.pca_lighting=text", "recipe.init=kaiming")
    dm, module = build(cfg)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    first, second = (trainer.validate(module, datamodule=dm, verbose=False)[0] for _ in range(2))
    assert set(first) >= {"val/top1_err", "train_eval/top1_err", "train_eval/top5_err", "train_eval/loss"}
    assert not any("dataloader_idx" in k for k in first)
    assert first == second  # deterministic: no dropout draw, no random crop
    assert len(dm.train_eval_set) == 8 and set(dm.train_eval_set.rows.tolist()) <= set(dm.train_set.rows.tolist())
    # by hand: eval mode, centre crop, the validation normalisation, on the chosen subset
    images, labels = dm.train_eval_set[list(range(8))]
    crop = dm.crop_size
    top, left = center_offsets(dm.stored_size, dm.stored_size, crop)
    module.eval()
    with torch.no_grad():
        logits = module(dm.normalize(center_crop(images, crop), top, left))
    assert first["train_eval/top1_err"] == pytest.approx(1 - (logits.argmax(1) == labels).float().mean().item())
    assert first["train_eval/loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-5)
    module.train()  # dropout on: the same images give another loss, so the match above is eval mode's
    with torch.no_grad():
        noisy = torch.nn.functional.cross_entropy(module(dm.normalize(center_crop(images, crop), top, left)), labels)
    assert noisy.item() != pytest.approx(first["train_eval/loss"], rel=1e-5)


def test_train_all_scores_every_training_image_once_in_eval_mode_on_final_weights(tmp_path, folder):
    """data.train_all: the dropout gap's training side on every image not held out (not a
    subset), with the final weights, centre crop, dropout off; in summary.json as fractions."""
    data = ["data=folder", f"data.root={folder}", "data.holdout=6", "data.train_eval=4",
            "model.dropout=0.5"]
    summary = train(make_config(*SMALL, *data, "data.train_all=true"), tmp_path / "job")
    assert summary["status"] == "completed"
    assert summary["data"]["train_all_images"] == 24 == summary["data"]["train_images"]  # 30 − 6
    errors = [summary[f"final_train_all/{k}"] for k in ("top1_err", "top5_err")]
    assert all(0 <= e <= 1 for e in errors) and errors[1] <= errors[0]
    # by hand: the last checkpoint (the final weights) on the 24 training images, eval mode
    loaded = checkpoint.load(tmp_path / "job" / "checkpoints" / "last.ckpt")
    dm, _ = build(make_config(*SMALL, *data))
    dm.setup()
    images, labels = dm.train_set[list(range(len(dm.train_set)))]
    with torch.no_grad():
        logits = loaded.module(dm.eval_batch(images))
    assert errors[0] == pytest.approx(1 - (logits.argmax(1) == labels).double().mean().item())
    assert summary["final_train_all/loss"] == pytest.approx(
        torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-5)
    # killed after its last checkpoint, before summary.json: the resume trains nothing, scores again
    (tmp_path / "job" / "summary.json").unlink()
    again = train(make_config(*SMALL, *data, "data.train_all=true"), tmp_path / "job")
    assert again["attempts"] == 2 and again["final_train_all/top1_err"] == pytest.approx(errors[0])


def test_lr_schedule_and_checkpoints_follow_the_holdout_not_train_eval(tmp_path, folder, monkeypatch):
    seen = []
    step = torch.optim.lr_scheduler.ReduceLROnPlateau.step
    monkeypatch.setattr(torch.optim.lr_scheduler.ReduceLROnPlateau, "step",
                        lambda self, metric: (seen.append(metric), step(self, metric))[1])
    cfg = make_config(*SMALL, "data=folder", f"data.root={folder}", "data.holdout=3", "data.train_eval=4",
                      "trainer.max_epochs=3")
    summary = train(cfg, tmp_path / "job")
    rows = read_csv(tmp_path / "job" / "metrics.csv")
    val, train_eval = ([float(r[k]) for r in rows] for k in ("val/top1_err", "train_eval/top1_err"))
    assert min(train_eval) != min(val)  # the two can be told apart in this run
    assert seen == pytest.approx(val)
    assert summary["best_val/top1_err"] == min(val) and summary["final_train_eval/top1_err"] == train_eval[-1]
    best = torch.load(next((tmp_path / "job" / "checkpoints").glob("best-*.ckpt")), weights_only=False)
    (monitor,) = [v for k, v in best["callbacks"].items() if "val/top1_err" in k]
    assert float(monitor["best_model_score"]) == pytest.approx(min(val))


# -- the paired design ---------------------------------------------------------------------------
class Batches(L.Callback):
    """The batches training sees, after augmentation."""

    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append((batch[0].clone(), batch[1].clone()))


def first_steps(cfg, steps=3):
    dm, module = build(cfg)
    initial = {k: v.clone() for k, v in module.state_dict().items()}
    recorder = Batches()
    trainer = L.Trainer(max_steps=steps, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[recorder])
    trainer.fit(module, datamodule=dm)
    return initial, recorder.seen


@pytest.mark.parametrize("paper, other", [
    ("model.lrn=true", "model.lrn=false"),
    ("model.pool=overlapping", "model.pool=non_overlapping"),
    ("model.activation=relu", "model.activation=tanh"),
    ("model.dropout=0.5", "model.dropout=0.0"),
    ("data.pca_lighting=text", "data.pca_lighting=false"),
    ("model.columns=2", "model.columns=1"),  # conv1-conv4 change shape; conv5, fc6-fc8 do not
])
def test_two_arms_of_one_seed_start_equal_and_see_equal_batches(paper, other):
    common = [*TINY, "seed=3", "data.batch_size=16"]
    weights_a, batches_a = first_steps(make_config(*common, paper))
    weights_b, batches_b = first_steps(make_config(*common, other))
    same_shape = [k for k in weights_a if k in weights_b and weights_a[k].shape == weights_b[k].shape]
    assert {f"net.classifier.fc{i}.{p}" for i in (6, 7, 8) for p in ("weight", "bias")} <= set(same_shape)
    for key in same_shape:
        assert torch.equal(weights_a[key], weights_b[key]), key
    assert len(batches_a) == len(batches_b) == 3
    for (xa, ya), (xb, yb) in zip(batches_a, batches_b, strict=True):
        assert torch.equal(ya, yb)  # the same images in the same order
        if paper.startswith("data.pca_lighting"):
            shift = xa - xb  # the same crops and flips: only one colour shift per image differs
            assert shift.abs().amax() > 0
            torch.testing.assert_close(shift, shift[..., :1, :1].expand_as(shift), rtol=0, atol=1e-3)
        else:
            assert torch.equal(xa, xb)


def test_the_seed_still_changes_every_layers_initial_weights():
    (_, a), (_, b) = build(make_config(*TINY, "seed=0")), build(make_config(*TINY, "seed=1"))
    for (name, pa), pb in zip(a.net.named_parameters(), b.net.parameters(), strict=True):
        if name.endswith("weight"):
            assert not torch.equal(pa, pb), name


@pytest.mark.parametrize("fixed, same_weights, same_batches", [
    (("seeds.data=0", "seeds.dropout=0"), False, True), (("seeds.init=0", "seeds.dropout=0"), True, False),
    (("seeds.init=0", "seeds.data=0"), True, True)])
def test_each_source_of_seed_variance_can_be_varied_alone(fixed, same_weights, same_batches):
    """Two seeds with two sources fixed: only the third differs (dropout: neither weights nor
    batches), and the job stays paired by `seed`, its arm free of the seeds.* keys."""
    common = [*TINY, "data.batch_size=16", *fixed]
    weights_a, batches_a = first_steps(make_config(*common, "seed=0"))
    weights_b, batches_b = first_steps(make_config(*common, "seed=1"))
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a) == same_weights
    assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(batches_a, batches_b, strict=True)) == same_batches

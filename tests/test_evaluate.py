"""ImageNet-like layouts train and evaluate end to end; evaluate.py and predict.py read a
checkpoint that src/train.py wrote, and refuse a tampered one."""

import json
import os

import pytest
import torch
from hydra import compose, initialize_config_dir

import datasets
from alexnet.checkpoint import CheckpointError, load
from alexnet.evaluation import evaluate
from alexnet.prediction import predict
from alexnet.training import train
from conftest import CONF, make_config, run_main, write_image_folder

# a tiny folder, tested whole (debug=tiny tests 2 batches): these tests compare the test pass's
# numbers with an independent evaluation of every image
SMALL = ["debug=tiny", "callbacks.progress_bar=none", "trainer.max_epochs=1", "data.batch_size=4",
         "data.stored_size=40", "data.crop_size=32", "data.num_workers=0", "data.holdout=3",  # 1 per class
         "trainer.limit_test_batches=null"]


def eval_config(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="evaluate", overrides=["progress_bar=false", *overrides])


@pytest.mark.parametrize("data, make", [
    ("imagenet", lambda p: datasets.imagenet(p, val="devkit")),
    ("tiny_imagenet", datasets.tiny_imagenet),
])
def test_imagenet_like_layouts_train_and_evaluate(tmp_path, data, make):
    root = make(tmp_path / "data")
    summary = train(make_config(*SMALL, f"data={data}", f"data.root={root}"), tmp_path / "job")
    assert summary["status"] == "completed" and summary["data"]["classes"] == 3
    assert summary["eval_crops"] == "center" and summary["data"]["skipped_images"] == 0
    ckpt = tmp_path / "job" / "checkpoints" / "last.ckpt"
    result = evaluate(eval_config(f"ckpt={ckpt}", f"data={data}", f"data.root={root}", "data.ten_crop=true"), tmp_path / "eval")
    assert result["eval_crops"] == "ten_crop" and result["images"] == 6
    # the centre view of the ten is the run's own test: the same weights, images and crop
    assert result["data"]["val_is_test"] and "val/top1_err" not in result  # named by the split scored
    assert result["test/center_top1_err"] == pytest.approx(summary["test/top1_err"])
    assert result["test/top1_err"] * 6 == pytest.approx(round(result["test/top1_err"] * 6))  # 6 images
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["test/top5_err"] == result["test/top5_err"]
    assert load(ckpt).class_names == ["tench", "English springer", "cassette player"]


def test_skipped_images_are_counted_in_the_run_record(tmp_path):
    root = write_image_folder(tmp_path / "d")
    bad = root / "train" / "a" / "001.jpg"
    bad.write_bytes(bad.read_bytes()[:100])
    summary = train(make_config(*SMALL, "data=folder", f"data.root={root}", "data.skip_bad_images=true"), tmp_path / "job")
    assert summary["data"]["skipped_images"] == 1 and summary["data"]["skipped_files"] == [str(bad)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint written by the command line's main, ten-crop validation on."""
    tmp = tmp_path_factory.mktemp("cli")
    root = write_image_folder(tmp / "data", classes=("cat", "dog", "emu"), size=(50, 40))
    out = run_main("train.py", *SMALL, "data=folder", f"data.root={root}", "data.ten_crop=true", f"hydra.run.dir={tmp}/run")
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp, root, tmp / "run" / "checkpoints" / "last.ckpt"


def test_ten_crop_training_tests_both_crop_modes_of_the_same_weights(trained):
    tmp, _, _ = trained
    summary = json.loads((tmp / "run" / "summary.json").read_text())
    assert summary["eval_crops"] == "ten_crop" and summary["data"]["eval_crops"] == "ten_crop"
    assert summary["final_val/top1_err"] is not None and "final_val/center_top1_err" not in summary
    assert summary["test/top1_err"] is not None and summary["test/tencrop_top1_err"] is not None
    outcomes = (tmp / "run" / "test_outcomes.csv").read_text().splitlines()
    assert outcomes[0] == "label,center_top1,center_top5,tencrop_top1,tencrop_top5" and len(outcomes) == 1 + 9


def test_evaluate_cli_prints_a_table_and_writes_json(trained, tmp_path):
    _, root, ckpt = trained
    out = run_main("evaluate.py", f"ckpt={ckpt}", "data=folder", f"data.root={root}", "data.ten_crop=false",
              f"hydra.run.dir={tmp_path}", "progress_bar=false")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "test/top1_err" in out.stdout and "center" in out.stdout
    result = json.loads((tmp_path / "evaluation.json").read_text())
    assert result["eval_crops"] == "center" and result["images"] == 9


def test_predict_needs_only_the_checkpoint(trained, tmp_path):
    _, root, ckpt = trained
    preds = predict(ckpt, [root / "val"], top_k=5, ten_crops=True)
    assert len(preds) == 9 and len(preds[0]["top"]) == 3  # 3 classes: top-5 is top-3
    assert {t["class"] for t in preds[0]["top"]} == {"cat", "dog", "emu"}
    assert abs(sum(t["probability"] for t in preds[0]["top"]) - 1) < 1e-5
    out = run_main("predict.py", str(ckpt), str(root / "val" / "cat" / "000.jpg"), "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)[0]["file"].endswith("000.jpg")


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_tampered_checkpoint_is_refused_before_it_runs_anything(trained, tmp_path):
    _, _, ckpt = trained
    checkpoint = torch.load(ckpt, weights_only=True)
    payload = Payload()
    payload.marker = tmp_path / "pwned"
    checkpoint["hyper_parameters"]["init"] = payload
    evil = tmp_path / "evil.ckpt"
    torch.save(checkpoint, evil)
    with pytest.raises(CheckpointError, match="refusing to load .*evil.ckpt.*data, not code") as e:
        load(evil)
    assert "\n" not in str(e.value)
    for script, args in (("predict.py", [str(evil), str(ckpt)]), ("evaluate.py", [f"ckpt={evil}"])):
        out = run_main(script, *args)
        assert out.returncode == 2 and out.stderr.strip().startswith("error: refusing to load"), out.stderr[-2000:]
        assert len(out.stderr.strip().splitlines()) == 1
    assert not payload.marker.exists()  # nothing ran


def test_ten_crop_changes_testing_only_both_arms_train_the_same_weights(tmp_path):
    root = write_image_folder(tmp_path / "d")
    fast = [*SMALL, "data=folder", f"data.root={root}", "trainer.max_epochs=3", "recipe.plateau_patience=0"]
    a = train(make_config(*fast, "data.ten_crop=true"), tmp_path / "ten")
    b = train(make_config(*fast, "data.ten_crop=false"), tmp_path / "centre")
    wa = torch.load(tmp_path / "ten" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    wb = torch.load(tmp_path / "centre" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    assert a["final_val/top1_err"] == b["final_val/top1_err"]  # validation is centre crop in both
    assert a["test/top1_err"] == b["test/top1_err"] and b["test/tencrop_top1_err"] is None

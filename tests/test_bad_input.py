"""Every bad input gets one line naming the problem and the fix, and no silent bad run: the
project's one table of them (docs/guide.md's "Reliability: bad input" lists the kinds), each
row run through train() as `python src/train.py` runs it."""

import csv
import json
import shutil

import pytest
import torch

from alexnet.checkpoint_io import atomic_torch_save
from conftest import make_config, run_main, write_image_folder


def checkpoint(path, width):
    """A checkpoint as train.py writes it, as far as resuming checks it (its net's config)."""
    model = dict(make_config("debug=tiny").model) | {"width": width, "num_classes": 10}
    atomic_torch_save({"state_dict": {}, "hyper_parameters": {"model": model}, "epoch": 0}, path)
    return path


def folder_missing(tmp_path, split, cls, remove_folder):
    root = write_image_folder(tmp_path / "folder")
    target = root / split / cls
    if remove_folder:
        shutil.rmtree(target)
    else:
        for f in target.iterdir():
            f.unlink()
    return ["data=folder", f"data.root={root}"]


def setup(case, tmp_path):
    """The overrides of a bad input, with whatever it needs on disk."""
    if case == "root_is_file":
        (tmp_path / "images.zip").write_bytes(b"PK")
        return [f"data.root={tmp_path / 'images.zip'}"]
    if case == "log_dir_not_writable":
        (tmp_path / "logs").write_text("a file where the logs should go")
        return [f"paths.log_dir={tmp_path / 'logs'}"]
    if case == "ckpt_of_another_net":
        return [f"ckpt_path={checkpoint(tmp_path / 'job' / 'checkpoints' / 'last.ckpt', width=0.5)}"]
    if case == "ckpt_unreadable":
        good = checkpoint(tmp_path / "job" / "checkpoints" / "best-epoch000.ckpt", width=0.125)
        (good.parent / "last.ckpt").write_bytes(good.read_bytes()[:200])  # cut short by a crash
        return [f"ckpt_path={good.parent / 'last.ckpt'}"]
    if case == "empty_class_folder":
        return folder_missing(tmp_path, "train", "b", remove_folder=False)
    if case == "val_lacks_a_class":
        return folder_missing(tmp_path, "val", "c", remove_folder=True)
    if case == "resume_nothing":
        return ["resume=true", f"hydra.run.dir={tmp_path / 'runs' / 'new'}"]
    if case == "resume_bad_value":
        return ["resume=maybe"]
    assert "=" in case, case
    return case.split()  # a row that is its own overrides


# (case, the start of its one line on stderr): a named case set up on disk, or the overrides
ROWS = [
    ("root_is_file", "error: data.root='{tmp}/images.zip' is a file, not a folder: point it at a folder laid out as"),
    ("log_dir_not_writable", "error: cannot write to {tmp}/logs/train/runs/"),
    ("ckpt_of_another_net", "error: {tmp}/job/checkpoints/last.ckpt does not fit this config (model.width=0.5 there, 0.125 here): "
                            "resume with the config it was trained with ({tmp}/job/config.yaml) or start a new run"),
    ("ckpt_unreadable", "error: ckpt_path='{tmp}/job/checkpoints/last.ckpt' is unreadable ("),
    ("empty_class_folder", "error: {tmp}/folder/train has no images of class(es) ['b']: add their images or remove those "
                           "class folders from every split"),
    ("val_lacks_a_class", "error: {tmp}/folder/val has no images of class(es) ['c']"),
    ("resume_nothing", "error: resume=true: no checkpoint to continue in {tmp}/runs/new"),
    ("resume_bad_value", "error: resume='maybe' is not one of auto, true, false"),
    ("ckpt_path=/nope.ckpt", "error: ckpt_path='/nope.ckpt' is not a file"),
    ("data.root=/nonexistent", "error: data.root='/nonexistent' does not exist"),
    ("data=imagenet", "error: data.root is not set"),
    ("model.activation=sigmoid", "error: model.activation='sigmoid' is not one of ['relu', 'tanh']"),
    ("model.dropout=2", "error: model.dropout=2 must be in [0, 1)"),
    ("model=alexnet", "error: model.stem=imagenet cannot take 28 px inputs"),
    ("logger.wandb.mode=cloud", "error: logger.wandb.mode='cloud' is not one of"),
    ("trainer.max_epochs=-1", "error: trainer.max_epochs=-1 cannot work: pass a number of epochs ≥ 1 (or -1 together with"),
    ("trainer.max_epochs=0", "error: trainer.max_epochs=0 cannot work"),
    ("trainer.max_steps=0", "error: trainer.max_steps=0 cannot work: pass a number of steps ≥ 1, or -1 for no step limit"),
    ("trainer.limit_train_batches=0", "error: trainer.limit_train_batches=0 cannot work"),
    ("trainer.limit_val_batches=1.5", "error: trainer.limit_val_batches=1.5 cannot work"),
    ("trainer.limit_test_batches=0", "error: trainer.limit_test_batches=0 cannot work"),
    ("trainer.check_val_every_n_epoch=0", "error: trainer.check_val_every_n_epoch=0 cannot work"),
    ("trainer=ddp data.batch_size=127",
     "error: data.batch_size=127 is the global batch, split evenly over the 2 data-parallel processes"),
    ("data.num_workers=-2", "error: data.num_workers=-2 cannot work"),
    ("data.crop_size=0", "error: data.crop_size=0 cannot work"),
    ("data.crop_size=40", "error: data.crop_size=40 cannot work: the images are stored at data.stored_size=32; pass a crop ≤ 32"),
    ("data.batch_size=0", "error: data.batch_size=0 cannot work: pass a number of images ≥ 1"),
    ("data.mean=median", "error: data.mean='median' cannot work: pass pixel (the training set's mean image) or channel"),
    ("recipe.lr=abc", "error: recipe.lr='abc' cannot work: pass a positive learning rate, e.g. 0.01 (the paper's)"),
    ("recipe.lr=-0.01", "error: recipe.lr=-0.01 cannot work: pass a positive learning rate"),
    ("recipe.momentum=1.0", "error: recipe.momentum=1.0 cannot work: pass a value in [0, 1)"),
    ("recipe.weight_decay=-1", "error: recipe.weight_decay=-1 cannot work"),
    ("recipe.schedule=cosine", "error: recipe.schedule='cosine' cannot work: pass one of plateau, step, budget"),
    ("recipe.schedule=budget trainer.max_epochs=1",
     "error: recipe.schedule=budget places its drops at fractions of trainer.max_epochs=1: pass trainer.max_epochs ≥ 2"),
    ("recipe.schedule=budget recipe.budget_drops=[]", "error: recipe.schedule=budget needs its drops: pass recipe.budget_drops="),
    ("recipe.budget_drops=[4,5]", "error: recipe.budget_drops=[4, 5] cannot work: pass fractions of trainer.max_epochs"),
    ("recipe.budget_drops=0.5", "error: recipe.budget_drops=0.5 cannot work: pass fractions of trainer.max_epochs"),
    ("recipe.schedule=budget recipe.budget_drops=null", "error: recipe.schedule=budget needs its drops"),
    ("recipe.momentum_form=nesterov", "error: recipe.momentum_form='nesterov' cannot work: pass one of pytorch, paper"),
    ("recipe.input=hsv", "error: recipe.input='hsv' cannot work: pass one of raw_255, standardized"),
    ("seed=-1", "error: seed=-1 cannot work: pass an integer in [0, 2^32)"),
    ("callbacks.checkpoint.every_minutes=0", "error: callbacks.checkpoint.every_minutes=0 cannot work"),
    ("callbacks.checkpoint.sweep_keep=some", "error: callbacks.checkpoint.sweep_keep='some' cannot work: pass one of"),
    ("channels_last=Auto", "error: channels_last='Auto' cannot work: pass true, false or auto"),
]


@pytest.mark.parametrize("case, expected", ROWS, ids=[r[0] for r in ROWS])
def test_a_bad_input_gets_one_line(case, expected, tmp_path):
    """The line `python src/train.py` prints (`error: ` + the ConfigError's one line, status 2):
    through train() for the rows it checks, through the main for the one Hydra's callback
    checks before any job (test_cli.py runs the CLI's one-line path itself)."""
    from alexnet.training import ConfigError, train

    overrides = setup(case, tmp_path)
    if case == "log_dir_not_writable":
        out = run_main("train.py", "debug=tiny", "callbacks.progress_bar=none", *overrides)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1, out.stderr[-3000:]
        line = lines[0]
    else:
        run_dir = next((o.split("=", 1)[1] for o in overrides if o.startswith("hydra.run.dir=")), tmp_path / "run")
        cfg = make_config("debug=tiny", "callbacks.progress_bar=none", *[o for o in overrides if not o.startswith("hydra.")])
        with pytest.raises(ConfigError) as e:
            train(cfg, run_dir)
        line = f"error: {e.value}"
        assert len(line.splitlines()) == 1
    assert line.startswith(expected.format(tmp=tmp_path)), line
    assert not (tmp_path / "run" / "summary.json").exists()  # nothing half-written
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_ckpt_unreadable_offers_the_next_older_good_one(tmp_path):
    overrides = setup("ckpt_unreadable", tmp_path)
    from alexnet.resume import ResumeError, explicit_checkpoint

    with pytest.raises(ResumeError) as e:
        explicit_checkpoint(overrides[0].split("=", 1)[1])
    good = tmp_path / "job" / "checkpoints" / "best-epoch000.ckpt"
    assert str(e.value).endswith(f"the newest good one beside it is {good}: pass ckpt_path={good}")


def test_a_run_that_diverges_after_its_last_step_is_failed_and_its_summary_agrees(tmp_path, monkeypatch):
    """NaN in the last evaluation (the net diverged after its last training step): the run is
    failed, not completed with the previous epoch's numbers; summary.json agrees with metrics.csv."""
    from alexnet.module import AlexNetModule
    from alexnet.training import train

    real = AlexNetModule.forward

    def forward(self, x):
        out = real(self, x)
        return out * float("nan") if not self.training and self.current_epoch >= 1 else out

    monkeypatch.setattr(AlexNetModule, "forward", forward)
    summary = train(make_config("debug=tiny", "callbacks.progress_bar=none"), tmp_path / "job")
    with open(tmp_path / "job" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and rows[-1]["val/loss"] == "nan" and rows[0]["val/loss"] != "nan"
    assert summary == json.loads((tmp_path / "job" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["final_val/loss"] is None and summary["test/loss"] is None
    assert summary["error"].startswith("non-finite metrics at the end (final val/loss=nan")
    assert summary["best_val/loss"] == pytest.approx(float(rows[0]["val/loss"]))
    assert torch.isfinite(torch.tensor(summary["final_train/loss"]))

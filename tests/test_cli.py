"""What a user meets on the command line: a mistyped override gets the closest names, values that
cannot work get one line, signals end a run with a non-zero status after its record, a run cut
short mid-epoch is still validated, and a sweep's output is quiet, shows its progress, keeps one
checkpoint per arm and prints paths that the documented commands accept."""

import json
import os
import signal
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException

from alexnet import paper
from alexnet.cli import explain
from alexnet.config_checks import config_problem
from alexnet.training import train
from conftest import CONF, REPO, make_config, run_main

TINY = ["debug=tiny", "callbacks.progress_bar=none"]
ENV = {**os.environ, "WANDB_MODE": "disabled"}
# lines of the dependencies that a run must not print (Lightning's banner and tips, known warnings)
NOISE = ("GPU available", "TPU available", "Tip:", "LeafSpec", "wandb: WARNING", "log_every_n_steps", "v_num")


def cli(script, *args, timeout=600, **kwargs):
    return subprocess.run([sys.executable, str(REPO / "src" / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=ENV, **kwargs)


def composition_error(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"), pytest.raises(HydraException) as e:
        compose(config_name="config", overrides=list(overrides))
    return explain(e.value, CONF, "config", list(overrides), "src/train.py")


@pytest.mark.parametrize("overrides, expected", [
    (["model.lrnn=false"], "error: model.lrnn is not a key of this config: did you mean model.lrn? "),
    (["trainer.max_epoch=3"], "error: trainer.max_epoch is not a key of this config: did you mean trainer.max_epochs? "),
    (["experiment=ablate_lrn", "data.rot=/x"], "error: data.rot is not a key of this config: did you mean data.root? "),
    (["experiment=ablate_lrm"], "error: experiment=ablate_lrm is not an option of experiment: did you mean ablate_lrn"),
    (["model=alexnett"], "error: model=alexnett is not an option of model: did you mean alexnet or alexnet_cifar? "
                         "choices: alexnet, alexnet_cifar, convnet4"),
])
def test_a_typo_gets_the_closest_valid_names(overrides, expected):
    assert composition_error(*overrides).startswith(expected)


@pytest.mark.parametrize("overrides", [[], ["experiment=ablate_lrn"], ["recipe=code"]])
def test_a_preview_resolves_every_value(overrides):
    """`--cfg job --resolve` resolves the composed config in place, the paper's tuples included."""
    from omegaconf import OmegaConf

    cfg = make_config(*overrides)
    OmegaConf.resolve(cfg)
    assert list(cfg.recipe.step_milestones) == [25, 51, 78] and "${" not in OmegaConf.to_yaml(cfg)


def test_base_files_are_not_offered_as_experiments():
    line = composition_error("experiment=nope")
    choices = line.split("choices: ")[1].split(", ")
    assert "ablate_lrn" in choices and not [c for c in choices if c.startswith("_")]
    assert "_ablation" not in run_main("train.py", "--help").stdout


def test_values_that_work_pass():
    assert config_problem(make_config()) is None
    assert config_problem(make_config("trainer.log_every_n_steps=0", "trainer.limit_train_batches=1.0")) is None
    assert config_problem(make_config("trainer.max_epochs=-1", "trainer.max_steps=100")) is None
    assert config_problem(make_config("experiment=paper", "data.root=/x")) is None


def test_the_cli_says_it_in_one_line_with_status_2(tmp_path):
    for args in (["model.lrnn=false"], ["trainer.max_epochs=-1"]):
        out = run_main("train.py", *args, f"hydra.run.dir={tmp_path}/run")
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert not (tmp_path / "run").exists()  # no empty folder of Hydra's left behind
    kept = tmp_path / "earlier"  # a run's record, resumed with a bad value: refused, kept
    kept.mkdir()
    (kept / "summary.json").write_text("{}")
    out = cli("train.py", "trainer.max_epochs=-1", f"hydra.run.dir={kept}")  # the real process, once
    assert out.returncode == 2 and out.stderr.startswith("error: ") and len(out.stderr.splitlines()) == 1
    assert (kept / "summary.json").read_text() == "{}"


@pytest.mark.parametrize("sig, status, said", [(signal.SIGTERM, 143, "stopped by SIGTERM"),
                                               (signal.SIGINT, 1, "stopped by SIGINT")])
def test_a_signal_ends_the_run_interrupted_and_non_zero_saying_how_to_resume(tmp_path, sig, status, said):
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "src" / "train.py"), *TINY, "trainer.max_epochs=50", f"hydra.run.dir={tmp_path}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=ENV,
        # a shell's background job ignores SIGINT and its children inherit that: restore the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:  # not a terminal: one line per epoch is the progress
        if "epoch 1/50" in line:
            proc.send_signal(sig)
            break
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == status, err[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["error"].startswith(said) and summary["epochs"] >= 1
    resume = f"resume from its last checkpoint with python {REPO / 'src' / 'train.py'} "
    assert resume in summary["error"] and summary["error"].endswith(f" hydra.run.dir={tmp_path}")
    assert summary["error"] in out + err  # said on the console too, not only in the record
    if sig == signal.SIGTERM:
        assert err.strip().splitlines()[-1].startswith("error: stopped by SIGTERM")


@pytest.mark.parametrize("limit", ["trainer.max_steps=2", "trainer.max_time=00:00:00:02"])
def test_a_run_ended_within_an_epoch_is_validated_there(tmp_path, limit):
    # 8 steps per epoch: 2 steps, or 2 s of a tiny net's training, end it within its first epoch
    cfg = make_config(*TINY, "trainer.max_epochs=-1", "trainer.limit_train_batches=8", limit)
    summary = train(cfg, tmp_path / "job")
    assert summary["status"] == "completed" and summary["epochs"] >= 1
    assert summary["final_val/top1_err"] is not None and summary["test/top1_err"] is not None
    assert "val/top1_err" in (tmp_path / "job" / "metrics.csv").read_text().splitlines()[0]
    if "max_steps" in limit:
        assert summary["steps"] == 2 and summary["epochs"] == 1


def test_a_sweep_is_quiet_shows_progress_keeps_one_checkpoint_per_arm_and_its_paths_work(tmp_path):
    sweep = tmp_path / "sweep"
    out = cli("train.py", "-m", *TINY, "trainer.max_epochs=1", "model.lrn=true,false", "seed=0,1",
              f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr[-3000:]
    printed = out.stdout + out.stderr
    assert not [n for n in NOISE if n in printed], printed
    assert "[sweep] job 1/4 · 0 completed" in printed and "[sweep] job 4/4 · 3 completed" in printed
    assert "~" in printed.split("[sweep] job 2/4")[1].splitlines()[0]  # an estimate once a job is done
    train_log = (sweep / "0_model.lrn-True+seed-0" / "train.log").read_text()
    assert "epoch 1/1 · step 3 · train loss" in train_log and "completed in" in train_log
    kept = sorted(p.parent.parent.name for p in sweep.glob("*/checkpoints/last.ckpt"))
    assert kept == ["0_model.lrn-True+seed-0", "2_model.lrn-False+seed-0"]  # seed 1 of each arm removed its own
    # the README's commands, on the paths the sweep printed, unquoted
    ckpt = sweep / "0_model.lrn-True+seed-0" / "checkpoints" / "last.ckpt"
    evaluated = run_main("evaluate.py", f"ckpt={ckpt}", f"hydra.run.dir={tmp_path}/eval", "progress_bar=false")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["checkpoint"] == str(ckpt)
    resumed = run_main("train.py", *TINY, "trainer.max_epochs=2", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path}/more")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((tmp_path / "more" / "summary.json").read_text())["epochs"] == 2


def test_a_kill_during_the_stop_validation_resumes_into_it(tmp_path, monkeypatch):
    """last.ckpt is not written at the step a stop was asked at: a kill during the validation that
    stop runs resumes from the step before, and the record still gets its final validation."""
    from alexnet import training
    from test_train import KillAt, Killed

    overrides = [*TINY, "trainer.max_epochs=-1", "trainer.max_steps=2", "trainer.limit_train_batches=8",
                 "callbacks.checkpoint.every_n_steps=1"]
    build = training.build_callbacks
    monkeypatch.setattr(training, "build_callbacks", lambda *a: [*build(*a), KillAt(validation=0)])
    with pytest.raises(Killed):
        train(make_config(*overrides), tmp_path / "job")
    monkeypatch.undo()
    import torch

    assert torch.load(tmp_path / "job" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 1
    summary = train(make_config(*overrides), tmp_path / "job")  # re-run in its directory: resume
    assert summary["status"] == "completed" and summary["steps"] == 2 and summary["final_val/top1_err"] is not None


def _job(sweep, name, seed, completed=True, data="cifar10_sample"):
    """A job directory as train() leaves it: config.yaml, summary.json, checkpoints/last.ckpt."""
    job = sweep / name
    (job / "checkpoints").mkdir(parents=True)
    (job / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (job / "config.yaml").write_text(f"seed: {seed}\nmodel:\n  lrn: true\ndata:\n  name: {data}\n")
    if completed:
        (job / "summary.json").write_text(json.dumps({"status": "completed"}))
    return job


def test_a_sweep_keeps_one_checkpoint_per_configuration(tmp_path):
    from alexnet.resume import keep_in_sweep

    sweep = tmp_path / "sweep"
    first = _job(sweep, "0_seed-0", 0)
    other_data = _job(sweep, "1_seed-0", 0, data="tiny_imagenet")  # same dir name but seed: another configuration
    assert keep_in_sweep(first, "one_per_arm") == [] and keep_in_sweep(other_data, "one_per_arm") == []
    unfinished = _job(sweep, "2_seed-1", 1, completed=False)
    second = _job(sweep, "3_seed-1", 1)
    assert keep_in_sweep(second, "all") == []
    assert keep_in_sweep(second, "one_per_arm") == [second / "checkpoints" / "last.ckpt"]
    assert not (second / "checkpoints").exists() and (first / "checkpoints" / "last.ckpt").exists()
    assert (unfinished / "checkpoints" / "last.ckpt").exists()  # a resume needs it: never touched
    assert keep_in_sweep(first, "none") == [first / "checkpoints" / "last.ckpt"]


def test_time_left_counts_only_the_jobs_still_to_train():
    from alexnet.sweep_callbacks import jobs_left

    assert jobs_left(24, 0, []) == 24
    assert jobs_left(24, 9, ["0_a", "8_b"]) == 15  # failed jobs 1-7 are behind us, not left
    assert jobs_left(24, 2, ["0_a", "1_b", "5_c", "7_d"]) == 20  # 5 and 7 completed in an earlier attempt


def test_help_fits_a_screen_and_names_every_experiment_and_switch():
    out = run_main("train.py", "--help")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert len(lines) <= 40  # not the whole config (that is --cfg job)
    for path in (CONF / "experiment").glob("*.yaml"):
        assert f"experiment={path.stem}" in out.stdout or path.stem in out.stdout
    for claim in paper.CLAIMS.values():
        assert any(x.strip().startswith(f"{claim.switch}={claim.paper_arm}|{claim.other_arm} ")
                   and x.endswith(claim.text) for x in lines), claim.text

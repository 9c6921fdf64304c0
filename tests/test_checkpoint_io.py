"""Checkpoints that a kill or a full disk cannot destroy, and resuming by re-running a job."""

import errno
import json
import logging
import os
import signal
from contextlib import contextmanager

import pytest
import torch

from alexnet import checkpoint_io
from alexnet.checkpoint_io import TMP_PREFIX, atomic_torch_save, check_readable, clean_orphans
from alexnet.training import ConfigError, train
from conftest import make_config

TINY = ["debug=tiny", "callbacks.progress_bar=none"]


def full_disk_after(monkeypatch, should_fail):
    """torch.save writes part of the file, then the disk is full, whenever should_fail(obj)."""
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if should_fail(obj):
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"epoch": 0, "w": torch.arange(5)}, path)
    full_disk_after(monkeypatch, lambda obj: True)
    with pytest.raises(OSError, match="no space left on the device to write .*last.ckpt; the previous checkpoint is kept"):
        atomic_torch_save({"epoch": 1, "w": torch.zeros(5)}, path)
    assert torch.load(path, weights_only=True)["epoch"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left


class SignalsOnWrite:
    """A file that sends these signals to this process on its `nth` write: torch.save's C++
    writer calls `write` back in Python, where the handlers would run."""

    def __init__(self, f, nth, *signums):
        self.f, self.nth, self.signums = f, nth, signums

    def write(self, data):
        self.nth -= 1
        if self.nth == 0:
            for signum in self.signums:
                os.kill(os.getpid(), signum)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)


def signals_on_write(monkeypatch, nth, *signums):
    real = checkpoint_io.atomic_file

    @contextmanager
    def atomic_file(path, mode="w"):
        with real(path, mode) as f:
            yield SignalsOnWrite(f, nth, *signums)

    monkeypatch.setattr(checkpoint_io, "atomic_file", atomic_file)


@pytest.fixture
def handlers():
    """SIGINT raises KeyboardInterrupt (a test runner may ignore it); SIGUSR1's handler notes it."""
    seen = []
    previous = (signal.signal(signal.SIGINT, signal.default_int_handler),
                signal.signal(signal.SIGUSR1, lambda signum, frame: seen.append(signum)))
    yield seen
    signal.signal(signal.SIGINT, previous[0])
    signal.signal(signal.SIGUSR1, previous[1])


def test_a_signal_during_a_checkpoint_write_acts_once_the_write_is_whole(tmp_path, monkeypatch, handlers):
    """Ctrl+C and a requeue's signal while torch's writer writes: the new checkpoint is written
    whole, then each signal acts, in order. Raised inside the writer, torch turned the
    KeyboardInterrupt into "unexpected pos" (the run failed instead of stopping), aborted, or lost it
    (the run went on: CI's SIGINT test)."""
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"epoch": 0}, path)
    signals_on_write(monkeypatch, 3, signal.SIGINT, signal.SIGUSR1)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"epoch": 1, "w": torch.ones(1000)}, path)
    assert handlers == [signal.SIGUSR1]  # it ran too, after the KeyboardInterrupt's handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers are back
    saved = torch.load(path, weights_only=True)
    assert saved["epoch"] == 1 and saved["w"].sum() == 1000
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_a_second_ctrl_c_stops_a_checkpoint_write_at_once(tmp_path, monkeypatch, handlers):
    class SignalsWhenPickled:  # before torch's writer starts: a KeyboardInterrupt here is clean
        def __reduce__(self):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            return (int, (7,))

    path = tmp_path / "last.ckpt"
    atomic_torch_save({"epoch": 0}, path)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"epoch": 1, "w": SignalsWhenPickled()}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 0}  # the write abandoned, the old kept
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_unreadable_checkpoints_are_named_and_orphans_removed(tmp_path):
    good = tmp_path / "good.ckpt"
    atomic_torch_save({"w": torch.ones(3)}, good)
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "truncated.ckpt").write_bytes(good.read_bytes()[:-40])
    assert check_readable(good) is None
    assert check_readable(tmp_path / "empty.ckpt") == "empty file"
    assert check_readable(tmp_path / "truncated.ckpt")
    orphan = tmp_path / f"{TMP_PREFIX}last.ckpt.1234"
    orphan.write_bytes(b"PK")
    assert clean_orphans(tmp_path) == [orphan] and not orphan.exists() and good.exists()


def run(tmp_path, *overrides, name="job"):
    cfg = make_config(*TINY, *overrides)
    return train(cfg, tmp_path / name, arm={"model.lrn": True}), tmp_path / name


def test_full_disk_mid_run_then_rerun_resumes_bit_identical(tmp_path, monkeypatch):
    """ENOSPC while writing epoch 1's checkpoints: the job fails, epoch 0's last.ckpt survives
    whole; re-running the job in its own directory resumes it and ends as an uninterrupted run."""
    full_disk_after(monkeypatch, lambda obj: isinstance(obj, dict) and obj.get("epoch", 0) >= 1)
    with pytest.raises(OSError, match="no space left"):
        run(tmp_path, name="job")
    job = tmp_path / "job"
    ckpts = job / "checkpoints"
    survivor = torch.load(ckpts / "last.ckpt", weights_only=False)
    assert survivor["epoch"] == 0
    assert not list(ckpts.glob(f"{TMP_PREFIX}*"))
    failed = json.loads((job / "summary.json").read_text())
    assert failed["status"] == "failed" and "no space left" in failed["error"]
    monkeypatch.undo()  # space freed
    (ckpts / f"{TMP_PREFIX}last.ckpt.999").write_bytes(b"PK")  # a kill's leftover

    resumed, _ = run(tmp_path, name="job")  # the same command, the same directory
    straight, other = run(tmp_path, name="straight")
    assert resumed["status"] == "completed" and resumed["attempts"] == 2 and straight["attempts"] == 1
    assert resumed["epochs"] == straight["epochs"] == 2
    assert not list(ckpts.glob(f"{TMP_PREFIX}*"))
    final = torch.load(ckpts / "last.ckpt", weights_only=False)
    run_id = survivor["callbacks"]["RunRecord"]["wandb_id"]  # one W&B run over both attempts
    assert final["callbacks"]["RunRecord"]["wandb_id"] == run_id and len(run_id) == 8
    a = final["state_dict"]
    b = torch.load(other / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    for key in ("final_train/loss", "final_val/loss", "test/top1_err", "test/loss"):
        assert resumed[key] == straight[key], key
    # a completed job re-run is not trained again
    again, _ = run(tmp_path, name="job")
    assert again == resumed


def test_a_bad_last_checkpoint_falls_back_to_the_next_older_good_one(tmp_path, caplog):
    # 2 epochs, the first the best by val error: best-epoch000.ckpt is its own, older file (a run
    # whose best is its final state shares last.ckpt's file once completed: nothing to fall back to)
    first, job = run(tmp_path, "trainer.max_epochs=2", "resume=false")
    ckpts = job / "checkpoints"
    (job / "summary.json").unlink()  # as if killed before the end
    last = ckpts / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # a checkpoint a crash cut short
    (best,) = ckpts.glob("best-*.ckpt")
    assert best.name == "best-epoch000.ckpt" and not best.samefile(last)
    with pytest.raises(ConfigError) as e:
        run(tmp_path, "trainer.max_epochs=2", f"ckpt_path={last}", name="other")
    assert str(e.value).startswith(f"ckpt_path='{last}' is unreadable (")
    assert str(e.value).endswith(f"the newest good one beside it is {best}: pass ckpt_path={best}")
    with caplog.at_level(logging.WARNING):
        summary, _ = run(tmp_path, "trainer.max_epochs=2")  # re-run in its own directory
    assert f"checkpoint {last} is unreadable" in caplog.text and f"using {best.name} instead" in caplog.text
    assert summary["status"] == "completed" and summary["attempts"] == 2
    # resumed from the end of epoch 1: epoch 2 trained again, bit for bit, and scored
    for key in ("test/top1_err", "test/loss", "final_val/loss"):
        assert summary[key] is not None and summary[key] == first[key], key


def test_last_ckpt_is_resumed_even_when_a_best_checkpoint_is_newer(tmp_path):
    from alexnet.resume import newest_good

    ckpts = tmp_path / "checkpoints"
    for name in ("last.ckpt", "best-epoch001.ckpt", "best-epoch002.ckpt"):  # a kill interrupted last's write
        atomic_torch_save({"w": torch.ones(1)}, ckpts / name)
    assert newest_good(tmp_path) == ckpts / "last.ckpt"
    (ckpts / "last.ckpt").write_bytes(b"")
    assert newest_good(tmp_path) == ckpts / "best-epoch002.ckpt"


def test_resuming_with_another_net_is_one_line(tmp_path):
    _, job = run(tmp_path, "trainer.max_epochs=1")
    with pytest.raises(ConfigError) as e:
        run(tmp_path, "trainer.max_epochs=2", "model.width=0.25", f"ckpt_path={job}/checkpoints/last.ckpt", name="b")
    message = str(e.value)
    assert "\n" not in message and "does not fit this config (model.width=0.125 there, 0.25 here)" in message
    assert f"resume with the config it was trained with ({job}/config.yaml)" in message
    assert not (tmp_path / "b").exists()


def test_resume_true_without_anything_to_resume_says_how(tmp_path):
    with pytest.raises(ConfigError, match="resume=true: no checkpoint to continue in .* re-run in the job's own directory"):
        run(tmp_path, "resume=true", name="runs/new")


def test_checkpoint_io_is_lightnings_plugin():
    from lightning.pytorch.plugins.io import CheckpointIO

    assert issubclass(checkpoint_io.AtomicCheckpointIO, CheckpointIO)


def test_a_full_disk_fails_one_job_and_the_sweep_goes_on(tmp_path, monkeypatch):
    """A sweep whose first job hits ENOSPC writing its epoch-1 checkpoint: that job's epoch-0
    checkpoint survives whole, its failure is said in the sweep's log (its record cannot be written), the
    next job runs, the report lists both, and the command's exit status says something failed."""
    import errno

    import alexnet.record
    from conftest import run_main

    full, real_save, real_write = [], torch.save, alexnet.record.atomic_write_text

    def save(obj, f, *args, **kwargs):  # half the file written, then ENOSPC; the next job has space again
        if "0_seed-0" in str(getattr(f, "name", f)) and isinstance(obj, dict) and obj.get("epoch", 0) >= 1:
            full.append(True)
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    def write(path, text):  # every record write of that job refused from then on
        if full and "0_seed-0" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, text)

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(alexnet.record, "atomic_write_text", write)
    sweep = tmp_path / "sweep"
    out = run_main("train.py", "-m", "seed=0,1", *TINY, f"hydra.sweep.dir={sweep}")
    assert out.returncode == 1, out.stderr[-3000:]
    first, second = sweep / "0_seed-0", sweep / "1_seed-1"
    assert torch.load(first / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 0
    assert not list((first / "checkpoints").glob(f"{TMP_PREFIX}*"))
    assert not (first / "summary.json").exists()  # the disk refused it ...
    log = out.stdout + out.stderr  # ... so the sweep's log has it
    assert "failed: job 0 (" in log and "0_seed-0): OSError: [Errno 28] no space left on the device" in log
    assert "its summary.json could not be written either" in log
    assert json.loads((second / "summary.json").read_text())["status"] == "completed"
    report = (sweep / "report.md").read_text()
    assert "`0_seed-0`" in report and "`1_seed-1`" in report and "missing" in report


def test_resume_true_continues_the_newest_unfinished_run_of_the_task(tmp_path):
    from alexnet.resume import resume_point

    runs = tmp_path / "runs"
    for name in ("older", "unfinished", "completed"):
        atomic_torch_save({"w": torch.ones(2)}, runs / name / "checkpoints" / "last.ckpt")
    (runs / "completed" / "summary.json").write_text(json.dumps({"status": "completed"}))
    import os

    os.utime(runs / "older" / "checkpoints" / "last.ckpt", (1, 1))  # long ago
    new = runs / "new"
    new.mkdir()
    start = resume_point(True, None, new, single_run=True)
    assert start.out_dir == runs / "unfinished" and start.ckpt_path == runs / "unfinished" / "checkpoints" / "last.ckpt"
    # auto: only the job's own directory; a sweep's job never takes a sibling's checkpoint
    assert resume_point("auto", None, new, single_run=True).ckpt_path is None
    with pytest.raises(ValueError, match="resume=true: no checkpoint"):
        resume_point(True, None, new, single_run=False)
    done = resume_point("auto", None, runs / "completed", single_run=False)
    assert done.completed == {"status": "completed"} and done.ckpt_path is None
    assert resume_point(False, None, runs / "unfinished", single_run=True).ckpt_path is None


def test_a_best_checkpoint_of_the_final_state_shares_last_ckpts_file(tmp_path):
    """One file on disk for one state: a best checkpoint saved at the same step as last.ckpt
    becomes a hard link to it; an earlier best stays its own file; a later write of last.ckpt
    (atomic: a new file) leaves the best one's contents alone."""
    from alexnet.resume import share_best_with_last

    ckpt = tmp_path / "job" / "checkpoints"
    ckpt.mkdir(parents=True)
    atomic_torch_save({"epoch": 2, "global_step": 30, "w": torch.ones(3)}, ckpt / "last.ckpt")
    atomic_torch_save({"epoch": 2, "global_step": 30, "w": torch.ones(3)}, ckpt / "best-epoch002.ckpt")
    atomic_torch_save({"epoch": 0, "global_step": 10, "w": torch.zeros(3)}, ckpt / "best-epoch000.ckpt")
    assert share_best_with_last(tmp_path / "job") == [ckpt / "best-epoch002.ckpt"]
    assert (ckpt / "best-epoch002.ckpt").samefile(ckpt / "last.ckpt")
    assert not (ckpt / "best-epoch000.ckpt").samefile(ckpt / "last.ckpt")
    assert sorted(p.name for p in ckpt.iterdir()) == ["best-epoch000.ckpt", "best-epoch002.ckpt", "last.ckpt"]
    atomic_torch_save({"epoch": 3, "global_step": 40, "w": torch.full((3,), 7.0)}, ckpt / "last.ckpt")
    assert torch.equal(torch.load(ckpt / "best-epoch002.ckpt", weights_only=True)["w"], torch.ones(3))
    assert share_best_with_last(tmp_path / "job") == []  # nothing saved at step 40 but last



def test_a_completed_run_whose_last_epoch_was_best_keeps_one_checkpoint_file(tmp_path):
    # by the training loss (3.56 then 3.13 in this tiny run) its last epoch is its best
    summary, _ = run(tmp_path, "trainer.max_epochs=2", "callbacks.checkpoint.monitor=train/loss")
    ckpt = tmp_path / "job" / "checkpoints"
    assert summary["status"] == "completed"
    assert [p.name for p in ckpt.glob("best-*.ckpt")] == ["best-epoch001.ckpt"]
    assert (ckpt / "best-epoch001.ckpt").samefile(ckpt / "last.ckpt")


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path):
    """The one atomic-write helper (alexnet.atomic) that summaries, metrics, plans, caches'
    manifests, statistics and checkpoints go through."""
    from alexnet.atomic import atomic_file, atomic_write_text

    path = tmp_path / "summary.json"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_file(path) as f:
        f.write("half of the new")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]

"""Data parallelism on two CPU processes: each rank's training order changes every epoch, the
ranks' shards are disjoint and together the epoch, and validation counts every image once (no
padding duplicates), so its error equals one process's on the same weights."""

import json
import subprocess
import sys

import lightning as L
import pytest
import torch

from alexnet import checkpoint, config_checks, ddp_rerun
from alexnet.config_checks import config_problem
from alexnet.training import batch_split, train
from conftest import REPO, make_config, write_image_folder
from helpers.ddp_shards import datamodule, fingerprint, seeded_module


@pytest.fixture(scope="module")
def two_ranks(ddp_job):
    """What each rank saw of the shards' folder (tests/helpers/ddp_shards.py, in ddp_job's launch)."""
    *_, (root, out) = ddp_job
    ranks = [{int(k): v for k, v in json.loads((out / f"rank{r}.json").read_text()).items()} for r in (0, 1)]
    return root, ranks, json.loads((out / "val.json").read_text())


def test_each_rank_gets_a_new_disjoint_half_of_every_epoch(two_ranks):
    root, ranks, _ = two_ranks
    dm = datamodule(str(root))
    dm.setup()
    every_image = sorted(fingerprint(torch.as_tensor(dm.train_set.images[i])) for i in dm.train_set.rows)
    assert len(set(every_image)) == 18
    for epoch in (0, 1):
        a, b = ranks[0][epoch], ranks[1][epoch]
        assert len(a) == len(b) == 9 and not set(a) & set(b)
        assert sorted(a + b) == every_image
    for rank in ranks:
        assert rank[0] != rank[1]  # a new order every epoch (set_epoch reaches the sampler)


def test_validation_on_two_ranks_counts_each_image_once(two_ranks):
    root, _, val = two_ranks
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    (one,) = trainer.validate(seeded_module(), datamodule=datamodule(str(root)), verbose=False)
    for key in ("val/top1_err", "val/top5_err", "val/loss"):
        assert val[key] == pytest.approx(float(one[key]), abs=1e-6), key


def test_ddp_in_a_sweep_refuses_to_run_when_lightnings_hook_is_gone(monkeypatch):
    from lightning.fabric.strategies.launchers import subprocess_script

    monkeypatch.delattr(subprocess_script, ddp_rerun.PATCHED)
    ddp_rerun.make_ddp_rerun_one_job()
    try:
        ddp = {"strategy": "ddp", "devices": 2}
        problem = ddp_rerun.ddp_in_sweep_problem(ddp, multirun=True)
        assert problem and "_hydra_subprocess_cmd is gone" in problem and "without -m" in problem
        assert ddp_rerun.ddp_in_sweep_problem(ddp, multirun=False) is None  # a single run needs no patch
        assert ddp_rerun.ddp_in_sweep_problem({"strategy": "auto", "devices": 1}, multirun=True) is None
        monkeypatch.setenv("LOCAL_RANK", "0")  # ranks started from outside (a submitit task): Lightning starts none
        assert ddp_rerun.ddp_in_sweep_problem(ddp, multirun=True) is None
    finally:
        monkeypatch.undo()
        ddp_rerun.make_ddp_rerun_one_job()
    assert ddp_rerun.ddp_in_sweep_problem({"strategy": "ddp", "devices": 2}, multirun=True) is None


@pytest.mark.parametrize("trainer, processes", [
    (["trainer=cpu"], 1), (["trainer=ddp"], 2), (["trainer=ddp", "trainer.num_nodes=2"], 4),
    (["trainer=columns"], 1),  # one pair: both columns take the whole batch
    (["trainer=columns", "trainer.devices=4"], 2),  # two pairs, data parallel: half each
])
def test_the_global_batch_is_split_over_data_parallel_processes_not_columns(trainer, processes):
    """Read from the Trainer before any process starts (the columns' mesh does not exist yet),
    and from the config before any work; a batch that does not divide gets one line."""
    cfg = make_config(*trainer, "trainer.accelerator=cpu")
    assert config_checks.data_parallel_processes(cfg.trainer) == processes
    kwargs = {k: cfg.trainer[k] for k in ("devices", "strategy", "num_nodes")}
    lightning = L.Trainer(accelerator="cpu", logger=False, **kwargs)
    assert batch_split(lightning, 128) == {"global": 128, "per_process": 128 // processes,
                                           "data_parallel_processes": processes}
    assert config_problem(make_config(*trainer, "data.batch_size=128")) is None
    odd = config_problem(make_config(*trainer, "data.batch_size=127"))
    if processes == 1:
        assert odd is None
    else:
        below, above = 127 // processes * processes, -(-127 // processes) * processes
        assert odd == (
            f"data.batch_size=127 is the global batch, split evenly over the {processes} "
            "data-parallel processes (trainer.devices × trainer.num_nodes; trainer=columns: "
            f"one per pair): pass a multiple of {processes}, e.g. {below} or {above}")
        with pytest.raises(ValueError, match="is the global batch"):
            batch_split(lightning, 127)


# 48 training images, a global batch of 4: 12 steps an epoch, each rank 2 images a step; no
# randomness the two runs would draw differently (crops, flips, lighting, dropout)
JOB = ["model=alexnet_cifar", "model.width=0.125", "model.dropout=0", "data.stored_size=32",
       "data.crop_size=32", "data.flip=false", "data.pca_lighting=false", "data.holdout=null",
       "data.train_eval=null", "data.batch_size=4", "trainer.max_epochs=2",
       "callbacks.progress_bar=none", "logger=csv",
       "callbacks.checkpoint.every_minutes=1e-6"]  # a mid-epoch checkpoint due at every check


@pytest.fixture(scope="module")
def ddp_job(tmp_path_factory):
    """The platform's job on two DDP ranks (tests/helpers/ddp_job.py, with spies) and the same
    job on one process; then, in the same two ranks (one launch), what each saw of a folder of
    18 training images (3 batches of 3 per rank: a global batch of 6, nothing dropped) and 9
    validation images: odd, so a DistributedSampler would pad rank 1 with a repeat of one image."""
    tmp = tmp_path_factory.mktemp("ddp_job")
    root = write_image_folder(tmp / "folder", per_class=(16, 3))
    shards_root = write_image_folder(tmp / "shards", per_class=(6, 3))
    out = tmp / "out"
    out.mkdir()
    helper = REPO / "tests" / "helpers" / "ddp_job.py"
    done = subprocess.run([sys.executable, str(helper), str(root), str(shards_root), str(out), *JOB],
                          cwd=tmp, timeout=600, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = [json.loads((out / f"counts.rank{r}.json").read_text()) for r in (0, 1)]
    train(make_config("trainer=cpu", f"data.root={root}", *JOB), tmp / "one")
    return out / "job", tmp / "one", counts, done.stderr, (shards_root, out)


def test_the_global_batch_is_split_over_the_ranks_and_trains_as_one_process(ddp_job):
    """data.batch_size is the global batch: each rank takes half of it, the line says so, and
    the two ranks' steps are one process's steps on the whole batch."""
    job, one, counts, log, _ = ddp_job
    assert [c["batch"] for c in counts] == [2, 2]
    line = "4 images per step (data.batch_size, the global batch) = 2 data-parallel processes × 2"
    assert line + " each" in log
    summaries = [json.loads((d / "summary.json").read_text()) for d in (job, one)]
    assert summaries[0]["batch"] == {"global": 4, "per_process": 2, "data_parallel_processes": 2}
    assert summaries[0]["steps"] == summaries[1]["steps"] == 24
    both = [checkpoint.read(d / "checkpoints" / "last.ckpt")["state_dict"] for d in (job, one)]
    for name, tensor in both[1].items():  # float sums in another order: ~2e-6 apart after 24 steps
        torch.testing.assert_close(both[0][name], tensor, rtol=1e-4, atol=1e-5, msg=name)
    assert summaries[0]["final_val/loss"] == pytest.approx(summaries[1]["final_val/loss"], rel=1e-3)


def test_rank_zero_lists_keys_and_computes_the_statistics_once_and_both_ranks_read_them(ddp_job):
    _, _, (rank0, rank1), *_ = ddp_job
    assert (rank0["listings"], rank0["keys"], rank0["stats"]) == (1, 2, 1)  # train and val keyed
    assert (rank1["listings"], rank1["keys"], rank1["stats"]) == (0, 0, 0)  # rank 0's listing, read
    assert rank0["stats_digest"] == rank1["stats_digest"]  # the mean image and PCA rank 0 computed


def test_a_timed_mid_epoch_checkpoint_broadcasts_only_at_its_checks(ddp_job):
    """every_minutes under DDP: rank 0 decides at checks 10 steps apart (here: due at each), not
    after every one of the 24 steps as Lightning's own callback would."""
    _, _, counts, *_ = ddp_job
    for c in counts:
        assert c["step_broadcasts"] == 2  # after steps 10 and 20
        assert c["mid_epoch_saves"] == 2  # both within an epoch (12 steps each)

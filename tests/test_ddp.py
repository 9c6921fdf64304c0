"""Data parallelism on two CPU processes: each rank's training order changes every epoch, the
ranks' shards are disjoint and together the epoch, and validation counts every image once (no
padding duplicates), so its error equals one process's on the same weights."""

import json
import subprocess
import sys

import lightning as L
import pytest
import torch

from alexnet import ddp_rerun
from conftest import REPO, write_image_folder
from helpers.ddp_shards import datamodule, fingerprint, seeded_module


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    # 18 training images (3 batches of 3 per rank, nothing dropped), 9 validation images: odd, so
    # a DistributedSampler would pad rank 1 with a repeat of one image
    root = write_image_folder(tmp / "folder", per_class=(6, 3))
    out = tmp / "out"
    out.mkdir()
    subprocess.run([sys.executable, str(REPO / "tests" / "helpers" / "ddp_shards.py"), str(root), str(out)],
                   cwd=tmp, check=True, timeout=300, capture_output=True)
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

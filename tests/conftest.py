"""Shared fixtures: composed configs, tiny image folders, the shared CIFAR archive when present."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import runpy
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet.hydra_setup import compose_config, register_resolvers

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SAMPLE = REPO / "data" / "cifar10-sample"
SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10-jpg.tar.gz"

os.environ.setdefault("WANDB_MODE", "disabled")
register_resolvers(REPO)
# pytest -n (pyproject.toml): the workers share the cores, each its part, in its subprocesses too
if workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(workers))))
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
# the slowest test files (pytest --durations=0, summed by file), the slowest first
SLOWEST_FIRST = ["test_learning", "test_train", "test_slurm", "test_columns", "test_parallel", "test_loggers",
                 "test_cli", "test_sequential", "test_ddp", "test_gpu_probe", "test_checkpoint_io", "test_holdout"]
SLOWEST = {name: i for i, name in enumerate(SLOWEST_FIRST)}
SPREAD = {"test_learning"}  # each of its tests trains a net of its own: spread over the workers


def _test_file(nodeid: str) -> str:
    """tests/test_x.py::test_y[...] → test_x"""
    return Path(nodeid.split("::", 1)[0]).stem


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest -n … --dist loadscope (pyproject.toml): the tests of a file go to one worker, so its
    module fixtures train once (but SPREAD's, one by one); the slowest files go first, so no
    worker is left alone with one. Another --dist is xdist's own."""
    from xdist.scheduler import LoadScopeScheduling

    if config.getvalue("dist") != "loadscope":
        return None

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if _test_file(nodeid) in SPREAD else _test_file(nodeid)

        def _assign_work_unit(self, node) -> None:  # the slowest file waiting goes next
            slowest = min(self.workqueue, key=lambda scope: SLOWEST.get(_test_file(scope), len(SLOWEST)))
            self.workqueue.move_to_end(slowest, last=False)
            super()._assign_work_unit(node)

    return FileScheduling(config, log)


def make_config(*overrides: str):
    """The config `python src/train.py OVERRIDES` would run (Hydra's compose API)."""
    return compose_config(REPO, *overrides)


@functools.cache
def _paper_recipe() -> dict:
    from alexnet.training import recipe_arguments

    return recipe_arguments(make_config().recipe)


def recipe(**overrides) -> dict:
    """AlexNetModule's arguments as `recipe=paper` composes them (conf/recipe/, their one home),
    with `overrides` (recipe keys, or the module's seed, compile, channels_last)."""
    return _paper_recipe() | overrides


@functools.cache
def _folder_data() -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(make_config("data=folder").data, resolve=True)


def data_args(root, **overrides) -> dict:
    """AlexNetDataModule's arguments as `data=folder` composes them (conf/data/, their one home),
    at `root`, without a held-out split, a training subset or PCA lighting unless `overrides`
    ask (the tests' folders are a few images), with `overrides`."""
    return _folder_data() | {"root": str(root), "holdout": None, "train_eval": None,
                             "pca_lighting": False} | overrides


@pytest.fixture
def compose_cfg():
    return make_config


def run_main(script: str, *args) -> subprocess.CompletedProcess:
    """`python src/SCRIPT ARGS` run in this process (a subprocess spends ~5 s importing torch):
    returns what `subprocess.run` would, exit status included. Hydra's global state, the logging
    handlers its job_logging installs and the sweep's per-process state do not outlive the call,
    and a developer's .env is not read. What needs its own process stays a subprocess: signals,
    DDP ranks, submitit and loky workers, terminals."""
    from hydra.core.global_hydra import GlobalHydra

    from alexnet import dotenv, sweep_callbacks

    argv = [str(REPO / "src" / script), *map(str, args)]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out, err, code = io.StringIO(), io.StringIO(), 0
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.setattr(sys, "argv", argv)
        patch.setattr(dotenv, "load_dotenv", lambda *args, **kwargs: None)
        patch.setattr(sweep_callbacks, "SWEEP", sweep_callbacks.SweepState())
        GlobalHydra.instance().clear()
        try:
            runpy.run_path(argv[0], run_name="__main__")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        finally:
            GlobalHydra.instance().clear()
            for handler in set(root.handlers) - set(handlers):
                handler.close()
            root.handlers[:] = handlers
            root.setLevel(level)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def write_image_folder(root: Path, classes=("a", "b", "c"), per_class=(6, 3), size=(40, 36), seed=0):
    """A tiny ImageFolder (train/ + val/) of random-coloured JPEGs with class-dependent colour."""
    rng = np.random.default_rng(seed)
    for split, n in zip(("train", "val"), per_class, strict=True):
        for ci, name in enumerate(classes):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                base = np.zeros((size[1], size[0], 3), np.uint8) + np.uint8(60 * ci + 20)
                noise = rng.integers(0, 40, base.shape, dtype=np.uint8)
                Image.fromarray(base + noise).save(root / split / name / f"{i:03d}.jpg", quality=95)
    return root


@pytest.fixture
def image_folder(tmp_path):
    return write_image_folder(tmp_path / "folder")


@pytest.fixture(scope="session")
def cifar10_full(tmp_path_factory):
    """Full CIFAR-10 (JPEG folders) from ../shared when this checkout has it; else skip."""
    if not SHARED_CIFAR.is_file():
        pytest.skip(f"real-data test: {SHARED_CIFAR} is absent (only developers and CI have it)")
    out = tmp_path_factory.mktemp("cifar")
    tar, rm = shutil.which("tar"), shutil.which("rm")
    if tar:  # its 60,000 members in ~3 s, a third of tarfile's time
        subprocess.run([tar, "-xzf", str(SHARED_CIFAR), "-C", str(out)], check=True)
    else:
        with tarfile.open(SHARED_CIFAR) as tar_file:
            tar_file.extractall(out, filter="data")
    yield out / "cifar10-jpg"
    # gone with the session: pytest deletes its old temporary directories with shutil.rmtree,
    # which took 3-4 minutes for these 60,000 files on the 2-core VM (rm -rf: ~1 s), at the end
    # of whichever later pytest run rotated this one out
    if rm:
        subprocess.run([rm, "-rf", str(out)], check=False)
    else:
        shutil.rmtree(out, ignore_errors=True)

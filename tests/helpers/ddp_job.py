"""`python tests/helpers/ddp_job.py ROOT SHARDS_ROOT OUT [OVERRIDES]`: the platform's `train()` as a
job of two CPU DDP ranks (gloo) on the image folder ROOT, with spies, then, in the same two
processes, tests/helpers/ddp_shards.py's record of what each rank sees of SHARDS_ROOT — run by
tests/test_ddp.py, as a script because Lightning starts rank 1 by re-running this file (with the
same arguments).

Each rank writes OUT/counts.rank<r>.json: how often it listed the data, stat'ed every file for
a cache key, computed the training-set statistics, broadcast from a training step's
`on_train_batch_end` and saved last.ckpt within an epoch; its loaders' batch size; and a
fingerprint of the statistics it normalised with. The job's record goes to OUT/job.
"""

import hashlib
import json
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))  # this checkout's package
sys.path.insert(0, str(REPO / "tests"))

from lightning.fabric.plugins.environments.lightning import find_free_network_port  # noqa: E402
from lightning.pytorch.strategies import DDPStrategy  # noqa: E402

from alexnet.data import cache, layouts, stats  # noqa: E402
from alexnet.data.datamodule import AlexNetDataModule  # noqa: E402
from alexnet.resume import WithinEpochCheckpoint  # noqa: E402
from alexnet.training import train  # noqa: E402
from conftest import make_config  # noqa: E402
from helpers import ddp_shards  # noqa: E402


def in_a_step(*args, **kwargs) -> bool:
    """Called from a callback's on_train_batch_end (the spy's caller's caller)."""
    return sys._getframe(2).f_code.co_name == "on_train_batch_end"


COUNTS = {"listings": 0, "keys": 0, "stats": 0, "step_broadcasts": 0, "mid_epoch_saves": 0}
SEEN = {}


def counting(name, fn, only=lambda *a, **k: True):
    def spy(*args, **kwargs):
        COUNTS[name] += bool(only(*args, **kwargs))
        return fn(*args, **kwargs)

    return spy


layouts.SOURCES["folder"] = counting("listings", layouts.SOURCES["folder"])
cache.cache_key = counting(
    "keys", cache.cache_key, only=lambda split, size, root: size not in split.keys
)
stats._compute = counting("stats", stats._compute)
DDPStrategy.broadcast = counting("step_broadcasts", DDPStrategy.broadcast, only=in_a_step)
WithinEpochCheckpoint._save_last_checkpoint = counting(
    "mid_epoch_saves", WithinEpochCheckpoint._save_last_checkpoint, only=in_a_step
)
setup = AlexNetDataModule.setup


def recording_setup(self, stage=None):
    setup(self, stage)
    digest = hashlib.sha1(
        self.stats["mean_image"].tobytes() + self.stats["pca_eigenvectors"].tobytes()
    )
    SEEN.update(stats_digest=digest.hexdigest(), batch=self.process_batch_size)


AlexNetDataModule.setup = recording_setup

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)  # the job's lines, as Hydra would show them
    root, shards_root, out, overrides = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4:]
    rank = int(os.environ.get("LOCAL_RANK", 0))
    if rank == 0:  # before rank 1 starts: the address both ranks meet at again after the job
        os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(find_free_network_port())}
    cfg = make_config("trainer=ddp", "trainer.accelerator=cpu", f"data.root={root}", *overrides)
    train(cfg, out / "job")
    (out / f"counts.rank{rank}.json").write_text(json.dumps(COUNTS | SEEN))
    # train() ended its process group and, on rank 0, unset the ranks' variables: set, they make
    # the two processes the ranks of the next trainers (rank 0 starts no second rank 1)
    os.environ |= {"LOCAL_RANK": str(rank), "NODE_RANK": "0", "WORLD_SIZE": "2"}
    ddp_shards.record(shards_root, out)

"""`python tests/helpers/columns_run.py OUT`: the platform's module trained by Lightning with
`strategy="columns"` on two CPU processes (gloo), one AlexNet column each — run by
tests/test_columns.py, as a script because Lightning starts rank 1 by re-running this file.

Each phase records, per rank, into OUT/<phase>.rank<r>.pt: the eval-mode logits of a probe
batch before and after, per step the generator state the step started from (dropout's masks),
the batch and the loss, and the first step's gradients (whole tensors); then it saves
the whole checkpoint OUT/<phase>.ckpt.

    fit      5 steps from the seed (LRN across all maps of a layer: gathered maps)
    percol   1 step with the code's per-column LRN (no exchange for it)
    resume   from fit.ckpt to step 7
    reverse  from OUT/one_device.ckpt (written beforehand on one device) to step 7, with
             `recipe=code`'s optimiser: biases in their own group, §5's momentum form

`python tests/helpers/columns_run.py OUT pairs`: two pairs of columns on four processes, data
parallel, no dropout, each pair half of every batch — phase `pairs`, 5 steps.
"""

import os
import sys
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))  # this checkout's package
sys.path.insert(0, str(REPO / "tests"))  # conftest.recipe

from alexnet.module import AlexNetModule  # noqa: E402
from conftest import recipe  # noqa: E402

BATCHES, BATCH = 5, 8  # one epoch: a checkpoint after 5 steps ends an epoch


def module(lrn_per_column: bool = False, dropout: float = 0.5, code_recipe: bool = False) -> AlexNetModule:
    """The CIFAR AlexNet at width 1/8; `code_recipe`: recipe=code's optimiser (two parameter groups)."""
    code = {"momentum_form": "paper", "bias_lr_mult": 2.0, "bias_weight_decay": False} if code_recipe else {}
    return AlexNetModule(model={"stem": "cifar", "width": 0.125, "input_size": 28, "num_classes": 3,
                                "lrn_per_column": lrn_per_column, "dropout": dropout},
                         **recipe(init="paper", lr=0.01, seed=0, **code))  # the values it was written with


def data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images, labels, probe images): the same on every process."""
    g = torch.Generator().manual_seed(1)
    images = torch.randn(BATCHES * BATCH, 3, 28, 28, generator=g)
    labels = torch.randint(0, 3, (BATCHES * BATCH,), generator=g)
    return images, labels, torch.randn(4, 3, 28, 28, generator=g)


def loader(pair: int | None = None) -> DataLoader:
    """Every batch; or pair 0's or 1's half of every batch (data parallel pairs)."""
    images, labels, _ = data()
    if pair is None:
        return DataLoader(TensorDataset(images, labels), batch_size=BATCH, shuffle=False)
    half = BATCH // 2
    rows = [b * BATCH + pair * half + i for b in range(BATCHES) for i in range(half)]
    return DataLoader(TensorDataset(images[rows], labels[rows]), batch_size=half, shuffle=False)


def whole(t: torch.Tensor) -> torch.Tensor:
    return t.full_tensor() if hasattr(t, "full_tensor") else t


class Probe(L.Callback):
    def __init__(self):
        self.out = {"rng": [], "batch": [], "loss": []}

    def _logits(self, pl_module) -> torch.Tensor:
        pl_module.eval()
        with torch.no_grad():
            logits = pl_module(data()[2])
        pl_module.train()
        return logits

    def on_train_start(self, trainer, pl_module):
        self.out["logits_before"] = self._logits(pl_module)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.out["rng"].append(torch.get_rng_state())
        self.out["batch"].append([t.clone() for t in batch])

    def on_after_backward(self, trainer, pl_module):
        if "grads" not in self.out:
            self.out["grads"] = {n: whole(p.grad) for n, p in pl_module.named_parameters()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.out["loss"].append(float(outputs["loss"]))

    def on_train_end(self, trainer, pl_module):
        self.out["logits_after"] = self._logits(pl_module)


def run(phase: str, out: Path, max_steps: int, ckpt_path: Path | None = None, lrn_per_column: bool = False,
        devices: int = 2, code_recipe: bool = False):
    probe = Probe()
    pairs = devices // 2
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy="columns", max_steps=max_steps, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, num_sanity_val_steps=0, callbacks=[probe],
                        use_distributed_sampler=False)  # as src/train.py: the batches are ours
    pair = int(os.environ.get("LOCAL_RANK", 0)) // 2 if pairs > 1 else None  # the columns of a pair: adjacent ranks
    net_module = module(lrn_per_column, dropout=0.0 if pairs > 1 else 0.5, code_recipe=code_recipe)
    trainer.fit(net_module, train_dataloaders=loader(pair), ckpt_path=ckpt_path)
    torch.save(probe.out, out / f"{phase}.rank{trainer.global_rank}.pt")
    trainer.save_checkpoint(out / f"{phase}.ckpt")


if __name__ == "__main__":
    out = Path(sys.argv[1])
    L.seed_everything(0, verbose=False)
    if sys.argv[2:] == ["pairs"]:
        run("pairs", out, max_steps=5, devices=4)
        sys.exit()
    run("fit", out, max_steps=5)
    run("percol", out, max_steps=1, lrn_per_column=True)
    run("resume", out, max_steps=7, ckpt_path=out / "fit.ckpt")
    run("reverse", out, max_steps=7, ckpt_path=out / "one_device.ckpt", code_recipe=True)

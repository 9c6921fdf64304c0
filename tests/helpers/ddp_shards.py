"""What each of two CPU DDP ranks (gloo) sees of the platform's data: `record(ROOT, OUT)`, run on
both ranks by tests/helpers/ddp_job.py after its job (one launch of two processes for both).

1. A 2-epoch fit of a recorder module: each rank writes OUT/rank<r>.json, the fingerprints of
   the training images it got in each epoch, in order.
2. `validate` of a seeded CIFAR AlexNet on the validation split: rank 0 writes OUT/val.json.
"""

import hashlib
import json
from pathlib import Path

import lightning as L
import torch

from alexnet.data.datamodule import AlexNetDataModule
from alexnet.module import AlexNetModule
from conftest import data_args, recipe


def fingerprint(image: torch.Tensor) -> str:
    return hashlib.sha1(image.numpy().tobytes()).hexdigest()[:16]


def datamodule(root: str, kind=AlexNetDataModule) -> AlexNetDataModule:
    return kind(**data_args(root, stored_size=32, crop_size=28, batch_size=6))


def seeded_module() -> AlexNetModule:
    return AlexNetModule(model={"stem": "cifar", "width": 0.125, "input_size": 28, "num_classes": 3},
                         **recipe(init="paper", lr=0.01, seed=0))  # the values it was written with


class RawImages(AlexNetDataModule):
    """The stored uint8 images as they leave the loader (no crops), to recognise each one."""

    def on_after_batch_transfer(self, batch, dataloader_idx):
        return batch


class Recorder(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen: dict[int, list[str]] = {}

    def training_step(self, batch, batch_idx):
        images, _ = batch
        self.seen.setdefault(self.current_epoch, []).extend(fingerprint(x) for x in images)
        return (self.weight * 0).sum() + self.weight.square().sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def trainer(**kwargs) -> L.Trainer:
    return L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False, **kwargs)


def record(root: str, out: Path) -> None:
    recorder = Recorder()
    fit = trainer(max_epochs=2, limit_val_batches=0, num_sanity_val_steps=0)
    fit.fit(recorder, datamodule=datamodule(root, RawImages))
    (out / f"rank{fit.global_rank}.json").write_text(json.dumps(recorder.seen))

    check = trainer()
    (metrics,) = check.validate(seeded_module(), datamodule=datamodule(root), verbose=False)
    if check.global_rank == 0:
        (out / "val.json").write_text(json.dumps({k: float(v) for k, v in metrics.items()}))

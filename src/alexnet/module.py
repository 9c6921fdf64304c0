"""The LightningModule: AlexNet plus §5's training recipe (loss, SGD, learning-rate drops, metrics).

It takes plain values, not a Hydra config, so it can be built from a notebook.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from alexnet import paper
from alexnet.data.transforms import view_softmax
from alexnet.init import initialize
from alexnet.model import AlexNet, AlexNetConfig, count_parameters

SCHEDULES = ("plateau", "step")


class AlexNetModule(L.LightningModule):
    def __init__(
        self,
        model: dict[str, Any] | None = None,
        init: str = "paper",
        lr: float = paper.LEARNING_RATE,
        momentum: float = paper.MOMENTUM,
        weight_decay: float = paper.WEIGHT_DECAY,
        schedule: str = "plateau",
        plateau_patience: int = 2,
        max_lr_drops: int = paper.LR_MAX_DROPS,
        step_milestones: tuple[int, ...] = paper.LR_DROP_EPOCHS_CODE,
        lr_drop_factor: float = paper.LR_DROP_FACTOR,
    ):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"recipe.schedule={schedule!r} is not one of {list(SCHEDULES)}")
        if lr <= 0:
            raise ValueError(f"recipe.lr={lr!r} must be positive")
        self.save_hyperparameters()
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self._scheduler_state: dict | None = None
        self.net = initialize(AlexNet(AlexNetConfig(**(model or {}))), init)
        self.loss = nn.CrossEntropyLoss()
        classes = self.net.config.num_classes
        top5 = min(5, classes)
        # torchmetrics composes metrics: 1 - accuracy is an error metric Lightning can log.
        self.train_top1_err = 1 - MulticlassAccuracy(classes, top_k=1, average="micro")
        self.val_top1 = MulticlassAccuracy(classes, top_k=1, average="micro")
        self.val_top5 = MulticlassAccuracy(classes, top_k=top5, average="micro")
        # ten-crop validation also scores the centre view (view 4) of the same weights
        self.val_center_top1 = MulticlassAccuracy(classes, top_k=1, average="micro")
        self.val_center_top5 = MulticlassAccuracy(classes, top_k=top5, average="micro")
        self._val_views = 1

    @property
    def num_parameters(self) -> int:
        return count_parameters(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    # -- training --------------------------------------------------------------------------------
    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"training loss is {loss.item()} at step {self.global_step}: lower recipe.lr "
                f"(now {self.hparams.lr}) or check the input scaling of the recipe"
            )
        n = len(y)
        self.train_top1_err(logits.detach(), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=n, sync_dist=True)
        self.log("train/top1_err", self.train_top1_err, on_step=False, on_epoch=True, batch_size=n)
        lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        self.log("train/lr", lr, on_step=False, on_epoch=True, batch_size=n, sync_dist=True)
        return loss

    def on_train_epoch_end(self) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.MultiStepLR):
            self.scheduler.step()

    # -- validation ------------------------------------------------------------------------------
    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        if x.ndim == 5:  # (B, views, C, H, W): §4.1's test, the softmax averaged over the views
            probs = view_softmax(self, x)
            self.val_center_top1.update(probs[:, 4], y)
            self.val_center_top5.update(probs[:, 4], y)
            probs = probs.mean(1)
            loss = nn.functional.nll_loss(probs.clamp_min(1e-12).log(), y)
            self._val_views, scores = x.shape[1], probs
        else:
            scores = self(x)
            loss = self.loss(scores, y)
            self._val_views = 1
        self.val_top1.update(scores, y)
        self.val_top5.update(scores, y)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True, batch_size=len(y), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        top1_err = 1 - self.val_top1.compute()
        self.log("val/top1_err", top1_err, prog_bar=True, sync_dist=True)
        self.log("val/top5_err", 1 - self.val_top5.compute(), sync_dist=True)
        self.log("val/crops", float(self._val_views), sync_dist=True)  # 1: centre crop, 10: §4.1's ten crops
        center_err = top1_err
        if self._val_views > 1:
            center_err = 1 - self.val_center_top1.compute()
            self.log("val/center_top1_err", center_err, sync_dist=True)
            self.log("val/center_top5_err", 1 - self.val_center_top5.compute(), sync_dist=True)
        fitting = self.trainer.state.fn == "fit" and not self.trainer.sanity_checking
        if fitting and isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            # the centre-crop error in both modes: ten-crop evaluation never changes training
            self.scheduler.step(float(center_err))
        for metric in (self.val_top1, self.val_top5, self.val_center_top1, self.val_center_top5):
            metric.reset()

    # -- optimisation ----------------------------------------------------------------------------
    def configure_optimizers(self):
        h = self.hparams
        optimizer = torch.optim.SGD(
            self.parameters(), lr=h.lr, momentum=h.momentum, weight_decay=h.weight_decay
        )
        # Schedulers are stepped here, by hand, before the epoch's checkpoint is written, so a
        # resume continues them exactly; Lightning steps its schedulers after that checkpoint
        # and skips the step of the epoch a resume restarts from.
        if h.schedule == "step":
            self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
                optimizer, milestones=list(h.step_milestones), gamma=h.lr_drop_factor
            )
        else:
            # §5: divide by 10 when the validation error stops improving, at most
            # `max_lr_drops` times (the floor min_lr stops one more).
            floor = h.lr * h.lr_drop_factor**h.max_lr_drops * (1 - 1e-6)
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=h.lr_drop_factor, patience=h.plateau_patience,
                min_lr=floor,
            )
        return optimizer

    # -- resume: dropout draws from the global generator, so carry its state -------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rng_state"] = torch.get_rng_state()
        if torch.cuda.is_available():  # dropout on a GPU draws from the CUDA generators
            checkpoint["cuda_rng_state"] = torch.cuda.get_rng_state_all()
        if self.scheduler is not None:
            checkpoint["scheduler_state"] = self.scheduler.state_dict()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["rng_state"])
        if "cuda_rng_state" in checkpoint and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng_state"])
        self._scheduler_state = checkpoint.get("scheduler_state")

    def on_fit_start(self) -> None:
        # the scheduler exists only once the optimizers do, after the checkpoint was read
        if self.scheduler is not None and self._scheduler_state is not None:
            self.scheduler.load_state_dict(self._scheduler_state)

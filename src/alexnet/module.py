"""The LightningModule: AlexNet plus §5's training recipe (loss, SGD, learning-rate drops, metrics).

It takes plain values, not a Hydra config, so it can be built from a notebook. Three errors
are logged: `train/running_top1_err` (during training, dropout and augmentation on), the
validation split's `val/*` (the LR schedule's signal) and `train_eval/*`, a fixed training
subset scored like validation (eval mode, centre crop) — the training error the paper plots.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from alexnet import paper
from alexnet.columns import ColumnParallelAlexNet, column_mesh
from alexnet.convnet4 import CONVNET4_INIT, ConvNet4, ConvNet4Config
from alexnet.data.transforms import view_logits, view_softmax
from alexnet.init import initialize
from alexnet.model import AlexNet, AlexNetConfig, count_parameters
from alexnet.optim import sgd

SCHEDULES = ("plateau", "step", "budget")
TRAIN_EVAL = 1  # the validation dataloader of the fixed training subset (AlexNetDataModule)


ARCHS = ("alexnet", "convnet4")


def build_net(model: dict[str, Any] | None, init: str,
              seed: int | None = None) -> AlexNet | ConvNet4:
    """The net (`model.arch`: AlexNet, or the paper's CIFAR-10 `convnet4`), each learned layer
    drawn from its own generator (seed, layer): two arms whose nets differ in some layers'
    shapes (model.columns) start from equal weights in every other layer. PyTorch's own default
    init (overwritten) runs on a forked global generator, so the global generator (dropout) is
    left as seeding left it and every arm starts training from the same state. `seed=None`:
    the global generator's seed."""
    seed = torch.initial_seed() if seed is None else int(seed)
    model = dict(model or {})
    arch = model.pop("arch", "alexnet")
    if arch not in ARCHS:
        raise ValueError(f"model.arch={arch!r} is not one of {list(ARCHS)}")
    if (arch == "convnet4") != (init == CONVNET4_INIT):
        raise ValueError(f"recipe.init={init!r} does not fit model.arch={arch}: convnet4 takes "
                         f"recipe=cuda_convnet (init {CONVNET4_INIT}), AlexNet one of the others")
    config_class = ConvNet4Config if arch == "convnet4" else AlexNetConfig
    unknown = sorted(set(model) - {f.name for f in dataclasses.fields(config_class)})
    if unknown:
        raise ValueError(f"model.{unknown[0]} is not a switch of model.arch={arch} "
                         f"(it has {[f.name for f in dataclasses.fields(config_class)]})")
    with torch.random.fork_rng(devices=[]):
        net = (ConvNet4(ConvNet4Config(**model)) if arch == "convnet4"
               else AlexNet(AlexNetConfig(**model)))
    return net.initialize(seed) if arch == "convnet4" else initialize(net, init, seed=seed)


def hits(scores: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Per image: 1 if the label is among the k highest scores."""
    return (scores.topk(k, dim=-1).indices == labels[:, None]).any(-1).long()


FINITE_CHECK_EVERY = 100  # steps between a GPU run's host checks that the loss is finite


def _accuracy(classes: int, top_k: int) -> MulticlassAccuracy:
    """Micro accuracy without torchmetrics' argument checks: each costs a host sync on a GPU."""
    return MulticlassAccuracy(classes, top_k=top_k, average="micro", validate_args=False)


class _WeightedMean(MeanMetric):
    """torchmetrics' weighted mean without its NaN check, a host sync per update on a GPU (its
    own nan_strategy="disable" would drop the weights too): the training loss is checked on its
    own (AlexNetModule._check_finite)."""

    def _cast_and_nan_check_input(self, x, weight=None):
        return x.to(self.dtype), weight.to(self.dtype)


class AlexNetModule(L.LightningModule):
    """The recipe's arguments have no defaults here: `conf/recipe/` is their one home, and
    `training.recipe_arguments(cfg.recipe)` turns a composed recipe into them (from a notebook:
    compose the config, as tests/conftest.py does). `model` defaults to the paper's net."""

    def __init__(
        self,
        model: dict[str, Any] | None = None,
        *,
        init: str,
        lr: float,
        momentum: float,
        weight_decay: float,
        schedule: str,
        plateau_patience: int,
        max_lr_drops: int,
        step_milestones: Sequence[int],
        budget_drops: Sequence[float],
        momentum_form: str,
        bias_lr_mult: float,
        bias_weight_decay: bool,
        layer_weight_decay: dict[str, float] | None,
        lr_drop_factor: float = paper.LR_DROP_FACTOR,
        seed: int | None = None,
        compile: bool = False,
        channels_last: bool | None = False,
    ):
        super().__init__()
        # compile and channels_last say how this process runs the net, not what the net is: kept
        # out of the checkpoint, so scoring or resuming one never compiles unless asked to
        self.save_hyperparameters(ignore=["compile", "channels_last"])
        self.compile_net, self.channels_last = compile, channels_last
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self._scheduler_state: dict | None = None
        self.net = build_net(model, init, seed)
        self.loss = nn.CrossEntropyLoss()
        classes = self.net.config.num_classes
        self._top5 = top5 = min(5, classes)
        # the epoch's running training figures live in metric objects, not Lightning's own
        # accumulators, so a mid-epoch checkpoint carries them (on_save_checkpoint)
        self.train_loss = _WeightedMean()
        self.train_top1 = _accuracy(classes, 1)
        self.train_top1_err = 1 - self.train_top1
        self.train_lr = _WeightedMean()
        self.val_top1, self.val_top5, self.val_loss = (_accuracy(classes, 1),
                                                       _accuracy(classes, top5), _WeightedMean())
        # ten-crop validation (evaluate.py) also scores the centre view (view 4) of the same weights
        self.val_center_top1, self.val_center_top5 = _accuracy(classes, 1), _accuracy(classes, top5)
        self.train_eval_top1, self.train_eval_top5 = _accuracy(classes, 1), _accuracy(classes, top5)
        self.train_eval_loss = _WeightedMean()
        self._finite: torch.Tensor | None = None  # on a GPU: all losses finite since the last check
        self._lr: tuple[float, torch.Tensor] | None = None  # the rate, and a copy on the device
        self._val_views = 1

    @property
    def num_parameters(self) -> int:
        return count_parameters(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def configure_model(self) -> None:
        """`trainer.strategy=columns`: this process keeps one column of the net (alexnet.columns).
        `compile=True`: torch.compile the net in place, so its state_dict keys (and so every
        checkpoint) are the same with or without it. The first step of a fit compiles; Inductor's
        on-disk cache makes the later jobs of a sweep start warm. `channels_last=True`: the net's
        weights in channels-last memory (the input follows in `forward`); None: so on CUDA."""
        if self.channels_last is None:
            self.channels_last = self.trainer.strategy.root_device.type == "cuda"
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)
        mesh = column_mesh(self.device_mesh)
        if mesh is not None and not isinstance(self.net, ColumnParallelAlexNet):
            if not isinstance(self.net, AlexNet):
                raise ValueError("trainer.strategy=columns splits AlexNet's two columns, not "
                                 "model.arch=convnet4")
            self.net = ColumnParallelAlexNet(self.net, mesh)
        if self.compile_net and getattr(self.net, "_compiled_call_impl", None) is None:
            self.net.compile()

    # -- training --------------------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        # the epoch's running figures start afresh; Lightning skips this hook when a resume
        # continues an epoch, whose sums so far came with the checkpoint
        for metric in self._train_metrics().values():
            metric.reset()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        finite = torch.isfinite(loss.detach())
        self._finite = finite if self._finite is None else self._finite & finite
        if self._syncs_are_free or batch_idx % FINITE_CHECK_EVERY == 0:
            self._check_finite()
        n = loss.detach().new_full((), float(len(y)))  # the weight, made on the device: no copy
        self.train_loss.update(loss.detach(), n)
        self.train_top1_err.update(logits.detach(), y)
        self.train_lr.update(self._lr_on_device(), n)
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=n)
        self.log("train/running_top1_err", self.train_top1_err, on_step=False, on_epoch=True,
                 batch_size=n)
        self.log("train/lr", self.train_lr, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def on_before_optimizer_step(self, optimizer) -> None:
        if isinstance(self.net, ColumnParallelAlexNet):  # pairs of columns: their gradients' mean
            self.net.average_over_pairs()

    @property
    def _syncs_are_free(self) -> bool:
        """On a CPU reading a value back costs nothing: the loss is checked at every step."""
        return self.device.type == "cpu"

    def _check_finite(self) -> None:
        """One host sync: on a GPU every FINITE_CHECK_EVERY steps and at each epoch's end, not
        every step (each sync empties the GPU's queue); on a CPU at every step, for free."""
        if self._finite is not None and not bool(self._finite):
            self._finite = None
            raise FloatingPointError(
                f"the training loss was not finite by step {self.global_step}: lower recipe.lr "
                f"(now {self.hparams.lr}) or check the input scaling of the recipe")
        self._finite = None

    def _lr_on_device(self) -> torch.Tensor:
        """The optimizer's rate as a tensor on the model's device, copied there only when it
        changes (a Python float would be copied, and the GPU synced, every step)."""
        lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        if self._lr is None or self._lr[0] != lr or self._lr[1].device != self.device:
            self._lr = (lr, torch.tensor(lr, dtype=torch.float32, device=self.device))
        return self._lr[1]

    def on_train_epoch_end(self) -> None:
        self._check_finite()
        if isinstance(self.scheduler, torch.optim.lr_scheduler.MultiStepLR):
            self.scheduler.step()

    # -- validation ------------------------------------------------------------------------------
    def validation_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        x, y = batch
        if dataloader_idx == TRAIN_EVAL:  # the training subset, scored exactly like validation
            logits = self(x)
            self.train_eval_top1.update(logits, y)
            self.train_eval_top5.update(logits, y)
            loss = self.loss(logits, y)
            self.train_eval_loss.update(loss, loss.new_full((), float(len(y))))
            return
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
        self.val_loss.update(loss, loss.new_full((), float(len(y))))  # made on the device

    def on_validation_epoch_end(self) -> None:
        # logged here, once per epoch, so no name carries Lightning's /dataloader_idx_N suffix
        top1_err = 1 - self.val_top1.compute()
        self.log("val/loss", self.val_loss.compute(), prog_bar=True, sync_dist=True)
        self.log("val/top1_err", top1_err, prog_bar=True, sync_dist=True)
        self.log("val/top5_err", 1 - self.val_top5.compute(), sync_dist=True)
        # 1: centre crop, 10: §4.1's ten crops
        self.log("val/crops", float(self._val_views), sync_dist=True)
        if self._val_views > 1:
            self.log("val/center_top1_err", 1 - self.val_center_top1.compute(), sync_dist=True)
            self.log("val/center_top5_err", 1 - self.val_center_top5.compute(), sync_dist=True)
        if self.train_eval_top1.update_called:
            self.log("train_eval/top1_err", 1 - self.train_eval_top1.compute(), sync_dist=True)
            self.log("train_eval/top5_err", 1 - self.train_eval_top5.compute(), sync_dist=True)
            self.log("train_eval/loss", self.train_eval_loss.compute(), sync_dist=True)
        fitting = self.trainer.state.fn == "fit" and not self.trainer.sanity_checking
        if fitting and isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            # the validation split's error only (centre crop during fit), never train_eval's
            self.scheduler.step(float(top1_err))
        for metric in (self.val_top1, self.val_top5, self.val_loss, self.val_center_top1,
                       self.val_center_top5,
                       self.train_eval_top1, self.train_eval_top5, self.train_eval_loss):
            metric.reset()

    # -- the test split: scored once, per image ----------------------------------------------
    @torch.no_grad()
    def test_outcomes(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per image: the centre crop's loss and whether it is right at top-1 and top-5; with
        (B, 10, C, h, w) views also §4.1's ten-crop prediction (softmax averaged) of the same
        pass, whose view 4 is the centre crop."""
        if x.ndim == 5:
            logits = view_logits(self, x)
            center, averaged = logits[:, 4], logits.float().softmax(-1).mean(1)
        else:
            center, averaged = self(x), None
        out = {"label": y, "center_top1": hits(center, y, 1),
               "center_top5": hits(center, y, self._top5),
               "center_loss": nn.functional.cross_entropy(center.float(), y, reduction="none")}
        if averaged is not None:
            out |= {"tencrop_top1": hits(averaged, y, 1),
                    "tencrop_top5": hits(averaged, y, self._top5)}
        return out

    # -- optimisation ----------------------------------------------------------------------------
    def lr_drop_epochs(self) -> list[int]:
        """The epochs after which `step` and `budget` divide the rate: `budget` places its drops
        at fixed fractions of the run's max_epochs, so a short run ends annealed, as the paper's
        did, whatever its length (the paper's plateau rule rarely fires within a few epochs).
        Each drop lands within the run (after epoch 1 … max_epochs − 1); drops that land on one
        epoch compound (4 epochs: ÷100 after epoch 3)."""
        h = self.hparams
        if h.schedule == "step":
            return list(h.step_milestones)
        epochs = self.trainer.max_epochs
        if epochs is None or epochs < 2:
            raise ValueError(f"recipe.schedule=budget places its drops at fractions of "
                             f"trainer.max_epochs, which is {epochs}: set it to 2 or more")
        return [min(max(1, round(f * epochs)), epochs - 1) for f in h.budget_drops]

    def configure_optimizers(self):
        h = self.hparams
        optimizer = sgd(self.net, lr=h.lr, momentum=h.momentum, weight_decay=h.weight_decay,
                        momentum_form=h.momentum_form, bias_lr_mult=h.bias_lr_mult,
                        bias_weight_decay=h.bias_weight_decay,
                        layer_weight_decay=h.layer_weight_decay)
        # Schedulers are stepped here, by hand, before the epoch's checkpoint is written, so a
        # resume continues them exactly; Lightning steps its schedulers after that checkpoint
        # and skips the step of the epoch a resume restarts from.
        if h.schedule in ("step", "budget"):
            self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
                optimizer, milestones=self.lr_drop_epochs(), gamma=h.lr_drop_factor
            )
        else:
            # §5: divide by 10 when the validation error stops improving, at most
            # `max_lr_drops` times (the floor min_lr stops one more).
            floors = [g["lr"] * h.lr_drop_factor**h.max_lr_drops * (1 - 1e-6)
                      for g in optimizer.param_groups]
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=h.lr_drop_factor, patience=h.plateau_patience,
                min_lr=floors,
            )
        return optimizer

    # -- resume: dropout draws from the global generator, so carry its state; a mid-epoch
    # checkpoint also carries the epoch's metric sums so far ----------------------------------
    def _train_metrics(self) -> dict[str, Any]:
        return {"train_loss": self.train_loss, "train_top1": self.train_top1,
                "train_lr": self.train_lr}

    def _train_metric_states(self) -> dict[str, dict[str, Any]]:
        """The epoch's running training sums so far (a mid-epoch checkpoint carries them)."""
        metrics = self._train_metrics()
        return {name: {"state": {k: v.clone() for k, v in m.metric_state.items()},
                       "updates": m._update_count}
                for name, m in metrics.items()}

    def _restore_train_metric_states(self, saved: dict[str, dict[str, Any]]) -> None:
        metrics = self._train_metrics()
        for name, entry in saved.items():
            metric = metrics[name]
            for key, value in entry["state"].items():
                setattr(metric, key, value.to(metric.device))
            metric._update_count, metric._computed = entry["updates"], None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # every rank's sums (each saw its own shard); only rank 0 writes the file
        states = self._train_metric_states()
        world = self.trainer.world_size if self._trainer is not None else 1
        if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * world
            torch.distributed.all_gather_object(gathered, states)
            checkpoint["train_metric_states"] = gathered
        else:
            checkpoint["train_metric_states"] = [states]
        checkpoint["rng_state"] = torch.get_rng_state()
        if torch.cuda.is_available():  # dropout on a GPU draws from the CUDA generators
            checkpoint["cuda_rng_state"] = torch.cuda.get_rng_state_all()
        if self.scheduler is not None:
            checkpoint["scheduler_state"] = self.scheduler.state_dict()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        per_rank = checkpoint.get("train_metric_states") or []
        rank, world = ((self.global_rank, self.trainer.world_size) if self._trainer is not None
                       else (0, 1))
        # (a resume on fewer or more processes starts the epoch's sums afresh)
        if len(per_rank) == world:
            self._restore_train_metric_states(per_rank[rank])
        if "rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["rng_state"])
        if "cuda_rng_state" in checkpoint and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng_state"])
        self._scheduler_state = checkpoint.get("scheduler_state")

    def on_fit_start(self) -> None:
        # the scheduler exists only once the optimizers do, after the checkpoint was read
        if self.scheduler is not None and self._scheduler_state is not None:
            self.scheduler.load_state_dict(self._scheduler_state)

"""The paper's two-GPU scheme (§3.2): one column of AlexNet per process, `trainer=columns`.

Each of two processes holds one column: its half of the kernels of conv1, conv2, conv3, conv4,
conv5 and of the neurons of fc6 and fc7, and fc8's weights from its own half of fc7. The
columns exchange activations only where the paper has them:

    into conv3   all of conv2's maps (both columns)     gather; backward: sum, own half
    into fc6     all of conv5's maps                    gather; backward: sum, own half
    into fc7     all of fc6's neurons                   gather; backward: sum, own half
    out of fc8   each column's share of the logits      sum;    backward: as it is

(with the text's LRN across all maps of a layer, `model.lrn_per_column=false`, conv1's and
conv2's maps are gathered for the LRN too; the original code's per-column LRN needs no exchange).

The gather's backward sums over the columns because each column's layer after it used the
whole gathered input; fc8 is split on its inputs (each column's partial logits summed), since a
replicated fc8 behind a gather would count its gradient once per column. Dropout draws the
mask of the whole layer, as the one-device net does, and keeps its own half, so both give the
same masks from the same generator state.

Parameters are DTensors over the two processes, sharded where the column's part lies (conv and
fc6/fc7 on their outputs, fc8's weight on its inputs, fc8's bias replicated), under the
one-device net's names: the full checkpoint Lightning writes (`save_distributed_checkpoint=False`)
is the grouped one-device net's, and loads back into either.

With 2×N processes the N pairs are data parallel: each pair takes its own share of the data,
and each column's gradients are averaged with its counterparts in the other pairs before each
optimizer step (one all-reduce), as DDP averages whole nets'.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch.strategies import ModelParallelStrategy, StrategyRegistry
from torch import nn
from torch.nn import functional as F

from alexnet.layers import LocalResponseNorm
from alexnet.model import AlexNet, AlexNetConfig

STRATEGY = "columns"  # trainer.strategy: this scheme, registered with Lightning below


# torch ≥ 2.14 names; the earlier ones (deprecated since) on the torch versions the project allows
_all_gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
_reduce_scatter = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
# what the columns train in: a mixed-precision GradScaler would scale each column's loss on its own
PRECISIONS = ("32-true", "32", "bf16-mixed", "bf16-true")
# Layers that act on each channel (or neuron) alone: a column applies them to its own half as
# they are. Every other layer of the net must be handled by name in ColumnParallelAlexNet.forward
# (conv, linear, LRN, dropout: how it splits or what it exchanges); a layer in neither fails
# loudly when the columns are built, instead of running on half its input.
PER_CHANNEL = (nn.ReLU, nn.Tanh, nn.MaxPool2d, nn.ZeroPad2d, nn.Flatten, nn.Identity)
SPLIT = (nn.Conv2d, nn.Linear, LocalResponseNorm, nn.Dropout)


def unknown_layers(net: nn.Module) -> list[str]:
    """The layers of `net` that the column split does not know how to split: `name (Type)`."""
    return [f"{name} ({type(m).__name__})" for name, m in
            (*net.features.named_children(), *net.classifier.named_children())
            if not isinstance(m, PER_CHANNEL + SPLIT)]


class _GatherColumns(torch.autograd.Function):
    """(B, C, ...) of this column → (B, columns·C, ...), column 0's channels first; backward:
    the gradients of both columns summed, this column's part (a reduce-scatter)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group, world = group, dist.get_world_size(group)
        out = x.new_empty((world * x.shape[0], *x.shape[1:]))
        _all_gather(out, x.contiguous(), group=group)
        return torch.cat(out.chunk(world), dim=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        world = dist.get_world_size(ctx.group)
        parts = torch.cat(grad.chunk(world, dim=1)).contiguous()  # (world·B, C, ...)
        out = grad.new_empty((grad.shape[0], grad.shape[1] // world, *grad.shape[2:]))
        _reduce_scatter(out, parts, group=ctx.group)
        return out, None


class _SumColumns(torch.autograd.Function):
    """The sum of every column's tensor; backward: the gradient, as it is, to each column."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x, group=group)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def _local(parameter: torch.Tensor | None) -> torch.Tensor | None:
    return None if parameter is None else parameter.to_local()


class ColumnParallelAlexNet(nn.Module):
    """An `AlexNet` with two columns whose parameters are split over the two processes of a
    pair (this process: one column), the pairs data parallel: a mesh of (data_parallel,
    tensor_parallel) = (pairs, 2). Its `features` and `classifier` are the net's own modules, so
    the state dict's names are the one-device net's."""

    def __init__(self, net: AlexNet, mesh):
        super().__init__()
        from torch.distributed.tensor import DTensor, Replicate, Shard

        c = net.config
        columns, pairs = mesh["tensor_parallel"], mesh["data_parallel"]
        world = columns.size()
        if problem := _net_problem(c, world):
            raise ValueError(problem)
        if unknown := unknown_layers(net):
            raise ValueError(f"trainer=columns does not know how to split {', '.join(unknown)} "
                             "over the columns: add the layer to alexnet.columns (PER_CHANNEL if "
                             "it acts on each channel alone, else a branch in "
                             "ColumnParallelAlexNet.forward)")
        self.config, self.group = c, columns.get_group()
        self.pairs = pairs.get_group() if pairs.size() > 1 else None
        self.rank, self.world = columns.get_local_rank(), world
        self.features, self.classifier = net.features, net.classifier
        # the text's LRN across all maps runs on the gathered maps; a per-column LRN on its own
        self._norm_own = {name: LocalResponseNorm(m.size, m.alpha, m.beta, m.k)
                          for name, m in net.features.named_children()
                          if isinstance(m, LocalResponseNorm)}
        layers = [(n, m) for n, m in (*net.features.named_children(),
                                      *net.classifier.named_children())
                  if isinstance(m, (nn.Conv2d, nn.Linear))]
        # its name (an attribute holding the module would add it to the state dict)
        self._fc8 = layers[-1][0]
        for layer_name, layer in layers:
            for name, tensor in list(layer.named_parameters(recurse=False)):
                if layer_name == self._fc8:  # split on its inputs; the bias is added once, whole
                    placement, dim = (Shard(1), 1) if name == "weight" else (Replicate(), None)
                else:
                    placement, dim = Shard(0), 0
                local = (tensor.detach() if dim is None
                         else tensor.detach().chunk(world, dim)[self.rank])
                shared = DTensor.from_local(local.contiguous(), mesh, [Replicate(), placement],
                                            run_check=False,
                                            shape=tensor.shape, stride=tensor.stride())
                setattr(layer, name, nn.Parameter(shared, requires_grad=tensor.requires_grad))

    def average_over_pairs(self) -> None:
        """Data parallel pairs: each column's gradients become their mean over the pairs (one
        all-reduce of them all), as DDP averages whole nets'. Called before each optimizer step."""
        if self.pairs is None:
            return
        grads = [p.grad.to_local() for p in self.parameters() if p.grad is not None]
        flat = torch._utils._flatten_dense_tensors(grads)
        dist.all_reduce(flat, group=self.pairs)
        flat.div_(dist.get_world_size(self.pairs))
        for grad, mean in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads),
                              strict=True):
            grad.copy_(mean)

    def _gather(self, x: torch.Tensor) -> torch.Tensor:
        return _GatherColumns.apply(x, self.group)

    def _own(self, x: torch.Tensor) -> torch.Tensor:
        """This column's part of a whole layer's channels or neurons (dim 1)."""
        return x.chunk(self.world, dim=1)[self.rank]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        own = False  # whether x holds this column's channels only (the image is whole)
        for name, m in [*self.features.named_children(), *self.classifier.named_children()]:
            if name == self._fc8:
                return _SumColumns.apply(F.linear(x, _local(m.weight)), self.group) + _local(m.bias)
            if isinstance(m, nn.Conv2d):
                if m.groups == 1 and own:  # this layer sees both columns (conv3)
                    x = self._gather(x)
                x = F.conv2d(x, _local(m.weight), _local(m.bias), m.stride, m.padding, m.dilation)
                own = True
            elif isinstance(m, nn.Linear):
                x = F.linear(self._gather(x) if own else x, _local(m.weight), _local(m.bias))
                own = True
            elif isinstance(m, LocalResponseNorm):
                x = (self._norm_own[name](x) if m.groups == self.world
                     else self._own(m(self._gather(x))))
            elif isinstance(m, nn.Dropout):
                # the whole layer's mask, as the one-device net draws it
                if self.training and m.p > 0:
                    whole = (x.shape[0], x.shape[1] * self.world, *x.shape[2:])
                    mask = F.dropout(x.new_ones(whole), m.p, training=True)
                    x = x * self._own(mask)
            else:  # PER_CHANNEL (checked in __init__): activations, pooling, flatten
                x = m(x)
        raise AssertionError("AlexNet ends with fc8")


def _net_problem(config: AlexNetConfig, processes: int) -> str | None:
    if config.columns != processes:
        return (f"trainer.strategy={STRATEGY} runs one column per process: "
                f"model.columns={config.columns} cannot "
                f"be split over {processes} processes (pass model.columns=2 trainer.devices=2)")
    if config.fc_width() % processes:
        return (f"model.width={config.width} gives fc6/fc7 {config.fc_width()} neurons, which "
                f"{processes} columns cannot split evenly: pick a width whose 4096·width rounds "
                "to an even number, e.g. 0.25")
    return None


def columns_problem(trainer: Any, model: Any) -> str | None:
    """One line when a config asks for `trainer.strategy=columns` with what it cannot run."""
    if str(trainer.get("strategy")) != STRATEGY:
        return None
    arch, devices, precision = (model.get("arch", "alexnet"), trainer.get("devices"),
                                str(trainer.get("precision", "32-true")))
    # Lightning's forms: 2, "2", or a list of device ids
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    elif isinstance(devices, Sequence) and not isinstance(devices, str):
        devices = len(devices)
    if arch != "alexnet":
        return (f"trainer.strategy={STRATEGY} splits AlexNet's two columns: use model=alexnet "
                f"or model=alexnet_cifar, not model.arch={arch}")
    if not (isinstance(devices, int) and devices % 2 == 0 and devices > 0):
        return (f"trainer.strategy={STRATEGY} runs the two columns of a pair on two devices of "
                "one node: pass trainer.devices=2 (or 4, 6, ...: pairs data parallel), not "
                f"{trainer.get('devices')}")
    if precision not in PRECISIONS:
        return (f"trainer.precision={precision} cannot train the columns: each process's loss "
                f"scaler would skip and rescale on its own; pass one of {', '.join(PRECISIONS)}")
    return _net_problem(AlexNetConfig(columns=model.get("columns", 2),
                                      width=model.get("width", 1.0)), 2)


def column_mesh(device_mesh):
    """The (data_parallel, tensor_parallel) mesh when the trainer runs the columns, else None."""
    if device_mesh is None or "tensor_parallel" not in (device_mesh.mesh_dim_names or ()):
        return None
    return device_mesh


class ColumnStrategy(ModelParallelStrategy):
    """Lightning's model-parallel strategy with the columns of a pair on adjacent processes and
    the pairs data parallel: 2 processes are one pair, 2×N are N pairs. Checkpoints are whole
    single files (the one-device net's state dict)."""

    def __init__(self, **kwargs):
        super().__init__(tensor_parallel_size=2, save_distributed_checkpoint=False, **kwargs)

    def setup_environment(self) -> None:
        self._data_parallel_size = self.num_nodes * self.num_processes // 2
        super().setup_environment()

    @property
    def distributed_sampler_kwargs(self) -> dict[str, Any]:
        """The pairs' data parallelism; before the processes start (no mesh yet), its size alone
        (training.py splits the global batch by it before launching them)."""
        if self._device_mesh is None:
            return {"num_replicas": max(1, self.num_nodes * self.num_processes // 2), "rank": 0}
        return super().distributed_sampler_kwargs

    def load_checkpoint(self, checkpoint_path, weights_only: bool | None = None) -> dict[str, Any]:
        """A whole checkpoint, its optimizer state matched to the parameters group by group: one
        written on one device numbers its parameters in param-group order, which Lightning's
        own loader reads in the module's order (wrong as soon as biases have their own group)."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
            set_optimizer_state_dict,
        )

        path = Path(self.broadcast(str(checkpoint_path)))
        if not path.is_file():  # a sharded checkpoint directory: Lightning's loader
            return super().load_checkpoint(path, weights_only=weights_only)
        checkpoint = torch.load(path, mmap=True, map_location="cpu", weights_only=weights_only)
        strict = self.lightning_module.strict_loading
        options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=True, strict=strict)
        set_model_state_dict(self.model, checkpoint.pop("state_dict"), options=options)
        names = {id(p): name for name, p in self.model.named_parameters()}
        for optimizer, state in zip(self.optimizers, checkpoint.get("optimizer_states", []),
                                    strict=False):
            set_optimizer_state_dict(self.model, optimizer,
                                     optim_state_dict=_by_name(state, optimizer, names),
                                     options=options)
        return checkpoint


def _by_name(state: dict[str, Any], optimizer, names: dict[int, str]) -> dict[str, Any]:
    """An optimizer state dict keyed by parameter names, its saved groups matched to the
    optimizer's own in order (as `Optimizer.load_state_dict` matches them)."""
    ids = {}
    for saved, group in zip(state["param_groups"], optimizer.param_groups, strict=True):
        ids |= {i: names[id(p)] for i, p in zip(saved["params"], group["params"], strict=True)}
    return {"state": {ids.get(k, k): v for k, v in state["state"].items()},
            "param_groups": [{**g, "params": [ids.get(i, i) for i in g["params"]]}
                             for g in state["param_groups"]]}


StrategyRegistry.register(STRATEGY, ColumnStrategy,
                          description="one AlexNet column per process (§3.2's two-GPU "
                          "scheme), pairs of columns data parallel", override=True)

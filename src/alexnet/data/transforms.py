"""The paper's augmentation, on whole batches of uint8 images on the model's device.

§4.1: random crops of the net's input size from the stored image, and their horizontal
reflections; at test time the centre crop, or (the paper's test) ten crops: the four corners
and the centre, and their reflections, whose softmax outputs the model averages.
§2: the training-set mean is subtracted from each pixel; the paper's inputs stay on the
0-255 scale. Every random draw comes from an explicit generator, so a resumed run repeats it.
"""

from __future__ import annotations

import torch


def crop_indices(
    crop: int, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices (B, crop) of each image's patch; flipped patches read backwards."""
    base = torch.arange(crop, device=top.device)
    rows = top[:, None] + base
    cols = left[:, None] + torch.where(flip[:, None], crop - 1 - base, base)
    return rows, cols


def gather_crops(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """images (B, C, H, W) → (B, C, crop, crop): one advanced-indexing gather for the batch."""
    b, c = images.shape[:2]
    bi = torch.arange(b, device=images.device)[:, None, None, None]
    ci = torch.arange(c, device=images.device)[None, :, None, None]
    return images[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]


def _check_fits(crop: int, h: int, w: int) -> None:
    """The images' own size, which a checkpoint's crop may not fit (config_checks checks the
    config's sizes)."""
    if crop > min(h, w):
        raise ValueError(f"crop {crop} is larger than the stored images ({h}×{w})")


def crop_params(
    batch: int, h: int, w: int, crop: int, generator: torch.Generator, flip: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each image's random patch corner (top, left) and whether it is mirrored."""
    _check_fits(crop, h, w)
    dev = generator.device
    top = torch.randint(0, h - crop + 1, (batch,), generator=generator, device=dev)
    left = torch.randint(0, w - crop + 1, (batch,), generator=generator, device=dev)
    mirror = torch.rand(batch, generator=generator, device=dev) < 0.5
    return top, left, mirror if flip else torch.zeros_like(mirror)


def random_crop_flip(
    images: torch.Tensor, crop: int, generator: torch.Generator, flip: bool = True
) -> torch.Tensor:
    """A random crop×crop patch of every image, mirrored with probability 1/2: one batched
    gather (the accelerator path of `train_batch`)."""
    b, _, h, w = images.shape
    top, left, mirror = (t.to(images.device) for t in crop_params(b, h, w, crop, generator, flip))
    return gather_crops(images, *crop_indices(crop, top, left, mirror))


def train_batch(
    images: torch.Tensor, normalize: Normalize, crop: int, generator: torch.Generator,
    flip: bool = True, lighting=None, gather: bool | None = None,
) -> torch.Tensor:
    """uint8 (B, 3, H, W) → the net's float input: mean subtracted (÷ std if asked), random
    crop and flip, PCA lighting. Only the cut differs by device: on an accelerator one batched
    gather from the normalised images; on a CPU a loop of per-image slices, each normalised
    under its own patch of the mean into the batch and flipped while in cache (4× the gather's
    speed at ImageNet size on a 2-core CPU; at CIFAR size the gather is ~1 ms a batch faster:
    `benchmarks/augment.py`). Both give bit-identical batches (`gather` forces one way)."""
    if gather if gather is not None else images.device.type != "cpu":
        x = random_crop_flip(normalize(images), crop, generator, flip)
    else:
        b, c, h, w = images.shape
        top, left, mirror = crop_params(b, h, w, crop, generator, flip)
        x = torch.empty(b, c, crop, crop)
        for i, (t, s, m) in enumerate(zip(top.tolist(), left.tolist(), mirror.tolist(),
                                          strict=True)):
            normalize(images[i, :, t : t + crop, s : s + crop], t, s, out=x[i])
            if m:
                x[i] = x[i].flip(-1)
    return (x if lighting is None
            else lighting(x, generator, normalize.scale if normalize.divides else None))


def center_offsets(h: int, w: int, crop: int) -> tuple[int, int]:
    return (h - crop) // 2, (w - crop) // 2


def center_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    top, left = center_offsets(*images.shape[-2:], crop)
    return images[..., top : top + crop, left : left + crop]


def ten_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    """(B, C, H, W) → (B, 10, C, crop, crop): top-left, top-right, bottom-left, bottom-right,
    centre, then the same five mirrored. View 4 is exactly `center_crop`."""
    h, w = images.shape[-2:]
    _check_fits(crop, h, w)
    corners = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop),
               ((h - crop) // 2, (w - crop) // 2)]
    views = [images[..., t : t + crop, s : s + crop] for t, s in corners]
    views += [v.flip(-1) for v in views]
    return torch.stack(views, dim=1)


def view_logits(forward, x: torch.Tensor) -> torch.Tensor:
    """Logits of every view of a (B, V, C, H, W) batch → (B, V, classes), all views in one
    pass (the ten-crop loaders hold a tenth of the images per batch, so B·V crops are about a
    training batch)."""
    return forward(x.flatten(0, 1)).unflatten(0, x.shape[:2])


def view_softmax(forward, x: torch.Tensor) -> torch.Tensor:
    """Softmax of every view of a (B, V, C, H, W) batch → (B, V, classes). The paper's
    prediction is `.mean(1)`."""
    return view_logits(forward, x).softmax(-1)


class Normalize(torch.nn.Module):
    """Mean subtraction (per pixel, as the paper, or per channel), optionally ÷ channel std.

    `divide_std=False` is the paper's input: mean-subtracted RGB on the 0-255 scale.
    `divide_std=True` is the modern input: zero mean, unit variance per channel.
    Applied to the stored-size image, or to a patch with the mean under that patch, so a
    per-pixel mean lines up with the pixels it came from.
    """

    def __init__(self, mean_image, channel_mean, channel_std, mean: str = "pixel",
                 divide_std: bool = False):
        super().__init__()
        m = torch.as_tensor(mean_image if mean == "pixel" else channel_mean, dtype=torch.float32)
        self.register_buffer("mean", m if m.ndim == 3 else m[:, None, None], persistent=False)
        std = torch.as_tensor(channel_std, dtype=torch.float32)[:, None, None]
        self.register_buffer("scale", 1.0 / std if divide_std else torch.ones_like(std),
                             persistent=False)
        self.divides = divide_std

    def patch(self, top: int, left: int, size: int) -> torch.Tensor:
        """The mean under the size×size patch at (top, left) of a stored image."""
        m = self.mean
        return m if m.shape[-1] == 1 else m[:, top : top + size, left : left + size]

    def forward(self, images: torch.Tensor, top: int | None = None, left: int | None = None,
                out: torch.Tensor | None = None) -> torch.Tensor:
        """Stored-size images, or (with top, left) patches cut at that corner of them; float32,
        into `out` if given."""
        mean = self.mean if top is None else self.patch(top, left, images.shape[-1])
        x = torch.sub(images, mean, out=out)
        return x.mul_(self.scale) if self.divides else x

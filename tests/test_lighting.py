"""PCA lighting (§4.1) and the ten-crop test, against direct computations."""

import numpy as np
import pytest
import torch

from alexnet import paper
from alexnet.data import lighting
from alexnet.data.stats import image_stats
from alexnet.data.transforms import center_crop, ten_crop, view_softmax


def rotation(seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q


def test_pca_of_a_synthetic_training_set_recovers_its_colour_axes(tmp_path):
    p, lam = rotation(), np.array([900.0, 100.0, 16.0])
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 200 * 16 * 16))
    pixels = 128 + p @ (np.sqrt(lam)[:, None] * z)
    images = np.clip(np.round(pixels), 0, 255).astype(np.uint8).reshape(3, 200, 16, 16).transpose(1, 0, 2, 3)
    stats = image_stats(images, tmp_path / "s.npz", chunk=33)
    values, vectors = stats["pca_eigenvalues"], stats["pca_eigenvectors"]
    np.testing.assert_allclose(values, lam + 1 / 12, rtol=0.03)  # + the rounding's variance
    for i in range(3):  # each axis up to its sign
        assert abs(vectors[:, i] @ p[:, i]) > 0.999
    # the covariance is that of all pixels (a direct computation)
    flat = images.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(stats["rgb_covariance"], np.cov(flat, bias=True), rtol=1e-6)


@pytest.mark.parametrize("kind", ["text", "code"])
def test_lighting_shift_has_the_documented_distribution(kind):
    p, lam = rotation(2), np.array([4000.0, 400.0, 40.0])
    light = lighting.PCALighting(lam, p, kind)
    g = torch.Generator().manual_seed(0)
    shifts = light.shifts(200_000, g).double().numpy()
    s = lam / 255.0 if kind == "text" else np.sqrt(lam)  # text: P(α∘λ)/255; code: P(α∘√λ)
    expected = p @ np.diag((paper.PCA_ALPHA_STD * s) ** 2) @ p.T
    np.testing.assert_allclose(shifts.mean(0), 0, atol=0.02 * np.sqrt(expected.diagonal().max()))
    np.testing.assert_allclose(np.cov(shifts.T), expected, rtol=0.03, atol=0.01 * expected.max())


def test_one_shift_per_image_added_to_every_pixel_and_code_rescales_by_1_1():
    p, lam = rotation(3), np.array([900.0, 100.0, 16.0])
    x = torch.zeros(4, 3, 5, 5)
    for kind, rescale in (("text", 1.0), ("code", 1.1)):
        out = lighting.PCALighting(lam, p, kind)(x + 10, torch.Generator().manual_seed(1))
        shifts = lighting.PCALighting(lam, p, kind).shifts(4, torch.Generator().manual_seed(1))
        # every pixel of an image moves by the same RGB vector
        assert torch.allclose(out, (10 + shifts[:, :, None, None].expand_as(x)) / rescale, atol=1e-5)


def test_switch_values_and_the_fallback_constants():
    assert lighting.variant(False) is None and lighting.variant("false") is None
    assert lighting.variant("text") == "text" and lighting.variant("code") == "code"
    with pytest.raises(ValueError, match="data.pca_lighting='fancy'"):
        lighting.variant("fancy")
    values, vectors = lighting.imagenet_pca()
    np.testing.assert_allclose(np.sqrt(values), [121.78, 37.09, 19.72])
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=3e-3)  # orthonormal (3 decimals)


def test_ten_crops_are_the_corners_the_centre_and_their_mirrors():
    x = torch.arange(2 * 3 * 8 * 9, dtype=torch.float32).reshape(2, 3, 8, 9)
    views = ten_crop(x, 5)
    assert views.shape == (2, 10, 3, 5, 5)
    patches = [x[..., :5, :5], x[..., :5, 4:], x[..., 3:, :5], x[..., 3:, 4:], x[..., 1:6, 2:7]]
    for i, patch in enumerate(patches):
        assert torch.equal(views[:, i], patch)
        assert torch.equal(views[:, 5 + i], patch.flip(-1))
    assert torch.equal(views[:, 4], center_crop(x, 5))


def test_the_prediction_averages_the_softmax_of_the_views():
    x = torch.randn(3, 10, 4)

    def net(v):
        return v * 2

    probs = view_softmax(net, x)  # (B, views, features)
    expected = torch.stack([(x[:, v] * 2).softmax(-1) for v in range(10)], 1)
    assert torch.allclose(probs, expected)
    assert torch.allclose(probs.mean(1).sum(-1), torch.ones(3))


@pytest.mark.parametrize("divide_std, kind", [(False, "text"), (True, "code"), (False, None)])
def test_cpu_loop_and_batched_gather_give_identical_training_batches(divide_std, kind):
    from alexnet.data.transforms import Normalize, train_batch

    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (16, 3, 12, 12), dtype=np.uint8))
    norm = Normalize(rng.random((3, 12, 12)) * 255, [100.0, 110, 120], [50.0, 60, 70], divide_std=divide_std)
    light = lighting.PCALighting([900.0, 100, 10], rotation(4), kind) if kind else None
    a = train_batch(images, norm, 9, torch.Generator().manual_seed(5), lighting=light, gather=False)
    b = train_batch(images, norm, 9, torch.Generator().manual_seed(5), lighting=light, gather=True)
    assert torch.equal(a, b)
    # and it is the documented composition: normalise, crop/flip, add the shift (÷ 1.1 for code)
    g = torch.Generator().manual_seed(5)
    from alexnet.data.transforms import random_crop_flip

    c = random_crop_flip(norm(images), 9, g)
    if light is not None:
        c = light(c, g, norm.scale if divide_std else None)
    torch.testing.assert_close(a, c)

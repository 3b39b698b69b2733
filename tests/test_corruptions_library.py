"""Image corruption library: registry names, published constants, determinism, shapes, monotonicity,
and agreement with independent reference computations (scipy, matplotlib, PIL)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
from PIL import Image
from scipy import ndimage

from humanalign.perturb.corruptions import ALL_CORRUPTIONS, CorruptionError, corrupt
from humanalign.perturb.corruptions._common import clipped_zoom, motion_blur_batch, plasma_fractal
from humanalign.perturb.corruptions.blur import ZOOM_BLUR_FACTORS, disk_kernel, local_shuffle
from humanalign.perturb.corruptions.frost_textures import frost_bank
from humanalign.registry import CORRUPTIONS, UnknownNameError

IMAGENET_C_NAMES = {
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "defocus_blur", "glass_blur",
    "motion_blur", "zoom_blur", "gaussian_blur", "snow", "frost", "fog", "spatter", "brightness",
    "contrast", "saturate", "elastic_transform", "pixelate", "jpeg_compression",
}


def natural_images(b: int = 2, h: int = 48, w: int = 64, seed: int = 0) -> torch.Tensor:
    """Smooth images with edges (gradients, sinusoids, rectangles), ``[b, 3, h, w]`` in [0.1, 0.9]."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    out = []
    for _ in range(b):
        f = torch.rand(3, 2, generator=g) * 6 + 1
        img = torch.stack([0.5 + 0.25 * torch.sin(f[c, 0] * 3 * xs + f[c, 1] * 2 * ys) for c in range(3)])
        y0, x0 = int(torch.randint(0, h // 2, (1,), generator=g)), int(torch.randint(0, w // 2, (1,), generator=g))
        img[:, y0:y0 + h // 3, x0:x0 + w // 3] = torch.rand(3, 1, 1, generator=g)
        out.append(img)
    return (torch.stack(out) * 0.8 + 0.1).clamp(0, 1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_all_nineteen_registered_under_imagenet_c_names() -> None:
    assert set(ALL_CORRUPTIONS) == IMAGENET_C_NAMES
    assert IMAGENET_C_NAMES <= set(CORRUPTIONS.list())
    for name in IMAGENET_C_NAMES:
        meta = CORRUPTIONS.meta(name)
        assert len(meta["constants"]) == 5 and meta["family"] in {"noise", "blur", "weather", "digital"}


def test_published_constants() -> None:
    """Per-severity constants of make_imagenet_c.py (Hendrycks & Dietterich 2019)."""
    published = {
        "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),
        "shot_noise": (60, 25, 12, 5, 3),
        "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),
        "speckle_noise": (0.15, 0.2, 0.35, 0.45, 0.6),
        "gaussian_blur": (1, 2, 3, 4, 6),
        "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
        "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
        "jpeg_compression": (25, 18, 15, 10, 7),
        "pixelate": (0.6, 0.5, 0.4, 0.3, 0.25),
        "defocus_blur": ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
        "glass_blur": ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
        "motion_blur": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
        "fog": ((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)),
        "frost": ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
        "saturate": ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)),
    }
    for name, table in published.items():
        np.testing.assert_allclose(np.array(CORRUPTIONS.meta(name)["constants"], dtype=float),
                                   np.array(table, dtype=float), err_msg=name)
    assert [len(f) for f in ZOOM_BLUR_FACTORS] == [12, 16, 11, 13, 11]  # numpy arange as published
    assert CORRUPTIONS.meta("snow")["constants"][2] == (0.55, 0.3, 4, 0.9, 12, 8, 0.7)
    assert CORRUPTIONS.meta("elastic_transform")["constants"][0] == (488, 244 * 0.7, 244 * 0.1)


@pytest.mark.parametrize("name", sorted(IMAGENET_C_NAMES))
def test_deterministic_shape_range_any_size(name: str) -> None:
    x = natural_images(2, 40, 56)
    fn = CORRUPTIONS.get(name)
    a = fn(x, 3, generator=gen(1))
    b = fn(x, 3, generator=gen(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b), "same seed must give the same output"
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert not torch.equal(a, x)
    assert torch.equal(x, natural_images(2, 40, 56)), "input must not be modified in place"


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "impulse_noise", "glass_blur", "motion_blur",
                                  "snow", "frost", "fog", "spatter", "elastic_transform"])
def test_random_corruptions_depend_on_seed(name: str) -> None:
    x = natural_images(2, 40, 40)
    fn = CORRUPTIONS.get(name)
    assert not torch.equal(fn(x, 4, generator=gen(1)), fn(x, 4, generator=gen(2)))


def _distortion(name: str, severity: int, x: torch.Tensor) -> float:
    """Mean absolute change; for frost (image weight falls while the texture weight rises, so the
    absolute change need not grow) the loss of correlation with the clean image."""
    outs = [corrupt(x, name, severity, gen(s)) for s in range(2)]
    if name == "frost":
        return float(np.mean([1 - np.corrcoef(y.flatten().numpy(), x.flatten().numpy())[0, 1] for y in outs]))
    return float(np.mean([(y - x).abs().mean() for y in outs]))


@pytest.mark.parametrize("name", sorted(IMAGENET_C_NAMES))
def test_severity_increases_distortion(name: str) -> None:
    x = natural_images(2, 48, 48)
    d = [_distortion(name, s, x) for s in (1, 2, 3, 4, 5)]
    if name == "elastic_transform":  # published levels 1-2 are global warps, 3-5 local ones
        assert d[2] < d[3] < d[4], d
        return
    assert d[4] > d[0], d
    strictly = {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "gaussian_blur", "defocus_blur",
                "brightness", "contrast", "fog"}
    if name in strictly:
        assert all(b >= a - 1e-6 for a, b in zip(d, d[1:])), d


def test_noise_statistics_match_constants() -> None:
    x = torch.full((1, 3, 96, 96), 0.5)
    for s, sigma in enumerate((0.08, 0.12), start=1):
        y = corrupt(x, "gaussian_noise", s, gen(s))
        assert abs(float((y - x).std()) - sigma) < 0.03 * sigma
    y = corrupt(x, "speckle_noise", 1, gen(0))
    assert abs(float((y - x).std()) - 0.5 * 0.15) < 0.03 * 0.075
    y = corrupt(x, "shot_noise", 1, gen(0))  # Poisson(0.5 * 60) / 60: variance 0.5 / 60
    assert abs(float(y.var()) - 0.5 / 60) < 0.05 * 0.5 / 60
    y = corrupt(x, "impulse_noise", 5, gen(0))
    hit = ((y == 0) | (y == 1)).float().mean()
    assert abs(float(hit) - 0.27) < 0.01


def test_gaussian_blur_matches_scipy() -> None:
    x = natural_images(1, 40, 52)
    y = corrupt(x, "gaussian_blur", 2, gen(0))
    ref = np.stack([ndimage.gaussian_filter(x[0, c].double().numpy(), 2, mode="nearest", truncate=4.0)
                    for c in range(3)])
    np.testing.assert_allclose(y[0].numpy(), np.clip(ref, 0, 1), atol=1e-5)


def test_defocus_matches_scipy_correlate() -> None:
    k = disk_kernel(3, 0.1)
    assert k.shape == (17, 17) and abs(float(k.sum()) - 1) < 1e-9 and torch.allclose(k, k.T)
    x = natural_images(1, 40, 40)
    y = corrupt(x, "defocus_blur", 1, gen(0))
    ref = np.stack([ndimage.correlate(x[0, c].double().numpy(), k.numpy(), mode="mirror") for c in range(3)])
    np.testing.assert_allclose(y[0].numpy(), np.clip(ref, 0, 1), atol=1e-5)


def test_motion_blur_matches_shift_loop() -> None:
    """FFT motion blur equals the edge-clamped shift-and-add definition."""
    x = natural_images(1, 32, 40).double()
    angle, radius, sigma = 30.0, 3, 2.0
    out = motion_blur_batch(x, radius, sigma, torch.tensor([angle]))
    width = 2 * radius + 1
    taps = np.exp(-np.arange(width) ** 2 / (2 * sigma**2))
    taps /= taps.sum()
    ref = np.zeros((3, 32, 40))
    img = x[0].numpy()
    for i in range(width):
        dy = -int(np.ceil(i * np.sin(np.deg2rad(angle)) - 0.5))
        dx = -int(np.ceil(i * np.cos(np.deg2rad(angle)) - 0.5))
        rows = np.clip(np.arange(32) - dy, 0, 31)
        cols = np.clip(np.arange(40) - dx, 0, 39)
        ref += taps[i] * img[:, rows][:, :, cols]
    np.testing.assert_allclose(out[0].numpy(), ref, atol=1e-9)


def test_contrast_and_hsv_corruptions_match_matplotlib() -> None:
    x = natural_images(1, 24, 24)
    y = corrupt(x, "contrast", 2, gen(0))
    mean = x.mean(dim=(-2, -1), keepdim=True)
    torch.testing.assert_close(y, (x - mean) * 0.3 + mean)
    hsv = rgb_to_hsv(x[0].permute(1, 2, 0).double().numpy())
    bright = hsv.copy()
    bright[..., 2] = np.clip(bright[..., 2] + 0.3, 0, 1)
    np.testing.assert_allclose(corrupt(x, "brightness", 3, gen(0))[0].permute(1, 2, 0).numpy(),
                               hsv_to_rgb(bright), atol=1e-5)
    sat = hsv.copy()
    sat[..., 1] = np.clip(sat[..., 1] * 5 + 0.1, 0, 1)
    np.testing.assert_allclose(corrupt(x, "saturate", 4, gen(0))[0].permute(1, 2, 0).numpy(),
                               hsv_to_rgb(sat), atol=1e-5)


def test_saturate_tints_grey_red_like_skimage() -> None:
    x = torch.full((1, 3, 16, 16), 0.5)
    y = corrupt(x, "saturate", 5, gen(0))  # S' = 0.2, hue 0 -> (V, 0.8 V, 0.8 V)
    torch.testing.assert_close(y[0, :, 0, 0], torch.tensor([0.5, 0.4, 0.4]))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a - b) ** 2)))


@pytest.mark.parametrize("severity,quality", [(1, 25), (5, 7)])
def test_jpeg_close_to_pil(severity: int, quality: int) -> None:
    x = natural_images(1, 48, 64)
    ours = corrupt(x, "jpeg_compression", severity, gen(0))[0].permute(1, 2, 0).numpy()
    u8 = np.round(x[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, "JPEG", quality=quality)
    pil = np.asarray(Image.open(buf).convert("RGB")).astype(np.float64) / 255
    clean = u8 / 255
    assert _psnr(ours, pil) > 35, "our JPEG must agree with PIL's encoder"
    assert abs(_psnr(ours, clean) - _psnr(pil, clean)) < 1.0, "same amount of compression loss"


def test_pixelate_close_to_pil_box() -> None:
    x = natural_images(1, 40, 40)
    ours = corrupt(x, "pixelate", 2, gen(0))[0].permute(1, 2, 0).numpy()
    img = Image.fromarray(np.round(x[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    ref = np.asarray(img.resize((20, 20), Image.BOX).resize((40, 40), Image.NEAREST)) / 255
    assert np.abs(ours - ref).max() < 3 / 255


def test_glass_shuffle_copies_input_pixels_like_the_numpy_view_swap() -> None:
    """ImageNet-C's tuple "swap" on NumPy views is a copy x[h, w] <- x[h', w']; ours copies too."""
    x = torch.rand(2, 3, 30, 34, generator=gen(3))
    y = local_shuffle(x, 2, gen(4))
    assert not torch.equal(x, y)
    for b in range(2):  # every output pixel is some input pixel; some inputs are duplicated, some lost
        px = set(map(tuple, x[b].reshape(3, -1).T.tolist()))
        py = y[b].reshape(3, -1).T.tolist()
        assert all(tuple(v) in px for v in py)
        assert len(set(map(tuple, py))) < len(px)
    torch.testing.assert_close(y[..., :2, :], x[..., :2, :])  # rows above the scanned band are untouched
    a = np.arange(12).reshape(2, 2, 3)
    a[0, 0], a[1, 1] = a[1, 1], a[0, 0]
    assert a[0, 0].tolist() == a[1, 1].tolist() == [9, 10, 11], "the reference's swap is a copy"


def test_helpers_zoom_and_plasma() -> None:
    x = natural_images(1, 32, 32)
    torch.testing.assert_close(clipped_zoom(x, 1.0), x)
    m = plasma_fractal(2, 64, 2.0, x, gen(0))
    assert m.shape == (2, 64, 64) and float(m.min()) == 0 and float(m.max()) == 1
    bank = frost_bank()
    assert bank.shape[:2] == (5, 3) and torch.equal(bank, frost_bank())
    means = bank.mean(dim=(-2, -1))
    assert float(means.min()) > 0.25 and float(means.max()) < 0.85  # range of the ImageNet-C frost photos


def test_bad_input_errors() -> None:
    x = natural_images(1, 16, 16)
    with pytest.raises(CorruptionError, match="severity"):
        corrupt(x, "fog", 6)
    with pytest.raises(CorruptionError, match=r"\[B, 3, H, W\]"):
        corrupt(x[0], "fog", 1)
    with pytest.raises(CorruptionError, match="float"):
        corrupt((x * 255).to(torch.uint8), "fog", 1)
    with pytest.raises(UnknownNameError, match="gaussian_noise"):
        corrupt(x, "gausian_noise", 1)


def test_spatter_edges_are_thin_rings_and_equalisation_matches_formula() -> None:
    from humanalign.perturb.corruptions.spatter import _edges, equalize_hist

    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    radius = torch.sqrt((yy - 32) ** 2 + (xx - 31.5) ** 2)
    disk = (radius < 15).float()[None, None] * 200
    edges = _edges(disk)[0, 0]
    assert edges.any()
    assert float((radius[edges] - 15).abs().max()) <= 1.5, "edges hug the boundary (non-maximum suppression)"
    assert 0.6 * 2 * np.pi * 15 < int(edges.sum()) < 1.6 * 2 * np.pi * 15
    v = torch.randint(0, 40, (2, 1, 16, 16), generator=gen(0)).float() * 3
    out = equalize_hist(v)
    for b in range(2):
        vals = v[b].flatten().long().numpy()
        cdf = np.cumsum(np.bincount(vals, minlength=256))
        first = cdf[np.nonzero(cdf)[0][0]]
        lut = np.round((cdf - first) * 255 / (vals.size - first))
        np.testing.assert_array_equal(out[b].flatten().numpy(), lut[vals])


def test_half_precision_inputs_keep_their_dtype() -> None:
    x = natural_images(1, 16, 16).to(torch.bfloat16)
    for name in sorted(IMAGENET_C_NAMES):
        y = corrupt(x, name, 2, gen(0))
        assert y.dtype == torch.bfloat16 and y.shape == x.shape, name

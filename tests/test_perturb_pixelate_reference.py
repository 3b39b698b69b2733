"""pixelate against PIL's BOX/NEAREST resampling, as called by ``imagecorruptions`` (ImageNet-C).

``imagecorruptions.corruptions.pixelate`` (PyPI imagecorruptions 1.1.2) is
``img.resize((int(W c), int(H c)), Image.BOX).resize((W, H), Image.NEAREST)``. The channel means below are
that function's output on the deterministic image :func:`_image` (computed once with imagecorruptions 1.1.2
and Pillow 13.0.0; the package itself is not needed here). The other tests ask PIL directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from humanalign.perturb.corruptions import corrupt
from humanalign.perturb.corruptions.digital import PIXELATE, box_resize_matrix

IMAGECORRUPTIONS_MEANS = {  # severity -> per-channel mean (0..255) of imagecorruptions' pixelate(_image())
    1: (127.8552, 127.8608, 127.9021),
    2: (127.974, 128.0041, 128.0092),
    3: (127.7093, 127.7353, 127.7292),
    4: (127.6441, 127.6981, 127.668),
    5: (127.7506, 127.7726, 127.7736),
}


def _image(h: int = 37, w: int = 53) -> np.ndarray:
    """Deterministic high-contrast uint8 image ``[H, W, 3]`` (no random generator involved)."""
    i = np.arange(h * w * 3, dtype=np.float64).reshape(h, w, 3)
    return np.round(127.5 + 127.5 * np.sin(0.37 * i + 0.0021 * i**1.5)).astype(np.uint8)


def _ours(u8: np.ndarray, severity: int) -> np.ndarray:
    x = torch.from_numpy(u8).permute(2, 0, 1)[None].float() / 255  # [1, 3, H, W]
    return corrupt(x, "pixelate", severity, None)[0].permute(1, 2, 0).double().numpy() * 255


def _pil(u8: np.ndarray, severity: int) -> np.ndarray:
    h, w = u8.shape[:2]
    c = PIXELATE[severity - 1]
    img = Image.fromarray(u8).resize((int(w * c), int(h * c)), Image.BOX).resize((w, h), Image.NEAREST)
    return np.asarray(img).astype(np.float64)


@pytest.mark.parametrize("n_in,n_out", [(37, 22), (53, 31), (53, 21), (40, 12), (224, 134), (224, 89), (7, 3)])
def test_box_weights_equal_pils_float_box_filter(n_in, n_out):
    """A mode-F identity image resized by PIL gives its BOX weights as columns, unrounded."""
    eye = Image.fromarray(np.eye(n_in, dtype=np.float32), mode="F")
    pil = np.asarray(eye.resize((n_out, n_in), Image.BOX)).T  # [n_out, n_in]
    ours = box_resize_matrix(n_out, n_in, torch.device("cpu"), torch.float64).numpy()
    np.testing.assert_allclose(ours, pil, atol=1e-6)
    assert np.all((ours == 0) | np.isclose(ours, ours.max(1, keepdims=True))), "each pixel weighs 0 or 1"


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_pixelate_equals_imagecorruptions_on_a_fixed_image(severity):
    out = _ours(_image(), severity)
    np.testing.assert_allclose(out.mean((0, 1)), IMAGECORRUPTIONS_MEANS[severity], atol=2e-4)
    np.testing.assert_allclose(out, _pil(_image(), severity), atol=1e-3)  # every pixel, uint8-exact


@pytest.mark.parametrize("h,w", [(48, 64), (37, 53)])
def test_pixelate_psnr_to_pil_at_least_48_db_at_every_severity(h, w):
    rng = np.random.default_rng(h)
    u8 = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)  # noise: every box edge matters
    for severity in range(1, 6):
        mse = np.mean((_ours(u8, severity) - _pil(u8, severity)) ** 2)
        assert mse == 0 or 10 * np.log10(255**2 / mse) >= 48, severity

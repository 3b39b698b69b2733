"""The encoding of the released ImageNet-C files: uint8 truncation, then JPEG at quality 85.

``make_imagenet_c.py`` (hendrycks/robustness, ``ImageNet-C/create_c``) corrupts each image in float (0..255),
then saves ``Image.fromarray(np.uint8(img)).save(path, quality=85, optimize=True)``: values are *truncated*
to uint8 (not rounded) and JPEG-encoded at quality 85 (PIL's default 4:2:0 chroma subsampling; ``optimize``
changes only the Huffman tables, not the pixels). Published mCE normalisers are AlexNet's errors on those
files, so corruptions scored without this step are not on exactly the footing of the published numbers.

:func:`imagenet_c_jpeg_bytes` gives the file bytes (to write ImageNet-C-style files); :func:`imagenet_c_encode`
gives the pixels a model reads back from them.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import torch
from PIL import Image

from humanalign.perturb.corruptions._common import check_batch

__all__ = ["IMAGENET_C_JPEG_QUALITY", "truncate_uint8", "imagenet_c_jpeg_bytes", "imagenet_c_encode"]

logger = logging.getLogger(__name__)

IMAGENET_C_JPEG_QUALITY = 85
_EPS = 1e-4  # in 0..255 units: absorbs float32 error on values that are exact integers in the reference


def truncate_uint8(images: torch.Tensor) -> torch.Tensor:
    """``np.uint8`` of ``255 x``: truncation toward zero, clipped to 0..255; ``[B, 3, H, W]`` float -> uint8."""
    x = check_batch(images, "imagenet_c_encode")
    return torch.floor(x.detach().to(torch.float64) * 255 + _EPS).clamp(0, 255).to(torch.uint8)


def imagenet_c_jpeg_bytes(images: torch.Tensor) -> list[bytes]:
    """JPEG files (quality 85, optimised Huffman tables) of float images ``[B, 3, H, W]`` in [0, 1], as
    ImageNet-C wrote them after truncating to uint8."""
    u8 = truncate_uint8(images).permute(0, 2, 3, 1).cpu().numpy()  # [B, H, W, 3]
    out = []
    for frame in u8:
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame)).save(buf, "JPEG", quality=IMAGENET_C_JPEG_QUALITY, optimize=True)
        out.append(buf.getvalue())
    return out


def imagenet_c_encode(images: torch.Tensor) -> torch.Tensor:
    """The pixels of the ImageNet-C files: uint8 truncation, JPEG q85 round trip; ``[B, 3, H, W]`` -> uint8.

    Args:
        images: Float (corrupted) images in [0, 1], any device.

    Returns:
        ``uint8 [B, 3, H, W]`` on the input's device (divide by 255 for model input).
    """
    decoded = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in imagenet_c_jpeg_bytes(images)]
    return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).contiguous().to(images.device)

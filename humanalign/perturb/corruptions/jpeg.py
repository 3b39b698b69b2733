"""Batched JPEG compression in torch (baseline JPEG as libjpeg/PIL encode it, minus entropy coding).

Pipeline per image: 8-bit RGB -> JFIF YCbCr (rounded) -> 4:2:0 chroma (2x2 means) -> edge padding
to 16 px -> 8x8 orthonormal DCT -> quantisation with the ITU T.81 Annex K tables scaled by the
libjpeg quality rule -> dequantisation -> inverse DCT -> "fancy" (triangle) chroma upsampling ->
RGB, rounded to 8 bits. Entropy coding is lossless, so the decoded pixels match a real encoder up to
integer-rounding details; the tests bound the difference to PIL's encoder.
"""

from __future__ import annotations

import functools
import logging
import math

import torch
import torch.nn.functional as F

__all__ = ["LUMA_TABLE", "CHROMA_TABLE", "quality_table", "jpeg_roundtrip"]

logger = logging.getLogger(__name__)

LUMA_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
CHROMA_TABLE = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
) + ((99,) * 8,) * 4


def quality_table(table: tuple, quality: int) -> torch.Tensor:
    """Scale a base quantisation table by the libjpeg quality rule (baseline: entries in 1..255)."""
    q = min(max(int(quality), 1), 100)
    scale = 5000 // q if q < 50 else 200 - 2 * q
    base = torch.tensor(table, dtype=torch.float64)
    return torch.floor((base * scale + 50) / 100).clamp(1, 255)


@functools.lru_cache(maxsize=1)
def _dct_matrix() -> torch.Tensor:
    k = torch.arange(8, dtype=torch.float64)
    mat = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    mat[0] /= math.sqrt(2)
    return mat  # [8, 8], orthonormal DCT-II


@functools.lru_cache(maxsize=1)
def _dct2_matrix() -> torch.Tensor:
    d = _dct_matrix()
    return torch.kron(d, d)  # [64, 64]: 2-D DCT of a row-major flattened 8x8 block


def _blocks_roundtrip(plane: torch.Tensor, qtable: torch.Tensor) -> torch.Tensor:
    """Quantise one level-shifted plane ``[B, H, W]`` (H, W multiples of 8) in 8x8 DCT blocks."""
    b, h, w = plane.shape
    k = _dct2_matrix().to(plane.device, plane.dtype)
    q = qtable.to(plane.device, plane.dtype).reshape(64)
    blocks = plane.view(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4).reshape(-1, 64)  # [N, 64]
    coef = blocks @ k.T
    coef = torch.round(coef / q) * q
    out = (coef @ k).view(b, h // 8, w // 8, 8, 8)
    return out.permute(0, 1, 3, 2, 4).reshape(b, h, w)


_RGB_TO_YCC = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
_YCC_TO_RGB = ((1.0, 0.0, 1.402), (1.0, -0.344136, -0.714136), (1.0, 1.772, 0.0))


def jpeg_roundtrip(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode float images ``[B, 3, H, W]`` in [0, 1] as baseline 4:2:0 JPEG of ``quality``.

    Returns:
        Decoded images ``[B, 3, H, W]`` in [0, 1] (multiples of 1/255).
    """
    b, _, h, w = x.shape
    dt = torch.float64 if x.dtype == torch.float64 else torch.float32
    to_ycc = torch.tensor(_RGB_TO_YCC, dtype=dt, device=x.device)
    to_rgb = torch.tensor(_YCC_TO_RGB, dtype=dt, device=x.device)
    offset = torch.tensor((0.0, 128.0, 128.0), dtype=dt, device=x.device).view(1, 3, 1, 1)
    rgb = torch.round(x.to(dt).clamp(0, 1) * 255)
    ycc = torch.round(torch.einsum("ij,bjhw->bihw", to_ycc, rgb) + offset).clamp_(0, 255)  # [B, 3, H, W]
    ph, pw = (-h) % 16, (-w) % 16
    if ph or pw:
        ycc = F.pad(ycc, (0, pw, 0, ph), mode="replicate")  # [B, 3, H16, W16]
    luma = _blocks_roundtrip(ycc[:, 0] - 128, quality_table(LUMA_TABLE, quality))
    chroma = F.avg_pool2d(ycc[:, 1:], 2) - 128  # [B, 2, H16/2, W16/2]
    ctab = quality_table(CHROMA_TABLE, quality)
    hc, wc = chroma.shape[-2:]
    chroma_q = _blocks_roundtrip(chroma.reshape(b * 2, hc, wc), ctab).view(b, 2, hc, wc)
    chroma_q = chroma_q.clamp_(-128, 127)
    chroma_up = F.interpolate(chroma_q, scale_factor=2, mode="bilinear", align_corners=False)
    ycc_d = torch.cat([(luma + 128).clamp_(0, 255)[:, None], chroma_up], 1)[:, :, :h, :w]
    out = torch.einsum("ij,bjhw->bihw", to_rgb, ycc_d)
    return (torch.round(out).clamp_(0, 255) / 255).to(x.dtype)

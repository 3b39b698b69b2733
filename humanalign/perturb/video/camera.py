"""Camera perturbations of UCF101-P / Kinetics-P (Schiappa et al. 2023): translation, rotation.

Severity definitions (pinned to the benchmark code, ``core/video_perturb.py``):

* ``translate``: the frame content shifts by an integer offset drawn uniformly from
  ``[0, 8 * severity)`` px on each axis (scaled by ``min(H, W) / 224``), uncovered pixels are 0.
  One draw per clip by default (camera moved); ``mode="dynamic"`` redraws per frame, registered
  as ``shake`` (camera shake).
* ``static_rotate``: every frame rotated by 7.5, 15, 30, 45, 90 degrees (severity 1..5).
* ``rotate``: varying rotation, a fresh integer angle uniform in ``[-(6s + 1), 6s + 1]`` degrees per
  frame by default (``mode="coherent"``: one angle per clip).

Rotation is about the frame centre with nearest-neighbour sampling and black corners, as the benchmark's
PIL ``Image.rotate(deg)`` (whose default resampling is ``NEAREST``): on 8-bit frames all pixels equal PIL's
except rare exact ties (0.1-1% of pixels at 45 degrees).
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F

from humanalign.perturb.corruptions._common import per_severity
from humanalign.perturb.video.clip import BENCHMARK_SOURCE, register_lifted

__all__ = ["TRANSLATE_PX", "STATIC_ROTATION_DEG", "ROTATION_MAX_DEG", "rotate_frames", "translate_frames",
           "static_rotate_frames", "varying_rotate_frames"]

logger = logging.getLogger(__name__)

TRANSLATE_PX = tuple(8 * s for s in range(1, 6))  # offsets uniform in [0, c) px at 224 px
STATIC_ROTATION_DEG = (7.5, 15.0, 30.0, 45.0, 90.0)
ROTATION_MAX_DEG = tuple(6 * s + 1 for s in range(1, 6))  # integer angles uniform in [-c, c]


def rotate_frames(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each frame of ``x [N, 3, H, W]`` counter-clockwise by ``degrees [N]`` about its centre (nearest)."""
    n, _, h, w = x.shape
    theta = torch.deg2rad(degrees.to(x.dtype))
    cos, sin = torch.cos(theta), torch.sin(theta)
    aspect = h / w
    # grid_sample maps output -> input coordinates (normalised); inverse rotation, aspect-corrected.
    mat = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    mat[:, 0, 0], mat[:, 0, 1] = cos, -sin * aspect
    mat[:, 1, 0], mat[:, 1, 1] = sin / aspect, cos
    grid = F.affine_grid(mat, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


@per_severity("translate", TRANSLATE_PX)
def translate_frames(x: torch.Tensor, max_px: int, generator: torch.Generator | None) -> torch.Tensor:
    """Shift frames up-left by random offsets in ``[0, max_px)`` px (zeros fill); ``[N, 3, H, W] -> same``."""
    n, _, h, w = x.shape
    limit = max(1, math.ceil(max_px * min(h, w) / 224))
    off = torch.randint(0, limit, (n, 2), generator=generator, device=x.device)
    rows = torch.arange(h, device=x.device)[None] + off[:, :1]  # [N, H]
    cols = torch.arange(w, device=x.device)[None] + off[:, 1:]  # [N, W]
    padded = F.pad(x, (0, limit, 0, limit))
    out = padded.permute(0, 2, 3, 1)[torch.arange(n, device=x.device)[:, None, None], rows[:, :, None],
                                      cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


@per_severity("static_rotate", STATIC_ROTATION_DEG)
def static_rotate_frames(x: torch.Tensor, deg: float, generator: torch.Generator | None) -> torch.Tensor:
    """Rotate all frames by ``deg`` degrees; ``[N, 3, H, W] -> same``."""
    return rotate_frames(x, torch.full((x.shape[0],), deg, device=x.device))


@per_severity("rotate", ROTATION_MAX_DEG)
def varying_rotate_frames(x: torch.Tensor, max_deg: int, generator: torch.Generator | None) -> torch.Tensor:
    """Rotate each frame by a random integer angle in ``[-max_deg, max_deg]`` deg; ``[N, 3, H, W] -> same``."""
    deg = torch.randint(-max_deg, max_deg + 1, (x.shape[0],), generator=generator, device=x.device)
    return rotate_frames(x, deg.to(x.dtype))


register_lifted("translate", translate_frames, family="camera", constants=TRANSLATE_PX,
                default_mode="coherent")
register_lifted("shake", translate_frames, family="camera", constants=TRANSLATE_PX, default_mode="dynamic",
                source=BENCHMARK_SOURCE + "; translate with a fresh offset per frame")
register_lifted("static_rotate", static_rotate_frames, family="camera", constants=STATIC_ROTATION_DEG,
                default_mode="coherent")
register_lifted("rotate", varying_rotate_frames, family="camera", constants=ROTATION_MAX_DEG,
                default_mode="dynamic")

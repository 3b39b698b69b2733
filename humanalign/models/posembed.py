"""Position tables: fixed sin-cos (VideoMAE: 1-D over the flattened token index), separable space + time,
and resizing a learned spatial table to another patch grid by the rule of the library the weights come from.
"""

from __future__ import annotations

import functools
from typing import Literal

import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed

__all__ = ["RESIZE_RULES", "sincos_table", "separable_table", "resize_spatial_table"]

RESIZE_RULES = ("mae", "timm")


@functools.lru_cache(maxsize=32)
def _table(num_positions: int, dim: int) -> torch.Tensor:
    position = torch.arange(num_positions, dtype=torch.float64).unsqueeze(1)  # [N, 1]
    j = torch.arange(dim, dtype=torch.float64)
    angle = position / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)  # [N, D]
    table = torch.where(j.remainder(2) == 0, torch.sin(angle), torch.cos(angle))
    return table.float().unsqueeze(0)  # [1, N, D]


def sincos_table(grid: tuple[int, int, int], dim: int) -> torch.Tensor:
    """Sin-cos table ``[1, T'*H'*W', D]``: position ``n`` gets ``sin/cos(n / 10000^(2i/D))`` on even/odd dims.

    This is the table VideoMAE (v1 and v2) uses for its encoder and decoder, over tokens flattened
    time-major. The returned tensor is shared (cached); do not modify it in place.
    """
    t, h, w = grid
    return _table(t * h * w, dim)


def separable_table(spatial: torch.Tensor, temporal: torch.Tensor | None) -> torch.Tensor:
    """Separable positions (MAE-ST, HVM-1): every time step gets the spatial table plus its time row.

    Args:
        spatial: ``[1, H'W', D]``.
        temporal: ``[1, T', D]``, or None for images.

    Returns:
        ``[1, T'*H'*W', D]``, tokens ordered time-major.
    """
    if temporal is None:
        return spatial
    return (spatial.unsqueeze(1) + temporal.unsqueeze(2)).flatten(1, 2)


def resize_spatial_table(spatial: torch.Tensor, old: tuple[int, int], new: tuple[int, int],
                         rule: Literal["mae", "timm"] = "mae") -> torch.Tensor:
    """Resize a learned spatial table ``[1, H*W, D]`` from grid ``old`` to ``new`` -> ``[1, H'*W', D]``.

    Args:
        spatial: Patch rows only (no class row), row-major over the grid.
        old: Stored grid ``(H, W)``.
        new: Wanted grid ``(H', W')``.
        rule: ``"mae"``: bicubic, ``align_corners=False``, no antialiasing, as ``interpolate_pos_embed`` of
            facebookresearch/mae, mae_st and DeiT. ``"timm"``: timm's own ``resample_abs_pos_embed``
            (bicubic with antialiasing, computed in float32), as timm does for ``dynamic_img_size`` and when
            loading weights at another ``img_size``.
    """
    if tuple(old) == tuple(new):
        return spatial
    if rule == "timm":
        return resample_abs_pos_embed(spatial, new_size=list(new), old_size=list(old), num_prefix_tokens=0)
    if rule != "mae":
        raise ValueError(f"unknown position-table resize rule {rule!r}; use one of {RESIZE_RULES}")
    d = spatial.shape[-1]
    grid = spatial.reshape(1, old[0], old[1], d).permute(0, 3, 1, 2)  # [1, D, H, W]
    grid = F.interpolate(grid, size=tuple(new), mode="bicubic", align_corners=False)
    return grid.permute(0, 2, 3, 1).reshape(1, new[0] * new[1], d)

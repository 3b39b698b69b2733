"""One ViT encoder family for video (3-D tubelets) and images (2-D patches), built from timm ``Block``s.

Token layout: a video ``[B, C, T, H, W]`` becomes ``N = T' * H' * W'`` tokens ordered time-major
(``T' = T / tubelet``, ``H' = H / patch``, ``W' = W / patch``); an image ``[B, C, H, W]`` becomes
``N = H' * W'`` tokens. An optional CLS token is prepended. Position embeddings are either learned and
separable (a spatial table ``[1, H'W', D]`` plus a temporal table ``[1, T', D]``, as in MAE-ST and HVM-1)
or fixed sin-cos (as in VideoMAE), or a stored fixed table ``[1, T'H'W', D]`` (``"table"``: V-JEPA keeps
its 3-D sin-cos table in the checkpoint). With ``fc_norm`` the final LayerNorm is applied after pooling
instead of to every token (VideoMAE's mean-pooling fine-tuned models). Attention uses PyTorch SDPA
through timm's fused attention.

One contract for every model in the suite:
    ``encode(x, pool)`` -> ``[B, D]`` and ``block_outputs(x, layers)`` -> list of ``[B, N(+1), D]``,
    for ``x`` images ``[B, C, H, W]`` or video ``[B, C, T, H, W]``. A video encoder given an image sees a
    static clip (the frame repeated ``num_frames`` times, as HVM-1 does for ImageNet); an image encoder
    given a video encodes each frame and averages the pooled features over time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from humanalign.models.patches import Order
from humanalign.models.posembed import resize_spatial_table, separable_table, sincos_table

__all__ = ["EncoderConfig", "ViTEncoder", "IMAGENET_MEAN", "IMAGENET_STD"]

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class EncoderConfig:
    """Architecture of a :class:`ViTEncoder` (defaults: ViT-S/16 video, 16 x 224 x 224)."""

    embed_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    mlp_ratio: float = 4.0
    patch_size: int = 16
    tubelet_size: int = 2
    img_size: int = 224
    num_frames: int = 16
    video: bool = True
    in_chans: int = 3
    pos_embed: Literal["separable", "sincos", "table"] = "separable"
    cls_token: bool = False
    qkv_bias: bool = True
    drop_path_rate: float = 0.0
    norm_eps: float = 1e-6
    fc_norm: bool = False
    layer_scale: float | None = None
    pos_resize: Literal["mae", "timm"] = "mae"  # rule for a learned spatial table at another grid (posembed.py)


class ViTEncoder(nn.Module):
    """Vision Transformer encoder for video tubelets or image patches.

    Args:
        cfg: Architecture. ``cfg.video`` selects Conv3d tubelets (``tubelet x patch x patch``) or
            Conv2d patches; everything else (blocks, norm, position scheme) is shared.
    """

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        if cfg.img_size % cfg.patch_size:
            raise ValueError(f"img_size {cfg.img_size} is not a multiple of patch_size {cfg.patch_size}")
        if cfg.video and cfg.num_frames % cfg.tubelet_size:
            raise ValueError(f"num_frames {cfg.num_frames} is not a multiple of tubelet_size {cfg.tubelet_size}")
        self.cfg = cfg
        d = cfg.embed_dim
        side = cfg.img_size // cfg.patch_size
        self.grid = (cfg.num_frames // cfg.tubelet_size if cfg.video else 1, side, side)
        if cfg.video:
            kernel = (cfg.tubelet_size, cfg.patch_size, cfg.patch_size)
            self.patch_embed = nn.Conv3d(cfg.in_chans, d, kernel_size=kernel, stride=kernel)
        else:
            kernel2 = (cfg.patch_size, cfg.patch_size)
            self.patch_embed = nn.Conv2d(cfg.in_chans, d, kernel_size=kernel2, stride=kernel2)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if cfg.cls_token else None
        if cfg.pos_embed == "separable":
            self.pos_embed_spatial = nn.Parameter(torch.zeros(1, side * side, d))
            self.pos_embed_temporal = nn.Parameter(torch.zeros(1, self.grid[0], d)) if cfg.video else None
            self.pos_embed_class = nn.Parameter(torch.zeros(1, 1, d)) if cfg.cls_token else None
        elif cfg.pos_embed == "table":
            # Fixed table loaded from a checkpoint (V-JEPA); starts as the 1-D sin-cos table.
            self.register_buffer("pos_embed_table", sincos_table((self.grid[0], side, side), d).clone())
        elif cfg.pos_embed != "sincos":
            raise ValueError(f"unknown pos_embed {cfg.pos_embed!r}; use 'separable', 'sincos' or 'table'")
        dpr = [cfg.drop_path_rate * i / max(1, cfg.depth - 1) for i in range(cfg.depth)]
        self.blocks = nn.ModuleList([
            Block(d, cfg.num_heads, mlp_ratio=cfg.mlp_ratio, qkv_bias=cfg.qkv_bias, drop_path=dpr[i],
                  init_values=cfg.layer_scale, norm_layer=functools.partial(nn.LayerNorm, eps=cfg.norm_eps))
            for i in range(cfg.depth)
        ])
        self.norm = nn.Identity() if cfg.fc_norm else nn.LayerNorm(d, eps=cfg.norm_eps)
        self.fc_norm = nn.LayerNorm(d, eps=cfg.norm_eps) if cfg.fc_norm else None
        self._init_weights()

    # -- properties used across the suite -------------------------------------------------------
    @property
    def is_video(self) -> bool:
        return self.cfg.video

    @property
    def embed_dim(self) -> int:
        return self.cfg.embed_dim

    @property
    def depth(self) -> int:
        return self.cfg.depth

    @property
    def img_size(self) -> int:
        return self.cfg.img_size

    @property
    def num_frames(self) -> int:
        return self.cfg.num_frames if self.cfg.video else 1

    @property
    def patch_size(self) -> int:
        return self.cfg.patch_size

    @property
    def tubelet_size(self) -> int:
        return self.cfg.tubelet_size if self.cfg.video else 1

    @property
    def num_prefix_tokens(self) -> int:
        return 1 if self.cls_token is not None else 0

    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    # -- initialisation -------------------------------------------------------------------------
    def _init_weights(self) -> None:
        for p in (self.cls_token, getattr(self, "pos_embed_spatial", None),
                  getattr(self, "pos_embed_temporal", None), getattr(self, "pos_embed_class", None)):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    # -- tokens -----------------------------------------------------------------------------------
    def grid_for(self, x: torch.Tensor) -> tuple[int, int, int]:
        """Token grid ``(T', H', W')`` for an input already in this encoder's layout."""
        p = self.cfg.patch_size
        if x.shape[-1] % p or x.shape[-2] % p:
            raise ValueError(f"input size {tuple(x.shape[-2:])} is not a multiple of patch size {p}")
        t = x.shape[2] // self.tubelet_size if self.is_video else 1
        return t, x.shape[-2] // p, x.shape[-1] // p

    def pos_embed(self, grid: tuple[int, int, int]) -> torch.Tensor:
        """Position embedding ``[1, T'H'W', D]`` for ``grid`` (interpolated if it differs from training)."""
        t, h, w = grid
        d = self.cfg.embed_dim
        if self.cfg.pos_embed == "sincos":
            table = sincos_table(grid if self.is_video else (1, h, w), d)
            return table.to(self.patch_embed.weight.device, self.patch_embed.weight.dtype)
        if self.cfg.pos_embed == "table":
            return self._table_pos_embed((t if self.is_video else 1, h, w))
        side = self.grid[1]
        spatial = self.pos_embed_spatial
        spatial = resize_spatial_table(spatial, (side, side), (h, w), self.cfg.pos_resize)  # [1, h*w, D]
        temporal = self.pos_embed_temporal
        if temporal is not None and t != self.grid[0]:
            temporal = F.interpolate(temporal.transpose(1, 2), size=t, mode="linear", align_corners=False)
            temporal = temporal.transpose(1, 2)
        return separable_table(spatial, temporal)  # [1, T'*H'*W', D]

    def _table_pos_embed(self, grid: tuple[int, int, int]) -> torch.Tensor:
        """Stored table ``[1, T'H'W', D]``, trilinearly resized when ``grid`` differs from the stored grid."""
        table = self.pos_embed_table
        stored = (self.grid[0], self.grid[1], self.grid[2])
        if tuple(grid) == stored:
            return table
        d = table.shape[-1]
        volume = table.reshape(1, *stored, d).permute(0, 4, 1, 2, 3)  # [1, D, T', H', W']
        volume = F.interpolate(volume, size=tuple(grid), mode="trilinear", align_corners=False)
        return volume.permute(0, 2, 3, 4, 1).reshape(1, grid[0] * grid[1] * grid[2], d)

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Bring images or clips into this encoder's layout (static clip for video encoders).

        Args:
            x: ``[B, C, H, W]`` or ``[B, C, T, H, W]``.

        Returns:
            ``[B, C, T, H, W]`` for video encoders, ``[B, C, H, W]`` for image encoders (a video given
            to an image encoder must go through :meth:`encode`, which folds time into the batch).
        """
        if x.dim() == 4 and self.is_video:
            return x.unsqueeze(2).expand(-1, -1, self.cfg.num_frames, -1, -1)
        if x.dim() == 5 and not self.is_video:
            raise ValueError("image encoder given a video [B,C,T,H,W]; use encode(), which averages over frames")
        if x.dim() not in (4, 5):
            raise ValueError(f"expected [B,C,H,W] or [B,C,T,H,W], got shape {tuple(x.shape)}")
        if x.shape[1] != self.cfg.in_chans:
            raise ValueError(f"expected {self.cfg.in_chans} channels, got shape {tuple(x.shape)}")
        return x

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """Patch-embed and add positions: ``x`` -> tokens ``[B, N, D]`` (no CLS) and the grid."""
        x = self.prepare_input(x)
        grid = self.grid_for(x)
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, D, T', H', W'] -> [B, N, D]
        return tokens + self.pos_embed(grid), grid

    def embed_patches(self, patches: torch.Tensor, positions: torch.Tensor,
                      grid: tuple[int, int, int], order: Order = "ctpp") -> torch.Tensor:
        """Embed only chosen patches (e.g. the visible ones in MAE), skipping the rest.

        Args:
            patches: ``[B, n, C * t * p * p]`` pixel patches as produced by
                :func:`humanalign.models.patches.patchify` with the same ``order``.
            positions: ``[B, n]`` token indices of those patches in the full grid.
            grid: The full token grid ``(T', H', W')``.
            order: Layout inside a patch row: ``"ctpp"`` (the Conv kernel's own layout) or ``"tppc"`` (the
                MAE reconstruction target's, so one patchify serves both; the kernel is permuted instead).

        Returns:
            ``[B, n, D]`` tokens with their position embeddings, equal to the matching rows of
            :meth:`embed` (up to float rounding).
        """
        weight = self.patch_embed.weight  # [D, C, t, p, p] (video) or [D, C, p, p] (image)
        if order == "tppc":
            weight = (weight if weight.dim() == 5 else weight.unsqueeze(2)).permute(0, 2, 3, 4, 1)
        elif order != "ctpp":
            raise ValueError(f"unknown patch order {order!r}")
        tokens = F.linear(patches, weight.flatten(1), self.patch_embed.bias)  # [B, n, D]
        pos = self.pos_embed(grid).expand(patches.shape[0], -1, -1)
        pos = torch.gather(pos, 1, positions.unsqueeze(-1).expand(-1, -1, pos.shape[-1]))
        return tokens + pos

    def add_prefix(self, tokens: torch.Tensor) -> torch.Tensor:
        """Prepend the CLS token (with its position) if the encoder has one: ``[B, N, D] -> [B, N+1, D]``."""
        if self.cls_token is None:
            return tokens
        cls = self.cls_token
        if getattr(self, "pos_embed_class", None) is not None:
            cls = cls + self.pos_embed_class
        return torch.cat([cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)

    def run_blocks(self, tokens: torch.Tensor) -> torch.Tensor:
        """Transformer blocks then the final norm: ``[B, n, D] -> [B, n, D]``."""
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    # -- public contract --------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens after the final norm: ``[B, N(+1), D]``."""
        tokens, _ = self.embed(x)
        return self.run_blocks(self.add_prefix(tokens))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)

    def block_outputs(self, x: torch.Tensor, layers: Sequence[int] | None = None,
                      norm: bool = False) -> list[torch.Tensor]:
        """Outputs of chosen blocks.

        Args:
            x: Images ``[B, C, H, W]`` or clips ``[B, C, T, H, W]`` (see :meth:`prepare_input`).
            layers: Block indices in ``0..depth-1`` (negative counts from the end); None = all.
            norm: Apply the final LayerNorm to each output.

        Returns:
            One ``[B, N(+1), D]`` tensor per requested layer, in the requested order. For an image
            encoder given a clip, tokens of all frames are concatenated: ``[B, T*N, D]``.
        """
        depth = self.cfg.depth
        wanted = list(range(depth)) if layers is None else [int(i) % depth if -depth <= int(i) < depth
                                                             else _bad_layer(i, depth) for i in layers]
        if x.dim() == 5 and not self.is_video:
            b, c, t, h, w = x.shape
            frames = x.transpose(1, 2).reshape(b * t, c, h, w)
            outs = self.block_outputs(frames, wanted, norm)
            return [o.reshape(b, t * o.shape[1], o.shape[2]) for o in outs]
        tokens, _ = self.embed(x)
        tokens = self.add_prefix(tokens)
        collected: dict[int, torch.Tensor] = {}
        last = max(wanted)
        for i, block in enumerate(self.blocks):
            tokens = block(tokens)
            if i in wanted:
                collected[i] = self.norm(tokens) if norm else tokens
            if i == last:
                break
        return [collected[i] for i in wanted]

    def pool(self, tokens: torch.Tensor, pool: str = "mean") -> torch.Tensor:
        """Pool ``[B, N(+1), D]`` tokens to ``[B, D]`` ("cls" needs a CLS token; "mean" skips it).

        With ``cfg.fc_norm`` the final LayerNorm is applied here, to the pooled vector.
        """
        if pool == "cls":
            if self.cls_token is None:
                raise ValueError("pool='cls' but this encoder has no CLS token; use pool='mean'")
            pooled = tokens[:, 0]
        elif pool == "mean":
            pooled = tokens[:, self.num_prefix_tokens:].mean(dim=1)
        else:
            raise ValueError(f"unknown pool {pool!r}; use 'mean' or 'cls'")
        return self.fc_norm(pooled) if self.fc_norm is not None else pooled

    def encode(self, x: torch.Tensor, pool: str = "mean") -> torch.Tensor:
        """One embedding per input: ``[B, D]`` (final-norm tokens, pooled)."""
        if x.dim() == 5 and not self.is_video:
            b, c, t, h, w = x.shape
            per_frame = self.encode(x.transpose(1, 2).reshape(b * t, c, h, w), pool)
            return per_frame.reshape(b, t, -1).mean(dim=1)
        return self.pool(self.forward_features(x), pool)

    def num_params(self) -> int:
        """Number of parameters."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        c = self.cfg
        kind = f"video {c.num_frames}x{c.img_size}^2, tubelet {c.tubelet_size}" if c.video else f"image {c.img_size}^2"
        return f"{kind}, patch {c.patch_size}, dim {c.embed_dim}, depth {c.depth}, heads {c.num_heads}"


def _bad_layer(index: int, depth: int) -> int:
    raise IndexError(f"layer {index} out of range for an encoder of depth {depth}")

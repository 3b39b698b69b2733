"""VITO: contrastive learning across time with attention pooling (after Parthasarathy et al. 2023).

Two frames (or short clips) of the same video at a sampled temporal offset form a positive pair;
the other videos of the batch are the negatives. Each view gets its own random crop and flip (from
the data stream) and its own colour augmentation (here, on the batch). The encoder's tokens are
pooled by a multi-query attention head (each learned query is one soft spatial mask, so the model
learns which regions to align), the pooled vectors go through a projection MLP, and a symmetric
InfoNCE loss with a temperature aligns the two views. The product is the encoder itself
(``eval_prefix = "encoder."``): with ``encoder.video=false`` it is a plain image ViT usable directly
for image tasks.

What follows the paper and what is ours is listed in ``docs/vito_vjepa.md``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from humanalign.models.vit import IMAGENET_MEAN, IMAGENET_STD, EncoderConfig, ViTEncoder
from humanalign.pretrain.distributed import gather_objects, gather_rows
from humanalign.pretrain.imagemae import pick_frames

__all__ = ["VITOConfig", "VITO", "AttentionPool", "info_nce", "colour_jitter", "video_groups"]

logger = logging.getLogger(__name__)


@dataclass
class VITOConfig:
    """Pooling head, projection, loss and view augmentation of VITO."""

    num_queries: int = 4
    proj_hidden: int = 2048
    proj_dim: int = 256
    temperature: float = 0.1
    gather_negatives: bool = True
    pair_offset_seconds: tuple[float, float] = (0.0, 2.0)
    exclude_same_video: bool = True
    jitter_prob: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    grayscale_prob: float = 0.2


def info_nce(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float, groups: torch.Tensor | None = None, *,
             keys_a: torch.Tensor | None = None, keys_b: torch.Tensor | None = None,
             key_groups: torch.Tensor | None = None, offset: int = 0) -> torch.Tensor:
    """Symmetric InfoNCE: row ``i`` of ``z_a`` should pick its partner in ``z_b`` among all rows, and back.

    Args:
        z_a: ``[N, E]`` embeddings of the first views (L2-normalised by the caller, or not: this
            function uses them as given).
        z_b: ``[N, E]`` embeddings of the second views.
        temperature: Softmax temperature ``tau``; logits are ``z_a @ keys_b.T / tau``.
        groups: Optional ``[N]`` video ids; pairs of *different* rows from the same video are left out
            of the denominators (they are not negatives).
        keys_a: ``[M, E]`` first views of the whole global batch (every process's ``z_a`` in rank order),
            the candidates of the b -> a direction; default ``z_a``.
        keys_b: ``[M, E]`` second views of the whole global batch; default ``z_b``.
        key_groups: ``[M]`` video ids of the global batch (needed with ``groups`` and gathered keys).
        offset: Index of ``z_a``'s first row in the global batch (``rank * N``).

    Returns:
        Scalar ``(CE(a -> b) + CE(b -> a)) / 2``, averaged over this process's rows. The mean of this
        over processes is the loss of the whole global batch.
    """
    if z_a.shape != z_b.shape or z_a.dim() != 2:
        raise ValueError(f"info_nce needs two [N, E] tensors of one shape, got {tuple(z_a.shape)}, {tuple(z_b.shape)}")
    keys_a = z_a if keys_a is None else keys_a
    keys_b = z_b if keys_b is None else keys_b
    key_groups = groups if key_groups is None else key_groups
    labels = torch.arange(z_a.shape[0], device=z_a.device) + offset  # each row's partner among the keys
    return 0.5 * (_one_way_nce(z_a, keys_b, labels, groups, key_groups, temperature)
                  + _one_way_nce(z_b, keys_a, labels, groups, key_groups, temperature))


def _one_way_nce(queries: torch.Tensor, keys: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor | None,
                 key_groups: torch.Tensor | None, temperature: float) -> torch.Tensor:
    """Cross-entropy of ``queries [N, E]`` picking ``keys[labels]`` among ``keys [M, E]``."""
    logits = queries.float() @ keys.float().T / temperature  # [N, M]
    if groups is not None:
        same = groups.unsqueeze(1) == key_groups.unsqueeze(0)  # [N, M]
        same[torch.arange(len(labels), device=same.device), labels] = False  # the partner stays
        logits = logits.masked_fill(same, float("-inf"))
    return F.cross_entropy(logits, labels)


def video_groups(paths: list[str] | None, rows: int) -> torch.Tensor | None:
    """Video id ``[rows]`` of each clip row, from the batch's per-item video ``paths`` (None if unknown).

    Items contribute ``rows / len(paths)`` consecutive rows each (their repeated clips).
    """
    if not isinstance(paths, list) or not paths or rows % len(paths):
        return None
    ids = {p: i for i, p in enumerate(dict.fromkeys(paths))}
    per_item = torch.tensor([ids[p] for p in paths])
    return per_item.repeat_interleave(rows // len(paths))


def colour_jitter(x: torch.Tensor, generator: torch.Generator, cfg: VITOConfig,
                  mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> torch.Tensor:
    """Per-sample brightness, contrast, saturation jitter and random grayscale on normalised inputs.

    Every sample draws its own factors from ``generator`` (CPU, so identical on every device); all
    frames of a clip share them. Order: brightness, contrast, saturation, grayscale.

    Args:
        x: Normalised images ``[N, 3, H, W]`` or clips ``[N, 3, T, H, W]``.

    Returns:
        The augmented inputs, normalised again, same shape.
    """
    n = x.shape[0]
    view = (n,) + (1,) * (x.dim() - 1)
    shape = (1, -1) + (1,) * (x.dim() - 2)
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(shape)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(shape)
    img = (x * s + m).clamp(0, 1)  # [N, 3, ...] in [0, 1]

    def factor(amount: float) -> torch.Tensor:
        return (1 + (torch.rand(n, generator=generator) * 2 - 1) * amount).to(x).view(view)

    apply = (torch.rand(n, generator=generator) < cfg.jitter_prob).to(x).view(view)
    b, c, sat = factor(cfg.brightness), factor(cfg.contrast), factor(cfg.saturation)
    gray_pick = (torch.rand(n, generator=generator) < cfg.grayscale_prob).to(x).view(view)
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(shape)

    def gray(t: torch.Tensor) -> torch.Tensor:
        return (t * weights).sum(dim=1, keepdim=True)  # [N, 1, ...]

    out = (img * b).clamp(0, 1)
    level = gray(out).mean(dim=tuple(range(2, x.dim())), keepdim=True)  # [N, 1, 1, ...]
    out = ((out - level) * c + level).clamp(0, 1)
    out = ((out - gray(out)) * sat + gray(out)).clamp(0, 1)
    out = apply * out + (1 - apply) * img
    out = gray_pick * gray(out).expand_as(out) + (1 - gray_pick) * out
    return (out - m) / s


class AttentionPool(nn.Module):
    """Multi-query attention pooling: ``Q`` learned queries each take a softmax-weighted mean of the tokens.

    Args:
        dim: Token width ``D``.
        num_queries: Queries ``Q`` (each one soft mask over the tokens).
    """

    def __init__(self, dim: int, num_queries: int) -> None:
        super().__init__()
        if num_queries < 1:
            raise ValueError(f"num_queries must be >= 1, got {num_queries}")
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.query_tokens = nn.Parameter(torch.zeros(num_queries, dim))
        self.key = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.query_tokens, std=0.02)
        nn.init.trunc_normal_(self.key.weight, std=0.02)
        nn.init.zeros_(self.key.bias)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, n, D]`` tokens -> pooled ``[B, Q, D]`` and attention weights ``[B, Q, n]``."""
        values = self.norm(tokens)
        keys = self.key(values)  # [B, n, D]
        logits = torch.einsum("qd,bnd->bqn", self.query_tokens, keys) / math.sqrt(keys.shape[-1])
        attn = logits.softmax(dim=-1)  # [B, Q, n]
        return attn @ values, attn


class VITO(nn.Module):
    """The VITO objective around a :class:`ViTEncoder` (image patches by default, or video tubelets).

    Args:
        encoder_cfg: The encoder to pretrain; an image encoder given clips uses one random frame each.
        cfg: Head, loss and augmentation settings.
    """

    eval_prefix = "encoder."

    def __init__(self, encoder_cfg: EncoderConfig, cfg: VITOConfig) -> None:
        super().__init__()
        if cfg.temperature <= 0:
            raise ValueError(f"vito.temperature must be > 0, got {cfg.temperature}")
        self.cfg = cfg
        self.encoder = ViTEncoder(encoder_cfg)
        d = encoder_cfg.embed_dim
        self.pool = AttentionPool(d, cfg.num_queries)
        self.projector = nn.Sequential(
            nn.Linear(cfg.num_queries * d, cfg.proj_hidden), nn.LayerNorm(cfg.proj_hidden), nn.GELU(),
            nn.Linear(cfg.proj_hidden, cfg.proj_dim))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised projections ``[N, E]`` of inputs in the encoder's layout."""
        tokens = self.encoder.forward_features(x)[:, self.encoder.num_prefix_tokens:]  # [N, n, D]
        pooled, _ = self.pool(tokens)  # [N, Q, D]
        return F.normalize(self.projector(pooled.flatten(1)).float(), dim=-1)  # [N, E]

    def views(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The two augmented views ``[N, C, (T,) H, W]`` of the batch's pairs."""
        a, b = batch["video_a"], batch["video_b"]  # [N, C, T, H, W] each
        if not self.encoder.is_video:
            a, b = pick_frames(a, generator), pick_frames(b, generator)  # [N, C, H, W]
        return colour_jitter(a, generator, self.cfg), colour_jitter(b, generator, self.cfg)

    def contrastive_loss(self, z_a: torch.Tensor, z_b: torch.Tensor, paths: list[str] | None) -> torch.Tensor:
        """InfoNCE of this process's pairs ``z_a``, ``z_b`` ``[N, E]``, items from video files ``paths``.

        Under ``torch.distributed`` with ``gather_negatives`` (the default), every process's views are
        gathered (differentiably) and serve as negatives, as in SimCLR-style multi-device training; with
        DDP's gradient averaging the update is that of the whole global batch's loss.
        """
        keys_a, keys_b, offset, all_paths = z_a, z_b, 0, paths
        if self.cfg.gather_negatives:  # single-process: the gathers return their inputs
            keys, offset = gather_rows(torch.cat([z_a, z_b], dim=1))  # one collective: [M, 2E]
            keys_a, keys_b = keys.chunk(2, dim=1)
            all_paths = gather_objects(paths) if isinstance(paths, list) else None
        groups = key_groups = None
        if self.cfg.exclude_same_video:
            key_groups = video_groups(all_paths, keys_a.shape[0])
        if key_groups is not None:
            key_groups = key_groups.to(z_a.device)
            groups = key_groups[offset:offset + z_a.shape[0]]
        return info_nce(z_a, z_b, self.cfg.temperature, groups, keys_a=keys_a, keys_b=keys_b,
                        key_groups=key_groups, offset=offset)

    def forward(self, batch: dict[str, Any], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One VITO step; returns the loss and the fraction of pairs whose partner is the nearest view."""
        a, b = self.views(batch, generator)
        z_a, z_b = self.embed(torch.cat([a, b])).chunk(2)  # one encoder pass: [N, E] each
        loss = self.contrastive_loss(z_a, z_b, batch.get("path"))
        with torch.no_grad():
            hits = (z_a @ z_b.T).argmax(dim=1) == torch.arange(z_a.shape[0], device=z_a.device)
        return {"loss": loss, "pair_accuracy": hits.float().mean()}

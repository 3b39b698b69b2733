"""Spatiotemporal masked autoencoder (MAE-ST; HVM-1 recipe) — also the image MAE on 2-D patches.

Feichtenhofer et al. 2022 / Orhan et al. 2024: the encoder sees only the visible tokens (10 % at mask
ratio 0.9); a narrow decoder (512 wide, 4 blocks by default) gets the encoded visible tokens plus a
shared mask token at every hidden position and predicts the hidden patches' pixels; the loss is the
mean squared error on hidden patches, each patch's target normalised by its own mean and variance
(``norm_pix_loss``).

Speed choices (benchmarked in ``bench/train_step.py``): the clip is cut into patches once, for both
the encoder and the target; only visible patches are embedded (a gather and a matrix product with the
permuted Conv3d kernel instead of a Conv3d over the full clip); the target normalisation is one fused
``layer_norm``; and the decoder can decode a random fraction of the hidden tokens
(``decode_fraction`` < 1, the VideoMAE-V2 "dual masking" option). The attention kernel is chosen per
device and precision by the engine (:mod:`humanalign.models.attention`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from humanalign.models.patches import patchify
from humanalign.models.posembed import separable_table, sincos_table
from humanalign.models.vit import ViTEncoder
from humanalign.pretrain.masking import Mask, random_mask, tube_mask

__all__ = ["MAEConfig", "MaskedAutoencoder", "masked_patch_loss"]


@dataclass
class MAEConfig:
    """Decoder and masking of a masked autoencoder (defaults: HVM-1 / MAE-ST at 224 px)."""

    decoder_dim: int = 512
    decoder_depth: int = 4
    decoder_heads: int = 16
    mask_ratio: float = 0.9
    masking: Literal["random", "tube"] = "random"
    norm_pix_loss: bool = True
    decode_fraction: float = 1.0


def masked_patch_loss(pred: torch.Tensor, target: torch.Tensor, norm_pix: bool) -> torch.Tensor:
    """Mean squared error over hidden patches.

    Args:
        pred: ``[B, n, P]`` predicted pixels of the decoded hidden patches.
        target: ``[B, n, P]`` their true pixels.
        norm_pix: Normalise each target patch by its own mean and (unbiased) variance first, as MAE does:
            ``(x - mean) / sqrt(var + 1e-6)``.
    """
    target = target.float()
    if norm_pix:
        # One fused layer_norm pass instead of mean, var, subtract and divide: layer_norm divides by the
        # biased variance v_b = v * (P - 1) / P, so (x - m) / sqrt(v + eps) equals
        # layer_norm(x, eps * (P - 1) / P) * sqrt((P - 1) / P).
        p = target.shape[-1]
        shrink = (p - 1) / p
        target = F.layer_norm(target, (p,), eps=1e-6 * shrink) * shrink**0.5
    return F.mse_loss(pred.float(), target)


class MaskedAutoencoder(nn.Module):
    """MAE around a :class:`ViTEncoder` (video tubelets -> ST-MAE / VideoMAE; image patches -> MAE).

    Args:
        encoder: The encoder to pretrain (kept as ``self.encoder``: its weights are the product).
        cfg: Decoder and masking settings.
    """

    eval_prefix = "encoder."

    def __init__(self, encoder: ViTEncoder, cfg: MAEConfig) -> None:
        super().__init__()
        if cfg.masking == "tube" and not encoder.is_video:
            raise ValueError("tube masking needs a video encoder")
        if not 0.0 < cfg.decode_fraction <= 1.0:
            raise ValueError(f"decode_fraction must be in (0, 1], got {cfg.decode_fraction}")
        self.encoder = encoder
        self.cfg = cfg
        d, dd = encoder.embed_dim, cfg.decoder_dim
        t_grid, side, _ = encoder.grid
        self.decoder_embed = nn.Linear(d, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.separable_pos = encoder.cfg.pos_embed == "separable"
        if self.separable_pos:
            self.decoder_pos_embed_spatial = nn.Parameter(torch.zeros(1, side * side, dd))
            self.decoder_pos_embed_temporal = nn.Parameter(torch.zeros(1, t_grid, dd))
        self.decoder_blocks = nn.ModuleList([
            Block(dd, cfg.decoder_heads, mlp_ratio=4.0, qkv_bias=True,
                  norm_layer=functools.partial(nn.LayerNorm, eps=1e-6))
            for _ in range(cfg.decoder_depth)
        ])
        self.decoder_norm = nn.LayerNorm(dd, eps=1e-6)
        patch_pixels = encoder.tubelet_size * encoder.patch_size**2 * encoder.cfg.in_chans
        self.decoder_pred = nn.Linear(dd, patch_pixels)
        self._init_decoder()

    def _init_decoder(self) -> None:
        nn.init.normal_(self.mask_token, std=0.02)
        if self.separable_pos:
            nn.init.trunc_normal_(self.decoder_pos_embed_spatial, std=0.02)
            nn.init.trunc_normal_(self.decoder_pos_embed_temporal, std=0.02)
        for m in [self.decoder_embed, self.decoder_pred, *self.decoder_blocks.modules()]:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def grid(self) -> tuple[int, int, int]:
        return self.encoder.grid

    def decoder_pos(self) -> torch.Tensor:
        """Decoder position table ``[1, N, Dd]`` (same scheme as the encoder's)."""
        if not self.separable_pos:
            return sincos_table(self.grid, self.cfg.decoder_dim).to(self.mask_token)
        return separable_table(self.decoder_pos_embed_spatial, self.decoder_pos_embed_temporal)

    def sample_mask(self, batch: int, generator: torch.Generator, device: torch.device) -> Mask:
        """Draw this step's mask from ``generator`` (CPU generator: identical on every device)."""
        n = self.grid[0] * self.grid[1] * self.grid[2]
        if self.cfg.masking == "tube":
            return tube_mask(batch, self.grid, self.cfg.mask_ratio, generator, device)
        return random_mask(batch, n, self.cfg.mask_ratio, generator, device)

    def encode_visible(self, patches: torch.Tensor, mask: Mask) -> torch.Tensor:
        """Encoder on visible tokens only.

        Args:
            patches: ``[B, N, t*p*p*C]`` every patch of the input, from ``patchify`` (``"tppc"`` order).
            mask: This step's mask; its ``keep`` rows are encoded.

        Returns:
            ``[B, n_keep, D]`` encoded visible tokens (final norm applied, no CLS).
        """
        enc = self.encoder
        visible = torch.gather(patches, 1, mask.keep.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
        tokens = enc.embed_patches(visible, mask.keep, self.grid, order="tppc")  # [B, n_keep, D]
        latent = enc.run_blocks(enc.add_prefix(tokens))
        return latent[:, enc.num_prefix_tokens:]

    def forward(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One MAE step.

        Args:
            x: Normalised clips ``[B, C, T, H, W]`` (video encoder) or images ``[B, C, H, W]``.
            generator: CPU generator for the mask (and the decoded subset).

        Returns:
            ``{"loss": scalar, "mask_ratio": scalar}``.
        """
        if x.dim() != (5 if self.encoder.is_video else 4):
            raise ValueError(f"{'video' if self.encoder.is_video else 'image'} MAE got input of shape {tuple(x.shape)}")
        b = x.shape[0]
        mask = self.sample_mask(b, generator, x.device)
        patches = patchify(x, self.encoder.patch_size, self.encoder.tubelet_size)  # [B, N, t*p*p*C], once
        latent = self.encode_visible(patches, mask)  # [B, n_keep, D]
        hidden = mask.hidden  # [B, n_mask]
        if self.cfg.decode_fraction < 1.0:
            n_dec = max(1, int(hidden.shape[1] * self.cfg.decode_fraction))
            pick = torch.argsort(torch.rand(hidden.shape, generator=generator), dim=1)[:, :n_dec].to(x.device)
            hidden = torch.gather(hidden, 1, pick)
        pos = self.decoder_pos().expand(b, -1, -1)  # [B, N, Dd]
        dd = pos.shape[-1]
        vis = self.decoder_embed(latent) + torch.gather(pos, 1, mask.keep.unsqueeze(-1).expand(-1, -1, dd))
        hid = self.mask_token + torch.gather(pos, 1, hidden.unsqueeze(-1).expand(-1, -1, dd))
        tokens = torch.cat([vis, hid], dim=1)  # order is irrelevant to attention; positions are added
        for block in self.decoder_blocks:
            tokens = block(tokens)
        pred = self.decoder_pred(self.decoder_norm(tokens[:, vis.shape[1]:]))  # [B, n_dec, t*p*p*C]
        target = torch.gather(patches, 1, hidden.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
        loss = masked_patch_loss(pred, target, self.cfg.norm_pix_loss)
        return {"loss": loss, "mask_ratio": mask.masked.float().mean().detach()}

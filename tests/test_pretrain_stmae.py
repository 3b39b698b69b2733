"""ST-MAE's fast forward computes the textbook MAE objective (Conv3d embedding, var-normalised target)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from humanalign.models.attention import set_attention
from humanalign.models.patches import patchify
from humanalign.pretrain.stmae import MAEConfig, MaskedAutoencoder, masked_patch_loss
from humanalign.registry import MODELS


def test_normalised_loss_matches_mean_and_unbiased_variance() -> None:
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 7, 96, generator=gen, dtype=torch.float64) * 3 + 1
    pred = torch.randn(3, 7, 96, generator=gen, dtype=torch.float64)
    mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)  # MAE: unbiased variance
    expect = ((pred - (target - mean) / (var + 1e-6).sqrt()) ** 2).mean()
    assert masked_patch_loss(pred, target, norm_pix=True).item() == pytest.approx(expect.item(), rel=1e-6)
    assert masked_patch_loss(pred, target, norm_pix=False).item() == pytest.approx(((pred - target) ** 2).mean().item())


def test_constant_patch_normalises_to_zero() -> None:
    target = torch.full((1, 2, 48), 5.0)
    assert masked_patch_loss(torch.zeros(1, 2, 48), target, norm_pix=True).item() == pytest.approx(0.0, abs=1e-6)


def reference_loss(mae: MaskedAutoencoder, x: torch.Tensor, keep: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """MAE loss written the plain way: Conv3d over the whole clip, gather, blocks, var-normalised target."""
    enc = mae.encoder
    tokens, _ = enc.embed(x)  # Conv3d + positions, every token: [B, N, D]
    visible = torch.gather(tokens, 1, keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
    latent = enc.run_blocks(visible)
    pos = mae.decoder_pos().expand(x.shape[0], -1, -1)
    dd = pos.shape[-1]
    vis = mae.decoder_embed(latent) + torch.gather(pos, 1, keep.unsqueeze(-1).expand(-1, -1, dd))
    hid = mae.mask_token + torch.gather(pos, 1, hidden.unsqueeze(-1).expand(-1, -1, dd))
    out = torch.cat([vis, hid], dim=1)
    for block in mae.decoder_blocks:
        out = block(out)
    pred = mae.decoder_pred(mae.decoder_norm(out[:, keep.shape[1]:]))
    target = patchify(x, enc.patch_size, enc.tubelet_size, order="tppc")
    target = torch.gather(target, 1, hidden.unsqueeze(-1).expand(-1, -1, target.shape[-1]))
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    return F.mse_loss(pred, target)


@pytest.mark.parametrize("kernel", ["sdpa", "math"])
def test_fast_forward_equals_reference_objective(kernel: str) -> None:
    torch.manual_seed(0)
    mae = MaskedAutoencoder(MODELS.build("vit_test_video"), MAEConfig(decoder_dim=32, decoder_depth=2, decoder_heads=4))
    set_attention(mae, kernel)
    x = torch.randn(2, 3, 4, 32, 32)
    loss = mae(x, torch.Generator().manual_seed(3))["loss"]
    mask = mae.sample_mask(2, torch.Generator().manual_seed(3), x.device)  # the same draw as the forward's
    set_attention(mae, "sdpa")
    expect = reference_loss(mae, x, mask.keep, mask.hidden)
    assert loss.item() == pytest.approx(expect.item(), rel=1e-5)
    grads = torch.autograd.grad(loss, [mae.encoder.patch_embed.weight, mae.mask_token])
    expect_grads = torch.autograd.grad(expect, [mae.encoder.patch_embed.weight, mae.mask_token])
    for got, want in zip(grads, expect_grads, strict=True):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)

"""The attention switch: what ``auto`` picks, that both kernels agree, and that the trainer applies it."""

from __future__ import annotations

import pytest
import torch

from humanalign.models.attention import resolve_attention, set_attention
from humanalign.registry import MODELS


@pytest.mark.parametrize(("backend", "device", "dtype", "kernel"), [
    ("auto", "cpu", None, "sdpa"),
    ("auto", "cpu", torch.float32, "sdpa"),
    ("auto", "cpu", torch.bfloat16, "math"),
    ("auto", "cuda", torch.bfloat16, "sdpa"),
    ("auto", "cuda", None, "sdpa"),
    ("sdpa", "cpu", torch.bfloat16, "sdpa"),
    ("math", "cuda", None, "math"),
])
def test_resolve_attention(backend: str, device: str, dtype: torch.dtype | None, kernel: str) -> None:
    assert resolve_attention(backend, device, dtype) == kernel


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ValueError, match="'auto', 'sdpa' or 'math'"):
        resolve_attention("flash", "cpu", None)
    with pytest.raises(ValueError, match="'sdpa' or 'math'"):
        set_attention(torch.nn.Linear(2, 2), "auto")


def test_switch_reaches_every_block_and_kernels_agree() -> None:
    torch.manual_seed(0)
    model = MODELS.build("vit_test_video")
    x = torch.randn(2, 3, 4, 32, 32)
    assert set_attention(model, "sdpa") == model.depth
    fused = model.forward_features(x)
    fused_grad = torch.autograd.grad(fused.square().sum(), model.blocks[0].attn.qkv.weight)[0]
    assert set_attention(model, "math") == model.depth
    assert not any(block.attn.fused_attn for block in model.blocks)
    explicit = model.forward_features(x)
    explicit_grad = torch.autograd.grad(explicit.square().sum(), model.blocks[0].attn.qkv.weight)[0]
    assert torch.allclose(fused, explicit, atol=1e-5)
    assert torch.allclose(fused_grad, explicit_grad, rtol=1e-4, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the case auto sends to the explicit path
        low = model.forward_features(x)
    assert torch.allclose(low.float(), fused, atol=0.1)

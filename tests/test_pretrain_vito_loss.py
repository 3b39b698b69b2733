"""VITO pieces: InfoNCE against a hand computation, its minimum at aligned pairs, pooling, colour views."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from humanalign.models.vit import EncoderConfig
from humanalign.pretrain.vito import VITO, AttentionPool, VITOConfig, colour_jitter, info_nce, video_groups


def test_info_nce_equals_a_hand_computation() -> None:
    z_a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    z_b = torch.tensor([[0.8, 0.6], [0.0, 1.0], [1.0, 0.0]])
    tau = 0.5
    sim = [[sum(x * y for x, y in zip(a, b)) / tau for b in z_b.tolist()] for a in z_a.tolist()]
    forward = [-sim[i][i] + math.log(sum(math.exp(s) for s in sim[i])) for i in range(3)]
    backward = [-sim[j][j] + math.log(sum(math.exp(sim[i][j]) for i in range(3))) for j in range(3)]
    expected = 0.5 * (sum(forward) / 3 + sum(backward) / 3)
    assert info_nce(z_a, z_b, tau).item() == pytest.approx(expected, rel=1e-6)


def test_same_video_rows_are_not_negatives() -> None:
    z_a = F.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    z_b = F.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    groups = torch.tensor([0, 0, 1, 2])
    tau = 0.2
    sim = (z_a @ z_b.T / tau).tolist()
    allowed = [[j for j in range(4) if j == i or groups[j] != groups[i]] for i in range(4)]
    forward = [-sim[i][i] + math.log(sum(math.exp(sim[i][j]) for j in allowed[i])) for i in range(4)]
    backward = [-sim[j][j] + math.log(sum(math.exp(sim[i][j]) for i in allowed[j])) for j in range(4)]
    expected = 0.5 * (sum(forward) + sum(backward)) / 4
    assert info_nce(z_a, z_b, tau, groups).item() == pytest.approx(expected, rel=1e-5)
    assert video_groups(["x.mp4", "y.mp4", "x.mp4"], 6).tolist() == [0, 0, 1, 1, 0, 0]
    assert video_groups(["x.mp4"], 5).tolist() == [0] * 5
    assert video_groups(None, 4) is None


def test_info_nce_is_minimal_for_aligned_pairs() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.eye(6)  # six orthonormal embeddings
    aligned = info_nce(z, z, 0.1).item()
    # the closed form for orthonormal aligned pairs: -log(e^{1/t} / (e^{1/t} + (N-1)))
    assert aligned == pytest.approx(-math.log(math.exp(10) / (math.exp(10) + 5)), rel=1e-3)  # float32 logits
    for _ in range(50):
        moved = F.normalize(z + 0.3 * torch.randn(6, 6, generator=g), dim=1)
        assert info_nce(z, moved, 0.1).item() > aligned
    shuffled = z[torch.tensor([1, 2, 3, 4, 5, 0])]
    assert info_nce(z, shuffled, 0.1).item() > 9.0  # every positive is now orthogonal to its partner


def test_attention_pool_weights_are_a_distribution_per_query() -> None:
    pool = AttentionPool(16, num_queries=3)
    tokens = torch.randn(2, 10, 16)
    pooled, attn = pool(tokens)
    assert pooled.shape == (2, 3, 16) and attn.shape == (2, 3, 10)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 3))
    assert torch.allclose(pooled, attn @ pool.norm(tokens), atol=1e-6)


def test_colour_jitter_identity_and_grayscale() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 2, 8, 8).clamp(-1.5, 1.5)  # normalised clips within the [0, 1] image range
    off = VITOConfig(jitter_prob=0.0, grayscale_prob=0.0)
    assert torch.allclose(colour_jitter(x, g, off), x, atol=1e-5)
    gray = colour_jitter(x, g, VITOConfig(jitter_prob=0.0, grayscale_prob=1.0))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)
    pixels = gray * std + mean
    assert torch.allclose(pixels[:, 0], pixels[:, 1], atol=1e-5) and torch.allclose(pixels[:, 1], pixels[:, 2], atol=1e-5)
    a = colour_jitter(x, torch.Generator().manual_seed(5), VITOConfig())
    b = colour_jitter(x, torch.Generator().manual_seed(5), VITOConfig())
    assert torch.equal(a, b) and not torch.allclose(a, x)


def test_views_of_an_image_encoder_are_frames_and_loss_is_finite() -> None:
    enc = EncoderConfig(embed_dim=32, depth=1, num_heads=2, patch_size=8, img_size=16, video=False,
                        num_frames=1, tubelet_size=1)
    model = VITO(enc, VITOConfig(proj_hidden=32, proj_dim=16))
    clips = torch.randn(4, 3, 3, 16, 16)
    batch = {"video_a": clips, "video_b": clips.flip(2), "path": ["a", "b", "c", "d"]}
    a, b = model.views(batch, torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (4, 3, 16, 16)
    out = model(batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(out["loss"]) and 0.0 <= out["pair_accuracy"].item() <= 1.0
    with pytest.raises(ValueError, match="temperature"):
        VITO(enc, VITOConfig(temperature=0.0))


def test_per_process_losses_over_gathered_keys_average_to_the_global_loss() -> None:
    g = torch.Generator().manual_seed(0)
    z_a = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    z_b = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    groups = torch.tensor([0, 0, 1, 2, 2, 3])  # video 2 straddles the two "processes"
    whole = info_nce(z_a, z_b, 0.2, groups)
    parts = [info_nce(z_a[r * 3:(r + 1) * 3], z_b[r * 3:(r + 1) * 3], 0.2, groups[r * 3:(r + 1) * 3],
                      keys_a=z_a, keys_b=z_b, key_groups=groups, offset=3 * r) for r in range(2)]
    assert (0.5 * (parts[0] + parts[1])).item() == pytest.approx(whole.item(), rel=1e-6)
    local_only = info_nce(z_a[:3], z_b[:3], 0.2, groups[:3])
    assert local_only.item() != pytest.approx(parts[0].item(), rel=1e-3)  # the gathered rows do count

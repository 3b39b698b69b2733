"""Encoders: every registered *_test model builds, runs forward/backward, and keeps the one contract."""

import pytest
import torch

from humanalign.models.patches import patchify, unpatchify
from humanalign.registry import MODELS, UnknownNameError


@pytest.mark.parametrize("name", [n for n in MODELS.list() if n.endswith("_test_video") or n.endswith("_test_image")])
def test_test_models_forward_backward_finite(name: str) -> None:
    torch.manual_seed(0)
    model = MODELS.build(name)
    x = torch.randn(2, 3, model.num_frames, model.img_size, model.img_size) if model.is_video \
        else torch.randn(2, 3, model.img_size, model.img_size)
    emb = model.encode(x)
    assert emb.shape == (2, model.embed_dim) and torch.isfinite(emb).all()
    emb.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_image_and_clip_contract() -> None:
    video, image = MODELS.build("vit_test_video"), MODELS.build("vit_test_image")
    img = torch.randn(2, 3, 32, 32)
    clip = img.unsqueeze(2).expand(-1, -1, 4, -1, -1)
    # a video encoder sees an image as the static clip of that image
    assert torch.allclose(video.encode(img), video.encode(clip), atol=1e-6)
    # an image encoder given a clip averages its frames' embeddings
    assert torch.allclose(image.encode(clip), image.encode(img), atol=1e-6)
    outs = video.block_outputs(clip, layers=[0, -1])
    assert [o.shape for o in outs] == [(2, 32, 64), (2, 32, 64)]
    final = video.forward_features(clip)
    assert torch.allclose(video.norm(outs[1]), final, atol=1e-6)
    with pytest.raises(IndexError):
        video.block_outputs(clip, layers=[5])


def test_cls_and_sincos_and_resolution_change() -> None:
    model = MODELS.build("vit_test_video", cls_token=True, pos_embed="sincos")
    tokens = model.forward_features(torch.randn(1, 3, 4, 32, 32))
    assert tokens.shape == (1, 33, 64)
    assert model.encode(torch.randn(1, 3, 4, 32, 32), pool="cls").shape == (1, 64)
    sep = MODELS.build("vit_test_video")
    assert sep.encode(torch.randn(1, 3, 8, 48, 48)).shape == (1, 64)  # positions interpolated
    with pytest.raises(ValueError, match="no CLS"):
        sep.encode(torch.randn(1, 3, 4, 32, 32), pool="cls")


@pytest.mark.parametrize("order", ["ctpp", "tppc"])
@pytest.mark.parametrize("video", [True, False])
def test_visible_patch_embedding_matches_conv(order: str, video: bool) -> None:
    model = MODELS.build("vit_test_video" if video else "vit_test_image")
    x = torch.randn(2, 3, 4, 32, 32) if video else torch.randn(2, 3, 32, 32)
    full, grid = model.embed(x)
    patches = patchify(x, 8, 2 if video else 1, order=order)
    pick = torch.tensor([[0, 5, 15], [2, 3, 4]])
    some = torch.gather(patches, 1, pick.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))
    part = model.embed_patches(some, pick, grid, order=order)
    expect = torch.gather(full, 1, pick.unsqueeze(-1).expand(-1, -1, 64))
    assert torch.allclose(part, expect, atol=1e-5)
    with pytest.raises(ValueError, match="unknown patch order 'pptc'"):
        model.embed_patches(some, pick, grid, order="pptc")


@pytest.mark.parametrize("order", ["tppc", "ctpp"])
def test_patchify_round_trip(order: str) -> None:
    x = torch.randn(2, 3, 4, 16, 24)
    p = patchify(x, 8, 2, order=order)
    assert p.shape == (2, 2 * 2 * 3, 2 * 8 * 8 * 3)
    assert torch.equal(unpatchify(p, (2, 2, 3), 8, 2, order=order), x)


def test_sizes_match_published_widths() -> None:
    from humanalign.models.vit import ViTEncoder
    from humanalign.models.zoo import encoder_config

    h = encoder_config("h14", video=True)
    assert (h.embed_dim, h.depth, h.num_heads, h.patch_size) == (1280, 32, 16, 14)
    with torch.device("meta"):
        params = ViTEncoder(h).num_params()
    assert 625e6 < params < 640e6  # ViT-H/14 is ~632M parameters


def test_unknown_model_name_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError, match="vit_test_video"):
        MODELS.get("vit_tset_video")


def test_separable_table_adds_time_row_to_every_spatial_position() -> None:
    from humanalign.models.posembed import separable_table

    spatial, temporal = torch.randn(1, 6, 4), torch.randn(1, 3, 4)
    table = separable_table(spatial, temporal)
    expect = torch.stack([spatial[0, s] + temporal[0, t] for t in range(3) for s in range(6)])[None]
    assert torch.equal(table, expect) and separable_table(spatial, None) is spatial

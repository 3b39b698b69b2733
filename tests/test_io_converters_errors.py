"""Converter errors: every malformed released file gives one CheckpointError line naming the file and the problem."""

from __future__ import annotations

import pytest
import torch

from humanalign.io.checkpoints import CheckpointError
from humanalign.io.converters import (
    convert_hvm1,
    convert_mae_st,
    convert_timm_vit,
    convert_videomae,
    convert_vjepa,
    read_checkpoint_file,
)

D, P, TUB = 8, 4, 2


def _block(i: int, attn: str) -> dict[str, torch.Tensor]:
    b = f"blocks.{i}"
    st = {f"{b}.norm1.weight": torch.ones(D), f"{b}.norm1.bias": torch.zeros(D), f"{b}.norm2.weight": torch.ones(D),
          f"{b}.norm2.bias": torch.zeros(D), f"{b}.attn.proj.weight": torch.zeros(D, D),
          f"{b}.attn.proj.bias": torch.zeros(D), f"{b}.mlp.fc1.weight": torch.zeros(2 * D, D),
          f"{b}.mlp.fc1.bias": torch.zeros(2 * D), f"{b}.mlp.fc2.weight": torch.zeros(D, 2 * D),
          f"{b}.mlp.fc2.bias": torch.zeros(D)}
    if attn == "separate":
        for n in "qkv":
            st[f"{b}.attn.{n}.weight"], st[f"{b}.attn.{n}.bias"] = torch.zeros(D, D), torch.zeros(D)
    elif attn == "videomae":
        st[f"{b}.attn.qkv.weight"] = torch.zeros(3 * D, D)
        st[f"{b}.attn.q_bias"], st[f"{b}.attn.v_bias"] = torch.zeros(D), torch.zeros(D)
    else:
        st[f"{b}.attn.qkv.weight"], st[f"{b}.attn.qkv.bias"] = torch.zeros(3 * D, D), torch.zeros(3 * D)
    return st


def _mae_st() -> dict[str, torch.Tensor]:
    st = {"patch_embed.proj.weight": torch.zeros(D, 3, TUB, P, P), "patch_embed.proj.bias": torch.zeros(D),
          "cls_token": torch.zeros(1, 1, D), "pos_embed_spatial": torch.zeros(1, 4, D),
          "pos_embed_temporal": torch.zeros(1, 2, D), "pos_embed_class": torch.zeros(1, 1, D),
          "norm.weight": torch.ones(D), "norm.bias": torch.zeros(D)}
    for i in range(2):
        st.update(_block(i, "separate"))
    return st


def _videomae() -> dict[str, torch.Tensor]:
    st = {"patch_embed.proj.weight": torch.zeros(D, 3, TUB, P, P), "patch_embed.proj.bias": torch.zeros(D),
          "norm.weight": torch.ones(D), "norm.bias": torch.zeros(D)}
    for i in range(3):
        st.update(_block(i, "videomae"))
    return st


def _timm(cls: bool) -> dict[str, torch.Tensor]:
    st = {"patch_embed.proj.weight": torch.zeros(D, 3, P, P), "patch_embed.proj.bias": torch.zeros(D),
          "pos_embed": torch.zeros(1, 1 + 4, D), "norm.weight": torch.ones(D), "norm.bias": torch.zeros(D)}
    if cls:
        st["cls_token"] = torch.zeros(1, 1, D)
    st.update(_block(0, "fused"))
    return st


def _saved(tmp_path, name: str, obj: dict):
    path = tmp_path / name
    torch.save(obj, path)
    return path, read_checkpoint_file(path)


def _fails(convert, checkpoint, path, *needles: str, **kwargs) -> str:
    with pytest.raises(CheckpointError) as info:
        convert(checkpoint, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    for needle in (str(path), *needles):
        assert needle in message, (needle, message)
    return message


def test_videomae_later_block_without_v_bias(tmp_path):
    st = _videomae()
    del st["blocks.2.attn.v_bias"]
    path, ck = _saved(tmp_path, "vmae_missing_v_bias.pth", {"model": st})
    _fails(convert_videomae, ck, path, "block 2", "v_bias")


def test_videomae_later_block_with_biases_block_0_lacks(tmp_path):
    st = _videomae()
    del st["blocks.0.attn.q_bias"], st["blocks.0.attn.v_bias"]
    path, ck = _saved(tmp_path, "vmae_bias_mix.pth", {"model": st})
    _fails(convert_videomae, ck, path, "block 1", "q_bias")


@pytest.mark.parametrize("key", ["blocks.1.attn.k.weight", "blocks.0.attn.v.bias"])
def test_mae_st_partial_qkv_set(tmp_path, key):
    st = _mae_st()
    del st[key]
    path, ck = _saved(tmp_path, "maest_partial_qkv.pth", {"model": st})
    _fails(convert_mae_st, ck, path, f"block {key.split('.')[1]}", key)


def test_mae_st_block_without_attention(tmp_path):
    st = _mae_st()
    for n in "qkv":
        del st[f"blocks.1.attn.{n}.weight"], st[f"blocks.1.attn.{n}.bias"]
    path, ck = _saved(tmp_path, "maest_no_attn.pth", {"model": st})
    _fails(convert_hvm1, ck, path, "block 1", "attention")


def test_vjepa_missing_target_encoder(tmp_path):
    path, ck = _saved(tmp_path, "vjepa_encoder_only.pth.tar", {"encoder": {}, "epoch": 1})
    _fails(convert_vjepa, ck, path, "'target_encoder'", "encoder")


def test_mae_st_joint_pos_embed(tmp_path):
    st = _mae_st()
    st["pos_embed"] = torch.zeros(1, 9, D)
    path, ck = _saved(tmp_path, "maest_joint.pth", {"model": st})
    _fails(convert_mae_st, ck, path, "joint 'pos_embed'")


def test_mae_st_class_position_without_cls_token(tmp_path):
    st = _mae_st()
    del st["cls_token"]
    path, ck = _saved(tmp_path, "maest_no_cls.pth", {"model": st})
    _fails(convert_mae_st, ck, path, "'pos_embed_class'", "'cls_token'")


def test_timm_class_row_without_cls_token(tmp_path):
    path, ck = _saved(tmp_path, "timm_no_cls.pth", _timm(cls=False))
    _fails(convert_timm_vit, ck, path, "class row", "'cls_token'")


def test_missing_pos_embed_and_explicit_source_for_in_memory_checkpoints():
    st = _timm(cls=True)
    del st["pos_embed"]
    _fails(convert_timm_vit, st, "downloads/vit.safetensors", "'pos_embed'", source="downloads/vit.safetensors")
    with pytest.raises(CheckpointError, match="no file name given"):
        convert_timm_vit(st)


def test_well_formed_files_still_convert(tmp_path):
    for name, obj, convert in (("m.pth", {"model": _mae_st()}, convert_mae_st),
                               ("v.pth", {"model": _videomae()}, convert_videomae),
                               ("t.pth", _timm(cls=True), convert_timm_vit)):
        _, ck = _saved(tmp_path, name, obj)
        assert convert(ck).encoder

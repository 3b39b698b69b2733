"""Released-format converters: tiny state dicts with each format's exact key layout, loaded strictly, with
the forward pass checked against an independent computation written from the source formats' rules."""

from __future__ import annotations

import argparse
import math

import pytest
import torch
import torch.nn.functional as F

from humanalign.io.checkpoints import CheckpointError
from humanalign.io.converters import (
    convert_hvm1,
    convert_mae_st,
    convert_timm_vit,
    convert_videomae,
    convert_vjepa,
    convert_vjepa_probe,
    read_checkpoint_file,
)
from humanalign.models.heads import AttentiveClassifier
from humanalign.models.released import encoder_from_converted

D, HEADS, DEPTH, P, TUB, S, FRAMES, HID = 32, 4, 2, 8, 2, 16, 4, 64
GRID = (FRAMES // TUB, S // P, S // P)  # (2, 2, 2)
N = GRID[0] * GRID[1] * GRID[2]


@pytest.fixture(autouse=True)
def _one_thread(_few_threads: None) -> None:
    """Tiny models run fastest on one thread; two threads thrash when the CI machine is busy."""
    torch.set_num_threads(1)


def _r(*shape: int, scale: float = 0.2) -> torch.Tensor:
    return torch.randn(*shape) * scale


def _ln(prefix: str, dim: int = D) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": 1 + _r(dim, scale=0.1), f"{prefix}.bias": _r(dim, scale=0.1)}


def _lin(prefix: str, out: int, inp: int, bias: bool = True) -> dict[str, torch.Tensor]:
    state = {f"{prefix}.weight": _r(out, inp)}
    if bias:
        state[f"{prefix}.bias"] = _r(out, scale=0.1)
    return state


def _block(i: int, attn: str) -> dict[str, torch.Tensor]:
    """One transformer block in a source format: attn in {"separate", "videomae", "fused"}."""
    b = f"blocks.{i}"
    state = {**_ln(f"{b}.norm1"), **_ln(f"{b}.norm2"), **_lin(f"{b}.attn.proj", D, D),
             **_lin(f"{b}.mlp.fc1", HID, D), **_lin(f"{b}.mlp.fc2", D, HID)}
    if attn == "separate":  # mae_st / HVM-1
        for name in "qkv":
            state.update(_lin(f"{b}.attn.{name}", D, D))
    elif attn == "videomae":  # fused weight, q/v biases only
        state[f"{b}.attn.qkv.weight"] = _r(3 * D, D)
        state[f"{b}.attn.q_bias"] = _r(D, scale=0.1)
        state[f"{b}.attn.v_bias"] = _r(D, scale=0.1)
    else:  # timm / V-JEPA
        state.update(_lin(f"{b}.attn.qkv", 3 * D, D))
    return state


# -- the independent reference computation ----------------------------------------------------------
def _layer_norm(x: torch.Tensor, st: dict, prefix: str, eps: float = 1e-6) -> torch.Tensor:
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    return (x - mu) / torch.sqrt(var + eps) * st[f"{prefix}.weight"] + st[f"{prefix}.bias"]


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Per-head softmax attention written out: inputs [B, n, D], [B, N, D] -> [B, n, D]."""
    b, n, d = q.shape
    dh = d // HEADS
    q, k, v = (t.reshape(b, t.shape[1], HEADS, dh).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
    return (weights @ v).transpose(1, 2).reshape(b, n, d)


def _qkv(h: torch.Tensor, st: dict, b: str, attn: str) -> tuple[torch.Tensor, ...]:
    if attn == "separate":
        return tuple(h @ st[f"{b}.attn.{n}.weight"].T + st[f"{b}.attn.{n}.bias"] for n in "qkv")
    w = st[f"{b}.attn.qkv.weight"]
    wq, wk, wv = w[:D], w[D:2 * D], w[2 * D:]
    if attn == "videomae":  # the key projection has no bias
        return h @ wq.T + st[f"{b}.attn.q_bias"], h @ wk.T, h @ wv.T + st[f"{b}.attn.v_bias"]
    bias = st[f"{b}.attn.qkv.bias"]
    return h @ wq.T + bias[:D], h @ wk.T + bias[D:2 * D], h @ wv.T + bias[2 * D:]


def _ref_blocks(x: torch.Tensor, st: dict, attn: str, gamma: bool = False) -> torch.Tensor:
    for i in range(DEPTH):
        b = f"blocks.{i}"
        h = _layer_norm(x, st, f"{b}.norm1")
        y = _attend(*_qkv(h, st, b, attn)) @ st[f"{b}.attn.proj.weight"].T + st[f"{b}.attn.proj.bias"]
        x = x + (st[f"{b}.gamma_1"] * y if gamma else y)
        h = _layer_norm(x, st, f"{b}.norm2")
        h = F.gelu(h @ st[f"{b}.mlp.fc1.weight"].T + st[f"{b}.mlp.fc1.bias"])
        y = h @ st[f"{b}.mlp.fc2.weight"].T + st[f"{b}.mlp.fc2.bias"]
        x = x + (st[f"{b}.gamma_2"] * y if gamma else y)
    return x


def _ref_tubelets(x: torch.Tensor, st: dict) -> torch.Tensor:
    """[B, C, T, H, W] -> [B, T'H'W', D], tokens time-major as every format orders them."""
    out = F.conv3d(x, st["patch_embed.proj.weight"], st["patch_embed.proj.bias"], stride=(TUB, P, P))
    return out.flatten(2).transpose(1, 2)


def _videomae_table(n: int, d: int) -> torch.Tensor:
    """VideoMAE's sinusoid table: angle pos / 10000^(2*(j//2)/d); sin on even dims, cos on odd."""
    table = torch.tensor([[pos / 10000 ** (2 * (j // 2) / d) for j in range(d)] for pos in range(n)],
                         dtype=torch.float64)
    table[:, 0::2] = torch.sin(table[:, 0::2])
    table[:, 1::2] = torch.cos(table[:, 1::2])
    return table.float().unsqueeze(0)


@pytest.fixture()
def clip() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(2, 3, FRAMES, S, S)


# -- mae_st / HVM-1 ---------------------------------------------------------------------------------
def _mae_st_state(finetuned: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    state = {"patch_embed.proj.weight": _r(D, 3, TUB, P, P), "patch_embed.proj.bias": _r(D),
             "cls_token": _r(1, 1, D), "pos_embed_spatial": _r(1, GRID[1] * GRID[2], D),
             "pos_embed_temporal": _r(1, GRID[0], D), "pos_embed_class": _r(1, 1, D), **_ln("norm")}
    for i in range(DEPTH):
        state.update(_block(i, "separate"))
    if finetuned:
        state.update(_lin("head", 7, D))
    else:  # the MAE decoder the pretrained files also hold
        state.update({"mask_token": _r(1, 1, 16), **_lin("decoder_embed", 16, D), **_ln("decoder_norm", 16),
                      "decoder_pos_embed_spatial": _r(1, 4, 16), "decoder_pos_embed_temporal": _r(1, 2, 16),
                      "decoder_blocks.0.attn.q.weight": _r(16, 16), **_lin("decoder_pred", 3 * TUB * P * P, 16)})
    return state


def _ref_mae_st(x: torch.Tensor, st: dict) -> torch.Tensor:
    tokens = _ref_tubelets(x, st)
    t, hw = GRID[0], GRID[1] * GRID[2]
    pos = st["pos_embed_spatial"].repeat(1, t, 1) + torch.repeat_interleave(st["pos_embed_temporal"], hw, dim=1)
    tokens = tokens + pos
    cls = (st["cls_token"] + st["pos_embed_class"]).expand(x.shape[0], -1, -1)
    return _layer_norm(_ref_blocks(torch.cat([cls, tokens], 1), st, "separate"), st, "norm")


def test_mae_st_pretrained_file_round_trip(tmp_path, clip):
    state = _mae_st_state(finetuned=False)
    path = tmp_path / "hvm1_none.pth"
    torch.save({"model": state, "epoch": 3, "args": argparse.Namespace(lr=1e-3)}, path)
    converted = convert_hvm1(read_checkpoint_file(path))
    assert converted.config["num_frames"] == FRAMES and converted.config["img_size"] == S
    assert converted.config["cls_token"] and converted.config["depth"] == DEPTH
    assert "mask_token" in converted.dropped and "decoder_embed.weight" in converted.dropped
    enc = encoder_from_converted(converted, {"num_heads": HEADS}, str(path)).eval()
    with torch.no_grad():
        ours = enc.forward_features(clip)
    torch.testing.assert_close(ours, _ref_mae_st(clip, state), atol=1e-5, rtol=1e-4)


def test_hvm1_finetuned_head_is_cls_then_norm(clip):
    state = _mae_st_state(finetuned=True)
    converted = convert_hvm1({"model": state})
    enc = encoder_from_converted(converted, {"num_heads": HEADS}, "hvm1 tiny")
    head = torch.nn.Linear(D, 7)
    head.load_state_dict(converted.head)
    with torch.no_grad():
        logits = head(enc.eval().encode(clip, pool="cls"))
        cls_token = _ref_mae_st(clip, state)[:, 0]  # norm is per token: norm(x)[:, 0] == norm(x[:, 0])
    torch.testing.assert_close(logits, cls_token @ state["head.weight"].T + state["head.bias"], atol=1e-5, rtol=1e-4)


def test_mae_st_finetuned_norm_applies_after_mean_pooling(clip):
    state = _mae_st_state(finetuned=True)
    converted = convert_mae_st({"model": state}, pooled_norm=True)
    enc = encoder_from_converted(converted, {"num_heads": HEADS}, "mae_st tiny").eval()
    with torch.no_grad():
        pooled = enc.encode(clip, pool="mean")
    # mae_st fine-tuning: blocks -> x[:, 1:].mean(1) -> norm (the norm never sees single tokens)
    raw = _ref_blocks(torch.cat([(state["cls_token"] + state["pos_embed_class"]).expand(2, -1, -1),
                                 _ref_tubelets(clip, state) + _ref_mae_st_pos(state)], 1), state, "separate")
    expected = _layer_norm(raw[:, 1:].mean(1), state, "norm")
    torch.testing.assert_close(pooled, expected, atol=1e-5, rtol=1e-4)


def test_mae_st_finetuned_without_cls_token_mean_pools_every_patch(clip, caplog):
    """Decision (docs/models.md): the reference's fine-tuned forward pools ``x[:, 1:]`` even without a CLS token
    (dropping the first patch); the suite pools all patch tokens, and the converter warns."""
    state = _mae_st_state(finetuned=True)
    del state["cls_token"], state["pos_embed_class"]
    with caplog.at_level("WARNING"):
        converted = convert_mae_st({"model": state}, pooled_norm=True, source="maest_nocls.pth")
    assert "x[:, 1:]" in caplog.text and "maest_nocls.pth" in caplog.text
    enc = encoder_from_converted(converted, {"num_heads": HEADS}, "mae_st no cls").eval()
    assert enc.cls_token is None
    with torch.no_grad():
        pooled = enc.encode(clip, pool="mean")
    raw = _ref_blocks(_ref_tubelets(clip, state) + _ref_mae_st_pos(state), state, "separate")  # [B, N, D]
    torch.testing.assert_close(pooled, _layer_norm(raw.mean(1), state, "norm"), atol=1e-5, rtol=1e-4)
    reference_pooling = _layer_norm(raw[:, 1:].mean(1), state, "norm")  # what mae_st's models_vit.py computes
    assert (pooled - reference_pooling).abs().max() > 1e-4


def _ref_mae_st_pos(st: dict) -> torch.Tensor:
    t, hw = GRID[0], GRID[1] * GRID[2]
    return st["pos_embed_spatial"].repeat(1, t, 1) + torch.repeat_interleave(st["pos_embed_temporal"], hw, dim=1)


def test_mae_st_joint_pos_embed_is_rejected():
    state = _mae_st_state(finetuned=True)
    state["pos_embed"] = state.pop("pos_embed_spatial")
    with pytest.raises(CheckpointError, match="joint 'pos_embed'"):
        convert_mae_st({"model": state})


# -- VideoMAE v1/v2 ---------------------------------------------------------------------------------
def _videomae_encoder_state(layer_scale: bool, fc_norm: bool) -> dict[str, torch.Tensor]:
    torch.manual_seed(2)
    state = {"patch_embed.proj.weight": _r(D, 3, TUB, P, P), "patch_embed.proj.bias": _r(D)}
    for i in range(DEPTH):
        state.update(_block(i, "videomae"))
        if layer_scale:
            state[f"blocks.{i}.gamma_1"] = _r(D, scale=0.5)
            state[f"blocks.{i}.gamma_2"] = _r(D, scale=0.5)
    state.update(_ln("fc_norm") if fc_norm else _ln("norm"))
    return state


def test_videomae_pretrained_encoder_prefix_and_sincos(clip):
    enc_state = _videomae_encoder_state(layer_scale=False, fc_norm=False)
    file = {"model": {**{f"encoder.{k}": v for k, v in enc_state.items()},
                      "encoder_to_decoder.weight": _r(16, D), "mask_token": _r(1, 1, 16),
                      "decoder.blocks.0.norm1.weight": _r(16), "decoder.head.weight": _r(3 * TUB * P * P, 16)}}
    converted = convert_videomae(file)
    assert converted.config["pos_embed"] == "sincos" and not converted.config["fc_norm"]
    assert "encoder_to_decoder.weight" in converted.dropped and "mask_token" in converted.dropped
    enc = encoder_from_converted(converted, {"num_heads": HEADS, "img_size": S, "num_frames": FRAMES}, "vmae")
    with torch.no_grad():
        ours = enc.eval().forward_features(clip)
    tokens = _ref_tubelets(clip, enc_state) + _videomae_table(N, D)
    expected = _layer_norm(_ref_blocks(tokens, enc_state, "videomae"), enc_state, "norm")
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-4)


def test_videomae_finetuned_module_wrapper_layer_scale_fc_norm(clip):
    enc_state = _videomae_encoder_state(layer_scale=True, fc_norm=True)
    head = _lin("head", 5, D)
    converted = convert_videomae({"module": {**enc_state, **head}})
    assert converted.config["fc_norm"] and converted.config["layer_scale"] is not None
    enc = encoder_from_converted(converted, {"num_heads": HEADS, "img_size": S, "num_frames": FRAMES}, "vmae-ft")
    with torch.no_grad():
        pooled = enc.eval().encode(clip, pool="mean")
    tokens = _ref_tubelets(clip, enc_state) + _videomae_table(N, D)
    expected = _layer_norm(_ref_blocks(tokens, enc_state, "videomae", gamma=True).mean(1), enc_state, "fc_norm")
    torch.testing.assert_close(pooled, expected, atol=1e-5, rtol=1e-4)
    assert set(converted.head) == {"weight", "bias"}


# -- V-JEPA -----------------------------------------------------------------------------------------
def _vjepa_encoder_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    state = {"patch_embed.proj.weight": _r(D, 3, TUB, P, P), "patch_embed.proj.bias": _r(D),
             "pos_embed": _r(1, N, D), **_ln("norm")}
    for i in range(DEPTH):
        state.update(_block(i, "fused"))
    return state


def test_vjepa_target_encoder_with_stored_table(clip):
    target, context = _vjepa_encoder_state(3), _vjepa_encoder_state(4)
    file = {"encoder": {f"module.backbone.{k}": v for k, v in context.items()},
            "target_encoder": {f"module.backbone.{k}": v for k, v in target.items()},
            "predictor": {"module.backbone.predictor_embed.weight": _r(8, D)}, "epoch": 10}
    converted = convert_vjepa(file, img_size=S)
    assert converted.config["pos_embed"] == "table" and converted.config["num_frames"] == FRAMES
    enc = encoder_from_converted(converted, {"num_heads": HEADS}, "vjepa").eval()
    with torch.no_grad():
        ours = enc.forward_features(clip)
    tokens = _ref_tubelets(clip, target) + target["pos_embed"]
    expected = _layer_norm(_ref_blocks(tokens, target, "fused"), target, "norm")
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-4)
    # the context encoder is a different network: taking it must change the output
    other = encoder_from_converted(convert_vjepa(file, key="encoder", img_size=S), {"num_heads": HEADS}, "ctx")
    with torch.no_grad():
        assert not torch.allclose(other.eval().forward_features(clip), ours, atol=1e-3)


def test_vjepa_wrong_img_size_is_reported():
    file = {"target_encoder": _vjepa_encoder_state(3)}
    with pytest.raises(CheckpointError, match="img_size"):
        convert_vjepa(file, img_size=24)


def test_vjepa_attentive_probe_matches_written_out_cross_attention():
    """Written out like facebookresearch/jepa's CrossAttentionBlock: no output projection on the attention."""
    torch.manual_seed(5)
    pre = "pooler.cross_attention_block"
    probe = {"pooler.query_tokens": _r(1, 1, D), **_ln(f"{pre}.norm1"), **_lin(f"{pre}.xattn.q", D, D),
             **_lin(f"{pre}.xattn.kv", 2 * D, D), **_lin(f"{pre}.xattn.proj", D, D), **_ln(f"{pre}.norm2"),
             **_lin(f"{pre}.mlp.fc1", HID, D), **_lin(f"{pre}.mlp.fc2", D, HID), **_lin("linear", 6, D)}
    converted = convert_vjepa_probe({"classifier": {f"module.{k}": v for k, v in probe.items()}, "epoch": 2})
    assert converted.config == {"embed_dim": D, "num_classes": 6, "depth": 1, "mlp_ratio": HID / D}
    head = AttentiveClassifier(D, HEADS, 6, depth=1, mlp_ratio=HID / D)
    head.load_state_dict(converted.head, strict=True)
    tokens = torch.randn(3, N, D)
    with torch.no_grad():
        ours = head.eval()(tokens)
    kv_in = _layer_norm(tokens, probe, f"{pre}.norm1", eps=1e-5)
    q = probe["pooler.query_tokens"].expand(3, -1, -1)
    kv = kv_in @ probe[f"{pre}.xattn.kv.weight"].T + probe[f"{pre}.xattn.kv.bias"]
    att = _attend(q @ probe[f"{pre}.xattn.q.weight"].T + probe[f"{pre}.xattn.q.bias"], kv[..., :D], kv[..., D:])
    q = q + att  # the reference CrossAttention.forward never applies xattn.proj (V-JEPA modules.py)
    h = F.gelu(_layer_norm(q, probe, f"{pre}.norm2", eps=1e-5) @ probe[f"{pre}.mlp.fc1.weight"].T
               + probe[f"{pre}.mlp.fc1.bias"])
    q = q + h @ probe[f"{pre}.mlp.fc2.weight"].T + probe[f"{pre}.mlp.fc2.bias"]
    expected = q.squeeze(1) @ probe["linear.weight"].T + probe["linear.bias"]
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-4)


# -- timm image ViTs --------------------------------------------------------------------------------
def test_timm_vit_matches_timm_itself():
    timm = pytest.importorskip("timm")
    torch.manual_seed(6)
    reference = timm.models.vision_transformer.VisionTransformer(
        img_size=S, patch_size=P, embed_dim=D, depth=DEPTH, num_heads=HEADS, mlp_ratio=HID / D, num_classes=5)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    reference.eval()
    state = reference.state_dict()
    converted = convert_timm_vit({"model": state})
    assert not converted.config["video"] and converted.config["cls_token"]
    enc = encoder_from_converted(converted, {"num_heads": HEADS}, "timm").eval()
    head = torch.nn.Linear(D, 5)
    head.load_state_dict(converted.head)
    images = torch.randn(2, 3, S, S)
    with torch.no_grad():
        torch.testing.assert_close(enc.forward_features(images), reference.forward_features(images),
                                   atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(head(enc.encode(images, pool="cls")), reference(images), atol=1e-5, rtol=1e-4)


# -- strict loading ---------------------------------------------------------------------------------
def test_strict_loading_names_missing_and_unexpected_keys():
    state = _mae_st_state(finetuned=True)
    del state["blocks.1.norm2.bias"]
    with pytest.raises(CheckpointError, match=r"blocks\.1\.norm2\.bias"):
        encoder_from_converted(convert_hvm1({"model": state}), {"num_heads": HEADS}, "tiny.pth")
    state = _mae_st_state(finetuned=True)
    state["blocks.0.attn.extra_scale"] = torch.ones(1)
    with pytest.raises(CheckpointError, match=r"unexpected keys .*blocks\.0\.attn\.extra_scale"):
        encoder_from_converted(convert_hvm1({"model": state}), {"num_heads": HEADS}, "tiny.pth")


def test_partial_qkv_is_reported():
    state = _mae_st_state(finetuned=True)
    del state["blocks.0.attn.k.weight"]
    with pytest.raises(CheckpointError, match=r"blocks\.0\.attn\.k\.weight"):
        convert_hvm1({"model": state})


def test_unreadable_file_is_reported(tmp_path):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pth"):
        read_checkpoint_file(bad)
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        read_checkpoint_file(tmp_path / "absent.pth")
    bad_st = tmp_path / "broken.safetensors"
    bad_st.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.safetensors"):
        read_checkpoint_file(bad_st)


class _Pickled:
    """A non-tensor object some training scripts save beside the weights."""


def test_pickled_objects_are_refused_unless_trusted(tmp_path, monkeypatch):
    path = tmp_path / "with_object.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "extra": _Pickled()}, path)
    with pytest.raises(CheckpointError, match="HUMANALIGN_TRUST_CHECKPOINTS"):
        read_checkpoint_file(path)
    monkeypatch.setenv("HUMANALIGN_TRUST_CHECKPOINTS", "1")
    assert set(read_checkpoint_file(path)) == {"model", "extra"}


def test_mlp_ratio_reproduces_odd_hidden_widths():
    """ViT-g (VideoMAE v2) has 6144 hidden units on 1408 channels: the ratio must give back exactly 6144."""
    from humanalign.io.converters import _ratio

    for hidden, dim in ((6144, 1408), (4096, 1024), (5120, 1280), (64, 32)):
        assert int(dim * _ratio(hidden, dim)) == hidden

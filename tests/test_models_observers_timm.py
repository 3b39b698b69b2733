"""Observer equivalence with timm (issue 14 item 5) and strict loading (item 3).

On the same (seeded random) weights and input, the adapter's hooked layer outputs equal timm's own
``forward_intermediates`` to <= 1e-6 in fp32 (``test_vit`` tokens, ``resnet10t`` feature maps); a ViT-S
file loaded as ViT-B is one clear error line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from humanalign.io.checkpoints import CheckpointError
from humanalign.models.observers import load_observer

ATOL = 1e-6


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a.float(), b.float(), rtol=0, atol=ATOL)


def _hooked(obs, x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
    """Raw (unpooled) outputs of ``layers`` through the observer's own hooks."""
    raw: dict[str, torch.Tensor] = {}
    with torch.no_grad(), obs._hooks(layers, raw):
        obs._run(obs.prepare(x))
    return raw


@pytest.fixture(scope="module", autouse=True)
def _empty_hf_cache(tmp_path_factory: pytest.TempPathFactory):
    """No pretrained file in the Hugging Face cache: every timm model here is the seeded random init."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HOME", str(tmp_path_factory.mktemp("empty-hf-home")))
        mp.delenv("HF_HUB_CACHE", raising=False)
        yield


@pytest.fixture(scope="module")
def test_vit():
    return load_observer("timm:test_vit")


@pytest.fixture(scope="module")
def resnet10t():
    return load_observer("timm:resnet10t")


# -- timm ---------------------------------------------------------------------------------------------
def test_timm_vit_blocks_equal_forward_intermediates(test_vit) -> None:
    obs, model = test_vit, test_vit.module
    assert obs.blocks == [f"blocks.{i}" for i in range(len(model.blocks))]
    assert obs.prefix_tokens == model.num_prefix_tokens >= 1
    size = obs.contract.size  # test_vit has a fixed 160 px patch grid
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    layers = obs.resolve_layers("blocks")
    indices = list(range(len(layers)))
    with torch.no_grad():
        ref = model.forward_intermediates(x, indices=indices, intermediates_only=True, output_fmt="NLC",
                                          norm=False, return_prefix_tokens=True)
        raw = _hooked(obs, x, layers)
        pooled = obs.features(x, layers, pooling="mean")
        cls = obs.features(x, layers, pooling="cls")
    p = obs.prefix_tokens
    for i, (patches, prefix) in enumerate(ref):
        hook = raw[f"block{i}"]  # [B, prefix + patches, D]: the block's raw output
        _close(hook[:, p:], patches)
        _close(hook[:, :p], prefix)
        _close(pooled[f"block{i}"], patches.mean(1))  # "mean" excludes the prefix tokens
        _close(cls[f"block{i}"], prefix[:, 0])


def test_timm_vit_final_and_logits(test_vit) -> None:
    obs, model = test_vit, test_vit.module
    x = torch.randn(2, 3, 160, 160, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        feats = obs.features(x, ["final", "block0", "head"])
        _close(feats["final"], model.forward_head(model.forward_features(x), pre_logits=True))
        _close(obs.logits(x), model(x))
        _close(feats["head"], model(x))  # the classifier module is hookable next to final (bug fixed)
    assert obs.has_imagenet_logits  # 1000 classes: the benchmark's 1000 -> 16 mapping applies


def test_layer_selection_on_a_vit(test_vit) -> None:
    obs = test_vit
    depth = len(obs.blocks)
    assert obs.resolve_layers("final") == ["final"]
    assert obs.resolve_layers("all") == [f"block{i}" for i in range(depth)] + ["final"]
    assert obs.resolve_layers("blocks.1,blocks.3,norm") == ["block1", "block3", "norm"]
    # bug fixed: "blocks" in a list was timm's `blocks` Sequential (the last block's output only)
    assert obs.resolve_layers("blocks,final") == [f"block{i}" for i in range(depth)] + ["final"]
    assert obs.resolve_layers("blocks.*.mlp.fc2")[:2] == ["blocks.0.mlp.fc2", "blocks.1.mlp.fc2"]
    assert obs.resolve_layers("-1") == [f"block{depth - 1}"]
    x = torch.randn(2, 3, 160, 160, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        tokens = obs.features(x, ["block1"], pooling="tokens")["block1"]
        a = obs.features(x, ["block1", "blocks.1.mlp.fc2"], pooling="project", project_dim=512)
        b = obs.features(x, ["block1"], pooling="project", project_dim=512)
    assert tokens.shape == (2, 100 * 64)  # patch tokens flattened, prefix tokens left out
    assert a["block1"].shape == (2, 512) and a["blocks.1.mlp.fc2"].shape == (2, 512)
    torch.testing.assert_close(a["block1"], b["block1"], rtol=0, atol=0)


def test_timm_cnn_stages_equal_forward_intermediates(resnet10t) -> None:
    obs, model = resnet10t, resnet10t.module
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    stages = obs.resolve_layers("layer1,layer2,layer3,layer4")
    assert stages == ["layer1", "layer2", "layer3", "layer4"]  # module names, not blocks
    with torch.no_grad():
        ref = model.forward_intermediates(x, indices=[1, 2, 3, 4], intermediates_only=True, norm=False)
        raw = _hooked(obs, x, stages)
        pooled = obs.features(x, stages + ["final"], pooling="mean")
        blocks = obs.features(x, obs.resolve_layers("blocks"), pooling="tokens")
    assert len(ref) == 4
    for name, expected in zip(stages, ref):
        assert raw[name].shape == expected.shape
        _close(raw[name], expected)
        _close(pooled[name], expected.mean((2, 3)))  # global average of the feature map
    # resnet10t has one residual block per stage: block i is stage i+1
    assert obs.blocks == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    for i, expected in enumerate(ref):
        _close(blocks[f"block{i}"], expected.flatten(1))
    with torch.no_grad():
        _close(pooled["final"], model.forward_head(model.forward_features(x), pre_logits=True))
        _close(obs.logits(x), model(x))


def test_timm_contract_from_pretrained_cfg(resnet10t, test_vit) -> None:
    from timm.data import resolve_data_config

    for obs in (resnet10t, test_vit):
        cfg = resolve_data_config({}, model=obs.module)
        c = obs.contract
        assert (c.kind, c.size, c.frames) == ("image", cfg["input_size"][1], 1)
        assert c.mean == tuple(cfg["mean"]) and c.std == tuple(cfg["std"])
        assert c.crop_fraction == pytest.approx(cfg["crop_pct"]) and c.interpolation == cfg["interpolation"]
    over = load_observer("timm:resnet10t|size=64,crop=1.0,interpolation=bilinear")
    assert (over.contract.size, over.contract.crop_fraction, over.contract.interpolation) == (64, 1.0, "bilinear")
    assert "spec overrides" in over.contract.source


def test_timm_random_init_is_deterministic(resnet10t) -> None:
    torch.manual_seed(7)
    before = torch.get_rng_state()
    again = load_observer("timm:resnet10t", name="r10")
    assert torch.equal(torch.get_rng_state(), before)  # the seeded init forks the RNG
    assert again.weights_hash == resnet10t.weights_hash
    assert again.id == "r10" and resnet10t.id == "timm:resnet10t"


def test_timm_weights_file_round_trip(tmp_path: Path, resnet10t) -> None:
    from safetensors.torch import save_file

    state = {k: v.clone() + 0.01 if v.is_floating_point() else v.clone()
             for k, v in resnet10t.module.state_dict().items()}
    file = tmp_path / "r10.safetensors"
    save_file(state, str(file))
    obs = load_observer(f"timm:resnet10t@{file}")
    assert obs.weights_file == str(file) and obs.weights_hash != resnet10t.weights_hash
    pth = tmp_path / "r10.pth"
    torch.save({"model": state}, pth)
    assert load_observer(f"timm:resnet10t@{pth}").weights_hash == obs.weights_hash


def test_timm_pretrained_file_already_in_the_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      resnet10t) -> None:
    from safetensors.torch import save_file

    commit = "fedcba9876543210fedcba9876543210fedcba98"
    repo = tmp_path / "home" / "hub" / "models--timm--resnet10t.c3_in1k"  # resnet10t's pretrained_cfg hf_hub_id
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    state = {k: v + 1 if v.is_floating_point() else v for k, v in resnet10t.module.state_dict().items()}
    file = repo / "snapshots" / commit / "model.safetensors"
    save_file(state, str(file))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))  # set after huggingface_hub read it: still honoured
    torch.manual_seed(3)
    before = torch.get_rng_state()
    obs = load_observer("timm:resnet10t")
    assert torch.equal(torch.get_rng_state(), before)  # bug fixed: the pretrained build drew from the global RNG
    assert obs.weights_file == str(file)
    torch.testing.assert_close(obs.module.state_dict()["fc.weight"], state["fc.weight"], rtol=0, atol=0)


def test_vit_small_weights_into_vit_base_fail_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import timm
    from safetensors.torch import save_file

    from humanalign.cli import run_cli

    small = timm.create_model("vit_small_patch16_224", pretrained=False)
    file = tmp_path / "vit_s.safetensors"
    save_file({k: v.contiguous() for k, v in small.state_dict().items()}, str(file))
    del small
    caught: list[BaseException] = []

    def body() -> None:  # the command-line path (one ViT-B build serves both checks)
        try:
            load_observer(f"timm:vit_base_patch16_224@{file}")
        except Exception as err:
            caught.append(err)
            raise

    code = run_cli(body)
    assert len(caught) == 1 and isinstance(caught[0], CheckpointError)
    message = str(caught[0])
    assert message.startswith(f"{file}: ") and "\n" not in message
    assert "shape mismatch blocks.0.attn.proj.bias: checkpoint (384,) vs model (768,)" in message
    err_text = capsys.readouterr().err  # one line on stderr, exit 2
    assert code == 2 and err_text.count("\n") == 1
    assert err_text.startswith(f"error: {file}: checkpoint does not match VisionTransformer: shape mismatch ")


def test_timm_missing_weights_file_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_observer(f"timm:resnet10t@{tmp_path}/none.safetensors")
    bad = tmp_path / "w.ckpt"
    bad.write_bytes(b"x")
    with pytest.raises(CheckpointError, match=r"w\.ckpt: unsupported weights file type"):
        load_observer(f"timm:resnet10t@{bad}")


def test_channels_last_stages_are_pooled_over_space() -> None:
    from timm.models.swin_transformer import SwinTransformer

    from humanalign.models.observers import as_observer

    torch.manual_seed(0)
    model = SwinTransformer(img_size=32, patch_size=4, embed_dim=16, depths=(1, 1), num_heads=(1, 1), window_size=4,
                            num_classes=10).eval()
    obs = as_observer(model, name="tiny-swin")
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True, norm=False)  # NCHW
        feats = obs.features(x, ["layers.0", "layers.1", "patch_embed.proj", "patch_embed"], pooling="mean")
        flat = obs.features(x, ["layers.1"], pooling="tokens")["layers.1"]
        raw = model.patch_embed.proj(x)  # a conv: channels first
        embedded = model.patch_embed(x)  # [B, H, W, C] (conv, then permute and norm)
    # bug fixed: Swin's [B, H, W, C] stage outputs were averaged over W and C ([B, H] "features")
    _close(feats["layers.0"], ref[0].mean((2, 3)))
    _close(feats["layers.1"], ref[1].mean((2, 3)))
    _close(flat, ref[1].flatten(1))
    _close(feats["patch_embed.proj"], raw.mean((2, 3)))
    _close(feats["patch_embed"], embedded.mean((1, 2)))  # PatchEmbed says output_fmt NHWC itself

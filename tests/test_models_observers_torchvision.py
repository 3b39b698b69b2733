"""Observer equivalence with torchvision (issue 14 item 5): on the same seeded random weights and input,
the adapter's hooked layer outputs equal ``create_feature_extractor``'s to <= 1e-6 in fp32 (``resnet18``
and ``mobilenet_v3_small`` at 64 px); the contract comes from the weights' transforms; loading is strict.
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


@pytest.fixture(scope="module")
def resnet18():
    return load_observer("torchvision:resnet18")


@pytest.mark.parametrize("name, nodes", [
    ("resnet18", ["layer1", "layer2", "layer3", "layer4", "layer2.1.conv2"]),
    ("mobilenet_v3_small", ["features.1", "features.4", "features.12"]),
])
def test_torchvision_layers_equal_create_feature_extractor(name: str, nodes: list[str], resnet18) -> None:
    from torchvision.models.feature_extraction import create_feature_extractor

    obs = resnet18 if name == "resnet18" else load_observer(f"torchvision:{name}")
    model = obs.module
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    penultimate = "flatten" if name == "resnet18" else "classifier.2"  # the last Linear's input
    extractor = create_feature_extractor(model, return_nodes=[*nodes, penultimate]).eval()
    with torch.no_grad():
        ref = extractor(x)
        feats = obs.features(x, [*nodes, "final"], pooling="tokens")
        mean = obs.features(x, nodes, pooling="mean")
        logits = obs.logits(x)
        full = model(x)
    for node in nodes:
        _close(feats[node], ref[node].flatten(1))  # a module path works as a layer name as given
        _close(mean[node], ref[node].mean((2, 3)))
    canonical = obs.resolve_layers(nodes)  # ... and resolves to block<i> where it is a block
    assert canonical == (nodes if name == "resnet18" else ["block1", "block4", "block12"])
    with torch.no_grad():
        by_block = obs.features(x, canonical, pooling="tokens")
    for node, layer in zip(nodes, canonical):
        _close(by_block[layer], ref[node].flatten(1))
    _close(feats["final"], ref[penultimate])
    _close(logits, full)
    if name == "resnet18":  # outputs the forward changes in place later (bn1 -> ReLU(inplace=True), += identity)
        block = model.layer1[0]
        with torch.no_grad():
            inner = obs.features(x, ["bn1", "layer1.0.bn2"], pooling="tokens")
            stem = model.maxpool(model.relu(model.bn1(model.conv1(x))))
            bn2 = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(stem)))))
            _close(inner["bn1"], model.bn1(model.conv1(x)).flatten(1))  # bug fixed: was the ReLU'd map
        _close(inner["layer1.0.bn2"], bn2.flatten(1))  # bug fixed: was bn2 + identity
    assert obs.has_imagenet_logits


def test_torchvision_blocks(resnet18) -> None:
    assert resnet18.blocks == [f"layer{s}.{b}" for s in (1, 2, 3, 4) for b in (0, 1)]
    # bug fixed: a torchvision `features` Sequential was one block; its stages are the blocks
    assert load_observer("torchvision:mobilenet_v3_small").blocks == [f"features.{i}" for i in range(13)]


def test_torchvision_contract_from_weights_transforms(resnet18) -> None:
    import torchvision

    obs = resnet18
    transform = torchvision.models.ResNet18_Weights.DEFAULT.transforms()
    c = obs.contract
    assert (c.kind, c.size, c.frames, c.interpolation) == ("image", 224, 1, "bilinear")
    assert c.crop_fraction == pytest.approx(224 / 256)
    assert c.mean == tuple(transform.mean) and c.std == tuple(transform.std)
    assert c.source == "torchvision weights transforms"


def test_torchvision_weights_file_strict(tmp_path: Path, resnet18) -> None:
    from safetensors.torch import save_file

    obs = resnet18
    state = dict(obs.module.state_dict())
    save_file(state, str(tmp_path / "r18.safetensors"))
    assert load_observer(f"torchvision:resnet18@{tmp_path / 'r18.safetensors'}").weights_hash == obs.weights_hash
    del state["fc.bias"]
    save_file(state, str(tmp_path / "cut.safetensors"))
    with pytest.raises(CheckpointError, match=r"cut\.safetensors: checkpoint does not match ResNet: missing keys \['fc.bias'\]"):
        load_observer(f"torchvision:resnet18@{tmp_path / 'cut.safetensors'}")


def test_torchvision_swin_channels_last() -> None:
    from torchvision.models.swin_transformer import SwinTransformer

    from humanalign.models.observers import as_observer

    torch.manual_seed(0)  # swin_t's layout at a tiny size (torchvision:swin_t takes 10 s to build here)
    m = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[1, 1, 1], num_heads=[1, 1, 1], window_size=[4, 4],
                        num_classes=10).eval()
    obs = as_observer(m, name="tiny-tv-swin")
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    nodes = ["features.1", "features.3", "features.5", "norm", "permute"]
    with torch.no_grad():  # torchvision's forward written out (create_feature_extractor traces Swin slowly)
        ref = {"features.1": m.features[:2](x), "features.3": m.features[:4](x), "features.5": m.features[:6](x)}
        ref["norm"] = m.norm(m.features(x))
        ref["permute"] = m.permute(ref["norm"])
        feats = obs.features(x, nodes, pooling="mean")
        final = obs.features(x, ["final"])["final"]
    for node in ("features.1", "features.3", "features.5", "norm"):  # [B, H, W, C]: pooled over H and W
        _close(feats[node], ref[node].mean((1, 2)))
    _close(feats["permute"], ref["permute"].mean((2, 3)))  # [B, C, H, W] after torchvision's Permute
    _close(final, ref["permute"].mean((2, 3)))


def test_torchvision_conv_classifier_is_an_imagenet_head() -> None:
    obs = load_observer("torchvision:squeezenet1_0")  # model-vs-human scores SqueezeNet through its 1000 classes
    model = obs.module
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        feats = obs.features(x, ["final", "classifier.1"])
        _close(obs.logits(x), model(x))
        _close(feats["final"], model.features(x).mean((2, 3)))
        _close(feats["classifier.1"], model.classifier[1](model.classifier[0](model.features(x))).mean((2, 3)))
    # bug fixed: no nn.Linear meant "no classifier", so its 1000 ImageNet outputs went to the 16-class readout
    assert obs.has_imagenet_logits and obs.num_classes == 1000

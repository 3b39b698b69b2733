"""``hf:`` observers (issue 14 items 1 and 5): local transformers folders and models in the HF cache.

Tiny ViT, DINOv2, VideoMAE and V-JEPA 2 models are saved with ``save_pretrained`` to temporary folders
with a preprocessor config. On the same weights and input, the observer's block outputs (forward hooks
on ``layers.<i>`` / ``encoder.layer.<i>``) equal ``output_hidden_states=True``'s ``hidden_states[i + 1]``
to <= 1e-6. The convention, checked per model: ``hidden_states[i + 1]`` is block ``i``'s raw output for
all four; ``last_hidden_state`` is ``hidden_states[-1]`` after the final LayerNorm for ViT, DINOv2 and
V-JEPA 2, and equals ``hidden_states[-1]`` for VideoMAE (mean-pooling config: no final norm). Nothing
is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from humanalign.io.checkpoints import CheckpointError  # noqa: E402
from humanalign.models.observers import SpecError, load_observer  # noqa: E402

ATOL = 1e-6
SIZE, PATCH, FRAMES = 32, 8, 4
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a.float(), b.float(), rtol=0, atol=ATOL)


def _configs() -> dict[str, tuple]:
    t = transformers
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2)
    return {
        "vit": (t.ViTConfig(**small, intermediate_size=64, image_size=SIZE, patch_size=PATCH), t.ViTModel),
        "dinov2": (t.Dinov2Config(**small, mlp_ratio=2, image_size=SIZE, patch_size=PATCH), t.Dinov2Model),
        "videomae": (t.VideoMAEConfig(**small, intermediate_size=64, image_size=SIZE, patch_size=PATCH,
                                      num_frames=FRAMES, tubelet_size=2), t.VideoMAEModel),
        "vjepa2": (t.VJEPA2Config(**small, mlp_ratio=2, crop_size=SIZE, patch_size=PATCH, frames_per_clip=FRAMES,
                                  tubelet_size=2, pred_hidden_size=16, pred_num_hidden_layers=1,
                                  pred_num_attention_heads=2, pred_num_mask_tokens=2), t.VJEPA2Model),
    }


def _preprocessor(kind: str) -> dict:
    if kind == "dinov2":  # resize the shorter side to 36, centre-crop 32: crop fraction 32/36
        return {"image_mean": MEAN, "image_std": STD, "size": {"shortest_edge": 36}, "do_center_crop": True,
                "crop_size": {"height": SIZE, "width": SIZE}, "resample": 3}
    return {"image_mean": MEAN, "image_std": STD, "size": {"height": SIZE, "width": SIZE}, "resample": 2}


def _save(root: Path, kind: str, model=None) -> tuple[Path, torch.nn.Module]:
    config, cls = _configs()[kind]
    if model is None:
        torch.manual_seed(0)
        model = cls(config).eval()
    folder = root / kind
    model.save_pretrained(folder)
    # V-JEPA 2 ships a video processor config; the others an image processor config
    name = "video_preprocessor_config.json" if kind == "vjepa2" else "preprocessor_config.json"
    (folder / name).write_text(json.dumps(_preprocessor(kind)))
    return folder, model


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, torch.nn.Module]]:
    root = tmp_path_factory.mktemp("hf")
    return {kind: _save(root, kind) for kind in _configs()}


def _hf_forward(model, kind: str, x_hf: torch.Tensor):
    key = "pixel_values_videos" if kind == "vjepa2" else "pixel_values"
    return model(**{key: x_hf}, output_hidden_states=True)


@pytest.mark.parametrize("kind", ["vit", "dinov2", "videomae", "vjepa2"])
def test_blocks_equal_hidden_states(saved, kind: str) -> None:
    folder, reference = saved[kind]
    obs = load_observer(f"hf:{folder}")
    video = kind in ("videomae", "vjepa2")
    assert obs.is_video == video and obs.source == "hf"
    g = torch.Generator().manual_seed(0)
    # the suite's layout: images [B, C, H, W], clips [B, C, T, H, W]; transformers' clips: [B, T, C, H, W]
    x = torch.randn(2, 3, FRAMES, SIZE, SIZE, generator=g) if video else torch.randn(2, 3, SIZE, SIZE, generator=g)
    x_hf = x.transpose(1, 2) if video else x
    layers = obs.resolve_layers("blocks")
    assert len(layers) == 2
    assert obs.blocks == ([f"layers.{i}" for i in range(2)] if kind == "vit" else [f"encoder.layer.{i}" for i in range(2)])
    with torch.no_grad():
        ref = _hf_forward(reference, kind, x_hf)
        raw: dict[str, torch.Tensor] = {}
        with obs._hooks(layers, raw):
            obs._run(obs.prepare(x))
        pooled = obs.features(x, layers + ["final"], pooling="mean")
    hidden = ref.hidden_states
    assert len(hidden) == 3  # embeddings + one per block
    prefix = 0 if video else 1
    assert obs.prefix_tokens == prefix
    for i, layer in enumerate(layers):
        _close(raw[layer], hidden[i + 1])
        _close(pooled[layer], hidden[i + 1][:, prefix:].mean(1))
    # final: the last hidden state (after the final norm where the model has one), prefix tokens excluded
    _close(pooled["final"], ref.last_hidden_state[:, prefix:].mean(1))
    normed = not torch.allclose(ref.last_hidden_state, hidden[-1])
    assert normed == (kind != "videomae")
    if not video:
        with torch.no_grad():
            _close(obs.features(x, ["final"], pooling="cls")["final"], ref.last_hidden_state[:, 0])


def test_video_model_with_a_cls_token(tmp_path: Path) -> None:
    config = transformers.TimesformerConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                            intermediate_size=64, image_size=SIZE, patch_size=PATCH, num_frames=FRAMES)
    torch.manual_seed(0)
    model = transformers.TimesformerModel(config).eval()
    model.save_pretrained(tmp_path / "tsf")
    obs = load_observer(f"hf:{tmp_path / 'tsf'}")
    assert obs.is_video and obs.contract.frames == FRAMES
    assert obs.prefix_tokens == 1  # bug fixed: every video model was taken to have no CLS token
    x = torch.randn(1, 3, FRAMES, SIZE, SIZE, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        ref = model(pixel_values=x.transpose(1, 2), output_hidden_states=True)
        feats = obs.features(x, ["block0", "final"], pooling="mean")
        cls = obs.features(x, ["block0"], pooling="cls")["block0"]
    _close(feats["block0"], ref.hidden_states[1][:, 1:].mean(1))
    _close(cls, ref.hidden_states[1][:, 0])
    _close(feats["final"], ref.last_hidden_state[:, 1:].mean(1))


def test_contract_read_from_the_folder(saved) -> None:
    vit = load_observer(f"hf:{saved['vit'][0]}").contract
    assert (vit.kind, vit.size, vit.frames, vit.crop_fraction, vit.interpolation) == ("image", SIZE, 1, 1.0, "bilinear")
    assert vit.mean == tuple(MEAN) and vit.std == tuple(STD) and "preprocessor" in vit.source
    dino = load_observer(f"hf:{saved['dinov2'][0]}").contract
    assert (dino.size, dino.interpolation) == (SIZE, "bicubic")
    assert dino.crop_fraction == pytest.approx(SIZE / 36)
    for kind in ("videomae", "vjepa2"):
        c = load_observer(f"hf:{saved[kind][0]}").contract
        assert (c.kind, c.size, c.frames) == ("video", SIZE, FRAMES)  # frames: num_frames / frames_per_clip
        assert c.mean == tuple(MEAN) and c.std == tuple(STD)
    over = load_observer(f"hf:{saved['videomae'][0]}|frames=2,size=16").contract
    assert (over.frames, over.size) == (2, 16)


def test_video_model_given_images_sees_static_clips(saved) -> None:
    folder, reference = saved["videomae"]
    obs = load_observer(f"hf:{folder}")
    image = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(4))
    static = image.unsqueeze(1).expand(-1, FRAMES, -1, -1, -1)  # [B, T, C, H, W]
    with torch.no_grad():
        got = obs.features(image, ["block1"])["block1"]
        ref = reference(pixel_values=static, output_hidden_states=True).hidden_states[2].mean(1)
    _close(got, ref)


def test_classifier_head_gives_logits(tmp_path: Path) -> None:
    config, _ = _configs()["vit"]
    config.num_labels = 5
    config.architectures = ["ViTForImageClassification"]
    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(config).eval()
    model.save_pretrained(tmp_path / "vitcls")
    obs = load_observer(f"hf:{tmp_path / 'vitcls'}")
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref = model(pixel_values=x, output_hidden_states=True)
        feats = obs.features(x, ["block1", "classifier", "final"])
        _close(obs.logits(x), ref.logits)
    _close(feats["classifier"], ref.logits)  # bug fixed: the classifier never ran in the observer's forward
    _close(feats["block1"], ref.hidden_states[2][:, 1:].mean(1))
    assert obs.blocks == ["vit.layers.0", "vit.layers.1"]  # bug fixed: transformers-5 ViT blocks were not found
    assert obs.num_classes == 5 and not obs.has_imagenet_logits  # not ImageNet: the cross-validated readout
    assert obs.contract.source == "hf config" and obs.contract.size == SIZE  # no preprocessor config: defaults


def test_missing_or_misshaped_weights_are_checkpoint_errors(tmp_path: Path, saved) -> None:
    from safetensors.torch import load_file, save_file

    folder, model = _save(tmp_path, "vit", saved["vit"][1])
    weights = folder / "model.safetensors"
    state = load_file(str(weights))
    dropped = sorted(state)[0]
    save_file({k: v for k, v in state.items() if k != dropped}, str(weights))
    with pytest.raises(CheckpointError) as err:
        load_observer(f"hf:{folder}")
    message = str(err.value)
    assert message.startswith(f"{folder}: ") and "\n" not in message and dropped in message

    config = json.loads((folder / "config.json").read_text())
    save_file(state, str(weights))
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 48}))  # weights are 64 wide
    with pytest.raises(CheckpointError) as err:
        load_observer(f"hf:{folder}")
    message = str(err.value)
    assert message.startswith(f"{folder}: weights do not match ViTModel: ") and "\n" not in message
    assert "first layers.0.mlp.fc1.bias: checkpoint (64,) vs model (48,)" in message

    weights.unlink()
    with pytest.raises(CheckpointError, match=f"{folder}: cannot load the weights"):
        load_observer(f"hf:{folder}")


def test_a_file_without_pooler_weights_loads(tmp_path: Path) -> None:
    config, _ = _configs()["vit"]
    torch.manual_seed(0)
    model = transformers.ViTModel(config, add_pooling_layer=False).eval()  # as DINO and MAE ViT files are
    model.save_pretrained(tmp_path / "dino")
    obs = load_observer(f"hf:{tmp_path / 'dino'}")  # was: CheckpointError "missing pooler.dense.bias"
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        ref = model(pixel_values=x).last_hidden_state
        for pooling in ("mean", "tokens", "project"):  # final never uses the (random) pooler
            _close(obs.features(x, ["final"], pooling=pooling)["final"], ref[:, 1:].mean(1))


def test_bad_hf_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-home"))
    with pytest.raises(SpecError, match="no config.json"):
        load_observer(f"hf:{tmp_path}")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_observer(f"hf:{tmp_path}/absent")
    with pytest.raises(SpecError, match="not a folder, and not in the Hugging Face cache .*empty-home.*set HF_HOME"):
        load_observer("hf:someorg/not-cached-model")


def test_named_model_from_a_fake_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, saved) -> None:
    folder, reference = saved["dinov2"]
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "home" / "hub" / "models--someorg--tiny-dinov2"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for file in folder.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))  # set after huggingface_hub was imported
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    obs = load_observer("hf:someorg/tiny-dinov2")
    assert obs.id == "hf:someorg/tiny-dinov2" and obs.contract.crop_fraction == pytest.approx(SIZE / 36)
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        _close(obs.features(x, ["final"])["final"], reference(pixel_values=x).last_hidden_state[:, 1:].mean(1))

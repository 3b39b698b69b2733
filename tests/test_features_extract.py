"""Feature extraction: layer outputs, preprocessing, id alignment and the content-keyed cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from humanalign.features import (
    FeatureSet,
    Preprocessing,
    extract,
    preprocessing_for,
    resolve_layers,
    state_dict_hash,
    stimulus_fingerprint,
)
from humanalign.registry import MODELS
from humanalign.stimuli.base import StimulusSet, StimulusSetError


@pytest.fixture()
def image_set(tmp_path: Path) -> StimulusSet:
    """Six small random RGB images of different sizes in two category folders."""
    rng = np.random.default_rng(0)
    for i in range(6):
        folder = tmp_path / "imgs" / ("a" if i < 3 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        h, w = 40 + 4 * i, 48 - 2 * i
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"im{i}.png")
    return StimulusSet.from_folder(tmp_path / "imgs", name="toy")


@pytest.fixture()
def video_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build("vit_test_video").eval()


def _inputs(model: torch.nn.Module, stimuli: StimulusSet) -> torch.Tensor:
    prep = preprocessing_for(model)
    return torch.stack([prep(stimuli.load(i)) for i in range(len(stimuli))])  # [N, 3, S, S]


def test_layers_match_direct_forward(image_set: StimulusSet, video_model, tmp_path: Path) -> None:
    feats = extract(video_model, image_set, layers="all", batch_size=4, cache_dir=tmp_path / "c",
                    progress=False)
    assert feats.layers == ["block0", "block1", "final"]
    assert feats.stimulus_ids == image_set.ids
    x = _inputs(video_model, image_set)
    with torch.no_grad():
        blocks = video_model.block_outputs(x)  # 2 x [N, tokens, 64]
        final = video_model.encode(x, pool="mean")
    for i, tokens in enumerate(blocks):
        np.testing.assert_allclose(feats[i], tokens.mean(dim=1).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats["final"], final.numpy(), rtol=1e-5, atol=1e-5)
    assert feats["final"].shape == (6, video_model.embed_dim)
    assert feats.checkpoint_hash == state_dict_hash(video_model)


def test_video_model_sees_images_as_static_clips(image_set: StimulusSet, video_model, tmp_path: Path) -> None:
    feats = extract(video_model, image_set, layers=[-1, "final"], cache_dir=tmp_path, progress=False)
    x = _inputs(video_model, image_set)
    clip = x.unsqueeze(2).repeat(1, 1, video_model.num_frames, 1, 1)  # [N, 3, T, S, S]
    with torch.no_grad():
        expected = video_model.encode(clip, pool="mean").numpy()
    np.testing.assert_allclose(feats["final"], expected, rtol=1e-5, atol=1e-5)


def test_tokens_pooling_keeps_every_patch(image_set: StimulusSet, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MODELS.build("vit_test_image", cls_token=True).eval()
    tok = extract(model, image_set, layers=[0], pooling="tokens", cache_dir=tmp_path, progress=False)
    cls = extract(model, image_set, layers=[0], pooling="cls", cache_dir=tmp_path, progress=False)
    n_patch = (model.img_size // model.patch_size) ** 2
    assert tok[0].shape == (6, n_patch * model.embed_dim)
    with torch.no_grad():
        block0 = model.block_outputs(_inputs(model, image_set), layers=[0])[0]
    np.testing.assert_allclose(cls[0], block0[:, 0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tok[0], block0[:, 1:].flatten(1).numpy(), rtol=1e-5, atol=1e-5)


def test_preprocessing_matches_torchvision() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (50, 80, 3), dtype=np.uint8)
    prep = Preprocessing(32, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    ours = prep(img)  # [3, 32, 32]
    t = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    ref = TF.center_crop(TF.resize(t, 32, antialias=True), [32, 32])
    ref = TF.normalize(ref, list(prep.mean), list(prep.std))
    assert ours.shape == (3, 32, 32)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
    clip = prep(np.stack([img, img[::-1]]))  # [3, 2, 32, 32]
    assert clip.shape == (3, 2, 32, 32)
    torch.testing.assert_close(clip[:, 0], ref)


def test_cache_hit_skips_the_model(image_set: StimulusSet, video_model, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = extract(video_model, image_set, layers="all", cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.rglob("*.npz"))) == 3

    def boom(*args, **kwargs):
        raise AssertionError("model was run although every layer was cached")

    monkeypatch.setattr(video_model, "forward_features", boom)
    monkeypatch.setattr(video_model, "encode", boom)
    again = extract(video_model, image_set, layers="all", cache_dir=tmp_path, progress=False)
    for layer in first.layers:
        np.testing.assert_array_equal(first[layer], again[layer])
    # A shuffled set is served from the same cache, rows re-aligned by stimulus id.
    shuffled = image_set.subset(image_set.ids[::-1])
    flipped = extract(video_model, shuffled, layers="all", cache_dir=tmp_path, progress=False)
    assert flipped.stimulus_ids == image_set.ids[::-1]
    np.testing.assert_array_equal(flipped["final"], first["final"][::-1])


def test_corrupt_cache_entry_is_recomputed(image_set: StimulusSet, video_model, tmp_path: Path) -> None:
    first = extract(video_model, image_set, layers=["final"], cache_dir=tmp_path, progress=False)
    (entry,) = tmp_path.rglob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated by a crash or a full disk
    again = extract(video_model, image_set, layers=["final"], cache_dir=tmp_path, progress=False)
    np.testing.assert_allclose(again["final"], first["final"], rtol=1e-6, atol=1e-6)
    assert entry.stat().st_size > 100


def test_changed_inputs_miss_the_cache(image_set: StimulusSet, video_model, tmp_path: Path) -> None:
    base = extract(video_model, image_set, layers=["final"], cache_dir=tmp_path, progress=False)
    # Changed weights.
    with torch.no_grad():
        video_model.blocks[0].mlp.fc1.weight.add_(0.5)
    moved = extract(video_model, image_set, layers=["final"], cache_dir=tmp_path, progress=False)
    assert moved.checkpoint_hash != base.checkpoint_hash
    assert not np.allclose(moved["final"], base["final"])
    # Changed image file content under the same path and id.
    path = Path(image_set.table.loc[0, "path"])
    Image.fromarray(np.zeros((40, 48, 3), dtype=np.uint8)).save(path)
    fresh = extract(video_model, image_set, layers=["final"], cache_dir=tmp_path, use_cache=False,
                    progress=False)
    cached = extract(video_model, image_set, layers=["final"], cache_dir=tmp_path, progress=False)
    np.testing.assert_allclose(cached["final"], fresh["final"], rtol=1e-6, atol=1e-6)
    assert not np.allclose(cached["final"][0], moved["final"][0])
    np.testing.assert_allclose(cached["final"][1:], moved["final"][1:], rtol=1e-6, atol=1e-6)
    # Another crop changes the preprocessing and so the key.
    cropped = extract(video_model, image_set, layers=["final"], cache_dir=tmp_path, crop_fraction=0.875,
                      progress=False)
    assert cropped.provenance["cache_keys"] != cached.provenance["cache_keys"]
    assert len(list(tmp_path.rglob("*.npz"))) == 4


def test_hashes() -> None:
    torch.manual_seed(0)
    a = MODELS.build("vit_test_image")
    b = MODELS.build("vit_test_image")
    b.load_state_dict(a.state_dict())
    assert state_dict_hash(a) == state_dict_hash(b)
    with torch.no_grad():
        b.norm.bias[0] += 1e-6
    assert state_dict_hash(a) != state_dict_hash(b)


def test_fingerprint_uses_loader_pixels_without_files() -> None:
    pixels = {"x": np.zeros((8, 8, 3), np.uint8), "y": np.ones((8, 8, 3), np.uint8)}
    table = pd.DataFrame({"stimulus_id": ["x", "y"]})
    s1 = StimulusSet("mem", table, loader=lambda row: pixels[row["stimulus_id"]])
    fp = stimulus_fingerprint(s1)
    assert fp == stimulus_fingerprint(s1.subset(["y", "x"]))
    pixels["y"] = np.full((8, 8, 3), 2, np.uint8)
    assert stimulus_fingerprint(s1) != fp


def test_bad_requests_raise(image_set: StimulusSet, video_model, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside"):
        resolve_layers(video_model, [5])
    with pytest.raises(ValueError, match="has no layer 'penultimate'"):
        resolve_layers(video_model, ["penultimate"])
    with pytest.raises(ValueError, match="CLS"):
        extract(video_model, image_set, layers=[0], pooling="cls", cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="pooling"):
        extract(video_model, image_set, pooling="max", cache_dir=tmp_path, progress=False)
    mixed = StimulusSet("mixed", pd.DataFrame({"stimulus_id": ["c", "i"]}),
                        loader=lambda row: np.zeros((4, 32, 32, 3) if row["stimulus_id"] == "c" else (32, 32, 3),
                                                    np.uint8))
    with pytest.raises(ValueError, match="mixes input shapes"):
        extract(video_model, mixed, layers=[0], cache_dir=tmp_path, progress=False)


def test_an_image_model_given_clips_averages_its_per_frame_features(tmp_path: Path) -> None:
    """Clips to an image encoder: every frame encoded, pooled features averaged over time."""
    torch.manual_seed(0)
    model = MODELS.build("vit_test_image").eval()
    frames = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    clips = StimulusSet("clips", pd.DataFrame({"stimulus_id": ["c"]}), loader=lambda row: frames)
    feats = extract(model, clips, layers=["block0", "final"], cache_dir=tmp_path, progress=False)
    prep = preprocessing_for(model)
    with torch.no_grad():
        x = torch.stack([prep(f) for f in frames])  # [T, 3, S, S]
        want_final = model.encode(x).mean(0)
        want_block = model.block_outputs(x, layers=[0])[0].mean(1).mean(0)
    np.testing.assert_allclose(feats["final"][0], want_final.numpy(), atol=1e-5)
    np.testing.assert_allclose(feats["block0"][0], want_block.numpy(), atol=1e-5)


def test_featureset_alignment_errors() -> None:
    fs = FeatureSet(["a", "b"], {"final": np.eye(2, dtype=np.float32)}, {"stimulus_set": "toy"})
    np.testing.assert_array_equal(fs.aligned(["b", "a"])["final"], np.eye(2)[::-1])
    with pytest.raises(StimulusSetError, match="lacks 1"):
        fs.aligned(["a", "z"])
    with pytest.raises(ValueError, match="expected"):
        FeatureSet(["a"], {"final": np.eye(2)})


def test_given_checkpoint_hash_is_used_and_not_recomputed(image_set: StimulusSet, video_model, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import humanalign.features.hashing as hashing
    from humanalign.models.observers import as_observer

    digest = state_dict_hash(video_model)
    monkeypatch.setattr(hashing, "state_dict_hash", lambda m: pytest.fail("weights hashed again"))
    feats = extract(video_model, image_set, layers="final", cache_dir=tmp_path / "c", progress=False,
                    checkpoint_hash=digest)
    assert feats.checkpoint_hash == digest
    calls = []  # without a given hash: the observer's memoised hash, computed once however often it extracts
    monkeypatch.setattr(hashing, "state_dict_hash", lambda m: calls.append(m) or digest)
    observer = as_observer(video_model)
    for _ in range(2):
        assert extract(observer, image_set, layers="final", use_cache=False, progress=False).checkpoint_hash == digest
    assert len(calls) == 1

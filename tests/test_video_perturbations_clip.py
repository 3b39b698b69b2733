"""Video perturbations: registry, clip wrapper modes, temporal re-indexing, camera ops and codecs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from humanalign.perturb.corruptions import CorruptionError
from humanalign.perturb.video import VIDEO_FAMILIES, corrupt_clip
from humanalign.perturb.video.camera import rotate_frames
from humanalign.perturb.video.temporal import temporal_indices
from humanalign.registry import VIDEO_PERTURBATIONS


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def static_clip(b: int = 2, t: int = 4, h: int = 24, w: int = 32) -> torch.Tensor:
    """A clip whose frames are all the same smooth image ``[b, 3, t, h, w]``."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    img = torch.stack([0.3 + 0.4 * xs, 0.3 + 0.4 * ys, 0.5 + 0.2 * torch.sin(6 * xs)])
    return img[None, :, None].expand(b, 3, t, h, w).clone()


def numbered_clip(b: int = 2, t: int = 16) -> torch.Tensor:
    """Frame i of every clip is the constant i / t, so output frames can be traced to input frames."""
    return (torch.arange(t).float() / t).view(1, 1, t, 1, 1).expand(b, 3, t, 8, 8).clone()


def test_registered_families_and_published_constants() -> None:
    names = {n for family in VIDEO_FAMILIES.values() for n in family}
    assert names == set(VIDEO_PERTURBATIONS.list())
    assert VIDEO_PERTURBATIONS.meta("shot_noise")["constants"] == (250.0, 100.0, 50.0, 30.0, 15.0)
    assert VIDEO_PERTURBATIONS.meta("speckle_noise")["constants"] == (0.15, 0.2, 0.25, 0.3, 0.35)
    assert VIDEO_PERTURBATIONS.meta("static_rotate")["constants"] == (7.5, 15.0, 30.0, 45.0, 90.0)
    assert VIDEO_PERTURBATIONS.meta("sampling")["constants"] == (2, 4, 8, 16, 32)
    assert VIDEO_PERTURBATIONS.meta("box_jumble")["constants"] == (4, 9, 16, 25, 36)


@pytest.mark.parametrize("name", ["gaussian_noise", "motion_blur", "translate", "rotate"])
def test_coherent_identical_across_frames_dynamic_not(name: str) -> None:
    clip = static_clip()
    fn = VIDEO_PERTURBATIONS.get(name)
    coherent = fn(clip, 3, generator=gen(1), mode="coherent")
    dynamic = fn(clip, 3, generator=gen(1), mode="dynamic")
    assert coherent.shape == clip.shape == dynamic.shape
    for t in range(1, clip.shape[2]):
        assert torch.equal(coherent[:, :, t], coherent[:, :, 0])
    assert not all(torch.equal(dynamic[:, :, t], dynamic[:, :, 0]) for t in range(1, clip.shape[2]))
    assert torch.equal(fn(clip, 3, generator=gen(1), mode="dynamic"), dynamic), "deterministic under a seed"


@pytest.mark.parametrize("name", ["fog", "frost", "spatter", "elastic_transform"])
def test_any_image_corruption_lifts_to_clips(name: str) -> None:
    clip = static_clip(1, 3)
    out = corrupt_clip(clip, name, 2, gen(0), mode="coherent")
    assert out.shape == clip.shape and torch.equal(out[:, :, 2], out[:, :, 0])
    dyn = corrupt_clip(clip, name, 2, gen(0), mode="dynamic")
    assert not torch.equal(dyn[:, :, 2], dyn[:, :, 0])


@pytest.mark.parametrize("name", ["sampling", "reverse_sampling", "jumble", "box_jumble", "freeze"])
@pytest.mark.parametrize("severity", [1, 3, 5])
def test_temporal_ops_reindex_input_frames(name: str, severity: int) -> None:
    t = 16
    clip = numbered_clip(2, t)
    out = VIDEO_PERTURBATIONS.get(name)(clip, severity, generator=gen(severity))
    assert out.shape == clip.shape
    src = torch.round(out[:, 0, :, 0, 0] * t).long()  # [B, T] input frame of each output frame
    assert torch.equal(out, clip.gather(2, src[:, None, :, None, None].expand_as(clip)))
    for row in src:
        if name in ("jumble", "box_jumble"):
            assert sorted(row.tolist()) == list(range(t)), "a permutation"
        elif name == "sampling":
            r = (2, 4, 8, 16, 32)[severity - 1]
            assert row.tolist() == [(i // r) * r for i in range(t)]
        elif name == "reverse_sampling":
            r = (2, 4, 8, 16, 32)[severity - 1]
            assert row.tolist() == [(i // r) * r for i in range(t)][::-1]
        else:  # freeze: holds, starting from frame 0, never going back
            assert row[0] == 0 and torch.all(row[1:] >= row[:-1])
            assert all(row[i] in (row[i - 1], i) for i in range(1, t))
            k = max(1, int((0.4 * t, 0.2 * t, 0.1 * t, max(0.05 * t, 2), 1)[severity - 1]))
            assert len(set(row.tolist())) <= k + 1


def test_jumble_segments_and_box_jumble_blocks() -> None:
    idx = temporal_indices("jumble", 3, 16, 4, gen(0))  # segments of 4
    for row in idx:
        for s in range(0, 16, 4):
            assert sorted(row[s:s + 4].tolist()) == list(range(s, s + 4))
    idx = temporal_indices("box_jumble", 3, 16, 1, gen(0))  # blocks of 4, block order shuffled
    for row in idx:
        blocks = [row[s:s + 4].tolist() for s in range(0, 16, 4)]
        assert all(b == list(range(b[0], b[0] + 4)) for b in blocks)


def test_shake_is_translate_per_frame() -> None:
    clip = static_clip(1, 3)
    shake = VIDEO_PERTURBATIONS.get("shake")(clip, 2, generator=gen(5))
    torch.testing.assert_close(shake, VIDEO_PERTURBATIONS.get("translate")(clip, 2, generator=gen(5), mode="dynamic"))
    assert not torch.equal(shake[:, :, 0], shake[:, :, 1]) or not torch.equal(shake[:, :, 1], shake[:, :, 2])


def test_static_rotation_90_matches_rot90_and_translate_shifts() -> None:
    x = torch.rand(1, 3, 16, 16, generator=gen(0))
    rot = rotate_frames(x, torch.tensor([90.0]))
    torch.testing.assert_close(rot, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5, rtol=0)
    clip = static_clip(1, 2, 24, 24)
    out = VIDEO_PERTURBATIONS.get("translate")(clip, 1, generator=gen(3))
    frame, src = out[0, :, 0], clip[0, :, 0]
    shifts = [(dy, dx) for dy in range(8) for dx in range(8)
              if torch.equal(frame[:, :24 - dy, :24 - dx], src[:, dy:, dx:])]
    assert len(shifts) == 1
    dy, dx = shifts[0]
    assert float(frame[:, 24 - dy:].abs().sum()) == 0 and float(frame[:, :, 24 - dx:].abs().sum()) == 0


def test_codecs_roundtrip_and_severity() -> None:
    clip = static_clip(1, 6, 31, 33)  # odd sizes are padded for yuv420p and cropped back
    clip = clip + 0.1 * torch.sin(torch.arange(6).float()).view(1, 1, 6, 1, 1)
    for name in ("h264_compression", "mpeg_compression"):
        fn = VIDEO_PERTURBATIONS.get(name)
        low, high = fn(clip, 1), fn(clip, 5)
        assert low.shape == clip.shape and torch.equal(low, fn(clip, 1))
        assert float((high - clip).abs().mean()) > float((low - clip).abs().mean())


def _codec_digest() -> str:
    """SHA-256 of both codecs applied to one textured 16 x 224 x 224 clip (big enough for encoder threads)."""
    import hashlib

    g = torch.Generator().manual_seed(0)
    clip = torch.nn.functional.avg_pool3d(torch.rand(1, 3, 16, 224, 224, generator=g), 3, 1, 1)
    digest = hashlib.sha256()
    for name in ("h264_compression", "mpeg_compression"):
        digest.update(VIDEO_PERTURBATIONS.get(name)(clip, 3).numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity (Linux)")
def test_codec_output_does_not_depend_on_the_core_count() -> None:
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from tests.test_video_perturbations_clip import _codec_digest; print(_codec_digest())")
    one_core = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[1])
    assert one_core.stdout.strip() == _codec_digest()


def test_bad_clip_input() -> None:
    with pytest.raises(CorruptionError, match=r"\[B, 3, T, H, W\]"):
        VIDEO_PERTURBATIONS.get("gaussian_noise")(torch.rand(2, 3, 8, 8), 1)
    with pytest.raises(CorruptionError, match="mode"):
        VIDEO_PERTURBATIONS.get("gaussian_noise")(static_clip(), 1, mode="sometimes")
    with pytest.raises(CorruptionError, match="severity"):
        VIDEO_PERTURBATIONS.get("freeze")(static_clip(), 0)


@pytest.mark.parametrize("name", VIDEO_PERTURBATIONS.list())
def test_low_precision_clips_keep_their_dtype(name: str) -> None:
    clip = static_clip(1, 4).to(torch.bfloat16)
    out = VIDEO_PERTURBATIONS.get(name)(clip, 2, generator=gen(0))
    assert out.dtype == torch.bfloat16 and out.shape == clip.shape
    assert float(out.float().min()) >= 0.0 and float(out.float().max()) <= 1.0

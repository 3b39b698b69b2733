"""The UCF101-P protocol on source videos: perturb the whole video, then sample, against the benchmark's code.

Expected values come from running the benchmark's own methods, extracted verbatim from
Maddy12/ActionRecognitionRobustnessEval commit c049b08c295ec35f52d15f1fa25319edc56574b5
(``core/video_perturb.py`` ``VideoPerturbation.{sampling, reverse_sampling, jumble, box_jumble, freeze}``,
``core/build_dataset.py`` ``sample_frames`` and the sampling/padding steps of ``read_frames_decord``, with the
defaults of ``main.py``) on a video whose frame t holds the value t, seeded with ``random.seed(0)``. Random
perturbations are compared by their means over 20000 reference runs (the streams differ: Python ``random``
there, torch here), with a tolerance of 4 standard errors of the difference.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch

from humanalign.perturb.video import needs_source_video, perturb_then_sample, sample_clip
from humanalign.perturb.video.source import PAD_VALUE, benchmark_sample_indices
from humanalign.registry import VIDEO_PERTURBATIONS

PAD = -1
SAMPLE_FRAMES = {  # (length, num_frames) -> the benchmark's sample_frames(length)
    (1, 16): [0],
    (5, 16): [0, 1, 2, 3, 4],
    (17, 16): list(range(16)),
    (50, 16): [0, 3, 6, 9, 12, 15, 18, 21, 25, 28, 31, 34, 37, 40, 43, 46],
    (64, 16): list(range(0, 64, 4)),
    (175, 16): [0, 10, 21, 32, 43, 54, 65, 76, 87, 98, 109, 120, 131, 142, 153, 164],
    (7, 10): list(range(7)),
    (23, 10): [0, 2, 4, 6, 9, 11, 13, 16, 18, 20],
    (64, 10): [0, 6, 12, 19, 25, 32, 38, 44, 51, 57],
    (99, 10): [0, 9, 19, 29, 39, 49, 59, 69, 79, 89],
    (13, 12): list(range(12)),
    (37, 12): list(range(0, 36, 3)),
    (101, 12): [0, 8, 16, 25, 33, 42, 50, 58, 67, 75, 84, 92],
}
SAMPLING = {  # (name, T_src) -> per severity, source frame per output frame (PAD = zero padding), num_frames 16
    ("sampling", 64): [list(range(0, 64, 4)), list(range(0, 64, 4)), list(range(0, 64, 8)) + [PAD] * 8,
                       [0, 16, 32, 48] + [PAD] * 12, [0, 32] + [PAD] * 14],
    ("sampling", 175): [[0, 10, 22, 32, 44, 54, 66, 76, 88, 98, 110, 120, 132, 142, 154, 164],
                        [0, 8, 20, 32, 44, 52, 64, 76, 88, 96, 108, 120, 132, 140, 152, 164],
                        [0, 8, 16, 32, 40, 48, 64, 72, 88, 96, 104, 120, 128, 136, 152, 160],
                        list(range(0, 175, 16)) + [PAD] * 5, list(range(0, 175, 32)) + [PAD] * 10],
    ("reverse_sampling", 64): [list(range(62, 0, -4)), list(range(60, -1, -4)), list(range(56, -1, -8)) + [PAD] * 8,
                               [48, 32, 16, 0] + [PAD] * 12, [32, 0] + [PAD] * 14],
    ("reverse_sampling", 175): [[174, 164, 152, 142, 130, 120, 108, 98, 86, 76, 64, 54, 42, 32, 20, 10],
                                [172, 164, 152, 140, 128, 120, 108, 96, 84, 76, 64, 52, 40, 32, 20, 8],
                                [168, 160, 152, 136, 128, 120, 104, 96, 80, 72, 64, 48, 40, 32, 16, 8],
                                list(range(160, -1, -16)) + [PAD] * 5, list(range(160, -1, -32)) + [PAD] * 10],
}
# T_src 64 -> 16 frames, per severity 1..5: (mean, SD) over 20000 reference runs of
# displacement = mean |source frame - unperturbed sample's source frame| over the non-padded output frames,
# distinct = number of distinct source frames, pad = number of padded frames.
REFERENCE_STATS = {
    ("jumble", "displacement"): [(10.6997, 1.8085), (5.3705, 0.8959), (2.7515, 0.4671), (1.4994, 0.2808),
                                 (0.4976, 0.1251)],
    ("box_jumble", "displacement"): [(21.2974, 3.4921), (21.2902, 5.6145), (20.0728, 8.355), (19.0683, 11.1047),
                                     (15.7705, 15.75)],
    ("freeze", "distinct"): [(13.9338, 1.0472), (9.1843, 1.0794), (5.314, 0.6894), (2.8545, 0.3561), (1.0, 0.0)],
    ("freeze", "pad"): [(0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0418, 0.4719), (1.8456, 3.9464)],
}
REF_RUNS, OUR_RUNS = 20000, 4000


def _indexed_video(b: int, t: int, h: int = 8) -> torch.Tensor:
    """``[B, 3, T, H, H]`` float64: channel 0 of frame t is t / 1000, channel 1 is 0.9 (padding has 0.456)."""
    v = torch.zeros(b, 3, t, h, h, dtype=torch.float64)
    v[:, 0] = (torch.arange(t, dtype=torch.float64) / 1000)[None, :, None, None]
    v[:, 1] = 0.9
    return v


def _decode(clips: torch.Tensor) -> torch.Tensor:
    """Source frame per output frame ``[B, n]`` of clips of :func:`_indexed_video` (PAD where padded)."""
    idx = (clips[:, 0, :, 0, 0] * 1000).round().long()
    return torch.where(clips[:, 1, :, 0, 0] > 0.8, idx, PAD)


@functools.cache
def _stats(name: str, severity: int) -> dict[str, torch.Tensor]:
    out = _decode(perturb_then_sample(_indexed_video(OUR_RUNS, 64, 1), name, severity, 16,
                                      torch.Generator().manual_seed(severity)))
    base = torch.arange(0, 64, 4)[None].expand_as(out)
    valid = out != PAD
    disp = ((out - base).abs() * valid).sum(1) / valid.sum(1)
    ordered = out.sort(1).values  # PAD (-1) first
    distinct = ((ordered[:, 1:] != ordered[:, :-1]) & (ordered[:, 1:] != PAD)).sum(1) + (ordered[:, 0] != PAD)
    return {"displacement": disp.double(), "distinct": distinct.double(), "pad": (~valid).sum(1).double()}


@pytest.mark.parametrize("key", sorted(SAMPLE_FRAMES))
def test_clip_sampling_equals_the_benchmarks_sample_frames(key):
    assert benchmark_sample_indices(*key).tolist() == SAMPLE_FRAMES[key]


@pytest.mark.parametrize("key", sorted(SAMPLING))
def test_sampling_and_reverse_sampling_equal_the_benchmark_with_zero_padding(key):
    name, t = key
    for severity in range(1, 6):
        got = _decode(perturb_then_sample(_indexed_video(2, t), name, severity, 16))
        assert got.tolist() == [SAMPLING[key][severity - 1]] * 2, severity


@pytest.mark.parametrize("name,stat", sorted(REFERENCE_STATS))
def test_random_temporal_perturbations_match_the_benchmarks_statistics(name, stat):
    for severity in range(1, 6):
        values = _stats(name, severity)[stat]
        ref_mean, ref_sd = REFERENCE_STATS[name, stat][severity - 1]
        se = math.sqrt(ref_sd**2 / REF_RUNS + float(values.var()) / OUR_RUNS)
        assert abs(float(values.mean()) - ref_mean) <= 4 * se + 1e-9, (severity, float(values.mean()), ref_mean)


def test_severity_is_monotone_at_64_source_frames_to_16():
    """Per the benchmark's definitions at T_src 64 -> 16: freeze keeps fewer distinct frames as severity rises;
    jumble (smaller segments) and box_jumble (larger blocks) move frames *less* far; sampling pads more."""
    for name, stat in (("freeze", "distinct"), ("jumble", "displacement"), ("box_jumble", "displacement")):
        means = [float(_stats(name, sev)[stat].mean()) for sev in range(1, 6)]
        assert all(a > b for a, b in zip(means, means[1:])), (name, means)
    pads = [int((_decode(perturb_then_sample(_indexed_video(1, 64), "sampling", s, 16)) == PAD).sum())
            for s in range(1, 6)]
    assert pads == [0, 0, 8, 12, 14]


def test_non_temporal_perturbations_sample_first_then_perturb():
    video = torch.rand(2, 3, 40, 16, 16, generator=torch.Generator().manual_seed(0))
    got = perturb_then_sample(video, "gaussian_noise", 3, 16, torch.Generator().manual_seed(7))
    clip = video[:, :, benchmark_sample_indices(40, 16)]
    want = VIDEO_PERTURBATIONS.get("gaussian_noise")(clip, 3, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(sample_clip(video, 16), clip)


def test_short_sources_are_padded_and_padding_is_not_perturbed():
    video = torch.rand(2, 3, 10, 16, 16, generator=torch.Generator().manual_seed(1))
    for name in ("gaussian_noise", "fog", "freeze"):
        out = perturb_then_sample(video, name, 2, 16, torch.Generator().manual_seed(2))
        assert out.shape == (2, 3, 16, 16, 16) and out.dtype == video.dtype
        pad = torch.tensor(PAD_VALUE)[None, :, None, None, None].expand(2, 3, 6, 16, 16)
        torch.testing.assert_close(out[:, :, 10:], pad)


def test_temporal_flag_and_needs_source_video():
    temporal = {n for n in VIDEO_PERTURBATIONS.list() if VIDEO_PERTURBATIONS.meta(n).get("temporal")}
    assert temporal == {"sampling", "reverse_sampling", "jumble", "box_jumble", "freeze"}
    assert all(needs_source_video(n) for n in temporal)
    assert not needs_source_video("gaussian_noise") and not needs_source_video("fog")


def test_bad_arguments_name_the_problem():
    from humanalign.perturb.corruptions import CorruptionError

    with pytest.raises(CorruptionError, match="num_frames"):
        perturb_then_sample(_indexed_video(1, 20).float(), "jumble", 1, 0)
    with pytest.raises(CorruptionError, match=r"\[B, 3, T, H, W\]"):
        perturb_then_sample(torch.rand(1, 3, 20, 8), "jumble", 1, 16)
    with pytest.raises(KeyError):
        perturb_then_sample(_indexed_video(1, 20).float(), "no_such_perturbation", 1, 16)

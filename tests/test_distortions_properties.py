"""Each parametric distortion's defining property, its seeding, and the benchmark's levels."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from humanalign.io.trials import canonical_conditions
from humanalign.perturb.distortions import (
    BG_GREY,
    CONDITION_LEVELS,
    DISTORTIONS,
    contrast,
    distort,
    eidolon,
    false_colour,
    greyscale,
    high_pass,
    low_pass,
    phase_scrambling,
    power_equalisation,
    rotation,
    uniform_noise,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=_gen(1), dtype=torch.float64)


def _band_power(grey: torch.Tensor, f_low: float, f_high: float) -> torch.Tensor:
    """Fourier power of ``[B, 1, H, W]`` between radial frequencies [f_low, f_high) cycles/pixel (DC excluded)."""
    h, w = grey.shape[-2:]
    f = torch.sqrt(torch.fft.fftfreq(h)[:, None] ** 2 + torch.fft.fftfreq(w)[None, :] ** 2)
    mask = (f >= f_low) & (f < f_high) & (f > 0)
    spec = torch.fft.fft2(grey - grey.mean(dim=(-2, -1), keepdim=True)).abs() ** 2
    return spec[..., mask].sum(dim=-1)


def test_rotation_is_an_exact_pixel_permutation(images: torch.Tensor) -> None:
    grey = greyscale(images)
    assert torch.equal(rotation(images, 0), grey)
    assert torch.equal(rotation(images, 180), grey.flip(2).flip(3))
    assert torch.equal(rotation(images, 90), grey.transpose(2, 3).flip(2))  # counter-clockwise
    assert torch.equal(torch.rot90(rotation(images, 90), k=3, dims=(2, 3)), grey)
    assert torch.equal(rotation(images, 270), torch.rot90(rotation(images, 90), k=2, dims=(2, 3)))
    with pytest.raises(ValueError, match="multiple of 90"):
        rotation(images, 45)


@pytest.mark.parametrize("level", [0.5, 0.1, 0.01])
def test_contrast_scales_variance_and_keeps_mid_grey(images: torch.Tensor, level: float) -> None:
    grey, out = greyscale(images), contrast(images, level)
    assert out.var().item() == pytest.approx(level**2 * grey.var().item(), rel=1e-9)
    assert out.mean().item() == pytest.approx((1 - level) / 2 + level * grey.mean().item(), rel=1e-9)


def _two_gratings(n: int = 96, f_low: float = 1 / 32, f_high: float = 0.375) -> tuple[torch.Tensor, ...]:
    _, x = torch.meshgrid(torch.arange(float(n)), torch.arange(float(n)), indexing="ij")
    low = torch.sin(2 * math.pi * f_low * x).to(torch.float64)
    high = torch.sin(2 * math.pi * f_high * x).to(torch.float64)
    img = (0.5 + 0.2 * low + 0.1 * high).expand(1, 3, n, n)
    return img, low, high


def _amplitude(grey: torch.Tensor, grating: torch.Tensor, margin: int) -> float:
    """Least-squares amplitude of ``grating`` in the interior of ``grey`` (away from the filled border)."""
    g = grating[margin:-margin, margin:-margin]
    y = grey[0, 0, margin:-margin, margin:-margin]
    return float(((y - y.mean()) * g).sum() / (g * g).sum())


def test_low_pass_removes_high_frequencies_keeps_low() -> None:
    img, low, high = _two_gratings()
    out = low_pass(img, 2.0)
    # Gaussian transfer exp(-2 pi^2 s^2 f^2): 0.969 at f = 1/32, ~1e-5 at f = 0.375
    assert _amplitude(out, low, 16) == pytest.approx(0.2 * math.exp(-2 * math.pi**2 * 4 / 32**2), rel=0.02)
    assert abs(_amplitude(out, high, 16)) < 1e-3
    assert torch.equal(low_pass(img, 0), greyscale(img))


def test_high_pass_removes_low_frequencies_keeps_high() -> None:
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    ramp = 0.5 + 0.2 * torch.sin(2 * math.pi * x / 32) + 0.05 * torch.sin(2 * math.pi * (x + y) / 2.5)
    img = ramp.to(torch.float64).expand(1, 3, 32, 32)
    grey = greyscale(img)[:, :1]
    out = high_pass(img, 1.0)[:, :1]
    assert (_band_power(out, 0.0, 0.05) < 0.05 * _band_power(grey, 0.0, 0.05)).all()
    assert (_band_power(out, 0.3, 1.0) > 0.5 * _band_power(grey, 0.3, 1.0)).all()
    assert out.mean().item() == pytest.approx(BG_GREY, abs=1e-6)
    assert torch.equal(high_pass(img, math.inf), greyscale(img))


def test_uniform_noise_bounded_centred_and_seeded(images: torch.Tensor) -> None:
    base = contrast(images, 0.3)  # in [0.35, 0.65]: width 0.2 never clips
    out = uniform_noise(images, 0.2, _gen(3))
    diff = out - base
    assert diff.abs().max() <= 0.2 + 1e-12
    assert diff[:, 0].mean().abs() < 0.01
    assert diff[:, 0].var().item() == pytest.approx(0.2**2 / 3, rel=0.1)
    assert torch.equal(out, uniform_noise(images, 0.2, _gen(3)))
    assert not torch.equal(out, uniform_noise(images, 0.2, _gen(4)))


def test_phase_scrambling_keeps_amplitudes_and_is_identity_at_zero(images: torch.Tensor) -> None:
    low = contrast(images, 0.05)  # mid-grey, low contrast: no clipping after scrambling
    out = phase_scrambling(low, 90, _gen(5))
    amp_in = torch.fft.fft2(greyscale(low)[:, 0]).abs()
    amp_out = torch.fft.fft2(out[:, 0]).abs()
    assert torch.allclose(amp_in, amp_out, atol=1e-9)
    assert not torch.allclose(out, greyscale(low), atol=1e-3)
    assert torch.allclose(phase_scrambling(images, 0, _gen(5)), greyscale(images), atol=1e-12)


def test_power_equalisation_sets_amplitude_spectrum(images: torch.Tensor) -> None:
    low = contrast(images, 0.1)
    target = torch.fft.fft2(greyscale(low)[:, 0]).abs().mean(dim=0)
    out = power_equalisation(low)
    assert torch.allclose(torch.fft.fft2(out[:, 0]).abs(), target.expand(2, -1, -1), atol=1e-9)
    with pytest.raises(ValueError, match="amplitude spectrum shape"):
        power_equalisation(images, torch.ones(8, 8))


def test_false_colour_is_an_involution_that_keeps_luminance() -> None:
    img = 0.5 + 0.05 * (torch.rand(1, 3, 8, 8, generator=_gen(6), dtype=torch.float64) - 0.5)  # no clipping
    out = false_colour(img)
    assert not torch.allclose(out, img, atol=1e-4)
    assert torch.allclose(false_colour(out), img, atol=1e-9)
    m = torch.tensor([[0.1619982647, 0.208049264, 0.0389347448], [0.0330275785, 0.2496504557, 0.0618343518]],
                     dtype=torch.float64)
    lum = lambda x: torch.einsum("ij,bjhw->bihw", m, x).sum(dim=1)  # noqa: E731  L + M cone activity
    assert torch.allclose(lum(out), lum(img), atol=1e-9)


def test_eidolon_reach_zero_is_identity_and_reach_grows_disarray(images: torch.Tensor) -> None:
    grey = greyscale(images)
    assert torch.allclose(eidolon(images, 0.0, 0.3, 10.0, _gen(7)), grey, atol=1e-6)
    errors = [(eidolon(images, r, 1.0, 4.0, _gen(7)) - grey).abs().mean().item() for r in (0.5, 2.0, 8.0)]
    assert errors[0] < errors[1] < errors[2]
    assert torch.equal(eidolon(images, 4.0, 0.0, 10.0, _gen(8)), eidolon(images, 4.0, 0.0, 10.0, _gen(8)))


def test_distort_checks_inputs(images: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="explicit torch.Generator"):
        distort(images, "uniform-noise", 0.1)
    with pytest.raises(KeyError, match="unknown distortion 'blur'"):
        distort(images, "blur", 1)
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        distort(images[:, :1], "contrast", 0.5)
    for name, levels in CONDITION_LEVELS.items():
        out = distort(images.float(), name, levels[-1], generator=_gen(9))
        assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1


@pytest.mark.shared_data
def test_levels_match_the_benchmark_conditions(mvh_raw_data: Path) -> None:
    import pandas as pd

    assert set(DISTORTIONS) == set(CONDITION_LEVELS)
    numeric = {"high-pass", "low-pass", "phase-scrambling", "rotation", "uniform-noise"}
    for name in numeric:
        raw = pd.read_csv(next((mvh_raw_data / name).glob("*resnet50*.csv")), dtype=str)["condition"]
        want = sorted(set(canonical_conditions(raw)))
        got = sorted(set(canonical_conditions(pd.Series([str(v) for v in CONDITION_LEVELS[name]]))))
        assert got == want, name
    assert len(CONDITION_LEVELS["contrast"]) == 8 and len(CONDITION_LEVELS["eidolonI"]) == 8

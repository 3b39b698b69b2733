"""Data-set statistics checked against closed forms and independent implementations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from skimage.color import rgb2lab

from humanalign.compare.datastats import (
    dataset_statistics,
    frame_diversity,
    frechet_distance,
    frechet_from_stats,
    gaussian_kl,
    lab_symmetric_kl,
    spectrum_alpha,
    srgb_to_lab,
)
from humanalign.report.plots_datastats import plot_datastats


def _power_law_noise(alpha: float, n: int = 4, size: int = 128, seed: int = 0) -> np.ndarray:
    """Isotropic Gaussian noise with amplitude spectrum f^-alpha, as RGB frames [n, S, S, 3]."""
    rng = np.random.default_rng(seed)
    f = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2)
    f[0, 0] = 1.0
    spectrum = np.fft.fft2(rng.standard_normal((n, size, size))) / f**alpha
    gray = np.real(np.fft.ifft2(spectrum))
    return np.repeat(gray[..., None], 3, axis=-1)


@pytest.mark.parametrize("alpha", [0.8, 1.0, 1.5, 2.0])
def test_spectrum_alpha_recovers_generated_exponent(alpha):
    assert abs(spectrum_alpha(_power_law_noise(alpha)) - alpha) < 0.05


def test_lab_conversion_matches_skimage():
    rgb = np.random.default_rng(1).integers(0, 256, (500, 3), dtype=np.uint8)
    ref = rgb2lab(rgb[None].astype(np.float64) / 255.0)[0]
    assert np.abs(srgb_to_lab(rgb) - ref).max() < 0.05


def test_lab_kl_zero_for_identical_sets_and_symmetric():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) // 2 + 60, 0, 255).astype(np.uint8)
    assert abs(lab_symmetric_kl(a, a)) < 1e-9
    assert lab_symmetric_kl(a, b) > 0.1
    assert lab_symmetric_kl(a, b) == pytest.approx(lab_symmetric_kl(b, a), rel=1e-12)


def test_gaussian_kl_matches_monte_carlo():
    m0, m1 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.0, 0.0])
    c0 = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.2], [0.0, 0.2, 0.5]])
    c1 = np.diag([2.0, 1.0, 1.5])
    x = sps.multivariate_normal(m0, c0).rvs(200_000, random_state=3)
    mc = np.mean(sps.multivariate_normal(m0, c0).logpdf(x) - sps.multivariate_normal(m1, c1).logpdf(x))
    assert gaussian_kl(m0, c0, m1, c1, ridge=0.0) == pytest.approx(mc, rel=0.02)


def test_frechet_distance_closed_form_and_self():
    m1, m2 = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    s1, s2 = np.array([1.0, 2.0]), np.array([3.0, 0.5])
    expected = np.sum((m1 - m2) ** 2) + np.sum((s1 - s2) ** 2)  # diagonal covariances
    assert frechet_from_stats(m1, np.diag(s1**2), m2, np.diag(s2**2)) == pytest.approx(expected, rel=1e-9)
    feats = np.random.default_rng(4).standard_normal((300, 8))
    assert frechet_distance(feats, feats) < 1e-6
    with pytest.raises(ValueError, match="equal D"):
        frechet_distance(feats, feats[:, :4])


def test_frame_diversity_is_logdet_of_covariance():
    sigma = 1.7
    feats = np.random.default_rng(5).standard_normal((40_000, 4)) * sigma
    assert frame_diversity(feats) == pytest.approx(4 * np.log(sigma**2), abs=0.05)
    assert frame_diversity(feats * 2) == pytest.approx(frame_diversity(feats) + 4 * np.log(4), abs=1e-5)


def test_dataset_statistics_with_a_tiny_video_encoder():
    from humanalign.registry import MODELS

    clips = np.random.default_rng(6).integers(0, 256, (6, 4, 32, 32, 3), dtype=np.uint8)
    encoder = MODELS.build("vit_test_video").eval()
    out = dataset_statistics(clips, encoder=encoder, reference=clips)
    assert set(out) == {"spectrum_alpha", "lab_symmetric_kl", "frame_diversity", "fid", "fvd"}
    assert abs(out["lab_symmetric_kl"]) < 1e-9 and out["fid"] < 1e-3 and out["fvd"] < 1e-3
    assert abs(out["spectrum_alpha"]) < 0.3  # white noise has a flat spectrum


def test_plot_datastats_panels_and_errors():
    rows = pd.DataFrame({
        "model": ["m"] * 4, "dataset": ["synthetic_stage1", "synthetic_stage2"] * 2,
        "metric": ["spectrum_alpha"] * 2 + ["fid"] * 2, "value": [1.0, 1.2, 0.0, 3.0],
    })
    fig = plot_datastats(rows)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="no known"):
        plot_datastats(rows.assign(metric="other"))


def test_encoded_frames_and_clips_equal_the_encoders_own_forward_on_torchvision_resized_inputs():
    """Frames and clips go through features.extract: torchvision's shorter-side resize + centre crop, the
    encoder's normalisation and frame resampling, then ``encode`` (mean pooling) give the same features."""
    import torch
    from torchvision.transforms.v2 import functional as TF

    from humanalign.compare.datastats import encode_clips, encode_frames
    from humanalign.registry import MODELS

    torch.manual_seed(0)
    encoder = MODELS.build("vit_test_video").eval()
    size, frames_needed = encoder.img_size, encoder.num_frames
    clips = np.random.default_rng(7).integers(0, 256, (3, 2 * frames_needed, 40, 56, 3), dtype=np.uint8)
    mean = torch.tensor(encoder.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(encoder.input_std).view(1, 3, 1, 1)

    def reference(frames: np.ndarray) -> torch.Tensor:  # [F, H, W, 3] -> [F, 3, S, S] normalised
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
        x = TF.center_crop(TF.resize(x, size, antialias=True), [size, size])
        return (x - mean) / std

    frames = clips[:, 0]
    with torch.no_grad():
        expected_frames = encoder.encode(reference(frames), pool="mean").numpy()
        pick = np.linspace(0, clips.shape[1] - 1, frames_needed).round().astype(int)
        expected_clips = torch.stack([encoder.encode(reference(c[pick]).transpose(0, 1)[None], pool="mean")[0]
                                      for c in clips]).numpy()
    np.testing.assert_allclose(encode_frames(encoder, frames, batch_size=2), expected_frames, atol=1e-5)
    np.testing.assert_allclose(encode_clips(encoder, clips, batch_size=2), expected_clips, atol=1e-5)

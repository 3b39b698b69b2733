"""Low-level statistics of video data sets (Yu, Chen & Gandelsman 2024, section 5).

* :func:`spectrum_alpha` - exponent of the frames' radially averaged amplitude spectrum ``~ 1/f^alpha``
  (natural images: about 1).
* :func:`lab_symmetric_kl` - colour distance: symmetric KL divergence (sum of both directions)
  between 3-D Gaussians fitted to the pixels in CIE L*a*b* (D65).
* :func:`frame_diversity` - log-determinant of the covariance of frame features.
* :func:`frechet_distance` - FID / FVD-style distance between Gaussians fitted to features of two
  sets, in the feature space of any encoder (frame features for FID, clip features for FVD).

Frames and clips are uint8 arrays ``[N, H, W, 3]`` / ``[N, T, H, W, 3]``; features come from any observer
(a model spec, a suite encoder) through :func:`humanalign.features.extract` (no weights are downloaded here).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import scipy.linalg

__all__ = [
    "to_gray",
    "radial_amplitude_spectrum",
    "spectrum_alpha",
    "srgb_to_lab",
    "lab_gaussian",
    "gaussian_kl",
    "lab_symmetric_kl",
    "frame_diversity",
    "frechet_from_stats",
    "frechet_distance",
    "encode_frames",
    "encode_clips",
    "dataset_statistics",
    "statistics_rows",
]

logger = logging.getLogger(__name__)

_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array([
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
])  # fmt: skip


def _check_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name}: expected [N, H, W, 3], got shape {frames.shape}")
    if len(frames) == 0:
        raise ValueError(f"{name}: empty")
    return frames


def to_gray(frames: np.ndarray) -> np.ndarray:
    """Luma (ITU-R BT.601 weights) of RGB frames [N, H, W, 3] -> float64 [N, H, W] in the input's units."""
    frames = _check_frames(frames)
    return frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def radial_amplitude_spectrum(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean amplitude spectrum of images [N, H, W], averaged over rings of integer radius.

    Returns:
        (frequency in cycles per image [K], mean amplitude [K]) for radii 1 .. min(H, W) // 2.
    """
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 3:
        raise ValueError(f"expected grey images [N, H, W], got shape {gray.shape}")
    n, h, w = gray.shape
    centred = gray - gray.mean(axis=(1, 2), keepdims=True)
    amplitude = np.abs(np.fft.fft2(centred)).mean(axis=0)  # [H, W]
    fy = np.fft.fftfreq(h) * h
    fx = np.fft.fftfreq(w) * w
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    ring = np.rint(radius).astype(int)
    top = min(h, w) // 2
    sums = np.bincount(ring.ravel(), weights=amplitude.ravel(), minlength=top + 1)
    counts = np.bincount(ring.ravel(), minlength=top + 1)
    k = np.arange(1, top + 1)
    return k.astype(np.float64), sums[k] / np.maximum(counts[k], 1)


def spectrum_alpha(frames: np.ndarray, fmin: float = 2.0, fmax_fraction: float = 0.8) -> float:
    """Exponent alpha of a least-squares fit ``log A(f) = c - alpha log f``.

    Args:
        frames: uint8 or float RGB frames [N, H, W, 3].
        fmin: Lowest frequency used in the fit (cycles per image).
        fmax_fraction: Highest frequency used, as a fraction of the Nyquist frequency.
    """
    freq, amp = radial_amplitude_spectrum(to_gray(frames))
    keep = (freq >= fmin) & (freq <= fmax_fraction * freq.max()) & (amp > 0)
    if keep.sum() < 3:
        raise ValueError(f"too few frequencies to fit a spectrum slope (frames of {frames.shape[1:3]})")
    slope, _ = np.polyfit(np.log(freq[keep]), np.log(amp[keep]), 1)
    return float(-slope)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (uint8 0..255 or float 0..1) [..., 3] -> CIE L*a*b* (D65 white) float64 [..., 3]."""
    rgb = np.asarray(rgb)
    x = rgb.astype(np.float64) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float64)
    linear = np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = linear @ _RGB_TO_XYZ.T / _D65_WHITE
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], -1)


def lab_gaussian(frames: np.ndarray, max_pixels: int = 200_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean [3] and covariance [3, 3] of the L*a*b* values of (a seeded subsample of) all pixels."""
    pixels = _check_frames(frames).reshape(-1, 3)
    if len(pixels) > max_pixels:
        pick = np.random.default_rng(seed).choice(len(pixels), size=max_pixels, replace=False)
        pixels = pixels[pick]
    lab = srgb_to_lab(pixels)
    return lab.mean(axis=0), np.cov(lab, rowvar=False)


def gaussian_kl(mean0: np.ndarray, cov0: np.ndarray, mean1: np.ndarray, cov1: np.ndarray,
                ridge: float = 1e-6) -> float:
    """KL(N0 || N1) between multivariate Gaussians (a small ridge keeps flat sets finite)."""
    k = len(mean0)
    cov0 = np.asarray(cov0, dtype=np.float64) + ridge * np.eye(k)
    cov1 = np.asarray(cov1, dtype=np.float64) + ridge * np.eye(k)
    diff = np.asarray(mean1, dtype=np.float64) - np.asarray(mean0, dtype=np.float64)
    solve = np.linalg.solve(cov1, np.column_stack([cov0, diff]))
    _, logdet0 = np.linalg.slogdet(cov0)
    _, logdet1 = np.linalg.slogdet(cov1)
    return float(0.5 * (np.trace(solve[:, :k]) + diff @ solve[:, k] - k + logdet1 - logdet0))


def lab_symmetric_kl(frames_a: np.ndarray, frames_b: np.ndarray, max_pixels: int = 200_000) -> float:
    """KL(A || B) + KL(B || A) between Gaussian fits to the two sets' L*a*b* pixels."""
    ma, ca = lab_gaussian(frames_a, max_pixels)
    mb, cb = lab_gaussian(frames_b, max_pixels)
    return gaussian_kl(ma, ca, mb, cb) + gaussian_kl(mb, cb, ma, ca)


def frame_diversity(features: np.ndarray, ridge: float = 1e-6) -> float:
    """Log-determinant of the feature covariance ``[D, D]`` (plus ``ridge * I``) of features [N, D]."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"expected features [N >= 2, D], got shape {features.shape}")
    cov = np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])
    sign, logdet = np.linalg.slogdet(cov + ridge * np.eye(cov.shape[0]))
    return float(logdet)


def frechet_from_stats(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    """``|m1 - m2|^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))`` (the FID formula)."""
    diff = np.asarray(mean1, dtype=np.float64) - np.asarray(mean2, dtype=np.float64)
    cov1 = np.atleast_2d(cov1).astype(np.float64)
    cov2 = np.atleast_2d(cov2).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # singular when N <= D; handled below
        root = scipy.linalg.sqrtm(cov1 @ cov2)
        if not np.isfinite(root).all():  # near-singular product: regularise as in the reference FID code
            offset = np.eye(cov1.shape[0]) * 1e-6
            root = scipy.linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    root = np.real(root)
    return float(max(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(root), 0.0))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussian fits to two feature sets [Na, D], [Nb, D]."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be [N, D] with equal D, got {a.shape} and {b.shape}")
    return frechet_from_stats(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def _encoded(encoder: Any, arrays: np.ndarray, batch_size: int, what: str) -> np.ndarray:
    """Mean-pooled ``final`` features of in-memory uint8 frames or clips through :func:`features.extract`
    (the encoder's contract resize and centre crop, fp32, not cached): ``[N, D]``."""
    import pandas as pd

    from humanalign.features.extract import extract
    from humanalign.models.observers import as_observer
    from humanalign.stimuli.base import StimulusSet

    observer = as_observer(encoder)
    table = pd.DataFrame({"stimulus_id": [f"{what}{i}" for i in range(len(arrays))], "index": range(len(arrays))})
    items = StimulusSet(what, table, loader=lambda row: arrays[int(row["index"])])
    feats = extract(observer, items, layers=["final"], pooling="mean", batch_size=batch_size, use_cache=False,
                    device=observer.device, crop_fraction=1.0, dtype="fp32", progress=False)
    return feats["final"]


def encode_frames(encoder: Any, frames: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Mean-pooled features of frames [N, H, W, 3] (resized and centre-cropped to the encoder's size): [N, D].

    ``encoder`` is an observer, a model spec or a suite encoder; features come from the one feature path.
    """
    return _encoded(encoder, _check_frames(frames), batch_size, "frame")


def encode_clips(encoder: Any, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Mean-pooled features of clips [N, T, H, W, 3] with a video encoder: [N, D].

    Frames are resampled uniformly to the encoder's frame count and resized and centre-cropped to its size.

    Raises:
        ValueError: for an image encoder or clips of the wrong shape.
    """
    from humanalign.models.observers import as_observer

    clips = np.asarray(clips)
    if clips.ndim != 5 or clips.shape[-1] != 3:
        raise ValueError(f"clips: expected [N, T, H, W, 3], got shape {clips.shape}")
    observer = as_observer(encoder)
    if not observer.is_video:
        raise ValueError("clip (FVD-style) features need a video encoder")
    pick = np.linspace(0, clips.shape[1] - 1, observer.contract.frames).round().astype(int)
    return _encoded(observer, clips[:, pick], batch_size, "clip")


def _frames_of(clips: np.ndarray, per_clip: int) -> np.ndarray:
    pick = np.linspace(0, clips.shape[1] - 1, min(per_clip, clips.shape[1])).round().astype(int)
    return clips[:, pick].reshape(-1, *clips.shape[2:])


def dataset_statistics(
    clips: np.ndarray,
    encoder: Any | None = None,
    reference: np.ndarray | None = None,
    frames_per_clip: int = 4,
) -> dict[str, float]:
    """All statistics of a set of clips, optionally against a reference set.

    Args:
        clips: uint8 [N, T, H, W, 3].
        encoder: Encoder for feature statistics (diversity, FID, FVD); None skips them.
        reference: uint8 clips [M, T', H', W', 3] (e.g. natural videos; images as T' = 1) for the
            colour KL, FID and FVD; None skips them.
        frames_per_clip: Frames per clip (evenly spaced) used for frame statistics.

    Returns:
        ``spectrum_alpha``, and where possible ``frame_diversity``, ``lab_symmetric_kl``, ``fid``, ``fvd``.
    """
    clips = np.asarray(clips)
    if clips.ndim != 5:
        raise ValueError(f"clips: expected [N, T, H, W, 3], got shape {clips.shape}")
    frames = _frames_of(clips, frames_per_clip)
    stats = {"spectrum_alpha": spectrum_alpha(frames)}
    ref_frames = _frames_of(np.asarray(reference), frames_per_clip) if reference is not None else None
    if ref_frames is not None:
        stats["lab_symmetric_kl"] = lab_symmetric_kl(frames, ref_frames)
    if encoder is not None:
        from humanalign.models.observers import as_observer

        encoder = as_observer(encoder)  # once: its weights hash and layer table serve every call
        feats = encode_frames(encoder, frames)
        stats["frame_diversity"] = frame_diversity(feats)
        if ref_frames is not None:
            stats["fid"] = frechet_distance(feats, encode_frames(encoder, ref_frames))
            if encoder.is_video:
                stats["fvd"] = frechet_distance(encode_clips(encoder, clips), encode_clips(encoder, reference))
    return stats


def statistics_rows(stats: dict[str, float], model: str, dataset: str, condition: str, n: int, seed: int,
                    config_hash: str = "", checkpoint_hash: str = "") -> list[dict[str, Any]]:
    """Long-format metric rows (results-store schema) for a statistics dict."""
    return [
        {"model": model, "checkpoint_hash": checkpoint_hash, "layer": "final", "benchmark": "synthetic_datastats",
         "dataset": dataset, "condition": condition, "metric": metric, "value": float(value), "ci_low": None,
         "ci_high": None, "n": n, "seed": seed, "config_hash": config_hash}
        for metric, value in stats.items()
    ]

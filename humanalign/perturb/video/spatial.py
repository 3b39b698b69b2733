"""Per-frame spatial perturbations of UCF101-P / Kinetics-P (Schiappa et al. 2023): noise, blur, JPEG.

The published benchmark (``ActionRecognitionRobustnessEval/core/video_perturb.py``) applies the
ImageNet-C functions frame by frame with fresh random draws (our ``dynamic`` mode, the default),
with two changed constants: shot noise uses 250, 100, 50, 30, 15 photons and speckle noise sigma
0.15, 0.2, 0.25, 0.3, 0.35. All others keep the ImageNet-C constants.
"""

from __future__ import annotations

import logging

import torch

from humanalign.perturb.corruptions import blur, digital, noise
from humanalign.perturb.corruptions._common import per_severity
from humanalign.perturb.video.clip import register_lifted

__all__ = ["VIDEO_SHOT_NOISE_PHOTONS", "VIDEO_SPECKLE_NOISE_SIGMA", "video_shot_noise_frames",
           "video_speckle_noise_frames"]

logger = logging.getLogger(__name__)

VIDEO_SHOT_NOISE_PHOTONS = (250.0, 100.0, 50.0, 30.0, 15.0)
VIDEO_SPECKLE_NOISE_SIGMA = (0.15, 0.2, 0.25, 0.3, 0.35)


@per_severity("shot_noise (video)", VIDEO_SHOT_NOISE_PHOTONS)
def video_shot_noise_frames(x: torch.Tensor, photons: float,
                            generator: torch.Generator | None) -> torch.Tensor:
    """Shot noise with the video benchmark's photon counts; ``[N, 3, H, W] -> same``."""
    return noise.add_shot_noise(x, photons, generator)


@per_severity("speckle_noise (video)", VIDEO_SPECKLE_NOISE_SIGMA)
def video_speckle_noise_frames(x: torch.Tensor, sigma: float,
                               generator: torch.Generator | None) -> torch.Tensor:
    """Speckle noise with the video benchmark's sigmas; ``[N, 3, H, W] -> same``."""
    return noise.add_speckle_noise(x, sigma, generator)


_PER_FRAME = {
    "gaussian_noise": (noise.gaussian_noise, "noise", noise.GAUSSIAN_NOISE_SIGMA),
    "shot_noise": (video_shot_noise_frames, "noise", VIDEO_SHOT_NOISE_PHOTONS),
    "impulse_noise": (noise.impulse_noise, "noise", noise.IMPULSE_NOISE_AMOUNT),
    "speckle_noise": (video_speckle_noise_frames, "noise", VIDEO_SPECKLE_NOISE_SIGMA),
    "defocus_blur": (blur.defocus_blur, "blur", blur.DEFOCUS_BLUR),
    "motion_blur": (blur.motion_blur, "blur", blur.MOTION_BLUR),
    "zoom_blur": (blur.zoom_blur, "blur", blur.ZOOM_BLUR_FACTORS),
    "jpeg_compression": (digital.jpeg_compression, "digital", digital.JPEG_QUALITY),
}

for _name, (_fn, _family, _constants) in _PER_FRAME.items():
    register_lifted(_name, _fn, family=_family, constants=_constants, default_mode="dynamic")

"""Video perturbations (UCF101-P / Kinetics-P family, Schiappa et al. 2023) and the clip wrapper.

Registered in :data:`humanalign.registry.VIDEO_PERTURBATIONS`; each is called as
``fn(clips, severity, generator=g, mode=None)`` with float clips ``[B, 3, T, H, W]`` in [0, 1].
``mode`` is "coherent" (one parameter draw per clip) or "dynamic" (a fresh draw per frame); None
uses the perturbation's default (registry metadata ``default_mode``). Families: noise, blur,
digital (per-frame JPEG, whole-clip H.264 / MPEG-4), camera, temporal. Any image corruption of
:data:`humanalign.registry.CORRUPTIONS` lifts to clips with :func:`corrupt_clip`.

The benchmark's order (temporal perturbations on the whole decoded video, then clip sampling with zero
padding; everything else on the sampled clip) is :func:`perturb_then_sample` in ``source.py``.
"""

from __future__ import annotations

from humanalign.perturb.video import camera, codec, spatial, temporal  # noqa: F401 (register)
from humanalign.perturb.video.clip import apply_per_frame, corrupt_clip, lift
from humanalign.perturb.video.source import needs_source_video, perturb_then_sample, sample_clip

__all__ = ["VIDEO_FAMILIES", "apply_per_frame", "corrupt_clip", "lift", "needs_source_video",
           "perturb_then_sample", "sample_clip"]

VIDEO_FAMILIES = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"),
    "blur": ("defocus_blur", "motion_blur", "zoom_blur"),
    "digital": ("jpeg_compression", "h264_compression", "mpeg_compression"),
    "camera": ("translate", "shake", "static_rotate", "rotate"),
    "temporal": ("sampling", "reverse_sampling", "jumble", "box_jumble", "freeze"),
}

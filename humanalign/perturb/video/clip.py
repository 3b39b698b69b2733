"""The clip wrapper: lift any per-frame image corruption to video clips ``[B, 3, T, H, W]``.

Two modes:

* ``coherent``: one parameter draw per clip. Every frame is corrupted with the generator reset to
  the same state, so all frames get identical random draws (same noise field, fog field, crop,
  angle, frost texture). A static clip stays static.
* ``dynamic``: a fresh draw per frame (all ``B * T`` frames corrupted as one image batch), as sensor
  noise behaves and as the published UCF101-P / Kinetics-P benchmark applies its per-frame ops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import torch

from humanalign.perturb.corruptions._common import CorruptionError, check_batch
from humanalign.registry import CORRUPTIONS, VIDEO_PERTURBATIONS

__all__ = ["Mode", "ImageFn", "BENCHMARK_SOURCE", "check_clips", "check_mode", "ensure_generator",
           "apply_per_frame", "lift", "register_lifted", "corrupt_clip"]

logger = logging.getLogger(__name__)

Mode = Literal["coherent", "dynamic"]
ImageFn = Callable[..., torch.Tensor]
BENCHMARK_SOURCE = "Schiappa et al. 2023 (UCF101-P / Kinetics-P)"


def check_clips(clips: torch.Tensor, name: str) -> torch.Tensor:
    """Validate a float clip batch ``[B, 3, T, H, W]`` in [0, 1] and return it."""
    return check_batch(clips, name, "[B, 3, T, H, W]", "clips")


def check_mode(mode: str, name: str) -> str:
    """Return ``mode`` if it is "coherent" or "dynamic", else raise naming the perturbation."""
    if mode not in ("coherent", "dynamic"):
        raise CorruptionError(f"{name}: mode must be 'coherent' or 'dynamic', got {mode!r}")
    return mode


def ensure_generator(generator: torch.Generator | None, device: torch.device) -> torch.Generator:
    """The given generator, or a new one on ``device`` seeded from torch's global RNG."""
    if generator is not None:
        return generator
    seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator(device=device).manual_seed(seed)


def apply_per_frame(fn: ImageFn, clips: torch.Tensor, severity: int, generator: torch.Generator | None,
                    mode: str, name: str = "clip corruption") -> torch.Tensor:
    """Apply image function ``fn(images [N, 3, H, W], severity, generator=g)`` to every frame.

    Args:
        fn: A per-frame image corruption.
        clips: Float clips ``[B, 3, T, H, W]`` in [0, 1].
        severity: 1..5, passed to ``fn``.
        generator: Seeded generator on the clips' device (None: seeded from the global RNG).
        mode: "coherent" (one draw per clip) or "dynamic" (a fresh draw per frame).
        name: Used in error messages.

    Returns:
        Corrupted clips ``[B, 3, T, H, W]``.
    """
    clips = check_clips(clips, name)
    check_mode(mode, name)
    b, c, t, h, w = clips.shape
    g = ensure_generator(generator, clips.device)
    if mode == "dynamic":
        frames = clips.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)  # [B*T, 3, H, W]
        out = fn(frames, severity, generator=g)
        return out.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)
    state = g.get_state()
    outs = []
    for i in range(t):
        g.set_state(state)
        outs.append(fn(clips[:, :, i], severity, generator=g))  # [B, 3, H, W]
    return torch.stack(outs, 2)


def lift(fn: ImageFn, default_mode: str = "dynamic", name: str = "clip corruption") -> ImageFn:
    """Turn an image corruption into a clip perturbation ``f(clips, severity, generator=None, mode=None)``."""

    def clip_fn(clips: torch.Tensor, severity: int, generator: torch.Generator | None = None,
                mode: str | None = None) -> torch.Tensor:
        return apply_per_frame(fn, clips, severity, generator, mode or default_mode, name)

    clip_fn.__name__ = f"clip_{getattr(fn, '__name__', 'corruption')}"
    clip_fn.__doc__ = f"Clip version of {name!r} (default mode {default_mode!r}); see ``apply_per_frame``."
    return clip_fn


def register_lifted(name: str, fn: ImageFn, *, family: str, constants: tuple, default_mode: str,
                    source: str = BENCHMARK_SOURCE) -> ImageFn:
    """Register ``lift(fn, default_mode, name)`` as video perturbation ``name`` and return it."""
    clip_fn = lift(fn, default_mode, name)
    VIDEO_PERTURBATIONS.register(name, clip_fn, family=family, constants=constants, default_mode=default_mode,
                                 source=source)
    return clip_fn


def corrupt_clip(clips: torch.Tensor, name: str, severity: int, generator: torch.Generator | None = None,
                 mode: str = "coherent") -> torch.Tensor:
    """Apply the registered *image* corruption ``name`` to every frame of ``clips [B, 3, T, H, W]``.

    Raises:
        humanalign.registry.UnknownNameError: for an unknown corruption name.
    """
    return apply_per_frame(CORRUPTIONS.get(name), clips, severity, generator, mode, name)

"""Temporal perturbations of UCF101-P / Kinetics-P (Schiappa et al. 2023). Clip length T is kept.

Severity definitions (pinned to the benchmark code, ``core/video_perturb.py``):

* ``sampling``: keep every r-th frame, r = 2, 4, 8, 16, 32, each held r times (frame-rate drop).
* ``reverse_sampling``: ``sampling`` played backwards.
* ``jumble``: frames shuffled within consecutive segments of 32, 16, 8, 4, 2 frames.
* ``box_jumble``: the order of consecutive segments of (s + 1)^2 = 4, 9, 16, 25, 36 frames shuffled.
* ``freeze``: k = int(0.4 T), int(0.2 T), int(0.1 T), int(max(0.05 T, 2)), 1 frames drawn (frame 0
  always among them), each held until the next drawn frame.

Every op only re-indexes frames (a permutation or a hold), with one random draw per clip; the
``mode`` argument is accepted for a uniform signature and ignored.

These registered functions are the *clip-level* form (input and output have the same T; ``sampling`` holds
frames, ``freeze`` always keeps frame 0). They are not the benchmark's protocol, which perturbs the whole
decoded video before sampling the clip: use :func:`humanalign.perturb.video.source.perturb_then_sample` for
that. All five carry registry metadata ``temporal=True`` (see ``needs_source_video``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from humanalign.perturb.corruptions._common import check_severity, pick
from humanalign.perturb.video.clip import BENCHMARK_SOURCE, check_clips, ensure_generator
from humanalign.registry import VIDEO_PERTURBATIONS

__all__ = ["SAMPLING_RATE", "JUMBLE_SEGMENT", "BOX_JUMBLE_SEGMENT", "temporal_indices", "cpu_generator", "sampling",
           "reverse_sampling", "jumble", "box_jumble", "freeze"]

logger = logging.getLogger(__name__)

SAMPLING_RATE = (2, 4, 8, 16, 32)
JUMBLE_SEGMENT = (32, 16, 8, 4, 2)
BOX_JUMBLE_SEGMENT = (4, 9, 16, 25, 36)


def _freeze_count(t: int, severity: int) -> int:
    return max(1, int((0.4 * t, 0.2 * t, 0.1 * t, max(0.05 * t, 2), 1)[severity - 1]))


def temporal_indices(name: str, b: int, t: int, severity: int, generator: torch.Generator) -> torch.Tensor:
    """Frame indices ``[B, T]`` of temporal perturbation ``name`` (output frame i = input frame idx[i])."""
    s = check_severity(severity, name)
    base = torch.arange(t)
    if name in ("sampling", "reverse_sampling"):
        r = pick(SAMPLING_RATE, s)
        idx = (base // r) * r
        if name == "reverse_sampling":
            idx = idx.flip(0)
        return idx.expand(b, t).clone()
    rows = []
    for _ in range(b):
        if name == "jumble":
            seg = pick(JUMBLE_SEGMENT, s)
            parts = [start + torch.randperm(min(seg, t - start), generator=generator) for start in range(0, t, seg)]
            rows.append(torch.cat(parts))
        elif name == "box_jumble":
            seg = pick(BOX_JUMBLE_SEGMENT, s)
            parts = [torch.arange(start, min(start + seg, t)) for start in range(0, t, seg)]
            order = torch.randperm(len(parts), generator=generator)
            rows.append(torch.cat([parts[int(i)] for i in order]))
        elif name == "freeze":
            k = min(_freeze_count(t, s), t)
            keep = torch.randperm(t, generator=generator)[:k]
            keep = torch.unique(torch.cat([keep, torch.zeros(1, dtype=torch.long)]))  # sorted, has frame 0
            held = torch.zeros(t, dtype=torch.long)
            held[keep] = keep
            rows.append(torch.cummax(held, 0).values)
        else:
            raise KeyError(f"unknown temporal perturbation {name!r}")
    return torch.stack(rows)


def cpu_generator(generator: torch.Generator | None) -> torch.Generator:
    """Index draws happen on the CPU: use a CPU generator as is, else derive one from it."""
    if generator is not None and generator.device.type == "cpu":
        return generator
    if generator is None:
        return ensure_generator(None, torch.device("cpu"))
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    return torch.Generator().manual_seed(seed)


def _make(name: str) -> Callable[..., torch.Tensor]:
    """The registered clip function of temporal perturbation ``name``."""
    def fn(clips: torch.Tensor, severity: int, generator: torch.Generator | None = None,
           mode: str | None = None) -> torch.Tensor:
        x = check_clips(clips, name)
        b, c, t, h, w = x.shape
        g = cpu_generator(generator)
        idx = temporal_indices(name, b, t, severity, g).to(x.device)  # [B, T]
        return x.gather(2, idx[:, None, :, None, None].expand(b, c, t, h, w))

    fn.__name__ = name
    fn.__doc__ = f"Temporal perturbation {name!r} of clips ``[B, 3, T, H, W]`` (see module docstring)."
    return fn


sampling = _make("sampling")
reverse_sampling = _make("reverse_sampling")
jumble = _make("jumble")
box_jumble = _make("box_jumble")
freeze = _make("freeze")

for _fn, _constants in ((sampling, SAMPLING_RATE), (reverse_sampling, SAMPLING_RATE), (jumble, JUMBLE_SEGMENT),
                        (box_jumble, BOX_JUMBLE_SEGMENT), (freeze, ("0.4T", "0.2T", "0.1T", "max(0.05T,2)", 1))):
    VIDEO_PERTURBATIONS.register(_fn.__name__, _fn, family="temporal", constants=_constants,
                                 source=BENCHMARK_SOURCE, temporal=True)

"""The UCF101-P / Kinetics-P protocol on a decoded source video: perturb, then sample the clip.

The benchmark (Schiappa et al. 2023, ``Maddy12/ActionRecognitionRobustnessEval``, ``core/build_dataset.py``
``read_frames_decord`` with ``core/video_perturb.py``) decodes *every* frame of a video, applies a temporal
perturbation to the whole video, then samples ``num_frames`` from the result and zero-pads at the end when
fewer remain. Non-temporal perturbations act on the sampled frames. :func:`perturb_then_sample` does both, for
a batch of source videos ``[B, 3, T_src, H, W]``, by composing frame indices: only the ``num_frames`` output
frames per video are ever gathered.

Per temporal perturbation, the perturbed video (in source frame indices; ``L`` its length) is:

* ``sampling``: ``x[::r]``, r = 2, 4, 8, 16, 32 (no frames held, ``L = ceil(T / r)``).
* ``reverse_sampling``: ``x[::r]`` reversed.
* ``jumble``: frames shuffled within consecutive segments of 64 // 2**s = 32, 16, 8, 4, 2.
* ``box_jumble``: the order of consecutive segments of (s + 1)**2 = 4, 9, 16, 25, 36 frames shuffled.
* ``freeze``: k = int(0.4 T, 0.2 T, 0.1 T, max(0.05 T, 2), 1) frames drawn without replacement, sorted, each
  held until the next; frames before the first drawn one are dropped (``L = T - first``).

Clip sampling (``sample_frames`` as run with the benchmark's defaults): ``n = min(num_frames, L)`` interval
starts of ``numpy.linspace(0, L, n + 1).astype(int)``. The released code never reaches its "uniform" (interval
midpoint) branch: ``--fix_start`` defaults to ``False``, which ``is not None``, so it takes the starts.

Deliberate deviations, each documented in ``docs/robustness.md``:

* Padding: the benchmark pads with zeros *after* ImageNet normalisation, which is the ImageNet mean colour in
  pixel space. Inputs here are pixels in [0, 1], so padded frames are :data:`PAD_VALUE` (that mean): a model
  normalised with ImageNet statistics sees exact zeros, as in the benchmark.
* The benchmark applies a perturbation to each test video with probability 0.75 (``RandomPerturbation(p=.75)``,
  also at test time); here every video is perturbed.
* ``freeze`` draws at least one frame and at most ``T`` (the benchmark fails on videos too short for k >= 1).
* Random draws use a torch generator (one CPU stream per call), not Python's ``random``: the same
  distributions, not the same streams.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import torch

from humanalign.perturb.corruptions._common import CorruptionError, check_severity
from humanalign.perturb.video.clip import check_clips, corrupt_clip
from humanalign.perturb.video.temporal import BOX_JUMBLE_SEGMENT, JUMBLE_SEGMENT, SAMPLING_RATE, cpu_generator
from humanalign.registry import CORRUPTIONS, VIDEO_PERTURBATIONS

__all__ = ["PAD_VALUE", "needs_source_video", "benchmark_sample_indices", "source_indices", "sample_clip",
           "perturb_then_sample"]

logger = logging.getLogger(__name__)

PAD_VALUE = (0.485, 0.456, 0.406)  # the benchmark's normalisation mean: its zero padding, in pixel space


def needs_source_video(name: str) -> bool:
    """True if video perturbation ``name`` acts on the whole source video (registry meta ``temporal=True``).

    Image corruptions lifted to clips and unknown names give False (unknown names fail later, where used).
    """
    return name in VIDEO_PERTURBATIONS and bool(VIDEO_PERTURBATIONS.meta(name).get("temporal", False))


@functools.lru_cache(maxsize=1024)
def _sample_cpu(length: int, num_frames: int) -> tuple[int, ...]:
    n = min(num_frames, length)
    intervals = np.linspace(start=0, stop=length, num=n + 1).astype(int)  # the benchmark's own arithmetic
    return tuple(int(v) for v in intervals[:-1])


def benchmark_sample_indices(length: int, num_frames: int) -> torch.Tensor:
    """Indices ``[min(num_frames, length)]`` the benchmark samples from a video of ``length`` frames."""
    if length < 1 or num_frames < 1:
        raise CorruptionError(f"clip sampling: need length >= 1 and num_frames >= 1, got {length}, {num_frames}")
    return torch.tensor(_sample_cpu(int(length), int(num_frames)), dtype=torch.long)


def _freeze_count(t: int, severity: int) -> int:
    k = int((0.4 * t, 0.2 * t, 0.1 * t, max(0.05 * t, 2), 1)[severity - 1])
    return min(max(k, 1), t)


def source_indices(name: str, b: int, t: int, severity: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The perturbed video of each of ``b`` sources of ``t`` frames, as source frame indices.

    Args:
        name: A temporal perturbation (see the module docstring).
        b: Number of videos (one random draw each).
        t: Source length ``T_src``.
        severity: 1..5.
        generator: CPU generator for the draws (others are turned into a CPU stream; None: global RNG).

    Returns:
        ``table [B, t]`` and ``length [B]``: video ``i`` perturbed is source frames ``table[i, :length[i]]``.
    """
    s = check_severity(severity, name)
    g = cpu_generator(generator)
    frames = torch.arange(t)
    full = torch.full((b,), t, dtype=torch.long)
    if name in ("sampling", "reverse_sampling"):
        kept = frames[:: SAMPLING_RATE[s - 1]]
        kept = kept.flip(0) if name == "reverse_sampling" else kept
        table = torch.zeros(b, t, dtype=torch.long)
        table[:, : len(kept)] = kept
        return table, torch.full((b,), len(kept), dtype=torch.long)
    if name == "jumble":  # a uniform shuffle within each segment: sort random keys offset by the segment id
        seg = JUMBLE_SEGMENT[s - 1]
        keys = torch.rand(b, t, generator=g, dtype=torch.float64) + (frames // seg).to(torch.float64)[None]
        return keys.argsort(1), full
    if name == "box_jumble":  # blocks of seg frames (the last may be shorter) in a uniform random order
        seg = BOX_JUMBLE_SEGMENT[s - 1]
        n_seg = -(-t // seg)
        order = torch.rand(b, n_seg, generator=g).argsort(1)  # [B, n_seg]
        sizes = (t - order * seg).clamp(max=seg)  # [B, n_seg] size of the block in each slot
        ends = sizes.cumsum(1)  # [B, n_seg]
        slot = torch.searchsorted(ends, frames[None].expand(b, t).contiguous(), right=True)  # [B, t]
        offset = frames[None] - (ends - sizes).gather(1, slot)
        return order.gather(1, slot) * seg + offset, full
    if name == "freeze":
        k = _freeze_count(t, s)
        chosen = torch.rand(b, t, generator=g).argsort(1)[:, :k]  # [B, k] uniform k-subsets
        mask = torch.zeros(b, t, dtype=torch.bool).scatter_(1, chosen, True)
        held = torch.where(mask, frames[None], -1).cummax(1).values  # [B, T] last drawn frame at or before
        first = chosen.min(1).values  # [B]; frames before it are dropped
        table = held.gather(1, (frames[None] + first[:, None]).clamp(max=t - 1))
        return table, t - first
    raise CorruptionError(f"{name}: not a temporal perturbation (temporal ones: "
                          f"{', '.join(sorted(n for n in VIDEO_PERTURBATIONS.list() if needs_source_video(n)))})")


def _sample_table(lengths: torch.Tensor, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Benchmark sample positions ``[B, num_frames]`` for videos of ``lengths [B]``, and their validity mask."""
    uniq, inverse = torch.unique(lengths, return_inverse=True)
    pos = torch.zeros(len(uniq), num_frames, dtype=torch.long)
    valid = torch.zeros(len(uniq), num_frames, dtype=torch.bool)
    for i, length in enumerate(uniq.tolist()):
        sel = benchmark_sample_indices(length, num_frames)
        pos[i, : len(sel)], valid[i, : len(sel)] = sel, True
    return pos[inverse], valid[inverse]


def _gather_padded(video: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Frames ``idx [B, n]`` of ``video [B, C, T, H, W]``; where ``valid [B, n]`` is False, :data:`PAD_VALUE`."""
    idx = idx.to(video.device)
    b, c, _, h, w = video.shape
    out = video.new_empty(b, c, idx.shape[1], h, w)  # [B, C, n, H, W]
    for i in range(b):  # index_select into place: 3-10x faster on CPU than gather or stacking copies
        torch.index_select(video[i], 1, idx[i], out=out[i])
    if bool(valid.all()):
        return out
    pad = torch.tensor(PAD_VALUE, dtype=video.dtype, device=video.device)[None, :, None, None, None]
    return torch.where(valid.to(video.device)[:, None, :, None, None], out, pad)


def sample_clip(video: torch.Tensor, num_frames: int) -> torch.Tensor:
    """The benchmark's clip of an unperturbed video: ``[B, 3, T_src, H, W] -> [B, 3, num_frames, H, W]``.

    Use it for the clean baseline so clean and perturbed clips share one sampling rule.
    """
    x = check_clips(video, "sample_clip")
    pos, valid = _sample_table(torch.full((x.shape[0],), x.shape[2], dtype=torch.long), num_frames)
    return _gather_padded(x, pos, valid)


def perturb_then_sample(video: torch.Tensor, name: str, severity: int, num_frames: int,
                        generator: torch.Generator | None = None, mode: str | None = None) -> torch.Tensor:
    """Apply video perturbation ``name`` in the benchmark's order and return the sampled, padded clips.

    Temporal perturbations (:func:`needs_source_video`) act on the whole source, then ``num_frames`` are sampled;
    all others (registered video perturbations, or image corruptions lifted per frame with ``mode`` default
    "coherent") act on the sampled frames. Padded frames (source shorter than ``num_frames`` after perturbing)
    are :data:`PAD_VALUE` and are never perturbed.

    Args:
        video: Float source videos ``[B, 3, T_src, H, W]`` in [0, 1]: all decoded frames (as the benchmark), or a
            window long enough for the severity (``sampling`` 5 keeps ``ceil(T_src / 32)`` frames).
        name: A registered video perturbation or image corruption.
        severity: 1..5.
        num_frames: Clip length.
        generator: Seeded generator (temporal draws run on a CPU stream derived from it).
        mode: "coherent" / "dynamic" for per-frame perturbations; ignored by temporal ones.

    Returns:
        Clips ``[B, 3, num_frames, H, W]``, dtype and device of ``video``.
    """
    x = check_clips(video, name)
    if not isinstance(num_frames, int) or num_frames < 1:
        raise CorruptionError(f"{name}: num_frames must be a positive int, got {num_frames!r}")
    b, t = x.shape[0], x.shape[2]
    if not needs_source_video(name):
        clip = sample_clip(x, num_frames)
        n_valid = min(num_frames, t)
        if name in VIDEO_PERTURBATIONS:
            clip_fn = VIDEO_PERTURBATIONS.get(name)
            done = clip_fn(clip[:, :, :n_valid], severity, generator=generator, mode=mode)
        elif name in CORRUPTIONS:
            done = corrupt_clip(clip[:, :, :n_valid], name, severity, generator, mode=mode or "coherent")
        else:
            VIDEO_PERTURBATIONS.get(name)  # raises UnknownNameError with the closest names
            raise AssertionError("unreachable")
        return torch.cat([done.to(clip.dtype), clip[:, :, n_valid:]], 2)
    table, lengths = source_indices(name, b, t, severity, generator)  # [B, t], [B]
    pos, valid = _sample_table(lengths, num_frames)  # [B, num_frames] each
    return _gather_padded(x, table.gather(1, pos), valid)

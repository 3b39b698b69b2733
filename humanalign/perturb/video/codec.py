"""Whole-clip video codecs through PyAV (FFmpeg): H.264 (libx264) and MPEG-4 Part 2.

Each clip is encoded as one yuv420p stream at 25 fps (odd sizes edge-padded to even) and decoded
back, so motion-compensated inter-frame artefacts appear as in real compressed video. Severities
(project definition, pinned): H.264 constant rate factor 30, 36, 42, 47, 51 (x264 preset
"medium"); MPEG-4 fixed quantiser 8, 14, 20, 26, 31. The UCF101-P code itself only has per-frame
JPEG (registered as ``jpeg_compression``). Encoding runs on the CPU; the result returns to the
clips' device. Deterministic: no random draws, and both encoders run single-threaded, because their
threaded modes pick different encoding decisions for different core counts (the same clip came out
different on 1 and 2 cores).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import av
import numpy as np
import torch
import torch.nn.functional as F

from humanalign.perturb.corruptions._common import CorruptionError, check_severity, pick
from humanalign.perturb.video.clip import check_clips
from humanalign.registry import VIDEO_PERTURBATIONS

__all__ = ["H264_CRF", "MPEG4_QSCALE", "codec_roundtrip", "h264_compression", "mpeg_compression"]

logger = logging.getLogger(__name__)

H264_CRF = (30, 36, 42, 47, 51)
MPEG4_QSCALE = (8, 14, 20, 26, 31)


def codec_roundtrip(frames: np.ndarray, codec: str, options: dict[str, str], fps: int = 25) -> np.ndarray:
    """Encode uint8 frames ``[T, H, W, 3]`` (even H, W) with ``codec`` and decode them back.

    The encoder runs single-threaded: threaded x264 / mpeg4 output depends on the machine's core count.

    Raises:
        CorruptionError: if the codec is unavailable or the decoded frame count differs.
    """
    t, h, w, _ = frames.shape
    buf = io.BytesIO()
    try:
        with av.open(buf, "w", format="mp4") as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {**options, "threads": "1"}  # threaded encoders differ by core count
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    except (av.FFmpegError, ValueError) as err:
        raise CorruptionError(f"video codec {codec!r} failed on a {t}x{h}x{w} clip: {err}") from err
    buf.seek(0)
    with av.open(buf) as container:
        out = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if len(out) != t:
        raise CorruptionError(f"video codec {codec!r}: decoded {len(out)} frames, expected {t}")
    return np.stack(out)


def _apply(clips: torch.Tensor, codec: str, options: dict[str, str], name: str) -> torch.Tensor:
    """Round-trip every clip of ``clips [B, 3, T, H, W]`` through ``codec`` at 8 bits; same shape out."""
    x = check_clips(clips, name)
    b, _, t, h, w = x.shape
    ph, pw = h % 2, w % 2
    u8 = torch.round(x.detach().float().clamp(0, 1) * 255).to(torch.uint8).cpu()
    outs = []
    for clip in u8:
        frames = clip.permute(1, 2, 3, 0)  # [T, H, W, 3]
        if ph or pw:
            frames = F.pad(frames.permute(0, 3, 1, 2).float(), (0, pw, 0, ph), mode="replicate")
            frames = frames.round().to(torch.uint8).permute(0, 2, 3, 1)
        decoded = codec_roundtrip(np.ascontiguousarray(frames.numpy()), codec, options)[:, :h, :w]
        outs.append(torch.from_numpy(decoded).permute(3, 0, 1, 2))
    return (torch.stack(outs).to(device=x.device, dtype=x.dtype) / 255).contiguous()


def _codec_perturbation(name: str, codec: str, table: tuple[int, ...],
                        options: Callable[[int], dict[str, str]], *, what: str, parameter: str,
                        source: str) -> Callable[..., torch.Tensor]:
    """Register and return clip function ``f(clips, severity, generator=None, mode=None)`` of codec ``name``.

    ``options(pick(table, severity))`` are the encoder options; ``what`` describes them for the docstring.
    """

    def fn(clips: torch.Tensor, severity: int, generator: torch.Generator | None = None,
           mode: str | None = None) -> torch.Tensor:
        value = pick(table, check_severity(severity, name))
        return _apply(clips, codec, options(value), name)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Whole-clip {what}; ``[B, 3, T, H, W] -> same``.\n\nNo random draws (``generator``"
                  " unused); ``mode`` is ignored (a codec acts on the whole clip).")
    VIDEO_PERTURBATIONS.register(name, fn, family="digital", constants=table, parameter=parameter,
                                 source=source)
    return fn


h264_compression = _codec_perturbation(
    "h264_compression", "libx264", H264_CRF, lambda crf: {"crf": str(crf), "preset": "medium"},
    what="H.264 at CRF ``H264_CRF[severity - 1]``", parameter="x264 CRF",
    source="project definition (PyAV libx264)")
mpeg_compression = _codec_perturbation(
    "mpeg_compression", "mpeg4", MPEG4_QSCALE, lambda q: {"qmin": str(q), "qmax": str(q)},
    what="MPEG-4 Part 2 with the quantiser fixed at ``MPEG4_QSCALE[severity - 1]``",
    parameter="MPEG-4 fixed quantiser", source="project definition (PyAV mpeg4)")

"""Shared helpers for the image corruptions: input checks, registration, random draws, filters, resampling.

:func:`corruption` turns a function of the pixels and one severity's constants into a registered
corruption ``fn(images, severity, generator=None)``; it does the input checks, the severity lookup
and the dtype round trip, so each corruption module holds only its own math.

Every helper works on batched float tensors ``[B, C, H, W]`` on any device, so each corruption is
one code path on CPU and CUDA. Gaussian smoothing is done with dense boundary-aware smoothing
matrices (``M_h @ x @ M_w^T``), which reproduces scipy/skimage boundary modes exactly for any sigma,
including kernels wider than the image (the elastic transform smooths with sigma ~170 px).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.nn.functional as F

from humanalign.registry import CORRUPTIONS

__all__ = [
    "CorruptionError",
    "CorruptionBody",
    "CorruptionFn",
    "check_batch",
    "check_images",
    "check_severity",
    "keeps_dtype",
    "pick",
    "per_severity",
    "corruption",
    "uniform",
    "normal",
    "gaussian_matrix",
    "gaussian_smooth",
    "fold_index",
    "filter2d",
    "clipped_zoom",
    "motion_blur_batch",
    "motion_kernels",
    "conv_fft",
    "plasma_fractal",
    "gray",
    "next_power_of_2",
]

T = TypeVar("T")
# body(x [B, 3, H, W] float, one severity's constants, generator) -> [B, 3, H, W]
CorruptionBody = Callable[[torch.Tensor, Any, torch.Generator | None], torch.Tensor]
# fn(images [B, 3, H, W], severity 1..5, generator=None) -> [B, 3, H, W]
CorruptionFn = Callable[..., torch.Tensor]

# Luma weights of OpenCV's RGB2GRAY (ITU-R BT.601), used by snow as in ImageNet-C.
_GRAY = (0.299, 0.587, 0.114)


class CorruptionError(ValueError):
    """Bad input to a corruption (wrong shape, dtype, severity, or unknown name)."""


def check_batch(x: torch.Tensor, name: str, layout: str = "[B, 3, H, W]",
                noun: str = "images") -> torch.Tensor:
    """Validate a float RGB batch of ``layout`` (e.g. ``[B, 3, T, H, W]`` for clips) and return it."""
    if not isinstance(x, torch.Tensor):
        raise CorruptionError(f"{name}: expected a torch.Tensor {layout}, got {type(x).__name__}")
    if x.ndim != layout.count(",") + 1 or x.shape[1] != 3:
        raise CorruptionError(f"{name}: expected {noun} of shape {layout}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise CorruptionError(f"{name}: expected float {noun} in [0, 1], got dtype {x.dtype}")
    return x


def check_images(images: torch.Tensor, name: str) -> torch.Tensor:
    """Validate a float image batch ``[B, 3, H, W]`` and return it (as float32 if half/bf16)."""
    check_batch(images, name)
    if images.shape[-1] < 8 or images.shape[-2] < 8:
        raise CorruptionError(f"{name}: images must be at least 8x8 pixels, got {tuple(images.shape[-2:])}")
    return images.float() if images.dtype != torch.float64 else images


def keeps_dtype(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Decorate a corruption so half/bfloat16 inputs (computed in float32) come back in their dtype."""

    @functools.wraps(fn)
    def wrapper(images: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        out = fn(images, *args, **kwargs)
        if isinstance(images, torch.Tensor) and images.is_floating_point() and out.dtype != images.dtype:
            out = out.to(images.dtype)
        return out

    return wrapper


def check_severity(severity: int, name: str) -> int:
    """Return ``severity`` as an int in 1..5 or raise naming the corruption."""
    if isinstance(severity, bool) or int(severity) != severity or not 1 <= int(severity) <= 5:
        raise CorruptionError(f"{name}: severity must be an integer in 1..5, got {severity!r}")
    return int(severity)


def pick(table: Sequence[T], severity: int) -> T:
    """The constants of ``severity`` (1-based) from a 5-row table."""
    return table[severity - 1]


_CALL_DOC = """Args:
    images: Float images ``[B, 3, H, W]`` in [0, 1].
    severity: 1..5.
    generator: Seeded torch generator on the images' device (unused by deterministic corruptions).

Returns:
    Corrupted images ``[B, 3, H, W]`` in [0, 1]."""


def per_severity(name: str, table: Sequence[Any]) -> Callable[[CorruptionBody], CorruptionFn]:
    """Decorate ``body(x, constants, generator)`` into ``fn(images, severity, generator=None)``.

    ``fn`` validates ``images`` (:func:`check_images`) and ``severity`` (errors name ``name``), calls
    ``body`` with ``pick(table, severity)`` and returns half/bfloat16 inputs in their dtype
    (:func:`keeps_dtype`). ``fn`` keeps the body's name; its docstring is the body's
    plus the shared Args/Returns block.
    """

    def decorate(body: CorruptionBody) -> CorruptionFn:
        def fn(images: torch.Tensor, severity: int, generator: torch.Generator | None = None) -> torch.Tensor:
            x = check_images(images, name)
            return body(x, pick(table, check_severity(severity, name)), generator)

        fn.__module__, fn.__name__, fn.__qualname__ = body.__module__, body.__name__, body.__qualname__
        fn.__doc__ = f"{inspect.cleandoc(body.__doc__ or name)}\n\n{_CALL_DOC}"
        return keeps_dtype(fn)

    return decorate


def corruption(name: str, table: Sequence[Any], *, family: str, parameter: str,
               source: str = "ImageNet-C") -> Callable[[CorruptionBody], CorruptionFn]:
    """Register ``body(x, constants, generator)`` as corruption ``name`` in ``CORRUPTIONS``.

    The registered function is ``per_severity(name, table)(body)`` named ``name``; its registry
    metadata is ``family``, ``constants=table``, ``parameter`` (what the constants are) and ``source``.

    Example:
        >>> @corruption("contrast", CONTRAST, family="digital", parameter="contrast factor")
        ... def contrast(x: torch.Tensor, c: float, generator: torch.Generator | None) -> torch.Tensor:
        ...     mean = x.mean(dim=(-2, -1), keepdim=True)
        ...     return ((x - mean) * c + mean).clamp(0, 1)
    """

    def decorate(body: CorruptionBody) -> CorruptionFn:
        fn = per_severity(name, table)(body)
        fn.__name__ = fn.__qualname__ = name
        CORRUPTIONS.register(name, fn, family=family, constants=table, parameter=parameter, source=source)
        return fn

    return decorate


def uniform(shape: tuple[int, ...], low: float, high: float, like: torch.Tensor,
            generator: torch.Generator | None) -> torch.Tensor:
    """Uniform draws in ``[low, high)`` with ``like``'s device and dtype."""
    u = torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)
    return low + (high - low) * u


def normal(shape: tuple[int, ...], mean: float, std: float, like: torch.Tensor,
           generator: torch.Generator | None) -> torch.Tensor:
    """Normal draws with ``like``'s device and dtype."""
    return mean + std * torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)


def next_power_of_2(n: int) -> int:
    """Smallest power of two >= n (1 for n == 0)."""
    return 1 if n == 0 else 2 ** (n - 1).bit_length()


def fold_index(idx: torch.Tensor, n: int, mode: str) -> torch.Tensor:
    """Map out-of-range indices into ``[0, n)`` with a scipy boundary mode.

    Modes: ``reflect`` (d c b a | a b c d | d c b a, scipy/skimage "reflect"), ``mirror``
    (d c b | a b c d | c b a, OpenCV REFLECT_101) and ``nearest`` (edge replicate).
    """
    if mode == "nearest":
        return idx.clamp(0, n - 1)
    if mode == "reflect":
        period = 2 * n
        r = torch.remainder(idx, period)
        return torch.where(r < n, r, period - 1 - r)
    if mode == "mirror":
        if n == 1:
            return torch.zeros_like(idx)
        period = 2 * n - 2
        r = torch.remainder(idx, period)
        return torch.where(r < n, r, period - r)
    raise CorruptionError(f"unknown boundary mode {mode!r}")


@functools.lru_cache(maxsize=64)
def _gaussian_matrix_cpu(n: int, sigma: float, truncate: float, mode: str) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    rows = torch.arange(n).unsqueeze(1) + offsets.long().unsqueeze(0)  # [n, K] source positions
    cols = fold_index(rows, n, mode)
    mat = torch.zeros(n, n, dtype=torch.float64)
    mat.scatter_add_(1, cols, kernel.expand(n, -1).contiguous())
    return mat


def gaussian_matrix(n: int, sigma: float, device: torch.device, dtype: torch.dtype,
                    truncate: float = 4.0, mode: str = "nearest") -> torch.Tensor:
    """The ``[n, n]`` matrix of 1-D Gaussian smoothing with a scipy boundary ``mode``.

    Matches ``scipy.ndimage.gaussian_filter1d`` (kernel radius ``int(truncate * sigma + 0.5)``).
    """
    return _gaussian_matrix_cpu(int(n), float(sigma), float(truncate), mode).to(device=device, dtype=dtype)


def gaussian_smooth(x: torch.Tensor, sigma: float | tuple[float, float], truncate: float = 4.0,
                    mode: str = "nearest") -> torch.Tensor:
    """Separable Gaussian smoothing of the last two dims of ``x [..., H, W]``.

    Defaults match ``skimage.filters.gaussian`` (mode "nearest", truncate 4).
    """
    sh, sw = (sigma, sigma) if isinstance(sigma, (int, float)) else sigma
    h, w = x.shape[-2:]
    mh = gaussian_matrix(h, sh, x.device, x.dtype, truncate, mode)  # [H, H]
    mw = gaussian_matrix(w, sw, x.device, x.dtype, truncate, mode)  # [W, W]
    return mh @ x @ mw.T


def _fft_size(n: int) -> int:
    """Smallest integer >= n whose prime factors are 2, 3 and 5 (fast FFT lengths)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def conv_fft(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Circular 2-D convolution of ``x [B, C, H, W]`` with centred kernels via the FFT.

    ``kernel`` is ``[kh, kw]`` (shared) or ``[B, kh, kw]`` (one per image), odd sizes, and must be
    smaller than ``x``. Callers pad ``x`` so that the wrap-around never reaches the pixels they keep.
    """
    h, w = x.shape[-2:]
    if kernel.ndim == 2:
        kernel = kernel[None]
    kh, kw = kernel.shape[-2:]
    full = torch.zeros(kernel.shape[0], h, w, device=x.device, dtype=x.dtype)
    full[:, :kh, :kw] = kernel.to(x.dtype)
    full = torch.roll(full, shifts=(-(kh // 2), -(kw // 2)), dims=(-2, -1))  # centre at (0, 0)
    spec = torch.fft.rfft2(x) * torch.fft.rfft2(full)[:, None]
    return torch.fft.irfft2(spec, s=(h, w))


def filter2d(x: torch.Tensor, kernel: torch.Tensor, mode: str = "mirror") -> torch.Tensor:
    """Correlate every channel of ``x [B, C, H, W]`` with one 2-D ``kernel [kh, kw]`` (odd sizes).

    ``mode="mirror"`` is OpenCV's default BORDER_REFLECT_101 (as ``cv2.filter2D``). Kernels larger
    than 7x7 go through the FFT.
    """
    b, c, h, w = x.shape
    kh, kw = kernel.shape
    ph, pw = kh // 2, kw // 2
    rows = fold_index(torch.arange(-ph, h + ph, device=x.device), h, mode)
    cols = fold_index(torch.arange(-pw, w + pw, device=x.device), w, mode)
    padded = x[:, :, rows][:, :, :, cols]  # [B, C, H + 2ph, W + 2pw]
    if kh * kw > 49:
        flipped = torch.flip(kernel, dims=(0, 1))  # correlation = convolution with the flipped kernel
        fh, fw = _fft_size(h + 2 * ph), _fft_size(w + 2 * pw)
        padded = F.pad(padded, (0, fw - padded.shape[-1], 0, fh - padded.shape[-2]))  # zeros beyond: never read
        return conv_fft(padded, flipped)[:, :, ph:ph + h, pw:pw + w]
    taps = kernel.detach().double().cpu().tolist()
    out = torch.zeros_like(x)
    for i in range(kh):  # small kernels: a sum of shifted copies beats CPU depthwise conv2d by ~10x
        for j in range(kw):
            if taps[i][j] != 0.0:
                out += taps[i][j] * padded[:, :, i:i + h, j:j + w]
    return out


def clipped_zoom(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom ``x [B, C, H, W]`` into its centre by ``factor`` >= 1 and keep size ``[H, W]``.

    As ImageNet-C: crop the centre ``ceil(H / factor)`` (and width), resize it linearly with corner
    alignment (``scipy.ndimage.zoom(order=1)``) to ``round(crop * factor)``, and trim the centre.
    """
    h, w = x.shape[-2:]
    ch, cw = math.ceil(h / factor), math.ceil(w / factor)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = x[..., top:top + ch, left:left + cw]
    out_h, out_w = max(round(ch * factor), h), max(round(cw * factor), w)
    zoomed = F.interpolate(crop, size=(out_h, out_w), mode="bilinear", align_corners=True)
    th, tw = (out_h - h) // 2, (out_w - w) // 2
    return zoomed[..., th:th + h, tw:tw + w]


def motion_kernels(radius: int, sigma: float, angles_deg: torch.Tensor) -> torch.Tensor:
    """Per-image motion-blur kernels ``[B, K, K]`` (``K = 4 * radius + 3``), one angle (degrees) each.

    Tap ``i`` of a one-sided Gaussian (``2 * radius + 1`` taps, std ``sigma``) sits at the integer
    offset ``(dy, dx) = -(ceil(i sin a - 0.5), ceil(i cos a - 0.5))`` (convolution), as the NumPy re-implementation
    of ImageMagick's motion blur in the ``imagecorruptions`` package.
    """
    width = 2 * radius + 1
    size = 2 * width + 1
    taps = torch.exp(-torch.arange(width, dtype=torch.float64) ** 2 / (2 * sigma**2))
    taps = taps / taps.sum()
    theta = torch.deg2rad(angles_deg.double().cpu())  # [B]
    i = torch.arange(width, dtype=torch.float64)
    dy = -torch.ceil(i[None] * torch.sin(theta)[:, None] - 0.5).long()  # [B, width]
    dx = -torch.ceil(i[None] * torch.cos(theta)[:, None] - 0.5).long()
    b = theta.shape[0]
    k = torch.zeros(b, size * size, dtype=torch.float64)
    flat = (dy + width) * size + (dx + width)
    k.scatter_add_(1, flat, taps.expand(b, -1).contiguous())
    return k.view(b, size, size)


def motion_blur_batch(x: torch.Tensor, radius: int, sigma: float, angles_deg: torch.Tensor) -> torch.Tensor:
    """Linear motion blur of ``x [B, C, H, W]`` with one angle per image (degrees, ``[B]``).

    ``out(p) = sum_i k_i x(clamp(p - d_i))``: edge-replicated shifts, computed as an FFT convolution
    of the replicate-padded images with :func:`motion_kernels`.
    """
    h, w = x.shape[-2:]
    kernels = motion_kernels(radius, sigma, angles_deg).to(device=x.device, dtype=x.dtype)
    pad = kernels.shape[-1] // 2
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    fh, fw = _fft_size(h + 2 * pad), _fft_size(w + 2 * pad)
    padded = F.pad(padded, (0, fw - padded.shape[-1], 0, fh - padded.shape[-2]))  # zeros beyond: never read
    return conv_fft(padded, kernels)[..., pad:pad + h, pad:pad + w]


def plasma_fractal(batch: int, size: int, decay: float, like: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
    """Diamond-square height maps ``[B, size, size]`` in [0, 1] (``size`` a power of two).

    The ImageNet-C fog field: start at 0, add uniform "wibble" noise of amplitude 100 that is
    divided by ``decay`` at each halving of the step size, then min-max normalise each map.
    """
    if size & (size - 1):
        raise CorruptionError(f"plasma_fractal: size must be a power of two, got {size}")
    m = torch.zeros(batch, size, size, device=like.device, dtype=like.dtype)
    step, wibble = size, 100.0

    def wibbled(a: torch.Tensor) -> torch.Tensor:
        noise = torch.rand(a.shape, generator=generator, device=like.device, dtype=like.dtype)
        return a / 4 + wibble * (2 * noise - 1) * wibble

    while step >= 2:
        half = step // 2
        corners = m[:, 0::step, 0::step]
        sq = corners + torch.roll(corners, -1, dims=1)
        sq = sq + torch.roll(sq, -1, dims=2)
        m[:, half::step, half::step] = wibbled(sq)
        centres = m[:, half::step, half::step]
        corners = m[:, 0::step, 0::step]
        lt = centres + torch.roll(centres, 1, dims=1) + corners + torch.roll(corners, -1, dims=2)
        m[:, 0::step, half::step] = wibbled(lt)
        tt = centres + torch.roll(centres, 1, dims=2) + corners + torch.roll(corners, -1, dims=1)
        m[:, half::step, 0::step] = wibbled(tt)
        step //= 2
        wibble /= decay
    flat = m.flatten(1)
    lo = flat.min(1).values[:, None, None]
    m = m - lo
    hi = m.flatten(1).max(1).values[:, None, None]
    return m / hi


def gray(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma ``[B, 1, H, W]`` of RGB ``x [B, 3, H, W]``."""
    w = torch.tensor(_GRAY, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)

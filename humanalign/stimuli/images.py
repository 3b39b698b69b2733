"""Reading stimulus image files as ``uint8 [H, W, 3]``, with one clear error for anything unusable.

- 16-bit images (PIL modes ``I;16*``, and ``I`` holding 0..65535) are scaled to 8 bits
  (``round(v / 257)``), not clipped as ``convert("RGB")`` would do; 16-bit RGB PNGs are already
  reduced to 8 bits by PIL. 32-bit float images are refused (their range is unknown).
- A header claiming more pixels than PIL's limit (``PIL.Image.MAX_IMAGE_PIXELS``, a decompression
  bomb), a truncated or unidentifiable file all raise :class:`ImageReadError` naming the file.

:func:`check_image` is the cheap test (header, size and, for PNG, the chunk checksums, without
decoding pixels) that :meth:`humanalign.stimuli.base.StimulusSet.check` runs before a long grid.
"""

from __future__ import annotations

import logging
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from humanalign.stimuli.errors import StimulusSetError

__all__ = ["ImageReadError", "read_image", "check_image"]

logger = logging.getLogger(__name__)

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
#: What PIL raises for broken files besides OSError (truncated chunks, bad headers, bombs).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)


class ImageReadError(StimulusSetError):
    """An image file cannot be used as a stimulus; the message names the file and the reason."""


def _to_rgb8(img: Image.Image, path: Path) -> np.ndarray:
    if img.mode in _SIXTEEN_BIT or img.mode == "I":
        values = np.asarray(img).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageReadError(f"{path}: 32-bit integer image with values {values.min()}..{values.max()}; "
                                 "convert it to 8 or 16 bits")
        grey = np.round(values / 257.0).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if img.mode == "F":
        raise ImageReadError(f"{path}: 32-bit float image (range unknown); convert it to 8 or 16 bits")
    return np.asarray(img.convert("RGB"))


def read_image(path: str | Path) -> np.ndarray:
    """Image file -> ``uint8 [H, W, 3]`` (16-bit scaled to 8 bits, palettes and alpha dropped).

    Raises:
        ImageReadError: naming the file: unreadable, truncated, a decompression bomb, or a float image.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit: refuse, don't warn
            with Image.open(path) as img:
                return _to_rgb8(img, path)
    except ImageReadError:
        raise
    except (*_DECODE_ERRORS, Image.DecompressionBombWarning) as err:
        raise ImageReadError(f"{path}: cannot read image ({_reason(err)})") from err


def check_image(path: str | Path) -> None:
    """Raise :class:`ImageReadError` if ``path`` would not load, without decoding its pixels.

    Catches missing and unidentifiable files, decompression bombs, float images and (PNG) truncation
    or bad checksums; a few broken JPEGs only show when decoded, so loaders still skip on failure.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.mode == "F":
                    raise ImageReadError(f"{path}: 32-bit float image (range unknown); convert it to 8 or 16 bits")
                img.verify()
    except ImageReadError:
        raise
    except (*_DECODE_ERRORS, Image.DecompressionBombWarning) as err:
        raise ImageReadError(f"{path}: cannot read image ({_reason(err)})") from err


def _reason(err: BaseException) -> str:
    if isinstance(err, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"decompression bomb: {' '.join(str(err).split())}"
    if isinstance(err, FileNotFoundError):
        return "file not found"
    return " ".join(str(err).split()) or type(err).__name__

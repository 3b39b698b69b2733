"""Stimulus image files: 16-bit scaling, decompression bombs and broken files, skipping and listing bad stimuli."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from humanalign.stimuli.base import StimulusSet, StimulusSetError
from humanalign.stimuli.images import check_image, read_image


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width x height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "set" / "cat"
    root.mkdir(parents=True)
    Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(root / "a.png")
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(root / "b.jpg")
    data = (root / "a.png").read_bytes()
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    _png_claiming(root / "bomb.png", 15000, 15000)
    return tmp_path / "set"


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 16 * 256).reshape(16, 256).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    assert Image.open(tmp_path / "ramp16.png").mode.startswith("I;16")
    image = read_image(tmp_path / "ramp16.png")
    assert image.shape == (16, 256, 3) and image.dtype == np.uint8
    expected = np.round(ramp / 257.0).astype(np.uint8)
    assert np.array_equal(image[..., 0], expected) and np.array_equal(image[..., 2], expected)
    assert (image == 255).mean() < 0.01  # convert("RGB") clipped 99.6 % of this ramp to 255


def test_float_image_is_refused_with_a_message(tmp_path: Path) -> None:
    Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(StimulusSetError, match=r"f.tif: 32-bit float image"):
        read_image(tmp_path / "f.tif")


@pytest.mark.parametrize(("name", "reason"), [("bomb.png", "decompression bomb"), ("truncated.png", "truncated"),
                                              ("missing.png", "file not found")])
def test_bad_files_raise_one_line_naming_the_file(folder: Path, name: str, reason: str) -> None:
    path = folder / "cat" / name
    for read in (read_image, check_image):
        with pytest.raises(StimulusSetError) as info:
            read(path)
        message = str(info.value)
        assert message.startswith(f"{path}: cannot read image") and reason in message and "\n" not in message
    (folder / "cat" / "junk.png").write_bytes(b"not an image")
    with pytest.raises(StimulusSetError, match="junk.png"):
        StimulusSet.from_folder(folder).load(StimulusSet.from_folder(folder).ids.index("cat/junk.png"))


def test_stimulus_set_skips_counts_and_lists_bad_stimuli(folder: Path) -> None:
    stimuli = StimulusSet.from_folder(folder)
    bad = stimuli.check()
    assert set(bad) == {"cat/bomb.png", "cat/truncated.png"}
    assert "decompression bomb" in bad["cat/bomb.png"] and str(folder / "cat" / "bomb.png") in bad["cat/bomb.png"]
    fresh = StimulusSet.from_folder(folder)
    loaded = {sid: fresh.load_or_none(i) for i, sid in enumerate(fresh.ids)}
    assert loaded["cat/a.png"] is not None and loaded["cat/a.png"][0, 0, 0] == 100
    assert loaded["cat/bomb.png"] is None and loaded["cat/truncated.png"] is None
    assert set(fresh.unreadable) == set(bad)
    assert fresh.subset(["cat/a.png", "cat/bomb.png"]).unreadable.keys() == {"cat/bomb.png"}
    assert fresh.head(1).unreadable == {}  # a.png comes first


def test_check_with_a_custom_loader(tmp_path: Path) -> None:
    def loader(row: pd.Series) -> np.ndarray:
        if row["stimulus_id"] == "b":
            raise OSError("b.bin: unreadable clip")
        return np.zeros((2, 4, 4, 3), np.uint8)

    stimuli = StimulusSet("clips", pd.DataFrame({"stimulus_id": ["a", "b"]}), loader=loader)
    assert stimuli.check() == {"b": "b.bin: unreadable clip"}
    assert stimuli.load_or_none(0).shape == (2, 4, 4, 3)

"""The ImageNet-C file encoding (uint8 truncation, JPEG q85) and the benchmark's PIL rotation, checked against
independent encoders/decoders (torchvision's libjpeg binding, the libjpeg quality rule, PIL ``Image.rotate``)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.io import decode_jpeg, encode_jpeg

from humanalign.perturb.corruptions.imagenet_c_files import (
    imagenet_c_encode,
    imagenet_c_jpeg_bytes,
    truncate_uint8,
)
from humanalign.perturb.corruptions.jpeg import CHROMA_TABLE, LUMA_TABLE, quality_table
from humanalign.perturb.video.camera import STATIC_ROTATION_DEG, rotate_frames


def _images() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 48), indexing="ij")
    smooth = torch.stack([0.5 + 0.4 * torch.sin(6 * xs + 3 * c * ys) for c in range(3)])
    return torch.stack([smooth, torch.rand(3, 40, 48, generator=g)])  # [2, 3, 40, 48]


def test_truncation_not_rounding_and_exact_integers_survive():
    x = torch.tensor([100.7, 100.2, 51.0, 255.4, -3.0, 0.0]).div(255).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    assert truncate_uint8(x.float())[0, 0, 0].tolist() == [100, 100, 51, 255, 0, 0]
    exact = torch.arange(256).float().div(255).view(1, 1, 1, 256).expand(1, 3, 1, 256)
    assert torch.equal(truncate_uint8(exact)[0, 0, 0], torch.arange(256, dtype=torch.uint8))


def test_files_are_quality_85_with_the_libjpeg_tables():
    data = imagenet_c_jpeg_bytes(_images())
    tables = Image.open(io.BytesIO(data[0])).quantization  # zigzag order; compare as multisets per table
    for got, base in ((tables[0], LUMA_TABLE), (tables[1], CHROMA_TABLE)):
        assert sorted(got) == sorted(int(v) for v in quality_table(base, 85).flatten())


def test_round_trip_equals_torchvisions_libjpeg_after_truncation():
    x = _images()
    ours = imagenet_c_encode(x)
    assert ours.dtype == torch.uint8 and ours.shape == x.shape
    for i in range(2):
        ref = decode_jpeg(encode_jpeg(truncate_uint8(x)[i], quality=85))
        assert (ours[i].int() - ref.int()).abs().max() <= 1
    rounded = torch.round(x * 255).to(torch.uint8)  # rounding instead of truncation changes the files
    assert not torch.equal(truncate_uint8(x), rounded)


@pytest.mark.parametrize("deg", [*STATIC_ROTATION_DEG, -13.0, 19.0])
def test_rotation_equals_pil_rotate_nearest_as_the_benchmark_calls_it(deg):
    u8 = np.random.default_rng(0).integers(0, 256, (48, 64, 3)).astype(np.uint8)
    pil = np.asarray(Image.fromarray(u8).rotate(deg)).astype(np.float64) / 255  # PIL's default: NEAREST
    x = torch.from_numpy(u8).permute(2, 0, 1)[None].float() / 255
    ours = rotate_frames(x, torch.tensor([deg]))[0].permute(1, 2, 0).double().numpy()
    same = np.all(np.abs(ours - pil) < 1e-6, -1).mean()
    assert same >= 0.99, same  # exact but for ties (45 degrees: 0.9%)

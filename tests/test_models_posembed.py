"""Resizing learned position tables per family: timm's rule for timm weights, MAE's for MAE/DeiT/MAE-ST.

``MAE_ST_3X3`` / ``MAE_ST_6X6`` are facebookresearch/mae_st ``util/pos_embed.py`` ``interpolate_pos_embed``
(commit c5dec1bc01062097906ea67fe47935ec33fd46df; the same rule as facebookresearch/mae and DeiT) run on the
deterministic table of :func:`_table` (a 4x4 grid, D = 4, one class row), resized to 3x3 and 6x6.
The timm rule is checked against timm's own ``resample_abs_pos_embed`` and a timm ``VisionTransformer``
with ``dynamic_img_size``.
"""

from __future__ import annotations

import pytest
import torch
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer

from humanalign.io.converters import convert_timm_vit
from humanalign.models.posembed import resize_spatial_table
from humanalign.models.released import RELEASED, encoder_from_converted

MAE_ST_3X3 = [  # [9, 4] patch rows after interpolate_pos_embed to 3x3
    0.695856, 0.583489, 0.401511, 0.185245, -0.609546, -0.670927, -0.529487, -0.257599, 0.616273, 0.729635,
    0.512025, 0.075972, -0.708202, -0.70574, -0.262121, 0.281643, 0.555227, 0.093257, -0.436554, -0.247544,
    0.313851, 0.890393, 0.283821, -0.769021, -0.948506, -0.123833, 0.886664, 0.503947, -0.473932, -0.694895,
    0.326936, 0.643208, -0.419654, -0.630358, 0.518352, 0.6439,
]
MAE_ST_6X6 = {"sum": [-3.835758, -2.268384, 6.267632, 3.919266], "rows_0_7_20_35_dim0": [1.199647, 0.359782,
                                                                                           0.58697, -0.450903]}


def _table() -> torch.Tensor:
    i = torch.arange(17 * 4, dtype=torch.float64)
    return torch.sin(0.3 * i + 0.01 * i**2).float().reshape(1, 17, 4)  # [1, 1 + 4*4, D=4]


def test_mae_rule_equals_mae_st_interpolate_pos_embed():
    spatial = _table()[:, 1:]
    small = resize_spatial_table(spatial, (4, 4), (3, 3), "mae")
    torch.testing.assert_close(small.flatten(), torch.tensor(MAE_ST_3X3), atol=2e-6, rtol=0)
    big = resize_spatial_table(spatial, (4, 4), (6, 6), "mae")[0]
    torch.testing.assert_close(big.sum(0), torch.tensor(MAE_ST_6X6["sum"]), atol=2e-5, rtol=0)
    torch.testing.assert_close(big[[0, 7, 20, 35], 0], torch.tensor(MAE_ST_6X6["rows_0_7_20_35_dim0"]), atol=2e-6,
                               rtol=0)


@pytest.mark.parametrize("new", [(3, 3), (6, 6), (2, 5)])
def test_timm_rule_equals_timms_resample_abs_pos_embed(new):
    spatial = _table()[:, 1:]
    ours = resize_spatial_table(spatial, (4, 4), new, "timm")
    torch.testing.assert_close(ours, resample_abs_pos_embed(spatial, list(new), [4, 4], num_prefix_tokens=0),
                               atol=0, rtol=0)
    assert (ours - resize_spatial_table(spatial, (4, 4), new, "mae")).abs().max() > 1e-3  # the rules differ


@pytest.mark.parametrize("side", [48, 16])
def test_timm_weights_at_another_size_match_timm_dynamic_img_size(side):
    torch.manual_seed(3)
    ref = VisionTransformer(img_size=32, patch_size=8, embed_dim=16, depth=1, num_heads=2, num_classes=0,
                            dynamic_img_size=True).eval()
    with torch.no_grad():
        ref.pos_embed.normal_(0, 1)
    enc = encoder_from_converted(convert_timm_vit(ref.state_dict()), {"num_heads": 2, "pos_resize": "timm"},
                                 "tiny timm").eval()
    images = torch.rand(2, 3, side, side)
    with torch.no_grad():
        torch.testing.assert_close(enc.forward_features(images), ref.forward_features(images), atol=1e-5, rtol=1e-4)
        mae = encoder_from_converted(convert_timm_vit(ref.state_dict()), {"num_heads": 2}, "tiny").eval()
        assert (mae.forward_features(images) - ref.forward_features(images)).abs().max() > 1e-3


def test_released_timm_entries_use_the_timm_rule_and_mae_entries_the_mae_rule():
    timm_entries = [s for s in RELEASED.values() if s.family == "timm"]
    assert timm_entries and all(s.architecture.get("pos_resize") == "timm" for s in timm_entries)
    for spec in RELEASED.values():
        if spec.family in ("image_mae", "mae_st", "hvm1"):
            assert spec.architecture.get("pos_resize", "mae") == "mae", spec.name


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="resize rule"):
        resize_spatial_table(_table()[:, 1:], (4, 4), (3, 3), "nearest")

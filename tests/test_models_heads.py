"""V-JEPA's attentive probe against numbers from the reference implementation.

Expected logits come from running facebookresearch/jepa ``src/models/attentive_pooler.py``
``AttentiveClassifier`` (with ``src/models/utils/modules.py``), commit 51c59d518fc63c08464af6de585f78ac0c7ed4d5,
on the deterministic weights and tokens built below (embed_dim 8, 2 heads, 3 classes). The reference's
``CrossAttention.forward`` never applies ``proj``; a head that does gives other logits.
"""

from __future__ import annotations

import pytest
import torch

from humanalign.models.heads import AttentiveClassifier

D, HEADS, CLASSES = 8, 2, 3

REFERENCE_LOGITS = {  # depth -> [2, 3], jepa AttentiveClassifier(embed_dim=8, num_heads=2, num_classes=3, depth)
    1: [[-1.1150190830230713, 2.1708037853240967, -0.5222625136375427],
        [-1.1199960708618164, 2.1848511695861816, -0.5330464839935303]],
    2: [[3.0470590591430664, -0.10596060752868652, -2.129883050918579],
        [3.0314717292785645, -0.08139103651046753, -2.141862154006958]],
}


def _fill(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Parameter k (in sorted key order) gets ``0.5 sin(1.3 i + 0.7 k)`` over its flat index ``i``."""
    out = {}
    for k, name in enumerate(sorted(state)):
        i = torch.arange(state[name].numel(), dtype=torch.float64)
        out[name] = (0.5 * torch.sin(1.3 * i + 0.7 * k)).float().reshape(state[name].shape)
    return out


def _tokens() -> torch.Tensor:
    i = torch.arange(2 * 5 * D, dtype=torch.float64)
    return torch.cos(0.61 * i + 0.003 * i**2).float().reshape(2, 5, D)  # [B=2, N=5, D]


@pytest.mark.parametrize("depth", [1, 2])
def test_attentive_probe_matches_vjepa_reference_logits(depth):
    head = AttentiveClassifier(D, HEADS, CLASSES, depth=depth).eval()
    head.load_state_dict(_fill(head.state_dict()), strict=True)  # same key set as the reference module
    with torch.no_grad():
        logits = head(_tokens())
    torch.testing.assert_close(logits, torch.tensor(REFERENCE_LOGITS[depth]), atol=1e-5, rtol=1e-5)


def test_output_projection_weights_do_not_change_the_logits():
    head = AttentiveClassifier(D, HEADS, CLASSES).eval()
    head.load_state_dict(_fill(head.state_dict()))
    with torch.no_grad():
        before = head(_tokens())
        head.pooler.cross_attention_block.xattn.proj.weight.mul_(3.0).add_(1.0)
        assert torch.equal(head(_tokens()), before)

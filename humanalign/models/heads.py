"""Classification heads: a linear head on pooled features, and V-JEPA's attentive probe.

The attentive probe keeps V-JEPA's key layout (``pooler.query_tokens``,
``pooler.cross_attention_block.{norm1, xattn.q, xattn.kv, xattn.proj, norm2, mlp.fc1, mlp.fc2}``,
``linear``), so released probe weights load strictly after :func:`humanalign.io.converters.convert_vjepa_probe`.
One learned query token cross-attends to the frozen tokens ``[B, N, D]``; as in V-JEPA the first LayerNorm
is applied to the tokens (keys/values), the query enters the residual stream unnormalised.

As in the reference ``CrossAttention.forward`` (facebookresearch/jepa ``src/models/utils/modules.py``), the
cross-attention's output projection ``xattn.proj`` is defined (so checkpoints load strictly) but never applied:
in released probes those weights are untrained initial values.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from timm.layers import Mlp
from timm.models.vision_transformer import Block
from torch import nn

__all__ = ["CrossAttention", "CrossAttentionBlock", "AttentivePooler", "AttentiveClassifier", "EncoderClassifier"]

logger = logging.getLogger(__name__)


class CrossAttention(nn.Module):
    """Multi-head attention of queries ``[B, n, D]`` over tokens ``[B, N, D]`` (separate ``q``, fused ``kv``).

    ``proj`` exists for V-JEPA's key layout only; like the reference, :meth:`forward` does not apply it.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)  # loaded, never called (as in V-JEPA)

    def forward(self, query: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Queries ``[B, n, D]``, tokens ``[B, N, D]`` -> attended values ``[B, n, D]`` (heads concatenated)."""
        b, n, d = query.shape
        h = self.num_heads
        q = self.q(query).reshape(b, n, h, d // h).transpose(1, 2)  # [B, h, n, d/h]
        kv = self.kv(tokens).reshape(b, tokens.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)  # [2, B, h, N, d/h]
        out = F.scaled_dot_product_attention(q, kv[0], kv[1])  # [B, h, n, d/h]
        return out.transpose(1, 2).reshape(b, n, d)


class CrossAttentionBlock(nn.Module):
    """``q + xattn(q, norm1(x))``, then ``q + mlp(norm2(q))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.xattn = CrossAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, query: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        query = query + self.xattn(query, self.norm1(tokens))
        return query + self.mlp(self.norm2(query))


class AttentivePooler(nn.Module):
    """Learned query tokens ``[1, Q, D]`` cross-attending to ``[B, N, D]``; output ``[B, Q, D]``."""

    def __init__(self, dim: int, num_heads: int, num_queries: int = 1, depth: int = 1,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True) -> None:
        super().__init__()
        self.query_tokens = nn.Parameter(torch.zeros(1, num_queries, dim))
        self.cross_attention_block = CrossAttentionBlock(dim, num_heads, mlp_ratio, qkv_bias)
        self.blocks = nn.ModuleList([Block(dim, num_heads, mlp_ratio, qkv_bias=qkv_bias)
                                     for _ in range(depth - 1)]) if depth > 1 else None
        nn.init.trunc_normal_(self.query_tokens, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        query = self.cross_attention_block(self.query_tokens.expand(tokens.shape[0], -1, -1), tokens)
        for block in self.blocks or ():
            query = block(query)
        return query


class AttentiveClassifier(nn.Module):
    """V-JEPA's attentive probe: one query token pooled from frozen tokens, then a linear layer.

    Args:
        dim: Token width ``D``.
        num_heads: Heads of the cross-attention.
        num_classes: Output classes.
        depth: 1 (cross-attention block only) or more (extra self-attention blocks on the query).
        mlp_ratio: Hidden width of the MLPs over ``dim``.
    """

    def __init__(self, dim: int, num_heads: int, num_classes: int, depth: int = 1, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.pooler = AttentivePooler(dim, num_heads, num_queries=1, depth=depth, mlp_ratio=mlp_ratio)
        self.linear = nn.Linear(dim, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens ``[B, N, D]`` -> logits ``[B, num_classes]``."""
        return self.linear(self.pooler(tokens).squeeze(1))


class EncoderClassifier(nn.Module):
    """An encoder followed by a linear head on its pooled features (for full fine-tuning).

    Args:
        encoder: A :class:`~humanalign.models.vit.ViTEncoder` (or anything with ``encode``).
        num_classes: Output classes.
        pool: ``"mean"`` or ``"cls"``.
        dropout: Dropout before the head.
    """

    def __init__(self, encoder: nn.Module, num_classes: int, pool: str = "mean", dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.pool = pool
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(encoder.embed_dim), num_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[B, C, H, W]`` or clips ``[B, C, T, H, W]`` -> logits ``[B, num_classes]``."""
        return self.head(self.dropout(self.encoder.encode(x, pool=self.pool)))

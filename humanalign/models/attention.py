"""Which attention kernel the transformer blocks run: PyTorch SDPA or explicit matrix products.

Every block in the suite is a timm ``Block``; its ``Attention`` calls
``F.scaled_dot_product_attention`` when ``fused_attn`` is set and otherwise computes
``softmax(q k^T / sqrt(d)) v`` with two batched matrix products. Both give the same numbers (to float
rounding); they differ in speed and memory:

- On CUDA, SDPA dispatches to flash / memory-efficient kernels: faster, and memory linear in the
  sequence length. Always SDPA there.
- On CPU in fp32, SDPA's flash kernel is a little faster than the explicit path.
- On CPU under bf16 autocast, SDPA's flash-attention *backward* is the slowest op of an ST-MAE step
  (``torch.profiler``: 1.7x its own fp32 time); the explicit path sends both products to oneDNN's bf16
  matrix multiply. ``bench/train_step_parts.py`` measures a whole ST-MAE step 1.2x faster this way
  (ViT-S, 16 x 112 x 112, batch 8).

``"auto"`` picks from that table; ``"sdpa"`` and ``"math"`` force one path. The explicit path keeps the
``[B, heads, N, N]`` attention matrix for the backward pass (memory quadratic in the tokens per clip);
``attention=sdpa`` avoids that when memory, not time, is the limit.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["AttentionBackend", "resolve_attention", "set_attention"]

AttentionBackend = Literal["auto", "sdpa", "math"]


def resolve_attention(backend: str, device: torch.device | str, dtype: torch.dtype | None) -> str:
    """The kernel ``backend`` means on ``device`` when computing in ``dtype`` (None: fp32).

    Args:
        backend: ``"auto"``, ``"sdpa"`` or ``"math"``.
        device: Where the blocks run.
        dtype: The autocast (or parameter) dtype of the matrix products; None or float32 for fp32.

    Returns:
        ``"sdpa"`` or ``"math"``.
    """
    if backend not in ("auto", "sdpa", "math"):
        raise ValueError(f"unknown attention backend {backend!r}; use 'auto', 'sdpa' or 'math'")
    if backend != "auto":
        return backend
    low_precision = dtype is not None and dtype in (torch.bfloat16, torch.float16)
    return "math" if torch.device(device).type == "cpu" and low_precision else "sdpa"


def set_attention(module: nn.Module, kernel: str) -> int:
    """Make every timm attention layer inside ``module`` use ``kernel`` (``"sdpa"`` or ``"math"``).

    Returns:
        How many attention layers were switched (0 if ``module`` has none).
    """
    if kernel not in ("sdpa", "math"):
        raise ValueError(f"attention kernel must be 'sdpa' or 'math', got {kernel!r}")
    count = 0
    for child in module.modules():
        if hasattr(child, "fused_attn") and hasattr(child, "qkv"):
            child.fused_attn = kernel == "sdpa"
            count += 1
    return count

"""The classifier of a plain ``nn.Module``: its last ``nn.Linear``, whose input is the pooled embedding."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["last_linear", "embedding_before"]


def last_linear(module: nn.Module) -> tuple[str, nn.Linear] | None:
    """The last ``nn.Linear`` in registration order when it is the model's final operation's module.

    Torchvision classifiers (``fc``, ``classifier``, ``heads.head``) register their classifier last, so the
    last Linear is the head; a module with no Linear has no classifier.
    """
    found = None
    for name, mod in module.named_modules():
        if isinstance(mod, nn.Linear):
            found = (name, mod)
    return found


def embedding_before(module: nn.Module, head: nn.Module, run: Any, x: torch.Tensor) -> torch.Tensor:
    """Run ``run(x)`` and return the input the ``head`` module received, flattened to ``[B, D]``."""
    caught: dict[str, torch.Tensor] = {}

    def pre_hook(_mod: nn.Module, args: tuple) -> None:
        caught["x"] = args[0]

    handle = head.register_forward_pre_hook(pre_hook)
    try:
        run(x)
    finally:
        handle.remove()
    if "x" not in caught:
        raise RuntimeError(f"{type(module).__name__}: its classifier did not run in the forward pass")
    return caught["x"].flatten(1)

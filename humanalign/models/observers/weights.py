"""Reading a weights file into a module strictly: safetensors, or ``.pth``/``.pt``/``.bin`` with ``weights_only``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from humanalign.io.checkpoints import CheckpointError, load_state_dict_strict

__all__ = ["read_state_dict", "load_weights_file", "hf_cache_dir", "WEIGHT_SUFFIXES"]

logger = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
_WRAPPERS = ("state_dict", "model", "module", "model_state", "weights")


def hf_cache_dir() -> str | None:
    """The Hugging Face hub cache named by ``$HF_HUB_CACHE`` / ``$HF_HOME`` now (None: the library default).

    ``huggingface_hub`` reads these variables once, at import; reading them at load time honours a value
    set later in the process (a study config, a test) too.
    """
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.environ["HF_HOME"]), "hub")
    return None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file (a wrapping ``{"state_dict": ...}``/``{"model": ...}`` is unwrapped,
    a DDP ``module.`` prefix stripped).

    Raises:
        FileNotFoundError: the file does not exist. CheckpointError: an unsupported type, an unreadable
        file, or a pickle holding more than tensors (never unpickled fully).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    suffix = path.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise CheckpointError(f"{path}: unsupported weights file type {suffix!r} (use {', '.join(WEIGHT_SUFFIXES)})")
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any reader failure is a bad file, said in one line
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{path}: cannot read weights ({reason})") from err
    for key in _WRAPPERS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_weights_file(module: nn.Module, path: str | Path) -> nn.Module:
    """Load a weights file into ``module`` strictly (every key and shape must match).

    Raises:
        CheckpointError: naming the file and the first mismatching keys or shapes.
    """
    state = read_state_dict(path)
    load_state_dict_strict(module, state, str(path))
    logger.info("loaded %d tensors from %s", len(state), path)
    return module

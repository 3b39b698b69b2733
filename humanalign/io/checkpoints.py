"""Checkpoints: safetensors weights + ``meta.json``, and a resumable train state.

Layout of a training run's checkpoint folder::

    RUN/checkpoints/<step>/model.safetensors   all weights of the pretraining module (strict keys)
    RUN/checkpoints/<step>/meta.json           step, method, encoder config, which prefix is the encoder
    RUN/checkpoints/<step>/train_state.pt      optimizer, scheduler, RNG states, step (weights_only-safe)
    RUN/checkpoints/LATEST                     the newest complete step

A step folder is written under a temporary name and renamed when complete, then ``LATEST`` is
replaced atomically, so a crash never leaves a half-written checkpoint that resume would pick up.
``train_state.pt`` holds only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(weights_only=True)``. Key renames for released formats live in named converter
functions (:mod:`humanalign.io.converters`), never inside loading.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

__all__ = [
    "CheckpointError",
    "CorruptCheckpointError",
    "save_weights",
    "load_weights",
    "read_weights",
    "load_state_dict_strict",
    "save_checkpoint",
    "latest_checkpoint",
    "checkpoint_candidates",
    "read_meta",
    "save_train_state",
    "load_train_state",
]

logger = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
META = "meta.json"
TRAIN_STATE = "train_state.pt"
LATEST = "LATEST"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, or its keys/shapes do not match the model."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file cannot be read (truncated, not the format it claims, or refused as unsafe)."""


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_weights(state: dict[str, torch.Tensor], path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``state`` as safetensors (atomically) and ``meta`` as ``meta.json`` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)
    if meta is not None:
        _atomic_write_text(path.with_name(META), json.dumps(meta, indent=2, sort_keys=True, default=str))
    return path


def load_state_dict_strict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module`` strictly, with an error listing missing/unexpected/mis-shaped keys.

    Raises:
        CheckpointError: naming ``source`` and the offending keys.
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:8]}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
        if wrong:
            parts.append("shape mismatch " + ", ".join(
                f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in wrong[:5]))
        raise CheckpointError(f"{source}: checkpoint does not match {type(module).__name__}: " + "; ".join(parts))
    module.load_state_dict(state, strict=True)


def load_weights(module: nn.Module, path: str | Path, prefix: str = "") -> nn.Module:
    """Load safetensors weights into ``module`` strictly; ``prefix`` selects a sub-module's keys.

    Raises:
        FileNotFoundError: if the file is absent. CheckpointError: on any key or shape mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    state = read_weights(path)
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise CheckpointError(f"{path}: no keys start with {prefix!r}")
    load_state_dict_strict(module, state, str(path))
    return module


def read_weights(path: str | Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file.

    Raises:
        FileNotFoundError: if the file is absent. CorruptCheckpointError: naming the file, if it is
        truncated or not safetensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as err:
        raise CorruptCheckpointError(f"{path}: unreadable safetensors file ({err})") from err


def save_train_state(state: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` ``state`` atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_train_state(path: str | Path) -> dict[str, Any]:
    """Load a train state with ``weights_only=True`` (no arbitrary code runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"train state not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CorruptCheckpointError(f"{path}: refused: not loadable with weights_only=True ({first})") from err
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise CorruptCheckpointError(f"{path}: unreadable train state ({err})") from err
    if not isinstance(state, dict) or "step" not in state:
        raise CorruptCheckpointError(f"{path}: not a train state (expected a mapping with a 'step')")
    return state


def save_checkpoint(run_dir: str | Path, step: int, weights: dict[str, torch.Tensor], meta: dict[str, Any],
                    train_state: dict[str, Any] | None, keep_last: int = 0) -> Path:
    """Write ``RUN/checkpoints/<step>/`` completely, then point ``LATEST`` at it.

    Args:
        keep_last: If > 0, delete older step folders beyond the newest ``keep_last``.
    """
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / str(step)
    staging = root / f".{step}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    save_weights(weights, staging / WEIGHTS, meta={**meta, "step": step})
    if train_state is not None:
        save_train_state(train_state, staging / TRAIN_STATE)
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    _atomic_write_text(root / LATEST, f"{step}\n")
    if keep_last > 0:
        steps = sorted((int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True)
        for old in steps[keep_last:]:
            shutil.rmtree(root / str(old), ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete ``RUN/checkpoints/<step>/`` folder, or None if there is none."""
    root = Path(run_dir) / "checkpoints"
    marker = root / LATEST
    if marker.is_file():
        candidate = root / marker.read_text().strip()
        if (candidate / WEIGHTS).is_file():
            return candidate
    steps = sorted((int(p.name) for p in root.glob("*") if p.is_dir() and p.name.isdigit()
                    and (p / WEIGHTS).is_file()), reverse=True) if root.is_dir() else []
    return root / str(steps[0]) if steps else None


def checkpoint_candidates(run_dir: str | Path) -> list[Path]:
    """Every ``RUN/checkpoints/<step>/`` folder holding weights, newest first (the ``LATEST`` one leads).

    Resume tries them in this order and falls back past any whose files turn out unreadable.
    """
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    steps = sorted((int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()
                    and (p / WEIGHTS).is_file()), reverse=True)
    folders = [root / str(s) for s in steps]
    latest = latest_checkpoint(run_dir)
    if latest in folders:
        folders.remove(latest)
        folders.insert(0, latest)
    return folders


def read_meta(checkpoint_dir: str | Path) -> dict[str, Any]:
    """Read ``meta.json`` of a checkpoint folder (or of the folder holding a weights file)."""
    checkpoint_dir = Path(checkpoint_dir)
    if checkpoint_dir.is_file():
        checkpoint_dir = checkpoint_dir.parent
    path = checkpoint_dir / META
    if not path.is_file():
        raise CheckpointError(f"no {META} in {checkpoint_dir}: cannot tell which architecture the weights are for")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from err

"""Observers of plain PyTorch modules: ``py:FILE.py:FUNC``, ``package.module:FUNC`` and ``hub:DIR:ENTRY``.

The callable returns an ``nn.Module``. Its input contract comes from a timm-style ``pretrained_cfg`` when
the module has one, else the defaults (224 px ImageNet-normalised images), overridable in the spec
(``py:net.py:build|size=64,kind=video,frames=8``). A last ``nn.Linear`` whose output is the module's output
(checked on one blank input) is taken as the classifier: its input is the ``final`` embedding and its
output the logits; otherwise the model has no classifier and ``final`` is its output, mean-pooled.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from pathlib import Path

import torch
from torch import nn

from humanalign.models.observers.contract import InputContract
from humanalign.models.observers.heads import embedding_before, last_linear
from humanalign.models.observers.observer import Observer
from humanalign.models.observers.seeded import seeded_build
from humanalign.models.observers.spec import ModelSpec, SpecError

__all__ = ["python_observer", "module_observer", "plain_contract", "plain_observer"]

logger = logging.getLogger(__name__)


def plain_contract(module: nn.Module) -> InputContract:
    """A timm-style ``pretrained_cfg`` read with timm's rule if the module has one, else the defaults."""
    if getattr(module, "pretrained_cfg", None) or getattr(module, "default_cfg", None):
        from humanalign.models.observers.from_timm import timm_contract

        return timm_contract(module)
    return InputContract(source="default")


def _function(spec: ModelSpec):
    if spec.source == "py":
        file = Path(spec.target).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"{file}: Python file not found")
        name = f"humanalign_user_{abs(hash(str(file.resolve())))}"
        loader = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module
        try:
            loader.loader.exec_module(module)
        except Exception as err:  # noqa: BLE001 - the user's file failed to import: say where
            raise SpecError(f"{file}: import failed ({type(err).__name__}: {err})") from err
        where = str(file)
    else:
        try:
            module = importlib.import_module(spec.target)
        except ImportError as err:
            raise SpecError(f"model spec {spec.text!r}: cannot import {spec.target!r} ({err})") from None
        where = spec.target
    fn = getattr(module, spec.entry, None)
    if not callable(fn):
        raise SpecError(f"{where}: has no function {spec.entry!r}")
    return fn, where


def _is_output(module: nn.Module, head: nn.Module, contract: InputContract) -> bool:
    """Whether ``head``'s output is the module's output, on one blank input in the contract's layout.

    A backbone without a classifier also has a last ``nn.Linear`` (the last block's MLP); taking it as
    the head would make its hidden activations the "embedding" and the block output the "logits".
    """
    shape = (1, 3, contract.frames, contract.size, contract.size) if contract.is_video else \
        (1, 3, contract.size, contract.size)
    caught: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda _m, _i, out: caught.append(out))
    try:
        with torch.no_grad():
            out = module(torch.zeros(shape, device=next(module.parameters()).device))
    except Exception as err:  # noqa: BLE001 - the check is advisory: keep the guess, say why
        logger.warning("%s: could not check that its last nn.Linear is the classifier (%s: %s)",
                       type(module).__name__, type(err).__name__, err)
        return True
    finally:
        handle.remove()
    return bool(caught) and isinstance(out, torch.Tensor) and out is caught[-1]


def plain_observer(module: nn.Module, name: str, spec: str, source: str = "module", where: str | None = None,
                   overrides: dict | None = None) -> Observer:
    """Wrap any ``nn.Module`` (contract from its ``pretrained_cfg`` or the defaults; its last Linear is the
    classifier when that Linear's output is the module's output)."""
    module.eval()
    head = last_linear(module)
    contract = plain_contract(module).with_overrides(overrides or {}, spec)
    if head is not None and not _is_output(module, head[1], contract):
        logger.info("%s: its last nn.Linear (%s) is not its output layer: no classifier; final is the output, "
                    "mean-pooled", name, head[0])
        head = None

    def final(x, pooling: str):
        if head is not None:
            return embedding_before(module, head[1], module, x)
        from humanalign.models.observers.layers import pool_output
        from humanalign.models.observers.observer import _first_tensor

        return pool_output(_first_tensor(module(x)), "mean")

    return Observer(module, contract, name=name, spec=spec, source=source, final=final,
                    logits=module if head else None, num_classes=head[1].out_features if head else None,
                    prefix_tokens=int(getattr(module, "num_prefix_tokens", 0) or 0), weights_file=where)


def _observer(module: object, spec: ModelSpec, source: str, where: str) -> Observer:
    if not isinstance(module, nn.Module):
        raise SpecError(f"{where}: {spec.entry}() returned {type(module).__name__}, not an nn.Module")
    return plain_observer(module, spec.default_name, spec.text, source, where, dict(spec.overrides))


def python_observer(spec: ModelSpec) -> Observer:
    """``py:FILE.py:FUNC`` or ``package.module:FUNC``: call the function (seeded) and wrap its module."""
    fn, where = _function(spec)
    return _observer(seeded_build(fn), spec, spec.source, where)


def module_observer(spec: ModelSpec) -> Observer:
    """``hub:DIR:ENTRY``: ``torch.hub.load(DIR, ENTRY, source="local")`` (a local hubconf.py; no download)."""
    import torch

    folder = Path(spec.target).expanduser()
    if not (folder / "hubconf.py").is_file():
        raise FileNotFoundError(f"{folder}: no hubconf.py (hub:DIR:ENTRY needs a local torch.hub folder)")
    try:
        module = seeded_build(lambda: torch.hub.load(str(folder), spec.entry, source="local", trust_repo=True))
    except (RuntimeError, AttributeError) as err:
        raise SpecError(f"{folder}/hubconf.py: cannot load entry {spec.entry!r} ({err})") from None
    return _observer(module, spec, "hub", f"{folder}:{spec.entry}")

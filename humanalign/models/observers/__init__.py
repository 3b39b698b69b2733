"""Any model as an observer: one spec syntax, one adapter that every comparison consumes.

Example:
    >>> from humanalign.models.observers import load_observer, load_observers
    >>> obs = load_observer("timm:resnet18@weights/r18.safetensors")
    >>> obs.id, obs.weights_hash[:12], obs.contract.size
    >>> feats = obs.features(x, obs.resolve_layers("blocks"))   # {"block0": [B, D0], ...}
    >>> [o.id for o in load_observers({"mine": "py:net.py:build", "r50": "torchvision:resnet50"})]

See :mod:`humanalign.models.observers.spec` for the spec forms and
:mod:`humanalign.models.observers.layers` for layer names and pooling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import nn

from humanalign.models.observers.contract import InputContract
from humanalign.models.observers.layers import LayerError, find_blocks, pool_output, resolve_layers
from humanalign.models.observers.observer import Observer
from humanalign.models.observers.spec import ModelSpec, SpecError, parse_spec, parse_specs

__all__ = ["Observer", "InputContract", "ModelSpec", "SpecError", "LayerError", "load_observer",
           "load_observers", "as_observer", "parse_spec", "parse_specs", "find_blocks", "resolve_layers",
           "pool_output"]


def load_observer(spec: str | ModelSpec, device: str = "cpu", name: str | None = None) -> Observer:
    """The observer of one spec, on ``device`` in eval mode.

    Raises:
        SpecError: an unparsable spec or an unknown model. FileNotFoundError: a path that does not exist.
        CheckpointError: weights that do not fit the architecture (naming the file and the mismatch).
    """
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec, name=name)
    if parsed.source == "timm":
        from humanalign.models.observers.from_timm import timm_observer as build
    elif parsed.source == "torchvision":
        from humanalign.models.observers.from_torchvision import torchvision_observer as build
    elif parsed.source == "hf":
        from humanalign.models.observers.from_hf import hf_observer as build
    elif parsed.source == "hub":
        from humanalign.models.observers.from_python import module_observer as build
    elif parsed.source in ("py", "module"):
        from humanalign.models.observers.from_python import python_observer as build
    else:
        from humanalign.models.observers.from_suite import suite_observer as build
    return build(parsed).to(device)


def load_observers(specs: str | Iterable[str] | Mapping[str, str], device: str = "cpu") -> list[Observer]:
    """Observers of several specs (a ``--models`` string, a list, or a ``{name: spec}`` mapping)."""
    return [load_observer(s, device) for s in parse_specs(specs)]


def as_observer(model: Observer | nn.Module | str, name: str | None = None, device: str | None = None) -> Observer:
    """An observer from an observer (returned as is), a spec string, or an in-memory suite encoder."""
    if isinstance(model, Observer):
        obs = model
    elif isinstance(model, str):
        obs = load_observer(model, name=name)
    elif hasattr(model, "encode") and hasattr(model, "img_size"):
        from humanalign.models.observers.from_suite import encoder_observer

        obs = encoder_observer(model, name)
    else:
        from humanalign.models.observers.from_python import plain_observer

        label = name or type(model).__name__
        obs = plain_observer(model, label, label)
    return obs.to(device) if device is not None else obs

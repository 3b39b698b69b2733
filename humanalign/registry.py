"""Named registries for models, stimulus sets, corruptions, video perturbations and metrics.

Each registry maps a name to an object (usually a builder function) plus free-form metadata
(source address, licence, architecture, ...). Entries are registered by *provider modules*; a
registry imports its providers the first time it is read, so ``import humanalign.registry`` stays
cheap and has no import cycles.

Example:
    >>> from humanalign.registry import MODELS
    >>> encoder = MODELS.build("vit_test_video")
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Registry",
    "RegistryEntry",
    "UnknownNameError",
    "MODELS",
    "STIMULUS_SETS",
    "CORRUPTIONS",
    "VIDEO_PERTURBATIONS",
    "METRICS",
    "PRETRAIN_METHODS",
]

logger = logging.getLogger(__name__)


class UnknownNameError(KeyError):
    """Raised when a name is not registered; the message lists the closest registered names."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class RegistryEntry:
    """One registered object and its metadata."""

    name: str
    obj: Any
    meta: dict[str, Any] = field(default_factory=dict)


class Registry:
    """A small name -> object registry with lazy provider imports and helpful errors.

    Args:
        kind: Human-readable kind of thing stored ("model", "corruption", ...), used in errors.
        providers: Dotted module names whose import registers entries into this registry.
    """

    def __init__(self, kind: str, providers: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._providers = list(providers)
        self._entries: dict[str, RegistryEntry] = {}
        self._loaded = False

    # -- writing -----------------------------------------------------------------------------
    def register(self, name: str, obj: Any = None, **meta: Any) -> Any:
        """Register ``obj`` under ``name``; usable as ``@REG.register("name", key=value)`` too.

        Raises:
            ValueError: if ``name`` is already registered with a different object.
        """
        if obj is None:

            def decorator(fn: Any) -> Any:
                self.register(name, fn, **meta)
                return fn

            return decorator
        existing = self._entries.get(name)
        if existing is not None and existing.obj is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered (by {existing.obj!r})")
        self._entries[name] = RegistryEntry(name=name, obj=obj, meta=dict(meta))
        return obj

    # -- reading -----------------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in list(self._providers):
            importlib.import_module(module)

    def entry(self, name: str) -> RegistryEntry:
        """Return the full entry for ``name``.

        Raises:
            UnknownNameError: naming the unknown name and the closest registered names.
        """
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=5, cutoff=0.4)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Registered {self.kind}s: {known}"
            ) from None

    def get(self, name: str) -> Any:
        """Return the object registered under ``name`` (see :meth:`entry` for errors)."""
        return self.entry(name).obj

    def meta(self, name: str) -> dict[str, Any]:
        """Return a copy of the metadata registered with ``name``."""
        return dict(self.entry(name).meta)

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the registered builder: ``REG.get(name)(*args, **kwargs)``."""
        builder: Callable[..., Any] = self.get(name)
        return builder(*args, **kwargs)

    def list(self, prefix: str = "") -> list[str]:
        """Sorted registered names, optionally only those starting with ``prefix``."""
        self._load()
        return sorted(n for n in self._entries if n.startswith(prefix))

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"


# Provider modules: each imports and registers its entries. Add a module here when it lands.
MODELS = Registry("model", providers=("humanalign.models.zoo", "humanalign.models.released"))
STIMULUS_SETS = Registry("stimulus set", providers=("humanalign.stimuli.rsa92", "humanalign.stimuli.texture_shape", "humanalign.stimuli.model_vs_human"))
CORRUPTIONS = Registry("corruption", providers=("humanalign.perturb.corruptions",))
VIDEO_PERTURBATIONS = Registry("video perturbation", providers=("humanalign.perturb.video",))
METRICS = Registry("metric", providers=("humanalign.compare.behaviour",))
PRETRAIN_METHODS = Registry("pretraining method", providers=("humanalign.pretrain.methods", "humanalign.pretrain.methods_vito_vjepa"))

"""One model-spec syntax for every command: which model, from which library, with which weights.

Forms (``--models`` takes several, comma- or space-separated; a study YAML maps user names to specs):

- ``timm:NAME[@FILE]``: ``timm.create_model(NAME, pretrained=False)``, weights from FILE (safetensors,
  or ``.pth``/``.bin`` read with ``weights_only=True``), else from timm's Hugging Face cache if the
  file is already there, else a seeded random init (said in the log);
- ``torchvision:NAME[@FILE]``: ``torchvision.models.get_model(NAME, weights=None)`` plus FILE;
- ``hf:DIR_OR_NAME``: a local ``transformers`` folder (``config.json`` + weights) or a named model already
  in the Hugging Face cache (``$HF_HOME``); never downloaded;
- ``hub:DIR:ENTRY``: ``torch.hub.load(DIR, ENTRY, source="local")``;
- ``py:FILE.py:FUNC`` or ``package.module:FUNC``: any callable returning an ``nn.Module``;
- the suite's own: a registry name (``python -m humanalign list models``), a training-run folder, a
  checkpoint step folder or its ``model.safetensors``.

A spec may be given a user name, used on every results row, plot and contrast: ``mynet=timm:resnet50@r50.pth``
on a command line, ``models: {mynet: "timm:resnet50@r50.pth"}`` in a study YAML.

A spec may carry input-contract overrides after ``|``: ``timm:resnet50@r50.pth|size=160,crop=0.9``
(keys: ``size``, ``frames``, ``mean``, ``std`` as ``a/b/c``, ``crop``, ``interpolation``, ``kind``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ModelSpec", "SpecError", "parse_spec", "parse_specs", "SOURCES"]

SOURCES = ("timm", "torchvision", "hf", "hub", "py", "module", "suite")
_OVERRIDE_KEYS = {"size", "frames", "mean", "std", "crop", "interpolation", "kind"}
_NAMED = re.compile(r"^([A-Za-z_][\w.@+-]*)=(.+)$")
_MODULE_FUNC = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+:[A-Za-z_]\w*$")


class SpecError(ValueError):
    """A model spec that cannot be parsed or names nothing that exists."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec.

    Attributes:
        text: The spec as written (without the user name).
        source: One of :data:`SOURCES`.
        target: Model name, folder, file or ``module:function``, depending on ``source``.
        weights: Weights file for ``timm``/``torchvision`` specs (``@FILE``), else None.
        entry: Hub entry point or Python function name, else None.
        name: The user's name for the model (study YAML key), else None.
        overrides: Input-contract overrides (``|key=value,...``).
    """

    text: str
    source: str
    target: str
    weights: str | None = None
    entry: str | None = None
    name: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def default_name(self) -> str:
        """The observer id when the user gives no name: the spec (a path spec: its folder's name)."""
        if self.name:
            return self.name
        if self.source == "suite":
            path = Path(self.target)
            if path.exists():
                if path.name == "model.safetensors":
                    path = path.parent
                if path.parent.name == "checkpoints":  # runs/<run>/checkpoints/<step>
                    return f"{path.parent.parent.name}@{path.name}"
                return path.name
        return self.text.split("|")[0]


def _split_overrides(text: str) -> tuple[str, dict[str, str]]:
    base, sep, rest = text.partition("|")
    if not sep:
        return text, {}
    out: dict[str, str] = {}
    for part in rest.split(","):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in _OVERRIDE_KEYS:
            raise SpecError(f"model spec {text!r}: bad override {part!r} (use key=value with keys "
                            f"{', '.join(sorted(_OVERRIDE_KEYS))})")
        out[key] = value.strip()
    return base, out


def parse_spec(text: str, name: str | None = None) -> ModelSpec:
    """Parse one spec (see the module docstring).

    Raises:
        SpecError: naming the spec and what is wrong with it.
    """
    raw = str(text).strip()
    if not raw:
        raise SpecError("empty model spec")
    named = _NAMED.match(raw)
    if named and name is None and not Path(raw).exists():
        name, raw = named.group(1), named.group(2).strip()
    base, overrides = _split_overrides(raw)
    prefix, colon, rest = base.partition(":")
    if colon and prefix in ("timm", "torchvision"):
        model, at, weights = rest.partition("@")
        if not model:
            raise SpecError(f"model spec {raw!r}: no model name after {prefix}:")
        if at and not weights.strip():  # "timm:resnet50@" must not quietly become a random init
            raise SpecError(f"model spec {raw!r}: no weights file after @")
        return ModelSpec(raw, prefix, model, weights or None if at else None, None, name, overrides)
    if colon and prefix == "hf":
        if not rest:
            raise SpecError(f"model spec {raw!r}: give a folder or a cached model name after hf:")
        return ModelSpec(raw, "hf", rest, None, None, name, overrides)
    if colon and prefix == "hub":
        repo, sep, entry = rest.rpartition(":")
        if not sep or not repo or not entry:
            raise SpecError(f"model spec {raw!r}: use hub:DIR:ENTRY")
        return ModelSpec(raw, "hub", repo, None, entry, name, overrides)
    if colon and prefix == "py":
        file, sep, func = rest.rpartition(":")
        if not sep or not file.endswith(".py") or not func:
            raise SpecError(f"model spec {raw!r}: use py:FILE.py:FUNCTION")
        return ModelSpec(raw, "py", file, None, func, name, overrides)
    if _MODULE_FUNC.match(base) and not Path(base).exists():
        module, _, func = base.partition(":")
        return ModelSpec(raw, "module", module, None, func, name, overrides)
    return ModelSpec(raw, "suite", base, None, None, name, overrides)


def parse_specs(items: str | Iterable[str] | Mapping[str, str]) -> list[ModelSpec]:
    """Specs from a comma/space-separated string, a list of such strings, or a ``{name: spec}`` mapping.

    Raises:
        SpecError: for an unparsable spec or two specs that would share an observer id.
    """
    if isinstance(items, Mapping):
        specs = [parse_spec(str(spec), name=str(name)) for name, spec in items.items()]
    else:
        chunks = [items] if isinstance(items, str) else list(items)
        texts: list[str] = []
        for chunk in chunks:
            for t in re.split(r"[,\s]+", str(chunk).strip()):
                # "timm:x|size=64,kind=video": the commas after "|" separate overrides, not specs
                if t and texts and "|" in texts[-1] and t.partition("=")[0] in _OVERRIDE_KEYS:
                    texts[-1] += "," + t
                elif t:
                    texts.append(t)
        specs = [parse_spec(t) for t in texts]
    return disambiguate(specs)


def disambiguate(specs: list[ModelSpec]) -> list[ModelSpec]:
    """Give path specs that share a default name (``runs/a/A``, ``runs/b/A``) distinct names (``a/A``, ``b/A``).

    Raises:
        SpecError: when two specs are the same model twice, or user names collide.
    """
    seen: dict[str, ModelSpec] = {}
    out = list(specs)
    names = [s.default_name for s in specs]
    for i, spec in enumerate(specs):
        if names.count(names[i]) == 1:
            continue
        if spec.name:
            raise SpecError(f"two models are both named {spec.name!r}; give each a distinct name")
        if spec.source == "suite" and Path(spec.target).exists():
            parts = Path(spec.target).resolve().parts
            depth = 2
            while depth <= len(parts):
                candidate = "/".join(parts[-depth:])
                others = ["/".join(Path(o.target).resolve().parts[-depth:]) for o in specs
                          if o is not spec and o.source == "suite" and o.default_name == spec.default_name]
                if candidate not in others:
                    out[i] = ModelSpec(spec.text, spec.source, spec.target, spec.weights, spec.entry, candidate,
                                       spec.overrides)
                    break
                depth += 1
            else:
                raise SpecError(f"model {spec.text!r} is given twice")
        else:
            raise SpecError(f"model {spec.text!r} is given twice")
    for spec in out:
        key = spec.default_name
        if key in seen:
            raise SpecError(f"models {seen[key].text!r} and {spec.text!r} would share the name {key!r}")
        seen[key] = spec
    return out

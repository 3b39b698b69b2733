"""What a model expects as input, read from the model's own metadata and overridable in the spec."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from humanalign.models.observers.spec import SpecError

if TYPE_CHECKING:  # imported lazily: humanalign.features imports this package (a cycle at import time)
    from humanalign.features.preprocess import Preprocessing

__all__ = ["InputContract", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputContract:
    """A model's input: images or clips, their size, frames, normalisation and resize rule.

    Attributes:
        kind: ``"image"`` (``[B, 3, S, S]``) or ``"video"`` (``[B, 3, T, S, S]``).
        size: Side ``S`` of the square input.
        frames: Frames ``T`` per clip (1 for image models).
        mean: Per-channel mean on the [0, 1] scale.
        std: Per-channel standard deviation on the [0, 1] scale.
        crop_fraction: Centre-crop fraction of the resized shorter side (timm ``crop_pct``; 1.0 = none).
        interpolation: ``"bilinear"`` or ``"bicubic"`` resize.
        source: Where the contract was read from (for provenance), e.g. ``"timm pretrained_cfg"``.
    """

    kind: Literal["image", "video"] = "image"
    size: int = 224
    frames: int = 1
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    crop_fraction: float = 1.0
    interpolation: str = "bilinear"
    source: str = "default"

    @property
    def is_video(self) -> bool:
        """True for clip models."""
        return self.kind == "video"

    def preprocessing(self, crop_fraction: float | None = None) -> Preprocessing:
        """The pixel preprocessing of this contract (``crop_fraction`` overrides the contract's)."""
        from humanalign.features.preprocess import Preprocessing

        crop = self.crop_fraction if crop_fraction is None else crop_fraction
        return Preprocessing(int(self.size), tuple(self.mean), tuple(self.std), float(crop), self.interpolation)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description (stored with results)."""
        d = dataclasses.asdict(self)
        d.update(mean=list(self.mean), std=list(self.std))
        return d

    def with_overrides(self, overrides: Mapping[str, str], spec: str = "") -> InputContract:
        """This contract with the spec's ``|key=value`` overrides applied.

        Raises:
            SpecError: for a value that does not parse.
        """
        if not overrides:
            return self
        changes: dict[str, Any] = {}
        try:
            for key, value in overrides.items():
                if key == "size":
                    changes["size"] = int(value)
                elif key == "frames":
                    changes["frames"] = int(value)
                elif key in ("mean", "std"):
                    triple = tuple(float(v) for v in value.split("/"))
                    if len(triple) != 3:
                        raise ValueError(f"{key} needs three values a/b/c")
                    changes[key] = triple
                elif key == "crop":
                    changes["crop_fraction"] = float(value)
                elif key == "interpolation":
                    if value not in ("bilinear", "bicubic"):
                        raise ValueError("interpolation must be bilinear or bicubic")
                    changes["interpolation"] = value
                elif key == "kind":
                    if value not in ("image", "video"):
                        raise ValueError("kind must be image or video")
                    changes["kind"] = value
        except ValueError as err:
            raise SpecError(f"model spec {spec!r}: override {key}={value!r}: {err}") from None
        if changes.get("kind") == "image":
            changes.setdefault("frames", 1)
        return dataclasses.replace(self, **changes, source=f"{self.source} + spec overrides")

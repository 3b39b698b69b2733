"""``torchvision:NAME[@FILE]`` observers: a torchvision model, its weights' transforms as the contract."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from humanalign.models.observers.contract import IMAGENET_MEAN, IMAGENET_STD, InputContract
from humanalign.models.observers.heads import embedding_before, last_linear
from humanalign.models.observers.observer import Observer
from humanalign.models.observers.seeded import INIT_SEED, seeded_build
from humanalign.models.observers.spec import ModelSpec, SpecError
from humanalign.models.observers.weights import load_weights_file

__all__ = ["torchvision_observer", "torchvision_contract"]

logger = logging.getLogger(__name__)
_VIDEO = {"r3d_18", "mc3_18", "r2plus1d_18", "s3d", "mvit_v1_b", "mvit_v2_s", "swin3d_t", "swin3d_s", "swin3d_b"}


def torchvision_contract(name: str) -> InputContract:
    """Input contract from the default weights' ``transforms()`` (metadata only; nothing is downloaded)."""
    import torchvision

    video = name in _VIDEO
    try:
        transform = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    except (ValueError, AttributeError, KeyError):
        return InputContract("video" if video else "image", 112 if video else 224, 16 if video else 1,
                             source="default (model has no published weights)")
    crop = int(transform.crop_size[0])
    resize = transform.resize_size
    short = int(min(resize) if isinstance(resize, (list, tuple)) else resize)
    interp = str(getattr(transform.interpolation, "value", transform.interpolation)).lower()
    return InputContract("video" if video else "image", crop, 16 if video else 1,
                         tuple(float(v) for v in getattr(transform, "mean", IMAGENET_MEAN)),
                         tuple(float(v) for v in getattr(transform, "std", IMAGENET_STD)),
                         crop / short, interp if interp in ("bilinear", "bicubic") else "bilinear",
                         "torchvision weights transforms")


def torchvision_observer(spec: ModelSpec) -> Observer:
    """Build the observer of a ``torchvision:`` spec.

    Raises:
        SpecError: for a name torchvision does not know. CheckpointError: for weights that do not fit.
    """
    import torchvision

    if spec.target not in torchvision.models.list_models():
        raise SpecError(f"torchvision has no model {spec.target!r} (see torchvision.models.list_models())")
    model = seeded_build(lambda: torchvision.models.get_model(spec.target, weights=None))
    weights = str(Path(spec.weights).expanduser()) if spec.weights else None
    if weights:
        load_weights_file(model, weights)
    else:
        logger.warning("%s: no weights file given: random init (seed %d)", spec.text, INIT_SEED)
    model.eval()
    head = last_linear(model)
    contract = torchvision_contract(spec.target).with_overrides(spec.overrides, spec.text)
    # SqueezeNet classifies with a 1x1 conv over `features` (1000 ImageNet classes, model-vs-human scores it so)
    conv_head = [m for m in model.classifier if isinstance(m, nn.Conv2d)][-1:] if head is None and \
        isinstance(getattr(model, "classifier", None), nn.Sequential) and hasattr(model, "features") else []

    def final(x, pooling: str):
        if head:
            return embedding_before(model, head[1], model, x)  # [B, D]: the classifier's input
        if conv_head:
            return model.features(x).mean((2, 3))  # [B, C]: the conv classifier's input, globally averaged
        return model(x).flatten(1)

    classes = head[1].out_features if head else (conv_head[0].out_channels if conv_head else None)
    return Observer(model, contract, name=spec.default_name, spec=spec.text, source="torchvision", run=model,
                    final=final, logits=model if classes else None, num_classes=classes,
                    prefix_tokens=1 if spec.target.startswith("vit_") else 0, weights_file=weights,
                    info={"weights": weights or f"random init (seed {INIT_SEED})",
                          "channels_last": spec.target.startswith("swin")})  # Swin stages are [B, (T,) H, W, C]

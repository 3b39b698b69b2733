"""Registry entries for released checkpoints: HVM-1, MAE-ST, VideoMAE v1/v2, V-JEPA, timm image ViTs.

Every entry is a :class:`ReleasedModel` recording its architecture, source page, download address
(None where the authors share files only by hand: Google Drive folders or request forms), the local file
name it expects, the published checksum where there is one, licence, input normalisation and frame
sampling. ``MODELS.build(name)`` (and :func:`humanalign.models.load_model`) finds the file in
``$HUMANALIGN_CHECKPOINTS`` (one or more folders, ``os.pathsep``-separated) or ``~/.cache/humanalign``,
downloads it when it is absent and a download address exists (unless ``HUMANALIGN_OFFLINE=1``), converts
it with the entry's named converter (:mod:`humanalign.io.converters`) and loads it strictly.

A missing file raises :class:`CheckpointNotFoundError` naming the address and the folders searched.

Example:
    >>> from humanalign.registry import MODELS
    >>> MODELS.meta("hvm1")["url"]
    'https://huggingface.co/eminorhan/hvm-1/resolve/main/hvm1_none.pth'
    >>> encoder = MODELS.build("hvm1")          # ViT-H/14 video encoder, eval mode
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from humanalign.io.checkpoints import CheckpointError, load_state_dict_strict
from humanalign.io.converters import CONVERTERS, Converted, read_checkpoint_file
from humanalign.models.heads import AttentiveClassifier
from humanalign.models.vit import IMAGENET_MEAN, IMAGENET_STD, EncoderConfig, ViTEncoder
from humanalign.registry import MODELS

__all__ = [
    "ReleasedModel",
    "RELEASED",
    "CheckpointNotFoundError",
    "checkpoint_dirs",
    "resolve_checkpoint",
    "download",
    "build_released",
    "encoder_from_converted",
]

logger = logging.getLogger(__name__)

HALF = (0.5, 0.5, 0.5)


class CheckpointNotFoundError(FileNotFoundError):
    """A released checkpoint is not on disk and could not be downloaded."""


@dataclass(frozen=True)
class ReleasedModel:
    """One released checkpoint and how to turn it into an encoder.

    Attributes:
        name: Registry name.
        family: ``hvm1``, ``mae_st``, ``videomae``, ``videomae_v2``, ``vjepa``, ``image_mae``, ``timm``.
        architecture: :class:`EncoderConfig` fields (shape-determined fields are checked against the file).
        converter: Name in :data:`humanalign.io.converters.CONVERTERS`.
        filename: Local file name looked for in :func:`checkpoint_dirs`.
        source: Page describing the release.
        url: Direct download address, or None when files are shared by hand.
        licence: Licence of the weights.
        sha256: Published SHA-256 of the file, if any. md5_prefix: published MD5 prefix, if any.
        mean, std: Input normalisation (on the [0, 1] scale).
        frame_sampling: Frames per clip and how they are taken from a video (empty for image models).
        pool: Pooling the release uses for its classifier/probe (``"cls"`` or ``"mean"``).
        num_classes: Classes of a fine-tuned head (None for encoders).
        probe: A second file (the V-JEPA attentive probe): ``{"filename", "url", "converter"}``.
        converter_kwargs: Extra keyword arguments for the converter.
        notes: Free text (what the model was trained on).
    """

    name: str
    family: str
    architecture: dict[str, Any]
    converter: str
    filename: str
    source: str
    url: str | None
    licence: str
    sha256: str | None = None
    md5_prefix: str | None = None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    frame_sampling: dict[str, Any] = field(default_factory=dict)
    pool: str = "mean"
    num_classes: int | None = None
    probe: dict[str, str] | None = None
    converter_kwargs: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def meta(self) -> dict[str, Any]:
        """Registry metadata (everything but the converter internals)."""
        arch = self.architecture
        kind = "video" if arch.get("video", True) else "image"
        size = f"ViT d{arch.get('embed_dim', '?')} x{arch.get('depth', '?')} /{arch.get('patch_size', '?')}"
        return {
            "family": self.family, "modality": kind, "architecture": f"{size} {kind}, {arch.get('img_size', 224)}px",
            "source": self.source, "url": self.url, "filename": self.filename, "sha256": self.sha256,
            "md5_prefix": self.md5_prefix, "licence": self.licence, "input_mean": self.mean, "input_std": self.std,
            "frame_sampling": dict(self.frame_sampling), "pool": self.pool, "num_classes": self.num_classes,
            "converter": self.converter, "probe": dict(self.probe) if self.probe else None, "notes": self.notes,
        }


# -- finding and downloading files --------------------------------------------------------------------
def checkpoint_dirs() -> list[Path]:
    """Folders searched for released files: ``$HUMANALIGN_CHECKPOINTS`` entries, then ``~/.cache/humanalign``."""
    dirs = [Path(p).expanduser() for p in os.environ.get("HUMANALIGN_CHECKPOINTS", "").split(os.pathsep) if p]
    dirs.append(Path("~/.cache/humanalign").expanduser())
    return dirs


def _offline() -> bool:
    return os.environ.get("HUMANALIGN_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digest(path: Path, sha256: str | None, md5_prefix: str | None) -> None:
    if sha256 and (found := _file_digest(path, "sha256")) != sha256.lower():
        raise CheckpointError(f"{path}: SHA-256 {found} does not match the published {sha256}")
    if md5_prefix and not (found := _file_digest(path, "md5")).startswith(md5_prefix.lower()):
        raise CheckpointError(f"{path}: MD5 {found} does not start with the published {md5_prefix}")


def download(url: str, dest: str | Path, sha256: str | None = None, md5_prefix: str | None = None,
             timeout: float = 60.0, progress: bool = True) -> Path:
    """Stream ``url`` to ``dest`` (via a ``.part`` file renamed when complete and verified).

    Raises:
        urllib.error.URLError / OSError: the transfer failed (nothing is left at ``dest``).
        CheckpointError: the checksum does not match the published one (the file is deleted).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    logger.info("downloading %s -> %s", url, dest)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, part.open("wb") as out:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        _check_digest(part, sha256, md5_prefix)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def resolve_checkpoint(filename: str, url: str | None, name: str, sha256: str | None = None,
                       md5_prefix: str | None = None, allow_download: bool | None = None,
                       source: str | None = None) -> Path:
    """Local path of a released file: found in :func:`checkpoint_dirs`, or downloaded into the first one.

    Args:
        filename: Expected file name.
        url: Download address (None: files shared by hand).
        name: Model name, for messages.
        source: Release page, named in the message when there is no direct address.
        allow_download: Force (True) or forbid (False) downloading; None = unless ``HUMANALIGN_OFFLINE=1``.

    Raises:
        CheckpointNotFoundError: naming the address and every folder searched.
    """
    dirs = checkpoint_dirs()
    for folder in dirs:
        if (folder / filename).is_file():
            return folder / filename
    env = os.environ.get("HUMANALIGN_CHECKPOINTS")
    searched = ", ".join(str(d) for d in dirs) + ("" if env else "; HUMANALIGN_CHECKPOINTS is not set")
    where = f"download it from {url}" if url else f"download it by hand from {source or 'its release page'}"
    allow = (not _offline()) if allow_download is None else allow_download
    reason = ""
    if url and allow:
        try:
            return download(url, dirs[0] / filename, sha256=sha256, md5_prefix=md5_prefix)
        except (urllib.error.URLError, OSError, CheckpointError) as err:
            reason = f" Download from {url} failed: {err}."
    elif url:
        reason = " Downloading is off (HUMANALIGN_OFFLINE=1)."
    raise CheckpointNotFoundError(
        f"model {name!r}: checkpoint file {filename!r} not found in the folders searched ({searched}).{reason} "
        f"To use it, {where} and put it in one of those folders (set HUMANALIGN_CHECKPOINTS to choose one)."
    )


# -- building ---------------------------------------------------------------------------------------
def encoder_from_converted(converted: Converted, architecture: dict[str, Any], source: str) -> ViTEncoder:
    """A :class:`ViTEncoder` holding ``converted.encoder``, loaded strictly.

    Fields the tensor shapes determine (``converted.config``: width, depth, patch, frames, ...) must equal
    ``architecture``: a file of another size (ViT-S weights for a ViT-B entry) would otherwise build a
    model with the wrong head count, silently.

    Raises:
        CheckpointError: when the weights do not match the model (keys named).
    """
    fields = {f.name for f in dataclasses.fields(EncoderConfig)}
    for key, value in converted.config.items():
        if key in architecture and architecture[key] != value:
            raise CheckpointError(f"{source}: does not fit the architecture: the model has {key}={architecture[key]!r} "
                                  f"but the file has {key}={value!r}")
    merged = {k: v for k, v in {**architecture, **converted.config}.items() if k in fields}
    encoder = ViTEncoder(dataclasses.replace(EncoderConfig(), **merged))
    load_state_dict_strict(encoder, converted.encoder, source)
    return encoder


def _linear_head(state: dict[str, Any], source: str) -> nn.Linear:
    if "weight" not in state:
        raise CheckpointError(f"{source}: head keys {sorted(state)} have no 'weight'")
    weight = state["weight"]  # [classes, D]
    head = nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in state)
    load_state_dict_strict(head, state, f"{source} (head)")
    return head


def build_released(spec: ReleasedModel, path: str | Path | None = None, probe_path: str | Path | None = None,
                   allow_download: bool | None = None) -> ViTEncoder:
    """Build the encoder of a released checkpoint (eval mode), with its head or probe attached.

    Args:
        spec: The entry.
        path: Use this file instead of searching :func:`checkpoint_dirs`.
        probe_path: Likewise for the attentive-probe file of V-JEPA probe entries.
        allow_download: See :func:`resolve_checkpoint`.

    Returns:
        The encoder; ``encoder.head`` is the fine-tuned ``nn.Linear`` (fine-tuned entries) or the
        :class:`~humanalign.models.heads.AttentiveClassifier` (probe entries), else None. Its
        ``input_mean``/``input_std`` are the release's normalisation; ``encoder.released`` holds the meta.
    """
    file = Path(path) if path is not None else resolve_checkpoint(
        spec.filename, spec.url, spec.name, spec.sha256, spec.md5_prefix, allow_download, spec.source)
    raw = read_checkpoint_file(file)
    converted = CONVERTERS[spec.converter](raw, **spec.converter_kwargs)
    encoder = encoder_from_converted(converted, spec.architecture, str(file))
    head: nn.Module | None = None
    if converted.head:
        head = _linear_head(converted.head, str(file))
    if spec.probe:
        probe_file = Path(probe_path) if probe_path is not None else resolve_checkpoint(
            spec.probe["filename"], spec.probe.get("url"), spec.name, allow_download=allow_download,
            source=spec.source)
        probe = CONVERTERS[spec.probe.get("converter", "vjepa_probe")](read_checkpoint_file(probe_file))
        head = AttentiveClassifier(encoder.embed_dim, encoder.cfg.num_heads, probe.config["num_classes"],
                                   depth=probe.config["depth"], mlp_ratio=probe.config["mlp_ratio"])
        load_state_dict_strict(head, probe.head, str(probe_file))
    encoder.head = head
    encoder.input_mean, encoder.input_std = tuple(spec.mean), tuple(spec.std)
    encoder.model_name = spec.name
    encoder.checkpoint_path = str(file)
    encoder.released = spec.meta()
    logger.info("loaded %s from %s (dropped %d keys: %s)", spec.name, file, len(converted.dropped),
                converted.dropped[:4])
    return encoder.eval()


# -- the entries ------------------------------------------------------------------------------------
def _arch(size: str, **extra: Any) -> dict[str, Any]:
    sizes = {
        "s16": dict(embed_dim=384, depth=12, num_heads=6, patch_size=16),
        "b16": dict(embed_dim=768, depth=12, num_heads=12, patch_size=16),
        "l16": dict(embed_dim=1024, depth=24, num_heads=16, patch_size=16),
        "h14": dict(embed_dim=1280, depth=32, num_heads=16, patch_size=14),
        "h16": dict(embed_dim=1280, depth=32, num_heads=16, patch_size=16),
        "g14": dict(embed_dim=1408, depth=40, num_heads=16, patch_size=14, mlp_ratio=48 / 11),
    }
    base = dict(img_size=224, num_frames=16, tubelet_size=2, video=True, mlp_ratio=4.0)
    return {**base, **sizes[size], **extra}


RELEASED: dict[str, ReleasedModel] = {}


def _add(spec: ReleasedModel) -> None:
    RELEASED[spec.name] = spec

    def builder(path: str | Path | None = None, probe_path: str | Path | None = None,
                allow_download: bool | None = None) -> ViTEncoder:
        # looked up at call time, so a patched entry (tests, a lab's local override) is the one built
        return build_released(RELEASED[spec.name], path=path, probe_path=probe_path, allow_download=allow_download)

    builder.__doc__ = f"Released checkpoint {spec.name!r} ({spec.family}); see humanalign.models.released."
    MODELS.register(spec.name, builder, **spec.meta())


# HVM-1 (Orhan 2024): ViT-H/14 MAE-ST on ~5k h of egocentric video, and the Kinetics-700 control.
_HVM1_SOURCE = "https://github.com/eminorhan/hvm-1"
_HVM1_HF = "https://huggingface.co/eminorhan/hvm-1/resolve/main/"
_HVM1_LICENCE = "not stated in the release; see https://huggingface.co/eminorhan/hvm-1"
_HVM1_FT = {"ssv2-10shot": 174, "ssv2-50shot": 174, "kinetics-10shot": 700, "kinetics-50shot": 700,
            "imagenet-2pt": 1000}
for _pre, _side, _data in (("hvm1", 224, "HVM-1 egocentric video (~5k h)"),
                           ("hvm1@448", 448, "HVM-1 egocentric video (~5k h), 448 px"),
                           ("kinetics", 224, "Kinetics-700 (control)")):
    _sampling = {"num_frames": 16, "tubelet": 2, "stride": 4, "note": "mae_st default clip sampling"}
    _add(ReleasedModel(
        name=_pre, family="hvm1", architecture=_arch("h14", img_size=_side, cls_token=True), converter="hvm1",
        filename=f"{_pre}_none.pth", source=_HVM1_SOURCE, url=f"{_HVM1_HF}{_pre}_none.pth",
        licence=_HVM1_LICENCE, frame_sampling=_sampling, pool="cls",
        notes=f"MAE-ST pretrained on {_data}; file holds encoder and decoder (decoder dropped)"))
    for _ft, _classes in _HVM1_FT.items():
        _add(ReleasedModel(
            name=f"{_pre}-{_ft}", family="hvm1", architecture=_arch("h14", img_size=_side, cls_token=True),
            converter="hvm1", filename=f"{_pre}_{_ft}.pth", source=_HVM1_SOURCE, url=f"{_HVM1_HF}{_pre}_{_ft}.pth",
            licence=_HVM1_LICENCE, frame_sampling=_sampling, pool="cls", num_classes=_classes,
            notes=f"{_pre} fine-tuned on {_ft} (CLS token -> norm -> linear head)"))

# MAE-ST (Feichtenhofer et al. 2022): pretrained ViT-L/16 and ViT-H on Kinetics; md5 prefixes published.
_MAEST = "https://dl.fbaipublicfiles.com/video-mae/pretrain/"
for _size, _tag, _md5 in (("l16", "large", {"k400": "edf3a5", "k600": "9a9645", "k700": "cdbada"}),
                          ("h14", "huge", {"k400": "3d7f64", "k600": "27495e", "k700": "4c4e3c"})):
    for _data, _prefix in _md5.items():
        _add(ReleasedModel(
            name=f"mae-st-{_size[0]}-{_data}", family="mae_st", architecture=_arch(_size, cls_token=True),
            converter="mae_st", filename=f"mae_pretrain_vit_{_tag}_{_data}.pth",
            source="https://github.com/facebookresearch/mae_st", url=f"{_MAEST}mae_pretrain_vit_{_tag}_{_data}.pth",
            licence="CC-BY-NC 4.0", md5_prefix=_prefix,
            frame_sampling={"num_frames": 16, "tubelet": 2, "stride": 4}, pool="mean",
            notes=f"MAE-ST pretrained on Kinetics-{_data[1:]} (90% masking, 1600 effective epochs)"))

# VideoMAE v1 (Tong et al. 2022): files are in Google Drive folders listed on the model-zoo page.
_VMAE = "https://github.com/MCG-NJU/VideoMAE/blob/main/MODEL_ZOO.md"
for _size, _data, _kind, _classes, _stride in (("b16", "k400", "pretrain", None, 4), ("b16", "ssv2", "pretrain", None, 2),
                                              ("l16", "k400", "pretrain", None, 4),
                                              ("b16", "k400", "finetune", 400, 4), ("b16", "ssv2", "finetune", 174, 2)):
    _suffix = "" if _kind == "pretrain" else "-ft"
    _add(ReleasedModel(
        name=f"videomae-{_size[0]}-{_data}{_suffix}", family="videomae",
        architecture=_arch(_size, fc_norm=_kind == "finetune"), converter="videomae",
        filename=f"videomae_vit{_size[0]}_{_data}_{_kind}.pth", source=_VMAE, url=None, licence="CC-BY-NC 4.0",
        frame_sampling={"num_frames": 16, "tubelet": 2, "stride": _stride,
                        "note": "K400: dense stride 4; SSv2: segment-based sampling in fine-tuning"},
        pool="mean", num_classes=_classes,
        notes=f"VideoMAE {_kind} ({_data}); save the model-zoo checkpoint.pth under this file name"))

# VideoMAE v2 (Wang et al. 2023): distilled ViT-S/B (K710 fine-tuned) and the ViT-g hybrid pretrain.
_VMAE2 = "https://github.com/OpenGVLab/VideoMAEv2/blob/master/docs/MODEL_ZOO.md"
for _name, _size, _file, _classes in (("videomae2-s-k710-distill", "s16", "vit_s_k710_dl_from_giant.pth", 710),
                                      ("videomae2-b-k710-distill", "b16", "vit_b_k710_dl_from_giant.pth", 710),
                                      ("videomae2-g-hybrid", "g14", "vit_g_hybrid_pt_1200e.pth", None)):
    _add(ReleasedModel(
        name=_name, family="videomae_v2", architecture=_arch(_size, fc_norm=_classes is not None),
        converter="videomae_v2", filename=_file, source=_VMAE2, url=None,
        licence="MIT (code); weights shared on request (form on the model-zoo page)",
        frame_sampling={"num_frames": 16, "tubelet": 2, "stride": 4}, pool="mean", num_classes=_classes,
        notes="VideoMAE v2; weights are distributed after a request form, so no direct address"))

# V-JEPA (Bardes et al. 2024): target encoders and attentive probes.
_JEPA = "https://dl.fbaipublicfiles.com/jepa/"
for _size, _dir, _side in (("l16", "vitl16", 224), ("h16", "vith16", 224), ("h16", "vith16-384", 384)):
    _base = f"vjepa-{_size}" + ("-384" if _side == 384 else "")
    _spec = dict(family="vjepa", architecture=_arch(_size, img_size=_side, pos_embed="table"), converter="vjepa",
                 filename=f"{_dir}.pth.tar", source="https://github.com/facebookresearch/jepa",
                 url=f"{_JEPA}{_dir}/{_dir}.pth.tar", licence="CC-BY-NC 4.0",
                 frame_sampling={"num_frames": 16, "tubelet": 2, "stride": 4}, pool="mean",
                 converter_kwargs={"img_size": _side})
    _add(ReleasedModel(name=_base, notes="V-JEPA target (EMA) encoder, VideoMix2M", **_spec))
    for _task in ("k400", "ssv2", "in1k"):
        _add(ReleasedModel(
            name=f"{_base}-{_task}-probe", notes=f"V-JEPA encoder with its frozen-evaluation attentive probe ({_task})",
            probe={"filename": f"{_dir}-{_task}-probe.pth.tar", "url": f"{_JEPA}{_dir}/{_task}-probe.pth.tar",
                   "converter": "vjepa_probe"}, **_spec))

# Image baselines: image MAE (He et al. 2022) and timm ViTs.
for _size, _tag in (("b16", "base"), ("l16", "large"), ("h14", "huge")):
    _add(ReleasedModel(
        name=f"mae-image-{_size[0]}", family="image_mae",
        architecture=_arch(_size, video=False, cls_token=True), converter="timm_vit",
        filename=f"mae_pretrain_vit_{_tag}.pth", source="https://github.com/facebookresearch/mae",
        url=f"https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_{_tag}.pth", licence="CC-BY-NC 4.0",
        pool="mean", notes="image MAE encoder pretrained on ImageNet-1k"))
for _timm, _size, _mean, _std, _licence in (
        ("vit_base_patch16_224.mae", "b16", IMAGENET_MEAN, IMAGENET_STD, "CC-BY-NC 4.0"),
        ("vit_large_patch16_224.mae", "l16", IMAGENET_MEAN, IMAGENET_STD, "CC-BY-NC 4.0"),
        ("vit_huge_patch14_224.mae", "h14", IMAGENET_MEAN, IMAGENET_STD, "CC-BY-NC 4.0"),
        ("vit_base_patch16_224.augreg2_in21k_ft_in1k", "b16", HALF, HALF, "Apache-2.0")):
    _add(ReleasedModel(
        name=f"timm-{_timm}", family="timm", architecture=_arch(_size, video=False, cls_token=True, pos_resize="timm"),
        converter="timm_vit", filename=f"{_timm}.safetensors", source=f"https://huggingface.co/timm/{_timm}",
        url=f"https://huggingface.co/timm/{_timm}/resolve/main/model.safetensors", licence=_licence,
        mean=_mean, std=_std, pool="cls" if "in1k" in _timm else "mean",
        num_classes=1000 if "in1k" in _timm else None, notes="timm image ViT (image baseline)"))

"""The observer adapter: any ``nn.Module`` behind one interface that every comparison consumes.

An :class:`Observer` holds the module, its :class:`InputContract`, an id (the user's name or the spec)
and the content hash of its weights. It returns named layers' outputs through forward hooks, pooled
to ``[B, D]``, its pooled embedding (``final``) and, when the model has a classifier, its logits.

Inputs are normalised float batches in the contract's layout: images ``[B, 3, S, S]`` or clips
``[B, 3, T, S, S]``. A video model given images sees static clips (each image repeated ``frames``
times, as HVM-1 does for ImageNet); an image model given clips encodes every frame and averages the
pooled features over time; a clip with another frame count than the contract's is resampled
uniformly in time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from humanalign.models.observers.contract import InputContract
from humanalign.models.observers.layers import LayerError, find_blocks, pool_output, resolve_layers

__all__ = ["Observer"]

Forward = Callable[..., Any]


_CHANNELS_FIRST = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool2d, nn.AvgPool3d,
                   nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.BatchNorm2d, nn.BatchNorm3d)


def _channels_last(module: nn.Module, model_channels_last: bool) -> bool:
    """Whether ``module``'s 4-D/5-D output is ``[B, (T,) H, W, C]`` (timm ``output_fmt="NHWC"`` models such
    as Swin and MambaOut, torchvision Swin) rather than ``[B, C, (T,) H, W]``."""
    fmt = getattr(module, "output_fmt", None)  # timm PatchEmbed and models say it themselves
    if fmt is not None:
        return str(getattr(fmt, "value", fmt)).upper() in ("NHWC", "NTHWC")
    dims = getattr(module, "dims", None)
    if type(module).__name__ == "Permute" and dims is not None:  # torchvision's Permute
        return list(dims)[-1] == 1  # [0, 2, 3, 1]: NCHW -> NHWC; [0, 3, 1, 2]: back
    return model_channels_last and not isinstance(module, _CHANNELS_FIRST)


def _first_tensor(output: Any) -> torch.Tensor:
    """A hooked module's output as one tensor (HF layers return tuples or ModelOutputs)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict) or hasattr(output, "last_hidden_state"):
        values = list(output.values()) if isinstance(output, dict) else [output[0]]
        return _first_tensor(values[0])
    if isinstance(output, (tuple, list)) and output:
        return _first_tensor(output[0])
    raise LayerError(f"layer output of type {type(output).__name__} holds no tensor")


class Observer:
    """One model as an observer.

    Args:
        module: The network (put in eval mode).
        contract: Its input contract.
        name: Observer id stored on every results row.
        spec: The spec text it was loaded from.
        source: ``suite``, ``timm``, ``torchvision``, ``hf``, ``hub``, ``py`` or ``module``.
        run: ``run(x)`` runs the model on a batch in the contract's layout (hooks fire inside it);
            default ``module(x)``.
        final: ``final(x, pooling) -> [B, D]`` pooled embedding; default: the model output mean-pooled.
        logits: ``logits(x) -> [B, C]`` classifier outputs, or None when the model has no classifier.
        num_classes: Classes of ``logits`` (1000 for an ImageNet head).
        prefix_tokens: CLS/register tokens at the front of token outputs.
        blocks: Module names of the repeated blocks (default :func:`find_blocks`).
        weights_file: The file the weights came from, if any (provenance).
        info: Free-form provenance (release metadata, pooling of a fine-tuned head, ...).
    """

    def __init__(self, module: nn.Module, contract: InputContract, *, name: str, spec: str, source: str,
                 run: Forward | None = None, final: Forward | None = None, logits: Forward | None = None,
                 num_classes: int | None = None, prefix_tokens: int = 0, blocks: Sequence[str] | None = None,
                 weights_file: str | None = None, info: dict[str, Any] | None = None) -> None:
        self.module = module.eval()
        self.contract = contract
        self.id = name
        self.spec = spec
        self.source = source
        self._run = run or module
        self._final = final
        self._logits = logits
        self.num_classes = num_classes if logits is not None else None
        self.prefix_tokens = int(prefix_tokens)
        self.blocks = list(blocks) if blocks is not None else find_blocks(module)
        self.weights_file = weights_file
        self.info = dict(info or {})
        fmt = getattr(module, "output_fmt", None)
        kind = type(module).__module__  # torchvision Swins (image and video) do not say it: known by class
        self._channels_last_model = bool(self.info.get("channels_last")) or \
            str(getattr(fmt, "value", fmt)).upper() == "NHWC" or \
            (kind.startswith("torchvision.models") and kind.endswith("swin_transformer"))
        self._weights_hash: str | None = None
        self._modules = dict(module.named_modules())
        self._layouts: dict[tuple[str, int], tuple[int, ...]] = {}  # token_layout's shapes

    # -- identity ---------------------------------------------------------------------------------
    @property
    def weights_hash(self) -> str:
        """SHA-256 of the weights' content (names, shapes, dtypes, bytes); computed once."""
        if self._weights_hash is None:
            from humanalign.features.hashing import state_dict_hash

            self._weights_hash = state_dict_hash(self.module)
        return self._weights_hash

    @property
    def weights_id(self) -> str:
        """The weights hash as every results row stores it (its first 16 hex digits, 64 bits)."""
        return self.weights_hash[:16]

    @property
    def is_video(self) -> bool:
        """True for clip models."""
        return self.contract.is_video

    @property
    def has_imagenet_logits(self) -> bool:
        """True when the model has a 1000-class (ImageNet) classifier."""
        return self._logits is not None and self.num_classes == 1000

    @property
    def device(self) -> torch.device:
        """Where the module's parameters live."""
        p = next(iter(self.module.parameters()), None)
        return p.device if p is not None else torch.device("cpu")

    def to(self, device: str | torch.device) -> Observer:
        """Move the module; returns self."""
        self.module.to(device)
        return self

    def describe(self) -> dict[str, Any]:
        """Provenance: id, spec, source, weights hash and file, input contract."""
        return {"observer": self.id, "spec": self.spec, "source": self.source, "weights_hash": self.weights_hash,
                "weights_file": self.weights_file, "contract": self.contract.describe(),
                "model_class": f"{type(self.module).__module__}.{type(self.module).__qualname__}"}

    # -- layers -----------------------------------------------------------------------------------
    def resolve_layers(self, layers: str | int | Sequence[int | str] = "final") -> list[str]:
        """Canonical layer names (see :func:`humanalign.models.observers.layers.resolve_layers`); ``logits``
        names the classifier outputs of a model that has one."""
        if layers == "logits" or (isinstance(layers, (list, tuple)) and list(layers) == ["logits"]):
            if self._logits is None:
                raise LayerError(f"{self.id} has no classifier head, so no 'logits' layer")
            return ["logits"]
        return resolve_layers(self.module, layers, self.blocks)

    def module_name(self, layer: str) -> str:
        """The ``named_modules()`` path of a canonical layer name (``block3`` -> ``blocks.3``)."""
        if layer.startswith("block") and layer[5:].isdigit():
            if int(layer[5:]) >= len(self.blocks):
                raise LayerError(f"{self.id}: layer {layer!r} is outside its {len(self.blocks)} blocks")
            return self.blocks[int(layer[5:])]
        return layer

    def layer_table(self) -> list[dict[str, str]]:
        """Every nameable layer: canonical name, module path and type (``python -m humanalign list layers``)."""
        block_of = {m: f"block{i}" for i, m in enumerate(self.blocks)}
        rows = [{"layer": "final", "module": "(pooled embedding)", "type": ""}]
        for name, mod in self.module.named_modules():
            if name:
                rows.append({"layer": block_of.get(name, name), "module": name, "type": type(mod).__name__})
        return rows

    # -- forward ----------------------------------------------------------------------------------
    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """A batch in this model's layout (static clips for video models, frames resampled to the contract)."""
        if x.ndim == 4 and self.is_video:
            return x.unsqueeze(2).expand(-1, -1, self.contract.frames, -1, -1)
        if x.ndim == 5 and self.is_video and x.shape[2] != self.contract.frames:
            idx = torch.linspace(0, x.shape[2] - 1, self.contract.frames).round().long().to(x.device)
            return x.index_select(2, idx)
        if x.ndim not in (4, 5):
            raise ValueError(f"{self.id}: expected [B, 3, H, W] or [B, 3, T, H, W], got {tuple(x.shape)}")
        return x

    @contextlib.contextmanager
    def _hooks(self, names: Sequence[str], store: dict[str, torch.Tensor]) -> Iterator[None]:
        handles = []
        for name in names:
            path = self.module_name(name)
            module = self._modules.get(path)
            if module is None:
                raise LayerError(f"{self.id} has no module {path!r}")

            def hook(_mod: nn.Module, _inp: Any, out: Any, key: str = name) -> None:
                # a copy: later in-place ops (ReLU(inplace=True), ResNet's `out += identity`) would change it
                store[key] = _first_tensor(out).clone()

            handles.append(module.register_forward_hook(hook))
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def _embed(self, x: torch.Tensor, pooling: str) -> torch.Tensor:
        if self._final is not None:
            return self._final(x, pooling)
        return pool_output(_first_tensor(self._run(x)), "mean", self.prefix_tokens)

    def _channels_first(self, layer: str, out: torch.Tensor) -> torch.Tensor:
        """A hooked 4-D/5-D output as ``[B, C, (T,) H, W]`` (channels-last outputs permuted)."""
        if out.ndim in (4, 5) and _channels_last(self._modules[self.module_name(layer)], self._channels_last_model):
            return out.permute(0, out.ndim - 1, *range(1, out.ndim - 1))
        return out

    def features(self, x: torch.Tensor, layers: Sequence[str], pooling: str = "mean",
                 project_dim: int = 4096, seed: int = 0) -> dict[str, torch.Tensor]:
        """Pooled outputs ``[B, D_layer]`` of canonical ``layers`` for a normalised batch ``x``.

        ``final`` is the model's pooled embedding (``pooling`` applies to the other layers; ``final``
        takes ``"cls"`` where the model offers it), ``logits`` the classifier outputs. One forward pass
        serves every hooked layer and ``final``.
        """
        if x.ndim == 5 and not self.is_video:  # image model, clips: per frame, averaged over time
            b, c, t, h, w = x.shape
            frames = x.transpose(1, 2).reshape(b * t, c, h, w)
            per_frame = self.features(frames, layers, pooling, project_dim, seed)
            return {k: v.reshape(b, t, -1).mean(1) if pooling != "tokens" else v.reshape(b, -1)
                    for k, v in per_frame.items()}
        x = self.prepare(x)
        hooked = [n for n in layers if n not in ("final", "logits")]
        caught: dict[str, torch.Tensor] = {}
        out: dict[str, torch.Tensor] = {}
        if "logits" in layers:
            out["logits"] = self.logits(x).float()  # [B, C]
        with self._hooks(hooked, caught):
            if "final" in layers:
                out["final"] = self._embed(x, pooling).float()
            if hooked and ("final" not in layers or any(n not in caught for n in hooked)):
                self._run(x)  # layers the embedding path skips (a classifier's modules) run in the full forward
        for name in hooked:
            if name not in caught:
                raise LayerError(f"{self.id}: layer {name!r} ({self.module_name(name)}) did not run in the forward")
            out[name] = pool_output(self._channels_first(name, caught[name]), pooling, self.prefix_tokens,
                                    project_dim, seed)
        return {n: out[n] for n in layers}

    def _layer_output(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """One layer's output for batch ``x``, channels first: ``[B, N, D]`` tokens or ``[B, C, (T,) H, W]``."""
        caught: dict[str, torch.Tensor] = {}
        with self._hooks([layer], caught):
            self._run(self.prepare(x))
        if layer not in caught:
            raise LayerError(f"{self.id}: layer {layer!r} ({self.module_name(layer)}) did not run in the forward")
        out = self._channels_first(layer, caught[layer])
        if out.ndim not in (3, 4, 5):
            raise LayerError(f"{self.id}: layer {layer!r} gives {tuple(out.shape)}, not tokens or a feature map")
        return out

    def tokens(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The raw output of one layer without pooling: ``[B, N, D]`` patch tokens (prefix tokens dropped),
        or a feature map ``[B, C, (T,) H, W]`` as ``[B, positions, C]``; for attentive probes."""
        out = self._layer_output(x, layer)
        if out.ndim == 3:
            return out[:, self.prefix_tokens:]
        return out.flatten(2).transpose(1, 2)  # [B, positions, C]

    def token_layout(self, layer: str, size: int | None = None) -> tuple[int, ...]:
        """Per-item shape of ``layer``'s output as ``pooling="tokens"`` flattens it: ``(N, D)`` patch tokens
        (prefix tokens dropped) or ``(C, (T,) H, W)`` feature maps; from one blank input in eval mode of the
        contract's frames and ``size`` (default the contract's size), computed once per (layer, size)."""
        c = self.contract
        side = size or c.size
        if (layer, side) not in self._layouts:
            x = torch.zeros(1, 3, *((c.frames,) if c.is_video else ()), side, side, device=self.device)
            was_training = self.module.training
            self.module.eval()
            try:
                with torch.inference_mode():
                    out = self._layer_output(x, layer)
            finally:
                self.module.train(was_training)
            self._layouts[(layer, side)] = ((out.shape[1] - self.prefix_tokens, out.shape[2]) if out.ndim == 3
                                            else tuple(out.shape[1:]))
        return self._layouts[(layer, side)]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Classifier outputs ``[B, C]``.

        Raises:
            LayerError: when the model has no classifier.
        """
        if self._logits is None:
            raise LayerError(f"{self.id} has no classifier head")
        if x.ndim == 5 and not self.is_video:
            b, c, t, h, w = x.shape
            return self._logits(x.transpose(1, 2).reshape(b * t, c, h, w)).reshape(b, t, -1).mean(1)
        return self._logits(self.prepare(x))

    def __repr__(self) -> str:
        c = self.contract
        return (f"Observer({self.id!r}, {self.source}, {type(self.module).__name__}, {c.kind} {c.size}px"
                f"{f' x{c.frames}' if c.is_video else ''}, {len(self.blocks)} blocks)")

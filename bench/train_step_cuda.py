"""GPU figures of the ST-MAE training step: clips/s, peak memory and model FLOPs utilisation (MFU).

ViT-L/16 and ViT-H/14 (the HVM-1 encoder) ST-MAE on 16 x 224 x 224 clips, tubelets 2 x p x p, mask 0.9,
decoder 512 wide x 4 blocks, bf16 autocast, SDPA attention, fused AdamW; the batch is clips per GPU.
Each timed step is forward + backward + optimizer step; the median over ``--steps`` steps after two
warm-up steps is reported. FLOPs are counted once with ``torch.utils.flop_counter`` (forward + backward;
the optimizer's element-wise work is not counted) and MFU = FLOPs / step time / the GPU's peak dense
bf16 rate (:data:`humanalign.pretrain.flops.PEAK_BF16_FLOPS`; H100 SXM and H200 989 TFLOP/s, A100 312).

Usage: ``python bench/train_step.py --device cuda [--batch 16] [--steps 10] [--compile]``; on a machine
without CUDA it prints why and exits 0. ``--sizes tiny --device cpu`` runs the same code path on a tiny
model (a check of the bench itself, not a figure).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

__all__ = ["SIZES", "measure", "run"]

_CLIPS = ["encoder.img_size=224", "encoder.num_frames=16", "encoder.tubelet_size=2", "data.num_frames=16",
          "mae.decoder_dim=512", "mae.decoder_depth=4", "mae.decoder_heads=16", "mae.mask_ratio=0.9"]
SIZES: dict[str, list[str]] = {
    "ViT-L/16": ["encoder.embed_dim=1024", "encoder.depth=24", "encoder.num_heads=16", "encoder.patch_size=16",
                 *_CLIPS],
    "ViT-H/14": ["encoder.embed_dim=1280", "encoder.depth=32", "encoder.num_heads=16", "encoder.patch_size=14",
                 "encoder.cls_token=true", *_CLIPS],
    "tiny": ["encoder.embed_dim=64", "encoder.depth=2", "encoder.num_heads=2", "encoder.patch_size=16",
             "encoder.img_size=64", "encoder.num_frames=4", "data.num_frames=4", "mae.decoder_dim=32",
             "mae.decoder_depth=1", "mae.decoder_heads=2"],
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _build(size: str, device: torch.device, compiled: bool) -> tuple[torch.nn.Module, Callable, Callable, torch.Size]:
    """The size's ST-MAE on ``device``, its forward + backward, its full step and the clip shape."""
    from humanalign.models.attention import resolve_attention, set_attention
    from humanalign.pretrain.cli import resolve_config
    from humanalign.pretrain.engine import compile_blocks, make_optimizer
    from humanalign.registry import PRETRAIN_METHODS

    cfg = resolve_config("egocentric", None, SIZES[size])
    torch.manual_seed(0)
    module = PRETRAIN_METHODS.get("egocentric").build(cfg).to(device)
    set_attention(module, resolve_attention("auto", device, torch.bfloat16))  # what the engine picks
    if compiled:
        compile_blocks(module)
    opt = make_optimizer(module, cfg.optim, device)
    gen = torch.Generator().manual_seed(0)

    def fwd_bwd(video: torch.Tensor) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = module({"video": video}, gen)["loss"]
        loss.backward()

    def step(video: torch.Tensor) -> None:
        fwd_bwd(video)
        opt.step()
        opt.zero_grad(set_to_none=True)

    e = cfg.encoder
    shape = (3, cfg.data.num_frames, e.img_size, e.img_size)
    return module, fwd_bwd, step, torch.Size(shape)


def measure(size: str, device: torch.device, batch: int, steps: int, compiled: bool = False) -> dict[str, float]:
    """clips/s, peak memory (GB), FLOPs per step and MFU of one size on ``device``."""
    from humanalign.pretrain.flops import count_flops, mfu, peak_bf16_flops

    module, fwd_bwd, step, shape = _build(size, device, compiled)
    video = torch.randn(batch, *shape, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(2):
        step(video)
    _sync(device)
    times = []
    for _ in range(steps):
        tic = time.perf_counter()
        step(video)
        _sync(device)
        times.append(time.perf_counter() - tic)
    step_s = statistics.median(times)
    peak_mem = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else float("nan")
    _, flops = count_flops(lambda: fwd_bwd(video))
    module.zero_grad(set_to_none=True)
    params = sum(p.numel() for p in module.parameters()) / 1e6
    return {"clips_per_s": batch / step_s, "step_s": step_s, "peak_mem_gb": peak_mem, "tflop_per_step": flops / 1e12,
            "params_m": params, "mfu": mfu(flops, step_s, peak_bf16_flops(device)) or float("nan")}


def run(device_name: str, batch: int, steps: int, sizes: list[str], compiled: bool = False) -> int:
    """Print one row per size; skip (exit 0) when CUDA was asked for and is absent."""
    device = torch.device(device_name)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available on this machine: skipping the GPU training-step bench (nothing measured).")
        return 0
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (code-path check, not a figure)"
    print(f"device: {name}; ST-MAE, 16x224x224 clips, mask 0.9, bf16 autocast, batch {batch} clips, "
          f"compiled blocks: {compiled}")
    for size in sizes:
        try:
            r = measure(size, device, batch, steps, compiled)
        except torch.OutOfMemoryError:
            print(f"{size:9s} out of memory at batch {batch}")
            torch.cuda.empty_cache()
            continue
        print(f"{size:9s} {r['params_m']:7.1f}M params  {r['clips_per_s']:8.2f} clips/s  step {r['step_s'] * 1e3:8.1f} ms  "
              f"peak mem {r['peak_mem_gb']:6.1f} GB  {r['tflop_per_step']:8.2f} TFLOP/step  MFU {r['mfu']:.1%}")
    return 0

"""Training-step throughput on CPU: our ST-MAE vs transformers' ``VideoMAEForPreTraining``, same sizes.

Setting (issue: foundation benchmark): ViT-S/16 encoder, 16 x 112 x 112 clips, tubelets 2 x 16 x 16,
mask ratio 0.9 (random), per-patch normalised pixel loss, decoder 384 wide x 4 blocks x 6 heads on both,
AdamW, batch 8, fp32, all CPU threads. Each timed step is forward + backward + optimizer step on the
same fixed batch. The two models are timed back to back in this process, alternating rounds, and the
median step time is reported. Peak memory (max RSS) of each is measured in a fresh subprocess running
the same steps (before this process builds anything, since a child inherits its parent's max RSS).

Rows: ``ours`` (decode every hidden token, the same objective as the peer), ``ours, decode 50 %``
(VideoMAE-V2 dual masking: decode half of the hidden tokens; reported separately, a different objective),
the other registered pretraining methods (VITO, V-JEPA) when present, and the peer twice, once per
attention implementation transformers offers (``sdpa``, its default, and ``eager``); the peer's figure
is the faster of the two. Every row is timed twice: in fp32 and with the forward under bf16 autocast
(on both sides; what ``precision=bf16`` does in the engine and what CUDA runs use by default). Our rows
use the attention kernel the engine picks (``attention=auto``: SDPA in fp32, explicit matrix products
for CPU bf16). The last two lines are the ratios ours / peer in clips per second for each precision;
peak memory is the fp32 run's.

Usage: ``python bench/train_step.py [--steps 4] [--rounds 3] [--batch 8]``; ``--device cuda`` prints the GPU
figures instead (clips/s, peak memory and MFU of ViT-L/16 and ViT-H/14 ST-MAE in bf16,
``bench/train_step_cuda.py``) and skips cleanly without CUDA.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

SIZE = dict(embed_dim=384, depth=12, num_heads=6, patch_size=16, img_size=112, num_frames=16, tubelet_size=2)
DECODER = dict(decoder_dim=384, decoder_depth=4, decoder_heads=6)


def our_method(name: str, overrides: list[str] = (), compiled: bool = False) -> tuple[torch.nn.Module, Callable] | None:
    """A registered method at the bench's encoder size, with its optimizer and one training step.

    Every batch carries the clips as ``"video"`` and their two halves as the ``"video_a"``/``"video_b"``
    pairs contrastive methods read; each method uses what it needs.
    """
    from humanalign.pretrain.cli import resolve_config
    from humanalign.pretrain.engine import compile_blocks, make_optimizer
    from humanalign.registry import PRETRAIN_METHODS

    try:
        cfg = resolve_config(name, None, [f"encoder.{k}={v}" for k, v in SIZE.items()] + ["data.num_frames=16",
                                                                                          *overrides])
    except Exception as err:  # a method whose config differs; reported, not fatal
        print(f"  ({name}: not benchmarked: {err})")
        return None
    module = PRETRAIN_METHODS.get(name).build(cfg)
    if compiled:
        compile_blocks(module)  # what `compile=true` does in the engine
    opt = make_optimizer(module, cfg.optim, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)

    def step(video: torch.Tensor, dtype: torch.dtype | None = None) -> float:
        half = max(1, video.shape[0] // 2)
        batch = {"video": video, "video_a": video[:half], "video_b": video[-half:]}
        with autocast(dtype):
            loss = module(batch, gen)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    return module, step


def our_stmae(decode_fraction: float = 1.0, compiled: bool = False) -> tuple[torch.nn.Module, Callable]:
    """ST-MAE with the peer's decoder size, mask 0.9, decoding ``decode_fraction`` of the hidden tokens."""
    mae = [f"mae.{k}={v}" for k, v in DECODER.items()] + ["mae.mask_ratio=0.9", f"mae.decode_fraction={decode_fraction}"]
    return our_method("egocentric", mae, compiled)


def autocast(dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """The forward pass's precision context, as in the engine (backward and optimizer step run outside)."""
    return torch.autocast("cpu", dtype=dtype) if dtype is not None else contextlib.nullcontext()


def peer_videomae(attn_implementation: str = "sdpa") -> tuple[torch.nn.Module, Callable]:
    """transformers' ``VideoMAEForPreTraining`` at the bench's sizes with the given attention implementation."""
    from transformers import VideoMAEConfig, VideoMAEForPreTraining

    config = VideoMAEConfig(
        image_size=SIZE["img_size"], patch_size=SIZE["patch_size"], num_frames=SIZE["num_frames"],
        tubelet_size=SIZE["tubelet_size"], hidden_size=SIZE["embed_dim"], num_hidden_layers=SIZE["depth"],
        num_attention_heads=SIZE["num_heads"], intermediate_size=4 * SIZE["embed_dim"],
        decoder_hidden_size=DECODER["decoder_dim"], decoder_num_hidden_layers=DECODER["decoder_depth"],
        decoder_num_attention_heads=DECODER["decoder_heads"], decoder_intermediate_size=4 * DECODER["decoder_dim"],
        norm_pix_loss=True, use_mean_pooling=False)
    model = VideoMAEForPreTraining._from_config(config, attn_implementation=attn_implementation)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    n = (SIZE["num_frames"] // SIZE["tubelet_size"]) * (SIZE["img_size"] // SIZE["patch_size"]) ** 2
    n_keep = int(n * 0.1 + 1e-9)
    gen = torch.Generator().manual_seed(0)

    def step(video: torch.Tensor, dtype: torch.dtype | None = None) -> float:
        b = video.shape[0]
        ranks = torch.argsort(torch.rand(b, n, generator=gen), dim=1)
        mask = torch.ones(b, n, dtype=torch.bool)
        mask.scatter_(1, ranks[:, :n_keep], False)
        pixel_values = video.transpose(1, 2)  # HF layout [B, T, C, H, W]
        with autocast(dtype):
            loss = model(pixel_values=pixel_values, bool_masked_pos=mask).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    return model, step


BUILDERS: dict[str, Callable[[], tuple[torch.nn.Module, Callable] | None]] = {
    "ours": lambda: our_stmae(1.0),
    "ours, decode 50 %": lambda: our_stmae(0.5),
    "ours, compiled blocks": lambda: our_stmae(1.0, compiled=True),
    "transformers, sdpa": lambda: peer_videomae("sdpa"),
    "transformers, eager": lambda: peer_videomae("eager"),
}
PEERS = ("transformers, sdpa", "transformers, eager")


def _extra_methods() -> list[str]:
    from humanalign.registry import PRETRAIN_METHODS

    return [m for m in PRETRAIN_METHODS.list() if m in ("vito", "vjepa")]


def time_steps(step: Callable, video: torch.Tensor, steps: int, dtype: torch.dtype | None) -> float:
    """Seconds per step (median of ``steps`` timed steps after one warm-up)."""
    step(video, dtype)
    times = []
    for _ in range(steps):
        tic = time.perf_counter()
        step(video, dtype)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def peak_memory_mb(name: str, steps: int, batch: int) -> float:
    """Max RSS (MB) of a fresh process that builds ``name`` and runs ``steps`` steps."""
    code = ("import sys; sys.argv=['x']; import bench.train_step as b; "
            f"b._memory_child({name!r}, {steps}, {batch})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("MAXRSS")]
    return float(lines[-1].split()[1]) if lines else float("nan")


def _memory_child(name: str, steps: int, batch: int) -> None:
    from humanalign.pretrain.cpu_memory import retain_freed_memory

    retain_freed_memory()
    built = BUILDERS[name]() if name in BUILDERS else our_method(name)
    video = torch.randn(batch, 3, SIZE["num_frames"], SIZE["img_size"], SIZE["img_size"])
    for _ in range(steps):
        built[1](video)
    print("MAXRSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main() -> None:
    from humanalign.models.attention import resolve_attention, set_attention
    from humanalign.pretrain.cpu_memory import retain_freed_memory

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu (vs the peer) or cuda (GPU figures: MFU)")
    parser.add_argument("--sizes", default="ViT-L/16,ViT-H/14", help="--device cuda: model sizes to time")
    parser.add_argument("--compile", action="store_true", help="--device cuda: compile the blocks")
    args = parser.parse_args()
    if args.device != "cpu" or args.sizes != "ViT-L/16,ViT-H/14":
        try:
            from bench.train_step_cuda import run
        except ImportError:  # run as a script: bench/ itself is on sys.path
            from train_step_cuda import run

        sys.exit(run(args.device, args.batch, max(args.steps, 3), args.sizes.split(","), args.compile))
    names = ["ours", *PEERS, "ours, compiled blocks", "ours, decode 50 %", *_extra_methods()]
    # Memory first, while this process is still small: Linux children inherit the parent's max RSS.
    memory = {name: float("nan") if args.no_memory else peak_memory_mb(name, 2, args.batch) for name in names}
    # What the engine does on CPU; process-wide, so every row below (ours and the peer's) gets it.
    retained = retain_freed_memory()
    torch.manual_seed(0)
    video = torch.randn(args.batch, 3, SIZE["num_frames"], SIZE["img_size"], SIZE["img_size"])
    built = {}
    for name in names:
        torch.manual_seed(0)
        made = BUILDERS[name]() if name in BUILDERS else our_method(name)
        if made is not None:
            built[name] = made
    print(f"CPU threads: {torch.get_num_threads()}, batch {args.batch}, clips 16x112x112, ViT-S/16, mask 0.9, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, malloc keeps freed memory: {retained}")
    ratios, compiled = {}, {}
    for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        kernel = resolve_attention("auto", "cpu", dtype)  # what the engine's attention=auto picks
        for name, (module, _) in built.items():
            if name not in PEERS:
                set_attention(module, kernel)
        per_round: dict[str, list[float]] = {name: [] for name in built}
        for _ in range(args.rounds):  # alternate so machine load affects every row alike
            for name, (_, step) in built.items():
                per_round[name].append(time_steps(step, video, args.steps, dtype))
        rates = {name: args.batch / statistics.median(ts) for name, ts in per_round.items()}
        print(f"-- {precision} (our attention kernel: {kernel})")
        for name, rate in rates.items():
            params = sum(p.numel() for p in built[name][0].parameters()) / 1e6
            mem = f"peak RSS {memory[name]:8.0f} MB" if precision == "fp32" else ""
            print(f"{name:22s} {rate:7.2f} clips/s   {params:6.1f}M params   {mem}")
        peer = max(PEERS, key=rates.__getitem__)
        ratios[precision] = (rates["ours"] / rates[peer], peer)
        compiled[precision] = rates["ours, compiled blocks"] / rates[peer]
    for precision, (ratio, peer) in ratios.items():
        print(f"ratio ours (eager / compiled blocks) / {peer} VideoMAEForPreTraining (the faster peer), "
              f"both {precision}: {ratio:.2f}x / {compiled[precision]:.2f}x clips/s")


if __name__ == "__main__":
    main()

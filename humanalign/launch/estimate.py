"""``python -m humanalign.launch.estimate STUDY.yaml``: GPU-hours of a study's pretraining runs from FLOPs.

For each run of the study config's ``pretrain:`` list, the FLOPs of one training forward + backward on a
single decoded video are counted with ``torch.utils.flop_counter`` (on CPU under bf16 autocast,
with attention as explicit matrix products: ``FlopCounterMode`` counts the CUDA SDPA kernels but not
CPU's fused one; the count does not depend on the device), scaled to the run's clips per GPU and step
(``data.batch_size x data.repeats x optim.accum_steps``), and turned into time at an **assumed** model
FLOPs utilisation of the GPU's peak bf16 rate. Counting a ViT-H/14 step on CPU takes minutes.

Example::

    python -m humanalign.launch.estimate experiments/configs/hvm1-study.yaml --gpu H100 --mfu 0.4 --gpus 8
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from humanalign.cli import add_verbose_arg, run_cli
from humanalign.config import load_yaml
from humanalign.launch.resources import LaunchError
from humanalign.pretrain.flops import PEAK_BF16_FLOPS, count_flops

__all__ = ["clip_flops", "estimate_run", "format_table", "main"]

logger = logging.getLogger(__name__)


def clip_flops(method: str, preset: str | None, overrides: list[str] | None = None) -> tuple[int, Any]:
    """FLOPs of one training forward + backward on one decoded video (its ``repeats`` set to 1), and the config.

    The batch carries the clip as ``"video"`` and as the ``"video_a"``/``"video_b"`` pair contrastive
    methods read, as in ``bench/train_step.py``.
    """
    from humanalign.models.attention import set_attention
    from humanalign.pretrain.cli import resolve_config
    from humanalign.registry import PRETRAIN_METHODS

    cfg = resolve_config(method, preset, list(overrides or []))
    torch.manual_seed(0)
    module = PRETRAIN_METHODS.get(method).build(cfg)
    set_attention(module, "math")  # the counter does not see CPU's fused SDPA kernel; explicit products it does
    e = cfg.encoder
    video = torch.randn(1, 3, cfg.data.num_frames, e.img_size, e.img_size)
    batch = {"video": video, "video_a": video, "video_b": video}
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = module(batch, generator)["loss"]
        loss.backward()

    _, flops = count_flops(step)
    return flops, cfg


def estimate_run(flops_per_clip: float, cfg: Any, gpus: int, mfu: float, peak: float) -> dict[str, float]:
    """Per-step and whole-run cost of a config on ``gpus`` GPUs at utilisation ``mfu`` of ``peak`` FLOP/s."""
    clips = cfg.data.batch_size * cfg.data.repeats * cfg.optim.accum_steps
    step_flops = flops_per_clip * clips
    step_s = step_flops / (mfu * peak)
    gpu_hours = step_s * cfg.steps * gpus / 3600
    return {"tflop_per_clip": flops_per_clip / 1e12, "clips_per_gpu_step": clips, "tflop_per_gpu_step": step_flops / 1e12,
            "step_s": step_s, "steps": cfg.steps, "gpu_hours_per_10k_steps": step_s * 10_000 * gpus / 3600,
            "gpu_hours": gpu_hours, "wall_hours": gpu_hours / gpus}


def format_table(rows: list[dict[str, Any]], gpus: int) -> str:
    """The rows of :func:`estimate_run` (plus ``name``, ``method``, ``preset``) as a markdown table."""
    lines = ["| run | method / preset | TFLOP per clip (fwd+bwd) | clips per GPU step | s per step | steps "
             f"| GPU-h per 10k steps | GPU-h per run | wall-clock h on {gpus} GPUs |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['method']} / {r['preset']} | {r['tflop_per_clip']:.3f} "
                     f"| {r['clips_per_gpu_step']} | {r['step_s']:.3f} | {r['steps']:,} "
                     f"| {r['gpu_hours_per_10k_steps']:.1f} | {r['gpu_hours']:,.0f} | {r['wall_hours']:.1f} |")
    lines.append(f"| **total** | | | | | | | **{sum(r['gpu_hours'] for r in rows):,.0f}** | |")
    return "\n".join(lines)


def _main(args: argparse.Namespace) -> int:
    study = load_yaml(Path(args.study))
    runs = study.get("pretrain") or []
    if not runs:
        raise LaunchError(f"{args.study}: no 'pretrain:' runs")
    if args.gpu not in PEAK_BF16_FLOPS:
        raise LaunchError(f"--gpu {args.gpu!r}: known {', '.join(PEAK_BF16_FLOPS)}")
    if not 0 < args.mfu <= 1:
        raise LaunchError(f"--mfu must be in (0, 1], got {args.mfu}")
    peak = PEAK_BF16_FLOPS[args.gpu]
    cache: dict[tuple[str, str], tuple[int, Any]] = {}
    rows = []
    for run in runs:
        key = (run["method"], run.get("preset"))
        if key not in cache:  # synthetic stages share one count: the stage changes the pixels, not the FLOPs
            logger.info("counting FLOPs of %s/%s", *key)
            cache[key] = clip_flops(*key)
        flops, cfg = cache[key]
        rows.append({"name": run.get("name", key[0]), "method": key[0], "preset": key[1],
                     **estimate_run(flops, cfg, args.gpus, args.mfu, peak)})
    print(f"# {args.gpu} peak bf16 {peak / 1e12:.0f} TFLOP/s, ASSUMED MFU {args.mfu:.0%}, {args.gpus} GPUs per run")
    print(format_table(rows, args.gpus))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m humanalign.launch.estimate", description=__doc__.splitlines()[0])
    parser.add_argument("study", help="study config YAML with a 'pretrain:' list (method, preset per run)")
    parser.add_argument("--gpu", default="H100", help=f"GPU of the peak table: {', '.join(PEAK_BF16_FLOPS)}")
    parser.add_argument("--mfu", type=float, default=0.4, help="assumed model FLOPs utilisation (default 0.4)")
    parser.add_argument("--gpus", type=int, default=8, help="GPUs per run (default 8: one node)")
    parser.add_argument("--json", help="also write the rows as JSON here")
    add_verbose_arg(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: _main(args), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())

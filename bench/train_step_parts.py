"""Each speed choice of the ST-MAE training step on its own, against the alternative it replaced.

Same setting as ``bench/train_step.py`` (ViT-S/16, 16 x 112 x 112 clips, mask 0.9, batch 8, CPU):

1. **Target normalisation**: one fused ``layer_norm`` (``masked_patch_loss``) vs mean, unbiased var,
   subtract and divide, forward + backward on a ``[8, 353, 1536]`` prediction.
2. **Optimizer**: fused AdamW (the engine's) vs PyTorch's default CPU AdamW (the per-parameter loop the
   peer's plain ``torch.optim.AdamW`` runs), on the ST-MAE parameters with random gradients.
3. **Attention kernel under bf16 autocast**: a whole ST-MAE step with explicit matrix products
   (``attention=auto`` on CPU bf16) vs SDPA.
4. **malloc keeping freed memory** (``retain_freed_memory``, what the engine does on CPU): a whole fp32
   step in two fresh processes, one with the setting and one without (it is process-wide).

Prints one line per part: both times and the ratio (the replaced alternative's time / ours).

Usage: ``python bench/train_step_parts.py [--steps 4] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make bench/train_step.py importable as bench.train_step
    sys.path.insert(0, str(REPO))


def best_of(fns: dict[str, Callable[[], object]], repeats: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternating rounds after one warm-up call."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(repeats):
                tic = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - tic)
    return {name: statistics.median(ts) for name, ts in times.items()}


def report(part: str, ours: str, other: str, seconds: dict[str, float]) -> None:
    print(f"{part:38s} {ours} {seconds[ours] * 1e3:8.1f} ms   {other} {seconds[other] * 1e3:8.1f} ms   "
          f"ratio {seconds[other] / seconds[ours]:.2f}x")


def target_normalisation(rounds: int) -> None:
    from humanalign.pretrain.stmae import masked_patch_loss

    g = torch.Generator().manual_seed(0)
    pred = torch.randn(8, 353, 1536, generator=g, requires_grad=True)
    target = torch.rand(8, 353, 1536, generator=g)

    def fused() -> None:
        masked_patch_loss(pred, target, norm_pix=True).backward()

    def separate() -> None:
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        ((pred - (target - mean) / (var + 1e-6).sqrt()) ** 2).mean().backward()

    report("target normalisation + MSE (fwd+bwd)", "fused", "separate",
           best_of({"fused": fused, "separate": separate}, 5, rounds))


def optimizer(rounds: int) -> None:
    import bench.train_step as step_bench

    module, _ = step_bench.our_stmae()
    for p in module.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    fused = torch.optim.AdamW(module.parameters(), lr=1e-4, fused=True)
    default = torch.optim.AdamW(module.parameters(), lr=1e-4)  # CPU default: the per-parameter loop
    report("AdamW step (ST-MAE ViT-S parameters)", "fused", "default",
           best_of({"fused": fused.step, "default": default.step}, 3, rounds))


def attention_kernel(steps: int, rounds: int) -> None:
    import bench.train_step as step_bench
    from humanalign.models.attention import set_attention

    video = torch.randn(8, 3, 16, 112, 112)
    torch.manual_seed(0)
    explicit, step_explicit = step_bench.our_stmae()
    torch.manual_seed(0)
    sdpa, step_sdpa = step_bench.our_stmae()
    set_attention(explicit, "math")
    set_attention(sdpa, "sdpa")
    dtype = torch.bfloat16
    seconds = {"explicit": [], "sdpa": []}
    for _ in range(rounds):
        seconds["explicit"].append(step_bench.time_steps(step_explicit, video, steps, dtype))
        seconds["sdpa"].append(step_bench.time_steps(step_sdpa, video, steps, dtype))
    report("ST-MAE step, bf16 autocast, attention", "explicit", "sdpa",
           {name: statistics.median(ts) for name, ts in seconds.items()})


def _malloc_child(retain: bool, steps: int) -> None:
    if retain:
        from humanalign.pretrain.cpu_memory import retain_freed_memory

        assert retain_freed_memory()
    import bench.train_step as step_bench

    torch.manual_seed(0)
    _, step = step_bench.our_stmae()
    print("SECONDS", step_bench.time_steps(step, torch.randn(8, 3, 16, 112, 112), steps, None))


def malloc_reuse(steps: int, rounds: int) -> None:
    seconds: dict[str, list[float]] = {"retained": [], "default": []}
    for _ in range(rounds):  # alternate the two fresh processes
        for name in seconds:
            code = (f"import sys; sys.argv=['x']; import bench.train_step_parts as b; "
                    f"b._malloc_child({name == 'retained'}, {steps})")
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
            seconds[name].append(float(out.stdout.split("SECONDS")[-1]))
    report("ST-MAE step, fp32, malloc", "retained", "default",
           {name: statistics.median(ts) for name, ts in seconds.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU threads: {torch.get_num_threads()}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    target_normalisation(args.rounds)
    optimizer(args.rounds)
    malloc_reuse(args.steps, args.rounds)  # fresh processes first, before this one grows
    attention_kernel(args.steps, args.rounds)


if __name__ == "__main__":
    main()

"""The training loop shared by every pretraining method.

What it guarantees:
- **Determinism and exact resume.** Item ``i`` of the clip stream is a pure function of (seed, i);
  step ``s`` of process ``r`` reads items ``((s * accum + a) * world + r) * batch + j``; masks come from a
  generator seeded by (seed, s, a, r); the global RNG (drop path) is saved in the train state. A run
  stopped after step k and resumed reaches the same weights as one that never stopped (bitwise on CPU).
- **Safe checkpoints.** Weights (safetensors) + ``meta.json`` + a ``weights_only``-loadable train state
  are written to a temporary folder and renamed; ``LATEST`` moves only after that.
- **Failure behaviour.** A non-finite loss stops the run with :class:`NonFiniteLossError` before the
  optimizer step, so the newest checkpoint is the last good one. Unreadable videos are skipped,
  counted and listed in ``RUN/skipped.txt`` and the log.
- **One device story.** CPU or CUDA, bf16 autocast (also on CPU when asked), SDPA attention (timm;
  ``attention=auto`` switches to explicit matrix products for CPU bf16 training, where they are faster,
  see :mod:`humanalign.models.attention`), DDP (or FSDP) under ``torchrun``.

A *method* is an ``nn.Module`` whose ``forward(batch, generator)`` returns a dict with ``"loss"``; it
names the weights prefix of its evaluation encoder in ``eval_prefix`` and may define
``after_step(step, total_steps)`` (e.g. the EMA update of V-JEPA's target encoder).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from humanalign import __version__
from humanalign.config import config_hash, save_yaml, to_dict
from humanalign.data.collate import collate_clips
from humanalign.io.checkpoints import (
    TRAIN_STATE,
    WEIGHTS,
    CheckpointError,
    CorruptCheckpointError,
    checkpoint_candidates,
    latest_checkpoint,
    load_state_dict_strict,
    load_train_state,
    read_weights,
    save_checkpoint,
)
from humanalign.launch.save_request import SaveRequest
from humanalign.models.attention import resolve_attention, set_attention
from humanalign.pretrain.config import TrainConfig, validate_train_config
from humanalign.pretrain.cpu_memory import retain_freed_memory
from humanalign.pretrain.distributed import DistInfo, all_gather_lists, all_reduce_mean
from humanalign.pretrain.tracking import Tracker

__all__ = ["Trainer", "RunResult", "NonFiniteLossError", "StepBatchSampler", "lr_at", "weight_decay_at", "step_seed",
           "make_optimizer", "compile_blocks"]

logger = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the newest checkpoint is the last good one."""


def step_seed(seed: int, *parts: int) -> int:
    """A 63-bit seed derived from ``seed`` and integers (step, micro-step, rank, ...)."""
    blob = ",".join(str(int(p)) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little") & ((1 << 63) - 1)


def lr_at(step: int, total: int, cfg: Any) -> float:
    """Learning rate of ``step`` (0-based): linear warm-up, then constant or cosine to ``min_lr``."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    span = max(1, total - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + math.cos(math.pi * progress))


def weight_decay_at(step: int, total: int, cfg: Any) -> float:
    """Weight decay of ``step`` (0-based): ``weight_decay``, or a cosine from it to ``weight_decay_end``."""
    if cfg.weight_decay_end is None:
        return cfg.weight_decay
    progress = min(1.0, step / max(1, total - 1))
    return cfg.weight_decay_end + 0.5 * (cfg.weight_decay - cfg.weight_decay_end) * (1.0 + math.cos(math.pi * progress))


class StepBatchSampler(Sampler[list[int]]):
    """Yields the global item indices of each micro-step of this process, from ``start_step`` on.

    Equivalent to a DistributedSampler over an infinite stream: processes read disjoint items.
    """

    def __init__(self, start_step: int, steps: int, accum: int, world: int, rank: int, batch: int) -> None:
        self.start_step, self.steps, self.accum = start_step, steps, accum
        self.world, self.rank, self.batch = world, rank, batch

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.steps):
            for micro in range(self.accum):
                base = ((step * self.accum + micro) * self.world + self.rank) * self.batch
                yield list(range(base, base + self.batch))

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step) * self.accum


@dataclass
class RunResult:
    """What a finished (or resumed-and-finished) run produced."""

    run_dir: Path
    start_step: int
    end_step: int
    last_loss: float
    skipped: list[str] = field(default_factory=list)


def make_optimizer(module: nn.Module, optim: Any, device: torch.device) -> torch.optim.Optimizer:
    """AdamW over trainable parameters; no weight decay on biases, norms, tokens and position tables
    (the MAE convention). Uses the fused kernel (CPU and CUDA), or the multi-tensor one for FSDP shards."""
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim <= 1 or "token" in name or "pos_embed" in name:
            no_decay.append(param)
        else:
            decay.append(param)
    groups = [{"params": decay, "weight_decay": optim.weight_decay, "decay": True},
              {"params": no_decay, "weight_decay": 0.0, "decay": False}]
    sharded = any(hasattr(p, "full_tensor") for p in decay + no_decay)  # FSDP2 DTensors: multi-tensor kernel
    kernel = {"foreach": True} if sharded else {"fused": True}  # fused AdamW: ~4x faster steps on CPU too
    return torch.optim.AdamW(groups, lr=optim.lr, betas=tuple(optim.betas), **kernel)


BLOCK_LISTS = ("blocks", "decoder_blocks", "predictor_blocks")


def compile_blocks(module: nn.Module) -> int:
    """``torch.compile`` every transformer block in place (``nn.Module.compile``), returning how many.

    Blocks see fixed shapes from step to step, so each compiles once; the masking, gathers and
    losses around them stay eager (compiling whole methods breaks graphs at the data-dependent mask
    code). Compiling in place keeps parameter names, so checkpoints are unchanged.
    """
    count = 0
    for name, child in module.named_modules():
        if name.rsplit(".", 1)[-1] in BLOCK_LISTS and isinstance(child, nn.ModuleList):
            for block in child:
                block.compile()
                count += 1
    return count


class Trainer:
    """Runs a method on a clip stream and writes ``RUN/{config.yaml, metrics.jsonl, checkpoints/}``.

    Args:
        cfg: The resolved run config (saved verbatim to ``config.yaml``).
        method: The pretraining module (built on CPU with the run seed; moved to the device here).
        dataset: Map-style dataset of dicts ``{"video": [R, C, T, H, W], "skipped": [...], ...}``.
        run_dir: Output folder.
        dist_info: Process placement (see :func:`humanalign.pretrain.distributed.init_distributed`).
        resume: Continue from the newest checkpoint in ``run_dir`` if there is one.
        skipped: Files already left out when the data was indexed (reported with the run's own skips).
    """

    def __init__(self, cfg: TrainConfig, method: nn.Module, dataset: Dataset, run_dir: str | Path,
                 dist_info: DistInfo | None = None, resume: bool = False,
                 skipped: list[str] | None = None) -> None:
        validate_train_config(cfg)  # before any work: ckpt_every=0 would fail only after the first step
        self.cfg = cfg
        self.dist = dist_info or DistInfo()
        self.run_dir = Path(run_dir)
        self.dataset = dataset
        self.device = self.dist.device
        if self.device.type == "cpu":
            retain_freed_memory()  # large activations otherwise page-fault in every step
        self.method = method.to(self.device)
        self.start_step = 0
        self.skipped: dict[str, None] = dict.fromkeys(skipped or [])  # ordered set of "path: reason"
        self.autocast_dtype = self._autocast_dtype()
        self.attention = resolve_attention(cfg.attention, self.device, self.autocast_dtype)
        set_attention(self.method, self.attention)
        checkpoint = self._load_weights_for_resume() if resume else None
        self.model = self._wrap(self.method)  # FSDP replaces parameters: build the optimizer after this
        self.optimizer = self._make_optimizer()
        if checkpoint is not None:
            self._load_train_state(checkpoint)

    # -- set-up -----------------------------------------------------------------------------------
    def _autocast_dtype(self) -> torch.dtype | None:
        precision = self.cfg.precision
        if precision == "auto":
            precision = "bf16" if self.device.type == "cuda" else "fp32"
        return torch.bfloat16 if precision == "bf16" else None

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return make_optimizer(self.method, self.cfg.optim, self.device)

    def _wrap(self, module: nn.Module) -> nn.Module:
        model: nn.Module = module
        if self.dist.enabled:
            if self.cfg.distributed == "fsdp":
                from humanalign.pretrain.fsdp import shard_model

                model = shard_model(module)
            else:
                from torch.nn.parallel import DistributedDataParallel

                ids = [self.device.index] if self.device.type == "cuda" else None
                model = DistributedDataParallel(module, device_ids=ids)
        if self.cfg.compile:
            compile_blocks(module)
        return model

    def _load_weights_for_resume(self) -> tuple[Path, dict[str, Any]] | None:
        """Load the newest intact checkpoint's weights; return it with its train state (None: no checkpoint).

        A checkpoint whose weights or train state cannot be read (a truncated file, a train state refused
        by ``weights_only``) is skipped with a warning saying which and why; if none is intact, raises
        :class:`CheckpointError` listing them. A readable checkpoint that does not fit the model raises.
        """
        candidates = checkpoint_candidates(self.run_dir)
        if not candidates:
            logger.info("no checkpoint in %s: starting from step 0", self.run_dir)
            return None
        problems = []
        for ckpt in candidates:
            try:
                weights = read_weights(ckpt / WEIGHTS, device=str(self.device))
                state = load_train_state(ckpt / TRAIN_STATE)
            except (CorruptCheckpointError, FileNotFoundError) as err:
                logger.warning("resume: skipping checkpoint %s: %s", ckpt, err)
                problems.append(str(err))
                continue
            load_state_dict_strict(self.method, weights, str(ckpt))
            if problems:
                logger.warning("resume: falling back to checkpoint %s (skipped %d newer unreadable one(s))",
                               ckpt, len(problems))
            return ckpt, state
        raise CheckpointError(f"{self.run_dir / 'checkpoints'}: no intact checkpoint to resume from: "
                              + "; ".join(problems))

    def _load_train_state(self, checkpoint: tuple[Path, dict[str, Any]]) -> None:
        ckpt, state = checkpoint
        if self.dist.enabled and self.cfg.distributed == "fsdp":
            from humanalign.pretrain.fsdp import load_full_optimizer_state

            load_full_optimizer_state(self.model, self.optimizer, state["optimizer"])
        else:
            self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.start_step = int(state["step"])
        self.skipped.update(dict.fromkeys(state.get("skipped", [])))
        logger.info("resumed from %s at step %d", ckpt, self.start_step)

    def _truncate_metrics(self, step: int) -> None:
        """Drop log lines past ``step``, where this run starts (they belong to an interrupted tail).

        Also runs when there is no checkpoint to resume from (then every line goes). A torn last line,
        left by a kill in mid-write, is dropped with a warning; a broken line before it raises
        ``ValueError`` naming the file and line.
        """
        path = self.run_dir / "metrics.jsonl"
        if not path.is_file() or not self.dist.is_main:
            return
        lines = path.read_text(errors="replace").splitlines()
        kept = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError(f"expected a JSON object, got {type(record).__name__}")
            except ValueError as err:  # json.JSONDecodeError is a ValueError
                if number == len(lines):
                    logger.warning("%s: dropping torn last line %d (%s)", path, number, err)
                    continue
                raise ValueError(f"{path}, line {number}: not a metrics record ({err}); "
                                 "fix or delete that line to resume") from err
            if record.get("step", 0) <= step:
                kept.append(line)
        path.write_text("".join(line + "\n" for line in kept))

    # -- checkpoints ------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {
            "method": self.cfg.method,
            "encoder": to_dict(self.method.encoder.cfg),
            "eval_prefix": getattr(self.method, "eval_prefix", "encoder."),
            "config_hash": config_hash(self.cfg),
            "run_name": self.run_dir.name,
            "package_version": __version__,
        }

    def _full_state(self) -> dict[str, torch.Tensor]:
        if self.dist.enabled and self.cfg.distributed == "fsdp":
            from humanalign.pretrain.fsdp import full_state_dict

            return full_state_dict(self.model)
        return self.method.state_dict()  # DDP wraps self.method; compile=true compiles blocks in place

    def _optimizer_state(self) -> dict[str, Any]:
        if self.dist.enabled and self.cfg.distributed == "fsdp":
            from humanalign.pretrain.fsdp import full_optimizer_state

            return full_optimizer_state(self.model, self.optimizer)
        return self.optimizer.state_dict()

    def save(self, step: int) -> Path | None:
        """Write checkpoint ``step`` (main process only; all processes call this)."""
        weights = self._full_state()
        opt_state = self._optimizer_state()
        if not self.dist.is_main:
            return None
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"step": step, "optimizer": opt_state, "rng": rng,
                 "scheduler": {"schedule": self.cfg.optim.schedule, "step": step},
                 "data": {"next_step": step, "seed": self.cfg.seed}, "skipped": list(self.skipped)}
        return save_checkpoint(self.run_dir, step, weights, self._meta(), state, self.cfg.keep_checkpoints)

    # -- the loop ---------------------------------------------------------------------------------
    def _loader(self) -> DataLoader:
        c = self.cfg
        sampler = StepBatchSampler(self.start_step, c.steps, c.optim.accum_steps, self.dist.world_size,
                                   self.dist.rank, c.data.batch_size)
        workers = c.data.num_workers
        return DataLoader(self.dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_clips,
                          pin_memory=self.device.type == "cuda", persistent_workers=False,
                          prefetch_factor=2 if workers > 0 else None)

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                for k, v in batch.items()}

    def fit(self) -> RunResult:
        """Train from ``start_step`` to ``cfg.steps``; returns what was done."""
        c = self.cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            save_yaml(c, self.run_dir / "config.yaml")
            self._truncate_metrics(self.start_step)  # also with no checkpoint yet: no step logged twice
        writer = Tracker(c, self.run_dir, self.dist.is_main, self.device)  # tensorboard, wandb, memory, MFU
        save_request = SaveRequest.from_env()  # set by humanalign.launch jobs: save now and stop (preemption)
        end_step = self.start_step
        last_loss = float("nan")
        bar = tqdm(total=c.steps, initial=self.start_step, disable=not (c.progress and self.dist.is_main),
                   desc=f"{c.method}", unit="step", dynamic_ncols=True)
        batches = iter(self._loader())
        self.model.train()
        tic = time.perf_counter()
        clips_since = 0
        for step in range(self.start_step, c.steps):
            lr = lr_at(step, c.steps, c.optim)
            weight_decay = weight_decay_at(step, c.steps, c.optim)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
                if group.get("decay"):
                    group["weight_decay"] = weight_decay
            loss_sum = torch.zeros((), device=self.device)
            for micro in range(c.optim.accum_steps):
                batch = self._to_device(next(batches))
                self.skipped.update(dict.fromkeys(batch.get("skipped", [])))
                generator = torch.Generator().manual_seed(step_seed(c.seed, step, micro, self.dist.rank))
                sync = micro == c.optim.accum_steps - 1 or not self.dist.enabled
                context = self.model.no_sync() if (not sync and hasattr(self.model, "no_sync")) else nullcontext()
                writer.begin_flop_count(step == self.start_step)
                with context, self._autocast():
                    out = self.model(batch, generator)
                    loss = out["loss"] / c.optim.accum_steps
                loss.backward()
                writer.end_flop_count()
                loss_sum += loss.detach().float()
                clips_since += _batch_clips(batch)
            mean_loss = all_reduce_mean(loss_sum, self.dist)
            if not torch.isfinite(mean_loss):
                bar.close()
                last = latest_checkpoint(self.run_dir)
                raise NonFiniteLossError(
                    f"loss became {mean_loss.item()} at step {step + 1} of {c.method}; stopped before the "
                    f"optimizer step. Last good checkpoint: {last if last else 'none written yet'}. "
                    "Lower optim.lr, raise optim.warmup_steps or check the data.")
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.optim.clip_grad) \
                if c.optim.clip_grad > 0 else torch.zeros(())
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            hook = getattr(self.method, "after_step", None)
            if hook is not None:
                hook(step, c.steps)
            last_loss = float(mean_loss.item())
            done = end_step = step + 1
            bar.update(1)
            if done % c.log_every == 0 or done == c.steps:
                elapsed = time.perf_counter() - tic
                record = {"step": done, "loss": last_loss, "lr": lr, "grad_norm": float(grad_norm),
                          "clips_per_s": clips_since * self.dist.world_size / max(elapsed, 1e-9),
                          "time": time.time()}
                for key, value in out.items():
                    if key != "loss" and isinstance(value, torch.Tensor) and value.numel() == 1:
                        record[key] = float(value)
                record.update(writer.extras(done))
                self._log(record, writer)
                bar.set_postfix(loss=f"{last_loss:.4f}")
                tic, clips_since = time.perf_counter(), 0
            stop = done < c.steps and self._save_requested(save_request)
            if stop or done % c.ckpt_every == 0 or done == c.steps:
                self.save(done)
            if stop:
                if self.dist.is_main:
                    save_request.acknowledge(done)
                logger.warning("save requested (preemption or time limit): saved step %d and stopped", done)
                break
        bar.close()
        self.skipped = dict.fromkeys(all_gather_lists(list(self.skipped), self.dist))
        if self.dist.is_main:
            self._finish()
        writer.close()
        return RunResult(self.run_dir, self.start_step, end_step, last_loss, list(self.skipped))

    # -- outputs ----------------------------------------------------------------------------------
    def _save_requested(self, request: SaveRequest | None) -> bool:
        """Whether a launcher asked to save and stop; every process gets the main process's answer."""
        if request is None:
            return False
        flag = torch.tensor(float(self.dist.is_main and request.pending()), device=self.device)
        return bool(all_reduce_mean(flag, self.dist) > 0)

    def _log(self, record: dict[str, float], writer: Tracker) -> None:
        if not self.dist.is_main:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        writer.log(record)

    def _finish(self) -> None:
        if self.skipped:
            (self.run_dir / "skipped.txt").write_text("".join(s + "\n" for s in self.skipped))
            logger.warning("skipped %d unreadable or unusable video file(s):\n  %s", len(self.skipped),
                           "\n  ".join(self.skipped))
        from humanalign.pretrain.plots import plot_loss_curve

        plot_loss_curve(self.run_dir / "metrics.jsonl", self.run_dir / "loss.png")


def _batch_clips(batch: dict[str, Any]) -> int:
    for value in batch.values():
        if isinstance(value, torch.Tensor):
            return int(value.shape[0])
    return 0

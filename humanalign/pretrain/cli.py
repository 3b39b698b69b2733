"""``python -m humanalign.pretrain METHOD ...``: resolve a config (defaults <- preset <- flags <- overrides) and train.

Examples::

    python -m humanalign.pretrain egocentric --data videos/ --preset tiny --steps 200 --out runs/stmae
    python -m humanalign.pretrain egocentric --out runs/stmae --resume --steps 400
    python -m humanalign.pretrain synthetic --stage 2 --preset tiny --steps 200 --out runs/moving-circles
    torchrun --nproc_per_node 8 -m humanalign.pretrain egocentric --data /videos --preset hvm1-224 --out runs/hvm1
    python -m humanalign.pretrain egocentric --data /videos --preset hvm1-224 --out runs/hvm1 \
        --launcher slurm --nodes 4 --gpus-per-node 8 --partition gpu --time 48:00:00 --dry-run
    python -m humanalign.pretrain list
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from humanalign.cli import add_verbose_arg, run_cli
from humanalign.config import ConfigError, apply_overrides, from_dict, load_yaml, merge, to_dict
from humanalign.launch import add_launcher_args, launch
from humanalign.pretrain.config import TrainConfig, validate_train_config
from humanalign.pretrain.distributed import cleanup_distributed, init_distributed
from humanalign.pretrain.engine import NonFiniteLossError, RunResult, Trainer
from humanalign.registry import PRETRAIN_METHODS

__all__ = ["main", "resolve_config", "load_preset", "preset_names", "run"]

logger = logging.getLogger("humanalign.pretrain")


def _preset_root() -> Path:
    return Path(str(resources.files("humanalign.pretrain") / "presets"))


def preset_names(method: str) -> list[str]:
    """Names of the presets shipped for ``method``."""
    folder = _preset_root() / method
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_preset(method: str, name: str, _seen: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A preset's diffs, base first: ``_base: other/preset`` chains are followed (a YAML path also works).

    Applying the diffs in order with :func:`humanalign.config.merge` gives the preset's config, so a
    base preset is checked key by key exactly like the preset itself.

    Raises:
        ConfigError: unknown preset (listing the known ones) or a ``_base`` cycle.
    """
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        method_dir, _, stem = name.rpartition("/")
        path = _preset_root() / (method_dir or method) / f"{stem}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown preset {name!r} for {method}; known: {', '.join(preset_names(method)) or 'none'}")
    if str(path) in _seen:
        raise ConfigError(f"preset cycle through {path}")
    data = load_yaml(path)
    base = data.pop("_base", None)
    return ([] if base is None else load_preset(method, str(base), (*_seen, str(path)))) + [data]


def resolve_config(method: str, preset: str | None, overrides: list[str], base: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults of the method's config class <- saved run config (``base``) or preset <- overrides."""
    spec = PRETRAIN_METHODS.get(method)
    cfg = spec.config_cls()
    if base is not None:
        cfg = from_dict(spec.config_cls, base)
    elif preset:
        for diff in load_preset(method, preset):
            try:
                cfg = merge(cfg, diff)
            except ConfigError as err:  # name the preset (a YAML path when given one)
                raise ConfigError(f"preset {preset}: {err}") from err
    cfg = apply_overrides(cfg, overrides)
    cfg = merge(cfg, {"method": method})
    _validate(cfg)
    return cfg


def _validate(cfg: TrainConfig) -> None:
    validate_train_config(cfg)  # every count and interval (ckpt_every=0, steps=-1, ...)
    if cfg.encoder.video and cfg.data.num_frames > 1 and cfg.data.num_frames != cfg.encoder.num_frames:
        raise ConfigError(f"data.num_frames ({cfg.data.num_frames}) must equal encoder.num_frames "
                          f"({cfg.encoder.num_frames}) for a video encoder")


def run(cfg: TrainConfig, out: Path, resume: bool) -> RunResult:
    """Build the method and its stream for ``cfg`` and train into ``out`` (joins torchrun if launched by it)."""
    info = init_distributed(cfg.device)
    try:
        spec = PRETRAIN_METHODS.get(cfg.method)
        torch.manual_seed(cfg.seed)
        method = spec.build(cfg)
        dataset, skipped = spec.stream(cfg)
        if info.is_main:
            n = sum(p.numel() for p in method.parameters())
            logger.info("%s: %.2fM parameters on %s (world size %d)", cfg.method, n / 1e6, info.device, info.world_size)
        trainer = Trainer(cfg, method, dataset, out, dist_info=info, resume=resume, skipped=skipped)
        return trainer.fit()
    finally:
        cleanup_distributed()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m humanalign.pretrain",
                                description="Self-supervised pretraining (ST-MAE, image MAE, VideoMAE on synthetic video, VITO, V-JEPA).")
    p.add_argument("method", help="pretraining method, or 'list' to show methods and presets")
    p.add_argument("overrides", nargs="*", help="config overrides key.sub=value (unknown keys are errors)")
    p.add_argument("--data", help="folder of videos (recursive) or manifest CSV with a 'path' column")
    p.add_argument("--preset", help="preset name (see 'list') or a YAML file of config diffs")
    p.add_argument("--stage", type=int, help="synthetic progression stage 1..8 (sets data.synthetic_stage)")
    p.add_argument("--steps", type=int, help="total optimizer steps (with --resume: the new total)")
    p.add_argument("--out", help="run folder (default runs/<method>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--quiet", action="store_true", help="only warnings and errors")
    add_verbose_arg(p)
    add_launcher_args(p)  # --launcher torchrun|local|slurm, resources, --dry-run (humanalign.launch)
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what a launcher re-runs in its job
    unknown = [r for r in rest if r.startswith("-") or "=" not in r]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.overrides = list(args.overrides) + rest
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.method == "list":
        for name in PRETRAIN_METHODS.list():
            spec = PRETRAIN_METHODS.get(name)
            print(f"{name:12s} {spec.description}\n{'':12s} presets: {', '.join(preset_names(name)) or '-'}")
        return 0
    return run_cli(lambda: _train(args), verbose=args.verbose)


def _train(args: argparse.Namespace) -> int:
    """Resolve the config and train; bad input raises and :func:`run_cli` reports it in one line."""
    try:
        PRETRAIN_METHODS.get(args.method)
        out = Path(args.out) if args.out else Path("runs") / f"{args.method}-{time.strftime('%Y%m%d-%H%M%S')}"
        overrides = list(args.overrides)
        if args.data:
            key = "data.manifest" if Path(args.data).suffix.lower() == ".csv" else "data.root"
            overrides.append(f"{key}={Path(args.data).resolve()}")
        if args.stage is not None:
            overrides.append(f"data.synthetic_stage={args.stage}")
        if args.steps is not None:
            overrides.append(f"steps={args.steps}")
        if args.device:
            overrides.append(f"device={args.device}")
        base = None
        if args.resume:
            saved = out / "config.yaml"
            if not saved.is_file():
                raise ConfigError(f"--resume: no config.yaml in {out} (nothing to resume)")
            base = load_yaml(saved)
            if args.preset:
                logger.warning("--resume uses the saved config of %s; ignoring --preset %s", out, args.preset)
        cfg = resolve_config(args.method, args.preset, overrides, base=base)
        if base is not None:
            changed = _changed_keys(base, to_dict(cfg))
            if changed - {"steps"}:
                logger.warning("resuming with changed settings: %s", ", ".join(sorted(changed)))
        if args.launcher:  # run the same command (validated above) under torchrun, as a job, or on SLURM
            return launch(args, args.argv, entry="humanalign.pretrain", run_dir=out)
        result = run(cfg, out, resume=args.resume)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    print(f"run folder: {result.run_dir}")
    print(f"  config:      {result.run_dir / 'config.yaml'}")
    print(f"  metrics log: {result.run_dir / 'metrics.jsonl'}")
    print(f"  checkpoints: {result.run_dir / 'checkpoints'} (steps {result.start_step} -> {result.end_step})")
    if (result.run_dir / "loss.png").is_file():
        print(f"  loss curve:  {result.run_dir / 'loss.png'}")
    if result.skipped:
        print(f"  skipped {len(result.skipped)} file(s) (listed in {result.run_dir / 'skipped.txt'}):")
        for line in result.skipped:
            print(f"    {line}")
    return 0


def _changed_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key in set(old) | set(new):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys |= _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b and not (isinstance(a, (list, tuple)) and list(a) == list(b or [])):
            keys.add(prefix + key)
    return keys

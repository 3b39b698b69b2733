"""Command line: export synthetic clips to mp4, compute and store data-set statistics, plot them.

Examples:
    python -m humanalign.synthetic export --stage 5 --count 100 --out data/synthetic/stage5
    python -m humanalign.synthetic export --stage 8 --count 10 --out out/s8 --images ~/pictures
    python -m humanalign.synthetic stats --stage 1 2 3 4 5 6 7 8 --count 32 --encoder vit_test_video
    python -m humanalign.synthetic plot --out figures/synthetic_datastats
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch

from humanalign.cli import add_verbose_arg, run_cli
from humanalign.config import apply_overrides, config_hash
from humanalign.paths import default_results_path
from humanalign.synthetic.config import STAGE_NAMES, VARIANTS, GeneratorConfig, stage_config

logger = logging.getLogger("humanalign.synthetic")


def _config(args: argparse.Namespace, stage: int) -> GeneratorConfig:
    extra = {"size": args.size} if args.size else {}
    if getattr(args, "images", None):
        extra["image_dir"] = str(args.images)
    if getattr(args, "stride", None):
        extra["frame_stride"] = args.stride
    cfg = stage_config(stage, args.variant, **extra)
    return apply_overrides(cfg, args.set or [])


def _load_reference(path: Path, count: int, num_frames: int, size: int, seed: int) -> np.ndarray:
    """uint8 clips [M, T, S, S, 3] from a folder of videos or images (images become 1-frame clips)."""
    from humanalign.data.video_index import list_video_files
    from humanalign.synthetic.clips import load_real_clip
    from humanalign.synthetic.textures import image_textures, list_images

    if not path.exists():
        raise FileNotFoundError(f"reference not found: {path}")
    videos = [path] if path.is_file() else list_video_files(path)
    if videos:
        clips = [load_real_clip(str(v), num_frames, 1, size, 0) for v in videos[:count]]
        return torch.stack(clips).numpy()
    list_images(path)  # raises a clear error if there are none
    gen = torch.Generator().manual_seed(seed)
    return image_textures(gen, count, size, path).permute(0, 2, 3, 1)[:, None].numpy()


def _cmd_export(args: argparse.Namespace) -> int:
    from humanalign.synthetic.export import export_clips

    for stage in args.stage:
        out = Path(args.out) if len(args.stage) == 1 else Path(args.out) / f"stage{stage}"
        manifest = export_clips(stage, args.count, out, seed=args.seed, num_frames=args.frames,
                                cfg=_config(args, stage), fps=args.fps, start_index=args.start)
        print(f"stage {stage} ({STAGE_NAMES[stage]}): wrote {len(manifest)} mp4 files and {out / 'manifest.csv'}")
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from humanalign.compare.datastats import dataset_statistics, statistics_rows
    from humanalign.device import resolve_device
    from humanalign.models import load_model
    from humanalign.synthetic.clips import render_clips

    encoder = load_model(args.encoder, device=str(resolve_device(args.device))) if args.encoder != "none" else None
    if encoder is not None:
        from humanalign.features.hashing import state_dict_hash

        weights = state_dict_hash(encoder)[:16]  # the store requires a model row's checkpoint hash
    else:
        weights = "none"  # data statistics only: no weights involved
    rows = []
    for stage in args.stage:
        cfg = _config(args, stage)
        clips = render_clips(stage, args.seed, range(args.count), args.frames, cfg=cfg).numpy()
        if args.reference:
            reference = _load_reference(Path(args.reference), args.count, args.frames, cfg.size, args.seed)
            ref_name = Path(args.reference).name
        elif stage > 1:
            ref_cfg = stage_config(stage - 1, args.variant, size=cfg.size)
            reference = render_clips(stage - 1, args.seed, range(args.count), args.frames, cfg=ref_cfg).numpy()
            ref_name = f"stage{stage - 1}"
        else:
            reference, ref_name = None, "none"
        stats = dataset_statistics(clips, encoder=encoder, reference=reference)
        print(f"stage {stage} ({STAGE_NAMES[stage]}), {args.count} clips, reference {ref_name}, "
              f"encoder {args.encoder}:")
        for key, value in stats.items():
            print(f"  {key:18s} {value: .4f}")
        rows += statistics_rows(stats, model=args.encoder, dataset=f"synthetic_stage{stage}",
                                condition=f"{args.variant};ref={ref_name}", n=args.count, seed=args.seed,
                                config_hash=config_hash(cfg), checkpoint_hash=weights)
    if args.store != "none":
        from humanalign.io.results import ResultsStore

        ResultsStore(args.store).append_metrics(rows)
        print(f"stored {len(rows)} rows in {args.store}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from humanalign.io.results import ResultsStore
    from humanalign.report.plots_datastats import plot_datastats
    from humanalign.report.style import save_figure

    frame = ResultsStore(args.store).metrics(benchmark="synthetic_datastats")
    if frame.empty:
        print(f"no synthetic_datastats rows in {args.store}; run the stats command first", file=sys.stderr)
        return 1
    fig = plot_datastats(frame)
    for path in save_figure(fig, Path(args.out)):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m humanalign.synthetic`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m humanalign.synthetic", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, frames: int) -> None:
        p.add_argument("--stage", type=int, nargs="+", required=True, choices=sorted(STAGE_NAMES))
        p.add_argument("--count", type=int, default=32, help="number of clips")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--frames", type=int, default=frames, help="frames per clip")
        p.add_argument("--size", type=int, default=0, help="frame side (default 256)")
        p.add_argument("--variant", default="default", choices=sorted(VARIANTS))
        p.add_argument("--images", type=Path, default=None, help="image folder for stage 8 / static-image mixing")
        p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="generator config overrides, e.g. num_objects=200")

    p = sub.add_parser("export", help="write clips as mp4 files plus manifest.csv")
    common(p, frames=64)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--stride", type=int, default=1, help="frame stride within the underlying video")
    p.add_argument("--start", type=int, default=0, help="first clip index")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("stats", help="print and store data-set statistics")
    common(p, frames=16)
    p.add_argument("--encoder", default="vit_test_video",
                   help="registry name, run directory or .safetensors file; 'none' skips feature statistics")
    p.add_argument("--reference", default=None,
                   help="folder of videos or images to compare with (default: the previous stage)")
    p.add_argument("--store", default=str(default_results_path()), help="results store ('none' to skip)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present, else CPU), cpu, cuda, cuda:N")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("plot", help="plot stored statistics across the progression")
    p.add_argument("--store", default=str(default_results_path()))
    p.add_argument("--out", default="figures/synthetic_datastats", help="output path without suffix")
    p.set_defaults(func=_cmd_plot)
    for command in sub.choices.values():
        add_verbose_arg(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("humanalign").setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    return run_cli(lambda: args.func(args), verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())

"""Data command line: ``python -m humanalign.data make-demo-videos|make-motion-set|scan ...``.

Examples:
    python -m humanalign.data make-demo-videos --out demo_videos --count 200 --seconds 4 --bad
    python -m humanalign.data make-motion-set --out motion --train-per-class 24 --val-per-class 12
    python -m humanalign.data scan demo_videos
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence

from humanalign.cli import add_verbose_arg, run_cli

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m humanalign.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("make-demo-videos", help="write egocentric-like mp4 videos and a manifest CSV")
    demo.add_argument("--out", required=True, help="output folder")
    demo.add_argument("--count", type=int, required=True, help="number of good videos")
    demo.add_argument("--seconds", type=float, default=4.0, help="duration of each video (default 4)")
    demo.add_argument("--size", type=int, default=128, help="frame side length in pixels, even (default 128)")
    demo.add_argument("--fps", type=int, default=15, help="frame rate (default 15)")
    demo.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    demo.add_argument(
        "--bad", action="store_true", help="also write zero-byte, truncated and non-video files"
    )
    demo.add_argument("--codec", default=None, help="encoder (default: libx264 if available, else mpeg4)")
    demo.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="rendering processes (default: min(2, CPUs))",
    )

    motion = sub.add_parser("make-motion-set", help="write a labelled motion-direction clip set (train/val)")
    motion.add_argument("--out", required=True, help="output folder (gets train/ and val/ class folders)")
    motion.add_argument("--train-per-class", type=int, default=24)
    motion.add_argument("--val-per-class", type=int, default=12)
    motion.add_argument("--frames", type=int, default=16)
    motion.add_argument("--size", type=int, default=64)
    motion.add_argument("--seed", type=int, default=0)

    scan = sub.add_parser("scan", help="index a folder or manifest of videos and list skipped files")
    scan.add_argument("source", help="folder (recursive) or manifest CSV with a 'path' column")
    scan.add_argument("--min-frames", type=int, default=1, help="skip videos shorter than this")
    scan.add_argument("--no-cache", action="store_true", help="do not read or write the index cache")
    scan.add_argument("--no-verify", action="store_true", help="do not decode first/last frames")
    for command in (demo, motion, scan):
        add_verbose_arg(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the data CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_cli(lambda: _run(args), verbose=args.verbose)


def _run(args: argparse.Namespace) -> int:
    """Run one subcommand; bad input raises and :func:`run_cli` reports it in one line."""
    if args.command == "make-demo-videos":
        from humanalign.data.demo_videos import write_demo_videos

        start = time.perf_counter()
        manifest = write_demo_videos(
            args.out,
            args.count,
            seconds=args.seconds,
            size=args.size,
            seed=args.seed,
            fps=args.fps,
            bad=args.bad,
            codec=args.codec,
            workers=args.workers,
        )
        print(
            f"wrote {args.count} videos{' + broken files' if args.bad else ''} to {args.out} "
            f"in {time.perf_counter() - start:.1f} s; manifest: {manifest}"
        )
        return 0
    if args.command == "make-motion-set":
        from humanalign.data.motion_set import write_motion_set

        out = write_motion_set(args.out, args.train_per_class, args.val_per_class, args.frames, args.size,
                               seed=args.seed)
        print(f"wrote motion-direction clips to {out}/train and {out}/val (4 classes)")
        return 0
    from humanalign.data.video_index import scan_videos

    index = scan_videos(
        args.source,
        min_frames=args.min_frames,
        cache=not args.no_cache,
        verify=not args.no_verify,
        progress=True,
    )
    print(index.summary())
    for skipped in index.skipped:
        print(f"  skipped {skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

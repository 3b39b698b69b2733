"""Benchmark: ms per 224x224 image for the 19 image corruptions x 5 severities, ours vs `imagecorruptions`.

Ours runs batched in torch (a batch of 64 images on the CPU); the PyPI ``imagecorruptions`` package
(the NumPy/OpenCV/scikit-image reference code) runs image by image. Both are timed on one thread
by default (``--threads``) so the figures are per CPU core. Corruptions the package cannot run in
this environment (NumPy 2 / current scikit-image) are reported as failing, with the error.

Prints one line per corruption (ours and the package, averaged over the 5 severities, the ratio,
and as a fidelity check the mean absolute change each makes to the same 8-bit images), then the
whole-grid figures, and last the grid speed-up ratio over the corruptions both run.

Usage:
    pip install imagecorruptions opencv-python-headless   # the `bench` extra
    python bench/corruptions.py [--batch 64] [--package-images 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from humanalign.perturb.corruptions import ALL_CORRUPTIONS
from humanalign.registry import CORRUPTIONS


def natural_batch(n: int, size: int = 224, seed: int = 0) -> torch.Tensor:
    """Smooth images with edges, ``[n, 3, size, size]`` in [0, 1] (stand-ins for photographs)."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    freq = torch.rand(n, 3, 2, generator=g) * 12 + 1
    img = 0.5 + 0.3 * torch.sin(freq[..., 0, None, None] * xs + freq[..., 1, None, None] * ys)
    img = img + 0.1 * torch.rand(n, 3, size, size, generator=g)
    img[:, :, size // 4: size // 2, size // 3: 2 * size // 3] = torch.rand(n, 3, 1, 1, generator=g)
    return img.clamp(0, 1)


def import_package() -> str | None:
    """Import ``imagecorruptions``; returns a note on any shim needed, raises ImportError if absent.

    The package imports ``pkg_resources.resource_filename``, which setuptools >= 81 no longer ships;
    in that case a one-function stand-in (files next to the module) is registered first.
    """
    note = None
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import importlib.util
        import os
        import sys
        import types

        if importlib.util.find_spec("imagecorruptions") is None:
            raise
        shim = types.ModuleType("pkg_resources")

        def resource_filename(package: str, name: str) -> str:
            spec = importlib.util.find_spec(package)
            return os.path.join(os.path.dirname(spec.origin), name)

        shim.resource_filename = resource_filename  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
        note = "imagecorruptions fails to import (no pkg_resources in setuptools >= 81); shimmed resource_filename"
    import imagecorruptions  # noqa: F401

    return note


def time_ours(name: str, images: torch.Tensor, severity: int, repeats: int = 2) -> float:
    """ms per image of our corruption on the whole batch: best of ``repeats`` runs after a warm-up."""
    fn = CORRUPTIONS.get(name)
    fn(images[:2], severity, generator=torch.Generator().manual_seed(0))
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        fn(images, severity, generator=torch.Generator().manual_seed(1 + r))
        best = min(best, time.perf_counter() - start)
    return 1000 * best / images.shape[0]


def shim_package() -> None:
    """Let the package's failing corruptions run on NumPy 2 / scikit-image >= 0.19 (for timing only).

    ``skimage.filters.gaussian(multichannel=True)`` becomes ``channel_axis=-1`` and ``np.float_``
    is restored as ``np.float64``; the algorithms themselves are untouched.
    """
    import imagecorruptions.corruptions as ic
    from skimage.filters import gaussian

    def gaussian_compat(image: np.ndarray, sigma: float = 1, multichannel: bool | None = None, **kw: object):
        if multichannel:
            kw["channel_axis"] = -1
        return gaussian(image, sigma=sigma, **kw)

    ic.gaussian = gaussian_compat
    setattr(np, "float_", np.float64)  # noqa: B010 - restore the alias removed in NumPy 2


def time_package(name: str, images_u8: list[np.ndarray], severity: int) -> tuple[float, float] | str:
    """(ms per image, mean |corrupted - clean|) of ``imagecorruptions.corrupt``, or its error message."""
    from imagecorruptions import corrupt

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corrupt(images_u8[0], corruption_name=name, severity=severity)  # warm-up
            np.random.seed(severity)  # noqa: NPY002 - the package draws from the legacy global RNG
            start = time.perf_counter()
            outs = [corrupt(img, corruption_name=name, severity=severity) for img in images_u8]
            elapsed = time.perf_counter() - start
    except Exception as err:  # noqa: BLE001 - report any failure of the third-party package
        return f"{type(err).__name__}: {str(err).splitlines()[0][:80]}"
    change = float(np.mean([np.abs(o / 255 - i / 255).mean() for o, i in zip(outs, images_u8)]))
    return 1000 * elapsed / len(images_u8), change


def ours_change(name: str, images_u8: list[np.ndarray], severity: int) -> float:
    """Mean |corrupted - clean| of ours on the package's (8-bit) images: a fidelity check."""
    x = torch.stack([torch.from_numpy(i).permute(2, 0, 1).float() / 255 for i in images_u8])
    y = CORRUPTIONS.get(name)(x, severity, generator=torch.Generator().manual_seed(severity))
    return float((y - x).abs().mean())


def _row(name: str, ours: list[float], package: list, ours_delta: list[float], note: str = "") -> tuple[float, float]:
    ms = [p[0] for p in package]
    delta = [p[1] for p in package]
    pk = float(np.mean(ms))
    print(f"{name:18s} {np.mean(ours):12.2f} {pk:15.2f} {pk / np.mean(ours):7.1f}x   "
          f"{np.mean(ours_delta):.3f} / {np.mean(delta):.3f}{note}")
    return sum(ours), sum(ms)


def main() -> None:
    """Run the benchmark and print the figures (the grid speed-up ratio last)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--package-images", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--corruptions", default="all", help="comma-separated names or 'all'")
    parser.add_argument("--no-shim", dest="shim", action="store_false",
                        help="do not time the package's failing corruptions through compatibility shims")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import cv2

        cv2.setNumThreads(args.threads)
        note = import_package()
        if note:
            print(note)
        have_package = True
    except ImportError:
        have_package = False
        print("imagecorruptions not installed (pip install imagecorruptions): timing ours only")
    names = ALL_CORRUPTIONS if args.corruptions == "all" else tuple(args.corruptions.split(","))
    images = natural_batch(args.batch)
    images_u8 = [np.ascontiguousarray((img.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
                 for img in images[: args.package_images]]
    print(f"numpy {np.__version__}, torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, "
          f"{images.shape[-1]}x{images.shape[-1]} px")
    print(f"{'corruption':18s} {'ours ms/img':>12s} {'package ms/img':>15s} {'ratio':>8s}   "
          "mean |change| ours / package")
    ours_total, ours_common, package_common = 0.0, 0.0, 0.0
    failing: dict[str, str] = {}
    failing_timed: list[str] = []
    ours_by_name: dict[str, list[float]] = {}
    for name in names:
        ours = ours_by_name[name] = [time_ours(name, images, s) for s in range(1, 6)]
        ours_total += sum(ours)
        if not have_package:
            print(f"{name:18s} {np.mean(ours):12.2f}")
            continue
        package = [time_package(name, images_u8, s) for s in range(1, 6)]
        errors = [p for p in package if isinstance(p, str)]
        if errors:
            failing[name] = errors[0]
            print(f"{name:18s} {np.mean(ours):12.2f} {'FAILS':>15s} {'-':>8s}")
            continue
        delta = [ours_change(name, images_u8, s) for s in range(1, 6)]
        a, b = _row(name, ours, package, delta)
        ours_common, package_common = ours_common + a, package_common + b
    for name, err in failing.items():
        print(f"package fails on {name}: {err}")
    if failing and have_package and args.shim:
        shim_package()
        print("timing the failing ones with compatibility shims (same algorithms):")
        for name in failing:
            package = [time_package(name, images_u8, s) for s in range(1, 6)]
            if any(isinstance(p, str) for p in package):
                print(f"{name:18s} still fails: {[p for p in package if isinstance(p, str)][0]}")
                continue
            delta = [ours_change(name, images_u8, s) for s in range(1, 6)]
            a, b = _row(name, ours_by_name[name], package, delta, "  (shimmed)")
            ours_common, package_common = ours_common + a, package_common + b
            failing_timed.append(name)
    print(f"grid ({len(names)} x 5): ours {ours_total:.1f} ms per image through the whole grid")
    if package_common > 0:
        n_common = len([n for n in names if n not in failing or n in failing_timed])
        print(f"grid over the {n_common} corruptions the package runs: ours {ours_common:.1f} ms, "
              f"package {package_common:.1f} ms per image")
        print(f"grid speed-up vs imagecorruptions: {package_common / ours_common:.1f}x")


if __name__ == "__main__":
    main()

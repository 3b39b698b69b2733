"""Benchmark: images/s of one observer over a corruption grid (features + readout), score_grid vs the user loop.

Ours is :func:`humanalign.eval.grid.score_grid` (into a fresh results store): the set decoded and resized once, every cell's
corruption applied to the whole batch in torch on the device, the observer's pooled embedding, and a
cross-validated logistic-regression readout fitted on clean features. The loop a user would otherwise
write runs the same model (the same module, the same weights) on the same images at the same batch
size: the images decoded and resized once to uint8 HWC arrays, then per cell the ``imagecorruptions``
package image by image (uint8 HWC NumPy, as it requires), ``ToTensor`` + normalise, timm's
``forward_features`` + ``forward_head(pre_logits=True)`` per batch, and the same kind of readout (scikit-learn
stratified k-fold, standardised logistic regression fitted on clean features). Both sides count the clean
cell and every (corruption, severity) cell; each runs in its own process, so each reports its own peak
memory (peak RSS from ``resource.getrusage`` and the peak of Python/NumPy allocations from ``tracemalloc``;
torch's CPU tensors are in the RSS only).

The package's corruptions that fail on NumPy 2 / current scikit-image (glass blur, gaussian blur, fog) are
timed through the compatibility shims of ``bench/corruptions.py`` (same algorithms).

Prints the settings, one line per side (seconds, images/s, peak memory, mean grid accuracy as a sanity
check: random weights read near chance), and last the images/s ratio.

Usage:
    pip install imagecorruptions opencv-python-headless   # the `bench` extra
    python bench/eval_grid.py [--quick] [--images 24] [--batch-size 24] [--threads N] [--device cpu|cuda]
        [--model timm:vit_small_patch16_224] [--corruptions all|a,b] [--severities 1-5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import torch

try:
    from bench.corruptions import import_package, natural_batch, shim_package
except ModuleNotFoundError:  # run as a script: python bench/eval_grid.py
    from corruptions import import_package, natural_batch, shim_package

QUICK_CORRUPTIONS = "gaussian_noise,glass_blur,fog,jpeg_compression,elastic_transform,contrast"
CLASSES = ("c0", "c1", "c2", "c3")  # not head indices: the readout protocol, as for any labelled set


def write_images(root: Path, n: int, size: int = 256) -> Path:
    """``n`` smooth images with edges as PNG files in ``root/<class>/``, classes in turn."""
    from PIL import Image

    images = natural_batch(n, size=size, seed=3)
    for i, img in enumerate(images):
        folder = root / CLASSES[i % len(CLASSES)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / f"{i:03d}.png")
    return root


def _peak() -> dict[str, float]:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    return {"peak_rss_mib": rss, "peak_traced_mib": tracemalloc.get_traced_memory()[1] / 2 ** 20}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _warm_up(observer, device: torch.device, amp) -> None:
    """One small forward before timing (both sides), so one-time kernel set-up is not in either figure."""
    from humanalign.device import autocast

    size = observer.contract.size
    with torch.inference_mode(), autocast(device, amp):
        observer.module.to(device).eval()
        observer.module.forward_features(torch.zeros(2, 3, size, size, device=device))
    _sync(device)


def run_ours(args, root: Path, corruptions: list[str], severities: list[int]) -> dict:
    """score_grid over the grid into a fresh store and feature cache (their writes are part of the cost)."""
    from humanalign.device import resolve_device, resolve_dtype
    from humanalign.eval.grid import GridSettings, grid_cells, score_grid
    from humanalign.eval.labelled import load_labelled
    from humanalign.io.results import ResultsStore
    from humanalign.models.observers import load_observer

    device = resolve_device(args.device)
    observer = load_observer(args.model)
    _warm_up(observer, device, resolve_dtype(args.dtype, device))
    cells = grid_cells(corruptions, severities)
    with tempfile.TemporaryDirectory() as tmp:
        settings = GridSettings(folds=args.folds, batch_size=args.batch_size, device=str(device), dtype=args.dtype,
                                cache_dir=str(Path(tmp) / "cache"))
        store = ResultsStore(Path(tmp) / "r.sqlite")
        tracemalloc.start()
        start = time.perf_counter()
        data = load_labelled(root)
        result = score_grid(observer, data, cells, store, settings)
        _sync(device)
        elapsed = time.perf_counter() - start
        peak = _peak()
        accuracy = float(store.metrics(metric="accuracy")["value"].mean())
    assert len(result.computed) == len(cells), result
    return {"seconds": elapsed, "images": len(data) * len(cells), **peak, "accuracy": accuracy}


def run_user_loop(args, root: Path, corruptions: list[str], severities: list[int]) -> dict:
    """The loop a user would write: imagecorruptions per image, timm forward per batch, sklearn readout."""
    from PIL import Image
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from torchvision.transforms import functional as TF

    from humanalign.device import autocast, resolve_device, resolve_dtype
    from humanalign.models.observers import load_observer

    import_package()
    shim_package()
    from imagecorruptions import corrupt

    device = resolve_device(args.device)
    amp = resolve_dtype(args.dtype, device)
    observer = load_observer(args.model)  # the same module and weights as ours
    model = observer.module.to(device).eval()
    _warm_up(observer, device, amp)
    prep = observer.contract.preprocessing()
    mean = torch.tensor(prep.mean).view(1, 3, 1, 1).to(device)
    std = torch.tensor(prep.std).view(1, 3, 1, 1).to(device)
    files = sorted(root.rglob("*.png"))
    labels = np.array([CLASSES.index(f.parent.name) for f in files])
    tracemalloc.start()
    start = time.perf_counter()
    size = prep.img_size
    resize = int(round(size / prep.crop_fraction))
    images = []  # decoded and resized once, uint8 HWC as imagecorruptions wants
    for f in files:
        img = TF.center_crop(TF.resize(Image.open(f).convert("RGB"), resize), size)
        images.append(np.asarray(img, dtype=np.uint8))

    def features(batch_u8: list[np.ndarray]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for s in range(0, len(batch_u8), args.batch_size):
                x = torch.stack([torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1) for a in
                                 batch_u8[s:s + args.batch_size]]).float().div_(255).to(device)
                with autocast(device, amp):
                    feats = model.forward_head(model.forward_features((x - mean) / std), pre_logits=True)
                out.append(feats.float().cpu().numpy())
        return np.concatenate(out)

    clean = features(images)
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0)
    fold_of = np.zeros(len(labels), dtype=int)
    readouts = []
    for k, (train, test) in enumerate(folds.split(clean, labels)):
        fold_of[test] = k
        readouts.append(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(clean[train],
                                                                                               labels[train]))

    def accuracy(feats: np.ndarray) -> float:
        pred = np.zeros(len(labels), dtype=int)
        for k, r in enumerate(readouts):
            pred[fold_of == k] = r.predict(feats[fold_of == k])
        return float((pred == labels).mean())

    accs = [accuracy(clean)]
    np.random.seed(0)  # noqa: NPY002 - the package draws from the legacy global RNG
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in corruptions:
            for sev in severities:
                corrupted = [np.uint8(corrupt(img, corruption_name=name, severity=sev)) for img in images]
                accs.append(accuracy(features(corrupted)))
    _sync(device)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "images": len(files) * (1 + len(corruptions) * len(severities)), **_peak(),
            "accuracy": float(np.mean(accs))}


def _side(args, side: str) -> dict:
    """One side in its own process (own peak memory); its figures come back as the last stdout line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--root", args.root, "--model", args.model,
           "--corruptions", args.corruptions, "--severities", args.severities, "--batch-size", str(args.batch_size),
           "--folds", str(args.folds), "--threads", str(args.threads), "--device", args.device, "--dtype", args.dtype]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _grid(args) -> tuple[list[str], list[int]]:
    from humanalign.eval.robustness import parse_severities, resolve_corruptions

    return resolve_corruptions(args.corruptions, is_video=False), parse_severities(args.severities)


def main() -> None:
    """Run both sides and print the figures (the images/s ratio last)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="timm:vit_small_patch16_224", help="model spec (random init for timm)")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--corruptions", default="all")
    parser.add_argument("--severities", default="1-5")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smaller grid: {QUICK_CORRUPTIONS} at severities 1,5, 12 images")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch/OpenCV threads per side")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (skips cleanly without CUDA)")
    parser.add_argument("--dtype", default="auto", help="autocast dtype (auto: bf16 on CUDA, fp32 on the CPU)")
    parser.add_argument("--side", choices=("ours", "loop"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import cv2

        cv2.setNumThreads(args.threads)
    except ImportError:
        pass
    if args.side:  # a child: one side, figures as JSON
        corruptions, severities = _grid(args)
        fn = run_ours if args.side == "ours" else run_user_loop
        print(json.dumps(fn(args, Path(args.root), corruptions, severities)))
        return
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"--device {args.device}: no CUDA device on this machine; skipped")
        return
    if args.quick:
        args.corruptions = QUICK_CORRUPTIONS if args.corruptions == "all" else args.corruptions
        args.severities = "1,5" if args.severities == "1-5" else args.severities
        args.images = min(args.images, 12)
        args.batch_size = min(args.batch_size, 12)
    corruptions, severities = _grid(args)
    try:
        note = import_package()
        have_package = True
        if note:
            print(note)
    except ImportError:
        have_package = False
        print("imagecorruptions not installed (pip install imagecorruptions): timing ours only")
    cells = 1 + len(corruptions) * len(severities)
    device = args.device if args.device != "cuda" else f"cuda ({torch.cuda.get_device_name(0)})"
    print(f"numpy {np.__version__}, torch {torch.__version__}, {args.threads} thread(s), device {device}, "
          f"dtype {args.dtype}, model {args.model}, {args.images} images, batch {args.batch_size}, "
          f"grid {len(corruptions)} corruptions x {len(severities)} severities + clean = {cells} cells")
    with tempfile.TemporaryDirectory() as tmp:
        args.root = str(write_images(Path(tmp) / "set", args.images))
        results = {"ours": _side(args, "ours")}
        if have_package:
            results["loop"] = _side(args, "loop")
    print(f"{'side':34s} {'seconds':>8s} {'images/s':>9s} {'peak RSS':>10s} {'peak traced':>12s}  grid accuracy")
    labels = {"ours": "score_grid", "loop": "user loop (imagecorruptions + timm)"}
    for side, r in results.items():
        acc = f"{r['accuracy']:.3f}" if r["accuracy"] is not None else "-"
        print(f"{labels[side]:34s} {r['seconds']:8.1f} {r['images'] / r['seconds']:9.2f} "
              f"{r['peak_rss_mib']:7.0f} MiB {r['peak_traced_mib']:8.1f} MiB  {acc}")
    if "loop" in results:
        ratio = (results["ours"]["images"] / results["ours"]["seconds"]) / (
            results["loop"]["images"] / results["loop"]["seconds"])
        print(f"images/s vs the user loop: {ratio:.2f}x")


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "1")
    main()

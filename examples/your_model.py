"""Evaluate your own model: a timm CNN and a Hugging Face video model, scored like any of the suite's.

Runs on a CPU in about a minute with random-init weights (swap in your own: ``timm:resnet50@/w/r50.pth``,
``hf:/path/to/videomae-folder``), against the real human and brain data in ``../shared/data``
(``$HUMANALIGN_SHARED_DATA``):

1. cue-conflict shape bias and consistency with the human trials (model-vs-human),
2. RSA of every block with human IT on the 92-image set (rsatoolbox, noise ceiling),
3. robustness to two ImageNet-C corruptions on the edge stimuli (cross-validated readout).

Usage:
    python examples/your_model.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd


def tiny_videomae(folder: Path) -> Path:
    """A random-init VideoMAE saved as a Hugging Face folder (config.json, weights, preprocessor config)."""
    from transformers import VideoMAEConfig, VideoMAEModel

    from humanalign.models.observers.seeded import seeded_build

    config = VideoMAEConfig(image_size=32, patch_size=8, num_frames=4, tubelet_size=2, hidden_size=48,
                            num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
    seeded_build(lambda: VideoMAEModel(config)).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}, "resample": 2}))
    return folder


def main(argv: list[str] | None = None) -> int:
    """Score both models on the three comparisons and print one table each."""
    from humanalign.compare.rsa import evaluate, rdm_from_features
    from humanalign.eval.alignment import run_alignment
    from humanalign.eval.grid import GridSettings
    from humanalign.eval.labelled import load_labelled
    from humanalign.eval.readout16 import ReadoutProtocol
    from humanalign.eval.robustness import run_robustness
    from humanalign.features import extract
    from humanalign.io.results import ResultsStore
    from humanalign.models.observers import load_observers
    from humanalign.paths import shared_data_root
    from humanalign.stimuli.base import load_stimulus_set
    from humanalign.stimuli.rsa92 import load_references

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: a temporary one)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="your_model_"))
    out.mkdir(parents=True, exist_ok=True)
    data = shared_data_root()
    if not (data / "rsa92").is_dir():
        print(f"the human and brain data are not at {data}: set HUMANALIGN_SHARED_DATA")
        return 2

    # Any spec works here: timm:, torchvision:, hf:, hub:DIR:ENTRY, py:FILE.py:FUNC, registry names, runs.
    # "|size=64" overrides the input contract read from the model (timm's pretrained_cfg says 176 px).
    specs = {"my-cnn": "timm:resnet10t|size=64", "my-video-model": f"hf:{tiny_videomae(out / 'videomae')}"}
    observers = load_observers(specs)
    store = ResultsStore(out / "results.sqlite")
    cache = out / "cache"
    for obs in observers:
        print(f"{obs.id}: {obs.source} {type(obs.module).__name__}, {obs.contract.kind} {obs.contract.size} px, "
              f"{len(obs.blocks)} blocks, weights {obs.weights_id}")

    # 1. model-vs-human: 16-class decisions. resnet10t has a 1000-class ImageNet head, so it decides through
    #    the benchmark's 1000 -> 16 mapping; the video model has none: a 16-class readout cross-validated over images.
    behaviour = run_alignment(observers, ["cue-conflict"], data / "model-vs-human" / "raw-data",
                              data / "texture-vs-shape", max_stimuli=64, protocol=ReadoutProtocol(folds=2),
                              n_boot=20, cache_dir=cache)
    store.append(metrics=behaviour.rows)
    print("\n" + behaviour.summary[["observer", "ood_accuracy", "error_consistency", "shape_bias"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    # 2. RSA of every block with human IT (mean Spearman over 4 subjects, noise ceiling, bootstrap CI).
    stimuli, refs = load_stimulus_set("rsa92", root=data / "rsa92"), load_references(data / "rsa92")
    rdms = {}
    for obs in observers:
        feats = extract(obs, stimuli, layers="blocks", cache_dir=cache, progress=False)
        for i, layer in enumerate(feats.layers):
            rdms[f"{obs.id}:{layer}"] = rdm_from_features(feats, dissimilarity="correlation")[i]
    rsa = evaluate(rdms, refs.hit_subjects(), bootstrap="stimuli", n_boot=50)
    print(f"\nRSA with human IT (noise ceiling {rsa.noise_ceiling[0]:.3f}-{rsa.noise_ceiling[1]:.3f}):")
    print(rsa.table[["model", "value", "ci_low", "ci_high"]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))

    # 3. robustness: clean and corrupted edge stimuli, each item read by the fold model that never saw it.
    edges = load_labelled("edge", root=data / "texture-vs-shape", min_classes=2).per_class(4)
    grids, summary = run_robustness(observers, edges, ["gaussian_noise", "fog"], [3], store,
                                    GridSettings(folds=2, cache_dir=str(cache)))
    table = pd.DataFrame([r for r in summary.rows if r["metric"] == "mPC"])[["model", "value"]]
    print("\nmean accuracy under corruption (mPC):\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nrows in {store.path}: {len(store)} metrics")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run under torchrun by tests/test_features_extract_sharded.py: sharded extraction with a perturbation."""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.distributed as dist

from tests.test_features_extract_sharded import noisy, toy_set


def main(out: str) -> None:
    dist.init_process_group("gloo")
    from humanalign.features import extract
    from humanalign.models.observers import load_observer

    feats = extract(load_observer("vit_test_image"), toy_set(), layers=["block0", "final"], batch_size=2,
                    use_cache=False, progress=False, perturb=noisy)
    if dist.get_rank() == 0:
        np.savez(out, **{k: feats[k] for k in feats.layers}, ids=np.array(feats.stimulus_ids))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1])
